//! The YAML configuration (DESIGN §2): schema, defaults and validation.
//!
//! These structs are the resolved configuration the rest of rhi consumes. Durations are already
//! `Duration`s, communities already numbers, defaults already applied.
//!
//! Loading goes text -> `locate` (a YAML path -> line:col index, plus duplicate-key detection) ->
//! `raw` (serde, shape and unknown keys) -> `resolve` (values, defaults, cross-field rules), so every
//! error, whichever stage finds it, reads `file:line:col: path: message`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::bgp::attributes::LargeCommunity;
use crate::bgp::nlri::Family;

mod bfd;
mod checks;
mod community;
mod emit;
mod error;
mod file;
mod locate;
mod peers;
mod processes;
mod protection;
mod raw;
mod resolve;
mod values;
mod vips;

pub use error::{ConfigError, Position};
pub use file::{ConfigFile, ConfigFormat};
pub use protection::{GracefulRestart, Md5Key, Md5Source, TtlPolicy, MD5_MAX_KEY_LEN};

/// Where `rhi` looks when neither `-c` nor `$RHI_CONFIG` is given.
pub const DEFAULT_PATH: &str = "/etc/rhi/rhi.yaml";
/// `control.socket` when not configured; also the CLI's fallback when it has no config.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/rhi/rhi.sock";

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub router_id: Ipv4Addr,
    pub local_as: u32,
    pub listen: Vec<SocketAddr>,
    pub peers: Vec<PeerConfig>,
    pub checks: BTreeMap<String, CheckConfig>,
    pub vips: Vec<VipConfig>,
    pub drain: DrainConfig,
    pub control: ControlConfig,
    pub state_file: Option<PathBuf>,
    pub metrics: Option<MetricsConfig>,
    pub processes: Vec<ProcessConfig>,
    /// End-of-RIB waits at most this long for every check's first verdict (DESIGN §3).
    pub startup_grace: Duration,
    /// The top-level `graceful_restart`: every peer's unless it says otherwise.
    pub graceful_restart: Option<GracefulRestart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub name: String,
    pub address: IpAddr,
    pub remote_as: u32,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    pub passive: bool,
    /// Seconds; 0 or >= 3.
    pub hold_time: u16,
    pub connect_retry: Duration,
    pub next_hop: NextHop,
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Never empty after loading: the configured list, or the families of the VIPs.
    pub families: Vec<Family>,
    /// BFD (RFC 5880) to this router; `None` = off.
    pub bfd: Option<BfdConfig>,
    /// RFC 9687; `None` = its recommended max(8 min, 2 × the negotiated hold time).
    pub send_hold_time: Option<Duration>,
    /// TCP-MD5 (RFC 2385).
    pub md5: Option<Md5Key>,
    /// GTSM (RFC 5082) or an outgoing TTL.
    pub ttl: TtlPolicy,
    /// RFC 4724; `None` = the capability is not sent.
    pub graceful_restart: Option<GracefulRestart>,
}

/// One peer's BFD settings: what rhi asks of the router and offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BfdConfig {
    /// The slowest the router may send to us (our Required Min RX Interval).
    pub min_rx: Duration,
    /// How often we would like to send (our Desired Min TX Interval).
    pub min_tx: Duration,
    /// Packets missed before the session is declared Down (Detect Mult).
    pub multiplier: u8,
    /// RFC 5883 (UDP 4784) or RFC 5881 (UDP 3784, TTL 255); `None` = decided when the session
    /// starts: single-hop when the router is on a connected subnet.
    pub multihop: Option<bool>,
    /// Multihop only: the lowest TTL accepted; `None` = any.
    pub min_ttl: Option<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHop {
    /// The local address of the TCP session to this peer.
    SelfAddress,
    Address(IpAddr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckConfig {
    pub kind: CheckKind,
    pub interval: Duration,
    pub fast_interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    Haproxy(HaproxyCheck),
    Http { url: String, expect_status: u16, expect_body: Option<String> },
    Tcp { address: SocketAddr },
    Exec { command: Vec<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct HaproxyCheck {
    /// Where the stats CSV comes from.
    pub source: StatsSource,
    pub backend: String,
    pub min_up: u32,
    pub frontend: Option<String>,
    pub degraded_below: Option<u32>,
    pub count_backup: bool,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// The stats page (`stats_url`) or HAProxy's CLI socket (`stats_socket`, `show stat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsSource {
    Url(String),
    Socket(StatsSocket),
}

/// A HAProxy `stats socket`: a UNIX socket path, or `ipv4@`/`ipv6@` ADDRESS:PORT for a TCP one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsSocket {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for StatsSocket {
    /// In the form `stats_socket` accepts, so `check-config` output reads back the same.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsSocket::Unix(path) => write!(f, "{}", path.display()),
            StatsSocket::Tcp(a @ SocketAddr::V4(_)) => write!(f, "ipv4@{a}"),
            StatsSocket::Tcp(a @ SocketAddr::V6(_)) => write!(f, "ipv6@{a}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipConfig {
    pub prefix: IpNet,
    /// All must pass; empty = always announced.
    pub checks: Vec<String>,
    pub attributes: RouteAttrs,
    pub when_down: WhenDown,
    /// Overrides applied on top of `attributes` while a check is DEGRADED.
    pub when_degraded: Option<AttrOverride>,
}

/// What an operator can set on an announced route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouteAttrs {
    pub med: Option<u32>,
    pub as_path_prepend: u8,
    /// RFC 1997 values; well-known names are resolved at load.
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    /// Sent to iBGP peers only.
    pub local_pref: Option<u32>,
}

/// Fields given replace the route's own; absent ones keep them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttrOverride {
    pub med: Option<u32>,
    pub as_path_prepend: Option<u8>,
    /// Added to the route's communities.
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    pub local_pref: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WhenDown {
    #[default]
    Withdraw,
    Announce(AttrOverride),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrainConfig {
    pub med: Option<u32>,
    pub as_path_prepend: Option<u8>,
    pub graceful_shutdown: bool,
    /// Zero = stay announced (drained) until undrain.
    pub withdraw_after: Duration,
    pub file: Option<PathBuf>,
    pub on_shutdown: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlConfig {
    pub socket: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    pub listen: SocketAddr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessConfig {
    pub name: String,
    pub run: Vec<String>,
    pub encoder: Encoder,
    pub ack: bool,
    /// Peer names or addresses whose events the process receives; empty = all.
    pub neighbors: Vec<String>,
    /// Withdraw the process's routes while it is not running (ExaBGP keeps them: a blackhole
    /// when the program was the health check).
    pub withdraw_on_exit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoder {
    Text,
    Json,
}

impl Config {
    /// Reads and validates a configuration file.
    ///
    /// # Errors
    /// The first problem found, displayed as `file:line:col: message`, or `file: message` when
    /// the file cannot be read or is not UTF-8.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let bytes =
            read_limited(path).map_err(|message| ConfigError { origin: origin.clone(), position: None, message })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError {
            origin: origin.clone(),
            position: None,
            message: format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
        })?;
        Config::from_yaml(&text, &origin)
    }

    /// Validates configuration text; `origin` names it in errors (usually the file name).
    ///
    /// # Errors
    /// The first problem found, displayed as `origin:line:col: message`.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // Editors on Windows add a byte-order mark; libyaml would take it for a second document.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let index = locate::Index::build(text).map_err(|e| ConfigError {
            origin: origin.to_owned(),
            position: e.position,
            message: e.message,
        })?;
        let raw: raw::RawConfig = if index.is_empty() {
            // serde_yaml refuses an empty document; an empty file is a config missing everything.
            raw::RawConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| error::from_serde(origin, &e))?
        };
        let ctx = resolve::Ctx { origin, index: &index };
        resolve::resolve(&raw, &ctx)
    }

    /// The effective configuration as YAML in the same schema, every default filled in (for
    /// `rhi check-config`). `from_yaml` of the result gives back an equal `Config`.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        emit::to_yaml(self)
    }

    /// Settings that are valid but probably not what was meant, one sentence each, for
    /// `rhi check-config` and the startup log.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let ibgp = self.peers.iter().any(|p| p.is_ibgp(self.local_as));
        for vip in &self.vips {
            let uses_local_pref = vip.attributes.local_pref.is_some()
                || vip.when_degraded.as_ref().is_some_and(|o| o.local_pref.is_some())
                || matches!(&vip.when_down, WhenDown::Announce(o) if o.local_pref.is_some());
            if uses_local_pref && !ibgp {
                out.push(format!(
                    "VIP {}: local_pref is only sent to iBGP peers, and no peer has remote_as {}",
                    vip.prefix, self.local_as
                ));
            }
            if vip.when_degraded.is_some() && !self.can_degrade(vip) {
                out.push(format!(
                    "VIP {}: when_degraded has no effect: none of its checks sets degraded_below",
                    vip.prefix
                ));
            }
        }
        out
    }

    fn can_degrade(&self, vip: &VipConfig) -> bool {
        vip.checks.iter().any(|name| {
            matches!(
                self.checks.get(name).map(|c| &c.kind),
                Some(CheckKind::Haproxy(h)) if h.degraded_below.is_some()
            )
        })
    }
}

/// A configuration is a few kilobytes; the cap keeps `-c /dev/zero` or a log file passed by
/// mistake from exhausting memory.
const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err("larger than 16 MiB: is this the configuration file?".to_owned());
    }
    Ok(bytes)
}

impl PeerConfig {
    /// An eBGP peer in AS 65000 with every optional setting at its default, for the unit tests
    /// of the modules that take a `PeerConfig`.
    #[cfg(test)]
    pub(crate) fn example(name: &str, address: IpAddr) -> PeerConfig {
        PeerConfig {
            name: name.to_owned(),
            address,
            remote_as: 65000,
            port: resolve::DEFAULT_BGP_PORT,
            local_address: None,
            passive: false,
            hold_time: 9,
            connect_retry: peers::DEFAULT_CONNECT_RETRY,
            next_hop: NextHop::SelfAddress,
            next_hop_v6: None,
            families: vec![],
            bfd: None,
            send_hold_time: None,
            md5: None,
            ttl: TtlPolicy::Default,
            graceful_restart: None,
        }
    }

    /// True when the session is iBGP (same AS on both ends).
    #[must_use]
    pub fn is_ibgp(&self, local_as: u32) -> bool {
        self.remote_as == local_as
    }

    /// The next hop to announce routes of `family` to this peer with, or `None` if the
    /// configuration gives none of that family (loading refuses that for any VIP the peer
    /// carries). IPv4: `next_hop` if it is an IPv4 address, else the session's own address if the
    /// session is IPv4. IPv6: `next_hop_v6`, else `next_hop` if it is an IPv6 address, else the
    /// session's own address if the session is IPv6.
    #[must_use]
    pub fn next_hop_for(&self, family: Family) -> Option<NextHop> {
        let session_v4 = self.address.is_ipv4();
        match (family, self.next_hop) {
            (Family::IPV4_UNICAST, NextHop::Address(a @ IpAddr::V4(_))) => Some(NextHop::Address(a)),
            (Family::IPV4_UNICAST, _) => session_v4.then_some(NextHop::SelfAddress),
            (Family::IPV6_UNICAST, nh) => match (self.next_hop_v6, nh) {
                (Some(a), _) => Some(NextHop::Address(IpAddr::V6(a))),
                (None, NextHop::Address(a @ IpAddr::V6(_))) => Some(NextHop::Address(a)),
                (None, _) => (!session_v4).then_some(NextHop::SelfAddress),
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
