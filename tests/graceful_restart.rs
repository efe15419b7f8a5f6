//! Graceful restart (RFC 4724) against BIRD 2 with `graceful restart on`: the capability is
//! negotiated; a crashed rhi (SIGKILL) leaves its VIPs at BIRD, stale, for `restart_time`, and
//! an rhi back in time keeps them without a gap, refreshes them with its End-of-RIB and lets
//! BIRD drop what it no longer announces; a deliberate stop still withdraws at once; without
//! `graceful_restart` a SIGKILL loses the routes at once; a gracefully restarting BIRD gets the
//! table and End-of-RIB again.
//!
//! What BIRD 2.0.12 shows (`birdc show protocols all inj`): the peer's capability under
//! "Neighbor capabilities" ("Graceful restart", "Restart recovery" for the R bit, "Restart
//! time: N", "AF supported", "AF preserved" for the F bits); while it holds a neighbour's
//! routes as stale, "Neighbor graceful restart active" (and "Restart timer" until the session
//! returns) and per channel "Neighbor GR: Regular", until that neighbour's End-of-RIB. It marks
//! no single route as stale in `show route`.

mod support;

use std::fs;
use std::time::{Duration, Instant};

use ::rhi::status::{PeerInfo, Status};
use support::bird::{parse_protocol_state, PROTOCOL};
use support::*;

const VIP: &str = "10.46.46.46/32";
/// Announced by the first run only: BIRD must drop it at the End-of-RIB of the second.
const GONE: &str = "10.46.46.47/32";
const GR_ACTIVE: &str = "Neighbor graceful restart active";

fn bird_with_graceful_restart(net: &TestNet) -> Bird {
    let mut options = BirdOptions::new(net);
    options.protocol_options = "graceful restart on;".to_string();
    Bird::start(options)
}

/// One peer (BIRD), `peer_extra` under it (e.g. `graceful_restart: ...`), a state file, and the
/// VIPs given as YAML list items.
fn rhi_config(net: &TestNet, peer_extra: &str, vips: &str, checks: &str) -> String {
    OnePeerConfig {
        peer_keys: format!("    {peer_extra}\n"),
        top: format!("{checks}\nstate_file: \"@DIR@/state.json\"\n"),
        vips: vips.to_string(),
        ..OnePeerConfig::new(net)
    }
    .yaml()
}

fn plain_vip() -> String {
    format!("  - prefix: {VIP}\n")
}

/// `birdc show protocols all inj`.
fn protocol(bird: &Bird) -> String {
    bird.birdc(&["show", "protocols", "all", PROTOCOL]).unwrap_or_else(|e| panic!("{e}"))
}

/// The lines of the "Graceful restart" block under "Neighbor capabilities", trimmed; `None`
/// when the neighbour (rhi) sent no Graceful Restart capability or the session is down.
fn neighbor_graceful_restart(show: &str) -> Option<Vec<String>> {
    let mut lines = show.lines().skip_while(|l| l.trim() != "Neighbor capabilities").skip(1);
    let mut block = Vec::new();
    let mut inside = false;
    // Capabilities are indented 6 spaces, their details 8; the section ends with less.
    for line in lines.by_ref() {
        let indent = line.len() - line.trim_start().len();
        if indent < 6 {
            break;
        }
        if indent == 6 {
            inside = line.trim() == "Graceful restart";
        } else if inside {
            block.push(line.trim().to_string());
        }
    }
    (inside || !block.is_empty()).then_some(block)
}

fn status(rhi: &RhiProcess) -> Status {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    assert_eq!(code, 0, "rhi status: {err}");
    serde_json::from_str(&out).expect("status JSON")
}

fn peer_status(rhi: &RhiProcess) -> PeerInfo {
    status(rhi).peers.into_iter().find(|p| p.name == "r1").expect("peer r1 in the status")
}

fn end_of_ribs(rhi: &RhiProcess) -> usize {
    rhi.log().lines().filter(|l| l.contains("initial table sent: End-of-RIB")).count()
}

fn state_file_running(rhi: &RhiProcess) -> bool {
    let text = fs::read_to_string(rhi.dir().join("state.json")).expect("the state file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("state file JSON");
    json["running"].as_bool().expect("a running mark")
}

fn has_vip(bird: &Bird, prefix: &str) -> bool {
    bird.routes().iter().any(|r| r.prefix.to_string() == prefix)
}

#[test]
fn the_capability_is_negotiated_with_bird() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_graceful_restart(&net);
    let rhi = RhiProcess::start(&rhi_config(&net, "graceful_restart: {restart_time: 30s}", &plain_vip(), ""));
    bird.wait_established(secs(10));
    bird.wait_route(VIP, secs(10));

    let show = protocol(&bird);
    let gr = neighbor_graceful_restart(&show).unwrap_or_else(|| panic!("no Graceful restart from rhi in:\n{show}"));
    assert!(gr.contains(&"Restart time: 30".to_string()), "{gr:?}");
    assert!(gr.contains(&"AF supported: ipv4".to_string()), "{gr:?}");
    // The F bit: BIRD keeps the stale routes across rhi's restart instead of flushing them.
    assert!(gr.contains(&"AF preserved: ipv4".to_string()), "{gr:?}");
    // A first start (no state file yet) is not a restart.
    assert!(!gr.iter().any(|l| l.contains("Restart recovery")), "R bit on a first start: {gr:?}");

    let peer = peer_status(&rhi);
    let info = peer.graceful_restart.expect("graceful_restart in rhi status");
    assert!(info.negotiated, "{info:?}");
    assert_eq!(info.restart_time_seconds, 30);
    assert_eq!(info.peer_restart_time_seconds, Some(120), "BIRD's default restart time");
    assert!(!info.peer_restarted);
    assert!(state_file_running(&rhi), "the crash mark is set while rhi runs");
    let (_, text, _) = rhi.client(&["status"]);
    assert!(text.contains("GR PEER") && text.contains("restart time 120s"), "{text}");
}

#[test]
fn kill_9_then_back_within_restart_time_keeps_the_vip_and_refreshes_it() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_graceful_restart(&net);
    // The VIP's check takes ~2 s to rise after a start: the restarted rhi holds its End-of-RIB
    // that long, and BIRD must keep the stale VIP all the while.
    let checks =
        "checks:\n  ok:\n    exec: {command: [\"true\"]}\n    interval: 1s\n    fast_interval: 500ms\n    rise: 4\n";
    let vips = |gone: bool| {
        let mut v = format!("  - prefix: {VIP}\n    check: ok\n");
        if gone {
            v += &format!("  - prefix: {GONE}\n");
        }
        v
    };
    let peer = "graceful_restart: {restart_time: 30s}";
    let rhi = RhiProcess::start(&rhi_config(&net, peer, &vips(true), checks));
    bird.wait_established(secs(10));
    bird.wait_route(VIP, secs(15));
    bird.wait_route(GONE, secs(10));
    wait_until(secs(10), "rhi to send End-of-RIB", || (end_of_ribs(&rhi) == 1).then_some(()));

    // The second run announces VIP only.
    rhi.write_config(&rhi_config(&net, peer, &vips(false), checks));
    rhi.kill();
    let killed = Instant::now();
    let mut polls = 0u32;
    let mut poll = |what: &str| -> String {
        polls += 1;
        let show = protocol(&bird);
        assert!(
            has_vip(&bird, VIP),
            "BIRD lost {VIP} {:.1?} after the SIGKILL ({what}); protocol:\n{show}",
            killed.elapsed()
        );
        show
    };
    // BIRD saw the connection close and holds the routes as stale.
    wait_until(secs(5), "BIRD to hold rhi's routes as stale", || {
        poll("before the restart").contains(GR_ACTIVE).then_some(())
    });
    assert!(has_vip(&bird, GONE), "the stale routes are all kept");

    rhi.restart();
    // Established again, still stale until rhi's End-of-RIB.
    let mut seen_stale_while_established = false;
    let show = wait_until(secs(20), "the End-of-RIB of the restarted rhi to end BIRD's graceful restart", || {
        let show = poll("while rhi restarts");
        let established = parse_protocol_state(&show, PROTOCOL).as_deref() == Some("Established");
        if established && show.contains(GR_ACTIVE) {
            seen_stale_while_established = true;
        }
        (established && !show.contains(GR_ACTIVE) && end_of_ribs(&rhi) == 2).then_some(show)
    });
    assert!(killed.elapsed() < secs(30), "all of it within the restart time");
    assert!(seen_stale_while_established, "the End-of-RIB waited for the check: BIRD held the stale VIP meanwhile");
    // The restarted rhi said so (R bit), having found its crash mark.
    let gr = neighbor_graceful_restart(&show).expect("rhi's capability");
    assert!(gr.iter().any(|l| l == "Restart recovery"), "R bit after a crash: {gr:?}");
    assert!(rhi.log().contains("did not stop cleanly"));
    // Refreshed: held after the End-of-RIB, no longer stale; what rhi did not announce again
    // went with the End-of-RIB.
    poll("after the End-of-RIB");
    bird.wait_no_route(GONE, secs(5));
    assert!(!show.contains("Neighbor GR:"), "no channel holds stale routes:\n{show}");
    assert!(has_vip(&bird, VIP));
    assert!(polls > 10, "polled continuously ({polls} polls)");
    rhi.assert_running();
}

#[test]
fn without_rhi_the_stale_vip_goes_after_restart_time() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_graceful_restart(&net);
    let rhi = RhiProcess::start(&rhi_config(&net, "graceful_restart: {restart_time: 5s}", &plain_vip(), ""));
    bird.wait_established(secs(10));
    bird.wait_route(VIP, secs(10));
    rhi.kill();
    let killed = Instant::now();
    wait_until(secs(5), "BIRD to hold rhi's routes as stale", || protocol(&bird).contains(GR_ACTIVE).then_some(()));
    let gone = wait_until(secs(20), "BIRD to drop the stale VIP", || (!has_vip(&bird, VIP)).then(|| killed.elapsed()));
    assert!(gone >= Duration::from_millis(4500), "held for the restart time of 5 s, not {gone:.1?}");
    assert!(gone < secs(12), "dropped after the restart time of 5 s, not {gone:.1?}");
}

#[test]
fn sigterm_withdraws_at_once_even_with_graceful_restart() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_graceful_restart(&net);
    let rhi = RhiProcess::start(&rhi_config(&net, "graceful_restart: {restart_time: 30s}", &plain_vip(), ""));
    bird.wait_established(secs(10));
    bird.wait_route(VIP, secs(10));
    let asked = Instant::now();
    rhi.sigterm();
    bird.wait_no_route(VIP, secs(2));
    assert!(asked.elapsed() < secs(2));
    assert!(rhi.wait_exit(secs(5)).success());
    assert!(!protocol(&bird).contains(GR_ACTIVE), "a deliberate stop is no restart:\n{}", protocol(&bird));
    assert!(!state_file_running(&rhi), "a clean stop is recorded");

    // The next start is not a restart: no R bit.
    rhi.restart();
    bird.wait_route(VIP, secs(10));
    let gr = neighbor_graceful_restart(&protocol(&bird)).expect("rhi's capability");
    assert!(!gr.iter().any(|l| l.contains("Restart recovery")), "R bit after a clean stop: {gr:?}");
    assert!(!rhi.log().contains("did not stop cleanly"));
}

#[test]
fn without_graceful_restart_kill_9_loses_the_vip_at_once() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_graceful_restart(&net);
    let rhi = RhiProcess::start(&rhi_config(&net, "", &plain_vip(), ""));
    bird.wait_established(secs(10));
    bird.wait_route(VIP, secs(10));
    assert_eq!(neighbor_graceful_restart(&protocol(&bird)), None, "rhi sent no capability");
    assert!(peer_status(&rhi).graceful_restart.is_none());
    rhi.kill();
    let killed = Instant::now();
    // The kernel closes the dead process's connection; BIRD has no reason to wait.
    bird.wait_no_route(VIP, secs(2));
    assert!(killed.elapsed() < secs(2));
    assert!(!protocol(&bird).contains(GR_ACTIVE));
}

#[test]
fn a_gracefully_restarting_bird_gets_the_table_and_end_of_rib() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_graceful_restart(&net);
    let rhi = RhiProcess::start(&rhi_config(&net, "graceful_restart: {restart_time: 30s}", &plain_vip(), ""));
    bird.wait_established(secs(10));
    bird.wait_route(VIP, secs(10));
    assert_eq!(end_of_ribs(&rhi), 1);

    let restarted = Instant::now();
    bird.graceful_restart();
    // BIRD waits for every neighbour's End-of-RIB before it ends its recovery, or for its
    // `graceful restart wait` timer (240 s): done within seconds means rhi sent one.
    wait_until(secs(20), "BIRD to finish its graceful restart", || {
        bird.log().contains("Graceful restart done").then_some(())
    });
    assert!(restarted.elapsed() < secs(20));
    let recovered = bird.log().lines().filter(|l| l.contains("Graceful restart started")).count();
    assert_eq!(recovered, 1, "BIRD ran a recovery:\n{}", bird.log());
    bird.wait_route(VIP, secs(5));
    assert_eq!(end_of_ribs(&rhi), 2, "the new session got the table and End-of-RIB");
    rhi.wait_log("the router restarted gracefully", secs(5));
    assert!(peer_status(&rhi).graceful_restart.expect("status").peer_restarted);
    let status = bird.birdc(&["show", "status"]).unwrap();
    assert!(!status.contains("recovery in progress"), "{status}");
    rhi.assert_running();
}
