//! rhi against real routers on loopback: BIRD 2, GoBGP and FRR each hold the VIPs with the
//! configured attributes; SIGTERM withdraws; a restarted router gets the routes again; iBGP carries
//! LOCAL_PREF; a passive rhi accepts the router's connection.

mod support;

use std::net::IpAddr;
use std::time::Instant;

use support::*;

const VIP4: &str = "10.46.46.46/32";
const VIP6: &str = "2001:db8:46::46/128";

/// An rhi config with one peer (the router of `net`) announcing both VIPs.
fn rhi_config(net: &TestNet, peer_as: u32, extra_peer: &str, extra_top: &str) -> String {
    format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
{extra_top}
peers:
  - name: r1
    address: {router}
    remote_as: {peer_as}
    port: {BGP_PORT}
    local_address: {injector}
    hold_time: 9s
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
    next_hop_v6: {NEXT_HOP_V6}
{extra_peer}
vips:
  - prefix: {VIP4}
    med: 300
    as_path_prepend: 2
    communities: ["65010:46", no-export]
    large_communities: ["65010:46:1"]
  - prefix: {VIP6}
    med: 310
    communities: ["65010:66"]
    large_communities: ["65010:66:1"]
control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        router = net.router(),
    )
}

fn assert_vip4(route: &Route) {
    assert_eq!(route.med, Some(300), "{route:?}");
    assert_eq!(route.as_path, vec![INJECTOR_AS; 3], "own AS + 2 prepends: {route:?}");
    assert!(route.has_community("65010:46"), "{route:?}");
    assert!(route.has_community("no-export"), "{route:?}");
    assert_eq!(route.large_communities, vec![(65010, 46, 1)], "{route:?}");
    assert_eq!(route.next_hop, Some(NEXT_HOP_V4.parse::<IpAddr>().unwrap()), "{route:?}");
    assert_eq!(route.origin, Some(Origin::Igp), "{route:?}");
}

fn assert_vip6(route: &Route) {
    assert_eq!(route.med, Some(310), "{route:?}");
    assert_eq!(route.as_path, vec![INJECTOR_AS], "{route:?}");
    assert!(route.has_community("65010:66"), "{route:?}");
    assert_eq!(route.large_communities, vec![(65010, 66, 1)], "{route:?}");
    assert_eq!(route.next_hop, Some(NEXT_HOP_V6.parse::<IpAddr>().unwrap()), "{route:?}");
}

fn vips_arrive(router: &impl Router, rhi: &RhiProcess) {
    router.wait_established(secs(10));
    assert_vip4(&router.wait_route(VIP4, secs(10)));
    assert_vip6(&router.wait_route(VIP6, secs(10)));
    assert_eq!(router.routes().len(), 2, "nothing else announced: {:?}", router.routes());
    rhi.assert_running();
}

#[test]
fn bird_holds_both_vips_with_their_attributes() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&rhi_config(&net, ROUTER_AS, "", ""));
    vips_arrive(&bird, &rhi);
    rhi.wait_log("End-of-RIB", secs(5));
}

#[test]
fn gobgp_holds_both_vips_with_their_attributes() {
    if !require(&[Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let gobgp = Gobgp::start(GobgpOptions::new(&net));
    let rhi = RhiProcess::start(&rhi_config(&net, ROUTER_AS, "", ""));
    vips_arrive(&gobgp, &rhi);
}

#[test]
fn frr_holds_both_vips_with_their_attributes() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = Frr::start(FrrOptions::new(&net));
    let rhi = RhiProcess::start(&rhi_config(&net, ROUTER_AS, "", ""));
    vips_arrive(&frr, &rhi);
}

#[test]
fn sigterm_withdraws_from_the_router_within_two_seconds_and_exits_zero() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    // Graceful restart would let BIRD keep our routes as stale after the session closes: the
    // withdrawal must be explicit, so test with it on (BIRD's default).
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&rhi_config(&net, ROUTER_AS, "", ""));
    bird.wait_route(VIP4, secs(10));
    bird.wait_route(VIP6, secs(10));
    let signalled = Instant::now();
    rhi.sigterm();
    bird.wait_no_route(VIP4, secs(2));
    bird.wait_no_route(VIP6, secs(2).saturating_sub(signalled.elapsed()));
    let status = rhi.wait_exit(secs(3));
    assert_eq!(status.code(), Some(0), "{}", rhi.log());
    // BIRD logs the RFC 8203 shutdown communication it received.
    wait_until(secs(5), "BIRD to see the Cease", || {
        let state = bird.session_state();
        (state != "Established").then_some(())
    });
    let log = bird.log();
    assert!(log.contains("rhi shutting down (SIGTERM)") || log.contains("Administrative shutdown"), "{log}");
}

#[test]
fn a_killed_and_restarted_router_gets_the_routes_again() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&rhi_config(&net, ROUTER_AS, "", ""));
    bird.wait_route(VIP4, secs(10));
    bird.kill();
    rhi.wait_log("session down", secs(15));
    bird.restart();
    // connect_retry 1s with backoff: the first retries come within a few seconds.
    assert_vip4(&bird.wait_route(VIP4, secs(15)));
    assert_vip6(&bird.wait_route(VIP6, secs(5)));
    rhi.assert_running();
}

#[test]
fn ibgp_session_carries_local_pref() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions { ibgp: true, local_as: INJECTOR_AS, ..BirdOptions::new(&net) });
    let config = rhi_config(&net, INJECTOR_AS, "", "").replace("    med: 300\n", "    med: 300\n    local_pref: 250\n");
    let rhi = RhiProcess::start(&config);
    let v4 = bird.wait_route(VIP4, secs(10));
    assert_eq!(v4.local_pref, Some(250), "{v4:?}");
    assert!(v4.as_path.is_empty(), "iBGP: no own AS and no prepends (a loop for the receiver): {v4:?}");
    let v6 = bird.wait_route(VIP6, secs(10));
    assert_eq!(v6.local_pref, Some(100), "iBGP default LOCAL_PREF is sent explicitly: {v6:?}");
    rhi.assert_running();
}

#[test]
fn passive_rhi_accepts_bird_connecting_to_it() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions { passive: false, ..BirdOptions::new(&net) });
    let config = rhi_config(&net, ROUTER_AS, "", &format!("listen: [\"{}:{BGP_PORT}\"]", net.injector()))
        .replace("    hold_time: 9s\n", "    hold_time: 9s\n    passive: true\n");
    let rhi = RhiProcess::start(&config);
    assert_vip4(&bird.wait_route(VIP4, secs(10)));
    assert!(rhi.log().contains("accepted connection from peer"), "{}", rhi.log());
}

#[test]
fn a_connection_from_an_unconfigured_address_is_refused() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    // BIRD at .3 connects to us, but rhi only knows the router at .1.
    let stranger = BirdOptions { router_addr: net.addr(3), passive: false, ..BirdOptions::new(&net) };
    let bird = Bird::start(stranger);
    let config = rhi_config(&net, ROUTER_AS, "", &format!("listen: [\"{}:{BGP_PORT}\"]", net.injector()))
        .replace("    hold_time: 9s\n", "    hold_time: 9s\n    passive: true\n");
    let rhi = RhiProcess::start(&config);
    rhi.wait_log("refused connection: not a configured peer", secs(10));
    assert_ne!(bird.session_state(), "Established");
    rhi.assert_running();
}

#[test]
fn two_peers_each_get_the_table() {
    if !require(&[Peer::Bird, Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let frr = Frr::start(FrrOptions { router_addr: net.addr(3), ..FrrOptions::new(&net) });
    let second = format!(
        "  - name: r2\n    address: {}\n    remote_as: {ROUTER_AS}\n    port: {BGP_PORT}\n    local_address: {}\n    \
         connect_retry: 1s\n    next_hop: {NEXT_HOP_V4}\n    next_hop_v6: {NEXT_HOP_V6}\n",
        net.addr(3),
        net.injector()
    );
    let rhi = RhiProcess::start(&rhi_config(&net, ROUTER_AS, &second, ""));
    vips_arrive(&bird, &rhi);
    vips_arrive(&frr, &rhi);
}
