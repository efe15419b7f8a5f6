//! A peer's `bfd:` and `send_hold_time:` keys: the timers that decide how fast a dead router, or
//! one that stopped reading, is noticed.

use std::time::Duration;

use super::error::ConfigError;
use super::locate::YamlPath;
use super::raw::{DurationText, Int, RawBfd, RawBfdSettings};
use super::resolve::Ctx;
use super::values;
use super::BfdConfig;

/// `bfd: true`: 100 ms × 3, a 300 ms detection time, the common datacenter setting.
pub(crate) const DEFAULT_BFD: BfdConfig = BfdConfig {
    min_rx: Duration::from_millis(100),
    min_tx: Duration::from_millis(100),
    multiplier: 3,
    multihop: None,
    min_ttl: None,
};

/// Below this the kernel's UDP path and tokio's timer wheel (1 ms) dominate the interval, and
/// no router we know of accepts less than 10 ms (BIRD's minimum; FRR's is 10 ms as well).
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// An interval above a minute detects nothing the BGP hold timer would not.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn resolve(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&RawBfd>) -> Result<Option<BfdConfig>, ConfigError> {
    match raw {
        None | Some(RawBfd::Enabled(false)) => Ok(None),
        Some(RawBfd::Enabled(true)) => Ok(Some(DEFAULT_BFD)),
        Some(RawBfd::Settings(settings)) => settings_of(ctx, path, settings).map(Some),
    }
}

fn settings_of(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawBfdSettings) -> Result<BfdConfig, ConfigError> {
    let multihop = raw.multihop;
    let min_ttl_path = path.key("min_ttl");
    let min_ttl = ctx.opt(raw.min_ttl.as_ref(), &min_ttl_path, None, |v| ttl(*v).map(Some))?;
    if min_ttl.is_some() && multihop != Some(true) {
        return Err(ctx.error(
            &min_ttl_path,
            "min_ttl applies to multihop BFD only (single-hop always requires TTL 255, RFC 5881 §5): \
             set multihop: true, or remove min_ttl",
        ));
    }
    Ok(BfdConfig {
        min_rx: ctx.opt(raw.min_rx.as_ref(), &path.key("min_rx"), DEFAULT_BFD.min_rx, interval)?,
        min_tx: ctx.opt(raw.min_tx.as_ref(), &path.key("min_tx"), DEFAULT_BFD.min_tx, interval)?,
        multiplier: ctx
            .opt(raw.multiplier.as_ref(), &path.key("multiplier"), DEFAULT_BFD.multiplier, |v| multiplier(*v))?,
        multihop,
        min_ttl,
    })
}

fn interval(raw: &DurationText) -> Result<Duration, String> {
    let d = values::duration(raw)?;
    if d < MIN_INTERVAL || d > MAX_INTERVAL {
        return Err(format!("{} is out of range: must be between 10ms and 60s", values::duration_text(d)));
    }
    // The wire carries microseconds (RFC 5880 §4.1).
    if d.subsec_nanos() % 1000 != 0 {
        return Err(format!("{} is finer than the microseconds BFD can carry", values::duration_text(d)));
    }
    Ok(d)
}

/// Detect Mult is one octet and 0 is invalid (RFC 5880 §6.8.6).
fn multiplier(v: Int) -> Result<u8, String> {
    match u8::try_from(v.0) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{} is out of range: must be 1..255", v.0)),
    }
}

fn ttl(v: Int) -> Result<u8, String> {
    match u8::try_from(v.0) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{} is out of range: must be 1..255", v.0)),
    }
}

/// RFC 9687 §3 recommends at least 8 minutes; less than the longest hold time would close a
/// session to a router that is merely slow, so 3 s (the shortest hold time) is the floor.
pub(crate) fn send_hold_time(raw: &DurationText) -> Result<Duration, String> {
    let d = values::duration(raw)?;
    if d < Duration::from_secs(3) {
        return Err(format!("{} is too short: must be at least 3s (RFC 9687)", values::duration_text(d)));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DurationText {
        DurationText::Text(s.to_owned())
    }

    #[test]
    fn intervals_are_bounded() {
        assert_eq!(interval(&t("10ms")), Ok(Duration::from_millis(10)));
        assert_eq!(interval(&t("60s")), Ok(Duration::from_secs(60)));
        assert!(interval(&t("9ms")).unwrap_err().contains("between 10ms and 60s"));
        assert!(interval(&t("61s")).unwrap_err().contains("between 10ms and 60s"));
    }

    #[test]
    fn multipliers_are_one_octet_and_not_zero() {
        assert_eq!(multiplier(Int(1)), Ok(1));
        assert_eq!(multiplier(Int(255)), Ok(255));
        assert!(multiplier(Int(0)).unwrap_err().contains("1..255"));
        assert!(multiplier(Int(256)).unwrap_err().contains("1..255"));
    }

    #[test]
    fn send_hold_time_floor() {
        assert_eq!(send_hold_time(&t("8m")), Ok(Duration::from_secs(480)));
        assert!(send_hold_time(&t("2s")).is_err());
    }
}
