//! BGP-4 (RFC 4271) as rhi speaks it: the wire format and a pure session state machine. No I/O,
//! no tokio, nothing from above: the task that drives a session is `crate::driver::bgp`.

pub mod attributes;
pub mod backoff;
pub mod capability;
pub mod codec;
pub mod fsm;
pub mod message;
pub mod nlri;
pub mod notification;

pub use attributes::{
    community_to_string, parse_community, AsPath, AsSegment, LargeCommunity, MpReach, MpUnreach, Origin,
    PathAttributes, RawAttribute,
};
pub use capability::{Capability, GracefulRestartCap, GracefulRestartFamily};
pub use codec::{BgpCodec, CodecError, CodecParams};
pub use message::{EncodeError, Message, Open, RouteRefresh, Update};
pub use nlri::Family;
pub use notification::{ErrorAction, Notification, UpdateError};

/// The 2-octet placeholder for a 4-octet AS number (RFC 6793).
pub const AS_TRANS: u16 = 23456;
/// Every BGP message starts with a 16-byte marker of all ones, then length (2) and type (1).
pub const HEADER_LEN: usize = 19;
/// RFC 4271 maximum message size; RFC 8654 raises it to 65535 once both sides announce it.
pub const MAX_MESSAGE_LEN: usize = 4096;
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
