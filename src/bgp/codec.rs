//! Framing: `BgpCodec` finds message boundaries (marker, length, type) and hands bodies to the
//! typed decoders.

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
