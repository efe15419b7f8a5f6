//! Rise/fall hysteresis: a check changes state only after enough consecutive results agree, so a
//! single lost probe does not withdraw a VIP and a flapping backend does not flap routes.

use std::time::Duration;

use super::Health;

#[derive(Clone, Debug)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    state: Health,
    /// The first verdict has been reached (risen, or confirmed down).
    decided: bool,
    /// Consecutive results on one side of the current state.
    run: Option<Run>,
}

/// A run of results all better (rising) or all worse (falling) than the current state. A run
/// that mixes levels (DEGRADED, DOWN, DEGRADED, ...) still counts: it ends on the least extreme
/// level it saw, so a pool flapping between one and no usable servers does leave UP.
#[derive(Clone, Copy, Debug)]
struct Run {
    rising: bool,
    count: u32,
    /// Rising: the worst level seen; falling: the best.
    settle: Health,
}

/// What one result did to the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    None,
    /// The state moved to this level.
    Changed(Health),
    /// No change of level, but the check now has its first verdict (it started DOWN and stayed).
    Confirmed(Health),
}

impl Hysteresis {
    /// Starts DOWN and undecided: a VIP is not announced until its check has risen.
    pub fn new(rise: u32, fall: u32) -> Hysteresis {
        Hysteresis { rise: rise.max(1), fall: fall.max(1), state: Health::Down, decided: false, run: None }
    }

    /// Continues from a known state (a reload changed the check's settings).
    pub fn resume(rise: u32, fall: u32, state: Health) -> Hysteresis {
        Hysteresis { state, decided: true, ..Hysteresis::new(rise, fall) }
    }

    pub fn state(&self) -> Health {
        self.state
    }

    pub fn decided(&self) -> bool {
        self.decided
    }

    /// A change is pending (or the first verdict is): probe at the fast interval.
    pub fn changing(&self) -> bool {
        !self.decided || self.run.is_some()
    }

    pub fn next_delay(&self, interval: Duration, fast_interval: Duration) -> Duration {
        if self.changing() {
            fast_interval
        } else {
            interval
        }
    }

    pub fn observe(&mut self, level: Health) -> Change {
        if level == self.state && self.decided {
            self.run = None;
            return Change::None;
        }
        // At startup a DOWN result counts toward confirming the initial DOWN, like any fall.
        let rising = level > self.state;
        let run = match self.run {
            Some(run) if run.rising == rising => Run {
                rising,
                count: run.count + 1,
                settle: if rising { run.settle.min(level) } else { run.settle.max(level) },
            },
            _ => Run { rising, count: 1, settle: level },
        };
        let needed = if rising { self.rise } else { self.fall };
        if run.count < needed {
            self.run = Some(run);
            return Change::None;
        }
        self.run = None;
        self.decided = true;
        if run.settle == self.state {
            Change::Confirmed(run.settle)
        } else {
            self.state = run.settle;
            Change::Changed(run.settle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    fn feed(h: &mut Hysteresis, levels: &[Health]) -> Vec<Change> {
        levels.iter().map(|l| h.observe(*l)).collect()
    }

    #[test]
    fn rises_after_rise_passes_and_falls_after_fall_failures() {
        let mut h = Hysteresis::new(3, 2);
        assert_eq!(h.state(), Down);
        assert_eq!(feed(&mut h, &[Up, Up]), vec![Change::None, Change::None]);
        assert_eq!(h.observe(Up), Change::Changed(Up));
        assert_eq!(h.observe(Down), Change::None);
        assert_eq!(h.observe(Down), Change::Changed(Down));
    }

    #[test]
    fn an_interrupted_run_starts_counting_again() {
        let mut h = Hysteresis::new(3, 2);
        feed(&mut h, &[Up, Up, Down, Up, Up]);
        assert_eq!(h.state(), Down, "two passes, a failure, two passes: not yet UP");
        assert_eq!(h.observe(Up), Change::Changed(Up));
    }

    #[test]
    fn flapping_input_changes_nothing() {
        let mut h = Hysteresis::new(2, 2);
        feed(&mut h, &[Up, Up]);
        let changes = feed(&mut h, &[Down, Up, Down, Up, Down, Up, Down, Up]);
        assert!(changes.iter().all(|c| *c == Change::None), "{changes:?}");
        assert_eq!(h.state(), Up);
    }

    #[test]
    fn a_failing_check_confirms_down_after_fall_results() {
        let mut h = Hysteresis::new(3, 2);
        assert!(!h.decided());
        assert_eq!(h.observe(Down), Change::None);
        assert_eq!(h.observe(Down), Change::Confirmed(Down));
        assert!(h.decided());
        assert_eq!(h.observe(Down), Change::None);
    }

    #[test]
    fn degraded_is_below_up_and_above_down() {
        let mut h = Hysteresis::new(2, 3);
        feed(&mut h, &[Up, Up]);
        assert_eq!(feed(&mut h, &[Degraded, Degraded, Degraded]).last(), Some(&Change::Changed(Degraded)));
        assert_eq!(feed(&mut h, &[Up, Up]).last(), Some(&Change::Changed(Up)), "back up needs `rise`");
    }

    #[test]
    fn fast_interval_while_undecided_or_changing() {
        let (slow, fast) = (Duration::from_secs(1), Duration::from_millis(200));
        let mut h = Hysteresis::new(2, 2);
        assert_eq!(h.next_delay(slow, fast), fast, "undecided at startup");
        feed(&mut h, &[Up, Up]);
        assert_eq!(h.next_delay(slow, fast), slow);
        h.observe(Down);
        assert_eq!(h.next_delay(slow, fast), fast, "a fall is pending");
        h.observe(Up);
        assert_eq!(h.next_delay(slow, fast), slow, "pending fall cancelled");
    }

    #[test]
    fn mixed_results_below_up_still_fall_to_the_best_of_them() {
        let mut h = Hysteresis::new(2, 3);
        feed(&mut h, &[Up, Up]);
        assert_eq!(feed(&mut h, &[Degraded, Down, Degraded]).last(), Some(&Change::Changed(Degraded)));
        let mut h = Hysteresis::new(2, 2);
        feed(&mut h, &[Up, Up]);
        assert_eq!(feed(&mut h, &[Down, Down]).last(), Some(&Change::Changed(Down)));
    }

    #[test]
    fn mixed_results_above_down_rise_to_the_worst_of_them() {
        let mut h = Hysteresis::new(2, 2);
        assert_eq!(feed(&mut h, &[Up, Degraded]).last(), Some(&Change::Changed(Degraded)));
        assert_eq!(feed(&mut h, &[Up, Up]).last(), Some(&Change::Changed(Up)));
    }

    #[test]
    fn rise_and_fall_of_one_react_at_once() {
        let mut h = Hysteresis::new(1, 1);
        assert_eq!(h.observe(Up), Change::Changed(Up));
        assert_eq!(h.observe(Down), Change::Changed(Down));
    }
}
