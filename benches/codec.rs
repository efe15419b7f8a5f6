//! UPDATE encode/decode throughput through rhi's real send path, for N /32 prefixes that share
//! one attribute set (the injector's common case: many VIPs or API routes announced alike).
//!
//!   cargo bench --bench codec                 (one: `cargo bench --bench codec -- codec/1000000/decode`)
//!
//! - `rib_set`: `AdjRibOut::set` for every prefix (what the speaker does when desired routes change).
//! - `encode`: `AdjRibOut::take_batch` (4096 prefixes per batch, as the session does) → `rib::pack`
//!   → `BgpCodec` (tokio-util `Encoder`) into one buffer: the bytes that go to the socket.
//! - `decode`: `BgpCodec` (`Decoder`) over those bytes back into `Message::Update`s.
//!
//! Throughput is in prefixes (criterion "elements"). The bytes on the wire and the number of
//! UPDATEs for each N are printed once before the measurements. Under `cargo test --benches` every
//! benchmark runs once, and 1M is only encoded and decoded once, checked (a few seconds in a debug build).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use ipnet::{IpNet, Ipv4Net};
use tokio_util::codec::{Decoder, Encoder};

use rhi::bgp::{BgpCodec, CodecParams, Family, Message};
use rhi::config::NextHop;
use rhi::policy::{Announcement, SessionContext};
use rhi::rib::{pack, AdjRibOut};

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];
/// The session's `BATCH_PREFIXES`: prefixes taken from the Adj-RIB-Out per flush.
const BATCH: usize = 4096;
const FAMILIES: [Family; 1] = [Family::IPV4_UNICAST];

/// The i-th distinct /32, from 10.0.0.0 upwards.
fn prefix(i: usize) -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i as u32), 32).unwrap())
}

fn announcement() -> Arc<Announcement> {
    Arc::new(Announcement { med: Some(100), ..Default::default() })
}

fn context() -> SessionContext {
    SessionContext {
        local_as: 65010,
        ibgp: false,
        next_hop: NextHop::Address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
        next_hop_v6: None,
        local_address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
    }
}

/// 4-octet AS, 4096-octet messages: what rhi negotiates with BIRD 2 by default.
fn params() -> CodecParams {
    CodecParams::negotiated(true, false)
}

fn rib_with(n: usize) -> AdjRibOut {
    let ann = announcement();
    let mut rib = AdjRibOut::new();
    for i in 0..n {
        rib.set(prefix(i), Some(ann.clone()));
    }
    rib
}

/// Drains the RIB the way the session does and encodes every UPDATE; returns the wire bytes and
/// the number of UPDATE messages.
fn encode_all(rib: &mut AdjRibOut, ctx: &SessionContext, params: &CodecParams) -> (BytesMut, usize) {
    let mut codec = BgpCodec::with_params(*params);
    let mut wire = BytesMut::new();
    let mut messages = 0;
    while rib.pending() > 0 {
        let batch = rib.take_batch(BATCH, &FAMILIES);
        let (updates, unsendable) = pack(&batch, ctx, params);
        assert!(unsendable.is_empty());
        messages += updates.len();
        for update in updates {
            codec.encode(Message::Update(update), &mut wire).unwrap();
        }
    }
    (wire, messages)
}

/// Decodes every message; returns the number of announced prefixes seen.
fn decode_all(mut wire: BytesMut, params: &CodecParams) -> usize {
    let mut codec = BgpCodec::with_params(*params);
    let mut prefixes = 0;
    while let Some(message) = codec.decode(&mut wire).unwrap() {
        match message {
            Message::Update(update) => prefixes += update.nlri.len(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(wire.is_empty());
    prefixes
}

fn codec(c: &mut Criterion) {
    let ctx = context();
    let params = params();
    // `cargo test --benches` runs this binary without `--bench`: criterion then runs each
    // benchmark once. The checked pass below already does that work once, so at 1M (seconds in
    // a debug build) it stands in for the three benchmarks.
    let test_mode = !std::env::args().any(|arg| arg == "--bench");
    for n in SIZES {
        let (wire, messages) = encode_all(&mut rib_with(n), &ctx, &params);
        assert_eq!(decode_all(wire.clone(), &params), n);
        println!(
            "N = {n}: {messages} UPDATEs, {} bytes on the wire ({:.2} bytes/prefix)",
            wire.len(),
            wire.len() as f64 / n as f64
        );
        if test_mode && n >= 1_000_000 {
            continue;
        }

        let mut group = c.benchmark_group(format!("codec/{n}"));
        group.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            // Each iteration is milliseconds to a second: few, equal-sized samples.
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(if n >= 1_000_000 { 10 } else { 3 }));
        }
        group.bench_function("rib_set", |b| b.iter(|| black_box(rib_with(n))));
        group.bench_function("encode", |b| {
            b.iter_batched(
                || rib_with(n),
                |mut rib| black_box(encode_all(&mut rib, &ctx, &params)),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("decode", |b| {
            b.iter_batched(|| wire.clone(), |wire| black_box(decode_all(wire, &params)), BatchSize::PerIteration)
        });
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
