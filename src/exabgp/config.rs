//! Reads the common subset of an ExaBGP 4/5 configuration as an rhi [`Config`] (DESIGN §5), for
//! `rhi run --exabgp-config FILE` and `rhi check-config --exabgp-config FILE`.
//!
//! Pure: text in, configuration out. The text is tokenized (`syntax`), each statement is read and
//! checked where it is written (`model`), then templates, ExaBGP's defaults and rhi's rules are
//! applied (`convert`), which produces rhi YAML that [`Config::from_yaml`] loads, so an imported
//! configuration gets exactly the validation and defaults of a YAML one. Every error is reported
//! at the ExaBGP statement responsible, as `file:line:col: neighbor 10.0.0.1: message`.
//!
//! # Supported
//! - `neighbor IP { ... }` with `router-id`, `local-address` (or `auto`), `local-as`, `peer-as`,
//!   `hold-time` (default 180, as in ExaBGP), `passive`, `listen PORT`, `connect PORT`,
//!   `description` (becomes the peer name when short, else `n-10-0-0-1`), `inherit`.
//! - `family { ipv4 unicast; ipv6 unicast; }` (`all;` and no block: both unicast families).
//! - `static { route PREFIX next-hop self|IP med N local-preference N community [..]
//!   large-community [..] as-path [..] origin igp; }`, also `route PREFIX { ...; }`,
//!   `attributes ... nlri P1 P2;` and `announce { ipv4 { unicast PREFIX ...; } }`. Routes become
//!   rhi VIPs (always announced, no check) and their next hop the peer's `next_hop`/`next_hop_v6`.
//! - `api [NAME] { processes [ NAME ]; neighbor-changes; send {..} receive {..} }`: the neighbor
//!   is added to each process's `neighbors`. Which events a process is sent is rhi's choice (its
//!   ExaBGP API layer), not selected by the send/receive options.
//! - `process NAME { run PROGRAM ARGS; encoder text|json; respawn true; }`: `run` is split as
//!   ExaBGP splits it (quotes honoured, `[` `]` `,` separate).
//! - `template { neighbor NAME { ... } }` + `inherit NAME;` / `inherit [ A B ];`, applied as
//!   ExaBGP applies them: a template's single values REPLACE the neighbor's own (ExaBGP 4.2 and 5
//!   behave so; rhi warns when it happens), lists and blocks are merged.
//! - `capability { asn4 enable; route-refresh; extended-message; graceful-restart [N]; }`
//!   (`graceful-restart` becomes the peer's `graceful_restart`, its time the hold-time when not
//!   given, as in ExaBGP); `add-path`, `multi-session`, `operational`, `nexthop`, `aigp` only
//!   when disabled.
//! - Session protection: `md5-password` (quoted or not, ExaBGP's escapes; `md5-base64 true`
//!   decodes it) becomes the peer's TCP-MD5 key, set on the loaded configuration and never written
//!   into the YAML (`check-config` shows `password: (redacted)`); `md5-ip` equal to
//!   `local-address`; `outgoing-ttl N` is `ttl: N`; `incoming-ttl N` (the lowest TTL accepted) is
//!   `ttl_security: {hops: 256 - N}`, which sends TTL 255; ExaBGP 3's `ttl-security [N]` (the
//!   outgoing TTL there) is `ttl: N`, with a warning.
//!
//! # Refused (an error naming the statement)
//! `md5-base64 auto` (ExaBGP guesses), `md5-ip` other than `local-address`, a key longer than 80
//! bytes or not ASCII, `graceful-restart` above 4095 s,
//! `add-path`, FlowSpec/L2VPN/VPN/labelled families and blocks (`flow`, `l2vpn`, `nexthop`,
//! `operational`), `rate-limit N`, neighbor ranges, `local-as
//! auto`/`peer-as auto`, `respawn false`, ExaBGP 3 `group` and in-neighbor `process` blocks, route
//! attributes rhi cannot configure (`extended-community`, `origin egp|incomplete`, `aggregator`,
//! `label`, `rd`, `split`, `watchdog`, `withdraw`, ...), and ExaBGP constructs rhi cannot express:
//! different router-ids or local-as per neighbor, different routes or attributes per neighbor,
//! different next hops of one family to one neighbor, an `as-path` other than local-as repeated
//! (eBGP) or empty (iBGP).
//!
//! # Accepted with a warning (the knob changes nothing rhi could honour)
//! `group-updates false` (rhi always groups), `auto-flush false` (API routes go out as they
//! arrive), `adj-rib-out false` (rhi always keeps one), `adj-rib-in true` (rhi keeps none),
//! `manual-eor true` (rhi sends End-of-RIB itself), `route-refresh disable` and `extended-message
//! disable` (rhi always offers them), `host-name`/`domain-name` (no FQDN capability), a relative
//! `run` program (ExaBGP searches /etc/exabgp and the config's folder too), `[`/`]`/`,` in a `run`
//! line, a passive neighbor without `listen` (rhi listens on local-address:179), no family block
//! or `family all` (rhi offers both unicast families), a process no api lists (rhi sends it every
//! neighbor's events), a neighbor value replaced by a template's, `incoming-ttl` on a neighbor
//! without `listen` (ExaBGP checks it only on connections it accepts, rhi on every session) or
//! with an `outgoing-ttl` other than 255 (rhi sends 255), `ttl-security` (ExaBGP 3), `md5-ip`
//! with `local-address auto` (ignored, as by ExaBGP), `md5-password` (a reminder that the key
//! is printed as `(redacted)`: a YAML configuration should take it from `password_file`), `md5-base64` alone (false in ExaBGP) and
//! `graceful-restart` without a time (the hold-time, which may be long).

use std::fmt;
use std::path::Path;

use crate::config::{Config, ConfigError, Md5Key, Position};

mod convert;
mod model;
mod syntax;

/// An ExaBGP configuration read as rhi's.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub config: Config,
    /// `file:line:col: message`, in file order: what works differently from ExaBGP, harmlessly.
    pub warnings: Vec<String>,
}

impl Imported {
    /// The equivalent rhi YAML (every default spelled out, [`Config::to_yaml`]), preceded by the
    /// warnings as comments: what `rhi check-config --exabgp-config` prints.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for w in &self.warnings {
            out.push_str("# warning: ");
            out.push_str(w);
            out.push('\n');
        }
        out.push_str(&self.config.to_yaml());
        out
    }
}

/// Displays as `file:line:col: message`, or `file: message` when no statement is to blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    pub origin: String,
    pub position: Option<Position>,
    /// Starts with the block in question (`neighbor 10.0.0.1: ...`) when there is one.
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}: {}", self.origin, p, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ImportError {}

/// So that the CLI reports both kinds of configuration error alike (exit 2, same format).
impl From<ImportError> for ConfigError {
    fn from(e: ImportError) -> ConfigError {
        ConfigError { origin: e.origin, position: e.position, message: e.message }
    }
}

/// Reads an ExaBGP configuration; `origin` names it in errors and warnings (usually the file name).
///
/// # Errors
/// The first problem found, at the statement responsible: a syntax error, a value ExaBGP would
/// refuse, a feature rhi does not have, or a configuration rhi cannot express.
pub fn import(text: &str, origin: &str) -> Result<Imported, ImportError> {
    let located =
        |pos: Option<Position>, message: String| ImportError { origin: origin.to_owned(), position: pos, message };
    let nodes = syntax::parse(text).map_err(|e| located(Some(e.pos), e.message))?;
    let mut warnings = Vec::new();
    let doc = model::document(&nodes, &mut warnings).map_err(|p| located(p.pos, p.message))?;
    let out = convert::convert(&doc, &mut warnings).map_err(|p| located(p.pos, p.message))?;
    let mut config = Config::from_yaml(&out.yaml, origin).map_err(|e| {
        let (pos, message) = blame(&out.places, &e.message);
        located(pos, message)
    })?;
    for (i, key) in &out.md5 {
        config.peers[*i].md5 = Some(Md5Key::inline(key));
    }
    warnings.sort_by_key(|w| w.pos);
    let warnings = warnings.into_iter().map(|w| format!("{origin}:{}: {}", w.pos, w.message)).collect();
    Ok(Imported { config, warnings })
}

/// Reads and imports a file (at most 16 MiB of UTF-8).
///
/// # Errors
/// As [`import`], or `file: cannot read: ...` when the file cannot be read.
pub fn import_file(path: &Path) -> Result<Imported, ImportError> {
    use std::io::Read;
    const MAX: u64 = 16 * 1024 * 1024;
    let origin = path.display().to_string();
    let fail = |message: String| ImportError { origin: origin.clone(), position: None, message };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX + 1).read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX {
        return Err(fail("larger than 16 MiB: is this the configuration file?".into()));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| fail(format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    import(&text, &origin)
}

/// rhi's loader refused the generated YAML: its message starts with the YAML path at fault
/// (`peers[0].next_hop_v6: ...`); report it at the ExaBGP statement that path came from.
fn blame(places: &[convert::Place], message: &str) -> (Option<Position>, String) {
    let fits = |path: &str| {
        message.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ', '.', '[']))
    };
    match places.iter().filter(|p| fits(&p.path)).max_by_key(|p| p.path.len()) {
        Some(p) => (Some(p.pos), format!("{}: rhi refuses the equivalent setting: {message}", p.scope)),
        None => (None, format!("rhi refuses the equivalent configuration: {message}")),
    }
}

#[cfg(test)]
mod tests;
