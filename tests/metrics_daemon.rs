//! `/metrics` of a running rhi with a real BIRD peer: it parses as Prometheus text, and its
//! values follow what happens (session up, a manual route, a drain, probes of a check).

mod support;

use std::collections::HashMap;
use std::process::Output;

use prometheus_parse::{Scrape, Value};
use support::*;

const VIP: &str = "10.46.46.46/32";

fn config(net: &TestNet, metrics: &str) -> String {
    format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
peers:
  - name: r1
    address: {router}
    remote_as: {ROUTER_AS}
    port: {BGP_PORT}
    local_address: {injector}
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
checks:
  always:
    exec: {{command: ["true"]}}
    interval: 100ms
    fast_interval: 100ms
    rise: 1
    fall: 1
vips:
  - prefix: {VIP}
    med: 300
    check: always
drain:
  med: 1000
control:
  socket: "@DIR@/rhi.sock"
metrics:
  listen: "{metrics}"
"#,
        injector = net.injector(),
        router = net.router(),
    )
}

/// One scrape: (name, sorted labels) → value.
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

fn scrape(url: &str) -> Samples {
    let output = std::process::Command::new("curl").args(["-sf", url]).output().expect("curl");
    assert!(output.status.success(), "GET {url} failed");
    let text = String::from_utf8(output.stdout).unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format");
    parsed
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> =
                s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            labels.sort();
            let value = match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                other => panic!("unexpected metric type {other:?}"),
            };
            ((s.metric, labels), value)
        })
        .collect()
}

fn value(metrics: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    labels.sort();
    metrics.get(&(name.to_string(), labels)).copied()
}

fn cli(rhi: &RhiProcess, args: &[&str]) -> Output {
    let socket = rhi.dir().join("rhi.sock");
    let output = rhi_command().args(args).arg("--socket").arg(socket).output().expect("rhi CLI");
    assert!(output.status.success(), "rhi {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn metrics_follow_the_session_routes_drain_and_checks() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let listen = format!("{}:9179", net.addr(9));
    let url = format!("http://{listen}/metrics");
    let rhi = RhiProcess::start(&config(&net, &listen));
    bird.wait_route(VIP, secs(10));

    let peer = [("peer", "r1")];
    let first = wait_until(secs(5), "the session and the VIP in /metrics", || {
        let m = scrape(&url);
        (value(&m, "rhi_peer_up", &peer) == Some(1.0)
            && value(&m, "rhi_route_announced", &[("prefix", VIP), ("source", "config")]) == Some(1.0))
        .then_some(m)
    });
    let sent_before = value(&first, "rhi_peer_updates_sent_total", &peer).expect("updates sent");
    let probes_before = value(&first, "rhi_check_probes_total", &[("check", "always")]).expect("probes");
    assert_eq!(value(&first, "rhi_peer_flaps_total", &peer), Some(0.0));
    assert_eq!(value(&first, "rhi_route_drained", &[("prefix", VIP), ("source", "config")]), Some(0.0));

    cli(&rhi, &["announce", "10.99.0.1/32", "--med", "50"]);
    bird.wait_route("10.99.0.1/32", secs(5));
    cli(&rhi, &["drain", "--withdraw-after", "0s"]);
    bird.wait_route_where(VIP, secs(5), "the drain MED", |r| r.med == Some(1000));

    let after = wait_until(secs(5), "counters to move", || {
        let m = scrape(&url);
        let probes = value(&m, "rhi_check_probes_total", &[("check", "always")])?;
        (value(&m, "rhi_peer_updates_sent_total", &peer)? >= sent_before + 2.0 && probes > probes_before).then_some(m)
    });
    assert_eq!(value(&after, "rhi_route_drained", &[("prefix", VIP), ("source", "config")]), Some(1.0));
    assert_eq!(value(&after, "rhi_route_announced", &[("prefix", "10.99.0.1/32"), ("source", "manual")]), Some(1.0));
    assert_eq!(value(&after, "rhi_drained_all", &[]), Some(1.0));
    assert_eq!(value(&after, "rhi_peer_prefixes_advertised", &peer), Some(2.0));
    let sent = value(&after, "rhi_peer_messages_sent_total", &peer).unwrap();
    assert!(sent > value(&after, "rhi_peer_updates_sent_total", &peer).unwrap(), "OPEN and KEEPALIVEs count too");
    assert!(value(&after, "rhi_peer_messages_received_total", &peer).unwrap() >= 2.0, "OPEN + KEEPALIVE");
    assert_eq!(value(&after, "rhi_peer_prefixes_received_total", &peer), Some(0.0), "BIRD exports nothing");

    let health =
        std::process::Command::new("curl").args(["-sf", &format!("http://{listen}/healthz")]).output().unwrap();
    assert!(health.status.success());
    rhi.assert_running();
}

#[test]
fn a_metrics_port_in_use_fails_the_start_with_the_address() {
    let net = TestNet::allocate();
    let listen = format!("{}:9179", net.addr(9));
    let _taken = std::net::TcpListener::bind(&listen).unwrap();
    let rhi = RhiProcess::start(&config(&net, &listen));
    let status = rhi.wait_exit(secs(5));
    assert_eq!(status.code(), Some(1));
    assert!(rhi.log().contains(&format!("metrics.listen {listen}")), "{}", rhi.log());
}
