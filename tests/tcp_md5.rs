//! TCP-MD5 (RFC 2385) against real routers on loopback: BIRD 2, FRR 8.4 and GoBGP 3 establish
//! with the right key and hold the VIPs; a wrong key, or none on rhi while the router has one,
//! never establishes (the router's kernel drops the SYN: silence, not an error), and rhi logs
//! its hint once. IPv6 transport with BIRD on ::1. A passive rhi accepts BIRD with the key and
//! leaves an unsigned SYN from the same address unanswered. Reload changes and removes a key
//! without touching another session. The secret appears in no output.

mod support;

use std::fs;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::process::WorkDir;
use support::*;

const VIP4: &str = "10.46.46.46/32";
const VIP6: &str = "2001:db8:46::46/128";
const KEY: &str = "Md5-s3cret-Kx7q";
const WRONG_KEY: &str = "Md5-other-Pw2z";
/// How long a session must stay down to count as "never established": rhi retries every
/// second (connect_retry 1s), so this covers several attempts.
const NEVER: Duration = Duration::from_secs(8);

/// rhi with one peer, the router at `router`:`port`, with `auth` (YAML lines of the peer, e.g.
/// a password) and `extra_top` (top-level YAML).
fn rhi_config(net: &TestNet, router: IpAddr, port: u16, local: IpAddr, auth: &str, extra_top: &str) -> String {
    OnePeerConfig {
        local,
        router,
        port,
        next_hop_v6: Some(NEXT_HOP_V6.to_string()),
        peer_keys: auth.to_string(),
        top: extra_top.to_string(),
        vips: format!("  - prefix: {VIP4}\n    med: 300\n  - prefix: {VIP6}\n    med: 310\n"),
        ..OnePeerConfig::new(net)
    }
    .yaml()
}

fn password(key: &str) -> String {
    format!("    password: \"{key}\"\n")
}

/// A key file rhi accepts: not accessible to other users.
fn key_file(dir: &Path, name: &str, key: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("{key}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

fn hint(remote: SocketAddr) -> String {
    format!("no answer from {remote} with TCP-MD5 on: check that both sides have the same password")
}

/// The session is up and the router holds both VIPs.
fn established_with_vips(router: &impl Router, rhi: &RhiProcess) {
    router.wait_established(secs(15));
    assert_eq!(router.wait_route(VIP4, secs(10)).med, Some(300));
    assert_eq!(router.wait_route(VIP6, secs(10)).med, Some(310));
    rhi.assert_running();
}

/// Watches the router for `window`: its session with rhi must never be Established. A wrong
/// key is silent, so this is the only way to see it.
fn never_established(router: &impl Router, rhi: &RhiProcess, window: Duration) {
    let start = Instant::now();
    while start.elapsed() < window {
        let state = router.try_session_state().unwrap_or_else(|e| e);
        assert_ne!(state, "Established", "{} established despite the keys differing", router.name());
        rhi.assert_running();
        std::thread::sleep(POLL_INTERVAL);
    }
    assert!(!rhi.log().contains("session established"), "rhi logged a session:\n{}", rhi.log());
}

/// rhi has a key and the router a different one: no session, and the hint exactly once over
/// several failed attempts.
fn wrong_key(router: &impl Router, rhi: &RhiProcess, remote: SocketAddr) {
    never_established(router, rhi, NEVER);
    let log = rhi.log();
    let attempts = log.lines().filter(|l| l.contains("connect failed")).count();
    assert!(attempts >= 2, "rhi retried only {attempts} times in {NEVER:?}:\n{log}");
    let hints = log.matches(&hint(remote)).count();
    assert_eq!(hints, 1, "the hint must be logged exactly once over {attempts} attempts:\n{log}");
    println!("{}: {attempts} connect attempts without an answer in {NEVER:?}, {hints} hint", router.name());
}

/// The router has a key and rhi none: no session, and no hint (rhi has no password).
fn no_key_on_rhi(router: &impl Router, rhi: &RhiProcess) {
    never_established(router, rhi, NEVER);
    assert!(!rhi.log().contains("with TCP-MD5 on"), "no hint without a password:\n{}", rhi.log());
}

fn start_rhi(net: &TestNet, auth: &str) -> RhiProcess {
    RhiProcess::start(&rhi_config(net, net.router(), BGP_PORT, net.injector(), auth, ""))
}

fn remote(net: &TestNet) -> SocketAddr {
    SocketAddr::new(net.router(), BGP_PORT)
}

// ---- BIRD 2: `password "..."` ----

fn bird_with_key(net: &TestNet, key: &str) -> Bird {
    Bird::start(BirdOptions { protocol_options: format!("password \"{key}\";"), ..BirdOptions::new(net) })
}

#[test]
fn bird_right_key_establishes_and_holds_the_vips() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_key(&net, KEY);
    let rhi = start_rhi(&net, &password(KEY));
    established_with_vips(&bird, &rhi);
}

#[test]
fn bird_wrong_key_never_establishes_and_rhi_hints_once() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_key(&net, KEY);
    let rhi = start_rhi(&net, &password(WRONG_KEY));
    wrong_key(&bird, &rhi, remote(&net));
}

#[test]
fn bird_with_a_key_and_rhi_without_never_establishes() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_key(&net, KEY);
    let rhi = start_rhi(&net, "");
    no_key_on_rhi(&bird, &rhi);
}

// ---- FRR 8.4: `neighbor X password ...` ----

fn frr_with_key(net: &TestNet, key: &str) -> Frr {
    Frr::start(FrrOptions {
        bgp_options: format!("neighbor {} password {key}", net.injector()),
        ..FrrOptions::new(net)
    })
}

#[test]
fn frr_right_key_establishes_and_holds_the_vips() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = frr_with_key(&net, KEY);
    let rhi = start_rhi(&net, &password(KEY));
    established_with_vips(&frr, &rhi);
}

#[test]
fn frr_wrong_key_never_establishes_and_rhi_hints_once() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = frr_with_key(&net, KEY);
    let rhi = start_rhi(&net, &password(WRONG_KEY));
    wrong_key(&frr, &rhi, remote(&net));
}

#[test]
fn frr_with_a_key_and_rhi_without_never_establishes() {
    if !require(&[Peer::Frr]) {
        return;
    }
    let net = TestNet::allocate();
    let frr = frr_with_key(&net, KEY);
    let rhi = start_rhi(&net, "");
    no_key_on_rhi(&frr, &rhi);
}

// ---- GoBGP 3: `auth-password` ----

fn gobgp_with_key(net: &TestNet, key: &str) -> Gobgp {
    Gobgp::start(GobgpOptions { password: Some(key.to_string()), ..GobgpOptions::new(net) })
}

#[test]
fn gobgp_right_key_establishes_and_holds_the_vips() {
    if !require(&[Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let gobgp = gobgp_with_key(&net, KEY);
    let rhi = start_rhi(&net, &password(KEY));
    established_with_vips(&gobgp, &rhi);
}

#[test]
fn gobgp_wrong_key_never_establishes_and_rhi_hints_once() {
    if !require(&[Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let gobgp = gobgp_with_key(&net, KEY);
    let rhi = start_rhi(&net, &password(WRONG_KEY));
    wrong_key(&gobgp, &rhi, remote(&net));
}

#[test]
fn gobgp_with_a_key_and_rhi_without_never_establishes() {
    if !require(&[Peer::Gobgp]) {
        return;
    }
    let net = TestNet::allocate();
    let gobgp = gobgp_with_key(&net, KEY);
    let rhi = start_rhi(&net, "");
    no_key_on_rhi(&gobgp, &rhi);
}

// ---- IPv6 transport: BIRD on ::1 ----

/// A port nobody listens on at [::1] right now (::1 is shared by every test: ports tell them
/// apart).
fn free_port_v6() -> u16 {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).expect("bind [::1]:0").local_addr().unwrap().port()
}

/// BIRD at [::1]:port with `key`, and rhi connecting to it from ::1.
fn bird_and_rhi_over_ipv6(net: &TestNet, bird_key: &str, rhi_key: &str) -> (Bird, RhiProcess, SocketAddr) {
    let localhost = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let port = free_port_v6();
    let bird = Bird::start(BirdOptions {
        router_addr: localhost,
        port,
        peer_addr: localhost,
        peer_port: port,
        protocol_options: format!("password \"{bird_key}\";"),
        ..BirdOptions::new(net)
    });
    let rhi = RhiProcess::start(&rhi_config(net, localhost, port, localhost, &password(rhi_key), ""));
    (bird, rhi, SocketAddr::new(localhost, port))
}

#[test]
fn bird_over_ipv6_right_key_establishes_and_holds_the_vips() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let (bird, rhi, _) = bird_and_rhi_over_ipv6(&net, KEY, KEY);
    established_with_vips(&bird, &rhi);
}

#[test]
fn bird_over_ipv6_wrong_key_never_establishes_and_rhi_hints_once() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let (bird, rhi, remote) = bird_and_rhi_over_ipv6(&net, KEY, WRONG_KEY);
    wrong_key(&bird, &rhi, remote);
}

// ---- Passive rhi: the key is on the listening socket ----

/// A plain TCP connect from `from` to `to`; Ok = answered (accepted, or refused with a RST),
/// Err = no answer within `timeout`.
fn plain_connect(from: IpAddr, to: SocketAddr, timeout: Duration) -> Result<String, std::io::Error> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(to), socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    match socket.connect_timeout(&to.into(), timeout) {
        Ok(()) => Ok("accepted".into()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok("refused".into()),
        Err(e) => Err(e),
    }
}

#[test]
fn passive_rhi_accepts_bird_with_the_key_and_never_answers_an_unsigned_syn() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let listen = SocketAddr::new(net.injector(), BGP_PORT);
    let bird = Bird::start(BirdOptions {
        passive: false,
        protocol_options: format!("password \"{KEY}\";"),
        ..BirdOptions::new(&net)
    });
    let auth = format!("    passive: true\n{}", password(KEY));
    let rhi = RhiProcess::start(&rhi_config(
        &net,
        net.router(),
        BGP_PORT,
        net.injector(),
        &auth,
        &format!("listen: [\"{listen}\"]"),
    ));
    // rhi is passive: the session is BIRD's connection, accepted through the keyed listener.
    established_with_vips(&bird, &rhi);

    // The listener is alive: from an address without a key, a plain connect is answered.
    let other = plain_connect(net.addr(5), listen, secs(3)).expect("a connect from an unkeyed address is answered");
    // From BIRD's own address, without the signature, the SYN is dropped: no answer at all.
    let started = Instant::now();
    let unsigned = plain_connect(net.router(), listen, secs(3));
    let waited = started.elapsed();
    match unsigned {
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}"),
        Ok(answer) => panic!("an unsigned connect from the peer's address was {answer} (other address: {other})"),
    }
    assert!(waited >= secs(3) - Duration::from_millis(100), "gave up after {waited:?}");
    bird.wait_established(secs(1));
}

// ---- Reload ----

fn rhi_status(rhi: &RhiProcess) -> Value {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    assert_eq!(code, 0, "rhi status --json: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}\n{out}"))
}

fn peer_status(status: &Value, name: &str) -> Value {
    status["peers"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().expect("peer in status")
}

/// Waits until rhi's peer `name` is Established; returns its status.
fn wait_rhi_established(rhi: &RhiProcess, name: &str) -> Value {
    wait_until_ok(secs(20), &format!("rhi's {name} Established"), || {
        let peer = peer_status(&rhi_status(rhi), name);
        if peer["state"] == "Established" {
            Ok(peer)
        } else {
            Err(peer.to_string())
        }
    })
}

fn reload(rhi: &RhiProcess) -> String {
    let (code, out, err) = rhi.client(&["reload"]);
    assert_eq!(code, 0, "rhi reload: {out}{err}");
    out
}

fn bird_configure(bird: &Bird, options: &BirdOptions) {
    fs::write(bird.config_path(), options.config()).unwrap();
    let out = bird.birdc(&["configure"]).unwrap_or_else(|e| panic!("birdc configure: {e}"));
    assert!(out.contains("Reconfigur"), "birdc configure: {out}");
}

#[test]
fn reload_changes_then_removes_the_key_while_another_session_stays_up() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let keyed = BirdOptions { protocol_options: format!("password \"{KEY}\";"), ..BirdOptions::new(&net) };
    let bird1 = Bird::start(keyed.clone());
    let bird2 = Bird::start(BirdOptions { router_addr: net.addr(3), ..BirdOptions::new(&net) });
    let secrets = WorkDir::new("md5-keys");
    let file = key_file(secrets.path(), "r1.md5", KEY);
    let second_peer = format!(
        "  - name: r2\n    address: {}\n    remote_as: {ROUTER_AS}\n    port: {BGP_PORT}\n    local_address: {}\n    \
         hold_time: 9s\n    connect_retry: 1s\n    next_hop: {NEXT_HOP_V4}\n    next_hop_v6: {NEXT_HOP_V6}\n",
        net.addr(3),
        net.injector()
    );
    let config =
        |auth: &str| rhi_config(&net, net.router(), BGP_PORT, net.injector(), &format!("{auth}{second_peer}"), "");
    let rhi = RhiProcess::start(&config(&format!("    password_file: {file}\n")));
    established_with_vips(&bird1, &rhi);
    established_with_vips(&bird2, &rhi);
    wait_rhi_established(&rhi, "r1");
    wait_rhi_established(&rhi, "r2");
    let test_started = Instant::now();

    // New key on both sides: BIRD first (its session goes: BIRD restarts the protocol), then
    // rhi's key file and a reload. BIRD holds only the new key, so its next Established session
    // is signed with it.
    let started = Instant::now();
    bird_configure(&bird1, &BirdOptions { protocol_options: format!("password \"{WRONG_KEY}\";"), ..keyed.clone() });
    bird1.wait_not_established(secs(5));
    key_file(secrets.path(), "r1.md5", WRONG_KEY);
    let summary = reload(&rhi);
    assert!(summary.contains("peer r1 restarted"), "the reload restarts r1: {summary}");
    assert!(!summary.contains("r2"), "the reload leaves r2 alone: {summary}");
    bird1.wait_established(secs(10));
    wait_rhi_established(&rhi, "r1");
    println!("new key: re-established {:?} after BIRD's change", started.elapsed());
    bird1.wait_route(VIP4, secs(10));

    // No key on either side.
    let started = Instant::now();
    bird_configure(&bird1, &BirdOptions::new(&net));
    bird1.wait_not_established(secs(5));
    rhi.write_config(&config(""));
    let summary = reload(&rhi);
    assert!(summary.contains("peer r1 restarted") && !summary.contains("r2"), "{summary}");
    bird1.wait_established(secs(10));
    wait_rhi_established(&rhi, "r1");
    println!("key removed: re-established {:?} after BIRD's change", started.elapsed());
    bird1.wait_route(VIP4, secs(10));

    // The other session never flapped: same task (a restarted one would count from 0 again),
    // Established since before the first change.
    let r2 = wait_rhi_established(&rhi, "r2");
    assert_eq!(r2["flaps"], 0, "r2 flapped: {r2}");
    let up_for = r2["state_seconds"].as_u64().unwrap();
    assert!(up_for + 1 >= test_started.elapsed().as_secs(), "r2 re-established during the test: {r2}");
    assert_eq!(bird2.session_state(), "Established");
    let log = rhi.log();
    assert!(!log.contains("peer=r2 from=Established"), "r2 left Established:\n{log}");
    assert!(!log.contains(KEY) && !log.contains(WRONG_KEY), "a key in the log:\n{log}");
}

// ---- The secret never appears ----

#[test]
fn the_secret_appears_in_no_output() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = bird_with_key(&net, KEY);
    let metrics = SocketAddr::new(net.addr(9), 9179);
    let yaml = rhi_config(
        &net,
        net.router(),
        BGP_PORT,
        net.injector(),
        &password(KEY),
        &format!("metrics:\n  listen: \"{metrics}\""),
    );
    let rhi = RhiProcess::start_with_env(&yaml, &[("RUST_LOG", "debug")]);
    established_with_vips(&bird, &rhi);
    let mut outputs: Vec<(String, String)> = Vec::new();

    let check = rhi_command().arg("check-config").arg("-c").arg(rhi.config_path()).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let printed = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(printed.contains("password: (redacted)"), "check-config shows the key redacted:\n{printed}");
    outputs.push(("check-config".into(), format!("{printed}{}", String::from_utf8_lossy(&check.stderr))));

    // With a key file, check-config shows its path; with both keys set, the error quotes neither.
    let dir = WorkDir::new("md5-secret");
    let file = key_file(dir.path(), "r1.md5", KEY);
    for (name, auth) in [
        ("check-config (password_file)", format!("    password_file: {file}\n")),
        ("check-config (both set)", format!("    password_file: {file}\n{}", password(KEY))),
    ] {
        let path = dir.path().join("rhi.yaml");
        fs::write(&path, rhi_config(&net, net.router(), BGP_PORT, net.injector(), &auth, "")).unwrap();
        let out = rhi_command().arg("check-config").arg("-c").arg(&path).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        match name {
            "check-config (password_file)" => assert!(text.contains(&file), "{text}"),
            _ => assert!(!out.status.success() && text.contains("both set"), "{text}"),
        }
        outputs.push((name.into(), text));
    }

    for args in [&["status"][..], &["status", "--json"], &["routes"]] {
        let (code, out, err) = rhi.client(args);
        assert_eq!(code, 0, "rhi {args:?}: {err}");
        outputs.push((format!("rhi {}", args.join(" ")), format!("{out}{err}")));
    }
    let scrape = std::process::Command::new("curl").args(["-sf", &format!("http://{metrics}/metrics")]).output();
    let scrape = scrape.expect("curl");
    assert!(scrape.status.success(), "GET /metrics failed");
    let scraped = String::from_utf8_lossy(&scrape.stdout).into_owned();
    assert!(scraped.contains("rhi_peer_up"), "{scraped}");
    outputs.push(("/metrics".into(), scraped));

    // A reload with a changed key logs what changed; then SIGTERM logs the shutdown.
    rhi.write_config(&yaml.replace(KEY, WRONG_KEY));
    reload(&rhi);
    rhi.stop();
    outputs.push(("the daemon's log (debug)".into(), rhi.log()));

    for (what, text) in &outputs {
        assert!(!text.is_empty(), "{what} printed nothing");
        for secret in [KEY, WRONG_KEY] {
            assert!(!text.contains(secret), "{what} contains the secret:\n{text}");
        }
    }
}
