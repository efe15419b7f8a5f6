//! Arbitrary bytes into `rhi::bfd::ControlPacket::decode`: it must answer and never panic, and a
//! packet it accepts must encode to bytes that decode to the same packet. The one exception is
//! the A bit: `encode` never writes an Authentication Section, so the re-encoded Length (24)
//! leaves no room for one and must be refused (rhi never sends A).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rhi::bfd::{ControlPacket, DecodeError};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = ControlPacket::decode(data) {
        let bytes = packet.encode();
        if packet.authentication_present {
            assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::BadLength { length: 24, datagram: 24 }));
        } else {
            assert_eq!(ControlPacket::decode(&bytes), Ok(packet), "{data:02x?}");
        }
    }
});
