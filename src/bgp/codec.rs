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
        CodecParams {
            four_octet_as: false,
            max_message_len: super::MAX_MESSAGE_LEN,
        }
    }
}

impl CodecParams {
    /// The parameters after OPEN negotiation: each flag is true only if both sides sent the
    /// capability (RFC 6793 §3, RFC 8654 §3).
    pub fn negotiated(four_octet_as: bool, extended_message: bool) -> CodecParams {
        CodecParams {
            four_octet_as,
            max_message_len: if extended_message {
                MAX_EXTENDED_MESSAGE_LEN
            } else {
                MAX_MESSAGE_LEN
            },
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
        return Err(Notification::new(
            code::MESSAGE_HEADER,
            header::CONNECTION_NOT_SYNCHRONIZED,
            Bytes::new(),
        ));
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
            return Err(message::route_refresh_length_error(&src[..len]).into());
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
