//! BFD (RFC 5880), the pure protocol core: the Control packet codec ([`packet`]) and the
//! asynchronous-mode session state machine ([`session`]). Like `bgp::fsm`, it does no I/O and
//! knows no tokio: packets, timer expiries and the current time go in, packets to send and state
//! changes come out, so every path of the RFC is a unit test with a fake clock.
//!
//! What the core leaves to its driver (the BFD socket task, one layer up):
//!
//! - the sockets and their UDP ports (3784 single-hop, 4784 multihop, a source port from
//!   49152–65535), and encoding each [`session::Action::Send`] with [`ControlPacket::encode`];
//! - the TTL/Hop Limit checks of RFC 5881 §5 (single-hop: sent and required to be 255) and
//!   RFC 5883 (multihop), and checking the source address;
//! - demultiplexing a received packet to its session: by Your Discriminator when nonzero, by
//!   addresses (and interface) otherwise (RFC 5880 §6.3). The session still discards a packet
//!   whose nonzero Your Discriminator is not its own;
//! - choosing a nonzero local discriminator unique among the system's sessions;
//! - calling [`Session::handle_timeout`] at [`Session::poll_timeout`].
//!
//! Not implemented: Demand mode (we never set D; a peer that sets D is honoured as §6.8.6 and
//! §6.8.7 require, by ceasing periodic transmission while both sides are Up), the Echo function
//! (Required Min Echo RX is always 0), and authentication (a packet with the A bit is discarded,
//! since bfd.AuthType is zero; none is ever sent).

pub mod packet;
pub mod session;

pub use packet::{ControlPacket, DecodeError, Diagnostic, SessionState};
pub use session::{Action, Config, Session, Snapshot, Transition};
