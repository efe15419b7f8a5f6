//! `config.example.yaml` loads, says what it claims, and `to_yaml` round-trips it and a config
//! that sets every key.

use std::path::Path;
use std::time::Duration;

use rhi::bgp::nlri::Family;
use rhi::config::{CheckKind, Config, NextHop, StatsSocket, StatsSource, WhenDown};

fn example() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");
    match Config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn fixture(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config").join(name);
    match Config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[track_caller]
fn assert_round_trip(config: &Config) {
    let text = config.to_yaml();
    match Config::from_yaml(&text, "to_yaml output") {
        Ok(again) => assert_eq!(&again, config, "round trip changed the config:\n{text}"),
        Err(e) => panic!("to_yaml output does not load: {e}\n{text}"),
    }
}

#[test]
fn example_loads_as_haproxy01() {
    let c = example();
    assert_eq!(c.router_id.to_string(), "10.25.150.10");
    assert_eq!(c.local_as, 65010);
    let names: Vec<&str> = c.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["sw01", "sw02"]);
    assert!(c.peers.iter().all(|p| p.remote_as == 65000 && p.hold_time == 9));
    assert_eq!(c.peers[1].address.to_string(), "10.25.150.2");
    assert_eq!(c.peers[1].next_hop, NextHop::SelfAddress);
    assert_eq!(c.peers[1].families, vec![Family::IPV4_UNICAST]);
    assert_eq!(c.peers[0].bfd.map(|b| (b.min_rx, b.multiplier)), Some((Duration::from_millis(100), 3)));
    let vip = &c.vips[0];
    assert_eq!(vip.prefix.to_string(), "10.46.46.46/32");
    assert_eq!(vip.attributes.med, Some(300));
    assert_eq!(vip.checks, vec!["web".to_owned()]);
    assert_eq!(vip.when_down, WhenDown::Withdraw);
    let CheckKind::Haproxy(h) = &c.checks["web"].kind else {
        panic!("web is not an haproxy check");
    };
    assert_eq!(h.source, StatsSource::Url("http://127.0.0.1:8404/stats;csv".into()));
    assert_eq!(h.backend, "be_web");
    assert_eq!(c.drain.withdraw_after, Duration::from_secs(30));
    assert_eq!(c.control.socket, Path::new("/run/rhi/rhi.sock"));
    assert_eq!(c.state_file.as_deref(), Some(Path::new("/var/lib/rhi/state.json")));
    assert!(c.metrics.is_some());
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn example_round_trips() {
    assert_round_trip(&example());
}

#[test]
fn maximal_config_round_trips() {
    let c = fixture("maximal.yaml");
    assert_eq!(c.peers.len(), 3);
    assert_eq!(c.checks.len(), 6);
    let source = |name: &str| match &c.checks[name].kind {
        CheckKind::Haproxy(h) => h.source.to_owned(),
        other => panic!("{name} is not an haproxy check: {other:?}"),
    };
    assert_eq!(source("lb_socket"), StatsSource::Socket(StatsSocket::Unix("/run/haproxy/rhi.sock".into())));
    assert_eq!(source("lb_tcp_socket"), StatsSource::Socket(StatsSocket::Tcp("[::1]:9999".parse().unwrap())));
    assert_eq!(c.vips.len(), 3);
    assert_eq!(c.processes.len(), 1);
    let bfd = c.peers[0].bfd.expect("sw01 has bfd");
    assert_eq!((bfd.min_rx, bfd.min_tx, bfd.multiplier), (Duration::from_millis(50), Duration::from_millis(150), 5));
    assert_eq!((bfd.multihop, bfd.min_ttl), (Some(true), Some(250)));
    assert_eq!(c.peers[0].send_hold_time, Some(Duration::from_secs(240)));
    let defaults = c.peers[1].bfd.expect("sw02 has bfd: true");
    assert_eq!(
        (defaults.min_rx, defaults.min_tx, defaults.multiplier),
        (Duration::from_millis(100), Duration::from_millis(100), 3)
    );
    assert_eq!(c.peers[2].bfd, None);
    assert_round_trip(&c);
}

#[test]
fn minimal_config_round_trips_with_defaults_spelled_out() {
    let c = Config::from_yaml("router_id: 10.0.0.1\nlocal_as: 65010\n", "min").unwrap();
    let text = c.to_yaml();
    for key in ["control:", "socket: /run/rhi/rhi.sock", "startup_grace: 10s", "graceful_shutdown: true"] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
    assert_round_trip(&c);
}

#[test]
fn to_yaml_prints_communities_and_durations_readably() {
    let text = fixture("maximal.yaml").to_yaml();
    for s in
        ["no-export", "65000:46", "blackhole", "65000:0:46", "hold_time: 9s", "fast_interval: 200ms", "next_hop: self"]
    {
        assert!(text.contains(s), "{s} missing from:\n{text}");
    }
}
