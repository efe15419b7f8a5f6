//! Parsing and range checks of single values. Each function returns the message only; the caller
//! adds the YAML path and position.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::raw::{DurationText, Int};

/// Far beyond any sensible timer, and well inside what `Instant + Duration` can hold, so a typo
/// such as `1000y` cannot make a timer computation overflow at run time.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// RFC 6793 §9: the AS number a 4-octet speaker puts in 2-octet fields; never a real AS.
const AS_TRANS: i128 = 23456;

pub(crate) fn duration(raw: &DurationText) -> Result<Duration, String> {
    let text = match raw {
        // Zero needs no unit, so it is not ambiguous.
        DurationText::Number(n) if n == "0" => return Ok(Duration::ZERO),
        DurationText::Number(n) => return Err(no_unit(n)),
        DurationText::Text(t) => t.trim(),
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text != "0" {
        return Err(no_unit(text));
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write it like 500ms, 9s, 1m or 1h"))?;
    if d > MAX_DURATION {
        return Err(format!("`{text}` is too long: at most 365d"));
    }
    Ok(d)
}

fn no_unit(n: &str) -> String {
    format!("{n} has no unit: durations need one, e.g. {n}s or {n}ms")
}

/// The text form `Config::to_yaml` prints, chosen to be read back to the same value.
pub(crate) fn duration_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        humantime::format_duration(d).to_string()
    }
}

pub(crate) fn asn(v: Int) -> Result<u32, String> {
    if v.0 == AS_TRANS {
        return Err("23456 is AS_TRANS, a placeholder reserved by RFC 6793; use the real AS number".to_owned());
    }
    match u32::try_from(v.0) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{} is not a valid AS number: must be 1..4294967295 (4-octet ASN, RFC 6793)", v.0)),
    }
}

/// A 32-bit attribute value such as MED or LOCAL_PREF.
pub(crate) fn u32_value(v: Int) -> Result<u32, String> {
    u32::try_from(v.0).map_err(|_| format!("{} is out of range: must be 0..4294967295", v.0))
}

/// A count of at least 1 (rise, fall, min_up, ...).
pub(crate) fn positive_count(v: Int) -> Result<u32, String> {
    match u32::try_from(v.0) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{} is out of range: must be at least 1", v.0)),
    }
}

pub(crate) fn port(v: Int) -> Result<u16, String> {
    match u16::try_from(v.0) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{} is not a TCP port: must be 1..65535", v.0)),
    }
}

/// Longer prepends buy nothing (a few already lose to any other path) and long AS paths are
/// commonly filtered (`maxas-limit`, route-leak heuristics), so the route would vanish instead.
pub(crate) fn as_path_prepend(v: Int) -> Result<u8, String> {
    match u8::try_from(v.0) {
        Ok(n) if n <= 32 => Ok(n),
        _ => Err(format!(
            "{} is out of range: must be 0..32 (longer AS paths are commonly filtered by routers, \
             so the route would disappear instead of being less preferred)",
            v.0
        )),
    }
}

pub(crate) fn ip(text: &str) -> Result<IpAddr, String> {
    text.trim().parse().map_err(|_| format!("`{text}` is not an IP address"))
}

pub(crate) fn ipv4(text: &str) -> Result<Ipv4Addr, String> {
    match ip(text)? {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(format!("{text} is IPv6; an IPv4 address is required here")),
    }
}

/// An address a route can point at or a session can reach: not `0.0.0.0`/`::` nor multicast.
pub(crate) fn unicast_ip(text: &str) -> Result<IpAddr, String> {
    let a = ip(text)?;
    if a.is_unspecified() || a.is_multicast() {
        return Err(format!("{a} is not a unicast address"));
    }
    Ok(a)
}

/// `ADDRESS:PORT` (`[v6]:PORT` for IPv6); with `default_port`, a bare address is accepted too.
pub(crate) fn socket_addr(text: &str, default_port: Option<u16>) -> Result<SocketAddr, String> {
    let text = text.trim();
    let addr = match (text.parse::<SocketAddr>(), default_port) {
        (Ok(a), _) => a,
        (Err(_), Some(port)) => match text.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => return Err(bad_socket_addr(text)),
        },
        (Err(_), None) => return Err(bad_socket_addr(text)),
    };
    if addr.port() == 0 {
        return Err(format!("{text}: port 0 is not allowed"));
    }
    Ok(addr)
}

fn bad_socket_addr(text: &str) -> String {
    format!("`{text}` is not an address with a port: write it like 127.0.0.1:179 or [2001:db8::1]:179")
}

pub(crate) fn prefix(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    let net: IpNet = match text.parse() {
        Ok(n) => n,
        Err(_) => return Err(bad_prefix(text)),
    };
    let exact = net.trunc();
    if exact != net {
        return Err(format!("{net} has host bits set; did you mean {exact}?"));
    }
    Ok(net)
}

fn bad_prefix(text: &str) -> String {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => format!("`{text}` has no prefix length; did you mean {a}/32?"),
        Ok(IpAddr::V6(a)) => format!("`{text}` has no prefix length; did you mean {a}/128?"),
        Err(_) => {
            format!("`{text}` is not a prefix: write it like 10.46.46.46/32 or 2001:db8::46/128")
        }
    }
}

/// Names travel through the CLI, logs and metric labels, where spaces would break them.
pub(crate) fn name(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` contains whitespace; names must be one word"));
    }
    Ok(text.to_owned())
}

pub(crate) fn path(text: &str) -> Result<PathBuf, String> {
    if text.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(PathBuf::from(text))
}

/// rhi's checks speak plain HTTP (there is no TLS client in rhi), and HAProxy stats pages and
/// health endpoints are normally local, so only `http://HOST...` is accepted.
pub(crate) fn http_url(text: &str) -> Result<String, String> {
    let Some(rest) = text.strip_prefix("http://") else {
        let why = if text.starts_with("https://") {
            "https is not supported (rhi has no TLS client); use a plain http:// endpoint"
        } else {
            "must start with http://"
        };
        return Err(format!("`{text}`: {why}"));
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("`{text}` has no host"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("`{text}` contains whitespace"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> DurationText {
        DurationText::Text(s.to_owned())
    }

    #[test]
    fn durations() {
        assert_eq!(duration(&text("500ms")), Ok(Duration::from_millis(500)));
        assert_eq!(duration(&text("1m")), Ok(Duration::from_secs(60)));
        assert_eq!(duration(&text("1s 500ms")), Ok(Duration::from_millis(1500)));
        assert_eq!(duration(&text("0s")), Ok(Duration::ZERO));
        assert_eq!(duration(&DurationText::Number("0".into())), Ok(Duration::ZERO));
        let e = duration(&DurationText::Number("9".into())).unwrap_err();
        assert!(e.contains("9 has no unit") && e.contains("9s"), "{e}");
        let e = duration(&text("9")).unwrap_err();
        assert!(e.contains("9 has no unit"), "{e}");
        assert!(duration(&text("9x")).unwrap_err().contains("not a duration"));
        assert!(duration(&text("-1s")).is_err());
        assert!(duration(&text("1000y")).unwrap_err().contains("too long"));
    }

    #[test]
    fn duration_text_reads_back() {
        for ms in [0, 1, 200, 1000, 1500, 90_000, 3_600_000] {
            let d = Duration::from_millis(ms);
            assert_eq!(duration(&text(&duration_text(d))), Ok(d), "{ms}");
        }
        let d = Duration::from_nanos(1_500);
        assert_eq!(duration(&text(&duration_text(d))), Ok(d));
    }

    #[test]
    fn as_numbers() {
        assert_eq!(asn(Int(1)), Ok(1));
        assert_eq!(asn(Int(4_294_967_295)), Ok(u32::MAX));
        assert!(asn(Int(0)).unwrap_err().contains("0 is not a valid AS number"));
        assert!(asn(Int(4_294_967_296)).unwrap_err().contains("4294967296 is not a valid"));
        assert!(asn(Int(-1)).is_err());
        assert!(asn(Int(23456)).unwrap_err().contains("AS_TRANS"));
    }

    #[test]
    fn ports_and_prepends() {
        assert_eq!(port(Int(179)), Ok(179));
        assert!(port(Int(0)).is_err());
        assert!(port(Int(65536)).is_err());
        assert_eq!(as_path_prepend(Int(32)), Ok(32));
        assert!(as_path_prepend(Int(33)).unwrap_err().contains("filtered"));
        assert!(as_path_prepend(Int(-1)).is_err());
    }

    #[test]
    fn prefixes() {
        assert!(prefix("10.46.46.46/32").is_ok());
        assert!(prefix("2001:db8::46/128").is_ok());
        assert_eq!(
            prefix("10.46.46.46/24").unwrap_err(),
            "10.46.46.46/24 has host bits set; did you mean 10.46.46.0/24?"
        );
        assert!(prefix("10.46.46.46").unwrap_err().contains("did you mean 10.46.46.46/32?"));
        assert!(prefix("10.46.46.46/33").unwrap_err().contains("not a prefix"));
    }

    #[test]
    fn socket_addrs() {
        assert_eq!(socket_addr("0.0.0.0:179", None).unwrap().port(), 179);
        assert_eq!(socket_addr("::", Some(179)).unwrap().to_string(), "[::]:179");
        assert!(socket_addr("10.0.0.1", None).is_err());
        assert!(socket_addr("10.0.0.1:0", None).unwrap_err().contains("port 0"));
    }

    #[test]
    fn names_and_urls() {
        assert!(name("sw01").is_ok());
        assert!(name("").is_err());
        assert!(name("sw 01").unwrap_err().contains("whitespace"));
        assert!(http_url("http://127.0.0.1:8404/stats;csv").is_ok());
        assert!(http_url("https://x/").unwrap_err().contains("https is not supported"));
        assert!(http_url("http:///x").unwrap_err().contains("no host"));
        assert!(http_url("ftp://x").is_err());
    }
}
