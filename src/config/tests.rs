//! One test per rule: the exact `line:col` reported and a fragment of the message, plus the
//! defaults. Snippets start with `HEAD` (lines 1-2), so their own lines count from 3.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::*;

const HEAD: &str = "router_id: 10.0.0.1\nlocal_as: 65010\n";

fn load(body: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(&format!("{HEAD}{body}"), "t.yaml")
}

fn ok(body: &str) -> Config {
    match load(body) {
        Ok(c) => c,
        Err(e) => panic!("should load: {e}"),
    }
}

#[track_caller]
fn fails_raw(text: &str, line: usize, column: usize, fragment: &str) {
    let e = match Config::from_yaml(text, "t.yaml") {
        Ok(_) => panic!("should fail with {fragment:?}"),
        Err(e) => e,
    };
    assert_eq!(e.position, Some(Position { line, column }), "{e}");
    assert!(e.message.contains(fragment), "{fragment:?} not in: {e}");
}

#[track_caller]
fn fails(body: &str, line: usize, column: usize, fragment: &str) {
    fails_raw(&format!("{HEAD}{body}"), line, column, fragment);
}

/// A valid peer on lines 3-6; `extra` lines (indented 4) follow from line 7, where a key `k` has
/// its value at column `k.len() + 7`.
fn peer(extra: &str) -> String {
    format!("peers:\n  - name: sw01\n    address: 10.0.0.2\n    remote_as: 65000\n{extra}")
}

/// A valid check `web` on lines 3-5; `extra` lines (indented 4) follow from line 6.
fn check(extra: &str) -> String {
    format!("checks:\n  web:\n    tcp: {{address: \"127.0.0.1:80\"}}\n{extra}")
}

/// A VIP on lines 3-4; `extra` lines (indented 4) follow from line 5.
fn vip(extra: &str) -> String {
    format!("vips:\n  - prefix: 10.46.46.46/32\n{extra}")
}

mod top_level {
    use super::*;

    #[test]
    fn minimal_config_gets_every_default() {
        let c = ok("");
        assert_eq!(c.router_id, "10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap());
        assert_eq!(c.local_as, 65010);
        assert!(c.listen.is_empty() && c.peers.is_empty() && c.vips.is_empty());
        assert_eq!(c.control.socket, PathBuf::from("/run/rhi/rhi.sock"));
        assert_eq!(c.startup_grace, Duration::from_secs(10));
        assert_eq!(c.state_file, None);
        assert_eq!(c.metrics, None);
        assert!(c.processes.is_empty());
        let d = &c.drain;
        assert!(d.graceful_shutdown);
        assert_eq!((d.med, d.as_path_prepend, &d.file), (None, None, &None));
        assert_eq!((d.withdraw_after, d.on_shutdown), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn router_id_is_required() {
        fails_raw("local_as: 65010\n", 1, 1, "router_id is required");
    }

    #[test]
    fn empty_file_reports_without_position() {
        let e = Config::from_yaml("# nothing\n", "t.yaml").unwrap_err();
        assert_eq!(e.to_string(), format!("t.yaml: {}", e.message));
        assert!(e.message.starts_with("router_id is required"));
    }

    #[test]
    fn router_id_must_be_ipv4() {
        fails_raw("router_id: 2001:db8::1\nlocal_as: 1\n", 1, 12, "is IPv6");
        fails_raw("router_id: bogus\nlocal_as: 1\n", 1, 12, "`bogus` is not an IP address");
        fails_raw("router_id: 7\nlocal_as: 1\n", 1, 12, "`7` is not an IP address");
    }

    #[test]
    fn router_id_must_not_be_zero() {
        fails_raw("router_id: 0.0.0.0\nlocal_as: 1\n", 1, 12, "must be non-zero");
    }

    #[test]
    fn local_as_is_required() {
        fails_raw("router_id: 10.0.0.1\n", 1, 1, "local_as is required");
    }

    #[test]
    fn local_as_range() {
        let head = "router_id: 10.0.0.1\nlocal_as: ";
        fails_raw(&format!("{head}0\n"), 2, 11, "local_as: 0 is not a valid AS number");
        fails_raw(&format!("{head}4294967296\n"), 2, 11, "4294967296 is not a valid AS number");
        fails_raw(&format!("{head}-1\n"), 2, 11, "-1 is not a valid AS number");
        fails_raw(&format!("{head}23456\n"), 2, 11, "AS_TRANS");
        fails_raw(&format!("{head}65000.5\n"), 2, 11, "expected a whole number");
        let c = Config::from_yaml(&format!("{head}4294967295\n"), "t").unwrap();
        assert_eq!(c.local_as, u32::MAX);
    }

    #[test]
    fn unknown_top_level_key() {
        fails("bogus: 1\n", 3, 1, "unknown field `bogus`");
        fails("peer: []\n", 3, 1, "did you mean `peers`?");
    }

    #[test]
    fn root_must_be_a_mapping() {
        fails_raw("- a\n", 1, 1, "expected a mapping of settings");
    }

    #[test]
    fn listen_addresses() {
        let c = ok("listen: [\"0.0.0.0:1179\", \"::\"]\n");
        assert_eq!(c.listen[0], "0.0.0.0:1179".parse::<SocketAddr>().unwrap());
        assert_eq!(c.listen[1], "[::]:179".parse::<SocketAddr>().unwrap());
        assert_eq!(ok("listen: 10.0.0.1\n").listen.len(), 1);
        fails("listen: [\"0.0.0.0:179\", bogus]\n", 3, 25, "listen[1]: `bogus` is not an address");
        fails("listen: [\"10.0.0.1:0\"]\n", 3, 10, "port 0");
        fails("listen: [\"::\", \"[::]:179\"]\n", 3, 16, "listed twice");
    }

    #[test]
    fn bare_integer_duration_asks_for_a_unit() {
        fails("startup_grace: 10\n", 3, 16, "startup_grace: 10 has no unit: durations need one, e.g. 10s");
        fails("startup_grace: \"10\"\n", 3, 16, "10 has no unit");
        fails("startup_grace: soon\n", 3, 16, "`soon` is not a duration");
        assert_eq!(ok("startup_grace: 1m\n").startup_grace, Duration::from_secs(60));
    }

    #[test]
    fn duplicate_key_is_refused() {
        fails("local_as: 1\n", 3, 1, "`local_as` is given twice in the same mapping (first on line 2)");
    }

    #[test]
    fn yaml_syntax_error_is_located() {
        fails("peers: [\n", 4, 1, "invalid YAML");
    }

    #[test]
    fn second_document_is_refused() {
        fails("---\nrouter_id: 10.0.0.2\n", 3, 1, "second YAML document");
    }

    #[test]
    fn state_file_and_control_socket() {
        let c = ok("state_file: /var/lib/rhi/state.json\ncontrol: {socket: /tmp/r.sock}\n");
        assert_eq!(c.state_file, Some(PathBuf::from("/var/lib/rhi/state.json")));
        assert_eq!(c.control.socket, PathBuf::from("/tmp/r.sock"));
        fails("state_file: \"\"\n", 3, 13, "state_file: must not be empty");
        fails("control:\n  socket: \"\"\n", 4, 11, "control.socket: must not be empty");
        fails("control:\n  path: x\n", 4, 3, "unknown field `path`");
    }

    #[test]
    fn metrics_listen() {
        let c = ok("metrics: {listen: \"127.0.0.1:9179\"}\n");
        assert_eq!(c.metrics.unwrap().listen.port(), 9179);
        fails("metrics: {}\n", 3, 10, "metrics.listen is required");
        fails("metrics:\n  listen: 127.0.0.1\n", 4, 11, "not an address with a port");
    }
}

mod peers {
    use super::*;

    #[test]
    fn defaults() {
        let c = ok(&peer(""));
        let p = &c.peers[0];
        assert_eq!(p.port, 179);
        assert!(!p.passive);
        assert_eq!(p.hold_time, 90);
        assert_eq!(p.connect_retry, Duration::from_secs(5));
        assert_eq!(p.next_hop, NextHop::SelfAddress);
        assert_eq!((p.local_address, p.next_hop_v6), (None, None));
        assert_eq!(p.families, vec![Family::IPV4_UNICAST]);
    }

    #[test]
    fn unknown_peer_key() {
        fails(&peer("    holdtime: 9s\n"), 7, 5, "did you mean `hold_time`?");
    }

    #[test]
    fn peer_must_be_a_mapping() {
        fails("peers:\n  - sw01\n", 4, 5, "expected a peer mapping");
    }

    #[test]
    fn name_is_required() {
        fails("peers:\n  - address: 10.0.0.2\n    remote_as: 1\n", 4, 5, "peers[0].name is required");
    }

    #[test]
    fn name_must_be_one_non_empty_word() {
        let p = "peers:\n  - address: 10.0.0.2\n    remote_as: 1\n    name: ";
        fails(&format!("{p}\"\"\n"), 6, 11, "peers[0].name: must not be empty");
        fails(&format!("{p}\"sw 01\"\n"), 6, 11, "contains whitespace");
    }

    #[test]
    fn names_are_unique() {
        let two = format!("{}  - name: sw01\n    address: 10.0.0.3\n    remote_as: 65000\n", peer(""));
        fails(&two, 7, 11, "peers[1].name: `sw01` is already the name of peers[0]");
    }

    #[test]
    fn address_and_port_are_unique() {
        let second = "  - name: sw02\n    address: 10.0.0.2\n    remote_as: 65000\n";
        fails(&format!("{}{second}", peer("")), 8, 14, "10.0.0.2 port 179 is already peers[0] (`sw01`)");
        let other_port = format!("{}{second}    port: 1179\n", peer(""));
        assert_eq!(ok(&other_port).peers.len(), 2);
    }

    #[test]
    fn address_is_required_and_unicast() {
        fails("peers:\n  - name: a\n    remote_as: 1\n", 4, 5, "peers[0].address is required");
        fails("peers:\n  - name: a\n    address: 10.0.0.256\n    remote_as: 1\n", 5, 14, "not an IP address");
        fails("peers:\n  - name: a\n    address: 0.0.0.0\n    remote_as: 1\n", 5, 14, "not a unicast address");
    }

    #[test]
    fn remote_as_is_required_and_in_range() {
        fails("peers:\n  - name: a\n    address: 10.0.0.2\n", 4, 5, "peers[0].remote_as is required");
        let p = "peers:\n  - name: a\n    address: 10.0.0.2\n    remote_as: ";
        fails(&format!("{p}0\n"), 6, 16, "peers[0].remote_as: 0 is not a valid AS number");
        fails(&format!("{p}4294967296\n"), 6, 16, "peers[0].remote_as: 4294967296 is not a valid AS number");
    }

    #[test]
    fn port_range() {
        assert_eq!(ok(&peer("    port: 1179\n")).peers[0].port, 1179);
        fails(&peer("    port: 0\n"), 7, 11, "peers[0].port: 0 is not a TCP port");
        fails(&peer("    port: 65536\n"), 7, 11, "65536 is not a TCP port");
    }

    #[test]
    fn hold_time_rules() {
        assert_eq!(ok(&peer("    hold_time: 0s\n")).peers[0].hold_time, 0);
        assert_eq!(ok(&peer("    hold_time: 0\n")).peers[0].hold_time, 0);
        assert_eq!(ok(&peer("    hold_time: 3s\n")).peers[0].hold_time, 3);
        assert_eq!(ok(&peer("    hold_time: 1m\n")).peers[0].hold_time, 60);
        assert_eq!(ok(&peer("    hold_time: 65535s\n")).peers[0].hold_time, 65535);
        let msg = "peers[0].hold_time: 2s is not allowed: must be 0 or at least 3s (RFC 4271)";
        fails(&peer("    hold_time: 2s\n"), 7, 16, msg);
        fails(&peer("    hold_time: 1s\n"), 7, 16, "1s is not allowed");
        fails(&peer("    hold_time: 1500ms\n"), 7, 16, "1500ms is not a whole number of seconds");
        fails(&peer("    hold_time: 65536s\n"), 7, 16, "at most 65535s");
        fails(&peer("    hold_time: 9\n"), 7, 16, "9 has no unit");
    }

    #[test]
    fn connect_retry_rules() {
        let c = ok(&peer("    connect_retry: 500ms\n"));
        assert_eq!(c.peers[0].connect_retry, Duration::from_millis(500));
        fails(&peer("    connect_retry: 0s\n"), 7, 20, "connect_retry: must be more than 0");
        fails(&peer("    connect_retry: 2m\n"), 7, 20, "more than 60s");
    }

    #[test]
    fn passive_needs_listen() {
        fails(&peer("    passive: true\n"), 7, 14, "peers[0].passive: a passive peer waits");
        let c = ok(&format!("listen: [\"0.0.0.0:179\"]\n{}", peer("    passive: true\n")));
        assert!(c.peers[0].passive);
        fails(&peer("    passive: yes\n"), 7, 14, "expected a boolean");
    }

    #[test]
    fn local_address_matches_the_session_family() {
        let c = ok(&peer("    local_address: 10.0.0.1\n"));
        assert_eq!(c.peers[0].local_address, Some("10.0.0.1".parse().unwrap()));
        fails(&peer("    local_address: 2001:db8::1\n"), 7, 20, "not of the same IP version");
    }

    #[test]
    fn next_hop_is_self_or_an_address() {
        let c = ok(&peer("    next_hop: 10.0.0.9\n"));
        assert_eq!(c.peers[0].next_hop, NextHop::Address("10.0.0.9".parse().unwrap()));
        fails(&peer("    next_hop: myself\n"), 7, 15, "write `self` or this node's address");
    }

    #[test]
    fn next_hop_v6_is_a_global_ipv6_address() {
        fails(&peer("    next_hop_v6: 10.0.0.9\n"), 7, 18, "next_hop_v6 must be an IPv6 address");
        fails(&peer("    next_hop_v6: fe80::1\n"), 7, 18, "link-local");
        let both = "    next_hop: 2001:db8::9\n    next_hop_v6: 2001:db8::10\n";
        fails(&peer(both), 8, 18, "keep one of next_hop and next_hop_v6");
    }

    #[test]
    fn families_values() {
        let c = ok(&peer("    families: [ipv6-unicast, ipv4-unicast]\n"));
        assert_eq!(c.peers[0].families, vec![Family::IPV6_UNICAST, Family::IPV4_UNICAST]);
        assert_eq!(ok(&peer("    families: ipv4-unicast\n")).peers[0].families.len(), 1);
        fails(
            &peer("    families: [ipv4-unicast, ipv4-multicast]\n"),
            7,
            30,
            "families[1]: `ipv4-multicast` is not a supported family",
        );
        fails(&peer("    families: [ipv4-unicast, ipv4-unicast]\n"), 7, 30, "listed twice");
        fails(&peer("    families: []\n"), 7, 15, "must list at least one");
        fails(&peer("    families: ipv4_unicast\n"), 7, 15, "did you mean ipv4-unicast?");
    }

    #[test]
    fn default_families_follow_the_vips() {
        let v6 = "vips:\n  - prefix: 2001:db8::46/128\n";
        let c = ok(&format!("{v6}{}", peer("    next_hop_v6: 2001:db8::10\n")));
        assert_eq!(c.peers[0].families, vec![Family::IPV6_UNICAST]);
        let both = format!("{v6}  - prefix: 10.46.46.46/32\n");
        let c = ok(&format!("{both}{}", peer("    next_hop_v6: 2001:db8::10\n")));
        assert_eq!(c.peers[0].families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    }

    const V6_VIP: &str = "vips:\n  - prefix: 2001:db8::46/128\n";

    /// The VIP is on lines 3-4, the peer on lines 5-8 (its address on line 7), `extra` from 9.
    fn v6_vip_and_peer(extra: &str) -> String {
        format!("{V6_VIP}{}", peer(extra))
    }

    #[test]
    fn ipv6_vip_needs_an_ipv6_next_hop_on_an_ipv4_session() {
        fails(
            &v6_vip_and_peer(""),
            7,
            14,
            "peers[0].address: peer `sw01` cannot carry IPv6 VIP 2001:db8::46/128 (vips[0])",
        );
        fails(&v6_vip_and_peer(""), 7, 14, "set next_hop_v6 on this peer");
        fails(&v6_vip_and_peer("    next_hop: 10.0.0.1\n"), 9, 15, "no IPv6 next hop");
    }

    #[test]
    fn ipv6_next_hop_can_come_from_three_places() {
        ok(&v6_vip_and_peer("    next_hop_v6: 2001:db8::10\n"));
        ok(&v6_vip_and_peer("    next_hop: 2001:db8::10\n"));
        let v6_session = "peers:\n  - name: a\n    address: 2001:db8::1\n    remote_as: 1\n";
        ok(&format!("{V6_VIP}{v6_session}"));
    }

    #[test]
    fn explicit_families_without_ipv6_skip_the_ipv6_vips() {
        let c = ok(&v6_vip_and_peer("    families: [ipv4-unicast]\n"));
        assert_eq!(c.peers[0].families, vec![Family::IPV4_UNICAST]);
    }

    #[test]
    fn ipv4_vip_needs_an_ipv4_next_hop_on_an_ipv6_session() {
        let v4 = "vips:\n  - prefix: 10.46.46.46/32\n";
        let session = "peers:\n  - name: a\n    address: 2001:db8::1\n    remote_as: 1\n";
        fails(
            &format!("{v4}{session}    next_hop: self\n"),
            9,
            15,
            "cannot carry IPv4 VIP 10.46.46.46/32 (vips[0]): the session to 2001:db8::1 is IPv6",
        );
        fails(&format!("{v4}{session}"), 7, 14, "set next_hop on this peer to this node's IPv4 address");
        ok(&format!("{v4}{session}    next_hop: 10.0.0.1\n"));
        ok(&format!("{v4}{session}    families: [ipv6-unicast]\n"));
    }

    #[test]
    fn next_hop_for_picks_by_family() {
        let c = ok(&peer("    next_hop: 2001:db8::9\n"));
        let p = &c.peers[0];
        assert_eq!(p.next_hop_for(Family::IPV4_UNICAST), Some(NextHop::SelfAddress));
        let v6: IpAddr = "2001:db8::9".parse().unwrap();
        assert_eq!(p.next_hop_for(Family::IPV6_UNICAST), Some(NextHop::Address(v6)));
        assert!(!p.is_ibgp(c.local_as));
    }
}

mod checks {
    use super::*;

    #[test]
    fn timing_defaults() {
        let c = ok(&check(""));
        let w = &c.checks["web"];
        assert_eq!(w.interval, Duration::from_secs(1));
        assert_eq!(w.fast_interval, Duration::from_millis(200));
        assert_eq!(w.timeout, Duration::from_millis(500));
        assert_eq!((w.rise, w.fall), (3, 2));
        let addr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(w.kind, CheckKind::Tcp { address: addr });
    }

    #[test]
    fn haproxy_defaults() {
        let c = ok("checks:\n  web:\n    haproxy: {stats_url: \"http://127.0.0.1:8404/stats;csv\", backend: be_web}\n");
        let CheckKind::Haproxy(h) = &c.checks["web"].kind else {
            panic!("not haproxy");
        };
        assert_eq!((h.min_up, h.count_backup), (1, false));
        assert_eq!((&h.frontend, h.degraded_below, &h.username), (&None, None, &None));
        assert_eq!(h.backend, "be_web");
    }

    #[test]
    fn exactly_one_kind() {
        fails("checks:\n  web:\n    rise: 2\n", 5, 5, "check `web` has no kind");
        let two = "checks:\n  web:\n    tcp: {address: \"127.0.0.1:1\"}\n    exec: {command: [x]}\n";
        fails(two, 6, 11, "checks.web.exec: check `web` has both tcp and exec");
    }

    #[test]
    fn rise_and_fall_at_least_one() {
        fails(&check("    rise: 0\n"), 6, 11, "checks.web.rise: 0 is out of range: must be at least 1");
        fails(&check("    fall: 0\n"), 6, 11, "checks.web.fall: 0 is out of range");
    }

    #[test]
    fn durations_positive() {
        fails(&check("    timeout: 0s\n"), 6, 14, "checks.web.timeout: must be more than 0");
        fails(&check("    interval: 0s\n"), 6, 15, "interval: must be more than 0");
        fails(&check("    interval: 5\n"), 6, 15, "5 has no unit");
    }

    #[test]
    fn fast_interval_not_longer_than_interval() {
        fails(&check("    fast_interval: 2s\n"), 6, 20, "2s is longer than interval (1s)");
        let c = ok(&check("    interval: 100ms\n"));
        assert_eq!(c.checks["web"].fast_interval, Duration::from_millis(100));
    }

    #[test]
    fn check_names_are_one_word() {
        fails("checks:\n  \"my check\":\n    tcp: {address: \"127.0.0.1:1\"}\n", 5, 5, "contains whitespace");
    }

    #[test]
    fn duplicate_check_names() {
        let text = format!("{}  web:\n    exec: {{command: [x]}}\n", check(""));
        fails(&text, 6, 3, "checks.web: `web` is given twice");
    }

    fn haproxy(fields: &str) -> String {
        format!("checks:\n  web:\n    haproxy:\n{fields}")
    }

    const HA: &str = "      stats_url: \"http://127.0.0.1:8404/stats;csv\"\n      backend: be_web\n";

    #[test]
    fn haproxy_required_fields() {
        fails(&haproxy("      backend: b\n"), 6, 7, "neither stats_url nor stats_socket is set");
        fails(&haproxy("      stats_url: \"http://x/\"\n"), 6, 7, "checks.web.haproxy.backend is required");
        fails(&haproxy("      stats_url: \"https://x/\"\n      backend: b\n"), 6, 18, "https is not supported");
        fails(&haproxy("      stats_url: \"http://x/\"\n      backend: \"\"\n"), 7, 16, "must not be empty");
    }

    #[test]
    fn haproxy_counts() {
        fails(&haproxy(&format!("{HA}      min_up: 0\n")), 8, 15, "min_up: 0 is out of range");
        let msg = "degraded_below: 2 must be more than min_up (2)";
        fails(&haproxy(&format!("{HA}      min_up: 2\n      degraded_below: 2\n")), 9, 23, msg);
        let c = ok(&haproxy(&format!("{HA}      degraded_below: 2\n      count_backup: true\n")));
        let CheckKind::Haproxy(h) = &c.checks["web"].kind else {
            panic!("not haproxy");
        };
        assert_eq!((h.degraded_below, h.count_backup), (Some(2), true));
    }

    #[test]
    fn haproxy_password_file_needs_username() {
        fails(&haproxy(&format!("{HA}      password_file: /run/p\n")), 8, 22, "basic auth needs both");
        let c = ok(&haproxy(&format!("{HA}      username: u\n      password_file: /run/p\n")));
        let CheckKind::Haproxy(h) = &c.checks["web"].kind else {
            panic!("not haproxy");
        };
        assert_eq!(h.password_file, Some(PathBuf::from("/run/p")));
    }

    #[test]
    fn haproxy_stats_socket_forms() {
        let source = |value: &str| {
            let c = ok(&haproxy(&format!("      stats_socket: \"{value}\"\n      backend: b\n")));
            let CheckKind::Haproxy(h) = &c.checks["web"].kind else {
                panic!("not haproxy");
            };
            h.source.clone()
        };
        let unix = |p: &str| StatsSource::Socket(StatsSocket::Unix(PathBuf::from(p)));
        let tcp = |a: &str| StatsSource::Socket(StatsSocket::Tcp(a.parse().unwrap()));
        assert_eq!(source("/run/haproxy/admin.sock"), unix("/run/haproxy/admin.sock"));
        assert_eq!(source("unix@/run/haproxy/rhi.sock"), unix("/run/haproxy/rhi.sock"));
        assert_eq!(source("ipv4@127.0.0.1:9999"), tcp("127.0.0.1:9999"));
        assert_eq!(source("ipv6@[::1]:9999"), tcp("[::1]:9999"));
        assert_eq!(source("ipv6@::1:9999"), tcp("[::1]:9999"));
        let bad = |value: &str, fragment: &str| {
            fails(&haproxy(&format!("      stats_socket: \"{value}\"\n      backend: b\n")), 6, 21, fragment)
        };
        bad("run/haproxy.sock", "is not an absolute path");
        bad("ipv4@127.0.0.1", "is not an address with a port");
        bad("ipv4@[::1]:9999", "is not an IPv4 address");
        bad("ipv6@127.0.0.1:9999", "is not an IPv6 address");
        bad("ipv4@127.0.0.1:0", "port 0 is not allowed");
        bad("abns@haproxy", "`abns@` is not supported");
    }

    #[test]
    fn haproxy_exactly_one_stats_source() {
        let both = "      stats_url: \"http://x/\"\n      stats_socket: /run/s.sock\n      backend: b\n";
        fails(&haproxy(both), 7, 21, "checks.web.haproxy.stats_socket: stats_url and stats_socket are both set");
        let user = "      stats_socket: /run/s.sock\n      backend: b\n      username: u\n";
        fails(&haproxy(user), 8, 17, "checks.web.haproxy.username: applies to stats_url only");
        let pw = "      stats_socket: /run/s.sock\n      backend: b\n      password_file: /p\n";
        fails(&haproxy(pw), 8, 22, "checks.web.haproxy.password_file: applies to stats_url only");
    }

    #[test]
    fn http_check() {
        let c = ok("checks:\n  api:\n    http: {url: \"http://127.0.0.1:8080/health\", expect_body: OK}\n");
        let expected = CheckKind::Http {
            url: "http://127.0.0.1:8080/health".into(),
            expect_status: 200,
            expect_body: Some("OK".into()),
        };
        assert_eq!(c.checks["api"].kind, expected);
        fails("checks:\n  api:\n    http: {}\n", 5, 11, "checks.api.http.url is required");
        let bad = "checks:\n  api:\n    http:\n      url: \"http://x/\"\n      expect_status: 99\n";
        fails(bad, 7, 22, "99 is not an HTTP status");
    }

    #[test]
    fn tcp_check_address() {
        fails("checks:\n  t:\n    tcp: {address: localhost:443}\n", 5, 20, "not an address with a port");
    }

    #[test]
    fn exec_command() {
        fails("checks:\n  s:\n    exec: {command: []}\n", 5, 21, "checks.s.exec.command: must not be empty");
        fails("checks:\n  s:\n    exec: {command: \"/bin/check --quiet\"}\n", 5, 21, "[\"/bin/check\", \"--quiet\"]");
        fails("checks:\n  s:\n    exec: {command: [\"\", x]}\n", 5, 22, "command[0]: the program must not be empty");
        let c = ok("checks:\n  s:\n    exec: {command: /bin/true}\n");
        assert_eq!(c.checks["s"].kind, CheckKind::Exec { command: vec!["/bin/true".into()] });
    }
}

mod vips {
    use super::*;

    #[test]
    fn defaults() {
        let c = ok(&vip(""));
        let v = &c.vips[0];
        assert!(v.checks.is_empty());
        assert_eq!(v.attributes, RouteAttrs::default());
        assert_eq!(v.when_down, WhenDown::Withdraw);
        assert_eq!(v.when_degraded, None);
    }

    #[test]
    fn prefix_required_and_parsed() {
        fails("vips:\n  - med: 1\n", 4, 5, "vips[0].prefix is required");
        fails("vips:\n  - prefix: 10.46.46.300/32\n", 4, 13, "is not a prefix");
        fails("vips:\n  - prefix: 10.46.46.46\n", 4, 13, "did you mean 10.46.46.46/32?");
    }

    #[test]
    fn prefix_host_bits() {
        let msg = "vips[0].prefix: 10.46.46.46/24 has host bits set; did you mean 10.46.46.0/24?";
        fails("vips:\n  - prefix: 10.46.46.46/24\n", 4, 13, msg);
        fails("vips:\n  - prefix: 2001:db8::46/64\n", 4, 13, "did you mean 2001:db8::/64?");
    }

    #[test]
    fn duplicate_prefixes() {
        let text = format!("{}  - prefix: 10.46.46.46/32\n", vip(""));
        fails(&text, 5, 13, "vips[1].prefix: 10.46.46.46/32 is listed twice (also vips[0])");
    }

    #[test]
    fn check_names_must_be_defined() {
        let checks = check("");
        let c = ok(&format!("{checks}{}", vip("    check: web\n")));
        assert_eq!(c.vips[0].checks, vec!["web".to_owned()]);
        let body = format!("{}{checks}", vip("    check: webb\n"));
        fails(
            &body,
            5,
            12,
            "vips[0].check: check `webb` is not defined under checks (defined: web); did you mean `web`?",
        );
        let body = format!("{}{checks}", vip("    check: [web, nope]\n"));
        fails(&body, 5, 18, "vips[0].check[1]: check `nope` is not defined");
        fails(&vip("    check: web\n"), 5, 12, "there is no checks section");
        let body = format!("{}{checks}", vip("    check: [web, web]\n"));
        fails(&body, 5, 18, "listed twice");
    }

    #[test]
    fn med_and_local_pref_are_u32() {
        let c = ok(&vip("    med: 4294967295\n    local_pref: 200\n"));
        assert_eq!((c.vips[0].attributes.med, c.vips[0].attributes.local_pref), (Some(u32::MAX), Some(200)));
        fails(&vip("    med: 4294967296\n"), 5, 10, "vips[0].med: 4294967296 is out of range");
        fails(&vip("    med: -1\n"), 5, 10, "-1 is out of range");
        fails(&vip("    med: \"300\"\n"), 5, 10, "expected a whole number");
        fails(&vip("    local_pref: -5\n"), 5, 17, "local_pref: -5 is out of range");
    }

    #[test]
    fn local_pref_without_ibgp_is_accepted_with_a_warning() {
        let c = ok(&format!("{}{}", vip("    local_pref: 200\n"), peer("")));
        assert!(c.warnings().iter().any(|w| w.contains("local_pref")), "{:?}", c.warnings());
        let ibgp = "peers:\n  - name: r\n    address: 10.0.0.2\n    remote_as: 65010\n";
        let c = ok(&format!("{}{ibgp}", vip("    local_pref: 200\n")));
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn as_path_prepend_range() {
        assert_eq!(ok(&vip("    as_path_prepend: 32\n")).vips[0].attributes.as_path_prepend, 32);
        fails(
            &vip("    as_path_prepend: 33\n"),
            5,
            22,
            "33 is out of range: must be 0..32 (longer AS paths are commonly filtered",
        );
    }

    #[test]
    fn communities() {
        let c = ok(&vip("    communities: [\"65000:46\", no-export, blackhole, graceful-shutdown]\n"));
        let want = vec![0xFDE8_002E, 0xFFFF_FF01, 0xFFFF_029A, 0xFFFF_0000];
        assert_eq!(c.vips[0].attributes.communities, want);
        fails(
            &vip("    communities: [\"65000:46\", \"65536:1\"]\n"),
            5,
            31,
            "communities[1]: `65536:1` is not a community",
        );
        fails(&vip("    communities: no-exprot\n"), 5, 18, "`no-exprot` is not a community");
    }

    #[test]
    fn large_communities() {
        let c = ok(&vip("    large_communities: [\"65000:0:46\"]\n"));
        let lc = &c.vips[0].attributes.large_communities[0];
        assert_eq!((lc.global, lc.local1, lc.local2), (65000, 0, 46));
        fails(&vip("    large_communities: [\"65000:46\"]\n"), 5, 25, "is not a large community");
        fails(&vip("    large_communities: [\"1:2:4294967296\"]\n"), 5, 25, "4294967296 is more than 4294967295");
    }

    #[test]
    fn when_down_withdraw_or_overrides() {
        assert_eq!(ok(&vip("    when_down: withdraw\n")).vips[0].when_down, WhenDown::Withdraw);
        let c = ok(&vip("    when_down: {med: 1000, as_path_prepend: 3, communities: [no-export]}\n"));
        let expected = AttrOverride {
            med: Some(1000),
            as_path_prepend: Some(3),
            communities: vec![0xFFFF_FF01],
            ..AttrOverride::default()
        };
        assert_eq!(c.vips[0].when_down, WhenDown::Announce(expected));
        fails(
            &vip("    when_down: announce\n"),
            5,
            16,
            "vips[0].when_down: `announce` is not allowed: write `withdraw`",
        );
        fails(&vip("    when_down: {}\n"), 5, 16, "an empty mapping would keep a failed VIP announced");
        fails(&vip("    when_down: {med: 1, weight: 2}\n"), 5, 25, "unknown field `weight`");
        fails(
            &vip("    when_down:\n      as_path_prepend: 40\n"),
            6,
            24,
            "when_down.as_path_prepend: 40 is out of range",
        );
        fails(&vip("    when_down: [withdraw]\n"), 5, 16, "expected `withdraw` or a mapping");
    }

    #[test]
    fn when_degraded_is_a_mapping() {
        let c = ok(&vip("    when_degraded: {med: 350}\n"));
        assert_eq!(c.vips[0].when_degraded.as_ref().and_then(|o| o.med), Some(350));
        assert!(c.warnings().iter().any(|w| w.contains("when_degraded has no effect")));
        fails(&vip("    when_degraded: withdraw\n"), 5, 20, "expected a mapping of overrides");
    }
}

mod drain_and_processes {
    use super::*;

    #[test]
    fn drain_values() {
        let c = ok("drain:\n  med: 1000\n  as_path_prepend: 3\n  graceful_shutdown: false\n  withdraw_after: 30s\n  file: /etc/rhi/maintenance\n  on_shutdown: 5s\n");
        let d = &c.drain;
        assert_eq!((d.med, d.as_path_prepend, d.graceful_shutdown), (Some(1000), Some(3), false));
        assert_eq!((d.withdraw_after, d.on_shutdown), (Duration::from_secs(30), Duration::from_secs(5)));
        assert_eq!(d.file, Some(PathBuf::from("/etc/rhi/maintenance")));
        fails("drain:\n  as_path_prepend: 33\n", 4, 20, "drain.as_path_prepend: 33 is out of range");
        fails("drain:\n  withdraw_after: 30\n", 4, 19, "drain.withdraw_after: 30 has no unit");
        fails("drain:\n  withdraw_afer: 30s\n", 4, 3, "did you mean `withdraw_after`?");
    }

    const RUN: &str = "processes:\n  - name: hc\n    run: [/usr/bin/python3, -m, exabgp, healthcheck]\n";

    #[test]
    fn process_defaults() {
        let c = ok(RUN);
        let p = &c.processes[0];
        assert_eq!(p.run.len(), 4);
        assert_eq!((p.encoder, p.ack), (Encoder::Text, true));
        assert!(p.neighbors.is_empty());
    }

    #[test]
    fn process_rules() {
        fails("processes:\n  - run: [x]\n", 4, 5, "processes[0].name is required");
        fails("processes:\n  - name: hc\n", 4, 5, "processes[0].run is required");
        fails("processes:\n  - name: hc\n    run: []\n", 5, 10, "run: must not be empty");
        fails(&format!("{RUN}    encoder: yaml\n"), 6, 14, "`yaml` is not an encoder: use text or json");
        let twice = format!("{RUN}  - name: hc\n    run: [y]\n");
        fails(&twice, 6, 11, "processes[1].name: `hc` is already the name of processes[0]");
    }

    #[test]
    fn process_neighbors_are_configured_peers() {
        let body = format!("{}{RUN}    neighbors: [sw01, 10.0.0.2]\n    encoder: json\n    ack: false\n", peer(""));
        let c = ok(&body);
        assert_eq!(c.processes[0].neighbors, vec!["sw01".to_owned(), "10.0.0.2".to_owned()]);
        assert_eq!((c.processes[0].encoder, c.processes[0].ack), (Encoder::Json, false));
        let bad = format!("{}{RUN}    neighbors: [sw01, sw09]\n", peer(""));
        fails(&bad, 10, 23, "neighbors[1]: `sw09` is not the name or address of a configured peer");
    }
}
