//! Property tests of the BGP codec: encode → decode round trips of every message type under
//! 2-octet and 4-octet AS parameters, `encoded_len` equal to what is written, and no panic on
//! any input (random bytes, random bodies behind a valid header, mutated valid messages).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use rhi::bgp::attributes::RawAttribute;
use rhi::bgp::capability::{GracefulRestartCap, GracefulRestartFamily};
use rhi::bgp::{
    AsPath, AsSegment, BgpCodec, Capability, CodecError, CodecParams, EncodeError, Family, LargeCommunity, Message,
    MpReach, MpUnreach, Notification, Open, Origin, PathAttributes, RouteRefresh, Update,
};
use tokio_util::codec::Decoder;

fn params() -> impl Strategy<Value = CodecParams> {
    (any::<bool>(), any::<bool>()).prop_map(|(four, ext)| CodecParams::negotiated(four, ext))
}

fn v4_prefix() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
}

fn v6_prefix() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0u8..=128).prop_map(|(a, l)| Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
}

/// A NEXT_HOP that passes the syntactic check: not 0/8, not multicast or class E.
fn host_v4() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..224, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d))
}

fn asn() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), 1u32..65536, Just(23456)]
}

fn as_path() -> impl Strategy<Value = AsPath> {
    let segment = prop_oneof![
        prop::collection::vec(asn(), 1..12).prop_map(AsSegment::Sequence),
        prop::collection::vec(asn(), 1..4).prop_map(AsSegment::Set),
    ];
    prop::collection::vec(segment, 0..4).prop_map(|segments| AsPath { segments })
}

/// Unknown optional transitive attributes, as the decoder keeps them: Partial set, one per type
/// code, in type-code order, codes rhi does not model.
fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    let code = (19u8..=255).prop_filter("modeled", |c| *c != 32);
    prop::collection::btree_map(code, prop::collection::vec(any::<u8>(), 0..300), 0..3).prop_map(
        |m: BTreeMap<u8, Vec<u8>>| {
            m.into_iter().map(|(type_code, v)| RawAttribute { flags: 0xe0, type_code, value: Bytes::from(v) }).collect()
        },
    )
}

fn attributes(announce: bool) -> impl Strategy<Value = PathAttributes> {
    let origin = prop_oneof![Just(Origin::Igp), Just(Origin::Egp), Just(Origin::Incomplete)];
    (
        (origin, as_path(), host_v4(), any::<Option<u32>>(), any::<Option<u32>>(), any::<bool>()),
        (
            prop::option::of((asn(), any::<u32>().prop_map(Ipv4Addr::from))),
            prop::collection::vec(any::<u32>(), 0..8),
            prop::collection::vec(any::<[u8; 8]>(), 0..4),
            prop::collection::vec(any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity::new(a, b, c)), 0..4),
            unknown_attributes(),
        ),
    )
        .prop_map(move |((origin, as_path, nh, med, local_pref, atomic), (aggregator, c, ext, large, unknown))| {
            PathAttributes {
                // Announcements need the well-known mandatory attributes or they are withdrawn.
                origin: announce.then_some(origin),
                as_path: announce.then_some(as_path),
                next_hop: announce.then_some(nh),
                med,
                local_pref,
                atomic_aggregate: atomic,
                aggregator,
                communities: c,
                extended_communities: ext,
                large_communities: large,
                unknown,
            }
        })
}

fn mp_reach() -> impl Strategy<Value = MpReach> {
    let v6 = (any::<u128>(), prop::option::of(any::<u128>()), prop::collection::vec(v6_prefix(), 0..20)).prop_map(
        |(nh, ll, nlri)| MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: IpAddr::V6(nh.into()),
            link_local_next_hop: ll.map(Ipv6Addr::from),
            nlri: nlri.into_iter().map(IpNet::V6).collect(),
        },
    );
    // IPv4 NLRI with an IPv4 next hop, or an IPv6 one (RFC 8950).
    let v4 = (
        prop_oneof![any::<u32>().prop_map(|a| IpAddr::V4(a.into())), any::<u128>().prop_map(|a| IpAddr::V6(a.into()))],
        prop::collection::vec(v4_prefix(), 0..20),
    )
        .prop_map(|(next_hop, nlri)| MpReach {
            family: Family::IPV4_UNICAST,
            next_hop,
            link_local_next_hop: None,
            nlri: nlri.into_iter().map(IpNet::V4).collect(),
        });
    prop_oneof![v6, v4]
}

fn mp_unreach() -> impl Strategy<Value = MpUnreach> {
    prop_oneof![
        prop::collection::vec(v6_prefix(), 0..20).prop_map(|w| MpUnreach {
            family: Family::IPV6_UNICAST,
            withdrawn: w.into_iter().map(IpNet::V6).collect()
        }),
        prop::collection::vec(v4_prefix(), 0..20).prop_map(|w| MpUnreach {
            family: Family::IPV4_UNICAST,
            withdrawn: w.into_iter().map(IpNet::V4).collect()
        }),
    ]
}

fn update() -> impl Strategy<Value = Update> {
    let announce = (
        prop::collection::vec(v4_prefix(), 0..200),
        attributes(true),
        prop::collection::vec(v4_prefix(), 0..200),
        prop::option::of(mp_reach()),
        prop::option::of(mp_unreach()),
    )
        .prop_map(|(withdrawn, attributes, nlri, mp_reach, mp_unreach)| Update {
            withdrawn,
            attributes,
            nlri,
            mp_reach,
            mp_unreach,
            treat_as_withdraw: None,
        });
    let withdraw =
        (prop::collection::vec(v4_prefix(), 0..200), attributes(false), prop::option::of(mp_unreach())).prop_map(
            |(withdrawn, attributes, mp_unreach)| Update { withdrawn, attributes, mp_unreach, ..Update::default() },
        );
    prop_oneof![announce, withdraw]
}

fn capability() -> impl Strategy<Value = Capability> {
    let unknown_code = any::<u8>().prop_filter("known", |c| ![1, 2, 6, 64, 65].contains(c));
    let graceful_restart_family = (any::<u16>(), any::<u8>(), any::<u8>())
        .prop_map(|(afi, safi, flags)| GracefulRestartFamily { family: Family::new(afi, safi), flags });
    let graceful_restart =
        (0u8..16, 0u16..=GracefulRestartCap::MAX_RESTART_TIME, prop::collection::vec(graceful_restart_family, 0..5))
            .prop_map(|(flags, restart_time, families)| {
                Capability::GracefulRestart(GracefulRestartCap { flags, restart_time, families })
            });
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| Capability::Multiprotocol(Family::new(afi, safi))),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(Capability::FourOctetAs),
        graceful_restart,
        (unknown_code, prop::collection::vec(any::<u8>(), 0..60))
            .prop_map(|(code, v)| { Capability::Unknown { code, value: Bytes::from(v) } }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<u16>(), any::<u32>(), prop::collection::vec(capability(), 0..30)).prop_map(
            |(version, my_as, hold_time, id, capabilities)| Message::Open(Open {
                version,
                my_as,
                hold_time,
                bgp_id: Ipv4Addr::from(id),
                capabilities
            })
        ),
        update().prop_map(Message::Update),
        (any::<u8>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..100))
            .prop_map(|(c, s, d)| Message::Notification(Notification::new(c, s, d))),
        Just(Message::Keepalive),
        (any::<u16>(), any::<u8>())
            .prop_map(|(afi, safi)| Message::RouteRefresh(RouteRefresh::new(Family::new(afi, safi)))),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
}

fn decode_all(bytes: &[u8], params: CodecParams) -> Vec<Result<Message, String>> {
    let mut codec = BgpCodec::with_params(params);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(m)) => out.push(Ok(m)),
            Ok(None) => break,
            Err(e) => {
                out.push(Err(e.to_string()));
                break;
            }
        }
    }
    out
}

proptest! {
    // 512 cases by default; PROPTEST_CASES=100000 for a longer search.
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn message_round_trip(msg in message(), params in params()) {
        let mut buf = BytesMut::new();
        match msg.encode(&params, &mut buf) {
            Ok(()) => {
                prop_assert_eq!(buf.len(), msg.encoded_len(&params));
                let decoded = BgpCodec::with_params(params).decode(&mut buf);
                prop_assert!(buf.is_empty());
                prop_assert_eq!(decoded.unwrap(), Some(msg));
            }
            Err(EncodeError::TooLong { len, max }) => {
                prop_assert_eq!(len, msg.encoded_len(&params));
                prop_assert!(len > max);
                prop_assert!(buf.is_empty());
            }
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    #[test]
    fn attributes_encoded_len_is_exact(attrs in attributes(true), params in params()) {
        let mut buf = Vec::new();
        attrs.encode(&params, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), attrs.encoded_len(&params));
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), params in params()) {
        decode_all(&bytes, params);
    }

    /// Random bodies behind a correct header reach the typed decoders.
    #[test]
    fn decoding_random_bodies_never_panics(
        t in 0u8..7,
        body in prop::collection::vec(any::<u8>(), 0..600),
        params in params(),
    ) {
        let mut msg = vec![0xff; 16];
        msg.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        msg.push(t);
        msg.extend_from_slice(&body);
        decode_all(&msg, params);
    }

    /// Valid messages with a few octets changed: the decoder sees nearly-right structure. Whatever
    /// it accepts re-encodes to something that decodes to the same message.
    #[test]
    fn mutated_messages_decode_stably(
        msg in message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        params in params(),
    ) {
        let mut buf = BytesMut::new();
        if msg.encode(&params, &mut buf).is_err() {
            return Ok(());
        }
        for (i, v) in &flips {
            let at = 18 + i.index(buf.len() - 18); // keep the marker and length so the body is parsed
            buf[at] = *v;
        }
        for decoded in decode_all(&buf, params).into_iter().flatten() {
            let mut again = BytesMut::new();
            if decoded.encode(&params, &mut again).is_err() {
                continue; // e.g. a merged AS path grew past the maximum
            }
            let mut expected = decoded.clone();
            if let Message::Update(u) = &mut expected {
                u.treat_as_withdraw = None;
            }
            let redecoded = BgpCodec::with_params(params).decode(&mut again).map_err(|e: CodecError| e.to_string());
            prop_assert_eq!(redecoded, Ok(Some(expected)));
        }
    }
}

/// The largest AS_PATH segment is 255 ASes; a longer sequence is split and decodes as several.
#[test]
fn long_sequences_split_on_the_wire() {
    let attrs = PathAttributes { as_path: Some(AsPath::sequence((0..600).collect())), ..Default::default() };
    let mut buf = Vec::new();
    let p = CodecParams::negotiated(true, false);
    attrs.encode(&p, &mut buf).unwrap();
    assert_eq!(buf.len(), attrs.encoded_len(&p));
    assert_eq!(buf.len(), 4 + 3 * 2 + 600 * 4);
}
