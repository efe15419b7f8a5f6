//! The `processes:` section: ExaBGP-API programs rhi starts (DESIGN §5).

use std::net::IpAddr;

use super::checks::argv;
use super::error::ConfigError;
use super::locate::YamlPath;
use super::raw::{OneOrMany, RawProcess, Text};
use super::resolve::{item_path, Ctx};
use super::values;
use super::{Encoder, PeerConfig, ProcessConfig};

pub(crate) const DEFAULT_ACK: bool = true;

pub(crate) fn resolve(
    ctx: &Ctx<'_>,
    raw: &[RawProcess],
    peers: &[PeerConfig],
) -> Result<Vec<ProcessConfig>, ConfigError> {
    let base = YamlPath::root().key("processes");
    let mut out: Vec<ProcessConfig> = Vec::new();
    for (i, process) in raw.iter().enumerate() {
        let path = base.index(i);
        let resolved = resolve_one(ctx, &path, process, peers)?;
        if let Some(first) = out.iter().position(|p| p.name == resolved.name) {
            return Err(ctx.error(
                &path.key("name"),
                format!("`{}` is already the name of processes[{first}]: names must be unique", resolved.name),
            ));
        }
        out.push(resolved);
    }
    Ok(out)
}

fn resolve_one(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: &RawProcess,
    peers: &[PeerConfig],
) -> Result<ProcessConfig, ConfigError> {
    let name = ctx.required(raw.name.as_ref(), &path.key("name"), "every process needs a unique name, used in logs")?;
    let run = ctx.required(
        raw.run.as_ref(),
        &path.key("run"),
        "the program and its arguments (e.g. run: [/usr/bin/python3, -m, exabgp, healthcheck])",
    )?;
    Ok(ProcessConfig {
        name: ctx.at(&path.key("name"), process_name(name.as_str()))?,
        run: argv(ctx, &path.key("run"), run)?,
        encoder: ctx.opt(raw.encoder.as_ref(), &path.key("encoder"), Encoder::Text, |t| encoder(t.as_str()))?,
        ack: raw.ack.unwrap_or(DEFAULT_ACK),
        neighbors: neighbors(ctx, &path.key("neighbors"), raw.neighbors.as_ref(), peers)?,
        withdraw_on_exit: raw.withdraw_on_exit.unwrap_or(true),
    })
}

fn process_name(text: &str) -> Result<String, String> {
    if text == "ctl" {
        return Err("`ctl` is reserved: it owns the routes announced with `rhi ctl`".to_owned());
    }
    values::name(text)
}

fn encoder(text: &str) -> Result<Encoder, String> {
    match text {
        "text" => Ok(Encoder::Text),
        "json" => Ok(Encoder::Json),
        other => Err(format!("`{other}` is not an encoder: use text or json")),
    }
}

/// A process subscribed to a router that is not configured would silently receive nothing.
fn neighbors(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: Option<&OneOrMany<Text>>,
    peers: &[PeerConfig],
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, text) in list.items.iter().enumerate() {
        let word = text.as_str().trim();
        let ip = word.parse::<IpAddr>().ok();
        let known = peers.iter().any(|p| p.name == word || Some(p.address) == ip);
        if !known {
            return Err(ctx.error(
                &item_path(path, list, i),
                format!("`{word}` is not the name or address of a configured peer"),
            ));
        }
        out.push(word.to_owned());
    }
    Ok(out)
}
