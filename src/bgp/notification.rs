//! NOTIFICATION codes and subcodes (RFC 4271 §4.5, RFC 6608, RFC 4486, RFC 8203/9003) and the
//! RFC 7606 disposition of an UPDATE error.

use std::fmt;

use bytes::{BufMut, Bytes};

use super::{HEADER_LEN, MAX_MESSAGE_LEN};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Bytes,
}

pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH: u8 = 7;
    /// RFC 9687.
    pub const SEND_HOLD_TIMER_EXPIRED: u8 = 8;
}

/// Subcode 0 of any code: "no appropriate subcode is defined" (RFC 4271 §4.5).
pub const UNSPECIFIC: u8 = 0;

/// Subcodes of [`code::MESSAGE_HEADER`] (RFC 4271 §6.1).
pub mod header {
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// Subcodes of [`code::OPEN_MESSAGE`] (RFC 4271 §6.2, RFC 5492, RFC 9234).
pub mod open {
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    /// Deprecated (RFC 4271 Appendix A); named so that a peer's use of it can be logged.
    pub const AUTHENTICATION_FAILURE: u8 = 5;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    pub const ROLE_MISMATCH: u8 = 11;
}

/// Subcodes of [`code::UPDATE_MESSAGE`] (RFC 4271 §6.3).
pub mod update {
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    /// Deprecated (RFC 4271 Appendix A).
    pub const AS_ROUTING_LOOP: u8 = 7;
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Subcodes of [`code::FSM`] (RFC 6608).
pub mod fsm {
    pub const UNEXPECTED_MESSAGE_IN_OPEN_SENT: u8 = 1;
    pub const UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM: u8 = 2;
    pub const UNEXPECTED_MESSAGE_IN_ESTABLISHED: u8 = 3;
}

/// Subcodes of [`code::CEASE`] (RFC 4486, RFC 8538, RFC 9384).
pub mod cease {
    pub const MAXIMUM_PREFIXES_REACHED: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    pub const HARD_RESET: u8 = 9;
    pub const BFD_DOWN: u8 = 10;
}

/// Subcodes of [`code::ROUTE_REFRESH`] (RFC 7313).
pub mod route_refresh {
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// Octets of NOTIFICATION data that fit a 4096-octet message: every peer can take that much.
pub const MAX_DATA_LEN: usize = MAX_MESSAGE_LEN - HEADER_LEN - 2;

/// RFC 9003 §2: the Shutdown Communication is at most 255 octets of UTF-8.
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;

pub fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        code::MESSAGE_HEADER => "Message Header Error",
        code::OPEN_MESSAGE => "OPEN Message Error",
        code::UPDATE_MESSAGE => "UPDATE Message Error",
        code::HOLD_TIMER_EXPIRED => "Hold Timer Expired",
        code::FSM => "Finite State Machine Error",
        code::CEASE => "Cease",
        code::ROUTE_REFRESH => "ROUTE-REFRESH Message Error",
        code::SEND_HOLD_TIMER_EXPIRED => "Send Hold Timer Expired",
        _ => return None,
    })
}

pub fn subcode_name(code: u8, subcode: u8) -> Option<&'static str> {
    Some(match (code, subcode) {
        (code::FSM, UNSPECIFIC) => "Unspecified Error",
        (_, UNSPECIFIC) => "Unspecific",
        (code::MESSAGE_HEADER, header::CONNECTION_NOT_SYNCHRONIZED) => "Connection Not Synchronized",
        (code::MESSAGE_HEADER, header::BAD_MESSAGE_LENGTH) => "Bad Message Length",
        (code::MESSAGE_HEADER, header::BAD_MESSAGE_TYPE) => "Bad Message Type",
        (code::OPEN_MESSAGE, open::UNSUPPORTED_VERSION_NUMBER) => "Unsupported Version Number",
        (code::OPEN_MESSAGE, open::BAD_PEER_AS) => "Bad Peer AS",
        (code::OPEN_MESSAGE, open::BAD_BGP_IDENTIFIER) => "Bad BGP Identifier",
        (code::OPEN_MESSAGE, open::UNSUPPORTED_OPTIONAL_PARAMETER) => "Unsupported Optional Parameter",
        (code::OPEN_MESSAGE, open::AUTHENTICATION_FAILURE) => "Authentication Failure",
        (code::OPEN_MESSAGE, open::UNACCEPTABLE_HOLD_TIME) => "Unacceptable Hold Time",
        (code::OPEN_MESSAGE, open::UNSUPPORTED_CAPABILITY) => "Unsupported Capability",
        (code::OPEN_MESSAGE, open::ROLE_MISMATCH) => "Role Mismatch",
        (code::UPDATE_MESSAGE, update::MALFORMED_ATTRIBUTE_LIST) => "Malformed Attribute List",
        (code::UPDATE_MESSAGE, update::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE) => "Unrecognized Well-known Attribute",
        (code::UPDATE_MESSAGE, update::MISSING_WELL_KNOWN_ATTRIBUTE) => "Missing Well-known Attribute",
        (code::UPDATE_MESSAGE, update::ATTRIBUTE_FLAGS_ERROR) => "Attribute Flags Error",
        (code::UPDATE_MESSAGE, update::ATTRIBUTE_LENGTH_ERROR) => "Attribute Length Error",
        (code::UPDATE_MESSAGE, update::INVALID_ORIGIN_ATTRIBUTE) => "Invalid ORIGIN Attribute",
        (code::UPDATE_MESSAGE, update::AS_ROUTING_LOOP) => "AS Routing Loop",
        (code::UPDATE_MESSAGE, update::INVALID_NEXT_HOP_ATTRIBUTE) => "Invalid NEXT_HOP Attribute",
        (code::UPDATE_MESSAGE, update::OPTIONAL_ATTRIBUTE_ERROR) => "Optional Attribute Error",
        (code::UPDATE_MESSAGE, update::INVALID_NETWORK_FIELD) => "Invalid Network Field",
        (code::UPDATE_MESSAGE, update::MALFORMED_AS_PATH) => "Malformed AS_PATH",
        (code::FSM, fsm::UNEXPECTED_MESSAGE_IN_OPEN_SENT) => "Receive Unexpected Message in OpenSent State",
        (code::FSM, fsm::UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM) => "Receive Unexpected Message in OpenConfirm State",
        (code::FSM, fsm::UNEXPECTED_MESSAGE_IN_ESTABLISHED) => "Receive Unexpected Message in Established State",
        (code::CEASE, cease::MAXIMUM_PREFIXES_REACHED) => "Maximum Number of Prefixes Reached",
        (code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN) => "Administrative Shutdown",
        (code::CEASE, cease::PEER_DECONFIGURED) => "Peer De-configured",
        (code::CEASE, cease::ADMINISTRATIVE_RESET) => "Administrative Reset",
        (code::CEASE, cease::CONNECTION_REJECTED) => "Connection Rejected",
        (code::CEASE, cease::OTHER_CONFIGURATION_CHANGE) => "Other Configuration Change",
        (code::CEASE, cease::CONNECTION_COLLISION_RESOLUTION) => "Connection Collision Resolution",
        (code::CEASE, cease::OUT_OF_RESOURCES) => "Out of Resources",
        (code::CEASE, cease::HARD_RESET) => "Hard Reset",
        (code::CEASE, cease::BFD_DOWN) => "BFD Down",
        (code::ROUTE_REFRESH, route_refresh::INVALID_MESSAGE_LENGTH) => "Invalid Message Length",
        _ => return None,
    })
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: impl Into<Bytes>) -> Notification {
        Notification { code, subcode, data: data.into() }
    }

    /// Cease with a subcode and no data.
    pub fn cease(subcode: u8) -> Notification {
        Notification::new(code::CEASE, subcode, Bytes::new())
    }

    pub fn hold_timer_expired() -> Notification {
        Notification::new(code::HOLD_TIMER_EXPIRED, UNSPECIFIC, Bytes::new())
    }

    /// Cease / Administrative Shutdown carrying an RFC 8203 / RFC 9003 Shutdown Communication:
    /// a length octet then UTF-8, cut to 255 octets on a character boundary. An empty message
    /// sends no data at all, which every implementation understands.
    pub fn cease_shutdown(msg: &str) -> Notification {
        Notification::new(code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN, shutdown_communication(msg))
    }

    /// The Shutdown Communication of a Cease / Administrative Shutdown or Administrative Reset.
    /// None when there is none, or when it is malformed (bad length, invalid UTF-8): RFC 9003 §5
    /// says a malformed one must not be shown verbatim.
    pub fn shutdown_message(&self) -> Option<String> {
        let shutdown_or_reset =
            self.subcode == cease::ADMINISTRATIVE_SHUTDOWN || self.subcode == cease::ADMINISTRATIVE_RESET;
        if self.code != code::CEASE || !shutdown_or_reset {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..len as usize)?;
        if text.is_empty() {
            return None;
        }
        std::str::from_utf8(text).ok().map(str::to_owned)
    }

    /// Octets of the NOTIFICATION body (code, subcode, data).
    pub fn body_len(&self) -> usize {
        2 + self.data.len()
    }

    pub fn encode_body(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.code);
        buf.put_u8(self.subcode);
        buf.put_slice(&self.data);
    }

    /// Decodes a NOTIFICATION body. Unknown codes are kept: the session ends either way.
    pub fn decode_body(body: &[u8]) -> Option<Notification> {
        match body {
            [code, subcode, data @ ..] => Some(Notification::new(*code, *subcode, Bytes::copy_from_slice(data))),
            _ => None,
        }
    }

    pub fn code_name(&self) -> Option<&'static str> {
        code_name(self.code)
    }

    pub fn subcode_name(&self) -> Option<&'static str> {
        subcode_name(self.code, self.subcode)
    }
}

fn shutdown_communication(msg: &str) -> Bytes {
    let mut end = msg.len().min(MAX_SHUTDOWN_MESSAGE_LEN);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    if end == 0 {
        return Bytes::new();
    }
    let mut data = Vec::with_capacity(1 + end);
    data.push(end as u8);
    data.extend_from_slice(&msg.as_bytes()[..end]);
    Bytes::from(data)
}

/// `Cease/Administrative Shutdown`; codes without subcodes print alone (`Hold Timer Expired`).
/// The alternate form (`{:#}`) adds the data: the Shutdown Communication quoted, else hex.
impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code_name() {
            Some(name) => f.write_str(name)?,
            None => write!(f, "code {}", self.code)?,
        }
        let has_subcodes = !matches!(self.code, code::HOLD_TIMER_EXPIRED | code::SEND_HOLD_TIMER_EXPIRED);
        if has_subcodes || self.subcode != UNSPECIFIC {
            match self.subcode_name() {
                Some(name) => write!(f, "/{name}")?,
                None => write!(f, "/subcode {}", self.subcode)?,
            }
        }
        if f.alternate() && !self.data.is_empty() {
            match self.shutdown_message() {
                Some(msg) => write!(f, ": {msg:?}")?,
                None => {
                    f.write_str(": data ")?;
                    for b in self.data.iter() {
                        write!(f, "{b:02x}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for Notification {}

/// What RFC 7606 prescribes for an error found in an UPDATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorAction {
    /// Send the NOTIFICATION and drop the session (RFC 4271 behaviour): the message cannot be
    /// parsed reliably any more.
    SessionReset,
    /// Keep the session; withdraw every prefix the UPDATE announces (RFC 7606 §2).
    TreatAsWithdraw,
    /// Keep the session and the routes; ignore the one malformed attribute (RFC 7606 §2).
    AttributeDiscard,
}

impl ErrorAction {
    /// Higher is stronger: when an UPDATE has several errors the strongest action wins.
    pub fn severity(self) -> u8 {
        match self {
            ErrorAction::AttributeDiscard => 1,
            ErrorAction::TreatAsWithdraw => 2,
            ErrorAction::SessionReset => 3,
        }
    }
}

impl fmt::Display for ErrorAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorAction::SessionReset => "session reset",
            ErrorAction::TreatAsWithdraw => "treat-as-withdraw",
            ErrorAction::AttributeDiscard => "attribute discard",
        })
    }
}

/// An error found in an UPDATE: the NOTIFICATION RFC 4271 §6.3 would send, and the RFC 7606
/// action that replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateError {
    pub notification: Notification,
    pub action: ErrorAction,
}

impl UpdateError {
    pub fn new(subcode: u8, data: impl Into<Bytes>, action: ErrorAction) -> UpdateError {
        let mut data: Bytes = data.into();
        // The data of some errors is a whole attribute, which can be larger than the NOTIFICATION
        // that must carry it; a truncated copy still tells the operator what was wrong.
        data.truncate(MAX_DATA_LEN);
        UpdateError { notification: Notification::new(code::UPDATE_MESSAGE, subcode, data), action }
    }
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.notification, self.action)
    }
}

impl std::error::Error for UpdateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_code_and_subcode() {
        assert_eq!(Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN).to_string(), "Cease/Administrative Shutdown");
        assert_eq!(Notification::hold_timer_expired().to_string(), "Hold Timer Expired");
        assert_eq!(Notification::new(3, 11, Bytes::new()).to_string(), "UPDATE Message Error/Malformed AS_PATH");
        assert_eq!(Notification::new(2, 0, Bytes::new()).to_string(), "OPEN Message Error/Unspecific");
        assert_eq!(Notification::new(5, 0, Bytes::new()).to_string(), "Finite State Machine Error/Unspecified Error");
        assert_eq!(
            Notification::new(5, 3, Bytes::new()).to_string(),
            "Finite State Machine Error/Receive Unexpected Message in Established State"
        );
        assert_eq!(Notification::new(6, 42, Bytes::new()).to_string(), "Cease/subcode 42");
        assert_eq!(Notification::new(99, 1, Bytes::new()).to_string(), "code 99/subcode 1");
        assert_eq!(Notification::new(4, 1, Bytes::new()).to_string(), "Hold Timer Expired/subcode 1");
    }

    #[test]
    fn every_rfc_subcode_has_a_name() {
        let all: &[(u8, &[u8])] = &[
            (1, &[1, 2, 3]),
            (2, &[1, 2, 3, 4, 5, 6, 7, 11]),
            (3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
            (5, &[0, 1, 2, 3]),
            (6, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            (7, &[1]),
        ];
        for (c, subs) in all {
            assert!(code_name(*c).is_some());
            for s in *subs {
                assert!(subcode_name(*c, *s).is_some(), "{c}/{s}");
            }
        }
    }

    #[test]
    fn alternate_display_shows_data() {
        let n = Notification::cease_shutdown("upgrade to 2.0");
        assert_eq!(format!("{n:#}"), "Cease/Administrative Shutdown: \"upgrade to 2.0\"");
        let n = Notification::new(1, 2, vec![0x10, 0x01]);
        assert_eq!(format!("{n:#}"), "Message Header Error/Bad Message Length: data 1001");
    }

    #[test]
    fn shutdown_communication_layout() {
        let n = Notification::cease_shutdown("maintenance");
        assert_eq!((n.code, n.subcode), (6, 2));
        assert_eq!(&n.data[..], b"\x0bmaintenance");
        assert_eq!(n.shutdown_message().as_deref(), Some("maintenance"));
        assert_eq!(Notification::cease_shutdown("").data.len(), 0);
        assert_eq!(Notification::cease_shutdown("").shutdown_message(), None);
    }

    #[test]
    fn shutdown_communication_truncates_on_char_boundary() {
        // 'é' is 2 octets: 200 of them are 400 octets; 127 fit in 255 (254 octets).
        let long = "é".repeat(200);
        let n = Notification::cease_shutdown(&long);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.data.len(), 255);
        assert_eq!(n.shutdown_message().unwrap(), "é".repeat(127));
        let ascii = "x".repeat(300);
        assert_eq!(Notification::cease_shutdown(&ascii).data[0], 255);
    }

    #[test]
    fn malformed_shutdown_communication_is_not_shown() {
        // Length beyond the data, invalid UTF-8, wrong subcode.
        assert_eq!(Notification::new(6, 2, vec![5, b'a']).shutdown_message(), None);
        assert_eq!(Notification::new(6, 2, vec![2, 0xff, 0xfe]).shutdown_message(), None);
        assert_eq!(Notification::new(6, 3, vec![1, b'a']).shutdown_message(), None);
        assert_eq!(Notification::new(6, 4, vec![1, b'a']).shutdown_message().as_deref(), Some("a"));
    }

    #[test]
    fn body_round_trip() {
        let n = Notification::new(3, 5, vec![0x40, 1, 2, 0, 0]);
        let mut b = Vec::new();
        n.encode_body(&mut b);
        assert_eq!(b, [3, 5, 0x40, 1, 2, 0, 0]);
        assert_eq!(n.body_len(), b.len());
        assert_eq!(Notification::decode_body(&b), Some(n));
        assert_eq!(Notification::decode_body(&[6]), None);
    }

    #[test]
    fn update_error_data_is_capped() {
        let e = UpdateError::new(update::OPTIONAL_ATTRIBUTE_ERROR, vec![0u8; 70_000], ErrorAction::SessionReset);
        assert_eq!(e.notification.data.len(), MAX_DATA_LEN);
        assert_eq!(e.to_string(), "UPDATE Message Error/Optional Attribute Error (session reset)");
    }
}
