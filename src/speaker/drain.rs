//! Drain state: which VIPs are drained, since when, and when their withdrawal is due. Pure (the
//! wall clock is passed in) so every transition is a unit test; wall-clock deadlines survive a
//! restart through the state file.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Withdraw at this time; None = stay announced (drained) until undrain.
    pub withdraw_at: Option<SystemTime>,
    pub withdrawn: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Cli,
    File,
    Shutdown,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::File => "file",
            Source::Shutdown => "shutdown",
        }
    }
}

/// A drain of every VIP (also those a reload adds) or of named ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drain {
    pub all: Option<Entry>,
    pub prefixes: BTreeMap<IpNet, Entry>,
    pub source: Option<Source>,
}

impl Drain {
    pub fn is_active(&self) -> bool {
        self.all.is_some() || !self.prefixes.is_empty()
    }

    /// Drains `prefixes` (all VIPs when None). Draining again restarts the withdrawal clock.
    pub fn drain(&mut self, prefixes: Option<&[IpNet]>, withdraw_after: Duration, source: Source, now: SystemTime) {
        let entry = Entry { withdraw_at: (!withdraw_after.is_zero()).then(|| now + withdraw_after), withdrawn: false };
        match prefixes {
            None => {
                self.all = Some(entry);
                self.prefixes.clear();
            }
            Some(prefixes) => {
                for prefix in prefixes {
                    self.prefixes.insert(*prefix, entry);
                }
            }
        }
        self.source = Some(source);
    }

    /// Undrains `prefixes` (everything when None). `vips` is needed to undrain part of an
    /// all-VIPs drain: the rest stays drained, by name.
    pub fn undrain(&mut self, prefixes: Option<&[IpNet]>, vips: &[IpNet]) {
        match prefixes {
            None => {
                self.all = None;
                self.prefixes.clear();
            }
            Some(prefixes) => {
                if let Some(entry) = self.all.take() {
                    for vip in vips {
                        self.prefixes.insert(*vip, entry);
                    }
                }
                for prefix in prefixes {
                    self.prefixes.remove(prefix);
                }
            }
        }
        if !self.is_active() {
            self.source = None;
        }
    }

    pub fn state_of(&self, prefix: &IpNet) -> Option<Entry> {
        self.prefixes.get(prefix).copied().or(self.all)
    }

    pub fn next_deadline(&self) -> Option<SystemTime> {
        self.all
            .iter()
            .chain(self.prefixes.values())
            .filter(|entry| !entry.withdrawn)
            .filter_map(|entry| entry.withdraw_at)
            .min()
    }

    /// Marks drains whose withdrawal is due as withdrawn; true when anything changed.
    pub fn expire(&mut self, now: SystemTime) -> bool {
        let mut changed = false;
        for entry in self.all.iter_mut().chain(self.prefixes.values_mut()) {
            if !entry.withdrawn && entry.withdraw_at.is_some_and(|at| at <= now) {
                entry.withdrawn = true;
                changed = true;
            }
        }
        changed
    }

    /// Every drained prefix has been withdrawn, or stays drained with nothing pending.
    pub fn settled(&self, prefixes: &[IpNet]) -> bool {
        prefixes.iter().all(|p| self.state_of(p).is_none_or(|e| e.withdrawn || e.withdraw_at.is_none()))
    }

    /// Seconds until the next withdrawal, for status.
    pub fn withdraw_in(&self, now: SystemTime) -> Option<f64> {
        self.next_deadline().map(|at| at.duration_since(now).unwrap_or_default().as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn drain_all_then_withdraw_after_the_delay() {
        let mut drain = Drain::default();
        drain.drain(None, Duration::from_secs(30), Source::Cli, T0);
        let vip = p("10.46.46.46/32");
        assert_eq!(drain.state_of(&vip).map(|e| e.withdrawn), Some(false));
        assert_eq!(drain.next_deadline(), Some(T0 + Duration::from_secs(30)));
        assert!(!drain.expire(T0 + Duration::from_secs(29)));
        assert!(drain.expire(T0 + Duration::from_secs(30)));
        assert_eq!(drain.state_of(&vip).map(|e| e.withdrawn), Some(true));
        assert_eq!(drain.next_deadline(), None);
        assert!(drain.settled(&[vip]));
    }

    #[test]
    fn zero_withdraw_after_stays_drained() {
        let mut drain = Drain::default();
        drain.drain(Some(&[p("10.0.0.1/32")]), Duration::ZERO, Source::Cli, T0);
        assert_eq!(drain.next_deadline(), None);
        assert!(!drain.expire(T0 + Duration::from_secs(3600)));
        assert_eq!(drain.state_of(&p("10.0.0.1/32")).map(|e| e.withdrawn), Some(false));
        assert_eq!(drain.state_of(&p("10.0.0.2/32")), None, "only the named VIP");
    }

    #[test]
    fn undraining_part_of_a_full_drain_keeps_the_rest() {
        let vips = [p("10.0.0.1/32"), p("10.0.0.2/32")];
        let mut drain = Drain::default();
        drain.drain(None, Duration::ZERO, Source::File, T0);
        drain.undrain(Some(&vips[..1]), &vips);
        assert_eq!(drain.state_of(&vips[0]), None);
        assert!(drain.state_of(&vips[1]).is_some());
        assert_eq!(drain.source, Some(Source::File));
        drain.undrain(None, &vips);
        assert!(!drain.is_active());
        assert_eq!(drain.source, None);
    }

    #[test]
    fn survives_a_round_trip_through_json() {
        let mut drain = Drain::default();
        drain.drain(Some(&[p("10.0.0.1/32")]), Duration::from_secs(5), Source::Cli, T0);
        let text = serde_json::to_string(&drain).unwrap();
        assert_eq!(serde_json::from_str::<Drain>(&text).unwrap(), drain);
    }
}
