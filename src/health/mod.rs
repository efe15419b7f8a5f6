//! Health checks: probes (HAProxy stats, HTTP, TCP, exec) run on their own schedule, pass through
//! rise/fall hysteresis, and report state changes to the speaker.

pub mod exec;
pub mod haproxy;
pub mod hysteresis;
pub mod probe;
pub mod stats_socket;

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::config::CheckConfig;
use hysteresis::{Change, Hysteresis};

/// Ordered: a lower level is worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    Down,
    Degraded,
    Up,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Down => "DOWN",
            Health::Degraded => "DEGRADED",
            Health::Up => "UP",
        }
    }
}

/// The result of one probe, with the reason shown in logs and `rhi status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass(String),
    Degraded(String),
    Fail(String),
}

impl Verdict {
    pub fn level(&self) -> Health {
        match self {
            Verdict::Pass(_) => Health::Up,
            Verdict::Degraded(_) => Health::Degraded,
            Verdict::Fail(_) => Health::Down,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Verdict::Pass(r) | Verdict::Degraded(r) | Verdict::Fail(r) => r,
        }
    }
}

/// Sent to the speaker after every probe: its state (after hysteresis) and the probe's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub check: String,
    /// The check's state after this probe.
    pub state: Health,
    /// The check has its first verdict.
    pub decided: bool,
    /// This probe changed the state or gave the first verdict: routes may change.
    pub changed: bool,
    /// This probe failed (whether or not the state changed).
    pub failed: bool,
    pub reason: String,
    pub duration: Duration,
    /// When the probe finished: the start of the verdict → UPDATE latency.
    pub at: Instant,
}

/// Runs one check forever. Probes never overlap: the next one starts after the previous one has
/// finished (or timed out) and the interval has passed since it started.
/// `resume` carries a previous state across a reload, so changing a check's settings does not
/// send its VIPs back through DOWN.
pub async fn run_check(
    name: String,
    config: CheckConfig,
    resume: Option<Health>,
    reports: mpsc::UnboundedSender<CheckReport>,
) {
    let probe = probe::Probe::new(&config.kind);
    let mut hysteresis = match resume {
        Some(state) => Hysteresis::resume(config.rise, config.fall, state),
        None => Hysteresis::new(config.rise, config.fall),
    };
    loop {
        let started = Instant::now();
        let verdict = match tokio::time::timeout(config.timeout, probe.run(config.timeout)).await {
            Ok(verdict) => verdict,
            Err(_) => Verdict::Fail(format!("timed out after {}", humantime::format_duration(config.timeout))),
        };
        let finished = Instant::now();
        debug!(check = %name, result = %verdict.level().as_str(), reason = verdict.reason(), took = ?finished - started, "probe");
        let changed = match hysteresis.observe(verdict.level()) {
            Change::None => false,
            Change::Changed(state) => {
                info!(check = %name, state = %state.as_str(), reason = verdict.reason(), "check state changed");
                true
            }
            Change::Confirmed(state) => {
                info!(check = %name, state = %state.as_str(), reason = verdict.reason(), "check first verdict");
                true
            }
        };
        let report = CheckReport {
            check: name.clone(),
            state: hysteresis.state(),
            decided: hysteresis.decided(),
            changed,
            failed: verdict.level() == Health::Down,
            reason: verdict.reason().to_string(),
            duration: finished - started,
            at: finished,
        };
        if reports.send(report).is_err() {
            return;
        }
        let period = hysteresis.next_delay(config.interval, config.fast_interval);
        tokio::time::sleep_until((started + period).max(finished + Duration::from_millis(1)).into()).await;
    }
}
