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
        let start = buf.len();
        let result = self.encode_unchecked(params, buf).and_then(|()| {
            let len = buf.len() - start;
            let max = self.max_len(params).min(u16::MAX as usize);
            if len > max {
                return Err(EncodeError::TooLong { len, max });
            }
            buf[start + 16..start + 18].copy_from_slice(&(len as u16).to_be_bytes());
            Ok(())
        });
        if result.is_err() {
            buf.truncate(start);
        }
        result
    }

    fn encode_unchecked(
        &self,
        params: &CodecParams,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        buf.reserve(self.encoded_len(params).min(u16::MAX as usize));
        buf.put_bytes(0xff, 16);
        buf.put_u16(0); // length, patched once the body is written
        buf.put_u8(self.msg_type());
        match self {
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
    }

    /// Decodes a message body (everything after the 19-octet header). The error is the
    /// NOTIFICATION to send before closing the session. For UPDATE errors that RFC 7606 lets the
    /// session survive, the UPDATE is returned instead, with [`Update::treat_as_withdraw`] set or
    /// the malformed attribute dropped.
    pub fn decode(
        msg_type: u8,
        body: &[u8],
        params: &CodecParams,
    ) -> Result<Message, Notification> {
        if let Err(e) = check_length(msg_type, HEADER_LEN + body.len()) {
            if msg_type != msg_type::ROUTE_REFRESH {
                return Err(e);
            }
            // Rebuild the whole message: RFC 7313 §5 may want it as data.
            let mut whole = Vec::with_capacity(HEADER_LEN + body.len());
            whole.extend_from_slice(&[0xff; 16]);
            whole.extend_from_slice(
                &u16::try_from(HEADER_LEN + body.len())
                    .unwrap_or(u16::MAX)
                    .to_be_bytes(),
            );
            whole.push(msg_type);
            whole.extend_from_slice(body);
            return Err(route_refresh_length_error(&whole));
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
    Notification::new(
        code::MESSAGE_HEADER,
        header::BAD_MESSAGE_LENGTH,
        Bytes::copy_from_slice(&field.to_be_bytes()),
    )
}

/// Message Header Error / Bad Message Type; the data is the type octet.
pub(crate) fn bad_type(t: u8) -> Notification {
    Notification::new(
        code::MESSAGE_HEADER,
        header::BAD_MESSAGE_TYPE,
        Bytes::copy_from_slice(&[t]),
    )
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
        Open {
            version: BGP_VERSION,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            capabilities,
        }
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
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open::UNSUPPORTED_VERSION_NUMBER,
                vec![0, BGP_VERSION],
            ));
        }
        if self.hold_time == 1 || self.hold_time == 2 {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open::UNACCEPTABLE_HOLD_TIME,
                Bytes::new(),
            ));
        }
        if self.bgp_id.is_unspecified() {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open::BAD_BGP_IDENTIFIER,
                Bytes::new(),
            ));
        }
        if self.asn() == 0 || self.my_as == 0 {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open::BAD_PEER_AS,
                Bytes::new(),
            ));
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
            [v, a0, a1, h0, h1, i0, i1, i2, i3, params @ ..] => (
                (
                    *v,
                    u16::from_be_bytes([*a0, *a1]),
                    u16::from_be_bytes([*h0, *h1]),
                    [*i0, *i1, *i2, *i3],
                ),
                params,
            ),
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
            [a0, a1, _subtype, safi] => RouteRefresh {
                family: Family::new(u16::from_be_bytes([*a0, *a1]), *safi),
            },
            _ => RouteRefresh {
                family: Family::new(0, 0),
            },
        }
    }
}

/// ROUTE-REFRESH Message Error / Invalid Message Length, for a BoRR/EoRR (RFC 7313 subtypes 1
/// and 2) whose length is not 23; the data is the message. Other wrong lengths are Message
/// Header Error / Bad Message Length.
pub(crate) fn route_refresh_length_error(message: &[u8]) -> Notification {
    match message.get(HEADER_LEN + 2) {
        Some(1 | 2) => {
            let end = message.len().min(notification::MAX_DATA_LEN);
            Notification::new(
                code::ROUTE_REFRESH,
                route_refresh::INVALID_MESSAGE_LENGTH,
                Bytes::copy_from_slice(&message[..end]),
            )
        }
        _ => bad_length(message.len()),
    }
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
        Update {
            mp_unreach: Some(MpUnreach {
                family,
                withdrawn: Vec::new(),
            }),
            ..Update::default()
        }
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
        let mp = self
            .mp_unreach
            .iter()
            .flat_map(|u| u.withdrawn.iter().copied());
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
        let prefixes = |v: &[Ipv4Net]| {
            v.iter()
                .map(|p| nlri::encoded_len(p.prefix_len()))
                .sum::<usize>()
        };
        2 + prefixes(&self.withdrawn) + 2 + self.attributes_len(params) + prefixes(&self.nlri)
    }

    fn encode_body(&self, params: &CodecParams, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let too_long = |len| EncodeError::TooLong {
            len,
            max: params.max_message_len,
        };
        let withdrawn_len: usize = self
            .withdrawn
            .iter()
            .map(|p| nlri::encoded_len(p.prefix_len()))
            .sum();
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
        Update::decode_report(body, params)
            .map(|(u, _)| u)
            .map_err(|e| e.notification)
    }

    /// Like [`Update::decode`], but also says what was wrong: `Err` is an error whose action is
    /// a session reset; `Ok((update, Some(error)))` is the strongest error the session survives
    /// (treat-as-withdraw, already applied to `update`, or attribute discard).
    pub fn decode_report(
        body: &[u8],
        params: &CodecParams,
    ) -> Result<(Update, Option<UpdateError>), UpdateError> {
        let malformed = || {
            UpdateError::new(
                sub::MALFORMED_ATTRIBUTE_LIST,
                Bytes::new(),
                ErrorAction::SessionReset,
            )
        };
        let invalid_network = || {
            UpdateError::new(
                sub::INVALID_NETWORK_FIELD,
                Bytes::new(),
                ErrorAction::SessionReset,
            )
        };
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
                self.withdrawn
                    .extend(reach.nlri.into_iter().filter_map(|p| match p {
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
                            self.withdrawn.extend(u.withdrawn.into_iter().filter_map(
                                |p| match p {
                                    IpNet::V4(p) => Some(p),
                                    IpNet::V6(_) => None,
                                },
                            ));
                        }
                        *other = Some(MpUnreach {
                            family: reach.family,
                            withdrawn: reach.nlri,
                        });
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
    let announces =
        !update.nlri.is_empty() || update.mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
    if !announces {
        return Ok(());
    }
    for code in [ORIGIN, AS_PATH, NEXT_HOP] {
        let needed = code != NEXT_HOP || !update.nlri.is_empty();
        if needed && !present.contains(code) {
            report.record(
                sub::MISSING_WELL_KNOWN_ATTRIBUTE,
                &[code],
                ErrorAction::TreatAsWithdraw,
            )?;
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
