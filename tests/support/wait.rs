//! Polling with a deadline: the only way tests synchronise with daemons.

use std::fmt::Debug;
use std::thread;
use std::time::{Duration, Instant};

/// How often conditions are re-evaluated. Short enough that a test reacts within one BGP
/// round trip, long enough that `birdc`/`vtysh`/`gobgp` invocations don't hog both cores.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Shorthand for timeouts in tests: `secs(10)`.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Polls `probe` every [`POLL_INTERVAL`] until it returns `Some`, and returns that value.
/// Panics after `timeout`, naming `what` (phrase it as the awaited condition: "BIRD to hold
/// 10.46.46.46/32"). Use [`wait_until_ok`] when the panic should also show what was seen.
pub fn wait_until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    wait_until_ok(timeout, what, || probe().ok_or("condition not met"))
}

/// Polls `probe` every [`POLL_INTERVAL`] until it returns `Ok`, and returns that value. `Err`
/// carries the state observed instead; on timeout the panic shows the last one, which usually
/// says why at once ("session Active", "route has MED 100"). A daemon started by this thread
/// that dies meanwhile fails the wait at once, with its log.
pub fn wait_until_ok<T, E: Debug>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Result<T, E>) -> T {
    let start = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        super::process::check_watched_daemons();
        let last = match probe() {
            Ok(value) => return value,
            Err(observed) => observed,
        };
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {:.1?} ({attempts} polls) waiting for {what}\n  last observed: {last:#?}",
                start.elapsed()
            );
        }
        thread::sleep(POLL_INTERVAL);
    }
}
