//! The RFC 4271 §8 session state machine, pure: events and the current time in, actions out.
//! No I/O and no tokio, so every path is a unit test with a fake clock.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::capability::Capability;
use super::message::Message;
use super::nlri::Family;
use super::notification::Notification;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// What one session is configured with.
#[derive(Clone, Debug)]
pub struct FsmConfig {
    pub local_as: u32,
    pub remote_as: u32,
    pub local_id: Ipv4Addr,
    /// Seconds: 0 (no keepalives) or >= 3.
    pub hold_time: u16,
    /// Wait for the router to connect instead of connecting out.
    pub passive: bool,
    /// First retry delay; doubles per failure (with jitter) up to `connect_retry_max`.
    pub connect_retry: Duration,
    pub connect_retry_max: Duration,
    /// Families to offer (Multiprotocol capabilities).
    pub families: Vec<Family>,
}

/// What both OPENs agreed on; handed to the driver when the session is Established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub remote_as: u32,
    pub remote_id: Ipv4Addr,
    pub hold_time: u16,
    pub keepalive: Option<Duration>,
    pub four_octet_as: bool,
    pub extended_message: bool,
    pub route_refresh: bool,
    /// Families both sides offered; IPv4 unicast when neither side sent Multiprotocol.
    pub families: Vec<Family>,
    pub remote_capabilities: Vec<Capability>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Begin: connect out (or wait, if passive) at once.
    Start,
    /// Administrative stop: Cease/Administrative Shutdown with this RFC 8203 message; no restart.
    Stop { message: String },
    /// The TCP connection is up (our connect succeeded, or an inbound one was handed to us).
    TcpConnected,
    /// The connect failed, or the connection closed or errored.
    TcpFailed,
    Received(Message),
    /// The codec refused what the peer sent: send this NOTIFICATION and drop the connection.
    DecodeError(Notification),
    /// Collision detection (§6.8) chose the other connection: Cease/Connection Collision Resolution.
    CollisionLost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open an outbound TCP connection to the peer.
    Connect,
    Send(Message),
    /// Close the TCP connection (after flushing anything sent before this action).
    Close,
    /// The session reached Established.
    Up(Negotiated),
    /// The session left Established.
    Down { reason: String },
    /// A message for the layer above (UPDATE, ROUTE-REFRESH) while Established.
    Deliver(Message),
}
