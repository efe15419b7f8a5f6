//! Arbitrary bytes into `BgpCodec::decode`, under the pre-OPEN parameters and under 4-octet AS
//! with extended messages: it must return messages or a NOTIFICATION, never panic, and never
//! hold more than one message's worth of buffer.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rhi::bgp::{BgpCodec, CodecParams};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    for params in [CodecParams::default(), CodecParams::negotiated(true, true)] {
        let mut codec = BgpCodec::with_params(params);
        let mut buf = BytesMut::from(data);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        assert!(buf.capacity() <= data.len().max(65_535) + 64);
    }
});
