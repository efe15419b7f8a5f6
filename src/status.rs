//! A snapshot of the daemon for `rhi status`, `/metrics` and logs: plain data, serialisable, the
//! same for every consumer, so the CLI's `--json` and the Prometheus names describe one model.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub router_id: String,
    pub local_as: u32,
    /// Seconds since the daemon started.
    pub uptime_seconds: u64,
    pub peers: Vec<PeerInfo>,
    pub checks: Vec<CheckInfo>,
    pub routes: Vec<RouteInfo>,
    pub drain: DrainInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub name: String,
    pub address: IpAddr,
    pub remote_as: u32,
    /// Idle, Connect, Active, OpenSent, OpenConfirm, Established.
    pub state: String,
    /// Seconds in the current state.
    pub state_seconds: u64,
    pub last_error: Option<String>,
    pub prefixes_advertised: u64,
    pub updates_sent: u64,
    pub updates_received: u64,
    /// All messages, KEEPALIVEs included.
    pub messages_sent: u64,
    pub messages_received: u64,
    /// Prefixes the peer announced to us (a counter: rhi keeps no Adj-RIB-In).
    pub prefixes_received: u64,
    /// Times the session left Established.
    pub flaps: u64,
    /// BFD to this router; absent when not configured, or before the first TCP connection
    /// (the session runs on that connection's addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BfdInfo>,
    /// Graceful restart (RFC 4724); absent when not configured for this peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<GracefulRestartInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GracefulRestartInfo {
    /// Established, and the router sent the capability too: if rhi crashes, the router keeps
    /// its routes (stale) for `restart_time_seconds`.
    pub negotiated: bool,
    /// Ours: how long the router may keep our routes after a crash.
    pub restart_time_seconds: u64,
    /// The router's own restart time, when it sent the capability on the current session.
    #[serde(default)]
    pub peer_restart_time_seconds: Option<u16>,
    /// The router announced that it has just restarted (its Restart State bit).
    #[serde(default)]
    pub peer_restarted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BfdInfo {
    /// AdminDown, Down, Init, Up (RFC 5880).
    pub state: String,
    /// The state the router last reported.
    pub remote_state: String,
    /// The session has been Up at least once; until then BFD never takes a session down (the
    /// router may not run BFD for rhi at all).
    pub has_been_up: bool,
    /// The router set the session AdminDown and has not brought it Up since (not a failure).
    #[serde(default)]
    pub router_admin_down: bool,
    pub multihop: bool,
    /// Our address and source port, and the router's address.
    pub local: String,
    pub remote: IpAddr,
    /// Negotiated: how often rhi sends, and how often the router does.
    pub tx_interval_ms: f64,
    pub rx_interval_ms: f64,
    /// How long without a packet before the session is declared Down.
    pub detection_time_ms: f64,
    /// Why the session last left Up (RFC 5880 diagnostic), and how long ago.
    pub last_down: Option<String>,
    /// The same diagnostic as its RFC 5880 code (1 = Control Detection Time Expired, ...).
    #[serde(default)]
    pub last_down_code: Option<u8>,
    pub last_down_seconds: Option<u64>,
    /// State changes since the session started.
    pub transitions: u64,
    /// Why the session cannot run at all (a port that cannot be bound).
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckInfo {
    pub name: String,
    /// UP, DEGRADED, DOWN.
    pub state: String,
    /// Has reached its first verdict.
    pub decided: bool,
    /// Why the last probe passed or failed.
    pub reason: String,
    pub last_duration_seconds: Option<f64>,
    pub probes: u64,
    pub failures: u64,
}

/// One prefix rhi is responsible for: a config VIP or a manual route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteInfo {
    pub prefix: IpNet,
    /// `config` (a VIP), `manual` (rhi announce).
    pub source: String,
    /// UP, DEGRADED, DOWN for VIPs with checks; UP otherwise.
    pub health: String,
    /// Announced to at least one peer right now (drained routes are announced until withdrawn).
    pub announced: bool,
    pub drained: bool,
    pub med: Option<u32>,
    pub as_path_prepend: u8,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub local_pref: Option<u32>,
    /// Peers it goes to; empty = all.
    pub peers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DrainInfo {
    /// Every VIP is drained (rhi drain without prefixes, the drain file, or shutdown).
    pub all: bool,
    /// What started it: `cli`, `file`, `shutdown`, `state_file`; None when not drained.
    pub source: Option<String>,
    /// Seconds until drained routes are withdrawn; None = no withdrawal pending.
    pub withdraw_in_seconds: Option<f64>,
}
