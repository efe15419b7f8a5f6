//! Operator commands against a real router: what BIRD 2 holds after `rhi announce`, `withdraw`,
//! `drain` (CLI, `--wait`, the drain file), `undrain`, a restart while drained, and a reload
//! (`rhi reload` and SIGHUP) that changes a VIP, adds a peer, or is invalid (DESIGN §2–§4).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ::rhi::status::{RouteInfo, Status};
use support::*;

const VIP: &str = "10.46.46.46/32";
const VIP2: &str = "10.46.46.47/32";
const MANUAL: &str = "10.99.0.1/32";
/// The drain attributes of [`Setup`]'s config.
const DRAIN_MED: u32 = 1000;
const DRAIN_PREPEND: usize = 3;

/// What varies between the tests' rhi configs.
struct Setup<'a> {
    net: &'a TestNet,
    /// `drain.withdraw_after`.
    withdraw_after: &'a str,
    /// The first VIP's MED.
    med: u32,
    /// A second VIP (MED 300) when set.
    second_vip: bool,
    /// Lines added under `peers:` (more peers).
    extra_peers: String,
    /// Top-level lines (checks:).
    top: String,
    /// Lines added inside the first VIP.
    vip_extra: &'a str,
}

impl<'a> Setup<'a> {
    fn new(net: &'a TestNet) -> Setup<'a> {
        Setup {
            net,
            withdraw_after: "2s",
            med: 300,
            second_vip: false,
            extra_peers: String::new(),
            top: String::new(),
            vip_extra: "",
        }
    }

    fn withdraw_after(self, withdraw_after: &'a str) -> Setup<'a> {
        Setup { withdraw_after, ..self }
    }

    fn med(self, med: u32) -> Setup<'a> {
        Setup { med, ..self }
    }

    /// A second peer `name` at `net.addr(host)`.
    fn with_peer(mut self, name: &str, host: u8) -> Setup<'a> {
        self.extra_peers += &peer_block(self.net, name, self.net.addr(host));
        self
    }

    fn yaml(&self) -> String {
        let net = self.net;
        let second = if self.second_vip { format!("  - prefix: {VIP2}\n    med: 300\n") } else { String::new() };
        format!(
            r#"router_id: {injector}
local_as: {INJECTOR_AS}
{top}
peers:
{r1}{extra_peers}
vips:
  - prefix: {VIP}
    med: {med}
    communities: ["65010:46"]
{vip_extra}{second}
drain:
  med: {DRAIN_MED}
  as_path_prepend: {DRAIN_PREPEND}
  graceful_shutdown: true
  withdraw_after: {withdraw_after}
  file: "@DIR@/maintenance"
control:
  socket: "@DIR@/rhi.sock"
state_file: "@DIR@/state.json"
"#,
            injector = net.injector(),
            top = self.top,
            r1 = peer_block(net, "r1", net.router()),
            extra_peers = self.extra_peers,
            med = self.med,
            vip_extra = self.vip_extra,
            withdraw_after = self.withdraw_after,
        )
    }
}

fn peer_block(net: &TestNet, name: &str, address: std::net::IpAddr) -> String {
    format!(
        "  - name: {name}\n    address: {address}\n    remote_as: {ROUTER_AS}\n    port: {BGP_PORT}\n    \
         local_address: {injector}\n    hold_time: 9s\n    connect_retry: 1s\n    next_hop: {NEXT_HOP_V4}\n",
        injector = net.injector()
    )
}

/// The first run's log, or what came after the last "=== harness: starting" line.
fn last_run_log(rhi: &RhiProcess) -> String {
    let log = strip_ansi(&rhi.log());
    match log.rfind("=== harness: starting") {
        Some(at) => log[at..].to_string(),
        None => log,
    }
}

/// rhi's text log is coloured even into a file; tests search it as plain text.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn cli(rhi: &RhiProcess, args: &[&str]) -> Run {
    let out = rhi_command().args(args).arg("--socket").arg(socket(rhi)).output().expect("run the rhi binary");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a client command that must succeed; returns its stdout.
fn cli_ok(rhi: &RhiProcess, args: &[&str]) -> String {
    let run = cli(rhi, args);
    assert_eq!(run.code, Some(0), "rhi {args:?}: {run:#?}");
    run.stdout
}

fn socket(rhi: &RhiProcess) -> PathBuf {
    rhi.dir().join("rhi.sock")
}

fn status(rhi: &RhiProcess) -> Status {
    let text = cli_ok(rhi, &["status", "--json"]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status --json: {e}\n{text}"))
}

fn route_info(status: &Status, prefix: &str, source: &str) -> RouteInfo {
    status
        .routes
        .iter()
        .find(|r| r.prefix.to_string() == prefix && r.source == source)
        .cloned()
        .unwrap_or_else(|| panic!("no {source} route {prefix} in status: {status:#?}"))
}

/// The VIP as configured: MED 300 (or `med`), only our AS, its own community, no GRACEFUL_SHUTDOWN.
fn is_normal(route: &Route, med: u32) -> bool {
    route.med == Some(med)
        && route.as_path == vec![INJECTOR_AS]
        && route.has_community("65010:46")
        && !route.has_community("graceful-shutdown")
}

/// The VIP drained: MED 1000, our AS plus 3 prepends (eBGP), GRACEFUL_SHUTDOWN added to its own.
fn is_drained(route: &Route) -> bool {
    route.med == Some(DRAIN_MED)
        && route.as_path == vec![INJECTOR_AS; 1 + DRAIN_PREPEND]
        && route.has_community("65535:0")
        && route.has_community("65010:46")
}

fn wait_normal(bird: &Bird, prefix: &str, med: u32, timeout: Duration) -> Route {
    let what = format!("MED {med}, AS path [{INJECTOR_AS}], community 65010:46 and no 65535:0");
    bird.wait_route_where(prefix, timeout, &what, |r| is_normal(r, med))
}

fn wait_drained(bird: &Bird, prefix: &str, timeout: Duration) -> Route {
    let what = format!("MED {DRAIN_MED}, {} x AS{INJECTOR_AS}, communities 65010:46 and 65535:0", 1 + DRAIN_PREPEND);
    bird.wait_route_where(prefix, timeout, &what, is_drained)
}

/// The "Since" column of BIRD's row for a protocol: when it last changed state (a session reset
/// changes it), to the millisecond.
fn since(bird: &Bird, protocol: &str) -> String {
    let out = bird.birdc(&["show", "protocols", protocol]).expect("birdc show protocols");
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(protocol))
        .unwrap_or_else(|| panic!("no row for {protocol}: {out}"));
    // Name Proto Table State Since Info
    row.split_whitespace().nth(4).unwrap_or_else(|| panic!("no Since in {row:?}")).to_string()
}

/// BIRD's count of UPDATEs (announcements) received on a protocol's IPv4 channel since the
/// session came up: "Import updates: received rejected filtered ignored accepted".
fn import_updates_received(bird: &Bird, protocol: &str) -> u64 {
    let out = bird.birdc(&["show", "protocols", "all", protocol]).expect("birdc show protocols all");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("Import updates:"))
        .unwrap_or_else(|| panic!("no import statistics for {protocol}: {out}"));
    let value = line.trim_start().trim_start_matches("Import updates:").split_whitespace().next().unwrap_or("");
    value.parse().unwrap_or_else(|_| panic!("cannot read {line:?}"))
}

/// Asserts that for `window` the condition holds at every poll: for "never X" properties, where
/// there is no event to wait for.
fn holds_throughout(window: Duration, what: &str, mut probe: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    while start.elapsed() < window {
        if let Err(observed) = probe() {
            panic!("after {:.1?}: expected {what} throughout {window:?}, but: {observed}", start.elapsed());
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn drain_file(rhi: &RhiProcess) -> PathBuf {
    rhi.dir().join("maintenance")
}

fn touch(path: &Path) {
    std::fs::write(path, "maintenance\n").expect("create the drain file");
}

// ---------------------------------------------------------------------------------------------
// Manual routes and ownership
// ---------------------------------------------------------------------------------------------

#[test]
fn manual_announce_reaches_bird_with_its_attributes_and_withdraw_removes_it() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).yaml());
    wait_normal(&bird, VIP, 300, secs(10));

    let said = cli_ok(&rhi, &["announce", MANUAL, "--med", "50", "--community", "65010:99"]);
    assert_eq!(said, format!("announced {MANUAL} to all peers\n"));
    let route = bird.wait_route(MANUAL, secs(5));
    assert_eq!(route.med, Some(50), "{route}");
    assert!(route.has_community("65010:99"), "{route}");
    assert_eq!(route.communities.len(), 1, "only what was given: {route}");
    assert_eq!(route.as_path, vec![INJECTOR_AS], "{route}");
    assert_eq!(route.next_hop, Some(NEXT_HOP_V4.parse().unwrap()), "the peer's next_hop: {route}");
    assert_eq!(route.origin, Some(Origin::Igp), "{route}");

    let manual = route_info(&status(&rhi), MANUAL, "manual");
    assert!(manual.announced, "{manual:#?}");
    assert_eq!(manual.med, Some(50));
    let text = cli_ok(&rhi, &["status"]);
    let row = text.lines().find(|l| l.starts_with(MANUAL)).unwrap_or_else(|| panic!("a row for {MANUAL}: {text}"));
    assert_eq!(row.split_whitespace().nth(1), Some("manual"), "the SOURCE column: {row}");

    // Announcing again replaces the attributes.
    cli_ok(&rhi, &["announce", MANUAL, "--med", "60", "--large-community", "65010:99:1", "--as-path-prepend", "1"]);
    let route = bird.wait_route_where(MANUAL, secs(5), "MED 60", |r| r.med == Some(60));
    assert_eq!(route.as_path, vec![INJECTOR_AS; 2], "{route}");
    assert_eq!(route.large_communities, vec![(65010, 99, 1)], "{route}");
    assert!(route.communities.is_empty(), "the old community is gone: {route}");

    assert_eq!(cli_ok(&rhi, &["withdraw", MANUAL]), format!("withdrew {MANUAL}\n"));
    bird.wait_no_route(MANUAL, secs(5));
    let status = status(&rhi);
    assert!(status.routes.iter().all(|r| r.prefix.to_string() != MANUAL), "{status:#?}");
    assert!(is_normal(&bird.route(VIP).expect("the VIP stays"), 300));
    rhi.assert_running();
}

#[test]
fn a_manual_route_to_one_peer_reaches_only_that_router() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird1 = Bird::start(BirdOptions::new(&net));
    let bird2 = Bird::start(BirdOptions { router_addr: net.addr(3), ..BirdOptions::new(&net) });
    let rhi = RhiProcess::start(&Setup::new(&net).with_peer("r2", 3).yaml());
    wait_normal(&bird1, VIP, 300, secs(10));
    wait_normal(&bird2, VIP, 300, secs(10));

    assert_eq!(
        cli_ok(&rhi, &["announce", MANUAL, "--med", "70", "--peer", "r2"]),
        format!("announced {MANUAL} to r2\n")
    );
    assert_eq!(bird2.wait_route(MANUAL, secs(5)).med, Some(70));
    // r1 must get nothing, which has no event to wait for: rhi's Adj-RIB-Out for r1 (answered by
    // r1's task after it has handled the announcement) and BIRD at r1 both lack the route.
    let routes = cli_ok(&rhi, &["routes", "--peer", "r1", "--json"]);
    let routes: Vec<::rhi::control::proto::AdvertisedRoute> = serde_json::from_str(&routes).unwrap();
    assert!(routes.iter().all(|r| r.prefix.to_string() != MANUAL), "{routes:#?}");
    assert!(bird1.route(MANUAL).is_none(), "{:?}", bird1.routes());

    // Withdrawn from r2, it is gone everywhere.
    cli_ok(&rhi, &["withdraw", MANUAL, "--peer", "r2"]);
    bird2.wait_no_route(MANUAL, secs(5));
    assert!(bird1.route(MANUAL).is_none());
    rhi.assert_running();
}

#[test]
fn a_manual_route_is_never_overridden_by_a_failing_health_check() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    // Nothing listens at .9:1, so the check fails from the start: the VIP is DOWN.
    let mut setup = Setup::new(&net);
    setup.top = format!(
        "checks:\n  dead:\n    tcp: {{address: \"{}:1\"}}\n    interval: 200ms\n    timeout: 200ms\n    \
         rise: 1\n    fall: 1\n",
        net.addr(9)
    );
    setup.vip_extra = "    check: dead\n";
    let rhi = RhiProcess::start(&setup.yaml());
    bird.wait_established(secs(10));
    wait_until_ok(secs(10), "the check to decide DOWN", || {
        let status = status(&rhi);
        match status.checks.first() {
            Some(check) if check.decided && check.state == "DOWN" => Ok(()),
            other => Err(format!("{other:#?}")),
        }
    });
    assert!(bird.route(VIP).is_none(), "the VIP is down: {:?}", bird.routes());

    cli_ok(&rhi, &["announce", VIP, "--med", "50"]);
    let route = bird.wait_route(VIP, secs(5));
    assert_eq!(route.med, Some(50), "{route}");
    let status = status(&rhi);
    let manual = route_info(&status, VIP, "manual");
    assert!(manual.announced && manual.med == Some(50), "{manual:#?}");
    let vip = route_info(&status, VIP, "config");
    assert_eq!(vip.health, "DOWN", "{vip:#?}");
    // Every probe keeps failing; the manual route stays as it is through several of them.
    let probes = status.checks[0].probes;
    wait_until(secs(5), "three more failed probes", || {
        (self::status(&rhi).checks[0].probes >= probes + 3).then_some(())
    });
    let route = bird.route(VIP).expect("the manual route stays");
    assert_eq!(route.med, Some(50), "{route}");

    // Withdrawing the manual route gives the prefix back to the (down) VIP: withdrawn.
    cli_ok(&rhi, &["withdraw", VIP]);
    bird.wait_no_route(VIP, secs(5));
    rhi.assert_running();
}

#[test]
fn manual_routes_survive_a_restart_through_the_state_file() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    cli_ok(&rhi, &["announce", MANUAL, "--med", "50", "--community", "65010:99"]);
    bird.wait_route(MANUAL, secs(5));
    assert_eq!(rhi.stop().code(), Some(0), "{}", rhi.log());
    bird.wait_no_route(MANUAL, secs(5));

    rhi.restart();
    let route = bird.wait_route(MANUAL, secs(10));
    assert_eq!(route.med, Some(50), "{route}");
    assert!(route.has_community("65010:99"), "{route}");
    assert_eq!(route_info(&status(&rhi), MANUAL, "manual").med, Some(50));
}

// ---------------------------------------------------------------------------------------------
// Drain
// ---------------------------------------------------------------------------------------------

#[test]
fn drain_makes_the_vip_unpreferred_then_withdraws_it_and_undrain_restores_it() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("2s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));

    let drained_at = Instant::now();
    let said = cli_ok(&rhi, &["drain"]);
    assert!(said.starts_with("draining 1 VIP(s); withdrawn in 2s"), "{said}");
    // BIRD holds the drained route during the 2 s before the withdrawal.
    let route = wait_drained(&bird, VIP, secs(2));
    assert_eq!(route.as_path, vec![INJECTOR_AS, INJECTOR_AS, INJECTOR_AS, INJECTOR_AS], "{route}");
    let status = status(&rhi);
    assert_eq!(status.drain.source.as_deref(), Some("cli"), "{:#?}", status.drain);
    assert!(status.drain.all);
    let vip = route_info(&status, VIP, "config");
    assert!(vip.drained && vip.announced, "{vip:#?}");
    assert_eq!(vip.med, Some(DRAIN_MED));

    bird.wait_no_route(VIP, secs(5));
    assert!(drained_at.elapsed() >= secs(2), "withdrawn only after withdraw_after: {:?}", drained_at.elapsed());
    let vip = route_info(&self::status(&rhi), VIP, "config");
    assert!(vip.drained && !vip.announced, "{vip:#?}");

    assert_eq!(cli_ok(&rhi, &["undrain"]), "undrained every VIP\n");
    let route = wait_normal(&bird, VIP, 300, secs(5));
    assert_eq!(route.communities, vec![community("65010:46")], "{route}");
    let status = self::status(&rhi);
    assert_eq!(status.drain.source, None);
    let vip = route_info(&status, VIP, "config");
    assert!(!vip.drained && vip.announced && vip.med == Some(300), "{vip:#?}");
    rhi.assert_running();
}

#[test]
fn undrain_before_the_withdrawal_restores_at_once() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("1h").yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    cli_ok(&rhi, &["drain"]);
    wait_drained(&bird, VIP, secs(5));
    let pending = status(&rhi).drain.withdraw_in_seconds.expect("withdrawal pending");
    assert!(pending > 3000.0, "{pending}");
    cli_ok(&rhi, &["undrain"]);
    wait_normal(&bird, VIP, 300, secs(5));
    assert_eq!(status(&rhi).drain.withdraw_in_seconds, None, "nothing pending any more");
}

#[test]
fn draining_one_vip_leaves_the_others_alone() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup { second_vip: true, ..Setup::new(&net).withdraw_after("0s") }.yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    bird.wait_route_where(VIP2, secs(5), "MED 300", |r| r.med == Some(300));

    assert!(cli_ok(&rhi, &["drain", VIP2]).starts_with("drained 1 VIP(s); they stay announced until undrain"));
    let route = bird.wait_route_where(VIP2, secs(5), "MED 1000 and 65535:0", |r| {
        r.med == Some(DRAIN_MED) && r.has_community("graceful-shutdown")
    });
    assert_eq!(route.as_path, vec![INJECTOR_AS; 1 + DRAIN_PREPEND], "{route}");
    assert!(is_normal(&bird.route(VIP).unwrap(), 300), "{:?}", bird.routes());
    let status = status(&rhi);
    assert!(!status.drain.all, "{:#?}", status.drain);
    assert!(route_info(&status, VIP2, "config").drained);
    assert!(!route_info(&status, VIP, "config").drained);

    cli_ok(&rhi, &["undrain", VIP2]);
    bird.wait_route_where(VIP2, secs(5), "MED 300 without 65535:0", |r| {
        r.med == Some(300) && !r.has_community("graceful-shutdown")
    });
}

#[test]
fn drain_wait_returns_only_once_the_vip_is_withdrawn() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    // The config says 30s; --withdraw-after overrides it.
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("30s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));

    let started = Instant::now();
    let run = cli(&rhi, &["drain", "--wait", "--withdraw-after", "1s"]);
    let took = started.elapsed();
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stdout, "drain complete for 1 VIP(s)\n");
    assert!(took >= secs(1), "returned after {took:?}, before withdraw-after");
    assert!(took < secs(10), "the 1s override, not the config's 30s: {took:?}");
    // rhi has handed the withdrawal to the session; BIRD needs only its own processing time.
    bird.wait_no_route(VIP, Duration::from_millis(500));
    let vip = route_info(&status(&rhi), VIP, "config");
    assert!(vip.drained && !vip.announced, "{vip:#?}");
}

#[test]
fn the_drain_file_drains_while_it_exists() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("0s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));

    touch(&drain_file(&rhi));
    // Polled every second.
    wait_drained(&bird, VIP, secs(5));
    let status = status(&rhi);
    assert_eq!(status.drain.source.as_deref(), Some("file"), "{:#?}", status.drain);
    assert!(route_info(&status, VIP, "config").drained);

    std::fs::remove_file(drain_file(&rhi)).unwrap();
    wait_normal(&bird, VIP, 300, secs(5));
    assert_eq!(self::status(&rhi).drain.source, None);
    rhi.assert_running();
}

#[test]
fn the_drain_file_withdraws_after_withdraw_after() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("2s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    touch(&drain_file(&rhi));
    wait_drained(&bird, VIP, secs(3));
    bird.wait_no_route(VIP, secs(6));
    std::fs::remove_file(drain_file(&rhi)).unwrap();
    wait_normal(&bird, VIP, 300, secs(5));
}

#[test]
fn a_restarted_rhi_comes_back_drained() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    // withdraw_after 0s: stay announced, drained, until undrain.
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("0s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    cli_ok(&rhi, &["drain"]);
    wait_drained(&bird, VIP, secs(5));
    let state = std::fs::read_to_string(rhi.dir().join("state.json")).expect("the state file is written");
    assert!(state.contains("\"source\": \"cli\""), "{state}");

    assert_eq!(rhi.stop().code(), Some(0), "{}", rhi.log());
    bird.wait_no_route(VIP, secs(5));
    bird.wait_not_established(secs(5));

    rhi.restart();
    // The first route BIRD gets after the restart is already the drained one.
    let first = bird.wait_route(VIP, secs(10));
    assert!(is_drained(&first), "the first route after the restart: {first}");
    assert_eq!(import_updates_received(&bird, bird::PROTOCOL), 1, "one UPDATE since the session came up");
    let status = status(&rhi);
    assert_eq!(status.drain.source.as_deref(), Some("cli"), "{:#?}", status.drain);
    assert!(route_info(&status, VIP, "config").drained);
    // rhi never wanted anything else for the VIP in this run.
    let log = last_run_log(&rhi);
    let announces: Vec<&str> = log.lines().filter(|l| l.contains(" announce ") && l.contains(VIP)).collect();
    assert!(!announces.is_empty(), "{log}");
    for line in &announces {
        assert!(line.contains("drained=true") && line.contains(&format!("med=Some({DRAIN_MED})")), "{line}");
    }

    // And undrain still works after the restart.
    cli_ok(&rhi, &["undrain"]);
    wait_normal(&bird, VIP, 300, secs(5));
}

/// DESIGN §2: "while this file exists the node is drained". A drain started by the file is in
/// the state file; if the file is removed while rhi is stopped, the restarted rhi must not keep
/// the node drained.
#[test]
fn a_drain_file_removed_while_rhi_was_stopped_does_not_keep_the_node_drained() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("0s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    touch(&drain_file(&rhi));
    wait_drained(&bird, VIP, secs(5));
    assert_eq!(rhi.stop().code(), Some(0), "{}", rhi.log());
    bird.wait_no_route(VIP, secs(5));

    std::fs::remove_file(drain_file(&rhi)).unwrap();
    rhi.restart();
    wait_normal(&bird, VIP, 300, secs(5));
    assert_eq!(status(&rhi).drain.source, None);
}

/// A node whose drain file has already withdrawn its VIPs is restarted (an upgrade during the
/// maintenance): the file is still there and the state file says the VIPs were withdrawn, so
/// they must stay withdrawn, not be announced again for another `withdraw_after`.
#[test]
fn a_restart_during_a_drain_file_maintenance_keeps_the_vips_withdrawn() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).withdraw_after("2s").yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    touch(&drain_file(&rhi));
    wait_drained(&bird, VIP, secs(3));
    bird.wait_no_route(VIP, secs(6));
    assert_eq!(rhi.stop().code(), Some(0), "{}", rhi.log());

    rhi.restart();
    bird.wait_established(secs(10));
    // Longer than withdraw_after plus a drain-file poll: a re-announcement would show here.
    holds_throughout(secs(4), "the VIP to stay withdrawn", || {
        if let Some(route) = bird.route(VIP) {
            return Err(format!("BIRD holds {route}"));
        }
        let vip = route_info(&status(&rhi), VIP, "config");
        if vip.announced {
            return Err(format!("rhi announces it: {vip:?}"));
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Reload
// ---------------------------------------------------------------------------------------------

#[test]
fn reload_and_sighup_change_the_med_without_resetting_the_session() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    bird.wait_established(secs(5));
    let up_since = since(&bird, bird::PROTOCOL);
    let before = wait_until_ok(secs(5), "rhi status to show r1 Established", || {
        let peer = status(&rhi).peers[0].clone();
        if peer.state == "Established" {
            Ok(peer)
        } else {
            Err(format!("{peer:?}"))
        }
    });

    rhi.write_config(&Setup::new(&net).med(310).yaml());
    let said = cli_ok(&rhi, &["reload"]);
    assert!(said.contains(&format!("vip {VIP} changed")), "{said}");
    assert!(!said.contains("peer r1"), "the peer did not change: {said}");
    wait_normal(&bird, VIP, 310, secs(5));
    assert_eq!(since(&bird, bird::PROTOCOL), up_since, "BIRD's session was not reset");

    rhi.write_config(&Setup::new(&net).med(320).yaml());
    rhi.sighup();
    wait_normal(&bird, VIP, 320, secs(5));
    rhi.wait_log("configuration reloaded", secs(5));
    assert_eq!(since(&bird, bird::PROTOCOL), up_since, "BIRD's session was not reset by SIGHUP");
    assert_eq!(bird.session_state(), "Established");

    let status = status(&rhi);
    let after = &status.peers[0];
    assert_eq!((after.state.as_str(), after.flaps), ("Established", 0), "{after:#?}");
    assert!(after.state_seconds >= before.state_seconds, "the session's age kept growing: {before:#?} {after:#?}");
    assert_eq!(route_info(&status, VIP, "config").med, Some(320));
    // A reload with nothing changed says so and sends nothing.
    let updates = import_updates_received(&bird, bird::PROTOCOL);
    assert!(cli_ok(&rhi, &["reload"]).contains("no changes"));
    assert_eq!(import_updates_received(&bird, bird::PROTOCOL), updates);
    rhi.assert_running();
}

#[test]
fn reload_adds_a_peer_that_connects_and_gets_the_vip_then_removes_it() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird1 = Bird::start(BirdOptions::new(&net));
    let bird2 = Bird::start(BirdOptions { router_addr: net.addr(3), ..BirdOptions::new(&net) });
    let rhi = RhiProcess::start(&Setup::new(&net).yaml());
    wait_normal(&bird1, VIP, 300, secs(10));
    let up_since = since(&bird1, bird::PROTOCOL);
    assert_ne!(bird2.session_state(), "Established", "r2 is not configured yet");

    rhi.write_config(&Setup::new(&net).with_peer("r2", 3).yaml());
    let said = cli_ok(&rhi, &["reload"]);
    assert!(said.contains("peer r2 added"), "{said}");
    bird2.wait_established(secs(10));
    wait_normal(&bird2, VIP, 300, secs(5));
    assert_eq!(since(&bird1, bird::PROTOCOL), up_since, "r1's session was not reset");
    let status = status(&rhi);
    let names: Vec<&str> = status.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["r1", "r2"]);

    // And removed again: r2 loses the VIP, r1 keeps it and its session.
    rhi.write_config(&Setup::new(&net).yaml());
    let said = cli_ok(&rhi, &["reload"]);
    assert!(said.contains("peer r2 restarted or removed"), "{said}");
    bird2.wait_no_route(VIP, secs(5));
    bird2.wait_not_established(secs(5));
    assert!(is_normal(&bird1.route(VIP).unwrap(), 300));
    assert_eq!(since(&bird1, bird::PROTOCOL), up_since);
    assert_eq!(self::status(&rhi).peers.len(), 1);
}

#[test]
fn an_invalid_config_is_not_reloaded_and_the_running_one_stays() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    let up_since = since(&bird, bird::PROTOCOL);

    // A different MED too, which must not be applied either.
    let invalid = Setup::new(&net).med(999).yaml().replacen("    hold_time: 9s\n", "    hold_time: 2s\n", 1);
    rhi.write_config(&invalid);
    let expanded = std::fs::read_to_string(rhi.config_path()).unwrap();
    let line = expanded.lines().position(|l| l == "    hold_time: 2s").expect("the bad line") + 1;
    let run = cli(&rhi, &["reload"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    let expected = format!(
        "rhi: not reloaded, the running configuration stays: {}:{line}:16: peers[0].hold_time: 2s is not allowed",
        rhi.config_path().display()
    );
    assert!(run.stderr.starts_with(&expected), "expected {expected:?}\n in {run:#?}");

    // The old configuration keeps running, unchanged.
    let status = status(&rhi);
    assert_eq!(route_info(&status, VIP, "config").med, Some(300), "{status:#?}");
    assert!(is_normal(&bird.route(VIP).expect("the VIP stays"), 300), "{:?}", bird.routes());

    // SIGHUP with the same file: logged, nothing else.
    rhi.sighup();
    rhi.wait_log("configuration not reloaded", secs(5));
    rhi.assert_running();
    assert_eq!(route_info(&self::status(&rhi), VIP, "config").med, Some(300));
    assert!(is_normal(&bird.route(VIP).expect("the VIP stays"), 300));
    assert_eq!(since(&bird, bird::PROTOCOL), up_since, "the session was not touched");

    // Fixed, it reloads.
    rhi.write_config(&Setup::new(&net).med(310).yaml());
    cli_ok(&rhi, &["reload"]);
    wait_normal(&bird, VIP, 310, secs(5));
    assert_eq!(since(&bird, bird::PROTOCOL), up_since);
}

#[test]
fn on_shutdown_drains_first_then_withdraws_and_exits_zero() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let yaml = Setup::new(&net).yaml().replace("  file: \"@DIR@/maintenance\"\n", "  on_shutdown: 1s\n");
    let rhi = RhiProcess::start(&yaml);
    wait_normal(&bird, VIP, 300, secs(10));
    let signalled = Instant::now();
    rhi.sigterm();
    // Traffic moves away while the route is still there, unpreferred...
    wait_drained(&bird, VIP, secs(2));
    // ...then it goes, after on_shutdown and before rhi exits.
    bird.wait_no_route(VIP, secs(4));
    assert!(signalled.elapsed() >= Duration::from_secs(1), "withdrawn before drain.on_shutdown passed");
    assert_eq!(rhi.wait_exit(secs(5)).code(), Some(0), "{}", rhi.log());
}

#[test]
fn routes_name_the_source_of_each_advertised_route() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&Setup::new(&net).yaml());
    wait_normal(&bird, VIP, 300, secs(10));
    cli_ok(&rhi, &["announce", MANUAL, "--med", "50"]);
    bird.wait_route(MANUAL, secs(5));
    let text = cli_ok(&rhi, &["routes", "--json"]);
    let routes: Vec<::rhi::control::proto::AdvertisedRoute> = serde_json::from_str(&text).unwrap();
    let source = |prefix: &str| routes.iter().find(|r| r.prefix.to_string() == prefix).map(|r| r.source.clone());
    assert_eq!(source(VIP).as_deref(), Some("config"), "{text}");
    assert_eq!(source(MANUAL).as_deref(), Some("manual"), "{text}");
    let table = cli_ok(&rhi, &["routes"]);
    assert!(table.lines().next().unwrap_or("").contains("SOURCE"), "{table}");
}
