//! GTSM (RFC 5082, `ttl_security`) and the outgoing TTL (`ttl`), against real routers (BIRD 2
//! `ttl security on`, FRR `neighbor X ttl-security hops 1`) and against a test router written with
//! rhi's own codec that sends with the TTL it is told (the passive side: what rhi accepts).
//!
//! Everything runs on loopback, where a packet arrives with the TTL it was sent with: 255 passes
//! a GTSM minimum of 255 (hops 1), the kernel's default 64 does not. Each positive test has a
//! negative twin with the same router configuration, so that the router (or rhi) is seen to
//! enforce the TTL, not merely to tolerate it.

mod support;

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ::rhi::bgp::codec::BgpCodec;
use ::rhi::bgp::message::{Message, Open};
use ::rhi::bgp::{Capability, Family};
use ::rhi::status::Status;
use bytes::BytesMut;
use socket2::{Domain, Socket, Type};
use support::*;
use tokio_util::codec::{Decoder, Encoder};

const VIP: &str = "10.46.46.46/32";
/// Long enough for several of rhi's connect attempts (connect_retry 1 s) and for BIRD/FRR to
/// take a session that arrives; a session that enforcement blocks stays down all along.
const NEVER: Duration = Duration::from_secs(8);

/// rhi active towards the router at `.1`, with `peer_keys` added to the peer.
fn rhi_config(net: &TestNet, peer_keys: &str) -> String {
    OnePeerConfig {
        peer_keys: peer_keys.to_string(),
        vips: format!("  - prefix: {VIP}\n    med: 300\n"),
        ..OnePeerConfig::new(net)
    }
    .yaml()
}

/// BIRD with `ttl security on`: it sends TTL 255 and takes only TTL >= 256 - hops. On loopback
/// BIRD needs multihop mode; `multihop 1` keeps the minimum at 255, what `ttl_security: true`
/// (hops 1) expects of BIRD too.
fn gtsm_bird(net: &TestNet, passive: bool) -> Bird {
    Bird::start(BirdOptions {
        passive,
        multihop: false,
        protocol_options: "multihop 1;\n  ttl security on;".into(),
        ..BirdOptions::new(net)
    })
}

fn try_peer_state(rhi: &RhiProcess, name: &str) -> Result<String, String> {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    if code != 0 {
        return Err(format!("rhi status: {err}"));
    }
    let status: Status = serde_json::from_str(&out).map_err(|e| format!("status JSON: {e}"))?;
    let peer = status.peers.iter().find(|p| p.name == name).ok_or_else(|| format!("no peer {name} in {out}"))?;
    Ok(peer.state.clone())
}

fn peer_state(rhi: &RhiProcess, name: &str) -> String {
    try_peer_state(rhi, name).unwrap_or_else(|e| panic!("{e}"))
}

/// For `NEVER`: the router must not bring the session up, nor hold the VIP.
///
/// Only the router's view counts. BIRD and FRR set IP_MINTTL on the connection once they have
/// accepted it, so rhi's OPEN, sent the moment the handshake completes, may already sit in the
/// router's socket at TTL 64 and be read: rhi may then see the router's OPEN and KEEPALIVE (at
/// 255) and call the session Established for a while. Everything rhi sends after that (the
/// KEEPALIVE the router waits for, the UPDATEs) is dropped, so the router never gets there. rhi
/// closes that race on its own side with a socket filter on the listener (driver::ttl).
fn assert_never_established(router: &impl Router, rhi: &RhiProcess) {
    let deadline = Instant::now() + NEVER;
    while Instant::now() < deadline {
        let state = router.try_session_state().unwrap_or_default();
        assert_ne!(state, "Established", "{} took the session", router.name());
        assert!(router.try_routes().unwrap_or_default().is_empty(), "{} holds routes from rhi", router.name());
        std::thread::sleep(POLL_INTERVAL * 4);
    }
    rhi.assert_running();
}

#[test]
fn bird_with_ttl_security_establishes_with_gtsm() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = gtsm_bird(&net, true);
    let rhi = RhiProcess::start(&rhi_config(&net, "    ttl_security: true"));
    bird.wait_established(secs(15));
    assert_eq!(bird.wait_route(VIP, secs(10)).med, Some(300));
    // Visible in the log.
    rhi.wait_log("gtsm hops 1 (ttl 255 out, >= 255 in)", secs(1));
}

/// The twin of the test above: the same BIRD, rhi without `ttl_security`. BIRD drops rhi's
/// TTL-64 segments, so the positive test shows that rhi really sends 255.
#[test]
fn bird_with_ttl_security_refuses_rhi_without_it() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = gtsm_bird(&net, true);
    let rhi = RhiProcess::start(&rhi_config(&net, ""));
    wait_until_ok(secs(10), "rhi to answer on its control socket", || try_peer_state(&rhi, "r1"));
    assert_never_established(&bird, &rhi);
}

/// `ttl: 255` without GTSM: the outgoing TTL alone satisfies BIRD's `ttl security on` (which
/// refuses rhi's default TTL, above), so the setting is on the wire.
#[test]
fn outgoing_ttl_255_passes_bird_ttl_security() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = gtsm_bird(&net, true);
    let rhi = RhiProcess::start(&rhi_config(&net, "    ttl: 255"));
    bird.wait_established(secs(15));
    bird.wait_route(VIP, secs(10));
    rhi.wait_log("ttl 255 out", secs(1));
}

/// BIRD connects to a passive rhi: BIRD's SYN (TTL 255) passes rhi's listener filter, and rhi
/// answers on the accepted socket with 255 (BIRD drops anything less once connected).
#[test]
fn bird_with_ttl_security_connects_to_passive_rhi() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = gtsm_bird(&net, false);
    let config = rhi_config(&net, "    ttl_security: true\n    passive: true")
        .replace("peers:\n", &format!("listen: [\"{}:{BGP_PORT}\"]\npeers:\n", net.injector()));
    let rhi = RhiProcess::start(&config);
    bird.wait_established(secs(15));
    bird.wait_route(VIP, secs(10));
    assert!(rhi.log().contains("accepted connection from peer"), "{}", rhi.log());
    assert!(rhi.log().contains("GTSM: the listening socket drops"), "{}", rhi.log());
}

fn gtsm_frr(net: &TestNet) -> Frr {
    let p = net.injector();
    Frr::start(FrrOptions { bgp_options: format!("neighbor {p} ttl-security hops 1"), ..FrrOptions::new(net) })
}

#[test]
fn frr_with_ttl_security_establishes_with_gtsm() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = gtsm_frr(&net);
    let _rhi = RhiProcess::start(&rhi_config(&net, "    ttl_security: true"));
    frr.wait_established(secs(15));
    assert_eq!(frr.wait_route(VIP, secs(10)).med, Some(300));
}

/// FRR connects to a passive rhi. FRR sets its minimum TTL before `connect`, so rhi's SYN-ACK,
/// sent by the listening socket before rhi knows who is calling, must already leave with 255:
/// the listener sends with the highest TTL its peers want.
#[test]
fn frr_with_ttl_security_connects_to_passive_rhi() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let p = net.injector();
    let frr = Frr::start(FrrOptions {
        passive: false,
        bgp_options: format!("neighbor {p} ttl-security hops 1"),
        ..FrrOptions::new(&net)
    });
    let config = rhi_config(&net, "    ttl_security: true\n    passive: true")
        .replace("peers:\n", &format!("listen: [\"{}:{BGP_PORT}\"]\npeers:\n", net.injector()));
    let rhi = RhiProcess::start(&config);
    frr.wait_established(secs(15));
    frr.wait_route(VIP, secs(10));
    assert!(rhi.log().contains("accepted connection from peer"), "{}", rhi.log());
}

#[test]
fn frr_with_ttl_security_refuses_rhi_without_it() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = gtsm_frr(&net);
    let rhi = RhiProcess::start(&rhi_config(&net, ""));
    wait_until_ok(secs(10), "rhi to answer on its control socket", || try_peer_state(&rhi, "r1"));
    assert_never_established(&frr, &rhi);
}

// --- Passive rhi: what it accepts, seen by a router written with rhi's codec ---------------

/// Two passive peers on one listener: `gtsm` at `.1` with `ttl_security`, `plain` at `.3`
/// without.
fn passive_config(net: &TestNet) -> String {
    format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
listen: ["{injector}:{BGP_PORT}"]
peers:
  - name: gtsm
    address: {gtsm}
    remote_as: {ROUTER_AS}
    passive: true
    hold_time: 9s
    next_hop: {NEXT_HOP_V4}
    ttl_security: true
  - name: plain
    address: {plain}
    remote_as: {ROUTER_AS}
    passive: true
    hold_time: 9s
    next_hop: {NEXT_HOP_V4}
vips:
  - prefix: {VIP}
control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        gtsm = net.router(),
        plain = net.addr(3),
    )
}

fn set_min_ttl(socket: &Socket, minimum: libc::c_int) {
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MINTTL,
            (&raw const minimum).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "IP_MINTTL: {}", io::Error::last_os_error());
}

/// A router that sends with the TTL it is told.
struct TtlRouter {
    stream: TcpStream,
    socket: Socket,
    buffer: BytesMut,
}

impl TtlRouter {
    /// Connects from `from` to rhi with `ttl`; with `gtsm`, this router also takes only TTL
    /// 255, as a router with GTSM does, so rhi's SYN-ACK and messages must come with 255.
    fn connect(net: &TestNet, from: IpAddr, ttl: u32, gtsm: bool, timeout: Duration) -> io::Result<TtlRouter> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_ttl(ttl)?;
        if gtsm {
            set_min_ttl(&socket, 255);
        }
        socket.bind(&SocketAddr::new(from, 0).into())?;
        socket.connect_timeout(&SocketAddr::new(net.injector(), BGP_PORT).into(), timeout)?;
        let stream: TcpStream = socket.try_clone()?.into();
        stream.set_read_timeout(Some(secs(10)))?;
        Ok(TtlRouter { stream, socket, buffer: BytesMut::new() })
    }

    /// Waits for rhi's listener, then connects (rhi accepts at once from a configured peer).
    fn connect_when_listening(net: &TestNet, from: IpAddr, ttl: u32, gtsm: bool) -> TtlRouter {
        wait_until_ok(secs(10), "rhi to accept the router's connection", || {
            TtlRouter::connect(net, from, ttl, gtsm, secs(2))
        })
    }

    fn set_ttl(&self, ttl: u32) {
        self.socket.set_ttl(ttl).unwrap();
    }

    fn send(&mut self, message: Message) {
        let mut out = BytesMut::new();
        BgpCodec::new().encode(message, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// The next message within `timeout`; None when nothing came (or the connection ended).
    fn next_within(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        let mut codec = BgpCodec::new();
        loop {
            if let Some(message) = codec.decode(&mut self.buffer).expect("rhi sent something undecodable") {
                return Some(message);
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return None,
                Err(e) => panic!("router read failed: {e}"),
            }
        }
    }

    fn send_open(&mut self) {
        let capabilities = vec![Capability::Multiprotocol(Family::IPV4_UNICAST), Capability::FourOctetAs(ROUTER_AS)];
        let id = match self.stream.local_addr().unwrap().ip() {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => unreachable!(),
        };
        self.send(Message::Open(Open::new(ROUTER_AS, 9, id, capabilities)));
    }

    /// rhi's OPEN (rhi sends it as soon as it takes the connection).
    fn expect_open(&mut self) {
        match self.next_within(secs(5)) {
            Some(Message::Open(_)) => {}
            other => panic!("expected rhi's OPEN, got {other:?}"),
        }
    }
}

/// The acceptance pair for a passive rhi with `ttl_security`, on one listener with a peer
/// without it.
#[test]
fn passive_gtsm_peer_answers_only_ttl_255_and_a_plain_peer_on_the_same_listener_any_ttl() {
    let net = TestNet::allocate();
    let rhi = RhiProcess::start(&passive_config(&net));
    rhi.wait_log("GTSM: the listening socket drops", secs(10));

    // The plain peer at TTL 64: OPEN and KEEPALIVE come back, the session is up.
    let mut plain = TtlRouter::connect_when_listening(&net, net.addr(3), 64, false);
    plain.expect_open();
    plain.send_open();
    plain.send(Message::Keepalive);
    assert_eq!(plain.next_within(secs(5)), Some(Message::Keepalive), "the plain peer's OPEN at TTL 64 is answered");
    wait_until(secs(5), "peer plain to be Established", || (peer_state(&rhi, "plain") == "Established").then_some(()));

    // The GTSM peer at TTL 64: not even the SYN is answered.
    let refused = TtlRouter::connect(&net, net.router(), 64, false, secs(3));
    assert!(refused.is_err(), "a TTL-64 SYN from the GTSM peer's address was answered");
    assert_ne!(peer_state(&rhi, "gtsm"), "OpenSent");

    // The GTSM peer at TTL 255, itself enforcing 255 (rhi's SYN-ACK, OPEN and KEEPALIVE must all
    // come with 255): answered.
    let mut good = wait_until_ok(secs(15), "rhi to answer the GTSM peer at TTL 255", || {
        let mut router = TtlRouter::connect(&net, net.router(), 255, true, secs(3)).map_err(|e| e.to_string())?;
        match router.next_within(secs(3)) {
            Some(Message::Open(_)) => Ok(router),
            other => Err(format!("got {other:?} instead of rhi's OPEN")),
        }
    });
    good.send_open();
    good.send(Message::Keepalive);
    assert_eq!(good.next_within(secs(5)), Some(Message::Keepalive), "the GTSM peer's OPEN at TTL 255 is answered");
    wait_until(secs(5), "peer gtsm to be Established", || (peer_state(&rhi, "gtsm") == "Established").then_some(()));
    // The router closes (its FIN at 255 reaches rhi); rhi waits for the next connection.
    drop(good);
    wait_until(secs(5), "peer gtsm to leave Established", || (peer_state(&rhi, "gtsm") != "Established").then_some(()));

    // Handshake at 255, then at once the OPEN at 64: it reaches the kernel before rhi has
    // accepted the connection, let alone set IP_MINTTL on it (what BIRD and FRR rely on). rhi's
    // OPEN comes (with TTL 255: this router takes nothing less); no KEEPALIVE ever does.
    let mut sneaky = wait_until_ok(secs(10), "the handshake at TTL 255", || {
        TtlRouter::connect(&net, net.router(), 255, true, secs(3))
    });
    sneaky.set_ttl(64);
    sneaky.send_open();
    sneaky.send(Message::Keepalive);
    sneaky.expect_open();
    let deadline = Instant::now() + secs(4);
    while Instant::now() < deadline {
        match sneaky.next_within(secs(1)) {
            None => {}
            Some(message) => panic!("rhi answered an OPEN sent with TTL 64: {message:?}"),
        }
        assert_eq!(peer_state(&rhi, "gtsm"), "OpenSent", "the session must not pass OpenSent");
    }
    // Left as it is: a FIN or RST from it would be sent at TTL 64 too, and dropped.

    rhi.assert_running();
}
