//! RFC 4271 §6.8: a router may connect to us while we connect to it. An inbound connection is
//! taken while we hold none, parked while our OPEN waits for the router's, and otherwise the
//! connection of the speaker with the higher BGP identifier survives.

use std::net::Ipv4Addr;
use std::time::Instant;

use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use super::PeerTask;
use crate::bgp::fsm::{collision_keeps_local_with_as, Action, Event, State};
use crate::bgp::notification::{cease, code, Notification};

impl PeerTask {
    /// RFC 4271 §6.8 for the connections a router opens to us.
    pub(super) fn inbound(&mut self, stream: TcpStream) -> Option<Event> {
        let remote = stream.peer_addr().ok();
        // At once, whatever happens to the connection next. The listener's filter already kept
        // out what arrived below a GTSM minimum (driver::ttl); this is the peer's own TTL out.
        if let Err(error) = crate::driver::ttl::apply(&stream, self.peer.ttl) {
            warn!(peer = %self.peer.name, ?remote, %error, "refused connection: its TTL options cannot be set");
            return None;
        }
        match self.fsm.state() {
            State::Idle | State::Connect | State::Active if self.connection.is_none() => {
                let ttl = crate::driver::ttl::describe(self.peer.ttl);
                info!(peer = %self.peer.name, remote = ?remote, ttl, "accepted connection from peer");
                self.connecting = None;
                if self.fsm.state() == State::Idle {
                    // We were waiting out a retry backoff: the router is ready now, so are we.
                    let actions = self.fsm.handle(Instant::now(), Event::Start);
                    self.apply(actions.into_iter().filter(|a| *a != Action::Connect).collect());
                }
                self.adopt(stream, true)
            }
            State::OpenSent => {
                debug!(peer = %self.peer.name, "connection collision: holding the inbound connection until the peer's OPEN");
                self.parked_inbound = Some(stream);
                None
            }
            State::OpenConfirm => {
                let remote_id = self.fsm.remote_id().unwrap_or(Ipv4Addr::UNSPECIFIED);
                self.resolve_collision(stream, remote_id)
            }
            _ => {
                info!(peer = %self.peer.name, remote = ?remote, state = ?self.fsm.state(), "refused connection: session already up");
                self.reject(stream);
                None
            }
        }
    }

    /// Both a connection we opened and one the router opened reached the point where the
    /// router's BGP identifier is known: the higher identifier's connection survives.
    pub(super) fn resolve_collision(&mut self, inbound: TcpStream, remote_id: Ipv4Addr) -> Option<Event> {
        let current_is_local = self.connection.as_ref().is_some_and(|c| !c.inbound);
        let keep_current = collision_keeps_local_with_as(self.router_id, self.local_as, remote_id, self.peer.remote_as)
            == current_is_local;
        if keep_current {
            info!(peer = %self.peer.name, "connection collision: keeping the existing connection");
            self.reject(inbound);
            return None;
        }
        info!(peer = %self.peer.name, "connection collision: switching to the peer's connection");
        let actions = self.fsm.handle(Instant::now(), Event::CollisionLost);
        self.apply(actions);
        let actions = self.fsm.handle(Instant::now(), Event::Start);
        self.apply(actions.into_iter().filter(|a| *a != Action::Connect).collect());
        self.adopt(inbound, true)
    }
}

/// Cease / Connection Collision Resolution, for the connection that loses.
pub(super) fn collision_notification() -> Notification {
    Notification { code: code::CEASE, subcode: cease::CONNECTION_COLLISION_RESOLUTION, data: bytes::Bytes::new() }
}
