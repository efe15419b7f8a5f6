//! OPEN optional parameter type 2: capabilities (RFC 5492).

use bytes::Bytes;

use super::nlri::Family;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Code 1, RFC 4760.
    Multiprotocol(Family),
    /// Code 2, RFC 2918.
    RouteRefresh,
    /// Code 6, RFC 8654.
    ExtendedMessage,
    /// Code 65, RFC 6793.
    FourOctetAs(u32),
    /// Anything else: kept so it can be logged, otherwise ignored (RFC 5492 §3).
    Unknown { code: u8, value: Bytes },
}
