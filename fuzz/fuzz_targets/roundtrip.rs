//! Whatever the codec accepts must re-encode to bytes that decode to the same message (less the
//! treat-as-withdraw note, which only a received UPDATE carries).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rhi::bgp::{BgpCodec, CodecParams, Message};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    for params in [
        CodecParams::negotiated(false, false),
        CodecParams::negotiated(true, true),
    ] {
        let mut codec = BgpCodec::with_params(params);
        let mut buf = BytesMut::from(data);
        while let Ok(Some(msg)) = codec.decode(&mut buf) {
            let mut wire = BytesMut::new();
            if msg.encode(&params, &mut wire).is_err() {
                continue; // a merged AS path can outgrow the maximum: nothing to compare
            }
            assert_eq!(wire.len(), msg.encoded_len(&params));
            let mut expected = msg;
            if let Message::Update(u) = &mut expected {
                u.treat_as_withdraw = None;
            }
            let again = BgpCodec::with_params(params)
                .decode(&mut wire)
                .expect("re-encoded message decodes");
            assert_eq!(again, Some(expected));
        }
    }
});
