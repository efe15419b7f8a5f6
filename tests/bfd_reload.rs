//! Reload changes a peer's BFD timers on the running session: rhi renegotiates with a Poll
//! sequence (RFC 5880 §6.5) and BIRD's BFD session follows, while the BGP session is never reset.
//! The positive half (the router really runs the new intervals) is what proves the reload was
//! applied and not silently ignored.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

const VIP: &str = "10.46.46.46/32";

fn config(net: &TestNet, interval_ms: u32) -> String {
    format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
peers:
  - name: r1
    address: {router}
    remote_as: {ROUTER_AS}
    port: {BGP_PORT}
    local_address: {injector}
    hold_time: 9s
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
    bfd: {{min_rx: {interval_ms}ms, min_tx: {interval_ms}ms, multiplier: 3, multihop: true}}
vips:
  - prefix: {VIP}
control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        router = net.router(),
    )
}

/// BIRD as a multihop BFD peer at 100 ms × 3 (loopback neighbours are multihop for BIRD).
fn bird_with_bfd(net: &TestNet) -> Bird {
    let mut options = BirdOptions::new(net);
    options.hold_time = Some(9);
    options.extra_config = "protocol bfd { accept multihop; multihop { min rx interval 100 ms; \
                            min tx interval 100 ms; multiplier 3; }; }"
        .to_string();
    options.protocol_options = "bfd { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };".to_string();
    Bird::start(options)
}

/// BIRD's view of its BFD session to rhi: (state, tx interval s, timeout s).
fn bird_bfd_session(bird: &Bird, neighbour: &str) -> Result<(String, f64, f64), String> {
    let text = bird.birdc(&["show", "bfd", "sessions"])?;
    let line = text
        .lines()
        .find(|line| line.split_whitespace().next() == Some(neighbour))
        .ok_or_else(|| format!("no BFD session to {neighbour}: {text}"))?;
    // IP address, Interface, State, Since (one or two words), Interval, Timeout.
    let fields: Vec<&str> = line.split_whitespace().collect();
    let number = |s: &str| s.parse::<f64>().map_err(|e| format!("{s}: {e} in {line:?}"));
    let n = fields.len();
    if n < 6 {
        return Err(format!("short line {line:?}"));
    }
    Ok((fields[2].to_string(), number(fields[n - 2])?, number(fields[n - 1])?))
}

fn rhi_peer(rhi: &RhiProcess) -> Result<Value, String> {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    if code != 0 {
        return Err(err);
    }
    let status: Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    Ok(status["peers"][0].clone())
}

#[test]
fn reload_renegotiates_bfd_timers_without_resetting_bgp() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_bfd(&net);
    let rhi = RhiProcess::start(&config(&net, 100));
    let injector = net.injector().to_string();
    bird.wait_route(VIP, secs(20));
    wait_until_ok(secs(10), "BFD Up at 100 ms on both sides", || {
        let (state, interval, timeout) = bird_bfd_session(&bird, &injector)?;
        let peer = rhi_peer(&rhi)?;
        match (state.as_str(), peer["bfd"]["state"].as_str()) {
            ("Up", Some("Up")) if interval == 0.1 && timeout == 0.3 => Ok(()),
            other => Err(format!("BIRD {state} {interval}/{timeout}, rhi {other:?}: {peer}")),
        }
    });
    let flaps_before = rhi_peer(&rhi).unwrap()["flaps"].as_u64();
    assert_eq!(flaps_before, Some(0));

    rhi.write_config(&config(&net, 300));
    let (code, out, err) = rhi.client(&["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("timers changed (session kept)"), "{out}");

    // BIRD now sends every 300 ms (our new Required Min RX) and times out after 3 × 300 ms
    // (our new Desired Min TX): the Poll sequence reached it.
    let started = std::time::Instant::now();
    wait_until_ok(secs(10), "BIRD to run the session at 300 ms", || {
        let (state, interval, timeout) = bird_bfd_session(&bird, &injector)?;
        if state == "Up" && interval == 0.3 && (timeout - 0.9).abs() < 1e-9 {
            Ok(())
        } else {
            Err(format!("BIRD {state} {interval}/{timeout}"))
        }
    });
    eprintln!("BIRD follows the new BFD timers {:?} after the reload", started.elapsed());
    wait_until_ok(secs(5), "rhi to show the negotiated 300 ms", || {
        let peer = rhi_peer(&rhi)?;
        let bfd = &peer["bfd"];
        match (bfd["state"].as_str(), bfd["tx_interval_ms"].as_f64(), bfd["detection_time_ms"].as_f64()) {
            (Some("Up"), Some(tx), Some(detect)) if tx == 300.0 && detect == 900.0 => Ok(()),
            _ => Err(format!("{bfd}")),
        }
    });

    // Neither BFD nor BGP went down on the way.
    let peer = rhi_peer(&rhi).unwrap();
    assert_eq!(peer["state"], "Established", "{peer}");
    assert_eq!(peer["flaps"].as_u64(), Some(0), "the BGP session was reset: {peer}");
    assert_eq!(peer["bfd"]["last_down"], Value::Null, "BFD went down during the Poll: {peer}");
    assert!(rhi.log().contains("renegotiating (Poll)"), "{}", rhi.log());
    bird.wait_route(VIP, Duration::from_secs(1));
}
