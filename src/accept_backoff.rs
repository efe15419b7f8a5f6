//! What every accept loop (BGP listener, control socket, metrics) does when `accept` fails, and the
//! file-descriptor limit raised at start.
//!
//! Out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM), `accept` fails again at
//! once while the connection waits in the backlog: retrying straight away spins a core and writes a
//! warning per attempt. Such errors wait 100 ms, doubling to 1 s, before the next accept (reset by a
//! successful one). Other errors (a client that gave up, ECONNABORTED) go straight back to accept.
//! Whatever the error, a listener logs at most one line per [`LOG_INTERVAL`], counting the failures
//! it did not log.

use std::io;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

/// The first wait after a resource error.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait: a descriptor freed is picked up within this.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
/// At most one warning per listener per this interval.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// A soft descriptor limit below this is warned about at start.
pub const LOW_NOFILE: libc::rlim_t = 1024;

/// Out of descriptors or kernel memory: retrying at once fails the same way.
pub fn backs_off(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// The error as an operator should read it, with what to do about it where there is something.
pub fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::EMFILE) => "too many open files (EMFILE); raise LimitNOFILE / ulimit -n".into(),
        Some(libc::ENFILE) => "system-wide file table full (ENFILE); raise fs.file-max".into(),
        Some(libc::ENOBUFS) => "no buffer space (ENOBUFS)".into(),
        Some(libc::ENOMEM) => "out of memory (ENOMEM)".into(),
        _ => error.to_string(),
    }
}

/// The wait before the next accept: 100 ms, 200 ms, 400 ms, 800 ms, then 1 s, until a success.
#[derive(Debug, Default)]
pub struct Delay {
    next: Option<Duration>,
}

impl Delay {
    pub fn take(&mut self) -> Duration {
        let delay = self.next.unwrap_or(FIRST_DELAY);
        self.next = Some((delay * 2).min(MAX_DELAY));
        delay
    }

    pub fn reset(&mut self) {
        self.next = None;
    }
}

/// Counts failures and says when one may be logged: the first at once, then one summary per
/// `interval` at most. The clock is passed in, so tests drive it.
#[derive(Debug)]
pub struct LogLimit {
    interval: Duration,
    last_logged: Option<Instant>,
    unlogged: u64,
}

/// A line to log: `failures` since `since` (`None` for the first failure ever).
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub failures: u64,
    pub since: Option<Duration>,
}

impl LogLimit {
    pub fn new(interval: Duration) -> LogLimit {
        LogLimit { interval, last_logged: None, unlogged: 0 }
    }

    /// Records one failure at `now`; `Some` if a line is due.
    pub fn failure(&mut self, now: Instant) -> Option<Summary> {
        self.unlogged += 1;
        let since = match self.last_logged {
            None => None,
            Some(last) if now.saturating_duration_since(last) >= self.interval => Some(now - last),
            Some(_) => return None,
        };
        self.last_logged = Some(now);
        Some(Summary { failures: std::mem::take(&mut self.unlogged), since })
    }
}

/// One listener's state between accept failures. Call [`AcceptErrors::failed`] on an error and
/// [`AcceptErrors::accepted`] on a success.
#[derive(Debug)]
pub struct AcceptErrors {
    listener: String,
    delay: Delay,
    log: LogLimit,
}

impl AcceptErrors {
    /// `listener` names it in the log ("control socket", "BGP 0.0.0.0:179", "metrics").
    pub fn new(listener: impl Into<String>) -> AcceptErrors {
        AcceptErrors { listener: listener.into(), delay: Delay::default(), log: LogLimit::new(LOG_INTERVAL) }
    }

    pub fn accepted(&mut self) {
        self.delay.reset();
    }

    /// Logs (rate-limited) and, for resource errors, waits before the caller accepts again.
    pub async fn failed(&mut self, error: &io::Error) {
        let backoff = backs_off(error);
        let wait = if backoff { Some(self.delay.take()) } else { None };
        let listener = &self.listener;
        match self.log.failure(Instant::now()) {
            Some(Summary { since: None, .. }) => match wait {
                Some(_) => warn!(
                    %listener,
                    "accept failed: {}; backing off (up to {} s between attempts, one warning per {} s)",
                    describe(error),
                    MAX_DELAY.as_secs(),
                    LOG_INTERVAL.as_secs()
                ),
                None => warn!(%listener, "accept failed: {}", describe(error)),
            },
            Some(Summary { failures, since: Some(since) }) => warn!(
                %listener,
                "accept failed {failures} times in the last {} s: {}",
                since.as_secs(),
                describe(error)
            ),
            None => debug!(%listener, %error, "accept failed"),
        }
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (capped at the kernel's `fs.nr_open` when the
/// hard limit is unlimited). Returns (soft before, soft now).
pub fn raise_nofile_limit() -> io::Result<(libc::rlim_t, libc::rlim_t)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    let mut target = limit.rlim_max;
    if target == libc::RLIM_INFINITY {
        // Linux refuses a soft limit above fs.nr_open, and RLIM_INFINITY is above it.
        target = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
            .unwrap_or(1 << 20);
    }
    if target <= limit.rlim_cur {
        return Ok((before, before));
    }
    limit.rlim_cur = target;
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((before, target))
}

/// [`raise_nofile_limit`] with its outcome logged: debug normally, a warning if the limit stays
/// below [`LOW_NOFILE`].
pub fn raise_nofile_limit_logged() {
    match raise_nofile_limit() {
        Ok((_, now)) if now < LOW_NOFILE => warn!(
            soft = now,
            "open file limit is only {now} (hard limit): many connections will fail with EMFILE; \
             raise LimitNOFILE / ulimit -n"
        ),
        Ok((before, now)) => debug!(before, now, "open file limit raised to the hard limit"),
        Err(error) => warn!(%error, "cannot raise the open file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn resource_errors_back_off_others_do_not() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(backs_off(&os(code)), "{code}");
        }
        for code in [libc::ECONNABORTED, libc::EINTR, libc::EPROTO, libc::EPERM, libc::ECONNRESET] {
            assert!(!backs_off(&os(code)), "{code}");
        }
        assert!(!backs_off(&io::Error::other("not an OS error")));
    }

    #[test]
    fn emfile_names_the_limit_to_raise() {
        let text = describe(&os(libc::EMFILE));
        assert!(text.contains("EMFILE") && text.contains("LimitNOFILE"), "{text}");
        assert!(describe(&os(libc::ENFILE)).contains("ENFILE"));
    }

    #[test]
    fn delay_doubles_to_one_second_and_resets_on_success() {
        let mut delay = Delay::default();
        let ms: Vec<u128> = (0..7).map(|_| delay.take().as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000, 1000]);
        delay.reset();
        assert_eq!(delay.take(), FIRST_DELAY);
        assert_eq!(delay.take(), Duration::from_millis(200));
    }

    #[test]
    fn log_lines_at_most_once_per_interval_with_the_count() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.failure(at(0)), Some(Summary { failures: 1, since: None }));
        // A failure per backoff step for ten seconds: no line until the interval is over.
        let mut logged = 0;
        for ms in (100..10_000).step_by(100) {
            logged += limit.failure(at(ms)).is_some() as u32;
        }
        assert_eq!(logged, 0);
        assert_eq!(limit.failure(at(10_000)), Some(Summary { failures: 100, since: Some(Duration::from_secs(10)) }));
        assert_eq!(limit.failure(at(10_001)), None);
        // After a quiet spell, the next failure is logged at once and counts only itself.
        assert_eq!(limit.failure(at(60_000)), Some(Summary { failures: 2, since: Some(Duration::from_secs(50)) }));
    }

    #[test]
    fn a_spinning_loop_logs_a_bounded_number_of_lines() {
        // A thousand failures a second for a minute: six lines (the first, then one per 10 s).
        let t0 = Instant::now();
        let mut limit = LogLimit::new(LOG_INTERVAL);
        let lines =
            (0..60_000_000u64).step_by(1000).filter(|us| limit.failure(t0 + Duration::from_micros(*us)).is_some());
        assert_eq!(lines.count(), 6);
    }

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let (_, now) = raise_nofile_limit().expect("raise RLIMIT_NOFILE");
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert_eq!(limit.rlim_cur, now);
        assert!(limit.rlim_cur == limit.rlim_max || limit.rlim_max == libc::RLIM_INFINITY);
    }
}
