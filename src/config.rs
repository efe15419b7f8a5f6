//! The YAML configuration (DESIGN §2): schema, defaults and validation.
//!
//! These structs are the resolved configuration the rest of rhi consumes. Durations are already
//! `Duration`s, communities already numbers, defaults already applied.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::bgp::attributes::LargeCommunity;
use crate::bgp::nlri::Family;

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
    pub stats_url: String,
    pub backend: String,
    pub min_up: u32,
    pub frontend: Option<String>,
    pub degraded_below: Option<u32>,
    pub count_backup: bool,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoder {
    Text,
    Json,
}
