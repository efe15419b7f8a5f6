//! Proves the test harness against real routers without rhi: GoBGP and ExaBGP stand in for the
//! injector, BIRD, GoBGP and FRR receive, and the harness's parsers must read back exactly what
//! was announced. These stay in the suite: they catch a router upgrade that changes the output
//! format the rhi tests depend on.

mod support;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::bird::{parse_protocol_state, parse_show_route};
use support::frr::parse_prefix_detail;
use support::gobgp::parse_rib_json;
use support::process::WorkDir;
use support::*;

const VIP4: &str = "10.46.46.46/32";
const VIP6: &str = "2001:db8:46::46/128";
/// Room for a slow CI machine running two tests per core; a healthy run needs about 2 s.
const TIMEOUT: Duration = Duration::from_secs(30);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The announcement every smoke test sends for the IPv4 VIP, in gobgp CLI syntax.
const GOBGP_VIP4: &str = "nexthop 192.0.2.6 med 300 community 65006:46 origin igp";
const GOBGP_VIP6: &str = "nexthop 2001:db8::6 med 300 community 65006:46,65006:300 large-community 65006:1:2";

fn assert_vip4(route: &Route, receiver: &str) {
    assert_eq!(route.next_hop, Some(ip(NEXT_HOP_V4)), "{receiver}: {route}");
    assert_eq!(route.med, Some(300), "{receiver}: {route}");
    assert_eq!(route.communities, vec![(65006, 46)], "{receiver}: {route}");
    assert!(route.has_community("65006:46"), "{receiver}: {route}");
    assert_eq!(route.origin, Some(Origin::Igp), "{receiver}: {route}");
    assert_eq!(route.as_path, vec![INJECTOR_AS], "{receiver}: {route}");
    assert!(route.best, "{receiver}: {route}");
}

fn assert_vip6(route: &Route, receiver: &str) {
    assert_eq!(route.next_hop, Some(ip(NEXT_HOP_V6)), "{receiver}: {route}");
    assert_eq!(route.med, Some(300), "{receiver}: {route}");
    assert_eq!(route.communities, vec![(65006, 46), (65006, 300)], "{receiver}: {route}");
    assert_eq!(route.large_communities, vec![(65006, 1, 2)], "{receiver}: {route}");
    // gobgp's CLI sends INCOMPLETE unless told otherwise.
    assert_eq!(route.origin, Some(Origin::Incomplete), "{receiver}: {route}");
}

/// ExaBGP routes with everything the parsers must handle: explicit AS path, large communities,
/// a community list long enough that BIRD wraps it onto continuation lines, well-known names.
fn exabgp_routes() -> Vec<String> {
    let many: Vec<String> = (1..=60).map(|i| format!("65006:{i}")).collect();
    vec![
        format!(
            "{VIP4} next-hop {NEXT_HOP_V4} med 300 community [ 65006:46 ] as-path [ {INJECTOR_AS} 64999 ] origin igp"
        ),
        format!(
            "{VIP6} next-hop {NEXT_HOP_V6} med 600 community [ 65006:66 no-export ] large-community [ 65006:1:2 65006:3:4 ] origin egp"
        ),
        format!(
            "10.46.46.47/32 next-hop {NEXT_HOP_V4} med 1000 community [ {} ] origin incomplete",
            many.join(" ")
        ),
    ]
}

fn assert_exabgp_routes(routes: &[Route], receiver: &str) {
    let find = |p: &str| {
        routes.iter().find(|r| r.prefix.to_string() == p).unwrap_or_else(|| panic!("{receiver}: no {p} in {routes:#?}"))
    };
    let v4 = find(VIP4);
    assert_eq!(v4.as_path, vec![INJECTOR_AS, 64999], "{receiver}: {v4}");
    assert_eq!(v4.med, Some(300), "{receiver}: {v4}");
    assert_eq!(v4.communities, vec![(65006, 46)], "{receiver}: {v4}");
    assert_eq!(v4.next_hop, Some(ip(NEXT_HOP_V4)), "{receiver}: {v4}");
    assert_eq!(v4.origin, Some(Origin::Igp), "{receiver}: {v4}");

    let v6 = find(VIP6);
    assert_eq!(v6.next_hop, Some(ip(NEXT_HOP_V6)), "{receiver}: {v6}");
    assert_eq!(v6.med, Some(600), "{receiver}: {v6}");
    assert_eq!(v6.communities, vec![(65006, 66), community("no-export")], "{receiver}: {v6}");
    assert_eq!(v6.large_communities, vec![(65006, 1, 2), (65006, 3, 4)], "{receiver}: {v6}");
    assert_eq!(v6.origin, Some(Origin::Egp), "{receiver}: {v6}");
    assert_eq!(v6.as_path, vec![INJECTOR_AS], "{receiver}: {v6}");

    let many = find("10.46.46.47/32");
    let expected: Vec<(u16, u16)> = (1..=60).map(|i| (65006, i)).collect();
    assert_eq!(many.communities, expected, "{receiver}: {many}");
    assert_eq!(many.med, Some(1000), "{receiver}: {many}");
    assert_eq!(many.origin, Some(Origin::Incomplete), "{receiver}: {many}");
}

// ---------------------------------------------------------------------------------------------
// Real routers

#[test]
fn bird_receives_vips_from_gobgp_announcer() {
    if !require(&[Peer::Bird, Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    // The announcer listens and BIRD connects: GoBGP would wait 5-10 s as the active side.
    let announcer = Gobgp::start(GobgpOptions::announcer(&net));
    let bird = Bird::start(BirdOptions { passive: false, ..BirdOptions::new(&net) });
    bird.wait_established(TIMEOUT);
    announcer.wait_established(TIMEOUT);

    announcer.add_route(VIP4, GOBGP_VIP4);
    announcer.add_route(VIP6, GOBGP_VIP6);
    let v4 = bird.wait_route(VIP4, TIMEOUT);
    assert_vip4(&v4, "BIRD");
    assert_eq!(v4.from, Some(net.injector()));
    // BIRD gives eBGP routes its default local preference on import.
    assert_eq!(v4.local_pref, Some(100));
    assert_vip6(&bird.wait_route(VIP6, TIMEOUT), "BIRD");
    assert_eq!(bird.routes().len(), 2, "{:#?}", bird.routes());
    assert_eq!(bird.protocol_state(), "Established");

    announcer.del_route(VIP4);
    bird.wait_no_route(VIP4, TIMEOUT);
    assert!(bird.route(VIP6).is_some(), "withdrawing {VIP4} must not take {VIP6}");
    assert!(bird.show_route(VIP6).contains("BGP.med: 300"));
}

#[test]
fn bird_passive_parses_paths_and_long_community_lists_from_exabgp() {
    if !require(&[Peer::Bird, Peer::Exabgp]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let exabgp = Exabgp::start(ExabgpOptions { routes: exabgp_routes(), ..ExabgpOptions::new(&net) });
    let routes = bird.wait_route_count(3, TIMEOUT);
    assert_exabgp_routes(&routes, "BIRD");
    // The 60 communities really are wrapped by birdc: the parser is exercised, not bypassed.
    let raw = bird.show_route("10.46.46.47/32");
    assert!(raw.contains("\n\t\t("), "expected a continuation line in:\n{raw}");

    exabgp.stop();
    bird.wait_not_established(TIMEOUT);
    bird.wait_route_count(0, TIMEOUT);
}

#[test]
fn gobgp_receives_vips_from_exabgp() {
    if !require(&[Peer::Gobgp, Peer::Exabgp]) {
        return;
    }
    let net = TestNet::allocate();
    let gobgp = Gobgp::start(GobgpOptions::new(&net));
    let _exabgp = Exabgp::start(ExabgpOptions { routes: exabgp_routes(), ..ExabgpOptions::new(&net) });
    gobgp.wait_established(TIMEOUT);
    let routes = gobgp.wait_route_count(3, TIMEOUT);
    assert_exabgp_routes(&routes, "GoBGP");
    assert!(routes.iter().all(|r| r.from == Some(net.injector())));
}

#[test]
fn frr_receives_vips_from_gobgp_announcer() {
    if !require(&[Peer::Frr, Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let announcer = Gobgp::start(GobgpOptions::announcer(&net));
    let frr = Frr::start(FrrOptions { passive: false, ..FrrOptions::new(&net) });
    frr.wait_established(TIMEOUT);
    announcer.add_route(VIP4, GOBGP_VIP4);
    announcer.add_route(VIP6, GOBGP_VIP6);
    let v4 = frr.wait_route(VIP4, TIMEOUT);
    assert_vip4(&v4, "FRR");
    assert_eq!(v4.from, Some(net.injector()));
    assert_vip6(&frr.wait_route(VIP6, TIMEOUT), "FRR");

    announcer.del_route(VIP6);
    frr.wait_no_route(VIP6, TIMEOUT);
    assert_eq!(frr.routes().len(), 1);
}

#[test]
fn frr_passive_maps_well_known_communities_from_exabgp() {
    if !require(&[Peer::Frr, Peer::Exabgp]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = Frr::start(FrrOptions::new(&net));
    let mut routes = exabgp_routes();
    routes.push(format!("10.46.46.48/32 next-hop {NEXT_HOP_V4} community [ 65535:0 65535:65281 ]"));
    let _exabgp = Exabgp::start(ExabgpOptions { routes, ..ExabgpOptions::new(&net) });
    let routes = frr.wait_route_count(4, TIMEOUT);
    assert_exabgp_routes(&routes, "FRR");
    let gshut = frr.route("10.46.46.48/32").unwrap();
    // FRR prints these as "graceful-shutdown" and "no-export"; the parser maps them back.
    assert_eq!(gshut.communities, vec![(65535, 0), (65535, 65281)], "{gshut}");
    assert!(gshut.has_community("graceful-shutdown"));
    assert_eq!(frr.session_state(), "Established");
}

#[test]
fn bird_killed_and_restarted_gets_the_routes_again() {
    if !require(&[Peer::Bird, Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let announcer = Gobgp::start(GobgpOptions::announcer(&net));
    announcer.add_route(VIP4, GOBGP_VIP4);
    let bird = Bird::start(BirdOptions { passive: false, ..BirdOptions::new(&net) });
    assert_vip4(&bird.wait_route(VIP4, TIMEOUT), "BIRD");
    let first_pid = bird.daemon().pid().unwrap();

    bird.kill();
    assert!(!bird.daemon().is_running());
    announcer.wait_not_established(TIMEOUT);

    bird.restart();
    assert_ne!(bird.daemon().pid(), Some(first_pid));
    assert_vip4(&bird.wait_route(VIP4, TIMEOUT), "BIRD after restart");
    assert!(bird.log().matches("=== harness: starting").count() == 2);
}

#[test]
fn ibgp_carries_local_pref_to_bird_and_frr() {
    if !require(&[Peer::Bird, Peer::Frr, Peer::Gobgp]) {
        return;
    }
    let attrs = "nexthop 192.0.2.6 med 300 local-pref 200 community 65006:46 origin igp";
    let ibgp_announcer = |net: &TestNet| {
        let announcer = Gobgp::start(GobgpOptions { ibgp: true, local_as: ROUTER_AS, ..GobgpOptions::announcer(net) });
        announcer.add_route(VIP4, attrs);
        announcer
    };

    let net_bird = TestNet::allocate();
    let _announcer_bird = ibgp_announcer(&net_bird);
    let bird = Bird::start(BirdOptions { passive: false, ibgp: true, ..BirdOptions::new(&net_bird) });

    let net_frr = TestNet::allocate();
    let _announcer_frr = ibgp_announcer(&net_frr);
    let frr = Frr::start(FrrOptions { passive: false, ibgp: true, ..FrrOptions::new(&net_frr) });

    for (route, receiver) in [(bird.wait_route(VIP4, TIMEOUT), "BIRD"), (frr.wait_route(VIP4, TIMEOUT), "FRR")] {
        assert_eq!(route.local_pref, Some(200), "{receiver}: {route}");
        assert!(route.as_path.is_empty(), "{receiver}: iBGP adds no AS: {route}");
        assert_eq!(route.med, Some(300), "{receiver}: {route}");
        assert_eq!(route.next_hop, Some(ip(NEXT_HOP_V4)), "{receiver}: {route}");
    }
}

#[test]
fn bird_picks_lower_med_between_two_injectors() {
    if !require(&[Peer::Bird, Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let node_b = net.addr(3);
    let announcer_a = Gobgp::start(GobgpOptions::announcer(&net));
    let announcer_b = Gobgp::start(GobgpOptions { router_addr: node_b, ..GobgpOptions::announcer(&net) });
    announcer_a.add_route(VIP4, "nexthop 192.0.2.6 med 100 origin igp");
    announcer_b.add_route(VIP4, "nexthop 192.0.2.7 med 300 origin igp");
    let bird = Bird::start(BirdOptions {
        passive: false,
        extra_peers: vec![BirdPeer { name: "node_b".into(), addr: node_b, port: BGP_PORT, asn: INJECTOR_AS }],
        ..BirdOptions::new(&net)
    });
    bird.wait_route(VIP4, TIMEOUT);
    let what = "both paths to 10.46.46.46/32 in BIRD's table";
    let paths = wait_until(TIMEOUT, what, || {
        let paths: Vec<Route> = bird.table().into_iter().filter(|r| r.prefix.to_string() == VIP4).collect();
        (paths.len() == 2).then_some(paths)
    });
    let best: Vec<&Route> = paths.iter().filter(|r| r.best).collect();
    assert_eq!(best.len(), 1, "{paths:#?}");
    assert_eq!(best[0].med, Some(100), "same neighbour AS: lower MED wins: {paths:#?}");
    assert_eq!(best[0].from, Some(net.injector()));
    let other = paths.iter().find(|r| !r.best).unwrap();
    assert_eq!((other.from, other.med), (Some(node_b), Some(300)));
    assert_eq!(bird.routes_of("node_b").unwrap().len(), 1);
    assert_eq!(bird.protocol_state_of("node_b").unwrap(), "Established");

    // Active/passive failover: the preferred node withdraws, the other takes over.
    announcer_a.del_route(VIP4);
    bird.wait_no_route(VIP4, TIMEOUT);
    let table = bird.table();
    assert_eq!(table.len(), 1, "{table:#?}");
    assert!(table[0].best && table[0].from == Some(node_b), "{table:#?}");
}

// ---------------------------------------------------------------------------------------------
// Harness mechanics

#[test]
fn test_nets_are_unique_and_exclusive() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let nets: Vec<TestNet> = (0..8)
        .map(|_| {
            let seen = Arc::clone(&seen);
            thread::spawn(move || {
                let nets: Vec<TestNet> = (0..16).map(|_| TestNet::allocate()).collect();
                for n in &nets {
                    assert!(seen.lock().unwrap().insert(n.router()), "{} twice", n.cidr());
                    assert_ne!(n.router(), n.injector());
                }
                nets
            })
        })
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(nets.len(), 128);
    for n in &nets {
        let octets = match n.router() {
            IpAddr::V4(v4) => v4.octets(),
            IpAddr::V6(_) => unreachable!(),
        };
        assert_eq!(octets[0], 127);
        assert_ne!(octets[1], 0, "127.0.0.0/24 is the manual lab's");
        assert_eq!(octets[3], 1);
    }
}

#[test]
#[should_panic(expected = "last observed")]
fn wait_until_ok_reports_the_last_observed_state() {
    let mut polls = 0;
    wait_until_ok(Duration::from_millis(200), "something that never happens", || {
        polls += 1;
        Err::<(), _>(format!("poll {polls}"))
    });
}

#[test]
fn wait_until_returns_the_value_once_ready() {
    let mut polls = 0;
    let value = wait_until(secs(5), "the third poll", || {
        polls += 1;
        (polls == 3).then_some(polls * 10)
    });
    assert_eq!(value, 30);
}

#[test]
fn daemon_is_killed_by_pid_reaped_and_restartable() {
    let dir = WorkDir::new("daemon");
    let daemon = Daemon::spawn("sleeper", dir.join("log"), || {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("600");
        cmd
    });
    let pid = daemon.pid().unwrap();
    assert!(daemon.is_running());
    daemon.kill();
    assert!(!daemon.is_running());
    assert_eq!(daemon.pid(), None);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} not reaped");

    daemon.restart();
    let second = daemon.pid().unwrap();
    assert_ne!(pid, second);
    // SIGTERM ends sleep(1) with the signal: stop() reports it instead of hiding it.
    let status = daemon.stop(secs(5));
    assert!(!status.success());
    drop(daemon);
    assert!(!std::path::Path::new(&format!("/proc/{second}")).exists());
}

#[test]
fn rhi_process_runs_the_built_binary_with_a_private_dir() {
    // An unknown key: whatever stage rhi is at, it must exit by itself rather than serve.
    let rhi = RhiProcess::start("state_file: @DIR@/state.json\nno_such_key: true\n");
    let status = rhi.wait_exit(secs(30));
    let written = std::fs::read_to_string(rhi.config_path()).unwrap();
    assert_eq!(written, format!("state_file: {}/state.json\nno_such_key: true\n", rhi.dir().display()));
    assert!(rhi.log().starts_with("=== harness: starting"), "{}", rhi.log());
    // Once rhi reads configs it must refuse this one with exit 2 (DESIGN §3); the skeleton exits 0.
    assert!(matches!(status.code(), Some(0) | Some(2)), "{status}: {}", rhi.log());
    let help = rhi_command().arg("--help").output().unwrap();
    assert!(help.status.code().is_some(), "rhi --help was killed by a signal");
}

// ---------------------------------------------------------------------------------------------
// Parsers on captured output (no daemons needed)

const BIRD_TWO_PATHS: &str = "BIRD 2.0.12 ready.
Table master4:
0.0.0.0/0            unicast [static4 03:56:52.733] * (200)
\tdev lo
\tType: static univ
10.46.46.46/32       unicast [inj 03:57:13.514 from 127.1.1.2] * (100/?) [AS65010i]
\tdev lo
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 65010
\tBGP.next_hop: 192.0.2.6
\tBGP.med: 100
\tBGP.local_pref: 100
\tBGP.community: (65006,46) (65535,0)
                     unicast [node_b 03:57:14.001 from 127.1.1.3] (100/?) [AS64999i]
\tdev lo
\tType: BGP univ
\tBGP.origin: Incomplete
\tBGP.as_path: 65010 65010 {64999 64998}
\tBGP.next_hop: 192.0.2.7
\tBGP.med: 300
\tBGP.local_pref: 100
\tBGP.community: (65006,1) (65006,2)
\t\t(65006,3)
\tBGP.large_community: (65006, 1, 2) (65006, 3, 4)

Table master6:
2001:db8:46::46/128  unreachable [inj 03:57:13.529 from 127.1.1.2] * (100/-) [AS65010?]
\tType: BGP univ
\tBGP.origin: Incomplete
\tBGP.as_path: 65010
\tBGP.next_hop: 2001:db8::6 fe80::1
\tBGP.local_pref: 100
";

#[test]
fn bird_parser_reads_paths_continuations_and_both_tables() {
    let routes = parse_show_route(BIRD_TWO_PATHS);
    assert_eq!(routes.len(), 3, "{routes:#?}");
    let (a, b, v6) = (&routes[0], &routes[1], &routes[2]);
    assert_eq!(a.prefix.to_string(), VIP4);
    assert!(a.best);
    assert_eq!(a.from, Some(ip("127.1.1.2")));
    assert_eq!(a.communities, vec![(65006, 46), (65535, 0)]);
    assert!(a.has_community("graceful-shutdown"));
    assert_eq!(b.prefix.to_string(), VIP4);
    assert!(!b.best);
    assert_eq!(b.from, Some(ip("127.1.1.3")));
    assert_eq!(b.as_path, vec![65010, 65010, 64999, 64998]);
    assert_eq!(b.communities, vec![(65006, 1), (65006, 2), (65006, 3)]);
    assert_eq!(b.large_communities, vec![(65006, 1, 2), (65006, 3, 4)]);
    assert_eq!(b.origin, Some(Origin::Incomplete));
    assert_eq!(v6.prefix.to_string(), VIP6);
    assert_eq!(v6.next_hop, Some(ip("2001:db8::6")));
    assert_eq!(v6.med, None);
}

#[test]
fn bird_protocol_state_parser_uses_bgp_state_then_info_column() {
    let up = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n\
              inj        BGP        ---        up     03:56:59.749  Established   \n\
              \x20 BGP state:          Established\n    Neighbor address: 127.1.1.2\n";
    assert_eq!(parse_protocol_state(up, "inj").as_deref(), Some("Established"));
    let down = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n\
                inj        BGP        ---        start  03:56:52.733  Passive\n";
    assert_eq!(parse_protocol_state(down, "inj").as_deref(), Some("Passive"));
}

#[test]
fn gobgp_parser_reads_uint32_communities_and_mp_reach_next_hop() {
    let json = r#"{"2001:db8:46::46/128":[{"nlri":{"prefix":"2001:db8:46::46/128"},"age":1,"best":false,
        "attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65010]}]},
        {"type":4,"metric":600},{"type":5,"value":200},{"type":8,"communities":[4260233282,4294967041]},
        {"type":32,"value":[{"ASN":65006,"LocalData1":1,"LocalData2":2}]},
        {"type":14,"nexthop":"2001:db8::6","afi":2,"safi":1,"value":[{"prefix":"2001:db8:46::46/128"}]}],
        "stale":false,"source-id":"127.1.2.2","neighbor-ip":"127.1.2.2"}]}"#;
    let routes = parse_rib_json(json, None).unwrap();
    assert_eq!(routes.len(), 1);
    let r = &routes[0];
    assert_eq!(r.communities, vec![(65006, 66), community("no-export")]);
    assert_eq!(r.large_communities, vec![(65006, 1, 2)]);
    assert_eq!(r.next_hop, Some(ip("2001:db8::6")));
    assert_eq!((r.med, r.local_pref), (Some(600), Some(200)));
    assert_eq!(r.origin, Some(Origin::Igp));
    assert_eq!(r.from, Some(ip("127.1.2.2")));
    assert!(parse_rib_json("{}", None).unwrap().is_empty());
    assert!(parse_rib_json("", None).unwrap().is_empty());
    assert!(parse_rib_json("not json", None).is_err());
}

#[test]
fn frr_parser_reads_concatenated_documents_and_skips_vanished_prefixes() {
    let text = r#"{"prefix":"10.46.46.46/32","paths":[{"aspath":{"string":"65010 64999",
        "segments":[{"type":"as-sequence","list":[65010,64999]}],"length":2},"origin":"IGP",
        "metric":300,"locPrf":150,"valid":true,"bestpath":{"overall":true},
        "community":{"string":"65006:46 graceful-shutdown","list":["65006:46","graceful-shutdown"]},
        "largeCommunity":{"string":"65006:1:2","list":["65006:1:2"]},
        "nexthops":[{"ip":"192.0.2.6","afi":"ipv4","used":true}],"peer":{"peerId":"127.1.3.2"}}]}
        {}
        {"prefix":"2001:db8:46::46/128","paths":[{"aspath":{"string":"65010"},"origin":"incomplete",
        "nexthops":[{"ip":"fe80::1","scope":"link-local"},{"ip":"2001:db8::6","scope":"global"}],
        "peer":{"peerId":"127.1.3.2"}}]}"#;
    let routes = parse_prefix_detail(text).unwrap();
    assert_eq!(routes.len(), 2);
    let v4 = &routes[0];
    assert_eq!(v4.as_path, vec![65010, 64999]);
    assert_eq!(v4.communities, vec![(65006, 46), (65535, 0)]);
    assert_eq!(v4.large_communities, vec![(65006, 1, 2)]);
    assert_eq!((v4.med, v4.local_pref), (Some(300), Some(150)));
    assert!(v4.best);
    let v6 = &routes[1];
    assert_eq!(v6.as_path, vec![65010]);
    assert_eq!(v6.next_hop, Some(ip("2001:db8::6")));
    assert_eq!(v6.origin, Some(Origin::Incomplete));
    assert!(!v6.best);
}

#[test]
fn community_literals() {
    assert_eq!(community("65006:46"), (65006, 46));
    assert_eq!(community("4260233262"), (65006, 46));
    assert_eq!(community("no-export"), (65535, 65281));
    assert_eq!(community("GRACEFUL_SHUTDOWN"), (65535, 0));
    assert_eq!(community("blackhole"), (65535, 666));
    // FRR's JSON spellings.
    assert_eq!(community("noExport"), (65535, 65281));
    assert_eq!(community("gracefulShutdown"), (65535, 0));
    assert_eq!(community("acceptownnexthop"), (65535, 8));
    assert_eq!(community("localAs"), (65535, 65283));
}
