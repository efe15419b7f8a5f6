//! Raw YAML values -> the resolved `Config`: defaults, parsing and every cross-field rule.
//!
//! Sections are resolved in dependency order (checks before the VIPs that name them, VIPs before
//! the peers whose default families and next hops depend on them, peers before the processes that
//! name them); the first problem found is returned.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::locate::{Index, YamlPath};
use super::protection;
use super::raw::{OneOrMany, RawConfig, RawControl, RawDrain, RawMetrics, Text};
use super::{checks, peers, processes, values, vips};
use super::{Config, ControlConfig, DrainConfig, MetricsConfig};

pub(crate) const DEFAULT_STARTUP_GRACE: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_BGP_PORT: u16 = 179;

/// Turns messages into located errors.
pub(crate) struct Ctx<'a> {
    pub origin: &'a str,
    pub index: &'a Index,
}

impl Ctx<'_> {
    /// An error about the node at `path` (or, if it is absent, the nearest node that contains it).
    pub fn error(&self, path: &YamlPath, message: impl Display) -> ConfigError {
        let message = if path.is_root() { message.to_string() } else { format!("{path}: {message}") };
        ConfigError { origin: self.origin.to_owned(), position: self.index.position(path), message }
    }

    pub fn at<T>(&self, path: &YamlPath, r: Result<T, String>) -> Result<T, ConfigError> {
        r.map_err(|m| self.error(path, m))
    }

    /// The value of a key that must be present; its absence is reported where its mapping is.
    pub fn required<'v, T>(&self, value: Option<&'v T>, path: &YamlPath, hint: &str) -> Result<&'v T, ConfigError> {
        value.ok_or_else(|| ConfigError {
            origin: self.origin.to_owned(),
            position: self.index.position(path),
            message: format!("{path} is required: {hint}"),
        })
    }

    /// Parses an optional value, or returns `default` when the key is absent.
    pub fn opt<R, T>(
        &self,
        value: Option<&R>,
        path: &YamlPath,
        default: T,
        parse: impl FnOnce(&R) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        value.map_or(Ok(default), |v| self.at(path, parse(v)))
    }
}

/// The path of the `i`th item of a list that may have been written as a single value.
pub(crate) fn item_path<T>(base: &YamlPath, list: &OneOrMany<T>, i: usize) -> YamlPath {
    if list.scalar {
        base.clone()
    } else {
        base.index(i)
    }
}

pub(crate) fn resolve(raw: &RawConfig, ctx: &Ctx<'_>) -> Result<Config, ConfigError> {
    let root = YamlPath::root();
    let router_id = ctx.required(
        raw.router_id.as_ref(),
        &root.key("router_id"),
        "the BGP identifier, an IPv4 address of this node (e.g. router_id: 10.25.150.10)",
    )?;
    let router_id = ctx.at(&root.key("router_id"), router_id_value(router_id))?;
    let local_as =
        ctx.required(raw.local_as.as_ref(), &root.key("local_as"), "this node's AS number (e.g. local_as: 65010)")?;
    let local_as = ctx.at(&root.key("local_as"), values::asn(*local_as))?;
    let listen = listen(ctx, raw.listen.as_ref())?;
    let checks = checks::resolve(ctx, raw.checks.as_ref())?;
    let vips = vips::resolve(ctx, raw.vips.as_deref().unwrap_or_default(), &checks)?;
    let graceful_restart =
        protection::graceful_restart(ctx, &root.key("graceful_restart"), raw.graceful_restart.as_ref(), None)?;
    let peer_env = peers::Env { listen: &listen, vips: &vips, graceful_restart };
    let peers = peers::resolve(ctx, raw.peers.as_deref().unwrap_or_default(), &peer_env)?;
    let processes = processes::resolve(ctx, raw.processes.as_deref().unwrap_or_default(), &peers)?;
    Ok(Config {
        router_id,
        local_as,
        listen,
        peers,
        checks,
        vips,
        drain: drain(ctx, raw.drain.as_ref())?,
        control: control(ctx, raw.control.as_ref())?,
        state_file: optional_path(ctx, &root.key("state_file"), raw.state_file.as_ref())?,
        metrics: metrics(ctx, raw.metrics.as_ref())?,
        processes,
        startup_grace: ctx.opt(
            raw.startup_grace.as_ref(),
            &root.key("startup_grace"),
            DEFAULT_STARTUP_GRACE,
            values::duration,
        )?,
        graceful_restart,
    })
}

/// RFC 6286: any non-zero 32-bit value, written as an IPv4 address.
fn router_id_value(text: &Text) -> Result<std::net::Ipv4Addr, String> {
    let id = values::ipv4(text.as_str())
        .map_err(|e| format!("{e} (the BGP identifier is a 32-bit value written as an IPv4 address)"))?;
    if id.is_unspecified() {
        return Err("0.0.0.0 is not a valid BGP identifier: it must be non-zero (RFC 6286)".into());
    }
    Ok(id)
}

fn listen(ctx: &Ctx<'_>, raw: Option<&OneOrMany<Text>>) -> Result<Vec<SocketAddr>, ConfigError> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    let base = YamlPath::root().key("listen");
    let mut out: Vec<SocketAddr> = Vec::new();
    for (i, text) in list.items.iter().enumerate() {
        let path = item_path(&base, list, i);
        let addr = ctx.at(&path, values::socket_addr(text.as_str(), Some(DEFAULT_BGP_PORT)))?;
        if out.contains(&addr) {
            return Err(ctx.error(&path, format!("{addr} is listed twice")));
        }
        out.push(addr);
    }
    Ok(out)
}

pub(crate) const DEFAULT_GRACEFUL_SHUTDOWN: bool = true;

fn drain(ctx: &Ctx<'_>, raw: Option<&RawDrain>) -> Result<DrainConfig, ConfigError> {
    let default = RawDrain::default();
    let raw = raw.unwrap_or(&default);
    let p = YamlPath::root().key("drain");
    Ok(DrainConfig {
        med: ctx.opt(raw.med.as_ref(), &p.key("med"), None, |v| values::u32_value(*v).map(Some))?,
        as_path_prepend: ctx.opt(raw.as_path_prepend.as_ref(), &p.key("as_path_prepend"), None, |v| {
            values::as_path_prepend(*v).map(Some)
        })?,
        graceful_shutdown: raw.graceful_shutdown.unwrap_or(DEFAULT_GRACEFUL_SHUTDOWN),
        withdraw_after: ctx.opt(
            raw.withdraw_after.as_ref(),
            &p.key("withdraw_after"),
            Duration::ZERO,
            values::duration,
        )?,
        file: optional_path(ctx, &p.key("file"), raw.file.as_ref())?,
        on_shutdown: ctx.opt(raw.on_shutdown.as_ref(), &p.key("on_shutdown"), Duration::ZERO, values::duration)?,
    })
}

fn control(ctx: &Ctx<'_>, raw: Option<&RawControl>) -> Result<ControlConfig, ConfigError> {
    let path = YamlPath::root().key("control").key("socket");
    let socket = optional_path(ctx, &path, raw.and_then(|c| c.socket.as_ref()))?;
    Ok(ControlConfig { socket: socket.unwrap_or_else(|| PathBuf::from(super::DEFAULT_CONTROL_SOCKET)) })
}

fn metrics(ctx: &Ctx<'_>, raw: Option<&RawMetrics>) -> Result<Option<MetricsConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let path = YamlPath::root().key("metrics").key("listen");
    let listen =
        ctx.required(raw.listen.as_ref(), &path, "the address of the /metrics endpoint (e.g. listen: 127.0.0.1:9179)")?;
    let listen = ctx.at(&path, values::socket_addr(listen.as_str(), None))?;
    Ok(Some(MetricsConfig { listen }))
}

fn optional_path(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&Text>) -> Result<Option<PathBuf>, ConfigError> {
    ctx.opt(raw, path, None, |t| values::path(t.as_str()).map(Some))
}
