//! Messages captured from real BIRD 2.0.12, GoBGP 3.10.0 and ExaBGP 4.2.21 sessions on loopback
//! (tests/fixtures/wire/README.md says how). Each is decoded and checked field by field; where
//! the sender's encoding is the canonical one rhi produces, re-encoding must give the same bytes,
//! and otherwise re-encoding and decoding again must give the same message.

use std::net::{IpAddr, Ipv4Addr};

use bytes::BytesMut;
use ipnet::IpNet;
use rhi::bgp::attributes::{community, MpReach};
use rhi::bgp::{
    AsPath, BgpCodec, Capability, CodecParams, Family, GracefulRestartCap, GracefulRestartFamily, LargeCommunity,
    Message, Notification, Open, Origin, PathAttributes, RouteRefresh, Update,
};
use tokio_util::codec::Decoder;

/// After the OPENs of a session where both sides sent the 4-octet AS capability.
const NEW: CodecParams = CodecParams { four_octet_as: true, max_message_len: 4096 };
/// ExaBGP with `asn4 disable`: BIRD must speak 2-octet AS_PATH + AS4_PATH to it.
const OLD: CodecParams = CodecParams { four_octet_as: false, max_message_len: 4096 };

macro_rules! capture {
    ($name:literal) => {
        include_str!(concat!("fixtures/wire/captured/", $name, ".hex"))
    };
}

fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
}

fn decode(text: &str, params: CodecParams) -> Message {
    let mut buf = BytesMut::from(&hex(text)[..]);
    let msg = BgpCodec::with_params(params).decode(&mut buf).unwrap().expect("one whole message");
    assert!(buf.is_empty());
    msg
}

fn encode(msg: &Message, params: CodecParams) -> Vec<u8> {
    let mut buf = BytesMut::new();
    msg.encode(&params, &mut buf).unwrap();
    assert_eq!(buf.len(), msg.encoded_len(&params));
    buf.to_vec()
}

/// The sender encoded it exactly as rhi would.
fn canonical(text: &str, params: CodecParams) -> Message {
    let msg = decode(text, params);
    assert_eq!(encode(&msg, params), hex(text), "re-encoding differs from the capture");
    msg
}

/// The sender's encoding is legal but not rhi's (attribute order, flags, parameter layout):
/// rhi's encoding of the decoded value must decode to the same value.
fn equivalent(text: &str, params: CodecParams) -> Message {
    let msg = decode(text, params);
    let mut buf = BytesMut::from(&encode(&msg, params)[..]);
    assert_eq!(BgpCodec::with_params(params).decode(&mut buf).unwrap(), Some(msg.clone()));
    msg
}

fn open(m: Message) -> Open {
    match m {
        Message::Open(o) => o,
        other => panic!("not an OPEN: {other:?}"),
    }
}

fn update(m: Message) -> Update {
    match m {
        Message::Update(u) => u,
        other => panic!("not an UPDATE: {other:?}"),
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn comm(s: &str) -> u32 {
    rhi::bgp::parse_community(s).unwrap()
}

fn unknown(code: u8, value: &'static [u8]) -> Capability {
    Capability::Unknown { code, value: bytes::Bytes::from_static(value) }
}

fn bird_capabilities(asn: u32) -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::Multiprotocol(Family::IPV6_UNICAST),
        Capability::RouteRefresh,
        // Graceful restart, helper only (BIRD's default `graceful restart aware`): restart
        // time 120 s, no families.
        Capability::GracefulRestart(GracefulRestartCap { flags: 0, restart_time: 120, families: vec![] }),
        Capability::FourOctetAs(asn),
        unknown(70, &[]), // enhanced route refresh
        unknown(71, &[]), // long-lived graceful restart
    ]
}

// ---- ExaBGP 4.2.21 (AS 65006) <-> BIRD 2.0.12 (AS 65002) ----------------------------------

#[test]
fn bird_open() {
    let o = open(canonical(capture!("exabgp-bird-00-bird-open"), OLD));
    assert_eq!((o.version, o.my_as, o.hold_time, o.bgp_id), (4, 65002, 240, Ipv4Addr::new(127, 0, 0, 2)));
    assert_eq!(o.capabilities, bird_capabilities(65002));
    assert_eq!(o.asn(), 65002);
    assert!(o.supports_route_refresh() && !o.supports_extended_message());
    assert_eq!(o.validate_basic(), Ok(()));
    // BIRD sends the same OPEN to GoBGP.
    assert_eq!(hex(capture!("gobgp-bird-00-bird-open"))[19..], hex(capture!("exabgp-bird-00-bird-open"))[19..]);
}

/// BIRD 2.0.12 with `graceful restart on`, started normally and then with `bird -R`
/// (recovering from a restart): the Restart State and Forwarding State bits are set only then.
#[test]
fn bird_graceful_restart_open() {
    for (text, restarting) in
        [(capture!("bird-gr-00-bird-open"), false), (capture!("bird-gr-restarting-00-bird-open"), true)]
    {
        let o = open(canonical(text, NEW));
        assert_eq!((o.my_as, o.hold_time, o.bgp_id), (65001, 240, Ipv4Addr::new(127, 77, 1, 1)));
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        let gr = GracefulRestartCap {
            flags: flag(restarting, GracefulRestartCap::RESTART_STATE),
            restart_time: 120,
            families: [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
                .into_iter()
                .map(|family| GracefulRestartFamily {
                    family,
                    flags: flag(restarting, GracefulRestartFamily::FORWARDING_STATE),
                })
                .collect(),
        };
        let mut expected = bird_capabilities(65001);
        expected[3] = Capability::GracefulRestart(gr);
        assert_eq!(o.capabilities, expected);
    }
}

#[test]
fn exabgp_open_one_capability_per_parameter() {
    let o = open(equivalent(capture!("exabgp-bird-01-exabgp-open"), OLD));
    assert_eq!((o.my_as, o.hold_time, o.bgp_id), (65006, 180, Ipv4Addr::new(127, 0, 0, 6)));
    assert_eq!(
        o.capabilities,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::FourOctetAs(65006),
            Capability::RouteRefresh,
            unknown(70, &[]),
            Capability::ExtendedMessage,
        ]
    );
    assert!(o.supports_extended_message());
}

#[test]
fn keepalives() {
    for text in [
        capture!("exabgp-bird-02-bird-keepalive"),
        capture!("exabgp-bird-03-exabgp-keepalive"),
        capture!("gobgp-bird-02-bird-keepalive"),
        capture!("gobgp-bird-03-gobgp-keepalive"),
        capture!("bird-as4-exabgp-as2-02-bird-keepalive"),
        capture!("bird-as4-exabgp-as2-03-exabgp-keepalive"),
    ] {
        assert_eq!(canonical(text, NEW), Message::Keepalive);
    }
}

#[test]
fn exabgp_update_ipv4() {
    let u = update(canonical(capture!("exabgp-bird-04-exabgp-update"), NEW));
    assert_eq!(
        u.attributes,
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65006, 64999])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 6)),
            med: Some(300),
            communities: vec![comm("65006:46"), comm("65006:300")],
            ..Default::default()
        }
    );
    assert_eq!(u.nlri, vec!["10.46.46.46/32".parse().unwrap()]);
    assert_eq!(u.treat_as_withdraw, None);
}

#[test]
fn exabgp_update_ipv6_mp_reach_last() {
    // ExaBGP puts MP_REACH_NLRI last; rhi sends it first (RFC 7606 §5.1).
    let text = capture!("exabgp-bird-05-exabgp-update");
    let msg = equivalent(text, NEW);
    assert_eq!(encode(&msg, NEW).len(), hex(text).len());
    assert_eq!(encode(&msg, NEW)[23..26], [0x80, 14, 28]);
    let u = update(msg);
    assert_eq!(
        u.attributes,
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65006])),
            med: Some(600),
            communities: vec![comm("65006:66")],
            large_communities: vec!["65006:1:2".parse().unwrap()],
            ..Default::default()
        }
    );
    assert_eq!(
        u.mp_reach,
        Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: "2001:db8::6".parse().unwrap(),
            link_local_next_hop: None,
            nlri: vec![net("2001:db8:46::/48")],
        })
    );
}

#[test]
fn end_of_rib_markers() {
    for text in [
        capture!("exabgp-bird-06-exabgp-update"),
        capture!("exabgp-bird-09-bird-update"),
        capture!("gobgp-bird-06-bird-update"),
        capture!("bird-as4-exabgp-as2-04-exabgp-update"),
        capture!("bird-as4-exabgp-as2-07-bird-update"),
    ] {
        assert_eq!(update(canonical(text, NEW)).end_of_rib_family(), Some(Family::IPV4_UNICAST));
    }
    for text in [capture!("exabgp-bird-11-bird-update"), capture!("gobgp-bird-07-bird-update")] {
        assert_eq!(update(canonical(text, NEW)).end_of_rib_family(), Some(Family::IPV6_UNICAST));
    }
    // ExaBGP (and BIRD toward an OLD speaker) set Extended Length on the 3-octet MP_UNREACH.
    for text in [capture!("exabgp-bird-07-exabgp-update"), capture!("bird-as4-exabgp-as2-05-exabgp-update")] {
        assert_eq!(hex(text)[23], 0x90);
        let msg = equivalent(text, NEW);
        assert_eq!(update(msg.clone()).end_of_rib_family(), Some(Family::IPV6_UNICAST));
        assert_eq!(encode(&msg, NEW), hex(capture!("exabgp-bird-11-bird-update")));
    }
}

#[test]
fn bird_update_ipv4() {
    let u = update(canonical(capture!("exabgp-bird-08-bird-update"), NEW));
    assert_eq!(
        u.attributes,
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65002])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 2)),
            med: Some(50),
            communities: vec![comm("65002:100"), community::NO_EXPORT],
            large_communities: vec![LargeCommunity::new(65002, 1, 2)],
            ..Default::default()
        }
    );
    assert_eq!(u.nlri, vec!["198.51.100.0/24".parse().unwrap(), "198.51.100.128/25".parse().unwrap()]);
}

#[test]
fn bird_update_ipv6() {
    // BIRD always sets Extended Length on MP_REACH_NLRI (a 2-octet length for 28 octets); rhi
    // sets it only above 255 octets, so the re-encoding is one octet shorter.
    let text = capture!("exabgp-bird-10-bird-update");
    assert_eq!(hex(text)[23..27], [0x90, 14, 0, 28]);
    let msg = equivalent(text, NEW);
    assert_eq!(encode(&msg, NEW).len(), hex(text).len() - 1);
    let u = update(msg);
    assert_eq!(
        u.attributes,
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65002])),
            med: Some(60),
            communities: vec![comm("65002:200")],
            ..Default::default()
        }
    );
    let reach = u.mp_reach.unwrap();
    assert_eq!(reach.next_hop, "2001:db8::2".parse::<IpAddr>().unwrap());
    assert_eq!(reach.nlri, vec![net("2001:db8:2::/48")]);
}

#[test]
fn bird_route_refresh() {
    let rr = |f| Message::RouteRefresh(RouteRefresh::new(f));
    assert_eq!(canonical(capture!("exabgp-bird-12-bird-route-refresh"), NEW), rr(Family::IPV4_UNICAST));
    assert_eq!(canonical(capture!("exabgp-bird-13-bird-route-refresh"), NEW), rr(Family::IPV6_UNICAST));
}

#[test]
fn bird_cease_with_shutdown_communication() {
    let Message::Notification(n) = canonical(capture!("exabgp-bird-26-bird-notification"), NEW) else {
        panic!("not a NOTIFICATION")
    };
    assert_eq!(n.to_string(), "Cease/Administrative Shutdown");
    assert_eq!(n.shutdown_message().as_deref(), Some("rhi fixture: planned maintenance"));
    assert_eq!(n, Notification::cease_shutdown("rhi fixture: planned maintenance"));
}

#[test]
fn exabgp_notification_with_text_data() {
    let Message::Notification(n) = canonical(capture!("exabgp-bird-27-exabgp-notification"), NEW) else {
        panic!("not a NOTIFICATION")
    };
    assert_eq!((n.code, n.subcode), (1, 0));
    assert_eq!(n.to_string(), "Message Header Error/Unspecific");
    assert_eq!(&n.data[..], b"can not decode update message of type \"3\"");
    assert_eq!(n.shutdown_message(), None);
}

// ---- GoBGP 3.10.0 (AS 4200000013) -> BIRD 2.0.12 (AS 65002) ---------------------------------

#[test]
fn gobgp_open_4_octet_as() {
    let o = open(canonical(capture!("gobgp-bird-01-gobgp-open"), OLD));
    assert_eq!((o.my_as, o.hold_time, o.bgp_id), (23456, 90, Ipv4Addr::new(127, 0, 0, 13)));
    assert_eq!(o.asn(), 4_200_000_013);
    assert_eq!(
        o.capabilities,
        vec![
            Capability::RouteRefresh,
            unknown(73, &[2, b'v', b'm', 0]), // FQDN: hostname "vm", no domain
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::FourOctetAs(4_200_000_013),
            unknown(5, &[0, 1, 0, 1, 0, 2]), // extended next hop: IPv4 unicast over IPv6
        ]
    );
    assert_eq!(o.validate_basic(), Ok(()));
}

#[test]
fn gobgp_update_ipv6() {
    let u = update(equivalent(capture!("gobgp-bird-04-gobgp-update"), NEW));
    assert_eq!(u.attributes.origin, Some(Origin::Incomplete));
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence(vec![4_200_000_013])));
    assert_eq!(u.attributes.med, Some(600));
    assert_eq!(u.attributes.communities, vec![comm("65013:66")]);
    let reach = u.mp_reach.unwrap();
    assert_eq!(reach.next_hop, "2001:db8::13".parse::<IpAddr>().unwrap());
    assert_eq!(reach.nlri, vec![net("2001:db8:13::/48")]);
}

#[test]
fn gobgp_update_ipv4() {
    let u = update(canonical(capture!("gobgp-bird-05-gobgp-update"), NEW));
    assert_eq!(
        u.attributes,
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![4_200_000_013])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 13)),
            med: Some(300),
            communities: vec![comm("65013:46"), comm("no-export")],
            large_communities: vec!["4200000013:1:2".parse().unwrap()],
            ..Default::default()
        }
    );
    assert_eq!(u.nlri, vec!["203.0.113.0/24".parse().unwrap()]);
}

#[test]
fn gobgp_cease_without_communication() {
    let Message::Notification(n) = canonical(capture!("gobgp-bird-08-gobgp-notification"), NEW) else {
        panic!("not a NOTIFICATION")
    };
    assert_eq!(n, Notification::cease_shutdown(""));
    assert_eq!(n.shutdown_message(), None);
}

// ---- BIRD 2.0.12 (AS 4200000002) -> ExaBGP 4.2.21 without 4-octet AS (RFC 6793 OLD) ---------

#[test]
fn bird_open_with_as_trans() {
    let o = open(canonical(capture!("bird-as4-exabgp-as2-00-bird-open"), OLD));
    assert_eq!(o.my_as, 23456);
    assert_eq!(o.asn(), 4_200_000_002);
    assert_eq!(o.capabilities, bird_capabilities(4_200_000_002));
}

#[test]
fn exabgp_open_without_4_octet_as() {
    let o = open(equivalent(capture!("bird-as4-exabgp-as2-01-exabgp-open"), OLD));
    assert_eq!((o.my_as, o.asn(), o.four_octet_as()), (65006, 65006, None));
    assert_eq!(
        o.capabilities,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::ExtendedMessage,
        ]
    );
}

#[test]
fn bird_as4_path_toward_old_speaker() {
    // AS_PATH 23456 65099 23456 + AS4_PATH 4200000002 65099 4200000099: merged, then re-encoded
    // by rhi exactly as BIRD did.
    let text = capture!("bird-as4-exabgp-as2-06-bird-update");
    let u = update(canonical(text, OLD));
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence(vec![4_200_000_002, 65099, 4_200_000_099])));
    assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(u.attributes.unknown, vec![]);
    assert_eq!(u.nlri, vec!["198.51.100.0/24".parse().unwrap()]);
    // The same route between NEW speakers needs no AS4_PATH.
    let new = encode(&Message::Update(u), NEW);
    assert!(new.len() < hex(text).len());
}

#[test]
fn bird_as4_path_ipv6_extended_length_mp_reach() {
    let text = capture!("bird-as4-exabgp-as2-08-bird-update");
    assert_eq!(hex(text)[23], 0x90); // BIRD sets Extended Length on a 28-octet MP_REACH_NLRI
    let u = update(equivalent(text, OLD));
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence(vec![4_200_000_002])));
    assert_eq!(u.mp_reach.unwrap().nlri, vec![net("2001:db8:2::/48")]);
    assert_eq!(
        update(canonical(capture!("bird-as4-exabgp-as2-09-bird-update"), OLD)).end_of_rib_family(),
        Some(Family::IPV6_UNICAST)
    );
}

/// The whole ExaBGP/BIRD session through one codec, as the session task would read it.
#[test]
fn whole_session_stream() {
    let names = [
        capture!("exabgp-bird-00-bird-open"),
        capture!("exabgp-bird-02-bird-keepalive"),
        capture!("exabgp-bird-08-bird-update"),
        capture!("exabgp-bird-09-bird-update"),
        capture!("exabgp-bird-10-bird-update"),
        capture!("exabgp-bird-11-bird-update"),
        capture!("exabgp-bird-12-bird-route-refresh"),
        capture!("exabgp-bird-13-bird-route-refresh"),
        capture!("exabgp-bird-26-bird-notification"),
    ];
    let mut stream = BytesMut::new();
    for n in names {
        stream.extend_from_slice(&hex(n));
    }
    let mut codec = BgpCodec::new();
    let mut got = Vec::new();
    while let Some(m) = codec.decode(&mut stream).unwrap() {
        if let Message::Open(o) = &m {
            codec.set_params(CodecParams::negotiated(o.four_octet_as().is_some(), false));
        }
        got.push(m);
    }
    assert_eq!(got.len(), names.len());
    assert!(matches!(got.last(), Some(Message::Notification(_))));
}
