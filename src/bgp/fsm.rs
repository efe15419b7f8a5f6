//! The RFC 4271 §8 session state machine, pure: events and the current time in, actions out.
//! No I/O and no tokio, so every path is a unit test with a fake clock.
//!
//! One [`Fsm`] owns at most one TCP connection at a time. Where RFC 4271 leaves room, or where
//! this machine departs from its letter, the choice and the reason are stated here once:
//!
//! - **Automatic restart.** Every error leads to Idle with the connect-retry timer armed from an
//!   exponential [`Backoff`] (RFC 4271 §8.1.1 AllowAutomaticStart with DampPeerOscillations).
//!   `Start` connects at once and forgets earlier failures: it is an operator's explicit intent.
//!   The backoff is also forgotten when a session had stayed Established for at least
//!   max(30 s, negotiated hold time) before it failed, so a peer that drops us right after
//!   Established cannot pull us into a tight reconnect loop, while a session that ran for hours
//!   is retried quickly. A passive peer waits out the same backoff in Idle (accepting inbound
//!   connections meanwhile), then returns to Active; it never emits `Connect`.
//! - **Connect.** The connect-retry timer bounds an outbound attempt (RFC 4271 Connect state). On
//!   expiry the FSM emits [`Action::Connect`] again and the driver replaces the pending attempt:
//!   a fresh SYN schedule finds a rebooted router sooner than the kernel's doubling retransmits.
//! - **Inbound connections.** A socket handed over with [`Event::TcpConnected`] is used in
//!   Connect, Active, and Idle while started (also while waiting out a backoff). When stopped, the
//!   FSM refuses it with [`Action::Close`]. While it already holds a connection it ignores the
//!   event: collision resolution (§6.8) needs both OPENs and belongs to the driver, which tells
//!   the loser with [`Event::CollisionLost`] (see [`collision_keeps_local`]).
//! - **OpenConfirm with hold time 0.** RFC 4271 runs no timer there, so a peer that never sends
//!   its KEEPALIVE would wedge the session forever; the 4-minute OpenSent hold timer stays armed.
//! - **Keepalives** go out every hold/3 from entering OpenConfirm, whether or not UPDATEs were
//!   sent meanwhile (the FSM does not see the speaker's UPDATEs; an extra KEEPALIVE is harmless).
//! - **Families.** A side that sends no Multiprotocol capability offers IPv4 unicast only. An
//!   empty intersection still brings the session up with no families: the peer is reachable and
//!   the speaker has nothing to announce to it, which `rhi status` can show plainly.
//! - **ROUTE-REFRESH** for a family that was not negotiated is dropped (RFC 2918 §4: "ignore").
//! - **Send hold timer** (RFC 9687). Armed on entering Established and restarted by
//!   [`Event::SendProgress`], which the driver reports when the socket accepted what we sent (the
//!   FSM never sees the bytes leave). On expiry: NOTIFICATION Send Hold Timer Expired (code 8),
//!   `Close`, and a restart with backoff like any failure; the driver makes the NOTIFICATION
//!   best-effort, so a peer that reads nothing cannot delay the close (RFC 9687 §4 allows that).
//!   Its value is `send_hold_time`, or by default max(8 min, 2 × the negotiated hold time) (§5);
//!   a configured value not above the negotiated hold time is raised to hold time + 1 s, as §4
//!   requires SendHoldTime to exceed HoldTime (so a KEEPALIVE is always due before it expires).
//!   With a negotiated hold time of 0 the timer is not used at all (§4: "stopped"): no
//!   KEEPALIVEs flow then, and an idle session must not be mistaken for a stuck one.
//! - **Graceful restart** (RFC 4724), when configured: the OPEN carries the capability with the
//!   Forwarding State bit set for every family offered (the load balancer forwards whether or
//!   not rhi runs), and the Restart State bit only while `restarting` holds: the driver sets it
//!   when rhi came back from a crash, and it is cleared once a session reaches Established, as
//!   later sessions are not part of that restart. rhi is a helper for free: it keeps no routes
//!   from the router, so a router's restart needs nothing beyond the full table and End-of-RIB
//!   that every new session gets anyway.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::backoff::Backoff;
use super::capability::{Capability, GracefulRestartCap, GracefulRestartFamily};
use super::message::{Message, Open};
use super::nlri::Family;
use super::notification::{cease as cease_subcode, code, fsm as fsm_subcode, open as open_subcode, Notification};
use super::AS_TRANS;

const BGP_VERSION: u8 = 4;

/// RFC 4271 §8.2.2: the hold timer while waiting for the peer's OPEN is "a large value";
/// 4 minutes is the suggested one.
const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// RFC 9687 §5: the default send hold time is the greater of this and twice the hold time.
const MIN_DEFAULT_SEND_HOLD_TIME: Duration = Duration::from_secs(480);

/// How long an outbound connect may stay unanswered before it is abandoned and tried afresh.
/// The kernel would keep retransmitting SYNs for about two minutes, with gaps doubling up to
/// a minute; restarting the attempt every 30 s keeps the gap after a router comes back short.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A session Established at least this long (or the hold time, if longer) was healthy: its
/// failure restarts the backoff from `connect_retry`.
const STABLE_SESSION: Duration = Duration::from_secs(30);

/// At most this many octets of a received NOTIFICATION's data go into an error text.
const MAX_DATA_SHOWN: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    /// The states in which the FSM holds a TCP connection (and so owes the driver a `Close`).
    fn has_connection(self) -> bool {
        matches!(self, State::OpenSent | State::OpenConfirm | State::Established)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
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
    /// RFC 9687 SendHoldTime; `None` = max(8 min, 2 × the negotiated hold time).
    pub send_hold_time: Option<Duration>,
    /// RFC 4724; `None` = the Graceful Restart capability is not sent.
    pub graceful_restart: Option<GracefulRestartConfig>,
}

/// What our Graceful Restart capability announces (RFC 4724 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Seconds, at most 4095: how long the router keeps our routes (stale) after losing the
    /// session without a NOTIFICATION.
    pub restart_time: u16,
    /// Restart State (R): rhi came back from a crash. Sent until a session reaches Established.
    pub restarting: bool,
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
    /// May be empty: the session still comes up, with nothing to exchange.
    pub families: Vec<Family>,
    pub remote_capabilities: Vec<Capability>,
    /// Both sides sent the Graceful Restart capability (RFC 4724): a session lost without a
    /// NOTIFICATION leaves our routes at the router, stale, for our restart time.
    pub graceful_restart: bool,
    /// The peer's Graceful Restart capability, if it sent one: its restart time, whether it has
    /// just restarted (R), which families it preserved (F).
    pub peer_graceful_restart: Option<GracefulRestartCap>,
}

// Events and actions are moved once from the driver into the FSM and back, never stored in
// bulk; boxing the message would cost an allocation per received UPDATE for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Begin: connect out (or wait, if passive) at once. In Idle while already started (waiting
    /// out a backoff), it skips the wait and forgets earlier failures.
    Start,
    /// Administrative stop: Cease/Administrative Shutdown with this RFC 8203 message; no restart.
    Stop {
        message: String,
    },
    /// The TCP connection is up: our connect succeeded, or the driver hands over an inbound one
    /// (used in Connect, Active and Idle-while-started; refused with `Close` when stopped).
    TcpConnected,
    /// The connect failed, or the connection the FSM holds closed or errored.
    TcpFailed,
    Received(Message),
    /// The codec refused what the peer sent: send this NOTIFICATION and drop the connection.
    DecodeError(Notification),
    /// Collision detection (§6.8) chose the other connection: send Cease/Connection Collision
    /// Resolution and close this one, without backing off.
    CollisionLost,
    /// BFD declared the path to the router down (RFC 5882 §3.2): Cease/BFD Down (RFC 9384),
    /// then reconnect as after any failure. `diagnostic` names why, for the logs.
    BfdDown {
        diagnostic: String,
    },
    /// The socket accepted data we sent, at the `now` given with this event (RFC 9687: restarts
    /// the send hold timer). Reporting an older instant than one already reported is harmless.
    SendProgress,
}

#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open an outbound TCP connection to the peer, abandoning any attempt still pending.
    Connect,
    Send(Message),
    /// Close the TCP connection (after flushing anything sent before this action).
    Close,
    /// The session reached Established.
    Up(Negotiated),
    /// The session left Established.
    Down {
        reason: String,
    },
    /// A message for the layer above (UPDATE, ROUTE-REFRESH) while Established.
    Deliver(Message),
}

/// The state with what only exists in it, so that e.g. "Established without a negotiation"
/// cannot be represented.
#[derive(Clone, Debug)]
enum Phase {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm(Negotiated),
    Established { negotiated: Negotiated, since: Instant },
}

/// What happens after the connection is torn down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restart {
    /// A failure: try again after the next backoff delay.
    Backoff,
    /// Another connection to the same peer carries on: arm nothing, the driver decides.
    Wait,
    /// Administrative stop: stay down until the next `Start`.
    Never,
}

/// One BGP session's state machine. See the module documentation for the contract.
#[derive(Clone, Debug)]
pub struct Fsm {
    config: FsmConfig,
    phase: Phase,
    /// `Start` was given and no `Stop` since: failures restart the session by themselves.
    started: bool,
    backoff: Backoff,
    /// Idle: when to try again. Connect: when to give up on the pending attempt.
    connect_retry_at: Option<Instant>,
    hold_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    /// Established with a non-zero hold time: when the peer will be deemed to read nothing.
    send_hold_at: Option<Instant>,
    last_error: Option<String>,
}

impl Fsm {
    /// A stopped session in Idle. `rng_seed` drives the backoff jitter: give each peer its own.
    pub fn new(config: FsmConfig, rng_seed: u64) -> Fsm {
        Fsm {
            backoff: Backoff::new(config.connect_retry, config.connect_retry_max, rng_seed),
            config,
            phase: Phase::Idle,
            started: false,
            connect_retry_at: None,
            hold_at: None,
            keepalive_at: None,
            send_hold_at: None,
            last_error: None,
        }
    }

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Idle => State::Idle,
            Phase::Connect => State::Connect,
            Phase::Active => State::Active,
            Phase::OpenSent => State::OpenSent,
            Phase::OpenConfirm(_) => State::OpenConfirm,
            Phase::Established { .. } => State::Established,
        }
    }

    /// What the OPENs on the current connection agreed on (OpenConfirm and Established).
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.phase {
            Phase::OpenConfirm(negotiated) | Phase::Established { negotiated, .. } => Some(negotiated),
            _ => None,
        }
    }

    /// The BGP identifier from the OPEN accepted on the current connection.
    pub fn remote_id(&self) -> Option<Ipv4Addr> {
        self.negotiated().map(|negotiated| negotiated.remote_id)
    }

    /// Why the session last went down (or failed to come up); kept until the next failure.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The earliest armed deadline: the driver should call [`Fsm::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.connect_retry_at, self.hold_at, self.keepalive_at, self.send_hold_at].into_iter().flatten().min()
    }

    /// The send hold time in force for the current session (RFC 9687): `None` unless
    /// Established with a non-zero hold time.
    pub fn send_hold_time(&self) -> Option<Duration> {
        match &self.phase {
            Phase::Established { negotiated, .. } => self.send_hold_time_for(negotiated.hold_time),
            _ => None,
        }
    }

    /// A reload changed `send_hold_time`: it applies from now on, to the running session too.
    pub fn set_send_hold_time(&mut self, now: Instant, send_hold_time: Option<Duration>) {
        self.config.send_hold_time = send_hold_time;
        if self.send_hold_at.is_some() {
            self.send_hold_at = self.send_hold_time().and_then(|d| now.checked_add(d));
        }
    }

    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        match event {
            Event::Start => self.on_start(now),
            Event::Stop { message } => self.on_stop(now, &message),
            Event::TcpConnected => self.on_tcp_connected(now),
            Event::TcpFailed => self.on_tcp_failed(now),
            Event::Received(message) => self.on_message(now, message),
            Event::DecodeError(notification) => {
                if !self.state().has_connection() {
                    return Vec::new();
                }
                let reason = format!(
                    "malformed message from peer; sent {}",
                    notification_name(notification.code, notification.subcode)
                );
                self.shut(now, Some(notification), reason, Restart::Backoff)
            }
            Event::CollisionLost => {
                if !self.state().has_connection() {
                    return Vec::new();
                }
                let notification = Notification {
                    code: code::CEASE,
                    subcode: cease_subcode::CONNECTION_COLLISION_RESOLUTION,
                    data: Bytes::new(),
                };
                let reason = "connection collision: the other connection to the peer was kept".to_string();
                self.shut(now, Some(notification), reason, Restart::Wait)
            }
            Event::BfdDown { diagnostic } => {
                if !self.state().has_connection() {
                    return Vec::new();
                }
                let notification =
                    Notification { code: code::CEASE, subcode: cease_subcode::BFD_DOWN, data: Bytes::new() };
                self.shut(now, Some(notification), format!("BFD down: {diagnostic}"), Restart::Backoff)
            }
            Event::SendProgress => {
                self.restart_send_hold_timer(now);
                Vec::new()
            }
        }
    }

    /// Fires every timer due at `now`, each at most once, so a zero-length interval cannot
    /// spin here: it is due again on the next call.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        // Hold first: once the session is dead, a keepalive due at the same instant is moot.
        if is_due(self.hold_at, now) {
            actions.extend(self.on_hold_timer(now));
        }
        if is_due(self.send_hold_at, now) {
            actions.extend(self.on_send_hold_timer(now));
        }
        if is_due(self.keepalive_at, now) {
            self.keepalive_at = self.keepalive_interval().and_then(|k| now.checked_add(k));
            if self.keepalive_at.is_some() {
                actions.push(Action::Send(Message::Keepalive));
            }
        }
        if is_due(self.connect_retry_at, now) {
            actions.extend(self.on_connect_retry_timer(now));
        }
        actions
    }

    fn on_start(&mut self, now: Instant) -> Vec<Action> {
        if self.state() != State::Idle {
            return Vec::new();
        }
        self.started = true;
        self.backoff.reset();
        self.begin(now)
    }

    /// Leaves Idle: connect out, or wait for the router if passive.
    fn begin(&mut self, now: Instant) -> Vec<Action> {
        if self.config.passive {
            self.phase = Phase::Active;
            self.connect_retry_at = None;
            Vec::new()
        } else {
            self.phase = Phase::Connect;
            self.connect_retry_at = now.checked_add(CONNECT_TIMEOUT);
            vec![Action::Connect]
        }
    }

    fn on_stop(&mut self, now: Instant, message: &str) -> Vec<Action> {
        if !self.started && self.state() == State::Idle {
            return Vec::new();
        }
        let data = shutdown_communication(message);
        let notification = Notification { code: code::CEASE, subcode: cease_subcode::ADMINISTRATIVE_SHUTDOWN, data };
        let reason = match notification.shutdown_message() {
            Some(sent) => format!("administrative shutdown: {sent:?}"),
            None => "administrative shutdown".to_string(),
        };
        self.shut(now, Some(notification), reason, Restart::Never)
    }

    fn on_tcp_connected(&mut self, now: Instant) -> Vec<Action> {
        match self.state() {
            State::Connect | State::Active => self.send_open(now),
            State::Idle if self.started => self.send_open(now),
            // Stopped: the driver is holding a socket nobody wants.
            State::Idle => vec![Action::Close],
            State::OpenSent | State::OpenConfirm | State::Established => Vec::new(),
        }
    }

    fn send_open(&mut self, now: Instant) -> Vec<Action> {
        self.phase = Phase::OpenSent;
        self.connect_retry_at = None;
        self.keepalive_at = None;
        self.hold_at = now.checked_add(OPEN_HOLD_TIME);
        vec![Action::Send(Message::Open(self.local_open()))]
    }

    fn on_tcp_failed(&mut self, now: Instant) -> Vec<Action> {
        let reason = match self.state() {
            State::Idle => return Vec::new(),
            State::Connect | State::Active => "TCP connection failed",
            State::OpenSent | State::OpenConfirm | State::Established => "connection closed",
        };
        self.shut(now, None, reason.to_string(), Restart::Backoff)
    }

    fn on_hold_timer(&mut self, now: Instant) -> Vec<Action> {
        if !self.state().has_connection() {
            self.hold_at = None;
            return Vec::new();
        }
        let notification = Notification { code: code::HOLD_TIMER_EXPIRED, subcode: 0, data: Bytes::new() };
        self.shut(now, Some(notification), "hold timer expired".to_string(), Restart::Backoff)
    }

    fn on_send_hold_timer(&mut self, now: Instant) -> Vec<Action> {
        let send_hold_time = self.send_hold_time();
        self.send_hold_at = None;
        let Some(send_hold_time) = send_hold_time else { return Vec::new() };
        let notification = Notification { code: code::SEND_HOLD_TIMER_EXPIRED, subcode: 0, data: Bytes::new() };
        let reason = format!(
            "send hold timer expired: the peer has not read what we sent for {}",
            humantime::format_duration(send_hold_time)
        );
        self.shut(now, Some(notification), reason, Restart::Backoff)
    }

    /// RFC 9687: restarted each time a message goes out, here each time the driver reports that
    /// the socket took data. Only ever moves later: a stale report cannot shorten it.
    fn restart_send_hold_timer(&mut self, now: Instant) {
        let (Some(armed), Some(send_hold_time)) = (self.send_hold_at, self.send_hold_time()) else { return };
        if let Some(at) = now.checked_add(send_hold_time) {
            self.send_hold_at = Some(armed.max(at));
        }
    }

    /// RFC 9687 §4 and §5 for a session that negotiated `hold_time` seconds.
    fn send_hold_time_for(&self, hold_time: u16) -> Option<Duration> {
        if hold_time == 0 {
            return None;
        }
        let hold = Duration::from_secs(hold_time.into());
        Some(match self.config.send_hold_time {
            Some(configured) => configured.max(hold + Duration::from_secs(1)),
            None => MIN_DEFAULT_SEND_HOLD_TIME.max(2 * hold),
        })
    }

    fn on_connect_retry_timer(&mut self, now: Instant) -> Vec<Action> {
        self.connect_retry_at = None;
        match self.state() {
            State::Idle if self.started => self.begin(now),
            State::Connect => {
                self.last_error =
                    Some(format!("no answer to TCP connect within {}s; retrying", CONNECT_TIMEOUT.as_secs()));
                self.begin(now)
            }
            _ => Vec::new(),
        }
    }

    fn on_message(&mut self, now: Instant, message: Message) -> Vec<Action> {
        let state = self.state();
        if !state.has_connection() {
            return Vec::new();
        }
        match (state, message) {
            (_, Message::Notification(notification)) => {
                let reason = received_notification_reason(&notification);
                self.shut(now, None, reason, Restart::Backoff)
            }
            (State::OpenSent, Message::Open(open)) => self.on_open(now, open),
            (State::OpenConfirm, Message::Keepalive) => self.establish(now),
            (State::Established, Message::Keepalive) => {
                self.restart_hold_timer(now);
                Vec::new()
            }
            (State::Established, Message::Update(update)) => {
                self.restart_hold_timer(now);
                vec![Action::Deliver(Message::Update(update))]
            }
            (State::Established, Message::RouteRefresh(refresh)) => {
                self.restart_hold_timer(now);
                let negotiated_family = self.negotiated().is_some_and(|n| n.families.contains(&refresh.family));
                if negotiated_family {
                    vec![Action::Deliver(Message::RouteRefresh(refresh))]
                } else {
                    Vec::new()
                }
            }
            (state, message) => self.unexpected_message(now, state, &message),
        }
    }

    /// RFC 6608: the subcode names the state, the data octet names the message type.
    fn unexpected_message(&mut self, now: Instant, state: State, message: &Message) -> Vec<Action> {
        let subcode = match state {
            State::OpenSent => fsm_subcode::UNEXPECTED_MESSAGE_IN_OPEN_SENT,
            State::OpenConfirm => fsm_subcode::UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM,
            State::Established => fsm_subcode::UNEXPECTED_MESSAGE_IN_ESTABLISHED,
            State::Idle | State::Connect | State::Active => return Vec::new(),
        };
        let notification =
            Notification { code: code::FSM, subcode, data: Bytes::copy_from_slice(&[message_type(message)]) };
        let reason = format!(
            "unexpected {} in {state}; sent {}",
            message_name(message),
            notification_name(notification.code, notification.subcode)
        );
        self.shut(now, Some(notification), reason, Restart::Backoff)
    }

    fn on_open(&mut self, now: Instant, open: Open) -> Vec<Action> {
        if let Err(refusal) = self.check_open(&open) {
            let notification = Notification { code: code::OPEN_MESSAGE, subcode: refusal.subcode, data: refusal.data };
            let reason =
                format!("{}; sent {}", refusal.detail, notification_name(notification.code, notification.subcode));
            return self.shut(now, Some(notification), reason, Restart::Backoff);
        }
        let negotiated = self.negotiate(open);
        let hold = match negotiated.hold_time {
            0 => OPEN_HOLD_TIME,
            seconds => Duration::from_secs(seconds.into()),
        };
        self.hold_at = now.checked_add(hold);
        self.keepalive_at = negotiated.keepalive.and_then(|k| now.checked_add(k));
        self.phase = Phase::OpenConfirm(negotiated);
        vec![Action::Send(Message::Keepalive)]
    }

    /// RFC 4271 §6.2, with RFC 6793 (4-octet AS), RFC 6286 (identifier) and RFC 7607 (AS 0).
    fn check_open(&self, open: &Open) -> Result<(), OpenRefusal> {
        if open.version != BGP_VERSION {
            // The largest version we support below the one bid, else our smallest: always 4.
            return Err(OpenRefusal {
                subcode: open_subcode::UNSUPPORTED_VERSION_NUMBER,
                data: Bytes::copy_from_slice(&u16::from(BGP_VERSION).to_be_bytes()),
                detail: format!("peer speaks BGP version {}", open.version),
            });
        }
        let peer_as = peer_as(open);
        let bad_peer_as = if open.my_as == 0 || peer_as == 0 {
            Some("peer sent AS 0 in its OPEN".to_string())
        } else if peer_as != self.config.remote_as {
            Some(format!("peer AS {peer_as} is not the configured remote AS {}", self.config.remote_as))
        } else {
            None
        };
        if let Some(detail) = bad_peer_as {
            return Err(OpenRefusal { subcode: open_subcode::BAD_PEER_AS, data: Bytes::new(), detail });
        }
        if open.bgp_id.is_unspecified() {
            return Err(OpenRefusal {
                subcode: open_subcode::BAD_BGP_IDENTIFIER,
                data: Bytes::new(),
                detail: "peer BGP identifier is 0.0.0.0".to_string(),
            });
        }
        // RFC 6286 §2.2: identifiers need only be unique within an AS, so a clash matters on
        // iBGP alone.
        if self.is_ibgp() && open.bgp_id == self.config.local_id {
            return Err(OpenRefusal {
                subcode: open_subcode::BAD_BGP_IDENTIFIER,
                data: Bytes::new(),
                detail: format!("iBGP peer uses our own BGP identifier {}", open.bgp_id),
            });
        }
        if open.hold_time == 1 || open.hold_time == 2 {
            return Err(OpenRefusal {
                subcode: open_subcode::UNACCEPTABLE_HOLD_TIME,
                data: Bytes::new(),
                detail: format!("peer hold time {}s is below 3s", open.hold_time),
            });
        }
        Ok(())
    }

    fn negotiate(&self, open: Open) -> Negotiated {
        let hold_time = self.config.hold_time.min(open.hold_time);
        let keepalive = (hold_time > 0).then(|| Duration::from_secs(hold_time.into()) / 3);
        let peer_sent = |wanted: fn(&Capability) -> bool| open.capabilities.iter().any(wanted);
        let mut peer_families: Vec<Family> = open
            .capabilities
            .iter()
            .filter_map(|capability| match capability {
                Capability::Multiprotocol(family) => Some(*family),
                _ => None,
            })
            .collect();
        if peer_families.is_empty() {
            peer_families.push(Family::IPV4_UNICAST);
        }
        let families = self.offered_families().into_iter().filter(|family| peer_families.contains(family)).collect();
        let peer_graceful_restart = open.capabilities.iter().find_map(|capability| match capability {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        });
        Negotiated {
            graceful_restart: self.config.graceful_restart.is_some() && peer_graceful_restart.is_some(),
            peer_graceful_restart,
            remote_as: self.config.remote_as,
            remote_id: open.bgp_id,
            hold_time,
            keepalive,
            // We always send these three, so "both sides" is "the peer did".
            four_octet_as: peer_sent(|c| matches!(c, Capability::FourOctetAs(_))),
            extended_message: peer_sent(|c| matches!(c, Capability::ExtendedMessage)),
            route_refresh: peer_sent(|c| matches!(c, Capability::RouteRefresh)),
            families,
            remote_capabilities: open.capabilities,
        }
    }

    fn establish(&mut self, now: Instant) -> Vec<Action> {
        let Phase::OpenConfirm(negotiated) = &self.phase else {
            return Vec::new();
        };
        let negotiated = negotiated.clone();
        let up = Action::Up(negotiated.clone());
        self.send_hold_at = self.send_hold_time_for(negotiated.hold_time).and_then(|d| now.checked_add(d));
        self.phase = Phase::Established { negotiated, since: now };
        // The restart is over once a session stands: a later one is not part of it.
        if let Some(gr) = &mut self.config.graceful_restart {
            gr.restarting = false;
        }
        // The keepalive timer keeps running from OpenConfirm, where our first KEEPALIVE went.
        self.restart_hold_timer(now);
        vec![up]
    }

    fn restart_hold_timer(&mut self, now: Instant) {
        let hold_time = self.negotiated().map_or(0, |n| n.hold_time);
        self.hold_at = match hold_time {
            0 => None,
            seconds => now.checked_add(Duration::from_secs(seconds.into())),
        };
    }

    fn keepalive_interval(&self) -> Option<Duration> {
        self.negotiated().and_then(|n| n.keepalive)
    }

    /// The one way out of a state: tears the connection down (if any) and leaves the FSM in
    /// Idle. Keeping every exit here is what guarantees exactly one `Close` per connection and
    /// exactly one `Down` per `Up`.
    fn shut(
        &mut self,
        now: Instant,
        notification: Option<Notification>,
        reason: String,
        restart: Restart,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.state().has_connection() {
            if let Some(notification) = notification {
                actions.push(Action::Send(Message::Notification(notification)));
            }
            actions.push(Action::Close);
        }
        if let Phase::Established { negotiated, since } = std::mem::replace(&mut self.phase, Phase::Idle) {
            let stable_after = STABLE_SESSION.max(Duration::from_secs(negotiated.hold_time.into()));
            if now.saturating_duration_since(since) >= stable_after {
                self.backoff.reset();
            }
            actions.push(Action::Down { reason: reason.clone() });
        }
        self.hold_at = None;
        self.keepalive_at = None;
        self.send_hold_at = None;
        self.connect_retry_at = None;
        match restart {
            Restart::Backoff if self.started => {
                // Overflowing the clock means a delay of centuries: never retrying is the same.
                self.connect_retry_at = now.checked_add(self.backoff.next_delay());
            }
            Restart::Backoff | Restart::Wait => {}
            Restart::Never => self.started = false,
        }
        self.last_error = Some(reason);
        actions
    }

    fn local_open(&self) -> Open {
        let mut capabilities: Vec<Capability> =
            dedup(&self.config.families).into_iter().map(Capability::Multiprotocol).collect();
        capabilities.extend([Capability::RouteRefresh, Capability::ExtendedMessage]);
        if let Some(gr) = self.config.graceful_restart {
            capabilities.push(Capability::GracefulRestart(GracefulRestartCap {
                flags: if gr.restarting { GracefulRestartCap::RESTART_STATE } else { 0 },
                restart_time: gr.restart_time.min(GracefulRestartCap::MAX_RESTART_TIME),
                families: self
                    .offered_families()
                    .into_iter()
                    .map(|family| GracefulRestartFamily { family, flags: GracefulRestartFamily::FORWARDING_STATE })
                    .collect(),
            }));
        }
        capabilities.push(Capability::FourOctetAs(self.config.local_as));
        Open {
            version: BGP_VERSION,
            my_as: u16::try_from(self.config.local_as).unwrap_or(AS_TRANS),
            hold_time: self.config.hold_time,
            bgp_id: self.config.local_id,
            capabilities,
        }
    }

    /// The families our OPEN offers, implicit IPv4 unicast included.
    fn offered_families(&self) -> Vec<Family> {
        if self.config.families.is_empty() {
            vec![Family::IPV4_UNICAST]
        } else {
            dedup(&self.config.families)
        }
    }

    fn is_ibgp(&self) -> bool {
        self.config.local_as == self.config.remote_as
    }
}

/// RFC 4271 §6.8: whether the connection *we* initiated survives a collision, given both
/// identifiers. The speaker with the higher identifier keeps the connection it initiated;
/// identifiers compare as unsigned 32-bit integers in host order.
///
/// Equal identifiers (legal on eBGP since RFC 6286) make both sides drop the same connection
/// under this rule, so callers that may see them use [`collision_keeps_local_with_as`].
pub fn collision_keeps_local(local_id: Ipv4Addr, remote_id: Ipv4Addr) -> bool {
    u32::from(local_id) > u32::from(remote_id)
}

/// [`collision_keeps_local`] with the RFC 6286 §2.3 tie-break: on equal identifiers the
/// speaker with the larger AS number keeps the connection it initiated.
pub fn collision_keeps_local_with_as(local_id: Ipv4Addr, local_as: u32, remote_id: Ipv4Addr, remote_as: u32) -> bool {
    if local_id == remote_id {
        local_as > remote_as
    } else {
        collision_keeps_local(local_id, remote_id)
    }
}

/// Why an OPEN was refused.
struct OpenRefusal {
    subcode: u8,
    data: Bytes,
    detail: String,
}

fn is_due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|deadline| deadline <= now)
}

/// RFC 6793 §4.1: a peer that sent the 4-octet AS capability is identified by it; the 2-octet
/// field then usually holds AS_TRANS.
fn peer_as(open: &Open) -> u32 {
    open.capabilities
        .iter()
        .find_map(|capability| match capability {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
        .unwrap_or(u32::from(open.my_as))
}

fn dedup(families: &[Family]) -> Vec<Family> {
    let mut unique = Vec::with_capacity(families.len());
    for family in families {
        if !unique.contains(family) {
            unique.push(*family);
        }
    }
    unique
}

/// RFC 8203/9003 shutdown communication (built by the notification module). An empty message
/// sends no data at all, which every speaker, including those that predate RFC 8203, reads as a
/// plain Administrative Shutdown.
fn shutdown_communication(message: &str) -> Bytes {
    if message.is_empty() {
        return Bytes::new();
    }
    Notification::cease_shutdown(message).data
}

/// A NOTIFICATION from the peer as an operator wants to read it. The shutdown communication is
/// peer-supplied text: it is quoted and escaped (`{:?}`) so that it cannot forge log lines.
fn received_notification_reason(notification: &Notification) -> String {
    let name = notification_name(notification.code, notification.subcode);
    if let Some(text) = notification.shutdown_message() {
        return format!("peer sent {name}: {text:?}");
    }
    if notification.data.is_empty() {
        return format!("peer sent {name}");
    }
    let shown = &notification.data[..notification.data.len().min(MAX_DATA_SHOWN)];
    let mut hex: String = shown.iter().map(|octet| format!("{octet:02x}")).collect();
    if notification.data.len() > MAX_DATA_SHOWN {
        hex.push_str("...");
    }
    format!("peer sent {name} (data {hex})")
}

/// "Code name/Subcode name" as the RFCs spell them (the notification module's tables), with
/// numbers for anything unassigned; subcode 0 is left out, as operators read "Cease".
fn notification_name(code: u8, subcode: u8) -> String {
    let notification = Notification::new(code, subcode, Bytes::new());
    match (notification.code_name(), notification.subcode_name()) {
        (None, _) => format!("error code {code}/subcode {subcode}"),
        (Some(name), _) if subcode == 0 => name.to_string(),
        (Some(name), Some(sub)) => format!("{name}/{sub}"),
        (Some(name), None) => format!("{name}/subcode {subcode}"),
    }
}

/// The message type octet of the BGP header (RFC 4271 §4.1, RFC 2918 §3).
fn message_type(message: &Message) -> u8 {
    match message {
        Message::Open(_) => 1,
        Message::Update(_) => 2,
        Message::Notification(_) => 3,
        Message::Keepalive => 4,
        Message::RouteRefresh(_) => 5,
    }
}

fn message_name(message: &Message) -> &'static str {
    match message {
        Message::Open(_) => "OPEN",
        Message::Update(_) => "UPDATE",
        Message::Notification(_) => "NOTIFICATION",
        Message::Keepalive => "KEEPALIVE",
        Message::RouteRefresh(_) => "ROUTE-REFRESH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::backoff::SplitMix64;
    use crate::bgp::message::{RouteRefresh, Update};

    const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const SECOND: Duration = Duration::from_secs(1);

    fn config() -> FsmConfig {
        FsmConfig {
            local_as: 65010,
            remote_as: 65000,
            local_id: LOCAL_ID,
            hold_time: 90,
            passive: false,
            connect_retry: 5 * SECOND,
            connect_retry_max: 60 * SECOND,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            send_hold_time: None,
            graceful_restart: None,
        }
    }

    fn ibgp_config() -> FsmConfig {
        FsmConfig { remote_as: 65010, ..config() }
    }

    fn peer_open() -> Open {
        Open {
            version: 4,
            my_as: 65000,
            hold_time: 90,
            bgp_id: PEER_ID,
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::ExtendedMessage,
                Capability::FourOctetAs(65000),
            ],
        }
    }

    fn open_sent(config: FsmConfig) -> (Fsm, Instant) {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config, 1);
        fsm.handle(t0, Event::Start);
        fsm.handle(t0, Event::TcpConnected);
        assert_eq!(fsm.state(), State::OpenSent);
        (fsm, t0)
    }

    fn open_confirm(config: FsmConfig, open: Open) -> (Fsm, Instant) {
        let (mut fsm, t0) = open_sent(config);
        let actions = fsm.handle(t0, Event::Received(Message::Open(open)));
        assert_eq!(actions, vec![Action::Send(Message::Keepalive)]);
        assert_eq!(fsm.state(), State::OpenConfirm);
        (fsm, t0)
    }

    fn established(config: FsmConfig, open: Open) -> (Fsm, Instant) {
        let (mut fsm, t0) = open_confirm(config, open);
        let actions = fsm.handle(t0, Event::Received(Message::Keepalive));
        assert!(matches!(actions.as_slice(), [Action::Up(_)]), "{actions:?}");
        assert_eq!(fsm.state(), State::Established);
        (fsm, t0)
    }

    fn received(message: Message) -> Event {
        Event::Received(message)
    }

    fn notification(code: u8, subcode: u8, data: &[u8]) -> Notification {
        Notification { code, subcode, data: Bytes::copy_from_slice(data) }
    }

    fn sent_notification(actions: &[Action]) -> Option<&Notification> {
        actions.iter().find_map(|action| match action {
            Action::Send(Message::Notification(n)) => Some(n),
            _ => None,
        })
    }

    /// The FSM answered with exactly this NOTIFICATION, then Close, and went Idle.
    fn assert_refused(fsm: &Fsm, actions: &[Action], expected: Notification) {
        assert_eq!(actions, [Action::Send(Message::Notification(expected)), Action::Close]);
        assert_eq!(fsm.state(), State::Idle);
        assert!(fsm.negotiated().is_none());
    }

    fn assert_jittered(delay: Duration, nominal: Duration) {
        let (delay_ns, nominal_ns) = (delay.as_nanos(), nominal.as_nanos());
        assert!(
            delay_ns >= nominal_ns - nominal_ns / 4 && delay_ns <= nominal_ns,
            "{delay:?} not within 0.75..=1.0 of {nominal:?}"
        );
    }

    /// The FSM is Idle waiting to retry about `nominal` after `now`.
    fn assert_retry_after(fsm: &Fsm, now: Instant, nominal: Duration) {
        assert_eq!(fsm.state(), State::Idle);
        let at = fsm.poll_timeout().expect("a retry is armed");
        assert_jittered(at - now, nominal);
    }

    fn downs(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Down { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }

    // ---- Start ----

    #[test]
    fn start_on_active_peer_connects_at_once() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        assert_eq!(fsm.state(), State::Idle);
        assert_eq!(fsm.poll_timeout(), None);
        assert_eq!(fsm.handle(t0, Event::Start), vec![Action::Connect]);
        assert_eq!(fsm.state(), State::Connect);
        assert_eq!(fsm.poll_timeout(), Some(t0 + CONNECT_TIMEOUT));
    }

    #[test]
    fn start_on_passive_peer_waits_in_active_without_connecting() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(FsmConfig { passive: true, ..config() }, 1);
        assert_eq!(fsm.handle(t0, Event::Start), vec![]);
        assert_eq!(fsm.state(), State::Active);
        assert_eq!(fsm.poll_timeout(), None);

        let actions = fsm.handle(t0, Event::TcpConnected);
        assert!(matches!(actions.as_slice(), [Action::Send(Message::Open(_))]));
        assert_eq!(fsm.state(), State::OpenSent);
    }

    #[test]
    fn start_is_ignored_once_running() {
        let (mut fsm, t0) = open_sent(config());
        assert_eq!(fsm.handle(t0, Event::Start), vec![]);
        assert_eq!(fsm.state(), State::OpenSent);
        let (mut fsm, t0) = established(config(), peer_open());
        assert_eq!(fsm.handle(t0, Event::Start), vec![]);
        assert_eq!(fsm.state(), State::Established);
    }

    #[test]
    fn connect_attempt_is_abandoned_and_retried_after_the_connect_timeout() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        fsm.handle(t0, Event::Start);
        assert_eq!(fsm.handle_timeout(t0 + CONNECT_TIMEOUT - SECOND), vec![]);
        let t1 = t0 + CONNECT_TIMEOUT;
        assert_eq!(fsm.handle_timeout(t1), vec![Action::Connect]);
        assert_eq!(fsm.state(), State::Connect);
        assert_eq!(fsm.poll_timeout(), Some(t1 + CONNECT_TIMEOUT));
        assert!(fsm.last_error().is_some_and(|e| e.contains("TCP connect")));
    }

    // ---- TcpConnected: our OPEN ----

    #[test]
    fn tcp_connected_sends_open_with_our_capabilities() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        fsm.handle(t0, Event::Start);
        let actions = fsm.handle(t0, Event::TcpConnected);
        let expected = Open {
            version: 4,
            my_as: 65010,
            hold_time: 90,
            bgp_id: LOCAL_ID,
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::ExtendedMessage,
                Capability::FourOctetAs(65010),
            ],
        };
        assert_eq!(actions, vec![Action::Send(Message::Open(expected))]);
        assert_eq!(fsm.state(), State::OpenSent);
        // The connect timeout is gone; only the 4-minute OpenSent hold timer is left.
        assert_eq!(fsm.poll_timeout(), Some(t0 + Duration::from_secs(240)));
    }

    fn gr_config(restarting: bool) -> FsmConfig {
        FsmConfig { graceful_restart: Some(GracefulRestartConfig { restart_time: 30, restarting }), ..config() }
    }

    /// The Graceful Restart capability of the OPEN in `actions`, if any.
    fn sent_graceful_restart(actions: &[Action]) -> Option<GracefulRestartCap> {
        let open = actions.iter().find_map(|a| match a {
            Action::Send(Message::Open(open)) => Some(open),
            _ => None,
        });
        open.expect("an OPEN").capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        })
    }

    #[test]
    fn graceful_restart_capability_sets_forwarding_state_for_every_family() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(gr_config(false), 1);
        fsm.handle(t0, Event::Start);
        let actions = fsm.handle(t0, Event::TcpConnected);
        let forwarding = |family| GracefulRestartFamily { family, flags: GracefulRestartFamily::FORWARDING_STATE };
        let expected = GracefulRestartCap {
            flags: 0,
            restart_time: 30,
            families: vec![forwarding(Family::IPV4_UNICAST), forwarding(Family::IPV6_UNICAST)],
        };
        assert_eq!(sent_graceful_restart(&actions), Some(expected.clone()));
        let Some(Action::Send(Message::Open(open))) = actions.first() else { panic!("{actions:?}") };
        assert_eq!(
            open.capabilities[2..],
            [
                Capability::RouteRefresh,
                Capability::ExtendedMessage,
                Capability::GracefulRestart(expected),
                Capability::FourOctetAs(65010)
            ]
        );
        // Not configured: not sent.
        let mut fsm = Fsm::new(config(), 1);
        fsm.handle(t0, Event::Start);
        assert_eq!(sent_graceful_restart(&fsm.handle(t0, Event::TcpConnected)), None);
    }

    #[test]
    fn restart_state_is_sent_until_a_session_is_established() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(gr_config(true), 1);
        fsm.handle(t0, Event::Start);
        let first = sent_graceful_restart(&fsm.handle(t0, Event::TcpConnected)).unwrap();
        assert!(first.restart_state());
        assert_eq!(first.flags, GracefulRestartCap::RESTART_STATE);
        // A session that fails before Established does not end the restart.
        fsm.handle(t0, Event::TcpFailed);
        let retry = fsm.poll_timeout().unwrap();
        fsm.handle_timeout(retry);
        assert!(sent_graceful_restart(&fsm.handle(retry, Event::TcpConnected)).unwrap().restart_state());
        fsm.handle(retry, received(Message::Open(peer_open())));
        fsm.handle(retry, received(Message::Keepalive));
        assert_eq!(fsm.state(), State::Established);
        // The next session after Established is not a restart of rhi.
        fsm.handle(retry, Event::TcpFailed);
        let again = fsm.poll_timeout().unwrap();
        fsm.handle_timeout(again);
        let later = sent_graceful_restart(&fsm.handle(again, Event::TcpConnected)).unwrap();
        assert!(!later.restart_state());
        assert!(later.forwarding(Family::IPV4_UNICAST) && later.forwarding(Family::IPV6_UNICAST));
    }

    #[test]
    fn negotiated_records_the_peers_graceful_restart() {
        let bird = GracefulRestartCap {
            flags: GracefulRestartCap::RESTART_STATE,
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                flags: GracefulRestartFamily::FORWARDING_STATE,
            }],
        };
        let mut open = peer_open();
        open.capabilities.push(Capability::GracefulRestart(bird.clone()));
        // Both sides: negotiated, with the peer's details.
        let (fsm, _) = established(gr_config(false), open.clone());
        let negotiated = fsm.negotiated().unwrap();
        assert!(negotiated.graceful_restart);
        assert_eq!(negotiated.peer_graceful_restart, Some(bird.clone()));
        // The peer alone: recorded, not negotiated.
        let (fsm, _) = established(config(), open);
        let negotiated = fsm.negotiated().unwrap();
        assert!(!negotiated.graceful_restart);
        assert_eq!(negotiated.peer_graceful_restart, Some(bird));
        // rhi alone: not negotiated.
        let (fsm, _) = established(gr_config(false), peer_open());
        let negotiated = fsm.negotiated().unwrap();
        assert!(!negotiated.graceful_restart);
        assert_eq!(negotiated.peer_graceful_restart, None);
    }

    #[test]
    fn stop_with_graceful_restart_is_still_an_administrative_shutdown() {
        // A deliberate stop is not a restart: Cease goes out, which ends graceful restart at the
        // router (RFC 4724 §4.2; rhi does not send RFC 8538's N bit).
        let mut open = peer_open();
        open.capabilities.push(Capability::GracefulRestart(GracefulRestartCap {
            flags: 0,
            restart_time: 120,
            families: vec![],
        }));
        let (mut fsm, t0) = established(gr_config(false), open);
        let actions = fsm.handle(t0, Event::Stop { message: String::new() });
        let notification = sent_notification(&actions).expect("a NOTIFICATION");
        assert_eq!((notification.code, notification.subcode), (code::CEASE, cease_subcode::ADMINISTRATIVE_SHUTDOWN));
        assert!(actions.contains(&Action::Close));
    }

    #[test]
    fn open_carries_as_trans_when_local_as_needs_four_octets() {
        let t0 = Instant::now();
        let mut fsm =
            Fsm::new(FsmConfig { local_as: 4_200_000_000, families: vec![Family::IPV4_UNICAST], ..config() }, 1);
        fsm.handle(t0, Event::Start);
        let actions = fsm.handle(t0, Event::TcpConnected);
        let [Action::Send(Message::Open(open))] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(open.my_as, 23456);
        assert_eq!(
            open.capabilities,
            vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::RouteRefresh,
                Capability::ExtendedMessage,
                Capability::FourOctetAs(4_200_000_000),
            ]
        );
    }

    #[test]
    fn inbound_connection_is_taken_while_waiting_out_a_backoff() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        fsm.handle(t0, Event::Start);
        fsm.handle(t0, Event::TcpFailed);
        assert_eq!(fsm.state(), State::Idle);
        let actions = fsm.handle(t0 + SECOND, Event::TcpConnected);
        assert!(matches!(actions.as_slice(), [Action::Send(Message::Open(_))]));
        assert_eq!(fsm.state(), State::OpenSent);
        // The retry timer no longer matters: only the OpenSent hold timer is armed.
        assert_eq!(fsm.poll_timeout(), Some(t0 + SECOND + OPEN_HOLD_TIME));
    }

    #[test]
    fn inbound_connection_is_refused_when_stopped() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        assert_eq!(fsm.handle(t0, Event::TcpConnected), vec![Action::Close]);
        assert_eq!(fsm.state(), State::Idle);
    }

    #[test]
    fn second_connection_while_one_is_held_is_left_to_the_driver() {
        let (mut fsm, t0) = open_confirm(config(), peer_open());
        assert_eq!(fsm.handle(t0, Event::TcpConnected), vec![]);
        assert_eq!(fsm.state(), State::OpenConfirm);
    }

    // ---- OPEN validation ----

    #[test]
    fn open_with_bad_version_is_refused_naming_version_4() {
        let (mut fsm, t0) = open_sent(config());
        let actions = fsm.handle(t0, received(Message::Open(Open { version: 3, ..peer_open() })));
        assert_refused(&fsm, &actions, notification(2, 1, &[0, 4]));
        assert_retry_after(&fsm, t0, 5 * SECOND);
        assert!(fsm.last_error().unwrap().contains("version 3"));
    }

    #[test]
    fn open_from_the_wrong_as_is_refused() {
        let wrong_four_octet = Open { capabilities: vec![Capability::FourOctetAs(65001)], ..peer_open() };
        let wrong_two_octet = Open { my_as: 65001, capabilities: vec![], ..peer_open() };
        for open in [wrong_four_octet, wrong_two_octet] {
            let (mut fsm, t0) = open_sent(config());
            let actions = fsm.handle(t0, received(Message::Open(open)));
            assert_refused(&fsm, &actions, notification(2, 2, &[]));
            assert!(fsm.last_error().unwrap().contains("65001"));
        }
    }

    #[test]
    fn four_octet_peer_as_comes_from_the_capability() {
        let config = FsmConfig { remote_as: 4_200_000_000, ..config() };
        let open = Open { my_as: AS_TRANS, capabilities: vec![Capability::FourOctetAs(4_200_000_000)], ..peer_open() };
        let (fsm, _) = open_confirm(config.clone(), open);
        assert_eq!(fsm.negotiated().unwrap().remote_as, 4_200_000_000);

        // Without the capability, all we learn is AS_TRANS, which is not the configured AS.
        let (mut fsm, t0) = open_sent(config);
        let open = Open { my_as: AS_TRANS, capabilities: vec![], ..peer_open() };
        let actions = fsm.handle(t0, received(Message::Open(open)));
        assert_refused(&fsm, &actions, notification(2, 2, &[]));
    }

    #[test]
    fn open_with_as_zero_is_refused() {
        // RFC 7607, even when the capability names the right AS.
        let (mut fsm, t0) = open_sent(config());
        let open = Open { my_as: 0, ..peer_open() };
        let actions = fsm.handle(t0, received(Message::Open(open)));
        assert_refused(&fsm, &actions, notification(2, 2, &[]));
        assert!(fsm.last_error().unwrap().contains("AS 0"));
    }

    #[test]
    fn open_with_zero_bgp_identifier_is_refused() {
        let (mut fsm, t0) = open_sent(config());
        let open = Open { bgp_id: Ipv4Addr::UNSPECIFIED, ..peer_open() };
        let actions = fsm.handle(t0, received(Message::Open(open)));
        assert_refused(&fsm, &actions, notification(2, 3, &[]));
    }

    #[test]
    fn our_own_bgp_identifier_is_refused_on_ibgp_only() {
        let ibgp_open =
            Open { my_as: 65010, bgp_id: LOCAL_ID, capabilities: vec![Capability::FourOctetAs(65010)], ..peer_open() };
        let (mut fsm, t0) = open_sent(ibgp_config());
        let actions = fsm.handle(t0, received(Message::Open(ibgp_open)));
        assert_refused(&fsm, &actions, notification(2, 3, &[]));

        // RFC 6286: eBGP identifiers need not differ.
        let ebgp_open = Open { bgp_id: LOCAL_ID, ..peer_open() };
        let (fsm, _) = open_confirm(config(), ebgp_open);
        assert_eq!(fsm.remote_id(), Some(LOCAL_ID));
    }

    #[test]
    fn hold_time_of_one_or_two_seconds_is_refused() {
        for hold_time in [1, 2] {
            let (mut fsm, t0) = open_sent(config());
            let open = Open { hold_time, ..peer_open() };
            let actions = fsm.handle(t0, received(Message::Open(open)));
            assert_refused(&fsm, &actions, notification(2, 6, &[]));
        }
    }

    #[test]
    fn hold_time_zero_is_accepted_and_disables_keepalives() {
        let open = Open { hold_time: 0, ..peer_open() };
        let (mut fsm, t0) = open_confirm(config(), open.clone());
        let negotiated = fsm.negotiated().unwrap();
        assert_eq!(negotiated.hold_time, 0);
        assert_eq!(negotiated.keepalive, None);
        // Only the guard against a peer that never confirms is armed in OpenConfirm.
        assert_eq!(fsm.poll_timeout(), Some(t0 + OPEN_HOLD_TIME));

        fsm.handle(t0, received(Message::Keepalive));
        assert_eq!(fsm.state(), State::Established);
        assert_eq!(fsm.poll_timeout(), None);
        let much_later = t0 + Duration::from_secs(3600);
        assert_eq!(fsm.handle_timeout(much_later), vec![]);
        assert_eq!(fsm.state(), State::Established);
    }

    #[test]
    fn open_confirm_is_abandoned_if_the_peer_never_confirms() {
        let (mut fsm, t0) = open_confirm(config(), peer_open());
        // Our keepalives go out meanwhile...
        assert_eq!(fsm.handle_timeout(t0 + 30 * SECOND), vec![Action::Send(Message::Keepalive)]);
        // ...until the negotiated hold time runs out.
        let actions = fsm.handle_timeout(t0 + 90 * SECOND);
        assert_refused(&fsm, &actions, notification(4, 0, &[]));
    }

    #[test]
    fn open_sent_hold_timer_expires_after_four_minutes() {
        let (mut fsm, t0) = open_sent(config());
        assert_eq!(fsm.handle_timeout(t0 + 239 * SECOND), vec![]);
        let t1 = t0 + 240 * SECOND;
        let actions = fsm.handle_timeout(t1);
        assert_refused(&fsm, &actions, notification(4, 0, &[]));
        assert_retry_after(&fsm, t1, 5 * SECOND);
        assert_eq!(fsm.last_error(), Some("hold timer expired"));
    }

    // ---- Negotiation ----

    #[test]
    fn hold_time_is_the_smaller_one_and_keepalive_a_third_of_it() {
        let config = FsmConfig { hold_time: 30, ..config() };
        let (fsm, t0) = open_confirm(config.clone(), peer_open());
        let negotiated = fsm.negotiated().unwrap();
        assert_eq!(negotiated.hold_time, 30);
        assert_eq!(negotiated.keepalive, Some(10 * SECOND));
        assert_eq!(fsm.poll_timeout(), Some(t0 + 10 * SECOND));

        let open = Open { hold_time: 10, ..peer_open() };
        let (fsm, _) = open_confirm(config, open);
        let negotiated = fsm.negotiated().unwrap();
        assert_eq!(negotiated.hold_time, 10);
        assert_eq!(negotiated.keepalive, Some(Duration::from_secs(10) / 3));
    }

    #[test]
    fn capabilities_count_only_when_both_sides_sent_them() {
        let (fsm, _) = open_confirm(config(), peer_open());
        let negotiated = fsm.negotiated().unwrap();
        assert!(negotiated.four_octet_as);
        assert!(negotiated.extended_message);
        assert!(negotiated.route_refresh);
        assert_eq!(negotiated.families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
        assert_eq!(negotiated.remote_capabilities, peer_open().capabilities);

        let unknown = Capability::Unknown { code: 73, value: Bytes::from_static(b"router") };
        let sparse = Open {
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::Multiprotocol(Family { afi: 1, safi: 4 }),
                unknown.clone(),
            ],
            ..peer_open()
        };
        let (fsm, _) = open_confirm(config(), sparse);
        let negotiated = fsm.negotiated().unwrap();
        assert!(!negotiated.four_octet_as);
        assert!(!negotiated.extended_message);
        assert!(!negotiated.route_refresh);
        assert_eq!(negotiated.families, vec![Family::IPV6_UNICAST]);
        assert!(negotiated.remote_capabilities.contains(&unknown));
    }

    #[test]
    fn a_peer_without_multiprotocol_speaks_ipv4_unicast_only() {
        let legacy = Open { capabilities: vec![Capability::FourOctetAs(65000)], ..peer_open() };
        let (fsm, _) = open_confirm(config(), legacy.clone());
        assert_eq!(fsm.negotiated().unwrap().families, vec![Family::IPV4_UNICAST]);

        // Neither side sends Multiprotocol: both imply IPv4 unicast.
        let config = FsmConfig { families: vec![], ..config() };
        let (fsm, _) = open_confirm(config, legacy);
        assert_eq!(fsm.negotiated().unwrap().families, vec![Family::IPV4_UNICAST]);
    }

    #[test]
    fn no_common_family_still_comes_up_with_none() {
        let config = FsmConfig { families: vec![Family::IPV6_UNICAST], ..config() };
        let legacy = Open { capabilities: vec![], ..peer_open() };
        let (fsm, _) = established(config, legacy);
        assert_eq!(fsm.negotiated().unwrap().families, vec![]);
    }

    // ---- Established ----

    #[test]
    fn keepalive_in_open_confirm_brings_the_session_up() {
        let (mut fsm, t0) = open_confirm(config(), peer_open());
        let expected = fsm.negotiated().unwrap().clone();
        let t1 = t0 + SECOND;
        let actions = fsm.handle(t1, received(Message::Keepalive));
        assert_eq!(actions, vec![Action::Up(expected.clone())]);
        assert_eq!(fsm.state(), State::Established);
        assert_eq!(fsm.negotiated(), Some(&expected));
        assert_eq!(fsm.remote_id(), Some(PEER_ID));
        assert_eq!(expected.remote_as, 65000);
        // Keepalive still counts from OpenConfirm; hold counts from the peer's KEEPALIVE.
        assert_eq!(fsm.poll_timeout(), Some(t0 + 30 * SECOND));
        assert_eq!(fsm.hold_at, Some(t1 + 90 * SECOND));
    }

    #[test]
    fn keepalive_timer_sends_keepalive_every_third_of_the_hold_time() {
        let config = FsmConfig { hold_time: 9, ..config() };
        let (mut fsm, t0) = established(config, peer_open());
        assert_eq!(fsm.poll_timeout(), Some(t0 + 3 * SECOND));
        assert_eq!(fsm.handle_timeout(t0 + 2 * SECOND), vec![]);
        for tick in 1..=5 {
            let now = t0 + tick * 3 * SECOND;
            // Keep the session alive from the peer's side.
            fsm.handle(now, received(Message::Keepalive));
            assert_eq!(fsm.handle_timeout(now), vec![Action::Send(Message::Keepalive)]);
            assert_eq!(fsm.poll_timeout(), Some(now + 3 * SECOND));
        }
        assert_eq!(fsm.state(), State::Established);
    }

    #[test]
    fn late_timer_wakeup_does_not_burst_keepalives() {
        let config = FsmConfig { hold_time: 9, ..config() };
        let (mut fsm, t0) = established(config, peer_open());
        fsm.handle(t0 + 7 * SECOND, received(Message::Keepalive));
        let late = t0 + 8 * SECOND;
        assert_eq!(fsm.handle_timeout(late), vec![Action::Send(Message::Keepalive)]);
        assert_eq!(fsm.poll_timeout(), Some(late + 3 * SECOND));
    }

    #[test]
    fn bfd_down_sends_cease_10_closes_goes_down_and_retries() {
        let (mut fsm, t0) = established(config(), peer_open());
        let t1 = t0 + SECOND;
        let actions = fsm.handle(t1, Event::BfdDown { diagnostic: "Control Detection Time Expired".into() });
        assert_eq!(
            actions,
            vec![
                Action::Send(Message::Notification(notification(6, 10, &[]))),
                Action::Close,
                Action::Down { reason: "BFD down: Control Detection Time Expired".to_string() },
            ]
        );
        assert_eq!(fsm.state(), State::Idle);
        assert!(fsm.poll_timeout().is_some(), "reconnects after a backoff");
    }

    #[test]
    fn bfd_down_without_a_connection_changes_nothing() {
        let mut fsm = Fsm::new(config(), 1);
        let t0 = Instant::now();
        fsm.handle(t0, Event::Start);
        assert_eq!(fsm.handle(t0, Event::BfdDown { diagnostic: "x".into() }), vec![]);
        assert_eq!(fsm.state(), State::Connect);
        let (mut fsm, t0) = open_sent(config());
        let actions = fsm.handle(t0, Event::BfdDown { diagnostic: "x".into() });
        assert_eq!(actions, vec![Action::Send(Message::Notification(notification(6, 10, &[]))), Action::Close]);
    }

    #[test]
    fn hold_timer_expiry_sends_4_0_closes_goes_down_and_retries() {
        let (mut fsm, t0) = established(config(), peer_open());
        let t1 = t0 + 90 * SECOND;
        let actions = fsm.handle_timeout(t1);
        assert_eq!(
            actions,
            vec![
                Action::Send(Message::Notification(notification(4, 0, &[]))),
                Action::Close,
                Action::Down { reason: "hold timer expired".to_string() },
            ]
        );
        assert_eq!(fsm.last_error(), Some("hold timer expired"));
        assert_eq!(fsm.negotiated(), None);
        assert_eq!(fsm.remote_id(), None);
        // 90 s of Established is a healthy session: the backoff starts from the beginning.
        assert_retry_after(&fsm, t1, 5 * SECOND);
        let retry = fsm.poll_timeout().unwrap();
        assert_eq!(fsm.handle_timeout(retry), vec![Action::Connect]);
        assert_eq!(fsm.state(), State::Connect);
    }

    // ---- Send hold timer (RFC 9687) ----

    /// Established with hold time `hold` (both sides offer it) and this `send_hold_time`.
    fn established_with(hold: u16, send_hold_time: Option<Duration>) -> (Fsm, Instant) {
        let config = FsmConfig { hold_time: hold, send_hold_time, ..config() };
        established(config, Open { hold_time: hold, ..peer_open() })
    }

    #[test]
    fn send_hold_timer_expiry_sends_8_0_closes_goes_down_and_retries() {
        // The peer keeps its KEEPALIVEs coming (our hold timer never fires), but reads nothing.
        let (mut fsm, t0) = established_with(3, Some(5 * SECOND));
        assert_eq!(fsm.send_hold_time(), Some(5 * SECOND));
        let mut now = t0;
        while now < t0 + 4 * SECOND {
            now += SECOND;
            fsm.handle(now, received(Message::Keepalive));
            fsm.handle_timeout(now);
            assert_eq!(fsm.state(), State::Established);
        }
        let t1 = t0 + 5 * SECOND;
        let actions = fsm.handle_timeout(t1);
        let reason = "send hold timer expired: the peer has not read what we sent for 5s";
        assert_eq!(
            actions,
            vec![
                Action::Send(Message::Notification(notification(8, 0, &[]))),
                Action::Close,
                Action::Down { reason: reason.to_string() },
            ]
        );
        assert_eq!(fsm.last_error(), Some(reason));
        assert_eq!(fsm.send_hold_time(), None);
        // A failure like any other: the retry waits out the backoff.
        assert_retry_after(&fsm, t1, 5 * SECOND);
    }

    #[test]
    fn send_progress_restarts_the_send_hold_timer() {
        let (mut fsm, t0) = established_with(3, Some(5 * SECOND));
        assert_eq!(fsm.send_hold_at, Some(t0 + 5 * SECOND));
        let t1 = t0 + 4 * SECOND;
        assert_eq!(fsm.handle(t1, Event::SendProgress), vec![]);
        assert_eq!(fsm.send_hold_at, Some(t1 + 5 * SECOND));
        // The old deadline passes harmlessly (only keepalives and the hold timer are due).
        fsm.handle(t0 + 5 * SECOND, received(Message::Keepalive));
        let actions = fsm.handle_timeout(t0 + 5 * SECOND);
        assert!(actions.iter().all(|a| *a == Action::Send(Message::Keepalive)), "{actions:?}");
        assert_eq!(fsm.state(), State::Established);
        // A stale report (an instant before the last one) does not pull the deadline in.
        fsm.handle(t0 + SECOND, Event::SendProgress);
        assert_eq!(fsm.send_hold_at, Some(t1 + 5 * SECOND));
        // Without further progress it fires at the restarted deadline.
        fsm.handle(t1 + 4 * SECOND, received(Message::Keepalive));
        let actions = fsm.handle_timeout(t1 + 5 * SECOND);
        assert_eq!(sent_notification(&actions), Some(&notification(8, 0, &[])));
        assert_eq!(fsm.state(), State::Idle);
    }

    #[test]
    fn send_hold_timer_is_not_armed_before_established() {
        let config = FsmConfig { hold_time: 3, send_hold_time: Some(5 * SECOND), ..config() };
        let open = Open { hold_time: 3, ..peer_open() };
        let (mut fsm, t0) = open_sent(config.clone());
        assert_eq!(fsm.send_hold_at, None);
        fsm.handle(t0, Event::SendProgress);
        assert_eq!(fsm.send_hold_at, None);
        let (mut fsm, t0) = open_confirm(config, open);
        fsm.handle(t0, Event::SendProgress);
        assert_eq!((fsm.send_hold_at, fsm.send_hold_time()), (None, None));
        // Established arms it; leaving Established disarms it.
        let t1 = t0 + SECOND;
        fsm.handle(t1, received(Message::Keepalive));
        assert_eq!(fsm.send_hold_at, Some(t1 + 5 * SECOND));
        fsm.handle(t1, Event::TcpFailed);
        assert_eq!(fsm.send_hold_at, None);
        fsm.handle(t1, Event::SendProgress);
        assert_eq!(fsm.send_hold_at, None);
    }

    #[test]
    fn default_send_hold_time_is_the_greater_of_8_minutes_and_twice_the_hold_time() {
        let (fsm, t0) = established_with(90, None);
        assert_eq!(fsm.send_hold_time(), Some(480 * SECOND));
        assert_eq!(fsm.send_hold_at, Some(t0 + 480 * SECOND));
        let (fsm, _) = established_with(3, None);
        assert_eq!(fsm.send_hold_time(), Some(480 * SECOND));
        let (fsm, t0) = established_with(300, None);
        assert_eq!(fsm.send_hold_time(), Some(600 * SECOND));
        assert_eq!(fsm.send_hold_at, Some(t0 + 600 * SECOND));
        // The negotiated hold time counts, not ours: we offer 90 s, the peer 9 s.
        let (fsm, _) = established(config(), Open { hold_time: 9, ..peer_open() });
        assert_eq!(fsm.send_hold_time(), Some(480 * SECOND));
    }

    #[test]
    fn a_configured_send_hold_time_must_exceed_the_hold_time() {
        // RFC 9687 §4: SendHoldTime > HoldTime. 5 s with a 90 s hold time becomes 91 s, so the
        // KEEPALIVE due every 30 s is always written before it could expire.
        let (fsm, _) = established_with(90, Some(5 * SECOND));
        assert_eq!(fsm.send_hold_time(), Some(91 * SECOND));
        let (fsm, _) = established_with(9, Some(60 * SECOND));
        assert_eq!(fsm.send_hold_time(), Some(60 * SECOND));
    }

    #[test]
    fn hold_time_zero_runs_no_send_hold_timer() {
        // RFC 9687 §4: the SendHoldTimer is stopped when the negotiated hold time is zero (no
        // KEEPALIVEs flow, so an idle session would look stuck), configured or not.
        for send_hold_time in [None, Some(5 * SECOND)] {
            let (mut fsm, t0) = established_with(0, send_hold_time);
            assert_eq!(fsm.send_hold_time(), None);
            assert_eq!(fsm.poll_timeout(), None);
            fsm.handle(t0, Event::SendProgress);
            assert_eq!(fsm.poll_timeout(), None);
            assert_eq!(fsm.handle_timeout(t0 + Duration::from_secs(86_400)), vec![]);
            assert_eq!(fsm.state(), State::Established);
        }
    }

    #[test]
    fn a_reload_of_send_hold_time_applies_to_the_running_session() {
        let (mut fsm, t0) = established_with(3, None);
        let t1 = t0 + 10 * SECOND;
        fsm.set_send_hold_time(t1, Some(7 * SECOND));
        assert_eq!(fsm.send_hold_at, Some(t1 + 7 * SECOND));
        // Not Established: only the configuration changes, for the next session.
        let (mut fsm, t0) = open_sent(config());
        fsm.set_send_hold_time(t0, Some(7 * SECOND));
        assert_eq!(fsm.send_hold_at, None);
    }

    #[test]
    fn messages_from_the_peer_restart_the_hold_timer() {
        let (mut fsm, t0) = established(config(), peer_open());
        let update = Message::Update(Update::default());
        let t1 = t0 + 80 * SECOND;
        assert_eq!(fsm.handle(t1, received(update.clone())), vec![Action::Deliver(update)]);
        assert_eq!(fsm.hold_at, Some(t1 + 90 * SECOND));
        // Past the original deadline, only our keepalive is due.
        let actions = fsm.handle_timeout(t0 + 100 * SECOND);
        assert_eq!(actions, vec![Action::Send(Message::Keepalive)]);
        assert_eq!(fsm.state(), State::Established);

        let t2 = t0 + 160 * SECOND;
        assert_eq!(fsm.handle(t2, received(Message::Keepalive)), vec![]);
        assert_eq!(fsm.hold_at, Some(t2 + 90 * SECOND));

        let t3 = t0 + 240 * SECOND;
        let refresh = Message::RouteRefresh(RouteRefresh { family: Family::IPV6_UNICAST });
        assert_eq!(fsm.handle(t3, received(refresh.clone())), vec![Action::Deliver(refresh)]);
        assert_eq!(fsm.hold_at, Some(t3 + 90 * SECOND));
    }

    #[test]
    fn route_refresh_for_a_family_not_negotiated_is_ignored() {
        let config = FsmConfig { families: vec![Family::IPV4_UNICAST], ..config() };
        let (mut fsm, t0) = established(config, peer_open());
        let t1 = t0 + 10 * SECOND;
        let refresh = Message::RouteRefresh(RouteRefresh { family: Family::IPV6_UNICAST });
        assert_eq!(fsm.handle(t1, received(refresh)), vec![]);
        assert_eq!(fsm.state(), State::Established);
        assert_eq!(fsm.hold_at, Some(t1 + 90 * SECOND));
    }

    // ---- Unexpected messages (RFC 6608) ----

    #[test]
    fn unexpected_message_in_open_sent_is_fsm_error_5_1() {
        let messages = [
            (Message::Keepalive, 4),
            (Message::Update(Update::default()), 2),
            (Message::RouteRefresh(RouteRefresh { family: Family::IPV4_UNICAST }), 5),
        ];
        for (message, message_type) in messages {
            let (mut fsm, t0) = open_sent(config());
            let actions = fsm.handle(t0, received(message));
            assert_refused(&fsm, &actions, notification(5, 1, &[message_type]));
            assert_retry_after(&fsm, t0, 5 * SECOND);
        }
    }

    #[test]
    fn unexpected_message_in_open_confirm_is_fsm_error_5_2() {
        let messages = [
            (Message::Open(peer_open()), 1),
            (Message::Update(Update::default()), 2),
            (Message::RouteRefresh(RouteRefresh { family: Family::IPV4_UNICAST }), 5),
        ];
        for (message, message_type) in messages {
            let (mut fsm, t0) = open_confirm(config(), peer_open());
            let actions = fsm.handle(t0, received(message));
            assert_refused(&fsm, &actions, notification(5, 2, &[message_type]));
        }
    }

    #[test]
    fn open_in_established_is_fsm_error_5_3() {
        let (mut fsm, t0) = established(config(), peer_open());
        let actions = fsm.handle(t0, received(Message::Open(peer_open())));
        let expected = notification(5, 3, &[1]);
        assert_eq!(&actions[..2], [Action::Send(Message::Notification(expected)), Action::Close]);
        assert_eq!(
            downs(&actions),
            ["unexpected OPEN in Established; sent Finite State Machine Error/\
              Receive Unexpected Message in Established State"]
        );
        assert_eq!(actions.len(), 3);
        assert_eq!(fsm.state(), State::Idle);
    }

    // ---- NOTIFICATION received ----

    #[test]
    fn notification_received_closes_without_answering() {
        let cease = Message::Notification(notification(6, 3, &[]));
        let (mut fsm, t0) = open_sent(config());
        assert_eq!(fsm.handle(t0, received(cease.clone())), vec![Action::Close]);
        assert_retry_after(&fsm, t0, 5 * SECOND);
        assert_eq!(fsm.last_error(), Some("peer sent Cease/Peer De-configured"));

        let (mut fsm, t0) = open_confirm(config(), peer_open());
        assert_eq!(fsm.handle(t0, received(cease)), vec![Action::Close]);
        assert_eq!(fsm.state(), State::Idle);
    }

    #[test]
    fn shutdown_communication_from_the_peer_is_reported() {
        let (mut fsm, t0) = established(config(), peer_open());
        let mut data = vec![11];
        data.extend_from_slice(b"maintenance");
        let actions = fsm.handle(t0, received(Message::Notification(notification(6, 2, &data))));
        let reason = "peer sent Cease/Administrative Shutdown: \"maintenance\"";
        assert_eq!(actions, vec![Action::Close, Action::Down { reason: reason.to_string() }]);
        assert_eq!(fsm.last_error(), Some(reason));
        assert_retry_after(&fsm, t0, 5 * SECOND);
    }

    #[test]
    fn malformed_or_hostile_shutdown_communication_is_shown_safely() {
        // Length octet larger than what follows: not a communication, shown as data.
        let (mut fsm, t0) = established(config(), peer_open());
        fsm.handle(t0, received(Message::Notification(notification(6, 2, &[40, b'h', b'i']))));
        assert_eq!(fsm.last_error(), Some("peer sent Cease/Administrative Shutdown (data 286869)"));

        // A newline cannot forge a second log line.
        let (mut fsm, t0) = established(config(), peer_open());
        fsm.handle(t0, received(Message::Notification(notification(6, 4, b"\x05a\nb\"c"))));
        assert_eq!(fsm.last_error(), Some(r#"peer sent Cease/Administrative Reset: "a\nb\"c""#));

        let (mut fsm, t0) = established(config(), peer_open());
        fsm.handle(t0, received(Message::Notification(notification(99, 1, &[0xab; 40]))));
        let error = fsm.last_error().unwrap();
        assert!(error.starts_with("peer sent error code 99/subcode 1 (data abab"));
        assert!(error.ends_with("...)"));
    }

    // ---- Transport failures and decode errors ----

    #[test]
    fn tcp_failure_in_each_state() {
        let t0 = Instant::now();

        let mut idle = Fsm::new(config(), 1);
        assert_eq!(idle.handle(t0, Event::TcpFailed), vec![]);
        assert_eq!(idle.poll_timeout(), None);

        let mut connect = Fsm::new(config(), 1);
        connect.handle(t0, Event::Start);
        assert_eq!(connect.handle(t0, Event::TcpFailed), vec![]);
        assert_retry_after(&connect, t0, 5 * SECOND);
        assert_eq!(connect.last_error(), Some("TCP connection failed"));

        let mut active = Fsm::new(FsmConfig { passive: true, ..config() }, 1);
        active.handle(t0, Event::Start);
        assert_eq!(active.handle(t0, Event::TcpFailed), vec![]);
        assert_retry_after(&active, t0, 5 * SECOND);
        // A passive peer's retry only goes back to listening.
        let retry = active.poll_timeout().unwrap();
        assert_eq!(active.handle_timeout(retry), vec![]);
        assert_eq!(active.state(), State::Active);

        let (mut open_sent, t0) = open_sent(config());
        assert_eq!(open_sent.handle(t0, Event::TcpFailed), vec![Action::Close]);
        assert_retry_after(&open_sent, t0, 5 * SECOND);

        let (mut open_confirm, t0) = open_confirm(config(), peer_open());
        assert_eq!(open_confirm.handle(t0, Event::TcpFailed), vec![Action::Close]);
        assert_retry_after(&open_confirm, t0, 5 * SECOND);

        let (mut established, t0) = established(config(), peer_open());
        assert_eq!(
            established.handle(t0, Event::TcpFailed),
            vec![Action::Close, Action::Down { reason: "connection closed".to_string() }]
        );
        assert_retry_after(&established, t0, 5 * SECOND);
    }

    #[test]
    fn decode_error_sends_the_codec_notification() {
        let malformed = notification(3, 11, &[]);
        let (mut fsm, t0) = established(config(), peer_open());
        let actions = fsm.handle(t0, Event::DecodeError(malformed.clone()));
        assert_eq!(
            actions,
            vec![
                Action::Send(Message::Notification(malformed.clone())),
                Action::Close,
                Action::Down {
                    reason: "malformed message from peer; sent UPDATE Message Error/Malformed AS_PATH".to_string()
                },
            ]
        );
        assert_retry_after(&fsm, t0, 5 * SECOND);

        let (mut fsm, t0) = open_sent(config());
        let header = notification(1, 2, &[0, 18]);
        let actions = fsm.handle(t0, Event::DecodeError(header.clone()));
        assert_refused(&fsm, &actions, header);

        // Without a connection there is nobody to tell.
        let mut idle = Fsm::new(config(), 1);
        assert_eq!(idle.handle(t0, Event::DecodeError(malformed)), vec![]);
    }

    // ---- Backoff ----

    #[test]
    fn connect_retry_backs_off_exponentially_up_to_the_cap() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        let mut now = t0;
        assert_eq!(fsm.handle(now, Event::Start), vec![Action::Connect]);
        for nominal in [5, 10, 20, 40, 60, 60, 60] {
            now += SECOND;
            assert_eq!(fsm.handle(now, Event::TcpFailed), vec![]);
            assert_retry_after(&fsm, now, nominal * SECOND);
            now = fsm.poll_timeout().unwrap();
            assert_eq!(fsm.handle_timeout(now), vec![Action::Connect]);
        }
    }

    #[test]
    fn retry_jitter_stays_within_bounds_and_varies_by_seed() {
        let t0 = Instant::now();
        let mut delays = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut fsm = Fsm::new(config(), seed);
            fsm.handle(t0, Event::Start);
            fsm.handle(t0, Event::TcpFailed);
            let delay = fsm.poll_timeout().unwrap() - t0;
            assert_jittered(delay, 5 * SECOND);
            delays.insert(delay);
        }
        assert!(delays.len() > 150, "only {} distinct delays", delays.len());

        // Deep into the streak every wait is capped at connect_retry_max.
        let mut fsm = Fsm::new(config(), 9);
        let mut now = t0;
        fsm.handle(now, Event::Start);
        for failure in 0..40 {
            fsm.handle(now, Event::TcpFailed);
            let at = fsm.poll_timeout().unwrap();
            // 5, 10, 20, 40, then the cap.
            if failure >= 4 {
                assert_jittered(at - now, 60 * SECOND);
            }
            now = at;
            assert_eq!(fsm.handle_timeout(now), vec![Action::Connect]);
        }
    }

    #[test]
    fn start_skips_the_backoff_wait_and_forgets_failures() {
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        fsm.handle(t0, Event::Start);
        let now = fail_attempts(&mut fsm, t0, 4);
        fsm.handle(now, Event::TcpFailed);
        assert_retry_after(&fsm, now, 60 * SECOND);
        // The operator asks again: no waiting out the 60 s.
        let now = now + SECOND;
        assert_eq!(fsm.handle(now, Event::Start), vec![Action::Connect]);
        fsm.handle(now, Event::TcpFailed);
        assert_retry_after(&fsm, now, 5 * SECOND);
    }

    /// Fails `count` connection attempts in a row; returns when the last retry fires.
    fn fail_attempts(fsm: &mut Fsm, mut now: Instant, count: usize) -> Instant {
        for _ in 0..count {
            fsm.handle(now, Event::TcpFailed);
            now = fsm.poll_timeout().unwrap();
            assert_eq!(fsm.handle_timeout(now), vec![Action::Connect]);
        }
        now
    }

    /// Brings a connecting FSM up at `now` and keeps it up (both sides sending keepalives)
    /// for `duration`; returns the instant it got to.
    fn stay_established(fsm: &mut Fsm, now: Instant, duration: Duration) -> Instant {
        fsm.handle(now, Event::TcpConnected);
        fsm.handle(now, received(Message::Open(peer_open())));
        fsm.handle(now, received(Message::Keepalive));
        assert_eq!(fsm.state(), State::Established);
        let end = now + duration;
        let mut now = now;
        while now < end {
            now = (now + 3 * SECOND).min(end);
            fsm.handle(now, received(Message::Keepalive));
            fsm.handle_timeout(now);
        }
        assert_eq!(fsm.state(), State::Established);
        now
    }

    #[test]
    fn backoff_resets_after_a_long_established_session_only() {
        let config = FsmConfig { hold_time: 9, ..config() };
        // Established for 31 s (above max(30 s, 9 s)): the next failure waits connect_retry.
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config.clone(), 1);
        fsm.handle(t0, Event::Start);
        let now = fail_attempts(&mut fsm, t0, 3);
        let now = stay_established(&mut fsm, now, 31 * SECOND);
        fsm.handle(now, Event::TcpFailed);
        assert_retry_after(&fsm, now, 5 * SECOND);

        // A peer that drops us 10 s after Established keeps the backoff growing.
        let mut fsm = Fsm::new(config, 1);
        fsm.handle(t0, Event::Start);
        let now = fail_attempts(&mut fsm, t0, 3);
        let now = stay_established(&mut fsm, now, 10 * SECOND);
        fsm.handle(now, Event::TcpFailed);
        assert_retry_after(&fsm, now, 40 * SECOND);
    }

    #[test]
    fn a_long_hold_time_raises_the_bar_for_a_stable_session() {
        // Hold time 90 s: 60 s of Established is not yet proof of health.
        let t0 = Instant::now();
        let mut fsm = Fsm::new(config(), 1);
        fsm.handle(t0, Event::Start);
        let now = fail_attempts(&mut fsm, t0, 2);
        let now = stay_established(&mut fsm, now, 60 * SECOND);
        fsm.handle(now, Event::TcpFailed);
        assert_retry_after(&fsm, now, 20 * SECOND);
    }

    // ---- Stop ----

    #[test]
    fn stop_sends_administrative_shutdown_with_the_message() {
        let (mut fsm, t0) = established(config(), peer_open());
        let actions = fsm.handle(t0, Event::Stop { message: "maintenance".to_string() });
        let mut data = vec![11u8];
        data.extend_from_slice(b"maintenance");
        assert_eq!(
            actions,
            vec![
                Action::Send(Message::Notification(notification(6, 2, &data))),
                Action::Close,
                Action::Down { reason: "administrative shutdown: \"maintenance\"".to_string() },
            ]
        );
        assert_eq!(fsm.state(), State::Idle);
        assert_eq!(fsm.poll_timeout(), None);
        // No restart by itself...
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(fsm.handle_timeout(later), vec![]);
        assert_eq!(fsm.handle(later, Event::TcpFailed), vec![]);
        // ...until the next Start, which connects at once.
        assert_eq!(fsm.handle(later, Event::Start), vec![Action::Connect]);
    }

    #[test]
    fn stop_truncates_a_long_message_at_a_char_boundary() {
        let (mut fsm, t0) = open_confirm(config(), peer_open());
        // 400 octets of two-octet characters: 255 would split one, so 254 go out.
        let message = "é".repeat(200);
        let actions = fsm.handle(t0, Event::Stop { message });
        let sent = sent_notification(&actions).unwrap();
        assert_eq!((sent.code, sent.subcode), (6, 2));
        assert_eq!(sent.data[0], 254);
        assert_eq!(sent.data.len(), 255);
        assert_eq!(std::str::from_utf8(&sent.data[1..]).unwrap(), "é".repeat(127));
        assert_eq!(actions.last(), Some(&Action::Close));

        let (mut fsm, t0) = open_sent(config());
        let actions = fsm.handle(t0, Event::Stop { message: "x".repeat(300) });
        let sent = sent_notification(&actions).unwrap();
        assert_eq!(sent.data[0], 255);
        assert_eq!(&sent.data[1..], "x".repeat(255).as_bytes());
    }

    #[test]
    fn stop_without_a_message_sends_a_plain_administrative_shutdown() {
        let (mut fsm, t0) = open_sent(config());
        let actions = fsm.handle(t0, Event::Stop { message: String::new() });
        assert_refused(&fsm, &actions, notification(6, 2, &[]));
        assert_eq!(fsm.last_error(), Some("administrative shutdown"));
        assert_eq!(fsm.poll_timeout(), None);
    }

    #[test]
    fn stop_without_a_connection_just_disarms() {
        let t0 = Instant::now();
        let stop = || Event::Stop { message: "bye".to_string() };
        let mut connect = Fsm::new(config(), 1);
        connect.handle(t0, Event::Start);
        assert_eq!(connect.handle(t0, stop()), vec![]);
        assert_eq!(connect.state(), State::Idle);
        assert_eq!(connect.poll_timeout(), None);
        // The abandoned attempt completing later is refused.
        assert_eq!(connect.handle(t0, Event::TcpConnected), vec![Action::Close]);

        let mut backing_off = Fsm::new(config(), 1);
        backing_off.handle(t0, Event::Start);
        backing_off.handle(t0, Event::TcpFailed);
        assert_eq!(backing_off.handle(t0, stop()), vec![]);
        assert_eq!(backing_off.poll_timeout(), None);

        let mut never_started = Fsm::new(config(), 1);
        assert_eq!(never_started.handle(t0, stop()), vec![]);
        assert_eq!(never_started.last_error(), None);
    }

    // ---- Collisions ----

    #[test]
    fn collision_lost_sends_cease_7_and_waits_for_the_driver() {
        let (mut fsm, t0) = open_confirm(config(), peer_open());
        let actions = fsm.handle(t0, Event::CollisionLost);
        assert_refused(&fsm, &actions, notification(6, 7, &[]));
        // No backoff and no retry: the other connection is alive.
        assert_eq!(fsm.poll_timeout(), None);
        // The driver hands over the surviving inbound connection.
        let actions = fsm.handle(t0, Event::TcpConnected);
        assert!(matches!(actions.as_slice(), [Action::Send(Message::Open(_))]));
        assert_eq!(fsm.state(), State::OpenSent);

        let (mut fsm, t0) = established(config(), peer_open());
        let actions = fsm.handle(t0, Event::CollisionLost);
        assert_eq!(actions.len(), 3);
        assert_eq!(downs(&actions).len(), 1);

        let mut connect = Fsm::new(config(), 1);
        connect.handle(t0, Event::Start);
        assert_eq!(connect.handle(t0, Event::CollisionLost), vec![]);
        assert_eq!(connect.state(), State::Connect);
    }

    #[test]
    fn collision_keeps_the_connection_of_the_higher_identifier() {
        let low = Ipv4Addr::new(10, 0, 0, 1);
        let high = Ipv4Addr::new(192, 168, 0, 1);
        assert!(collision_keeps_local(high, low));
        assert!(!collision_keeps_local(low, high));
        // Compared as integers, not octet by octet as text would be.
        assert!(collision_keeps_local(Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 9)));
        // RFC 6286 tie-break: equal identifiers, larger AS keeps its connection.
        assert!(collision_keeps_local_with_as(low, 65010, low, 65000));
        assert!(!collision_keeps_local_with_as(low, 65000, low, 65010));
        assert!(collision_keeps_local_with_as(high, 1, low, 2));
    }

    #[test]
    fn notification_names_cover_unknown_codes() {
        assert_eq!(notification_name(4, 0), "Hold Timer Expired");
        assert_eq!(notification_name(6, 0), "Cease");
        assert_eq!(notification_name(6, 200), "Cease/subcode 200");
        assert_eq!(notification_name(200, 1), "error code 200/subcode 1");
    }

    // ---- Random event sequences ----

    fn random_event(rng: &mut SplitMix64) -> Event {
        let pick = |rng: &mut SplitMix64, n: u64| rng.next_u64() % n;
        match pick(rng, 18) {
            0 => Event::Start,
            1 => Event::Stop { message: "ü".repeat(pick(rng, 200) as usize) },
            2 | 3 => Event::TcpConnected,
            4 => Event::TcpFailed,
            5 | 6 => received(Message::Open(peer_open())),
            7 => received(Message::Open(Open {
                version: [3, 4, 4, 4][pick(rng, 4) as usize],
                my_as: [0, 65000, 65001, AS_TRANS][pick(rng, 4) as usize],
                hold_time: pick(rng, 8) as u16,
                bgp_id: [Ipv4Addr::UNSPECIFIED, LOCAL_ID, PEER_ID][pick(rng, 3) as usize],
                capabilities: if pick(rng, 2) == 0 {
                    vec![]
                } else {
                    vec![Capability::FourOctetAs(pick(rng, 3) as u32 + 64999)]
                },
            })),
            8 | 9 => received(Message::Keepalive),
            10 => received(Message::Update(Update::default())),
            11 => {
                received(Message::RouteRefresh(RouteRefresh { family: Family { afi: pick(rng, 3) as u16, safi: 1 } }))
            }
            12 => {
                let length = pick(rng, 6) as usize;
                let data: Vec<u8> = (0..length).map(|_| rng.next_u64() as u8).collect();
                received(Message::Notification(notification(pick(rng, 9) as u8, pick(rng, 12) as u8, &data)))
            }
            13 => Event::DecodeError(notification(3, 1, &[])),
            14 => Event::CollisionLost,
            15 => Event::SendProgress,
            // Weight towards the happy path so that Established is reached often.
            _ => received(Message::Keepalive),
        }
    }

    /// The event that moves a session in `state` towards Established, so that random runs
    /// spend time in every state rather than mostly failing early.
    fn happy_event(state: State, remote_as: u32) -> Event {
        match state {
            State::Idle => Event::Start,
            State::Connect | State::Active => Event::TcpConnected,
            State::OpenSent => received(Message::Open(Open {
                my_as: u16::try_from(remote_as).unwrap_or(AS_TRANS),
                capabilities: vec![Capability::FourOctetAs(remote_as)],
                ..peer_open()
            })),
            State::OpenConfirm | State::Established => received(Message::Keepalive),
        }
    }

    /// Checks the contract on every step of random event sequences: no panic, `Close` only for
    /// a connection and exactly once when one is left, `Up`/`Down` alternating with
    /// Established, passive peers never connecting, nothing armed after `Stop`.
    #[test]
    fn random_event_sequences_keep_the_invariants() {
        let t0 = Instant::now();
        let mut established_seen = 0;
        let mut transitions = std::collections::BTreeSet::new();
        for seed in 0..3000u64 {
            let mut rng = SplitMix64::new(seed);
            let config = FsmConfig {
                passive: seed % 4 == 0,
                hold_time: [0, 3, 9, 90][(seed % 7 % 4) as usize],
                remote_as: if seed % 5 == 0 { 65010 } else { 65000 },
                send_hold_time: [None, Some(Duration::from_secs(4))][(seed % 3 % 2) as usize],
                ..config()
            };
            let (passive, remote_as) = (config.passive, config.remote_as);
            let mut fsm = Fsm::new(config, seed);
            let mut now = t0;
            let mut up = false;
            for step in 0..80 {
                let before = fsm.state();
                let (actions, handed_socket, event) = match rng.next_u64() % 5 {
                    0 => {
                        // Jump to the next deadline, or just let time pass.
                        now = match fsm.poll_timeout() {
                            Some(deadline) if rng.next_u64() % 2 == 0 => deadline.max(now),
                            _ => now + Duration::from_millis(rng.next_u64() % 20_000),
                        };
                        (fsm.handle_timeout(now), false, None)
                    }
                    roll => {
                        let event = if roll < 3 { random_event(&mut rng) } else { happy_event(before, remote_as) };
                        let handed = event == Event::TcpConnected;
                        (fsm.handle(now, event.clone()), handed, Some(event))
                    }
                };
                let after = fsm.state();
                transitions.insert((format!("{before}"), format!("{after}")));
                let context = format!("seed {seed} step {step}: {before} -> {after} on {event:?}: {actions:?}");

                let closes = actions.iter().filter(|a| **a == Action::Close).count();
                assert!(closes <= 1, "{context}");
                if closes == 1 {
                    assert!(before.has_connection() || handed_socket, "{context}");
                }
                if before.has_connection() && !after.has_connection() {
                    assert_eq!(closes, 1, "{context}");
                }
                if before.has_connection() && after.has_connection() {
                    assert_eq!(closes, 0, "{context}");
                }
                for action in &actions {
                    match action {
                        Action::Up(_) => {
                            assert!(!up, "{context}");
                            up = true;
                            established_seen += 1;
                        }
                        Action::Down { reason } => {
                            assert!(up, "{context}");
                            assert!(!reason.is_empty(), "{context}");
                            up = false;
                        }
                        Action::Connect => assert!(!passive, "{context}"),
                        Action::Send(_) => assert!(before.has_connection() || after.has_connection(), "{context}"),
                        Action::Deliver(_) => assert_eq!(after, State::Established, "{context}"),
                        Action::Close => {}
                    }
                }
                assert_eq!(up, after == State::Established, "{context}");
                assert_eq!(
                    fsm.negotiated().is_some(),
                    matches!(after, State::OpenConfirm | State::Established),
                    "{context}"
                );
                if matches!(event, Some(Event::Stop { .. })) {
                    assert_eq!(after, State::Idle, "{context}");
                    assert_eq!(fsm.poll_timeout(), None, "{context}");
                }
                // Only an Established session that negotiated hold time 0 may run untimed.
                let untimed_ok = after == State::Established && fsm.negotiated().is_some_and(|n| n.hold_time == 0);
                if after.has_connection() && !untimed_ok {
                    assert!(fsm.poll_timeout().is_some(), "{context}: a held connection has a hold timer");
                }
            }
        }
        assert!(established_seen > 5000, "only {established_seen} sessions came up");
        // Every state left to Idle and every forward step taken at least once.
        for (from, to) in [
            ("Idle", "Connect"),
            ("Idle", "Active"),
            ("Idle", "OpenSent"),
            ("Connect", "OpenSent"),
            ("Active", "OpenSent"),
            ("OpenSent", "OpenConfirm"),
            ("OpenConfirm", "Established"),
            ("Connect", "Idle"),
            ("Active", "Idle"),
            ("OpenSent", "Idle"),
            ("OpenConfirm", "Idle"),
            ("Established", "Idle"),
        ] {
            assert!(transitions.contains(&(from.to_string(), to.to_string())), "{from} -> {to} never happened");
        }
    }
}
