//! The `checks:` section: named health checks, each of exactly one kind.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::locate::YamlPath;
use super::raw::{DurationText, Int, OneOrMany, RawCheck, RawExec, RawHaproxy, RawHttp, RawTcp, Text};
use super::resolve::{item_path, Ctx};
use super::values;
use super::{CheckConfig, CheckKind, HaproxyCheck, StatsSocket, StatsSource};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_FAST_INTERVAL: Duration = Duration::from_millis(200);
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
pub(crate) const DEFAULT_RISE: u32 = 3;
pub(crate) const DEFAULT_FALL: u32 = 2;
pub(crate) const DEFAULT_MIN_UP: u32 = 1;
pub(crate) const DEFAULT_EXPECT_STATUS: u16 = 200;

const KINDS: [&str; 4] = ["haproxy", "http", "tcp", "exec"];

pub(crate) fn resolve(
    ctx: &Ctx<'_>,
    raw: Option<&BTreeMap<String, RawCheck>>,
) -> Result<BTreeMap<String, CheckConfig>, ConfigError> {
    let base = YamlPath::root().key("checks");
    let mut out = BTreeMap::new();
    for (name, check) in raw.into_iter().flatten() {
        let path = base.key(name);
        ctx.at(&path, values::name(name).map_err(|e| format!("check name {e}")))?;
        out.insert(name.clone(), resolve_one(ctx, &path, name, check)?);
    }
    Ok(out)
}

fn resolve_one(ctx: &Ctx<'_>, path: &YamlPath, name: &str, raw: &RawCheck) -> Result<CheckConfig, ConfigError> {
    let kind = kind(ctx, path, name, raw)?;
    let interval = positive_duration(ctx, &path.key("interval"), raw.interval.as_ref(), DEFAULT_INTERVAL)?;
    // The default must not exceed a short explicit interval: that is not the user's mistake.
    let fast_default = DEFAULT_FAST_INTERVAL.min(interval);
    let fast_interval = positive_duration(ctx, &path.key("fast_interval"), raw.fast_interval.as_ref(), fast_default)?;
    if fast_interval > interval {
        return Err(ctx.error(
            &path.key("fast_interval"),
            format!(
                "{} is longer than interval ({}): it is the quicker period used while the \
                 state is changing",
                values::duration_text(fast_interval),
                values::duration_text(interval)
            ),
        ));
    }
    Ok(CheckConfig {
        kind,
        interval,
        fast_interval,
        timeout: positive_duration(ctx, &path.key("timeout"), raw.timeout.as_ref(), DEFAULT_TIMEOUT)?,
        rise: count(ctx, &path.key("rise"), raw.rise.as_ref(), DEFAULT_RISE)?,
        fall: count(ctx, &path.key("fall"), raw.fall.as_ref(), DEFAULT_FALL)?,
    })
}

fn positive_duration(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: Option<&DurationText>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let d = ctx.opt(raw, path, default, values::duration)?;
    if d.is_zero() {
        return Err(ctx.error(path, "must be more than 0"));
    }
    Ok(d)
}

fn count(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&Int>, default: u32) -> Result<u32, ConfigError> {
    ctx.opt(raw, path, default, |v| values::positive_count(*v))
}

/// Exactly one of the kind keys: a check with two would have to pick one silently.
fn kind(ctx: &Ctx<'_>, path: &YamlPath, name: &str, raw: &RawCheck) -> Result<CheckKind, ConfigError> {
    let present = [raw.haproxy.is_some(), raw.http.is_some(), raw.tcp.is_some(), raw.exec.is_some()];
    let mut given: Vec<&str> = KINDS.iter().zip(present).filter_map(|(k, p)| p.then_some(*k)).collect();
    // Named in the order written, so the error points at the one that came second.
    given.sort_by_key(|k| ctx.index.position(&path.key(k)));
    match given.as_slice() {
        [] => Err(ctx.error(path, format!("check `{name}` has no kind: give exactly one of haproxy, http, tcp, exec"))),
        [_] => one_kind(ctx, path, raw),
        [first, second, ..] => Err(ctx
            .error(&path.key(second), format!("check `{name}` has both {first} and {second}: give exactly one kind"))),
    }
}

fn one_kind(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawCheck) -> Result<CheckKind, ConfigError> {
    if let Some(h) = &raw.haproxy {
        return haproxy(ctx, &path.key("haproxy"), h).map(CheckKind::Haproxy);
    }
    if let Some(h) = &raw.http {
        return http(ctx, &path.key("http"), h);
    }
    if let Some(t) = &raw.tcp {
        return tcp(ctx, &path.key("tcp"), t);
    }
    let default = RawExec::default();
    exec(ctx, &path.key("exec"), raw.exec.as_ref().unwrap_or(&default))
}

fn haproxy(ctx: &Ctx<'_>, p: &YamlPath, raw: &RawHaproxy) -> Result<HaproxyCheck, ConfigError> {
    let source = stats_source(ctx, p, raw)?;
    let backend = ctx.required(raw.backend.as_ref(), &p.key("backend"), "the HAProxy backend whose health decides")?;
    let min_up = count(ctx, &p.key("min_up"), raw.min_up.as_ref(), DEFAULT_MIN_UP)?;
    let degraded_below =
        ctx.opt(raw.degraded_below.as_ref(), &p.key("degraded_below"), None, |v| values::positive_count(*v).map(Some))?;
    if let Some(d) = degraded_below.filter(|d| *d <= min_up) {
        return Err(ctx.error(
            &p.key("degraded_below"),
            format!(
                "{d} must be more than min_up ({min_up}): with fewer than min_up usable servers \
                 the check fails, so it could never be degraded"
            ),
        ));
    }
    if raw.password_file.is_some() && raw.username.is_none() {
        return Err(ctx.error(&p.key("password_file"), "is set but username is not: basic auth needs both"));
    }
    Ok(HaproxyCheck {
        source,
        backend: ctx.at(&p.key("backend"), non_empty(backend))?,
        min_up,
        frontend: optional_text(ctx, &p.key("frontend"), raw.frontend.as_ref())?,
        degraded_below,
        count_backup: raw.count_backup.unwrap_or(false),
        username: optional_text(ctx, &p.key("username"), raw.username.as_ref())?,
        password_file: ctx
            .opt(raw.password_file.as_ref(), &p.key("password_file"), None, |t| values::path(t.as_str()).map(Some))?,
    })
}

/// Exactly one of `stats_url` / `stats_socket`; basic auth belongs to the stats page only.
fn stats_source(ctx: &Ctx<'_>, p: &YamlPath, raw: &RawHaproxy) -> Result<StatsSource, ConfigError> {
    match (&raw.stats_url, &raw.stats_socket) {
        (Some(_), Some(_)) => {
            let (url, socket) = (p.key("stats_url"), p.key("stats_socket"));
            let second = if ctx.index.position(&socket) >= ctx.index.position(&url) { socket } else { url };
            Err(ctx.error(&second, "stats_url and stats_socket are both set: give exactly one"))
        }
        (None, None) => Err(ctx.error(
            p,
            "neither stats_url nor stats_socket is set: give exactly one, e.g. \
             stats_socket: /run/haproxy/admin.sock or stats_url: \"http://127.0.0.1:8404/stats;csv\"",
        )),
        (Some(url), None) => Ok(StatsSource::Url(ctx.at(&p.key("stats_url"), values::http_url(url.as_str()))?)),
        (None, Some(socket)) => {
            for (key, set) in [("username", raw.username.is_some()), ("password_file", raw.password_file.is_some())] {
                if set {
                    return Err(ctx.error(&p.key(key), "applies to stats_url only: the stats socket has no basic auth"));
                }
            }
            Ok(StatsSource::Socket(ctx.at(&p.key("stats_socket"), stats_socket(socket.as_str()))?))
        }
    }
}

/// HAProxy's own `stats socket` address forms: a path (or `unix@PATH`), `ipv4@ADDR:PORT`,
/// `ipv6@ADDR:PORT` (`[ADDR]:PORT` accepted too).
fn stats_socket(text: &str) -> Result<StatsSocket, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let tcp = |rest: &str, v6: bool| -> Result<StatsSocket, String> {
        let addr = match rest.parse::<SocketAddr>() {
            Ok(a) => a,
            // HAProxy also writes `ipv6@::1:9999`: the port is after the last colon.
            Err(_) => match rest.rsplit_once(':').map(|(ip, port)| (ip.parse::<IpAddr>(), port.parse::<u16>())) {
                Some((Ok(ip), Ok(port))) => SocketAddr::new(ip, port),
                _ => return Err(format!("`{text}`: `{rest}` is not an address with a port")),
            },
        };
        if addr.is_ipv6() != v6 {
            return Err(format!("`{text}`: {} is not an {} address", addr.ip(), if v6 { "IPv6" } else { "IPv4" }));
        }
        if addr.port() == 0 {
            return Err(format!("`{text}`: port 0 is not allowed"));
        }
        Ok(StatsSocket::Tcp(addr))
    };
    if let Some(rest) = text.strip_prefix("ipv4@") {
        return tcp(rest, false);
    }
    if let Some(rest) = text.strip_prefix("ipv6@") {
        return tcp(rest, true);
    }
    let path = text.strip_prefix("unix@").unwrap_or(text);
    if let Some((prefix, _)) = path.split_once('@').filter(|(prefix, _)| !prefix.contains('/')) {
        return Err(format!(
            "`{text}`: `{prefix}@` is not supported: give a UNIX socket path, unix@PATH, ipv4@ADDR:PORT or ipv6@ADDR:PORT"
        ));
    }
    if !path.starts_with('/') {
        return Err(format!("`{text}` is not an absolute path: give the UNIX socket's full path, or ipv4@ADDR:PORT"));
    }
    Ok(StatsSocket::Unix(PathBuf::from(path)))
}

fn http(ctx: &Ctx<'_>, p: &YamlPath, raw: &RawHttp) -> Result<CheckKind, ConfigError> {
    let url =
        ctx.required(raw.url.as_ref(), &p.key("url"), "the health endpoint (e.g. \"http://127.0.0.1:8080/health\")")?;
    Ok(CheckKind::Http {
        url: ctx.at(&p.key("url"), values::http_url(url.as_str()))?,
        expect_status: ctx
            .opt(raw.expect_status.as_ref(), &p.key("expect_status"), DEFAULT_EXPECT_STATUS, |v| status(*v))?,
        expect_body: raw.expect_body.as_ref().map(|t| t.0.clone()),
    })
}

fn status(v: Int) -> Result<u16, String> {
    match u16::try_from(v.0) {
        Ok(n) if (100..=599).contains(&n) => Ok(n),
        _ => Err(format!("{} is not an HTTP status: must be 100..599", v.0)),
    }
}

fn tcp(ctx: &Ctx<'_>, p: &YamlPath, raw: &RawTcp) -> Result<CheckKind, ConfigError> {
    let path = p.key("address");
    let address = ctx.required(raw.address.as_ref(), &path, "the address to connect to (e.g. \"127.0.0.1:443\")")?;
    let address = ctx.at(&path, values::socket_addr(address.as_str(), None))?;
    Ok(CheckKind::Tcp { address })
}

fn exec(ctx: &Ctx<'_>, p: &YamlPath, raw: &RawExec) -> Result<CheckKind, ConfigError> {
    let path = p.key("command");
    let command = ctx.required(
        raw.command.as_ref(),
        &path,
        "the program and its arguments (e.g. [\"/usr/local/bin/check-app\", \"--quiet\"])",
    )?;
    Ok(CheckKind::Exec { command: argv(ctx, &path, command)? })
}

/// A program and its arguments. rhi runs it without a shell, so a single string with spaces is
/// refused rather than split by guesswork.
pub(crate) fn argv(ctx: &Ctx<'_>, path: &YamlPath, list: &OneOrMany<Text>) -> Result<Vec<String>, ConfigError> {
    let Some(program) = list.items.first() else {
        return Err(ctx.error(path, "must not be empty: give the program to run"));
    };
    if list.scalar && program.0.contains(char::is_whitespace) {
        return Err(ctx.error(
            path,
            format!(
                "write the command as a list of arguments, e.g. [{}]: it is run without a shell",
                program.0.split_whitespace().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if program.0.trim().is_empty() {
        return Err(ctx.error(&item_path(path, list, 0), "the program must not be empty"));
    }
    Ok(list.items.iter().map(|t| t.0.clone()).collect())
}

fn non_empty(t: &Text) -> Result<String, String> {
    if t.0.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(t.0.clone())
}

fn optional_text(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&Text>) -> Result<Option<String>, ConfigError> {
    ctx.opt(raw, path, None, |t| non_empty(t).map(Some))
}
