//! Health checks: probes (HAProxy stats, HTTP, TCP, exec) run on their own schedule, pass through
//! rise/fall hysteresis, and report state changes to the speaker.

pub mod exec;
pub mod haproxy;
pub mod hysteresis;
pub mod probe;

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

/// Sent to the speaker when a check's state changes or it reaches its first verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub check: String,
    pub state: Health,
    pub reason: String,
    /// When the probe that decided it finished: the start of the verdict → UPDATE latency.
    pub at: Instant,
}

/// Runs one check forever. Probes never overlap: the next one starts after the previous one has
/// finished (or timed out) and the interval has passed since it started.
pub async fn run_check(name: String, config: CheckConfig, reports: mpsc::UnboundedSender<CheckReport>) {
    let probe = probe::Probe::new(&config.kind);
    let mut hysteresis = Hysteresis::new(config.rise, config.fall);
    loop {
        let started = Instant::now();
        let verdict = match tokio::time::timeout(config.timeout, probe.run(config.timeout)).await {
            Ok(verdict) => verdict,
            Err(_) => Verdict::Fail(format!("timed out after {}", humantime::format_duration(config.timeout))),
        };
        let finished = Instant::now();
        debug!(check = %name, result = verdict.level().as_str(), reason = verdict.reason(), took = ?finished - started, "probe");
        let state = match hysteresis.observe(verdict.level()) {
            Change::None => None,
            Change::Changed(state) => {
                info!(check = %name, state = state.as_str(), reason = verdict.reason(), "check state changed");
                Some(state)
            }
            Change::Confirmed(state) => {
                info!(check = %name, state = state.as_str(), reason = verdict.reason(), "check first verdict");
                Some(state)
            }
        };
        if let Some(state) = state {
            let report = CheckReport { check: name.clone(), state, reason: verdict.reason().to_string(), at: finished };
            if reports.send(report).is_err() {
                return;
            }
        }
        let period = hysteresis.next_delay(config.interval, config.fast_interval);
        tokio::time::sleep_until((started + period).max(finished + Duration::from_millis(1)).into()).await;
    }
}
