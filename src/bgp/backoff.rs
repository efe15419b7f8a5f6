//! Exponential reconnect backoff with jitter, deterministic from a seed.
//!
//! Deterministic so that a test (or a replay of a log) sees the same delays for the same seed, and
//! self-contained so that the protocol core needs no `rand` dependency and no system entropy.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Consecutive-failure backoff: the first wait is `initial`, each further consecutive failure
/// doubles it, never beyond `max`.
///
/// Every wait is scaled by a factor drawn uniformly from 0.75..=1.0, the jitter range of
/// RFC 4271 §10, so that sessions that failed together (a router reboot drops them all) do not
/// reconnect in lockstep. Jitter only ever shortens a wait, so the cap holds without clamping.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    rng: SplitMix64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff { initial, max, failures: 0, rng: SplitMix64::new(seed) }
    }

    /// Records one more consecutive failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal();
        self.failures = self.failures.saturating_add(1);
        self.jitter(nominal)
    }

    /// Forgets past failures: the next wait is `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures recorded since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The un-jittered wait for the failure about to be recorded.
    fn nominal(&self) -> Duration {
        let mut delay = self.initial.min(self.max);
        // Stops as soon as the cap is reached, so a long failure streak costs nothing.
        for _ in 0..self.failures {
            if delay >= self.max {
                break;
            }
            delay = delay.saturating_mul(2).min(self.max);
        }
        delay
    }

    fn jitter(&mut self, nominal: Duration) -> Duration {
        let high = nominal.as_nanos();
        let low = high - high / 4;
        let offset = scale(high - low + 1, self.rng.next_u64());
        duration_from_nanos(low + offset)
    }
}

/// `span * random / 2^64`: maps 64 random bits onto `0..span` without modulo bias and without
/// a division that could be by zero (Lemire's multiply-shift). Split in two halves because a
/// long `Duration` in nanoseconds times 2^64 overflows a u128.
fn scale(span: u128, random: u64) -> u128 {
    let random = u128::from(random);
    let high_half = (span >> 64).saturating_mul(random);
    let low_half = ((span & u128::from(u64::MAX)) * random) >> 64;
    high_half.saturating_add(low_half)
}

/// `nanos` never exceeds a `Duration` we were given, so the seconds fit in a u64.
fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below one billion, which fits in a u32.
    let subsec = (nanos % NANOS_PER_SEC) as u32;
    Duration::new(secs, subsec)
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and well distributed even from seeds like 0
/// or 1, which is what callers deriving a seed from a peer index will pass.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A seed for [`Backoff::new`] from a peer's or process's name and this process's id: different
/// names back off with different jitter, so two peers never retry in lockstep.
pub fn seed_for(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash ^ u64::from(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn assert_jittered(delay: Duration, nominal: Duration) {
        let (delay_ns, nominal_ns) = (delay.as_nanos(), nominal.as_nanos());
        assert!(
            delay_ns >= nominal_ns - nominal_ns / 4 && delay_ns <= nominal_ns,
            "{delay:?} not within 0.75..=1.0 of {nominal:?}"
        );
    }

    #[test]
    fn doubles_per_failure_up_to_the_cap() {
        let mut backoff = Backoff::new(5 * SECOND, 60 * SECOND, 7);
        for nominal in [5, 10, 20, 40, 60, 60, 60] {
            assert_jittered(backoff.next_delay(), nominal * SECOND);
        }
        assert_eq!(backoff.failures(), 7);
    }

    #[test]
    fn reset_starts_over_from_initial() {
        let mut backoff = Backoff::new(5 * SECOND, 60 * SECOND, 7);
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        assert_eq!(backoff.failures(), 0);
        assert_jittered(backoff.next_delay(), 5 * SECOND);
    }

    #[test]
    fn jitter_stays_in_range_and_spreads() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..1000 {
            let mut backoff = Backoff::new(4 * SECOND, 60 * SECOND, seed);
            let delay = backoff.next_delay();
            assert_jittered(delay, 4 * SECOND);
            seen.insert(delay);
        }
        assert!(seen.len() > 900, "only {} distinct delays", seen.len());
    }

    #[test]
    fn same_seed_same_delays() {
        let mut a = Backoff::new(SECOND, 60 * SECOND, 42);
        let mut b = Backoff::new(SECOND, 60 * SECOND, 42);
        for _ in 0..20 {
            assert_eq!(a.next_delay(), b.next_delay());
        }
    }

    #[test]
    fn max_below_initial_caps_the_first_wait_too() {
        let mut backoff = Backoff::new(10 * SECOND, 2 * SECOND, 1);
        assert_jittered(backoff.next_delay(), 2 * SECOND);
    }

    #[test]
    fn degenerate_durations_do_not_panic() {
        let mut zero = Backoff::new(Duration::ZERO, Duration::ZERO, 0);
        assert_eq!(zero.next_delay(), Duration::ZERO);
        let mut huge = Backoff::new(Duration::MAX, Duration::MAX, u64::MAX);
        for _ in 0..100 {
            assert_jittered(huge.next_delay(), Duration::MAX);
        }
        let mut long_streak = Backoff::new(SECOND, Duration::MAX, 3);
        for _ in 0..200 {
            long_streak.next_delay();
        }
    }
}
