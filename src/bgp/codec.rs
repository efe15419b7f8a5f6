//! Framing: `BgpCodec` finds message boundaries (marker, length, type) and hands bodies to the
//! typed decoders.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::message::{self, msg_type, EncodeError, Message};
use super::notification::{code, header, Notification};
use super::{HEADER_LEN, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};

/// What the two OPENs negotiated that changes the wire format after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodecParams {
    /// Both sides sent the 4-octet AS capability: AS_PATH carries 4-octet ASNs.
    pub four_octet_as: bool,
    /// 4096, or 65535 when both sides sent the extended message capability.
    pub max_message_len: usize,
}

impl Default for CodecParams {
    fn default() -> Self {
        CodecParams { four_octet_as: false, max_message_len: super::MAX_MESSAGE_LEN }
    }
}

impl CodecParams {
    /// The parameters after OPEN negotiation: each flag is true only if both sides sent the
    /// capability (RFC 6793 §3, RFC 8654 §3).
    pub fn negotiated(four_octet_as: bool, extended_message: bool) -> CodecParams {
        CodecParams {
            four_octet_as,
            max_message_len: if extended_message { MAX_EXTENDED_MESSAGE_LEN } else { MAX_MESSAGE_LEN },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something malformed: send this NOTIFICATION, then close.
    #[error("malformed message from peer: {0:#}")]
    Notify(Notification),
    /// A message rhi built cannot be sent (e.g. too long for the negotiated maximum).
    #[error("cannot encode message: {0}")]
    Encode(#[from] EncodeError),
}

impl From<Notification> for CodecError {
    fn from(n: Notification) -> CodecError {
        CodecError::Notify(n)
    }
}

/// tokio-util codec for one BGP session. Starts with the pre-OPEN parameters (2-octet AS_PATH,
/// 4096-octet messages); the session calls [`BgpCodec::set_params`] once the OPENs are exchanged.
#[derive(Clone, Debug, Default)]
pub struct BgpCodec {
    params: CodecParams,
}

impl BgpCodec {
    pub fn new() -> BgpCodec {
        BgpCodec::default()
    }

    pub fn with_params(params: CodecParams) -> BgpCodec {
        BgpCodec { params }
    }

    pub fn params(&self) -> &CodecParams {
        &self.params
    }

    pub fn set_params(&mut self, params: CodecParams) {
        self.params = params;
    }
}

/// The header checks of RFC 4271 §6.1 on the first 19 octets. Returns the message length and
/// type.
fn check_header(hdr: &[u8], params: &CodecParams) -> Result<(usize, u8), Notification> {
    let (marker, len_type) = hdr.split_at(16);
    if marker.iter().any(|b| *b != 0xff) {
        return Err(Notification::new(code::MESSAGE_HEADER, header::CONNECTION_NOT_SYNCHRONIZED, Bytes::new()));
    }
    let len = u16::from_be_bytes([len_type[0], len_type[1]]) as usize;
    let t = len_type[2];
    if !(HEADER_LEN..=params.max_message_len).contains(&len) {
        return Err(message::bad_length(len));
    }
    if !(msg_type::OPEN..=msg_type::ROUTE_REFRESH).contains(&t) {
        return Err(message::bad_type(t));
    }
    Ok((len, t))
}

impl Decoder for BgpCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        let Some(hdr) = src.get(..HEADER_LEN) else {
            src.reserve(HEADER_LEN - src.len());
            return Ok(None);
        };
        let (len, t) = check_header(hdr, &self.params)?;
        if let Err(e) = message::check_length(t, len) {
            // RFC 7313 §5 wants the whole message as data for a ROUTE-REFRESH of the wrong
            // length; it is at most `max_message_len` octets, so waiting for it is bounded.
            if t != msg_type::ROUTE_REFRESH {
                return Err(e.into());
            }
            if src.len() < len {
                src.reserve(len - src.len());
                return Ok(None);
            }
            return Err(message::route_refresh_length_error(&src[HEADER_LEN..len]).into());
        }
        if src.len() < len {
            // `len` was checked against the maximum: this never reserves more than 64 KiB.
            src.reserve(len - src.len());
            return Ok(None);
        }
        let frame = src.split_to(len);
        let msg = Message::decode(t, &frame[HEADER_LEN..], &self.params)?;
        Ok(Some(msg))
    }
}

impl Encoder<Message> for BgpCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(&self.params, dst).map_err(CodecError::Encode)
    }
}

impl Encoder<&Message> for BgpCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(&self.params, dst).map_err(CodecError::Encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::message::tests::{hex, P4};
    use crate::bgp::message::{Open, Update};
    use crate::bgp::notification::cease;
    use crate::bgp::Family;

    fn two_messages() -> Vec<u8> {
        let mut b = hex(include_str!("../../tests/fixtures/wire/rfc/update-ipv4.hex"));
        b.extend(hex(include_str!("../../tests/fixtures/wire/rfc/keepalive.hex")));
        b
    }

    #[test]
    fn frames_arrive_in_pieces() {
        let bytes = two_messages();
        let mut codec = BgpCodec::with_params(P4);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // One octet at a time: every split point of the header and the body.
        for b in &bytes {
            buf.extend_from_slice(&[*b]);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                out.push(m);
            }
        }
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0], Message::Update(_)));
        assert_eq!(out[1], Message::Keepalive);
        assert!(buf.is_empty());
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut codec = BgpCodec::with_params(P4);
        let mut buf = BytesMut::from(&two_messages()[..]);
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Message::Update(_))));
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Message::Keepalive));
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn never_reserves_beyond_the_declared_length() {
        let mut codec = BgpCodec::with_params(CodecParams::negotiated(true, true));
        let mut buf = BytesMut::from(&hex("ffffffffffffffffffffffffffffffff ffff 02")[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() <= MAX_EXTENDED_MESSAGE_LEN + 64, "capacity {}", buf.capacity());
    }

    fn big_update() -> Message {
        let withdrawn = (0..2000u32).map(|i| ipnet::Ipv4Net::new((i << 8).into(), 24).unwrap()).collect();
        Message::Update(Update { withdrawn, ..Update::default() })
    }

    #[test]
    fn extended_messages_only_after_negotiation() {
        let mut codec = BgpCodec::new();
        let mut buf = BytesMut::new();
        let err = codec.encode(big_update(), &mut buf).unwrap_err();
        assert!(matches!(err, CodecError::Encode(EncodeError::TooLong { max: 4096, .. })));
        assert!(buf.is_empty());
        codec.set_params(CodecParams::negotiated(false, true));
        assert_eq!(codec.params().max_message_len, 65535);
        codec.encode(big_update(), &mut buf).unwrap();
        let wire = buf.clone();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(big_update()));
        // The same bytes before negotiation: Bad Message Length, data = the length field.
        let mut buf = wire;
        let len = (buf.len() as u16).to_be_bytes();
        match BgpCodec::new().decode(&mut buf) {
            Err(CodecError::Notify(n)) => {
                assert_eq!((n.code, n.subcode, &n.data[..]), (1, 2, &len[..]))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn open_over_4096_is_refused_even_when_extended() {
        let mut codec = BgpCodec::with_params(CodecParams::negotiated(true, true));
        let mut msg = hex("ffffffffffffffffffffffffffffffff 1388 01"); // length 5000, OPEN
        msg.resize(5000, 0);
        match codec.decode(&mut BytesMut::from(&msg[..])) {
            Err(CodecError::Notify(n)) => {
                assert_eq!((n.code, n.subcode, &n.data[..]), (1, 2, &[0x13, 0x88][..]))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encoder_round_trips_every_type() {
        let msgs = vec![
            Message::Open(Open::new(65010, 90, "192.0.2.1".parse().unwrap(), vec![Capability::RouteRefresh])),
            Message::Update(Update::end_of_rib(Family::IPV6_UNICAST)),
            Message::Notification(Notification::cease_shutdown("bye")),
            Message::Keepalive,
            Message::RouteRefresh(crate::bgp::RouteRefresh::new(Family::IPV4_UNICAST)),
            Message::Notification(Notification::cease(cease::CONNECTION_COLLISION_RESOLUTION)),
        ];
        let mut codec = BgpCodec::with_params(P4);
        let mut buf = BytesMut::new();
        for m in &msgs {
            codec.encode(m, &mut buf).unwrap();
        }
        for m in msgs {
            assert_eq!(codec.decode(&mut buf).unwrap(), Some(m));
        }
    }

    #[test]
    fn codec_error_messages() {
        let e = CodecError::Notify(Notification::new(1, 2, vec![0, 18]));
        assert_eq!(e.to_string(), "malformed message from peer: Message Header Error/Bad Message Length: data 0012");
        let e: CodecError = std::io::Error::other("reset").into();
        assert!(matches!(e, CodecError::Io(_)));
    }

    use crate::bgp::capability::Capability;
}
