//! The five BGP message types (RFC 4271 §4, RFC 2918) as typed values.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net};

use super::attributes::{self, decode_attributes, ErrorReport, MpReach, MpUnreach, PathAttributes};
use super::capability::{self, Capability};
use super::codec::CodecParams;
use super::nlri::{self, Family};
use super::notification::{
    self, code, header, open, route_refresh, update as sub, ErrorAction, Notification, UpdateError,
};
use super::{AS_TRANS, HEADER_LEN, MAX_MESSAGE_LEN};

// UPDATE dominates the traffic, so it is the variant worth keeping inline: boxing it would cost an
// allocation per message and change the type every other module matches on.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// The 2-octet "My Autonomous System" field as sent: AS_TRANS when the real AS needs 4 octets.
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: PathAttributes,
    pub nlri: Vec<Ipv4Net>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// Set on a received UPDATE that RFC 7606 turned into a withdrawal: the NOTIFICATION RFC 4271
    /// would have sent (worth logging). The announced prefixes were moved to `withdrawn` /
    /// `mp_unreach` and the attributes cleared. Ignored when encoding.
    pub treat_as_withdraw: Option<Notification>,
}

/// ROUTE-REFRESH (RFC 2918). The octet between AFI and SAFI (reserved in RFC 2918, the message
/// subtype in RFC 7313) is accepted whatever its value: rhi does not advertise Enhanced Route
/// Refresh, so a peer has no reason to send anything but 0, and a request to re-send is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteRefresh {
    pub family: Family,
}

/// Message type codes (RFC 4271 §4.1, RFC 2918 §3).
pub mod msg_type {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// Smallest whole message of each type, header included (RFC 4271 §4, RFC 2918 §3).
pub const OPEN_MIN_LEN: usize = 29;
pub const UPDATE_MIN_LEN: usize = 23;
pub const NOTIFICATION_MIN_LEN: usize = 21;
pub const KEEPALIVE_LEN: usize = 19;
pub const ROUTE_REFRESH_LEN: usize = 23;

/// Why a message could not be encoded. Nothing is left in the output buffer when this happens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {len} octets exceeds the maximum of {max}")]
    TooLong { len: usize, max: usize },
    #[error("{0}")]
    Invalid(&'static str),
}

impl Message {
    pub fn msg_type(&self) -> u8 {
        match self {
            Message::Open(_) => msg_type::OPEN,
            Message::Update(_) => msg_type::UPDATE,
            Message::Notification(_) => msg_type::NOTIFICATION,
            Message::Keepalive => msg_type::KEEPALIVE,
            Message::RouteRefresh(_) => msg_type::ROUTE_REFRESH,
        }
    }

    /// The maximum size of this message under `params`: RFC 8654 §4 keeps OPEN (and KEEPALIVE)
    /// at 4096 octets even once Extended Message is negotiated.
    fn max_len(&self, params: &CodecParams) -> usize {
        match self {
            Message::Open(_) => params.max_message_len.min(MAX_MESSAGE_LEN),
            _ => params.max_message_len,
        }
    }

    /// Octets of the whole message, header included, as [`Message::encode`] writes it.
    pub fn encoded_len(&self, params: &CodecParams) -> usize {
        HEADER_LEN
            + match self {
                Message::Open(o) => o.body_len(),
                Message::Update(u) => u.body_len(params),
                Message::Notification(n) => n.body_len(),
                Message::Keepalive => 0,
                Message::RouteRefresh(_) => 4,
            }
    }

    /// Appends the whole message (marker, length, type, body). Fails, leaving `buf` as it was,
    /// when the message would exceed `params.max_message_len` or cannot be represented.
    pub fn encode(&self, params: &CodecParams, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let max = self.max_len(params).min(u16::MAX as usize);
        let len = self.encoded_len(params);
        if len > max {
            return Err(EncodeError::TooLong { len, max });
        }
        let start = buf.len();
        buf.reserve(len);
        buf.put_bytes(0xff, 16);
        buf.put_u16(len as u16);
        buf.put_u8(self.msg_type());
        let result = match self {
            Message::Open(o) => o.encode_body(buf),
            Message::Update(u) => u.encode_body(params, buf),
            Message::Notification(n) => {
                n.encode_body(buf);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(r) => {
                r.encode_body(buf);
                Ok(())
            }
        }
        .and_then(|()| {
            // encoded_len and the encoders walk the same fields; should they ever disagree, the
            // length field would desynchronize the stream, so refuse rather than send.
            if buf.len() - start == len {
                Ok(())
            } else {
                Err(EncodeError::Invalid("encoded length disagrees with encoded_len"))
            }
        });
        if result.is_err() {
            buf.truncate(start);
        }
        result
    }

    /// Decodes a message body (everything after the 19-octet header). The error is the
    /// NOTIFICATION to send before closing the session. For UPDATE errors that RFC 7606 lets the
    /// session survive, the UPDATE is returned instead, with [`Update::treat_as_withdraw`] set or
    /// the malformed attribute dropped.
    pub fn decode(msg_type: u8, body: &[u8], params: &CodecParams) -> Result<Message, Notification> {
        if let Err(e) = check_length(msg_type, HEADER_LEN + body.len()) {
            return Err(match msg_type {
                msg_type::ROUTE_REFRESH => route_refresh_length_error(body),
                _ => e,
            });
        }
        match msg_type {
            msg_type::OPEN => Open::decode(body).map(Message::Open),
            msg_type::UPDATE => Update::decode(body, params).map(Message::Update),
            msg_type::NOTIFICATION => Notification::decode_body(body)
                .map(Message::Notification)
                .ok_or_else(|| bad_length(HEADER_LEN + body.len())),
            msg_type::KEEPALIVE => Ok(Message::Keepalive),
            msg_type::ROUTE_REFRESH => Ok(Message::RouteRefresh(RouteRefresh::decode(body))),
            other => Err(bad_type(other)),
        }
    }
}

/// Message Header Error / Bad Message Length; the data is the erroneous Length field
/// (RFC 4271 §6.1).
pub(crate) fn bad_length(len: usize) -> Notification {
    let field = u16::try_from(len).unwrap_or(u16::MAX);
    Notification::new(code::MESSAGE_HEADER, header::BAD_MESSAGE_LENGTH, Bytes::copy_from_slice(&field.to_be_bytes()))
}

/// Message Header Error / Bad Message Type; the data is the type octet.
pub(crate) fn bad_type(t: u8) -> Notification {
    Notification::new(code::MESSAGE_HEADER, header::BAD_MESSAGE_TYPE, Bytes::copy_from_slice(&[t]))
}

/// The per-type length rules of RFC 4271 §6.1 (OPEN, UPDATE, NOTIFICATION, KEEPALIVE) and
/// RFC 2918 / RFC 7313 (ROUTE-REFRESH), on the length of the whole message.
pub(crate) fn check_length(t: u8, len: usize) -> Result<(), Notification> {
    let ok = match t {
        msg_type::OPEN => (OPEN_MIN_LEN..=MAX_MESSAGE_LEN).contains(&len),
        msg_type::UPDATE => len >= UPDATE_MIN_LEN,
        msg_type::NOTIFICATION => len >= NOTIFICATION_MIN_LEN,
        msg_type::KEEPALIVE => len == KEEPALIVE_LEN,
        msg_type::ROUTE_REFRESH => len == ROUTE_REFRESH_LEN,
        other => return Err(bad_type(other)),
    };
    if ok {
        Ok(())
    } else {
        Err(bad_length(len))
    }
}

// ---------------------------------------------------------------------------------------------
// OPEN

/// BGP version 4, the only one.
pub const BGP_VERSION: u8 = 4;

impl Open {
    /// An OPEN for `asn`: "My Autonomous System" holds AS_TRANS when `asn` needs 4 octets. The
    /// caller supplies the capabilities, including [`Capability::FourOctetAs`].
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Open {
        Open { version: BGP_VERSION, my_as: u16::try_from(asn).unwrap_or(AS_TRANS), hold_time, bgp_id, capabilities }
    }

    /// The peer's AS: the 4-octet AS capability if present (RFC 6793 §4.1), else "My AS".
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(self.my_as as u32)
    }

    /// The value of the 4-octet AS capability, if the OPEN has one.
    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    pub fn has_capability(&self, code: u8) -> bool {
        self.capabilities.iter().any(|c| c.code() == code)
    }

    pub fn supports_route_refresh(&self) -> bool {
        self.capabilities.contains(&Capability::RouteRefresh)
    }

    pub fn supports_extended_message(&self) -> bool {
        self.capabilities.contains(&Capability::ExtendedMessage)
    }

    /// The families of the Multiprotocol capabilities, in order, without duplicates.
    pub fn families(&self) -> Vec<Family> {
        let mut out = Vec::new();
        for c in &self.capabilities {
            if let Capability::Multiprotocol(f) = c {
                if !out.contains(f) {
                    out.push(*f);
                }
            }
        }
        out
    }

    /// The checks of RFC 4271 §6.2 that need nothing but the OPEN itself: version 4, a hold
    /// time of 0 or at least 3 s, a non-zero BGP Identifier (RFC 6286 §2.2), and an AS other
    /// than 0 (RFC 7607). Whether the AS is the expected one, and BGP Identifier collisions, are
    /// for the session to check.
    pub fn validate_basic(&self) -> Result<(), Notification> {
        if self.version != BGP_VERSION {
            // The data is the largest version we support (RFC 4271 §6.2).
            return Err(Notification::new(code::OPEN_MESSAGE, open::UNSUPPORTED_VERSION_NUMBER, vec![0, BGP_VERSION]));
        }
        if self.hold_time == 1 || self.hold_time == 2 {
            return Err(Notification::new(code::OPEN_MESSAGE, open::UNACCEPTABLE_HOLD_TIME, Bytes::new()));
        }
        if self.bgp_id.is_unspecified() {
            return Err(Notification::new(code::OPEN_MESSAGE, open::BAD_BGP_IDENTIFIER, Bytes::new()));
        }
        if self.asn() == 0 || self.my_as == 0 {
            return Err(Notification::new(code::OPEN_MESSAGE, open::BAD_PEER_AS, Bytes::new()));
        }
        Ok(())
    }

    fn body_len(&self) -> usize {
        9 + capability::optional_parameters_len(&self.capabilities)
    }

    fn encode_body(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        buf.put_u8(self.version);
        buf.put_u16(self.my_as);
        buf.put_u16(self.hold_time);
        buf.put_slice(&self.bgp_id.octets());
        capability::encode_optional_parameters(&self.capabilities, buf)
    }

    /// Decodes an OPEN body. Only its structure is checked here; see [`Open::validate_basic`].
    pub fn decode(body: &[u8]) -> Result<Open, Notification> {
        let (fixed, params) = match body {
            [v, a0, a1, h0, h1, i0, i1, i2, i3, params @ ..] => {
                ((*v, u16::from_be_bytes([*a0, *a1]), u16::from_be_bytes([*h0, *h1]), [*i0, *i1, *i2, *i3]), params)
            }
            _ => return Err(bad_length(HEADER_LEN + body.len())),
        };
        let (version, my_as, hold_time, id) = fixed;
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities: capability::decode_optional_parameters(params)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// ROUTE-REFRESH

impl RouteRefresh {
    pub fn new(family: Family) -> RouteRefresh {
        RouteRefresh { family }
    }

    fn encode_body(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.family.afi);
        buf.put_u8(0); // reserved / subtype "normal request"
        buf.put_u8(self.family.safi);
    }

    /// `body` is exactly 4 octets ([`check_length`] ran first); anything else decodes as afi 0.
    fn decode(body: &[u8]) -> RouteRefresh {
        match body {
            [a0, a1, _subtype, safi] => RouteRefresh { family: Family::new(u16::from_be_bytes([*a0, *a1]), *safi) },
            _ => RouteRefresh { family: Family::new(0, 0) },
        }
    }
}

/// A ROUTE-REFRESH whose length is not 23, given its body. RFC 7313 §5 answers a BoRR/EoRR
/// (subtypes 1 and 2) with ROUTE-REFRESH Message Error / Invalid Message Length carrying the
/// whole message; any other is a Message Header Error / Bad Message Length (RFC 4271 §6.1).
pub(crate) fn route_refresh_length_error(body: &[u8]) -> Notification {
    let len = HEADER_LEN + body.len();
    if !matches!(body.get(2), Some(1 | 2)) {
        return bad_length(len);
    }
    let mut data = Vec::with_capacity(len.min(notification::MAX_DATA_LEN));
    data.extend_from_slice(&[0xff; 16]);
    data.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    data.push(msg_type::ROUTE_REFRESH);
    data.extend_from_slice(body);
    data.truncate(notification::MAX_DATA_LEN);
    Notification::new(code::ROUTE_REFRESH, route_refresh::INVALID_MESSAGE_LENGTH, data)
}

// ---------------------------------------------------------------------------------------------
// UPDATE

impl Update {
    /// End-of-RIB (RFC 4724 §2): for IPv4 unicast an empty UPDATE, for any other family an
    /// UPDATE holding only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(family: Family) -> Update {
        if family == Family::IPV4_UNICAST {
            return Update::default();
        }
        Update { mp_unreach: Some(MpUnreach { family, withdrawn: Vec::new() }), ..Update::default() }
    }

    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        let bare = self.withdrawn.is_empty()
            && self.nlri.is_empty()
            && self.mp_reach.is_none()
            && self.attributes == PathAttributes::default()
            // An UPDATE emptied by treat-as-withdraw is not a marker.
            && self.treat_as_withdraw.is_none();
        if !bare {
            return None;
        }
        match &self.mp_unreach {
            None => Some(Family::IPV4_UNICAST),
            Some(u) if u.withdrawn.is_empty() => Some(u.family),
            Some(_) => None,
        }
    }

    /// All the prefixes this UPDATE announces, both NLRI fields together.
    pub fn announced(&self) -> impl Iterator<Item = IpNet> + '_ {
        let mp = self.mp_reach.iter().flat_map(|r| r.nlri.iter().copied());
        self.nlri.iter().map(|p| IpNet::V4(*p)).chain(mp)
    }

    /// All the prefixes this UPDATE withdraws, both fields together.
    pub fn withdrawn_prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        let mp = self.mp_unreach.iter().flat_map(|u| u.withdrawn.iter().copied());
        self.withdrawn.iter().map(|p| IpNet::V4(*p)).chain(mp)
    }

    /// Octets of the whole message, header included, as [`Message::encode`] writes it. The
    /// Adj-RIB-Out packs prefixes until this reaches the maximum message size; note that an
    /// MP_REACH/MP_UNREACH grows by one octet when its value passes 255 octets (Extended Length).
    pub fn encoded_len(&self, params: &CodecParams) -> usize {
        HEADER_LEN + self.body_len(params)
    }

    fn attributes_len(&self, params: &CodecParams) -> usize {
        self.mp_reach.as_ref().map_or(0, MpReach::encoded_len)
            + self.mp_unreach.as_ref().map_or(0, MpUnreach::encoded_len)
            + self.attributes.encoded_len(params)
    }

    fn body_len(&self, params: &CodecParams) -> usize {
        let prefixes = |v: &[Ipv4Net]| v.iter().map(|p| nlri::encoded_len(p.prefix_len())).sum::<usize>();
        2 + prefixes(&self.withdrawn) + 2 + self.attributes_len(params) + prefixes(&self.nlri)
    }

    fn encode_body(&self, params: &CodecParams, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let too_long = |len| EncodeError::TooLong { len, max: params.max_message_len };
        let withdrawn_len: usize = self.withdrawn.iter().map(|p| nlri::encoded_len(p.prefix_len())).sum();
        buf.put_u16(u16::try_from(withdrawn_len).map_err(|_| too_long(withdrawn_len))?);
        self.withdrawn.iter().for_each(|p| nlri::encode_v4(p, buf));
        let attributes_len = self.attributes_len(params);
        buf.put_u16(u16::try_from(attributes_len).map_err(|_| too_long(attributes_len))?);
        // RFC 7606 §5.1: the attributes carrying NLRI come first, so that a receiver can still
        // find them when a later attribute is malformed.
        if let Some(r) = &self.mp_reach {
            r.encode(buf)?;
        }
        if let Some(u) = &self.mp_unreach {
            u.encode(buf)?;
        }
        self.attributes.encode(params, buf)?;
        self.nlri.iter().for_each(|p| nlri::encode_v4(p, buf));
        Ok(())
    }

    /// Decodes an UPDATE body under RFC 7606: `Err` only when the session must be reset.
    pub fn decode(body: &[u8], params: &CodecParams) -> Result<Update, Notification> {
        Update::decode_report(body, params).map(|(u, _)| u).map_err(|e| e.notification)
    }

    /// Like [`Update::decode`], but also says what was wrong: `Err` is an error whose action is
    /// a session reset; `Ok((update, Some(error)))` is the strongest error the session survives
    /// (treat-as-withdraw, already applied to `update`, or attribute discard).
    pub fn decode_report(body: &[u8], params: &CodecParams) -> Result<(Update, Option<UpdateError>), UpdateError> {
        let malformed = || UpdateError::new(sub::MALFORMED_ATTRIBUTE_LIST, Bytes::new(), ErrorAction::SessionReset);
        let invalid_network = || UpdateError::new(sub::INVALID_NETWORK_FIELD, Bytes::new(), ErrorAction::SessionReset);
        // RFC 4271 §6.3: lengths that run past the message are a Malformed Attribute List; no
        // field after them can be located (RFC 7606 §4 keeps this a session reset).
        let (withdrawn_bytes, rest) = split_u16_prefixed(body).ok_or_else(malformed)?;
        let (attribute_bytes, nlri_bytes) = split_u16_prefixed(rest).ok_or_else(malformed)?;
        let withdrawn = nlri::decode_v4(withdrawn_bytes).map_err(|_| invalid_network())?;
        let nlri = nlri::decode_v4(nlri_bytes).map_err(|_| invalid_network())?;
        let mut report = ErrorReport::default();
        let decoded = decode_attributes(attribute_bytes, params, !nlri.is_empty(), &mut report)?;
        let mut update = Update {
            withdrawn,
            attributes: decoded.attributes,
            nlri,
            mp_reach: decoded.mp_reach,
            mp_unreach: decoded.mp_unreach,
            treat_as_withdraw: None,
        };
        check_mandatory(&update, &decoded.present, &mut report)?;
        if let Some(e) = &report.worst {
            if e.action == ErrorAction::TreatAsWithdraw {
                update.apply_treat_as_withdraw(e.notification.clone());
            }
        }
        Ok((update, report.worst))
    }

    /// RFC 7606 §2 treat-as-withdraw: every announced prefix becomes a withdrawal, the
    /// attributes go, and `notification` is kept for the log.
    fn apply_treat_as_withdraw(&mut self, notification: Notification) {
        let nlri = std::mem::take(&mut self.nlri);
        self.withdrawn.extend(nlri);
        if let Some(reach) = self.mp_reach.take() {
            if reach.family == Family::IPV4_UNICAST {
                self.withdrawn.extend(reach.nlri.into_iter().filter_map(|p| match p {
                    IpNet::V4(p) => Some(p),
                    IpNet::V6(_) => None,
                }));
            } else if !reach.nlri.is_empty() {
                match &mut self.mp_unreach {
                    Some(u) if u.family == reach.family => u.withdrawn.extend(reach.nlri),
                    other => {
                        // One MP_UNREACH per UPDATE: IPv4 withdrawals it held move to the IPv4
                        // field; any other family it held had no decodable prefixes.
                        if let Some(u) = other.take() {
                            self.withdrawn.extend(u.withdrawn.into_iter().filter_map(|p| match p {
                                IpNet::V4(p) => Some(p),
                                IpNet::V6(_) => None,
                            }));
                        }
                        *other = Some(MpUnreach { family: reach.family, withdrawn: reach.nlri });
                    }
                }
            }
        }
        self.attributes = PathAttributes::default();
        self.treat_as_withdraw = Some(notification);
    }
}

/// Splits `[len: u16][len octets][rest]`; None when the length runs past the data.
fn split_u16_prefixed(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = match data {
        [h, l, rest @ ..] => (u16::from_be_bytes([*h, *l]) as usize, rest),
        _ => return None,
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// RFC 4271 §6.3 / RFC 7606 §3(d): ORIGIN and AS_PATH must be present when the UPDATE announces
/// anything, NEXT_HOP when it announces IPv4 in the NLRI field (RFC 4760 §3 lets MP_REACH alone
/// do without). The data is the missing type code. LOCAL_PREF (mandatory on iBGP) is the
/// session's to check: the codec does not know the peer's AS.
fn check_mandatory(
    update: &Update,
    present: &attributes::TypeSet,
    report: &mut ErrorReport,
) -> Result<(), UpdateError> {
    use attributes::type_code::{AS_PATH, NEXT_HOP, ORIGIN};
    let announces = !update.nlri.is_empty() || update.mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
    if !announces {
        return Ok(());
    }
    for code in [ORIGIN, AS_PATH, NEXT_HOP] {
        let needed = code != NEXT_HOP || !update.nlri.is_empty();
        if needed && !present.contains(code) {
            report.record(sub::MISSING_WELL_KNOWN_ATTRIBUTE, &[code], ErrorAction::TreatAsWithdraw)?;
        }
    }
    Ok(())
}

impl From<Open> for Message {
    fn from(o: Open) -> Message {
        Message::Open(o)
    }
}

impl From<Update> for Message {
    fn from(u: Update) -> Message {
        Message::Update(u)
    }
}

impl From<Notification> for Message {
    fn from(n: Notification) -> Message {
        Message::Notification(n)
    }
}

impl From<RouteRefresh> for Message {
    fn from(r: RouteRefresh) -> Message {
        Message::RouteRefresh(r)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bgp::attributes::{AsPath, AsSegment, LargeCommunity, Origin, RawAttribute};
    use crate::bgp::codec::{BgpCodec, CodecError};
    use crate::bgp::notification::update as upd;
    use tokio_util::codec::Decoder;

    pub(crate) const P4: CodecParams = CodecParams { four_octet_as: true, max_message_len: 4096 };
    pub(crate) const P2: CodecParams = CodecParams { four_octet_as: false, max_message_len: 4096 };

    /// Hex with `#` comments and any whitespace, as in tests/fixtures/wire.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: String = s
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        assert!(digits.len() % 2 == 0, "odd number of hex digits");
        (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
    }

    fn decode_one(bytes: &[u8], params: CodecParams) -> Result<Message, CodecError> {
        let mut codec = BgpCodec::with_params(params);
        let mut buf = BytesMut::from(bytes);
        let msg = codec.decode(&mut buf)?.expect("a whole message");
        assert!(buf.is_empty(), "message shorter than its length field");
        Ok(msg)
    }

    fn encode(msg: &Message, params: CodecParams) -> Vec<u8> {
        let mut buf = BytesMut::new();
        msg.encode(&params, &mut buf).unwrap();
        assert_eq!(buf.len(), msg.encoded_len(&params), "encoded_len disagrees with encode");
        buf.to_vec()
    }

    /// Decodes the fixture, compares with `expected`, and re-encodes it byte for byte.
    fn fixture(text: &str, params: CodecParams, expected: Message) {
        let bytes = hex(text);
        assert_eq!(decode_one(&bytes, params).unwrap(), expected);
        assert_eq!(encode(&expected, params), bytes);
    }

    fn net4(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn rfc_open_as4() {
        let open = Open::new(
            4_200_000_006,
            90,
            Ipv4Addr::new(10, 25, 150, 10),
            vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::ExtendedMessage,
                Capability::FourOctetAs(4_200_000_006),
            ],
        );
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_006);
        assert_eq!(open.families(), vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
        assert!(open.supports_route_refresh() && open.supports_extended_message());
        assert_eq!(open.validate_basic(), Ok(()));
        fixture(include_str!("../../tests/fixtures/wire/rfc/open-as4.hex"), P2, Message::Open(open));
    }

    #[test]
    fn rfc_open_without_capabilities() {
        let open = Open::new(65010, 0, Ipv4Addr::new(192, 0, 2, 1), vec![]);
        assert_eq!((open.my_as, open.asn(), open.four_octet_as()), (65010, 65010, None));
        fixture(include_str!("../../tests/fixtures/wire/rfc/open-no-capabilities.hex"), P2, Message::Open(open));
    }

    #[test]
    fn rfc_open_with_graceful_restart() {
        use crate::bgp::capability::{GracefulRestartCap, GracefulRestartFamily};
        let gr = GracefulRestartCap {
            flags: GracefulRestartCap::RESTART_STATE,
            restart_time: 30,
            families: vec![
                GracefulRestartFamily { family: Family::IPV4_UNICAST, flags: GracefulRestartFamily::FORWARDING_STATE },
                GracefulRestartFamily { family: Family::IPV6_UNICAST, flags: 0 },
            ],
        };
        assert!(gr.restart_state() && gr.forwarding(Family::IPV4_UNICAST) && !gr.forwarding(Family::IPV6_UNICAST));
        let capabilities = vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::GracefulRestart(gr),
            Capability::FourOctetAs(65010),
        ];
        let open = Open::new(65010, 9, Ipv4Addr::new(10, 25, 150, 10), capabilities);
        fixture(include_str!("../../tests/fixtures/wire/rfc/open-graceful-restart.hex"), P2, Message::Open(open));
    }

    #[test]
    fn rfc_keepalive_notification_route_refresh() {
        fixture(include_str!("../../tests/fixtures/wire/rfc/keepalive.hex"), P2, Message::Keepalive);
        let shutdown = Notification::cease_shutdown("maintenance");
        fixture(
            include_str!("../../tests/fixtures/wire/rfc/notification-cease-shutdown.hex"),
            P4,
            Message::Notification(shutdown.clone()),
        );
        assert_eq!(shutdown.to_string(), "Cease/Administrative Shutdown");
        fixture(
            include_str!("../../tests/fixtures/wire/rfc/notification-hold-timer-expired.hex"),
            P4,
            Message::Notification(Notification::hold_timer_expired()),
        );
        fixture(
            include_str!("../../tests/fixtures/wire/rfc/route-refresh-ipv6.hex"),
            P4,
            Message::RouteRefresh(RouteRefresh::new(Family::IPV6_UNICAST)),
        );
    }

    fn vip_attributes() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65010])),
            med: Some(300),
            ..Default::default()
        }
    }

    #[test]
    fn rfc_update_ipv4() {
        let update = Update {
            attributes: PathAttributes {
                next_hop: Some(Ipv4Addr::new(10, 25, 150, 10)),
                communities: vec![0xFDE8_002E, 0xFFFF_FF01],
                large_communities: vec![LargeCommunity::new(65010, 1, 2)],
                ..vip_attributes()
            },
            nlri: vec![net4("10.46.46.46/32"), net4("10.46.46.47/32")],
            ..Default::default()
        };
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-ipv4.hex"), P4, Message::Update(update));
        let withdraw = Update { withdrawn: vec![net4("10.46.46.46/32")], ..Default::default() };
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-ipv4-withdraw.hex"), P4, Message::Update(withdraw));
    }

    #[test]
    fn rfc_update_ipv6() {
        let update = Update {
            attributes: vip_attributes(),
            mp_reach: Some(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: "2001:db8::10".parse().unwrap(),
                link_local_next_hop: None,
                nlri: vec![net("2001:db8:46::46/128")],
            }),
            ..Default::default()
        };
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-ipv6.hex"), P4, Message::Update(update));
        let withdraw = Update {
            mp_unreach: Some(MpUnreach { family: Family::IPV6_UNICAST, withdrawn: vec![net("2001:db8:46::46/128")] }),
            ..Default::default()
        };
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-ipv6-withdraw.hex"), P4, Message::Update(withdraw));
    }

    #[test]
    fn rfc_end_of_rib() {
        let eor4 = Update::end_of_rib(Family::IPV4_UNICAST);
        let eor6 = Update::end_of_rib(Family::IPV6_UNICAST);
        assert_eq!(eor4.end_of_rib_family(), Some(Family::IPV4_UNICAST));
        assert_eq!(eor6.end_of_rib_family(), Some(Family::IPV6_UNICAST));
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-eor-ipv4.hex"), P4, Message::Update(eor4));
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-eor-ipv6.hex"), P4, Message::Update(eor6));
        let not_eor = Update { withdrawn: vec![net4("10.0.0.0/8")], ..Default::default() };
        assert_eq!(not_eor.end_of_rib_family(), None);
        let not_eor = Update {
            mp_unreach: Some(MpUnreach { family: Family::IPV6_UNICAST, withdrawn: vec![net("::/0")] }),
            ..Default::default()
        };
        assert_eq!(not_eor.end_of_rib_family(), None);
        let with_attrs = Update { attributes: vip_attributes(), ..Default::default() };
        assert_eq!(with_attrs.end_of_rib_family(), None);
        let emptied = Update { treat_as_withdraw: Some(Notification::new(3, 1, Bytes::new())), ..Default::default() };
        assert_eq!(emptied.end_of_rib_family(), None);
    }

    #[test]
    fn rfc_update_toward_old_peer() {
        let update = Update {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(vec![4_200_000_006, 65001])),
                next_hop: Some(Ipv4Addr::new(10, 25, 150, 10)),
                ..Default::default()
            },
            nlri: vec![net4("198.51.100.0/24")],
            ..Default::default()
        };
        fixture(include_str!("../../tests/fixtures/wire/rfc/update-as4-to-old-peer.hex"), P2, Message::Update(update));
    }

    #[test]
    fn too_long_messages_are_refused_and_leave_no_bytes() {
        let update = Update {
            attributes: vip_attributes(),
            withdrawn: (0..1100u32).map(|i| Ipv4Net::new(Ipv4Addr::from(i << 8), 24).unwrap()).collect(),
            ..Default::default()
        };
        let msg = Message::Update(update);
        let mut buf = BytesMut::from(&b"queued"[..]);
        let err = msg.encode(&P4, &mut buf).unwrap_err();
        assert_eq!(err, EncodeError::TooLong { len: msg.encoded_len(&P4), max: 4096 });
        assert_eq!(&buf[..], b"queued");
        let extended = CodecParams::negotiated(true, true);
        msg.encode(&extended, &mut buf).unwrap();
        assert_eq!(buf.len(), 6 + msg.encoded_len(&extended));
        // RFC 8654 §4: an OPEN stays within 4096 octets whatever was negotiated.
        let big_caps =
            (0..20).map(|c| Capability::Unknown { code: 100 + c, value: Bytes::from(vec![0; 250]) }).collect();
        let open = Message::Open(Open::new(65010, 90, Ipv4Addr::new(192, 0, 2, 1), big_caps));
        assert!(matches!(open.encode(&extended, &mut BytesMut::new()), Err(EncodeError::TooLong { max: 4096, .. })));
    }

    #[test]
    fn open_validate_basic() {
        let ok = Open::new(65010, 90, Ipv4Addr::new(192, 0, 2, 1), vec![]);
        let check = |o: Open| o.validate_basic().map_err(|n| (n.code, n.subcode, n.data.to_vec()));
        assert_eq!(check(ok.clone()), Ok(()));
        assert_eq!(check(Open { version: 3, ..ok.clone() }), Err((2, 1, vec![0, 4])));
        assert_eq!(check(Open { hold_time: 2, ..ok.clone() }), Err((2, 6, vec![])));
        assert_eq!(check(Open { hold_time: 3, ..ok.clone() }), Ok(()));
        assert_eq!(check(Open { bgp_id: Ipv4Addr::UNSPECIFIED, ..ok.clone() }), Err((2, 3, vec![])));
        assert_eq!(check(Open { my_as: 0, ..ok.clone() }), Err((2, 2, vec![])));
        assert_eq!(
            check(Open { my_as: AS_TRANS, capabilities: vec![Capability::FourOctetAs(0)], ..ok.clone() }),
            Err((2, 2, vec![]))
        );
    }

    // ---- RFC 4271 §6 / RFC 7606 error table -------------------------------------------------

    const ORIGIN: &[u8] = &[0x40, 1, 1, 0];
    const AS_PATH: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xee];
    const NEXT_HOP: &[u8] = &[0x40, 3, 4, 192, 0, 2, 6];
    const NLRI: &[u8] = &[32, 10, 46, 46, 46];

    fn message(t: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
        m.push(t);
        m.extend_from_slice(body);
        m
    }

    fn update_body(withdrawn: &[u8], attrs: &[&[u8]], nlri: &[u8]) -> Vec<u8> {
        let attrs: Vec<u8> = attrs.concat();
        let mut b = (withdrawn.len() as u16).to_be_bytes().to_vec();
        b.extend_from_slice(withdrawn);
        b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        b.extend_from_slice(&attrs);
        b.extend_from_slice(nlri);
        b
    }

    fn update(attrs: &[&[u8]]) -> Vec<u8> {
        message(msg_type::UPDATE, &update_body(&[], attrs, NLRI))
    }

    struct Case {
        name: &'static str,
        msg: Vec<u8>,
        params: CodecParams,
        code: u8,
        subcode: u8,
        data: Vec<u8>,
        action: ErrorAction,
    }

    fn case(name: &'static str, msg: Vec<u8>, code: u8, subcode: u8, data: &[u8], action: ErrorAction) -> Case {
        Case { name, msg, params: P4, code, subcode, data: data.to_vec(), action }
    }

    /// One line per RFC 4271 §6 case: the message, then the NOTIFICATION (code, subcode, data)
    /// RFC 4271 prescribes and the action RFC 7606 replaces it with.
    #[rustfmt::skip]
    fn error_cases() -> Vec<Case> {
        use ErrorAction::*;
        let mp_reach_v6 = |nh_len: u8, nh: &[u8], nlri: &[u8]| {
            let value = [&[0, 2, 1, nh_len][..], nh, &[0], nlri].concat();
            [&[0x80, 14, value.len() as u8][..], &value].concat()
        };
        let v6_nh = hex("20010db8000000000000000000000006");
        let reach = mp_reach_v6(16, &v6_nh, &hex("30 20010db80046"));
        let reach_bad_nh = mp_reach_v6(4, &[10, 0, 0, 1], &[]);
        let reach_bad_prefix = mp_reach_v6(16, &v6_nh, &[129]);
        let mp_only = |attrs: &[&[u8]]| message(msg_type::UPDATE, &update_body(&[], attrs, &[]));
        let with_nlri = |nlri: &[u8]| message(msg_type::UPDATE, &update_body(&[], &[ORIGIN, AS_PATH, NEXT_HOP], nlri));
        let borr = message(msg_type::ROUTE_REFRESH, &[0, 1, 1, 1, 0]);
        let mut bad_marker = message(msg_type::KEEPALIVE, &[]);
        bad_marker[3] = 0xfe;
        let mut short = message(msg_type::KEEPALIVE, &[]);
        short[17] = 18;
        let mut long = message(msg_type::UPDATE, &update_body(&[], &[], &[]));
        long[16..18].copy_from_slice(&4097u16.to_be_bytes());
        let big = with_nlri(&[24, 10, 0, 0].repeat(1200));
        let big_len = (big.len() as u16).to_be_bytes();
        let open_body = |params: &str| message(msg_type::OPEN, &hex(&format!("04 fdf2 005a c0000201 {params}")));
        let old_peer_as4_path = Case {
            name: "AS4_PATH malformed (OLD peer)",
            msg: update(&[ORIGIN, &[0x40, 2, 4, 2, 1, 0x5b, 0xa0], NEXT_HOP, &[0xc0, 17, 2, 2, 0]]),
            params: P2, code: 3, subcode: 9, data: vec![0xc0, 17, 2, 2, 0], action: AttributeDiscard,
        };
        vec![
            // §6.1 Message Header errors: always a session reset.
            case("bad marker",                  bad_marker,                                   1, 1, &[],            SessionReset),
            case("length below 19",             short,                                        1, 2, &[0, 18],       SessionReset),
            case("length above 4096",           long,                                         1, 2, &[0x10, 0x01],  SessionReset),
            case("extended length, not agreed", big,                                          1, 2, &big_len,       SessionReset),
            case("KEEPALIVE with a body",       message(msg_type::KEEPALIVE, &[0]),           1, 2, &[0, 20],       SessionReset),
            case("OPEN below 29",               message(msg_type::OPEN, &[4, 0xfd, 0xf2, 0, 90, 1, 2, 3]), 1, 2, &[0, 27], SessionReset),
            case("UPDATE below 23",             message(msg_type::UPDATE, &[0, 0, 0]),        1, 2, &[0, 22],       SessionReset),
            case("NOTIFICATION below 21",       message(msg_type::NOTIFICATION, &[6]),        1, 2, &[0, 20],       SessionReset),
            case("ROUTE-REFRESH not 23",        message(msg_type::ROUTE_REFRESH, &[0, 1, 0, 1, 0]), 1, 2, &[0, 24], SessionReset),
            case("BoRR not 23 (RFC 7313)",      borr.clone(),                                 7, 1, &borr,          SessionReset),
            case("unknown type 6",              message(6, &[]),                              1, 3, &[6],           SessionReset),
            case("unknown type 0",              message(0, &[]),                              1, 3, &[0],           SessionReset),
            // §6.2 OPEN errors the codec sees (the rest: Open::validate_basic and the FSM).
            case("unsupported optional param",  open_body("03 01 01 00"),                     2, 4, &[],            SessionReset),
            case("malformed capability",        open_body("04 02 02 41 02"),                  2, 0, &[],            SessionReset),
            // §6.3 UPDATE errors.
            case("withdrawn length overrun",    message(msg_type::UPDATE, &[0, 9, 0, 0]),     3, 1, &[],            SessionReset),
            case("attribute length overrun",    message(msg_type::UPDATE, &[0, 0, 0, 9, 0x40]), 3, 1, &[],          SessionReset),
            case("duplicate ORIGIN",            update(&[ORIGIN, AS_PATH, ORIGIN, NEXT_HOP]), 3, 1, &[],            AttributeDiscard),
            case("duplicate MP_REACH_NLRI",     mp_only(&[&reach, ORIGIN, AS_PATH, &reach]),  3, 1, &[],            SessionReset),
            case("attribute header truncated",  update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 5]]), 3, 1, &[],        TreatAsWithdraw),
            case("unrecognized well-known",     update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 99, 1, 7]]), 3, 2, &[0x40, 99, 1, 7], TreatAsWithdraw),
            case("missing ORIGIN",              update(&[AS_PATH, NEXT_HOP]),                 3, 3, &[1],           TreatAsWithdraw),
            case("missing AS_PATH",             update(&[ORIGIN, NEXT_HOP]),                  3, 3, &[2],           TreatAsWithdraw),
            case("missing NEXT_HOP",            update(&[ORIGIN, AS_PATH]),                   3, 3, &[3],           TreatAsWithdraw),
            case("ORIGIN flags",                update(&[&[0xc0, 1, 1, 0], AS_PATH, NEXT_HOP]), 3, 4, &[0xc0, 1, 1, 0], TreatAsWithdraw),
            case("MED flags",                   update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 4, 4, 0, 0, 0, 1]]), 3, 4, &[0x40, 4, 4, 0, 0, 0, 1], TreatAsWithdraw),
            case("COMMUNITIES flags",           update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x80, 8, 4, 0, 0, 0, 1]]), 3, 4, &[0x80, 8, 4, 0, 0, 0, 1], TreatAsWithdraw),
            case("ORIGIN length",               update(&[&[0x40, 1, 2, 0, 0], AS_PATH, NEXT_HOP]), 3, 5, &[0x40, 1, 2, 0, 0], TreatAsWithdraw),
            case("NEXT_HOP length",             update(&[ORIGIN, AS_PATH, &[0x40, 3, 3, 10, 0, 0]]), 3, 5, &[0x40, 3, 3, 10, 0, 0], TreatAsWithdraw),
            case("MED length",                  update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x80, 4, 2, 0, 1]]), 3, 5, &[0x80, 4, 2, 0, 1], TreatAsWithdraw),
            case("LOCAL_PREF length",           update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 5, 0]]), 3, 5, &[0x40, 5, 0], TreatAsWithdraw),
            case("COMMUNITIES length",          update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 8, 3, 0, 0, 1]]), 3, 5, &[0xc0, 8, 3, 0, 0, 1], TreatAsWithdraw),
            case("LARGE_COMMUNITIES length",    update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 32, 4, 0, 0, 0, 1]]), 3, 5, &[0xc0, 32, 4, 0, 0, 0, 1], TreatAsWithdraw),
            case("EXTENDED_COMMUNITIES length", update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 16, 4, 0, 2, 0, 1]]), 3, 5, &[0xc0, 16, 4, 0, 2, 0, 1], TreatAsWithdraw),
            case("ORIGINATOR_ID length",        update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x80, 9, 3, 1, 2, 3]]), 3, 5, &[0x80, 9, 3, 1, 2, 3], TreatAsWithdraw),
            case("ATOMIC_AGGREGATE length",     update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 6, 1, 0]]), 3, 5, &[0x40, 6, 1, 0], AttributeDiscard),
            case("AGGREGATOR length",           update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 7, 6, 0xfd, 0xee, 10, 0, 0, 1]]), 3, 5, &[0xc0, 7, 6, 0xfd, 0xee, 10, 0, 0, 1], AttributeDiscard),
            case("attribute value overrun",     update(&[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 8, 8, 0, 0, 0, 1]]), 3, 5, &[0xc0, 8, 8, 0, 0, 0, 1], TreatAsWithdraw),
            case("invalid ORIGIN",              update(&[&[0x40, 1, 1, 3], AS_PATH, NEXT_HOP]), 3, 6, &[0x40, 1, 1, 3], TreatAsWithdraw),
            case("NEXT_HOP 0.0.0.0",            update(&[ORIGIN, AS_PATH, &[0x40, 3, 4, 0, 0, 0, 0]]), 3, 8, &[0x40, 3, 4, 0, 0, 0, 0], TreatAsWithdraw),
            case("NEXT_HOP multicast",          update(&[ORIGIN, AS_PATH, &[0x40, 3, 4, 224, 0, 0, 5]]), 3, 8, &[0x40, 3, 4, 224, 0, 0, 5], TreatAsWithdraw),
            case("MP_REACH next hop length",    mp_only(&[&reach_bad_nh, ORIGIN, AS_PATH]),   3, 9, &reach_bad_nh,  SessionReset),
            case("MP_REACH bad prefix",         mp_only(&[&reach_bad_prefix, ORIGIN, AS_PATH]), 3, 9, &reach_bad_prefix, SessionReset),
            case("MP_UNREACH truncated",        mp_only(&[&[0x80, 15, 2, 0, 2]]),             3, 9, &[0x80, 15, 2, 0, 2], SessionReset),
            old_peer_as4_path,
            case("NLRI prefix length 33",       with_nlri(&[33, 1, 2, 3, 4, 5]),              3, 10, &[],           SessionReset),
            case("NLRI truncated",              with_nlri(&[24, 10, 0]),                      3, 10, &[],           SessionReset),
            case("withdrawn prefix length 40",  message(msg_type::UPDATE, &update_body(&[40, 1, 2, 3, 4, 5], &[], &[])), 3, 10, &[], SessionReset),
            case("AS_PATH segment length 0",    update(&[ORIGIN, &[0x40, 2, 2, 2, 0], NEXT_HOP]), 3, 11, &[],       TreatAsWithdraw),
            case("AS_PATH segment overrun",     update(&[ORIGIN, &[0x40, 2, 6, 2, 2, 0, 0, 0xfd, 0xee], NEXT_HOP]), 3, 11, &[], TreatAsWithdraw),
            case("AS_PATH trailing octet",      update(&[ORIGIN, &[0x40, 2, 7, 2, 1, 0, 0, 0xfd, 0xee, 2], NEXT_HOP]), 3, 11, &[], TreatAsWithdraw),
            case("AS_PATH segment type 5",      update(&[ORIGIN, &[0x40, 2, 6, 5, 1, 0, 0, 0xfd, 0xee], NEXT_HOP]), 3, 11, &[], TreatAsWithdraw),
            case("AS_PATH confederation",       update(&[ORIGIN, &[0x40, 2, 6, 3, 1, 0, 0, 0xfd, 0xee], NEXT_HOP]), 3, 11, &[], TreatAsWithdraw),
        ]
    }

    #[test]
    fn rfc4271_section6_error_table() {
        for c in error_cases() {
            let expected = Notification::new(c.code, c.subcode, c.data.clone());
            let decoded = decode_one(&c.msg, c.params);
            match (c.action, decoded) {
                (ErrorAction::SessionReset, Err(CodecError::Notify(n))) => {
                    assert_eq!(n, expected, "{}", c.name)
                }
                (ErrorAction::TreatAsWithdraw, Ok(Message::Update(u))) => {
                    assert_eq!(u.treat_as_withdraw.as_ref(), Some(&expected), "{}", c.name);
                    assert_eq!(u.attributes, PathAttributes::default(), "{}", c.name);
                    assert!(u.nlri.is_empty() && u.mp_reach.is_none(), "{}", c.name);
                }
                (ErrorAction::AttributeDiscard, Ok(Message::Update(u))) => {
                    assert_eq!(u.treat_as_withdraw, None, "{}", c.name);
                    assert!(!u.nlri.is_empty(), "{}: routes must survive", c.name);
                }
                (action, other) => panic!("{}: expected {action} with {expected:#}, got {other:?}", c.name),
            }
            // The same code, subcode, data and action through the reporting decoder.
            if c.msg[18] == msg_type::UPDATE && c.code == code::UPDATE_MESSAGE {
                let err = match Update::decode_report(&c.msg[HEADER_LEN..], &c.params) {
                    Err(e) => e,
                    Ok((_, Some(e))) => e,
                    Ok((u, None)) => panic!("{}: no error reported for {u:?}", c.name),
                };
                assert_eq!(err, UpdateError { notification: expected, action: c.action }, "{}", c.name);
            }
        }
    }

    #[test]
    fn message_decode_without_the_codec() {
        // The same per-type length rules apply when a body is handed over directly.
        let borr = Message::decode(msg_type::ROUTE_REFRESH, &[0, 1, 1, 1, 0], &P4).unwrap_err();
        assert_eq!((borr.code, borr.subcode), (7, 1));
        assert_eq!(&borr.data[..], &message(msg_type::ROUTE_REFRESH, &[0, 1, 1, 1, 0])[..]);
        let n = Message::decode(msg_type::KEEPALIVE, &[1], &P4).unwrap_err();
        assert_eq!((n.code, n.subcode, &n.data[..]), (1, 2, &[0, 20][..]));
        assert_eq!(Message::decode(9, &[], &P4).unwrap_err(), bad_type(9));
        assert_eq!(Message::decode(msg_type::KEEPALIVE, &[], &P4), Ok(Message::Keepalive));
        // RFC 7313 subtype octets are accepted on a well-sized refresh.
        let rr = Message::decode(msg_type::ROUTE_REFRESH, &[0, 2, 255, 1], &P4).unwrap();
        assert_eq!(rr, Message::RouteRefresh(RouteRefresh::new(Family::IPV6_UNICAST)));
    }

    #[test]
    fn treat_as_withdraw_moves_every_announced_prefix() {
        let reach = hex("80 0e 1c 0002 01 10 20010db8000000000000000000000006 00 30 20010db80046");
        let unreach = hex("80 0f 0a 0002 01 30 20010db80047");
        let body = update_body(&[24, 10, 1, 1], &[&reach, &unreach, &[0x40, 1, 1, 7], AS_PATH, NEXT_HOP], NLRI);
        let (u, err) = Update::decode_report(&body, &P4).unwrap();
        assert_eq!(
            err.map(|e| (e.notification.subcode, e.action)),
            Some((upd::INVALID_ORIGIN_ATTRIBUTE, ErrorAction::TreatAsWithdraw))
        );
        assert_eq!(u.withdrawn, vec![net4("10.1.1.0/24"), net4("10.46.46.46/32")]);
        assert_eq!(u.nlri, vec![]);
        assert_eq!(u.mp_reach, None);
        assert_eq!(
            u.mp_unreach,
            Some(MpUnreach {
                family: Family::IPV6_UNICAST,
                withdrawn: vec![net("2001:db8:47::/48"), net("2001:db8:46::/48")]
            })
        );
        assert_eq!(u.attributes, PathAttributes::default());
        assert_eq!(u.treat_as_withdraw.unwrap().subcode, upd::INVALID_ORIGIN_ATTRIBUTE);
        // A flags error on MP_REACH_NLRI itself still lets its NLRI be withdrawn.
        let mut bad_flags = reach.clone();
        bad_flags[0] = 0xc0;
        let body = update_body(&[], &[&bad_flags, ORIGIN, AS_PATH], &[]);
        let u = Update::decode(&body, &P4).unwrap();
        assert_eq!(u.mp_unreach.unwrap().withdrawn, vec![net("2001:db8:46::/48")]);
        // IPv4 in MP_REACH joins the IPv4 withdrawn field.
        let reach4 = hex("80 0e 0e 0001 01 04 c0000206 00 20 0a2e2e2e");
        let body = update_body(&[], &[&reach4, &[0x40, 1, 2, 0, 0], AS_PATH], &[]);
        let u = Update::decode(&body, &P4).unwrap();
        assert_eq!(u.withdrawn, vec![net4("10.46.46.46/32")]);
    }

    #[test]
    fn mp_reach_alone_needs_no_next_hop() {
        let reach = hex("80 0e 1c 0002 01 10 20010db8000000000000000000000006 00 30 20010db80046");
        let (u, err) = Update::decode_report(&update_body(&[], &[&reach, ORIGIN, AS_PATH], &[]), &P4).unwrap();
        assert_eq!(err, None);
        assert_eq!(u.announced().collect::<Vec<_>>(), vec![net("2001:db8:46::/48")]);
        // A NEXT_HOP beside MP_REACH alone is ignored, even an invalid one (RFC 4760 §3).
        let body = update_body(&[], &[&reach, ORIGIN, AS_PATH, &[0x40, 3, 4, 0, 0, 0, 0]], &[]);
        assert_eq!(Update::decode_report(&body, &P4).unwrap().1, None);
        // Withdrawals need no attributes at all.
        let body = update_body(&[32, 10, 46, 46, 46], &[], &[]);
        assert_eq!(Update::decode_report(&body, &P4).unwrap().1, None);
    }

    #[test]
    fn discarded_attributes_keep_the_route() {
        let body =
            update_body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 6, 1, 0], &[0xc0, 8, 4, 0xfd, 0xee, 0, 1]], NLRI);
        let u = Update::decode(&body, &P4).unwrap();
        assert!(!u.attributes.atomic_aggregate);
        assert_eq!(u.attributes.communities, vec![0xfdee_0001]);
        assert_eq!(u.nlri, vec![net4("10.46.46.46/32")]);
        // The first copy of a duplicate wins.
        let body = update_body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 1, 1, 2]], NLRI);
        assert_eq!(Update::decode(&body, &P4).unwrap().attributes.origin, Some(Origin::Igp));
    }

    #[test]
    fn unknown_family_is_kept_without_nlri() {
        let reach = hex("80 0e 14 0001 80 0c 0000000000000000c0000206 00 58 01 02");
        let u = Update::decode(&update_body(&[], &[&reach], &[]), &P4).unwrap();
        let r = u.mp_reach.unwrap();
        assert_eq!((r.family, r.nlri.len()), (Family::new(1, 128), 0));
    }

    #[test]
    fn as4_path_merged_from_old_speaker() {
        // AS_PATH 65001 AS_TRANS 65002, AS4_PATH 4200000013 65002.
        let body = update_body(
            &[],
            &[ORIGIN, &hex("40 02 08 02 03 fde9 5ba0 fdea"), NEXT_HOP, &hex("c0 11 0a 02 02 fa56ea0d 0000fdea")],
            NLRI,
        );
        let u = Update::decode(&body, &P2).unwrap();
        assert_eq!(u.attributes.as_path, Some(AsPath::sequence(vec![65001, 4_200_000_013, 65002])));
        assert_eq!(u.attributes.unknown, vec![]);
    }

    #[test]
    fn unknown_transitive_attributes_round_trip_with_partial() {
        let body = update_body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 35, 4, 0, 0, 0xfd, 0xee]], NLRI);
        let u = Update::decode(&body, &P4).unwrap();
        assert_eq!(
            u.attributes.unknown,
            vec![RawAttribute { flags: 0xe0, type_code: 35, value: Bytes::from_static(&[0, 0, 0xfd, 0xee]) }]
        );
        let mut buf = BytesMut::new();
        Message::Update(u).encode(&P4, &mut buf).unwrap();
        assert!(buf.windows(7).any(|w| w == [0xe0, 35, 4, 0, 0, 0xfd, 0xee]));
    }

    #[test]
    fn sets_survive_in_as_path() {
        let body = update_body(&[], &[ORIGIN, &hex("40 02 10 02 01 0000fdee 01 02 00000001 00000002"), NEXT_HOP], NLRI);
        let u = Update::decode(&body, &P4).unwrap();
        let path = u.attributes.as_path.unwrap();
        assert_eq!(path.segments, vec![AsSegment::Sequence(vec![65006]), AsSegment::Set(vec![1, 2])]);
        assert_eq!(path.len(), 2);
    }
}
