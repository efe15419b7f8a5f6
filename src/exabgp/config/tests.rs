use std::net::IpAddr;

use super::*;
use crate::bgp::attributes::LargeCommunity;
use crate::bgp::nlri::Family;
use crate::config::{Encoder, GracefulRestart, Md5Key, NextHop, RouteAttrs, TtlPolicy, WhenDown};

/// Lines 1-6; whatever `extra` holds starts at line 7.
const HEAD: &str = "neighbor 10.0.0.1 {\n\
                    \x20 router-id 10.0.0.2;\n\
                    \x20 local-address 10.0.0.2;\n\
                    \x20 local-as 65002;\n\
                    \x20 peer-as 65001;\n\
                    \x20 family { ipv4 unicast; }\n";

fn neighbor(extra: &str) -> String {
    format!("{HEAD}{extra}}}\n")
}

fn ok(text: &str) -> Imported {
    import(text, "t.conf").unwrap_or_else(|e| panic!("{e}\n--- config:\n{text}"))
}

fn err(text: &str) -> String {
    match import(text, "t.conf") {
        Ok(i) => panic!("imported, expected an error:\n{}", i.to_yaml()),
        Err(e) => e.to_string(),
    }
}

fn starts(actual: &str, expected: &str) {
    assert!(actual.starts_with(expected), "\n  actual: {actual}\nexpected: {expected}...");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn minimal_neighbor_gets_exabgp_defaults() {
    let i = ok(&neighbor(""));
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    let c = &i.config;
    assert_eq!(c.router_id.to_string(), "10.0.0.2");
    assert_eq!(c.local_as, 65002);
    assert!(c.listen.is_empty());
    let p = &c.peers[0];
    assert_eq!(p.name, "n-10-0-0-1");
    assert_eq!(p.address, ip("10.0.0.1"));
    assert_eq!(p.remote_as, 65001);
    assert_eq!(p.port, 179);
    assert_eq!(p.local_address, Some(ip("10.0.0.2")));
    assert!(!p.passive);
    assert_eq!(p.hold_time, 180, "ExaBGP's default, not rhi's 90");
    assert_eq!(p.next_hop, NextHop::SelfAddress);
    assert_eq!(p.families, vec![Family::IPV4_UNICAST]);
    assert!(c.vips.is_empty() && c.processes.is_empty());
}

#[test]
fn session_settings() {
    let i = ok(&neighbor("  hold-time 9;\n  connect 1179;\n  passive;\n  listen 1790;\n"));
    let p = &i.config.peers[0];
    assert_eq!((p.hold_time, p.port, p.passive), (9, 1179, true));
    assert_eq!(i.config.listen, vec!["10.0.0.2:1790".parse().unwrap()]);
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    let i = ok(&neighbor("  passive true;\n"));
    assert_eq!(i.config.listen, vec!["10.0.0.2:179".parse().unwrap()]);
    assert_eq!(
        i.warnings,
        ["t.conf:7:3: neighbor 10.0.0.1: passive without listen: ExaBGP accepts this session only where its \
          environment sets exabgp.tcp.bind; rhi listens on port 179 for it"]
    );
    let i = ok(&neighbor("  passive false;\n  hold-time 0;\n"));
    assert!(!i.config.peers[0].passive);
    assert_eq!(i.config.peers[0].hold_time, 0);
}

#[test]
fn session_setting_errors() {
    starts(
        &err(&neighbor("  hold-time 2;\n")),
        "t.conf:7:13: neighbor 10.0.0.1: the hold-time must be 0 or at least 3 seconds (RFC 4271)",
    );
    starts(&err(&neighbor("  hold-time 9s;\n")), "t.conf:7:13: neighbor 10.0.0.1: '9s' is not a hold-time in seconds");
    starts(&err(&neighbor("  connect 70000;\n")), "t.conf:7:11: neighbor 10.0.0.1: '70000' is not a TCP port");
    starts(&err(&neighbor("  passive maybe;\n")), "t.conf:7:11: neighbor 10.0.0.1: 'maybe' is not a boolean");
    starts(
        &err(&neighbor("  hold-time 30;\n  hold-time 60;\n")),
        "t.conf:8:3: neighbor 10.0.0.1: 'hold-time' is given twice in this block (first at line 7)",
    );
    starts(&err(&neighbor("  description a b;\n")), "t.conf:7:17: neighbor 10.0.0.1: 'description' takes one value");
    starts(&err(&neighbor("  hold-time;\n")), "t.conf:7:3: neighbor 10.0.0.1: 'hold-time' needs a value");
    starts(
        &err(&neighbor("  peer-as auto;\n")),
        "t.conf:7:11: neighbor 10.0.0.1: 'peer-as auto' is not supported by rhi",
    );
    starts(&err(&neighbor("  router-id 1.2.3;\n")), "t.conf:7:13: neighbor 10.0.0.1: '1.2.3' is not a valid router-id");
    let no_local_as = "neighbor 10.0.0.1 {\n  router-id 10.0.0.2;\n  peer-as 1;\n}\n";
    assert_eq!(err(no_local_as), "t.conf:1:1: neighbor 10.0.0.1: missing local-as (ExaBGP refuses it too)");
    let mixed =
        "neighbor 10.0.0.1 {\n  local-address 2001:db8::1;\n  router-id 1.1.1.1;\n  local-as 1;\n  peer-as 2;\n}\n";
    starts(&err(mixed), "t.conf:2:3: neighbor 10.0.0.1: local-address 2001:db8::1 and the neighbor address 10.0.0.1 must be of the same family");
}

#[test]
fn router_id_comes_from_an_ipv4_local_address_only() {
    let v6 = "neighbor 2001:db8::1 {\n  local-address 2001:db8::2;\n  local-as 1;\n  peer-as 2;\n}\n";
    assert_eq!(
        err(v6),
        "t.conf:1:1: neighbor 2001:db8::1: missing router-id: ExaBGP takes it from local-address only when that is \
         an IPv4 address"
    );
    let auto = "neighbor 10.0.0.1 {\n  local-address auto;\n  router-id 10.9.9.9;\n  local-as 1;\n  peer-as 2;\n  family { ipv4 unicast; }\n}\n";
    let i = ok(auto);
    assert_eq!(i.config.peers[0].local_address, None);
    assert_eq!(i.config.router_id.to_string(), "10.9.9.9");
}

#[test]
fn names_from_descriptions() {
    let two = "neighbor 10.0.0.1 {\n  description \"Core Router 1\";\n  router-id 10.0.0.9;\n  local-address 10.0.0.9;\n  local-as 1;\n  peer-as 2;\n  family { ipv4 unicast; }\n}\n\
               neighbor 10.0.0.3 {\n  description \"will announce a route to a service, politely\";\n  router-id 10.0.0.9;\n  local-address 10.0.0.9;\n  local-as 1;\n  peer-as 2;\n  family { ipv4 unicast; }\n}\n";
    let i = ok(two);
    let names: Vec<&str> = i.config.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["core-router-1", "n-10-0-0-3"]);
    let same = two.replace("will announce a route to a service, politely", "Core Router 1");
    let i = ok(&same);
    let names: Vec<&str> = i.config.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["n-10-0-0-1", "n-10-0-0-3"], "a shared description names no one");
}

#[test]
fn unsupported_neighbor_features_are_errors() {
    let cases = [
        ("  rate-limit 10;\n", "t.conf:7:3: neighbor 10.0.0.1: 'rate-limit' is not supported by rhi"),
        ("  flow {\n  }\n", "t.conf:7:3: neighbor 10.0.0.1: 'flow' (FlowSpec, RFC 8955) is not supported by rhi"),
        ("  l2vpn { }\n", "t.conf:7:3: neighbor 10.0.0.1: 'l2vpn' (VPLS) is not supported by rhi"),
        ("  add-path { ipv4 unicast; }\n", "t.conf:7:3: neighbor 10.0.0.1: 'add-path' (RFC 7911) is not supported"),
        ("  operational { }\n", "t.conf:7:3: neighbor 10.0.0.1: 'operational' messages are not supported"),
        ("  nexthop { ipv4 unicast ipv6; }\n", "t.conf:7:3: neighbor 10.0.0.1: 'nexthop' (IPv4 routes with IPv6"),
        (
            "  family {\n    ipv4 flow;\n  }\n",
            "t.conf:8:5: neighbor 10.0.0.1: family ipv4 flow is not supported by rhi",
        ),
        ("  family { l2vpn evpn; }\n", "t.conf:7:12: neighbor 10.0.0.1: family l2vpn evpn is not supported"),
        ("  family { ipv4 bogus; }\n", "t.conf:7:12: neighbor 10.0.0.1: 'ipv4 bogus' is not a family"),
        (
            "  family { ipv4 unicast; }\n",
            "t.conf:7:12: neighbor 10.0.0.1: ipv4 unicast is listed twice (first at line 6)",
        ),
        (
            "  capability { add-path send/receive; }\n",
            "t.conf:7:16: neighbor 10.0.0.1: 'add-path' (RFC 7911) is not supported",
        ),
        ("  capability { asn4 disable; }\n", "t.conf:7:16: neighbor 10.0.0.1: 'asn4 disable' is not supported"),
        (
            "  capability { multi-session; }\n",
            "t.conf:7:16: neighbor 10.0.0.1: capability 'multi-session' is not supported",
        ),
        (
            "  capability { route-refrsh; }\n",
            "t.conf:7:16: neighbor 10.0.0.1: unknown capability 'route-refrsh'; did you mean 'route-refresh'?",
        ),
        (
            "  process api { receive-routes; }\n",
            "t.conf:7:3: neighbor 10.0.0.1: a process block inside a neighbor is ExaBGP 3 syntax",
        ),
        ("  route 10.0.0.0/8 next-hop self;\n", "t.conf:7:3: neighbor 10.0.0.1: a route belongs in a static block"),
        ("  peer_as 3;\n", "t.conf:7:3: neighbor 10.0.0.1: unknown keyword 'peer_as'; did you mean 'peer-as'?"),
        ("  static { }\n  hold-time { }\n", "t.conf:8:3: neighbor 10.0.0.1: 'hold-time' is a statement, not a block"),
        ("  family;\n", "t.conf:7:3: neighbor 10.0.0.1: 'family' is a block: family { ... }"),
    ];
    for (extra, expected) in cases {
        starts(&err(&neighbor(extra)), expected);
    }
}

#[test]
fn harmless_knobs_are_warnings() {
    let i = ok(&neighbor(
        "  group-updates false;\n  auto-flush false;\n  adj-rib-out false;\n  adj-rib-in true;\n  manual-eor true;\n  \
         host-name h1;\n  capability { asn4 enable; route-refresh disable; extended-message disable; graceful-restart disable; add-path disable; }\n",
    ));
    let positions: Vec<&str> = i.warnings.iter().map(|w| w.split(": ").next().unwrap()).collect();
    assert_eq!(
        positions,
        [
            "t.conf:7:3",
            "t.conf:8:3",
            "t.conf:9:3",
            "t.conf:10:3",
            "t.conf:11:3",
            "t.conf:12:3",
            "t.conf:13:29",
            "t.conf:13:52"
        ]
    );
    starts(&i.warnings[0], "t.conf:7:3: neighbor 10.0.0.1: 'group-updates false' is ignored: rhi always packs");
    starts(&i.warnings[6], "t.conf:13:29: neighbor 10.0.0.1: 'route-refresh disable' is ignored");
    // Their ExaBGP defaults (and the values that match rhi) say nothing.
    let i = ok(&neighbor(
        "  group-updates true;\n  auto-flush;\n  adj-rib-out;\n  manual-eor false;\n  capability { route-refresh; }\n",
    ));
    assert_eq!(i.warnings, [String::from(
        "t.conf:9:3: neighbor 10.0.0.1: 'adj-rib-out false' is ignored: rhi always keeps what it sent, and resends it after a reconnect"
    )], "`adj-rib-out;` alone is false in ExaBGP");
}

#[test]
fn families_default_to_both_unicast_with_a_warning() {
    let text = HEAD.replace("  family { ipv4 unicast; }\n", "") + "}\n";
    let i = ok(&text);
    assert_eq!(i.config.peers[0].families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    starts(&i.warnings[0], "t.conf:1:1: neighbor 10.0.0.1: no family block: ExaBGP offers every family it knows");
    let text = HEAD.replace("ipv4 unicast;", "all;") + "}\n";
    let i = ok(&text);
    assert_eq!(i.config.peers[0].families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    starts(&i.warnings[0], "t.conf:6:12: neighbor 10.0.0.1: 'family all'");
    starts(
        &err(&(HEAD.replace("ipv4 unicast;", "all; ipv6 unicast;") + "}\n")),
        "t.conf:6:17: neighbor 10.0.0.1: no family can be added after 'all'",
    );
}

#[test]
fn static_routes_become_vips() {
    let i = ok(&neighbor(
        "  static {\n    route 10.46.46.46/32 next-hop 192.0.2.6 med 300 community [ 65002:46 no-export 0x10 7 ] \
         large-community [ 65002:1:2 ] as-path [ 65002 65002 65002 ] origin igp;\n    route 10.47.0.0/16 next-hop 192.0.2.6;\n  }\n",
    ));
    let c = &i.config;
    assert_eq!(c.peers[0].next_hop, NextHop::Address(ip("192.0.2.6")));
    assert_eq!(c.vips.len(), 2);
    let v = &c.vips[0];
    assert_eq!(v.prefix.to_string(), "10.46.46.46/32");
    assert!(v.checks.is_empty(), "always announced");
    assert_eq!(v.when_down, WhenDown::Withdraw);
    assert_eq!(
        v.attributes,
        RouteAttrs {
            med: Some(300),
            as_path_prepend: 2,
            communities: vec![(65002 << 16) | 46, 0xFFFF_FF01, 0x10, 7],
            large_communities: vec![LargeCommunity { global: 65002, local1: 1, local2: 2 }],
            local_pref: None,
        }
    );
    assert_eq!(c.vips[1].attributes, RouteAttrs::default());
}

#[test]
fn other_route_forms() {
    let i = ok(&neighbor(
        "  static {\n    route 10.1.0.0/16 {\n      next-hop self;\n      med 5;\n    }\n    \
         attributes next-hop self med 7 nlri 10.2.0.0/16 10.3.0.0/16;\n    route 10.4.0.1 next-hop self;\n  }\n  \
         announce {\n    ipv4 {\n      unicast 10.5.0.0/16 next-hop self med 9;\n    }\n  }\n",
    ));
    let got: Vec<(String, Option<u32>)> =
        i.config.vips.iter().map(|v| (v.prefix.to_string(), v.attributes.med)).collect();
    assert_eq!(
        got,
        [
            ("10.1.0.0/16".into(), Some(5)),
            ("10.2.0.0/16".into(), Some(7)),
            ("10.3.0.0/16".into(), Some(7)),
            ("10.4.0.1/32".into(), None),
            ("10.5.0.0/16".into(), Some(9)),
        ]
    );
    starts(
        &err(&neighbor("  announce {\n    ipv4 {\n      unicast 2001:db8::/32 next-hop self;\n    }\n  }\n")),
        "t.conf:9:15: neighbor 10.0.0.1: 2001:db8::/32 is not an ipv4 prefix",
    );
    starts(
        &err(&neighbor("  announce {\n    ipv4 {\n      flow x;\n    }\n  }\n")),
        "t.conf:9:7: neighbor 10.0.0.1: 'ipv4 flow' routes are not supported by rhi (only unicast)",
    );
}

#[test]
fn route_errors_point_at_the_attribute() {
    let route = |attrs: &str| neighbor(&format!("  static {{\n    route 10.0.0.0/24 {attrs};\n  }}\n"));
    let cases = [
        (
            "med 5",
            "t.conf:8:11: neighbor 10.0.0.1: route 10.0.0.0/24 has no next-hop: add next-hop self or next-hop IP",
        ),
        ("next-hop self med 1 med 2", "t.conf:8:43: neighbor 10.0.0.1: 'med' is given twice for route 10.0.0.0/24"),
        ("next-hop self med -1", "t.conf:8:41: neighbor 10.0.0.1: '-1' is not a valid med"),
        ("next-hop self community 70000:1", "t.conf:8:47: neighbor 10.0.0.1: '70000:1' is not a community"),
        (
            "next-hop self community [ 1:1, 1:2 ]",
            "t.conf:8:52: neighbor 10.0.0.1: unexpected ',' in the community list",
        ),
        ("next-hop self community [ 1:1", "t.conf:8:47: neighbor 10.0.0.1: this '[' is never closed"),
        ("next-hop self large-community 1:2", "t.conf:8:53: neighbor 10.0.0.1: '1:2' is not a large community"),
        ("next-hop self origin egp", "t.conf:8:44: neighbor 10.0.0.1: 'origin egp' is not supported by rhi"),
        (
            "next-hop self extended-community [ target:1:1 ]",
            "t.conf:8:37: neighbor 10.0.0.1: 'extended-community' on configured routes is not supported",
        ),
        (
            "next-hop self as-path [ 65002 ( 1 2 ) ]",
            "t.conf:8:53: neighbor 10.0.0.1: an AS_SET in as-path is not supported",
        ),
        ("next-hop self split /25", "t.conf:8:37: neighbor 10.0.0.1: 'split' is not supported by rhi"),
        ("next-hop self watchdog w", "t.conf:8:37: neighbor 10.0.0.1: 'watchdog' is not supported by rhi"),
        ("next-hop self label 100", "t.conf:8:37: neighbor 10.0.0.1: 'label' (MPLS/VPN routes) is not supported"),
        ("next-hop self colour red", "t.conf:8:37: neighbor 10.0.0.1: unknown route attribute 'colour'"),
        ("next-hop nowhere", "t.conf:8:32: neighbor 10.0.0.1: 'nowhere' is not a next-hop"),
        ("next-hop", "t.conf:8:23: neighbor 10.0.0.1: 'next-hop' needs a value"),
    ];
    for (attrs, expected) in cases {
        starts(&err(&route(attrs)), expected);
    }
    starts(
        &err(&neighbor("  static {\n    route 10.0.0.1/24 next-hop self;\n  }\n")),
        "t.conf:8:11: neighbor 10.0.0.1: 10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?",
    );
    starts(
        &err(&neighbor("  static {\n    route 10.0.0.0/24 next-hop self;\n  }\n  static {\n    route 10.0.0.0/24 next-hop self;\n  }\n")),
        "t.conf:11:5: neighbor 10.0.0.1: route 10.0.0.0/24 is given twice (first at line 8)",
    );
}

#[test]
fn as_path_rules() {
    let route =
        |asp: &str| neighbor(&format!("  static {{\n    route 10.0.0.0/24 next-hop self as-path {asp};\n  }}\n"));
    assert_eq!(ok(&route("65002")).config.vips[0].attributes.as_path_prepend, 0);
    assert_eq!(ok(&route("[ 65002, 65002 ]")).config.vips[0].attributes.as_path_prepend, 1);
    starts(
        &err(&route("[ 65002 64999 ]")),
        "t.conf:8:37: neighbor 10.0.0.1: route 10.0.0.0/24: `as-path [ 65002 64999 ]`: rhi originates its routes: the \
         AS path it sends is local-as (65002), repeated to prepend; AS 64999 cannot be set",
    );
    starts(
        &err(&route("[ ]")),
        "t.conf:8:37: neighbor 10.0.0.1: route 10.0.0.0/24: `as-path [  ]`: an empty AS path toward an eBGP neighbor",
    );
    let ibgp = |asp: &str| route(asp).replace("peer-as 65001", "peer-as 65002");
    assert_eq!(ok(&ibgp("[ ]")).config.vips[0].attributes.as_path_prepend, 0);
    starts(&err(&ibgp("[ 65002 ]")), "t.conf:8:37: neighbor 10.0.0.1: route 10.0.0.0/24: `as-path [ 65002 ]`: rhi sends iBGP neighbors an empty AS path");
    let lp = ok(&ibgp("[ ]").replace("as-path [ ]", "local-preference 200"));
    assert_eq!(lp.config.vips[0].attributes.local_pref, Some(200));
}

#[test]
fn next_hops_per_family() {
    let i = ok(&(HEAD.replace("family { ipv4 unicast; }", "family { ipv4 unicast; ipv6 unicast; }")
        + "  static {\n    route 10.0.0.0/24 next-hop self;\n    route 2001:db8:46::/48 next-hop 2001:db8::6;\n  }\n}\n"));
    let p = &i.config.peers[0];
    assert_eq!((p.next_hop, p.next_hop_v6), (NextHop::SelfAddress, Some("2001:db8::6".parse().unwrap())));

    let conflict = neighbor(
        "  static {\n    route 10.0.0.0/24 next-hop 192.0.2.1;\n    route 10.1.0.0/24 next-hop 192.0.2.2;\n  }\n",
    );
    assert_eq!(
        err(&conflict),
        "t.conf:9:23: neighbor 10.0.0.1: route 10.1.0.0/24 has `next-hop 192.0.2.2` but route 10.0.0.0/24 (line 8) \
         has `next-hop 192.0.2.1`: rhi has one next hop per neighbor and address family; give all IPv4 routes to this \
         neighbor the same next-hop"
    );
    let v6_self =
        HEAD.replace("ipv4 unicast;", "ipv6 unicast;") + "  static {\n    route 2001:db8::/32 next-hop self;\n  }\n}\n";
    starts(
        &err(&v6_self),
        "t.conf:8:25: neighbor 10.0.0.1: route 2001:db8::/32: next-hop self would be this IPv4 session's own address",
    );
    let v6_v4 = v6_self.replace("next-hop self", "next-hop 192.0.2.1");
    starts(&err(&v6_v4), "t.conf:8:25: neighbor 10.0.0.1: route 2001:db8::/32: an IPv6 route needs an IPv6 next-hop");
    let not_listed = neighbor("  static {\n    route 2001:db8::/32 next-hop 2001:db8::1;\n  }\n");
    starts(
        &err(&not_listed),
        "t.conf:8:11: neighbor 10.0.0.1: route 2001:db8::/32 is IPv6 but the family block does not list ipv6 unicast",
    );
    let v6_session = "neighbor 2001:db8::1 {\n  router-id 1.1.1.1;\n  local-address 2001:db8::2;\n  local-as 1;\n  \
                      peer-as 2;\n  family { ipv4 unicast; ipv6 unicast; }\n  static {\n    route 2001:db8:46::/48 next-hop self;\n  }\n}\n";
    let p = ok(v6_session).config.peers[0].clone();
    assert_eq!((p.next_hop, p.next_hop_v6), (NextHop::SelfAddress, None));
    let v4_self = v6_session.replace("route 2001:db8:46::/48", "route 10.0.0.0/8");
    starts(
        &err(&v4_self),
        "t.conf:8:22: neighbor 2001:db8::1: route 10.0.0.0/8: next-hop self would be this IPv6 session's own address",
    );
    // What rhi's own loader refuses is reported at the statement it came from.
    let link_local = v6_self.replace("next-hop self", "next-hop fe80::1");
    assert_eq!(
        err(&link_local),
        "t.conf:8:25: neighbor 10.0.0.1: rhi refuses the equivalent setting: peers[0].next_hop_v6: fe80::1 is \
         link-local; the next hop must be a global IPv6 address"
    );
}

const SECOND: &str = "neighbor 10.0.0.3 {\n  router-id 10.0.0.2;\n  local-address 10.0.0.2;\n  local-as 65002;\n  peer-as 65003;\n  family { ipv4 unicast; }\n";

#[test]
fn neighbors_must_agree_on_what_rhi_has_once() {
    let route = "  static {\n    route 10.0.0.0/24 next-hop self med 5;\n  }\n";
    let both = format!("{HEAD}{route}}}\n{SECOND}{route}}}\n");
    let i = ok(&both);
    assert_eq!(i.config.peers.len(), 2);
    assert_eq!(i.config.vips.len(), 1);

    let other_med = format!("{HEAD}{route}}}\n{SECOND}{}}}\n", route.replace("med 5", "med 6"));
    assert_eq!(
        err(&other_med),
        "t.conf:18:11: neighbor 10.0.0.3: route 10.0.0.0/24 differs from the same route for neighbor 10.0.0.1 (line \
         8): rhi announces a route alike to every neighbor; give it the same med, local-preference, communities and \
         as-path everywhere"
    );
    let missing = format!("{HEAD}{route}}}\n{SECOND}}}\n");
    starts(
        &err(&missing),
        "t.conf:11:1: neighbor 10.0.0.3: does not announce route 10.0.0.0/24, which neighbor 10.0.0.1 announces (line 8)",
    );
    // A neighbor that does not carry the family is not expected to announce it.
    let v6_only = SECOND.replace("ipv4 unicast", "ipv6 unicast");
    ok(&format!("{HEAD}{route}}}\n{v6_only}}}\n"));

    let rid = format!("{HEAD}}}\n{}}}\n", SECOND.replace("router-id 10.0.0.2", "router-id 10.0.0.9"));
    starts(&err(&rid), "t.conf:9:3: neighbor 10.0.0.3: router-id 10.0.0.9 (from its router-id) differs from router-id 10.0.0.2 of neighbor 10.0.0.1 (line 2)");
    let las = format!("{HEAD}}}\n{}}}\n", SECOND.replace("local-as 65002", "local-as 65009"));
    starts(
        &err(&las),
        "t.conf:11:3: neighbor 10.0.0.3: local-as 65009 differs from local-as 65002 of neighbor 10.0.0.1 (line 4)",
    );
    let dup = format!("{HEAD}}}\n{HEAD}}}\n");
    starts(&err(&dup), "t.conf:8:1: neighbor 10.0.0.1: this neighbor is already defined at line 1");
}

#[test]
fn templates_apply_as_in_exabgp() {
    let text = "template {\n  neighbor base {\n    local-as 65002;\n    hold-time 30;\n    family { ipv4 unicast; }\n    \
                static {\n      route 10.0.0.0/24 next-hop self;\n    }\n  }\n  neighbor extra {\n    api { processes [ p ]; }\n  }\n}\n\
                process p {\n  run /bin/cat;\n  encoder text;\n}\n\
                neighbor 10.0.0.1 {\n  inherit [ base extra ];\n  router-id 10.0.0.2;\n  local-address 10.0.0.2;\n  peer-as 65001;\n  hold-time 60;\n}\n\
                neighbor 10.0.0.3 {\n  inherit base;\n  router-id 10.0.0.2;\n  local-address 10.0.0.2;\n  peer-as 65003;\n}\n";
    let i = ok(text);
    let c = &i.config;
    assert_eq!(c.peers.iter().map(|p| p.hold_time).collect::<Vec<_>>(), [30, 30], "the template wins, as in ExaBGP");
    assert_eq!(c.peers.iter().map(|p| p.remote_as).collect::<Vec<_>>(), [65001, 65003]);
    assert_eq!(c.vips.len(), 1);
    assert_eq!(c.processes[0].neighbors, ["10.0.0.1"]);
    assert_eq!(
        i.warnings,
        ["t.conf:23:3: neighbor 10.0.0.1: `hold-time 60` is overridden by template base (`hold-time 30`, line 4): \
          ExaBGP gives the inherited value precedence, and so does rhi"]
    );

    let unknown = text.replace("inherit base;", "inherit bsae;");
    assert_eq!(
        err(&unknown),
        "t.conf:26:11: neighbor 10.0.0.3: inherits template 'bsae', which is not defined (defined: base, extra)"
    );
    let below = "neighbor 10.0.0.1 {\n  inherit t;\n}\ntemplate {\n  neighbor t {\n    local-as 1;\n  }\n}\n";
    starts(
        &err(below),
        "t.conf:2:11: neighbor 10.0.0.1: inherits template 't', which is defined further down (line 5)",
    );
    let nested = "template {\n  neighbor a {\n    inherit b;\n  }\n}\n";
    starts(&err(nested), "t.conf:3:5: template a: 'inherit' inside a template is ignored by ExaBGP");
    let dup = "template {\n  neighbor a { }\n  neighbor a { }\n}\n";
    starts(&err(dup), "t.conf:3:3: template a: already defined at line 2");
    let group = "group g {\n  neighbor 10.0.0.1 { }\n}\n";
    starts(&err(group), "t.conf:1:1: 'group' is ExaBGP 3 syntax");
    // A route from a template is reported at the template's line, naming the neighbor.
    let foreign = text.replace("next-hop self;", "next-hop self as-path [ 65002 1 ];");
    starts(
        &err(&foreign),
        "t.conf:7:39: neighbor 10.0.0.1: route 10.0.0.0/24 (from template base): `as-path [ 65002 1 ]`",
    );
}

#[test]
fn processes() {
    let text = format!(
        "process watch {{\n  run /usr/bin/python3 -m exabgp healthcheck --cmd \"curl -sf http://127.0.0.1/\" --ip 10.46.46.46/32;\n  encoder text;\n}}\n\
         process events {{\n  run /usr/local/bin/rx \"a b\";\n  encoder json;\n  respawn true;\n}}\n\
         {}  api {{\n    processes [ events ];\n    neighbor-changes;\n    receive {{ parsed; update; }}\n  }}\n}}\n",
        HEAD
    );
    let i = ok(&text);
    let p = &i.config.processes;
    assert_eq!(p[0].name, "watch");
    assert_eq!(
        p[0].run,
        [
            "/usr/bin/python3",
            "-m",
            "exabgp",
            "healthcheck",
            "--cmd",
            "curl -sf http://127.0.0.1/",
            "--ip",
            "10.46.46.46/32"
        ]
    );
    assert_eq!((p[0].encoder, p[0].ack), (Encoder::Text, true));
    assert!(p[0].neighbors.is_empty());
    assert_eq!(
        (p[1].encoder, p[1].run.clone(), p[1].neighbors.clone()),
        (Encoder::Json, vec!["/usr/local/bin/rx".into(), "a b".into()], vec!["10.0.0.1".into()])
    );
    assert_eq!(
        i.warnings,
        ["t.conf:1:1: process watch: no neighbor's api lists it: ExaBGP sends it no events; rhi sends it the events of \
          every neighbor"]
    );

    let relative = ok(&("process p {\n  run python3 x.py a,b;\n  encoder text;\n}\n".to_owned() + &neighbor("")));
    starts(&relative.warnings[1], "t.conf:2:7: process p: 'python3' is not an absolute path");
    starts(&relative.warnings[2], "t.conf:2:21: process p: ',' is an argument of its own here");
    assert_eq!(relative.config.processes[0].run, ["python3", "x.py", "a", ",", "b"]);

    let cases = [
        ("process p {\n  encoder text;\n}\n", "t.conf:1:1: process p: missing run (ExaBGP refuses it too)"),
        (
            "process p {\n  run /x;\n  encoder xml;\n}\n",
            "t.conf:3:11: process p: 'xml' is not an encoder: use text or json",
        ),
        ("process p {\n  run /x;\n  respawn false;\n}\n", "t.conf:3:3: process p: 'respawn false' is not supported"),
        ("process p {\n  run /x;\n}\nprocess p {\n  run /y;\n}\n", "t.conf:4:1: process p: already defined at line 1"),
        (
            "process p {\n  rn /x;\n}\n",
            "t.conf:2:3: process p: unknown keyword 'rn' (a process has run, encoder); did you mean 'run'?",
        ),
        ("process {\n  run /x;\n}\n", "t.conf:1:1: write it as: process NAME"),
    ];
    for (procs, expected) in cases {
        starts(&err(&format!("{procs}{}", neighbor(""))), expected);
    }
    let undefined = neighbor("  api { processes [ nope ]; }\n");
    assert_eq!(
        err(&undefined),
        "t.conf:7:21: neighbor 10.0.0.1: api lists process 'nope', which is not defined (there is no process block)"
    );
    let bad_option = neighbor("  api {\n    processes [ ];\n    receive { parsd; }\n  }\n");
    starts(&err(&bad_option), "t.conf:9:15: neighbor 10.0.0.1: unknown receive option 'parsd'; did you mean 'parsed'?");
    let no_brackets = neighbor("  api { processes p; }\n");
    starts(&err(&no_brackets), "t.conf:7:19: neighbor 10.0.0.1: write it as: processes [ NAME ... ]");
}

#[test]
fn document_level_errors() {
    assert_eq!(
        err(""),
        "t.conf: there is no neighbor block: rhi needs at least one to know its router-id and local-as"
    );
    starts(&err("neighbour 10.0.0.1 { }"), "t.conf:1:1: unknown top-level keyword 'neighbour'");
    starts(&err("neighbor 10.0.0.0/24 { }"), "t.conf:1:10: neighbor 10.0.0.0/24: a range of neighbor addresses");
    starts(&err("neighbor bird { }"), "t.conf:1:10: neighbor 'bird': not an IP address");
    starts(&err("neighbor 10.0.0.1;"), "t.conf:1:1: 'neighbor' is a block");
    starts(
        &err("neighbor 10.0.0.1 {\n  local-as 1\n}\n"),
        "t.conf:2:3: missing ';' at the end of `local-as 1` (ExaBGP reads",
    );
    let zero = "neighbor 0.0.0.0 {\n  router-id 1.1.1.1;\n  local-as 1;\n  peer-as 2;\n  family { ipv4 unicast; }\n}\n";
    assert_eq!(
        err(zero),
        "t.conf:1:1: neighbor 0.0.0.0: rhi refuses the equivalent setting: peers[0].address: 0.0.0.0 is not a unicast address"
    );
}

#[test]
fn warnings_are_in_file_order_and_check_config_prints_them() {
    let text = "process p {\n  run /x;\n}\n".to_owned() + &neighbor("  group-updates false;\n");
    let i = ok(&text);
    assert_eq!(i.warnings.len(), 2);
    assert!(i.warnings[0].starts_with("t.conf:1:1:") && i.warnings[1].starts_with("t.conf:10:3:"), "{:?}", i.warnings);
    let yaml = i.to_yaml();
    assert!(yaml.starts_with("# warning: t.conf:1:1: process p:"), "{yaml}");
    // What check-config prints loads back as the same configuration.
    assert_eq!(Config::from_yaml(&yaml, "x.yaml").unwrap(), i.config);
}

#[test]
fn import_error_display_and_conversion() {
    let e =
        ImportError { origin: "a.conf".into(), position: Some(Position { line: 3, column: 5 }), message: "m".into() };
    assert_eq!(e.to_string(), "a.conf:3:5: m");
    let c: ConfigError = e.into();
    assert_eq!(c.to_string(), "a.conf:3:5: m");
    let missing = import_file(Path::new("/nonexistent/exabgp.conf")).unwrap_err();
    starts(&missing.to_string(), "/nonexistent/exabgp.conf: cannot read:");
}

fn key(i: &Imported) -> Option<Vec<u8>> {
    i.config.peers[0].md5.as_ref().map(|k| k.secret().to_vec())
}

#[test]
fn md5_password_as_exabgp_reads_it() {
    // Unquoted, double- or single-quoted (spaces, `#`, `;` and the other quote kept), escapes.
    let cases: [(&str, &[u8]); 5] = [
        ("md5-password abc123;", b"abc123"),
        ("md5-password \"my md5 of the day\";", b"my md5 of the day"),
        ("md5-password 'it;s #1 \"ok\"';", b"it;s #1 \"ok\""),
        ("md5-password a\\tb;", b"a\tb"),
        ("md5-password \"s3cret\"; md5-base64 false;", b"s3cret"),
    ];
    for (line, expected) in cases {
        let i = ok(&neighbor(&format!("  {line}\n")));
        assert_eq!(key(&i).as_deref(), Some(expected), "{line}");
        assert_eq!(i.config.peers[0].md5, Some(Md5Key::inline(expected)));
        assert_eq!(
            i.warnings,
            ["t.conf:7:3: neighbor 10.0.0.1: the md5-password is never printed (`password: (redacted)`): in a YAML \
              configuration, put the key in a file only rhi can read and set password_file"]
        );
        // Neither the warnings nor what check-config prints show the key; the YAML says (redacted).
        let printed = i.to_yaml();
        let secret = String::from_utf8_lossy(expected).into_owned();
        assert!(!printed.contains(&secret), "{printed}");
        assert!(printed.contains("password: (redacted)"), "{printed}");
        assert!(!format!("{:?}", i.config).contains(&secret));
    }
    // The same key from a template, as ExaBGP inherits it.
    let text =
        "template {\n  neighbor t {\n    md5-password \"tmpl-key\";\n  }\n}\n".to_owned() + &neighbor("  inherit t;\n");
    let i = ok(&text);
    assert_eq!(key(&i).as_deref(), Some(&b"tmpl-key"[..]));
}

#[test]
fn md5_base64_is_decoded() {
    // "s3cret!" in base64; with ExaBGP's true/enable/enabled.
    for flag in ["true", "enable", "Enabled"] {
        let i = ok(&neighbor(&format!("  md5-password \"czNjcmV0IQ==\";\n  md5-base64 {flag};\n")));
        assert_eq!(key(&i).as_deref(), Some(&b"s3cret!"[..]), "{flag}");
    }
    // Binary keys (not UTF-8) are kept as bytes.
    let i = ok(&neighbor("  md5-base64 true;\n  md5-password AP8QgA==;\n"));
    assert_eq!(key(&i).as_deref(), Some(&[0x00, 0xFF, 0x10, 0x80][..]));
    // `md5-base64;` alone is false in ExaBGP (its default): used as written, with a warning.
    let i = ok(&neighbor("  md5-password czNjcmV0IQ==;\n  md5-base64;\n"));
    assert_eq!(key(&i).as_deref(), Some(&b"czNjcmV0IQ=="[..]));
    assert!(i.warnings.iter().any(|w| w.starts_with("t.conf:8:3: neighbor 10.0.0.1: 'md5-base64' alone means false")));
    // md5-base64 without a password changes nothing.
    assert_eq!(key(&ok(&neighbor("  md5-base64 true;\n"))), None);
}

#[test]
fn md5_errors_never_show_the_key() {
    let cases = [
        ("  md5-password \"\";\n", "t.conf:7:16: neighbor 10.0.0.1: 'md5-password' needs the key"),
        ("  md5-password two words;\n", "t.conf:7:20: neighbor 10.0.0.1: 'md5-password' takes one value; quote it"),
        (
            "  md5-password \"n0t-b64!\";\n  md5-base64 true;\n",
            "t.conf:7:3: neighbor 10.0.0.1: md5-password is not valid base64 (a character outside A-Z a-z 0-9 + / =), \
             which md5-base64 at line 8 says",
        ),
        (
            "  md5-password abc;\n  md5-base64 true;\n",
            "t.conf:7:3: neighbor 10.0.0.1: md5-password is not valid base64 (its length with padding is not a multiple",
        ),
        ("  md5-password abc;\n  md5-base64 auto;\n", "t.conf:8:14: neighbor 10.0.0.1: 'md5-base64 auto' is not supported"),
        ("  md5-password abc;\n  md5-base64 maybe;\n", "t.conf:8:14: neighbor 10.0.0.1: 'maybe' is not a boolean"),
        ("  md5-password \"caf\u{e9}\";\n", "t.conf:7:3: neighbor 10.0.0.1: md5-password has a non-ASCII character"),
        (
            "  md5-password pw1;\n  md5-password pw2;\n",
            "t.conf:8:3: neighbor 10.0.0.1: 'md5-password' is given twice in this block (first at line 7)",
        ),
    ];
    for (extra, expected) in cases {
        let e = err(&neighbor(extra));
        starts(&e, expected);
        for secret in ["n0t-b64", "pw1", "pw2", "caf"] {
            assert!(!e.contains(secret), "{e}");
        }
    }
    let long = "k".repeat(81);
    let e = err(&neighbor(&format!("  md5-password {long};\n")));
    assert_eq!(
        e,
        "t.conf:7:3: neighbor 10.0.0.1: md5-password: the key is 81 bytes long; the kernel takes at most 80 (ExaBGP \
         refuses it too)"
    );
    assert!(ok(&neighbor(&format!("  md5-password {};\n", "k".repeat(80)))).config.peers[0].md5.is_some());
    // A template's key replacing the neighbor's is reported without either key.
    let text = "template {\n  neighbor t {\n    md5-password tmplkey;\n  }\n}\n".to_owned()
        + &neighbor("  md5-password ownkey;\n  inherit t;\n");
    let i = ok(&text);
    let overridden = i.warnings.iter().find(|w| w.contains("overridden")).expect("a warning");
    assert!(!overridden.contains("tmplkey") && !overridden.contains("ownkey"), "{overridden}");
    assert!(overridden.contains("`md5-password (redacted)`"), "{overridden}");
}

#[test]
fn md5_ip_is_the_local_address() {
    // Equal to local-address: nothing to say.
    let i = ok(&neighbor("  md5-password k;\n  md5-ip 10.0.0.2;\n"));
    assert_eq!(i.config.peers[0].local_address, Some(ip("10.0.0.2")));
    assert_eq!(i.warnings.len(), 1, "only the md5-password reminder: {:?}", i.warnings);
    // Different: ExaBGP would connect from and listen on it; rhi has one local address.
    assert_eq!(
        err(&neighbor("  md5-password k;\n  md5-ip 10.0.0.3;\n")),
        "t.conf:8:3: neighbor 10.0.0.1: md5-ip 10.0.0.3 differs from local-address 10.0.0.2: ExaBGP would connect \
         from and listen on 10.0.0.3 (the local end the key is bound to); rhi has one local address per session: \
         write local-address 10.0.0.3, or remove md5-ip"
    );
    assert_eq!(
        err(&neighbor("  md5-ip 2001:db8::1;\n")),
        "t.conf:7:3: neighbor 10.0.0.1: md5-ip 2001:db8::1 and the neighbor address 10.0.0.1 must be of the same family"
    );
    starts(&err(&neighbor("  md5-ip nowhere;\n")), "t.conf:7:10: neighbor 10.0.0.1: 'nowhere' is not an IP address");
    // With local-address auto ExaBGP ignores md5-ip; so does rhi, saying so.
    let auto = neighbor("  md5-ip 10.0.0.9;\n").replace("local-address 10.0.0.2;", "local-address auto;");
    let i = ok(&auto);
    assert_eq!(i.config.peers[0].local_address, None);
    assert_eq!(
        i.warnings,
        ["t.conf:7:3: neighbor 10.0.0.1: `md5-ip 10.0.0.9` is ignored with local-address auto (by ExaBGP too)"]
    );
}

#[test]
fn outgoing_ttl_is_ttl() {
    let i = ok(&neighbor("  outgoing-ttl 255;\n"));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Outgoing(255));
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    assert_eq!(ok(&neighbor("  outgoing-ttl 1;\n")).config.peers[0].ttl, TtlPolicy::Outgoing(1));
    // 0, false, disable(d): ExaBGP leaves the TTL alone.
    for off in ["0", "false", "disable", "disabled"] {
        assert_eq!(ok(&neighbor(&format!("  outgoing-ttl {off};\n"))).config.peers[0].ttl, TtlPolicy::Default, "{off}");
    }
    starts(
        &err(&neighbor("  outgoing-ttl 256;\n")),
        "t.conf:7:16: neighbor 10.0.0.1: outgoing-ttl 256: a TTL is at most 255",
    );
    starts(&err(&neighbor("  outgoing-ttl -1;\n")), "t.conf:7:16: neighbor 10.0.0.1: '-1' is not a TTL");
    starts(&err(&neighbor("  outgoing-ttl;\n")), "t.conf:7:3: neighbor 10.0.0.1: 'outgoing-ttl' needs a value");
}

#[test]
fn incoming_ttl_is_gtsm() {
    // A passive neighbor with listen: exactly where ExaBGP checks it.
    let listening = "  passive;\n  listen 179;\n";
    for (min, hops) in [(255, 1), (254, 2), (2, 254)] {
        let i = ok(&neighbor(&format!("{listening}  incoming-ttl {min};\n")));
        assert_eq!(i.config.peers[0].ttl, TtlPolicy::Gtsm { hops }, "incoming-ttl {min}");
        assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    }
    // With outgoing-ttl 255 too: GTSM as the RFC has it, silently.
    let i = ok(&neighbor(&format!("{listening}  outgoing-ttl 255;\n  incoming-ttl 255;\n")));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Gtsm { hops: 1 });
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    // Another outgoing TTL becomes 255, said at its line.
    let i = ok(&neighbor(&format!("{listening}  outgoing-ttl 64;\n  incoming-ttl 254;\n")));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Gtsm { hops: 2 });
    assert_eq!(
        i.warnings,
        ["t.conf:9:3: neighbor 10.0.0.1: `outgoing-ttl 64` becomes TTL 255: with `incoming-ttl 254` rhi checks the \
          router's TTL as GTSM does (RFC 5082, ttl_security hops 2), which always sends 255; a router accepts TTL 255 \
          wherever it accepted 64"]
    );
    // An active neighbor: ExaBGP would not check it there; rhi does, and says so.
    let i = ok(&neighbor("  incoming-ttl 255;\n"));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Gtsm { hops: 1 });
    assert_eq!(
        i.warnings,
        ["t.conf:7:3: neighbor 10.0.0.1: ExaBGP checks incoming-ttl only on the connections it accepts (with \
          listen); rhi checks it on every session to this neighbor: the router must send TTL 255 or more \
          (ttl-security hops 1 on the router)"]
    );
    // 1 accepts everything: no check (the outgoing TTL, if any, stays).
    let i = ok(&neighbor(&format!("{listening}  incoming-ttl 1;\n  outgoing-ttl 10;\n")));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Outgoing(10));
    starts(&i.warnings[0], "t.conf:9:3: neighbor 10.0.0.1: `incoming-ttl 1` accepts every TTL");
    assert_eq!(ok(&neighbor("  incoming-ttl disable;\n")).config.peers[0].ttl, TtlPolicy::Default);
    starts(
        &err(&neighbor("  incoming-ttl 300;\n")),
        "t.conf:7:16: neighbor 10.0.0.1: incoming-ttl 300: a TTL is at most",
    );
    // From a template, like any single value.
    let text = "template {\n  neighbor t {\n    incoming-ttl 253;\n    passive;\n    listen 1179;\n  }\n}\n".to_owned()
        + &neighbor("  inherit t;\n");
    assert_eq!(ok(&text).config.peers[0].ttl, TtlPolicy::Gtsm { hops: 3 });
}

#[test]
fn ttl_security_is_exabgp_3s_outgoing_ttl() {
    let i = ok(&neighbor("  ttl-security;\n"));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Outgoing(255));
    assert_eq!(
        i.warnings,
        ["t.conf:7:3: neighbor 10.0.0.1: 'ttl-security' is ExaBGP 3 syntax (ExaBGP 4 and 5 refuse it), where it set \
          the outgoing TTL only: rhi reads it as `ttl: 255`; for GTSM (RFC 5082, the router's TTL checked too) write \
          incoming-ttl 255;"]
    );
    assert_eq!(ok(&neighbor("  ttl-security 64;\n")).config.peers[0].ttl, TtlPolicy::Outgoing(64));
    // With incoming-ttl it is GTSM.
    let i = ok(&neighbor("  passive;\n  listen 179;\n  ttl-security;\n  incoming-ttl 255;\n"));
    assert_eq!(i.config.peers[0].ttl, TtlPolicy::Gtsm { hops: 1 });
    assert_eq!(
        err(&neighbor("  outgoing-ttl 255;\n  ttl-security;\n")),
        "t.conf:8:3: neighbor 10.0.0.1: `ttl-security` and `outgoing-ttl 255` (line 7) both set the outgoing TTL: \
         keep one"
    );
}

#[test]
fn graceful_restart_capability() {
    let gr = |i: &Imported| i.config.peers[0].graceful_restart;
    let secs = |s| Some(GracefulRestart { restart_time: std::time::Duration::from_secs(s) });
    let i = ok(&neighbor("  capability { graceful-restart 120; }\n"));
    assert_eq!(gr(&i), secs(120));
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    assert_eq!(gr(&ok(&neighbor("  capability {\n    graceful-restart 4095;\n  }\n"))), secs(4095));
    // Alone (or 0): ExaBGP takes the hold-time.
    let i = ok(&neighbor("  capability { graceful-restart; }\n"));
    assert_eq!(gr(&i), secs(180));
    assert_eq!(
        i.warnings,
        ["t.conf:7:16: neighbor 10.0.0.1: `graceful-restart` gives no restart time: ExaBGP uses the hold-time (180s) \
          and so does rhi; a crashed node's routes stay at the router that long: a short time (30) is safer"]
    );
    assert_eq!(gr(&ok(&neighbor("  hold-time 30;\n  capability { graceful-restart 0; }\n"))), secs(30));
    // Disabled, or not there: no capability.
    assert_eq!(gr(&ok(&neighbor("  capability { graceful-restart disable; }\n"))), None);
    assert_eq!(gr(&ok(&neighbor(""))), None);
    // Per peer in what check-config prints.
    let printed = ok(&neighbor("  capability { graceful-restart 45; }\n")).to_yaml();
    assert!(printed.contains("restart_time: 45s"), "{printed}");
    assert_eq!(
        err(&neighbor("  capability { graceful-restart 5000; }\n")),
        "t.conf:7:33: neighbor 10.0.0.1: graceful-restart 5000: the restart time is at most 4095 seconds (a 12-bit \
         field, RFC 4724)"
    );
    starts(
        &err(&neighbor("  capability { graceful-restart soon; }\n")),
        "t.conf:7:33: neighbor 10.0.0.1: 'soon' is not a graceful-restart time in seconds",
    );
    // In a template, inherited like the other values.
    let text = "template {\n  neighbor t {\n    capability { graceful-restart 60; }\n  }\n}\n".to_owned()
        + &neighbor("  inherit t;\n");
    assert_eq!(gr(&ok(&text)), secs(60));
    // A hold-time beyond 4095 with graceful-restart alone: rhi's own check, at the statement.
    starts(
        &err(&neighbor("  hold-time 5000;\n  capability { graceful-restart; }\n")),
        "t.conf:8:16: neighbor 10.0.0.1: rhi refuses the equivalent setting: peers[0].graceful_restart.restart_time",
    );
}

#[test]
fn decode_base64_like_python() {
    use super::convert::tests_support::decode;
    assert_eq!(decode("czNjcmV0IQ==").unwrap(), b"s3cret!");
    assert_eq!(decode("YWJj").unwrap(), b"abc");
    assert_eq!(decode("YWI=").unwrap(), b"ab");
    assert_eq!(decode("").unwrap(), b"");
    assert!(decode("YWI").is_err() && decode("YW===").is_err() && decode("YW-j").is_err());
}
