//! The `rhi` client commands against a running daemon (DESIGN §4): every subcommand, its exit
//! codes (0 done, 1 refused or daemon not running, 2 usage error), `--json` output that parses into
//! the library's own types, and the control socket itself (mode 0600, one owner, stale file
//! replaced).
//!
//! Most tests need no router: rhi's only peer is an address nobody listens on, so its session
//! never comes up and the daemon simply keeps retrying. The Adj-RIB-Out test uses BIRD.

mod support;

use std::net::IpAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ::rhi::control::proto::AdvertisedRoute;
use ::rhi::status::Status;
use support::*;

const VIP: &str = "10.46.46.46/32";
const MANUAL: &str = "10.99.0.1/32";

/// One peer (`r1`, the router address of `net`), one VIP without a check, drain settings and a
/// state file. `socket` is where the control socket goes.
fn config_with_socket(net: &TestNet, socket: &str) -> String {
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
vips:
  - prefix: {VIP}
    med: 300
    communities: ["65010:46"]
drain:
  med: 1000
  as_path_prepend: 3
  graceful_shutdown: true
  withdraw_after: 0s
control:
  socket: "{socket}"
state_file: "@DIR@/state.json"
"#,
        injector = net.injector(),
        router = net.router(),
    )
}

fn config(net: &TestNet) -> String {
    config_with_socket(net, "@DIR@/rhi.sock")
}

fn socket_of(rhi: &RhiProcess) -> PathBuf {
    rhi.dir().join("rhi.sock")
}

/// What one CLI invocation did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_ok(self) -> Run {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        assert!(self.stderr.is_empty(), "nothing on stderr on success: {self:#?}");
        self
    }

    /// Exit `code` with a reason on stderr containing `fragment`.
    fn assert_fails(self, code: i32, fragment: &str) -> Run {
        assert_eq!(self.code, Some(code), "expected exit {code}: {self:#?}");
        assert!(self.stderr.contains(fragment), "stderr should say {fragment:?}: {self:#?}");
        assert!(self.stdout.is_empty(), "nothing on stdout on failure: {self:#?}");
        self
    }

    /// The first line of stderr: the one-line reason.
    fn reason(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }
}

/// `rhi ARGS... --socket SOCKET`.
fn cli(socket: &Path, args: &[&str]) -> Run {
    let mut cmd = rhi_command();
    cmd.args(args).arg("--socket").arg(socket);
    run(cmd)
}

fn run(mut cmd: std::process::Command) -> Run {
    let out = cmd.output().expect("run the rhi binary");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits until `rhi status` answers on `socket`.
fn wait_ready(socket: &Path) {
    wait_until_ok(secs(10), "rhi to answer on its control socket", || {
        let run = cli(socket, &["status"]);
        if run.code == Some(0) {
            Ok(())
        } else {
            Err(run)
        }
    });
}

fn status(socket: &Path) -> Status {
    let run = cli(socket, &["status", "--json"]).assert_ok();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("status --json does not parse: {e}\n{}", run.stdout))
}

fn routes(socket: &Path, extra: &[&str]) -> Vec<AdvertisedRoute> {
    let mut args = vec!["routes", "--json"];
    args.extend_from_slice(extra);
    let run = cli(socket, &args).assert_ok();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("routes --json does not parse: {e}\n{}", run.stdout))
}

fn route_info<'a>(status: &'a Status, prefix: &str) -> Option<&'a ::rhi::status::RouteInfo> {
    status.routes.iter().find(|r| r.prefix.to_string() == prefix)
}

#[test]
fn every_client_subcommand_runs_and_exits_zero() {
    let net = TestNet::allocate();
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    wait_ready(&socket);

    let text = cli(&socket, &["status"]).assert_ok().stdout;
    assert!(text.contains(&format!("rhi {} AS{INJECTOR_AS}", net.injector())), "{text}");
    assert!(text.contains("not drained"), "{text}");
    assert!(text.contains(VIP) && text.contains("r1"), "{text}");
    cli(&socket, &["status", "--json"]).assert_ok();
    // The peer never came up: nothing advertised, which is still a successful answer.
    let text = cli(&socket, &["routes"]).assert_ok().stdout;
    assert_eq!(text, "nothing advertised\n");
    cli(&socket, &["routes", "--json"]).assert_ok();
    cli(&socket, &["routes", "--peer", "r1"]).assert_ok();

    let text = cli(&socket, &["announce", MANUAL, "--med", "50", "--community", "65010:99"]).assert_ok().stdout;
    assert_eq!(text, format!("announced {MANUAL} to all peers\n"));
    let text = cli(&socket, &["announce", "10.99.0.2/32", "--peer", "r1"]).assert_ok().stdout;
    assert_eq!(text, "announced 10.99.0.2/32 to r1\n");
    // A bare address is the host route.
    let text = cli(&socket, &["withdraw", "10.99.0.1"]).assert_ok().stdout;
    assert_eq!(text, format!("withdrew {MANUAL}\n"));
    cli(&socket, &["withdraw", "10.99.0.2/32"]).assert_ok();

    let text = cli(&socket, &["drain"]).assert_ok().stdout;
    assert!(text.starts_with("drained 1 VIP(s)"), "{text}");
    let text = cli(&socket, &["undrain"]).assert_ok().stdout;
    assert_eq!(text, "undrained every VIP\n");
    let text = cli(&socket, &["drain", VIP, "--withdraw-after", "1m"]).assert_ok().stdout;
    assert!(text.starts_with("draining 1 VIP(s); withdrawn in"), "{text}");
    let text = cli(&socket, &["undrain", VIP]).assert_ok().stdout;
    assert_eq!(text, "undrained 1 VIP(s)\n");
    let text = cli(&socket, &["undrain"]).assert_ok().stdout;
    assert_eq!(text, "nothing is drained\n");
    // --wait with a drain that stays announced is complete at once.
    let text = cli(&socket, &["drain", "--wait"]).assert_ok().stdout;
    assert!(text.starts_with("drain complete for 1 VIP(s)"), "{text}");
    cli(&socket, &["undrain"]).assert_ok();

    let text = cli(&socket, &["reload"]).assert_ok().stdout;
    assert!(text.starts_with(&format!("reloaded {}: no changes", rhi.config_path().display())), "{text}");

    // Without --socket the CLI finds the socket through the config file.
    let mut by_config = rhi_command();
    by_config.args(["status", "--json", "-c"]).arg(rhi.config_path());
    let run = run(by_config).assert_ok();
    let parsed: Status = serde_json::from_str(&run.stdout).expect("status --json via -c");
    assert_eq!(parsed.local_as, INJECTOR_AS);
    rhi.assert_running();
}

#[test]
fn status_json_parses_and_holds_what_was_announced() {
    let net = TestNet::allocate();
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    wait_ready(&socket);

    let before = status(&socket);
    assert_eq!(before.router_id, net.injector().to_string());
    assert_eq!(before.local_as, INJECTOR_AS);
    assert_eq!(before.peers.len(), 1, "{before:#?}");
    let peer = &before.peers[0];
    assert_eq!((peer.name.as_str(), peer.address, peer.remote_as), ("r1", net.router(), ROUTER_AS));
    assert_ne!(peer.state, "Established", "nobody listens at the peer address: {peer:#?}");
    assert_eq!(peer.prefixes_advertised, 0);
    assert_eq!(before.routes.len(), 1, "only the VIP: {before:#?}");
    let vip = route_info(&before, VIP).expect("the VIP is in status");
    assert_eq!((vip.source.as_str(), vip.health.as_str()), ("config", "UP"));
    assert!(vip.announced && !vip.drained, "{vip:#?}");
    assert_eq!(vip.med, Some(300));
    assert_eq!(vip.communities, vec!["65010:46".to_string()]);
    assert_eq!(before.drain.source, None);

    cli(
        &socket,
        &[
            "announce",
            MANUAL,
            "--med",
            "50",
            "--as-path-prepend",
            "2",
            "--community",
            "65010:99",
            "--community",
            "no-export",
            "--large-community",
            "65010:99:1",
            "--peer",
            "r1",
        ],
    )
    .assert_ok();
    let after = status(&socket);
    assert_eq!(after.routes.len(), 2, "{after:#?}");
    let manual = route_info(&after, MANUAL).expect("the manual route is in status");
    assert_eq!(manual.source, "manual");
    assert_eq!(manual.health, "UP");
    assert!(manual.announced && !manual.drained, "{manual:#?}");
    assert_eq!(manual.med, Some(50));
    assert_eq!(manual.as_path_prepend, 2);
    assert!(manual.communities.contains(&"65010:99".to_string()), "{manual:#?}");
    assert_eq!(manual.communities.len(), 2, "65010:99 and no-export: {manual:#?}");
    assert_eq!(manual.large_communities, vec!["65010:99:1".to_string()]);
    assert_eq!(manual.peers, vec!["r1".to_string()]);

    cli(&socket, &["drain", "--withdraw-after", "1h"]).assert_ok();
    let drained = status(&socket);
    assert!(drained.drain.all, "{:#?}", drained.drain);
    assert_eq!(drained.drain.source.as_deref(), Some("cli"));
    let pending = drained.drain.withdraw_in_seconds.expect("a withdrawal is pending");
    assert!(pending > 3000.0 && pending <= 3600.0, "{pending}");
    let vip = route_info(&drained, VIP).unwrap();
    assert!(vip.drained && vip.announced, "{vip:#?}");
    assert_eq!((vip.med, vip.as_path_prepend), (Some(1000), 3));
    assert!(vip.communities.contains(&"65010:46".to_string()), "the VIP's own community stays: {vip:#?}");
    assert_eq!(vip.communities.len(), 2, "plus GRACEFUL_SHUTDOWN: {vip:#?}");
    let manual = route_info(&drained, MANUAL).unwrap();
    assert!(!manual.drained && manual.med == Some(50), "drain is for VIPs, not manual routes: {manual:#?}");
}

#[test]
fn routes_json_lists_what_each_peer_was_sent() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    bird.wait_route(VIP, secs(10));
    cli(&socket, &["announce", MANUAL, "--med", "50", "--community", "65010:99", "--large-community", "65010:99:1"])
        .assert_ok();
    bird.wait_route(MANUAL, secs(5));

    let sent = routes(&socket, &[]);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let vip = sent.iter().find(|r| r.prefix.to_string() == VIP).expect("the VIP was advertised");
    assert_eq!(vip.peer, "r1");
    assert_eq!(vip.med, Some(300));
    assert_eq!(vip.as_path_prepend, 0);
    assert_eq!(vip.communities, vec!["65010:46".to_string()]);
    let manual = sent.iter().find(|r| r.prefix.to_string() == MANUAL).expect("the manual route was advertised");
    assert_eq!(manual.peer, "r1");
    assert_eq!(manual.med, Some(50));
    assert_eq!(manual.communities, vec!["65010:99".to_string()]);
    assert_eq!(manual.large_communities, vec!["65010:99:1".to_string()]);
    assert_eq!(routes(&socket, &["--peer", "r1"]), sent);

    let text = cli(&socket, &["routes"]).assert_ok().stdout;
    assert!(text.starts_with("PEER"), "a table: {text}");
    assert!(text.contains(VIP) && text.contains(MANUAL), "{text}");

    assert_eq!(status(&socket).peers[0].prefixes_advertised, 2);

    cli(&socket, &["withdraw", MANUAL]).assert_ok();
    bird.wait_no_route(MANUAL, secs(5));
    let sent = routes(&socket, &[]);
    assert_eq!(sent.iter().map(|r| r.prefix.to_string()).collect::<Vec<_>>(), vec![VIP.to_string()]);
}

/// `rhi status` says which state each session is in (DESIGN §4: "peers (state, uptime, ...)"):
/// once BIRD holds the VIP the session is Established, and `state_seconds` counts from then.
#[test]
fn status_shows_an_established_session_as_established() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    bird.wait_route(VIP, secs(10));
    bird.wait_established(secs(5));
    let peer = wait_until_ok(secs(5), "rhi status to show r1 Established", || {
        let status = status(&socket);
        match status.peers.first() {
            Some(peer) if peer.state == "Established" => Ok(peer.clone()),
            other => Err(format!("{other:#?}")),
        }
    });
    assert_eq!(peer.prefixes_advertised, 1, "{peer:#?}");
    assert_eq!(peer.flaps, 0, "{peer:#?}");
    assert_eq!(peer.last_error, None, "{peer:#?}");
    let text = cli(&socket, &["status"]).assert_ok().stdout;
    let row = text.lines().find(|l| l.starts_with("r1 ")).unwrap_or_else(|| panic!("a row for r1: {text}"));
    assert!(row.contains("Established"), "{row}");
}

/// `rhi routes` is the Adj-RIB-Out: what each router was really sent. The peer's `next_hop`
/// (here 192.0.2.6, or the session's local address with `next_hop: self`) is part of that, so
/// "-" / `null` when no per-route next hop was given hides what the router holds.
#[test]
fn routes_json_shows_the_next_hop_each_peer_was_sent() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    let held = bird.wait_route(VIP, secs(10));
    let sent_next_hop: IpAddr = NEXT_HOP_V4.parse().unwrap();
    assert_eq!(held.next_hop, Some(sent_next_hop), "{held:?}");
    cli(&socket, &["announce", MANUAL, "--next-hop", "192.0.2.99"]).assert_ok();
    bird.wait_route(MANUAL, secs(5));

    let sent = routes(&socket, &[]);
    let manual = sent.iter().find(|r| r.prefix.to_string() == MANUAL).expect("the manual route was advertised");
    assert_eq!(manual.next_hop, Some("192.0.2.99".parse().unwrap()), "{manual:#?}");
    let vip = sent.iter().find(|r| r.prefix.to_string() == VIP).expect("the VIP was advertised");
    assert_eq!(vip.next_hop, Some(sent_next_hop), "BIRD holds {held}, rhi routes says {vip:#?}");
}

#[test]
fn bad_arguments_are_usage_errors_with_exit_2() {
    let net = TestNet::allocate();
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    wait_ready(&socket);

    let cases: &[(&[&str], &str)] = &[
        (&["announce", "10.0.0.300/32"], "\"10.0.0.300/32\" is not a prefix"),
        (&["announce", MANUAL, "--community", "65000:70000"], "community \"65000:70000\""),
        (&["announce", MANUAL, "--large-community", "1:2"], "large community \"1:2\""),
        (&["announce", MANUAL, "--as-path-prepend", "33"], "as-path-prepend 33 is more than 32"),
        (&["announce", MANUAL, "--med", "4294967296"], "--med"),
        (&["announce", MANUAL, "--next-hop", "192.0.2"], "--next-hop"),
        (&["announce"], "required arguments were not provided"),
        (&["withdraw", "not-a-prefix"], "\"not-a-prefix\" is not a prefix"),
        (&["drain", "--withdraw-after", "soon"], "soon"),
        (&["drain", "10.46.46/32"], "\"10.46.46/32\" is not a prefix"),
        (&["undrain", "10.46.46.46/33"], "is not a prefix"),
        (&["status", "--bogus"], "--bogus"),
        (&["announce", MANUAL, "--colour", "red"], "--colour"),
        (&["routes", "--peer"], "--peer"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, fragment) in cases {
        let run = cli(&socket, args);
        assert_eq!(run.code, Some(2), "rhi {args:?} is a usage error: {run:#?}");
        assert!(run.stdout.is_empty(), "rhi {args:?}: {run:#?}");
        let reason = run.reason();
        assert!(reason.contains(fragment), "rhi {args:?}: the first line should name {fragment:?}: {run:#?}");
        assert!(reason.starts_with("error:") || reason.starts_with("rhi announce:"), "rhi {args:?}: {run:#?}");
    }
    let run = cli(&socket, &["drain", "--withdraw-after", "soon"]);
    assert!(run.reason().contains("like 30s"), "the duration error shows the expected form: {run:#?}");

    // Nothing reached the daemon: no manual route, no drain.
    let status = status(&socket);
    assert_eq!(status.routes.len(), 1, "{status:#?}");
    assert_eq!(status.drain.source, None);
    rhi.assert_running();
}

#[test]
fn refused_commands_exit_1_with_the_reason() {
    let net = TestNet::allocate();
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    wait_ready(&socket);

    let cases: &[(&[&str], &str)] = &[
        (&["withdraw", "10.1.1.1/32"], "rhi: no manual route for 10.1.1.1/32"),
        (&["withdraw", VIP], "is a VIP from the config, not a manual route: use `rhi drain"),
        (&["drain", "10.9.9.9/32"], "rhi: 10.9.9.9/32 is not a VIP of this node"),
        (&["undrain", "10.9.9.9/32"], "rhi: 10.9.9.9/32 is not a VIP of this node"),
        (&["announce", MANUAL, "--peer", "nope"], "rhi: no such peer: nope"),
        (&["announce", MANUAL, "--peer", "r1", "--peer", "nope2"], "rhi: no such peer: nope2"),
        (&["announce", "10.99.0.1/24"], "has host bits set; did you mean 10.99.0.0/24?"),
        (&["routes", "--peer", "nope"], "rhi: no such peer: nope"),
    ];
    for (args, fragment) in cases {
        let run = cli(&socket, args).assert_fails(1, fragment);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    }
    // A refused announce to one unknown peer announced nothing anywhere.
    let status = status(&socket);
    assert!(route_info(&status, MANUAL).is_none(), "{status:#?}");

    // A withdraw from a peer the route was never meant for, of a route sent to every peer.
    cli(&socket, &["announce", MANUAL]).assert_ok();
    cli(&socket, &["withdraw", MANUAL, "--peer", "r1"]).assert_fails(1, "is announced to every peer");
    rhi.assert_running();
}

#[test]
fn a_daemon_that_is_not_running_is_reported_with_exit_1() {
    let missing = Path::new("/nonexistent-rhi-test-dir/rhi.sock");
    let commands: &[&[&str]] = &[
        &["status"],
        &["status", "--json"],
        &["routes"],
        &["announce", MANUAL],
        &["withdraw", MANUAL],
        &["drain"],
        &["drain", "--wait"],
        &["undrain"],
        &["reload"],
    ];
    for args in commands {
        let run = cli(missing, args).assert_fails(1, "");
        assert!(run.reason().starts_with("rhi: rhi is not running"), "rhi {args:?}: {run:#?}");
        assert!(run.reason().contains("/nonexistent-rhi-test-dir/rhi.sock"), "names the socket: {run:#?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    }
}

#[test]
fn the_control_socket_is_a_socket_with_mode_0600() {
    let net = TestNet::allocate();
    // In a directory that does not exist yet: rhi creates it.
    let rhi = RhiProcess::start(&config_with_socket(&net, "@DIR@/run/rhi/rhi.sock"));
    let socket = rhi.dir().join("run/rhi/rhi.sock");
    wait_ready(&socket);
    let meta = std::fs::metadata(&socket).expect("socket file");
    assert!(meta.file_type().is_socket(), "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "mode {:o}", meta.permissions().mode());
    // SIGTERM removes it.
    assert_eq!(rhi.stop().code(), Some(0), "{}", rhi.log());
    assert!(!socket.exists(), "the socket file is removed at exit");
}

#[test]
fn a_second_rhi_on_the_same_socket_refuses_to_start() {
    let net = TestNet::allocate();
    let first = RhiProcess::start(&config(&net));
    let socket = socket_of(&first);
    wait_ready(&socket);
    cli(&socket, &["announce", MANUAL]).assert_ok();

    let second = RhiProcess::start(&config_with_socket(&net, &socket.display().to_string()));
    let started = Instant::now();
    let exit = second.wait_exit(secs(10));
    assert_eq!(exit.code(), Some(1), "{}", second.log());
    let log = second.log();
    let line = log.lines().find(|l| l.contains("another rhi is running and owns it")).unwrap_or_else(|| {
        panic!("the second rhi should say why it refused: {log}");
    });
    assert!(line.contains(&socket.display().to_string()), "names the socket: {line}");
    assert!(started.elapsed() < secs(5), "refuses at once");

    // The first keeps running, keeps its socket and its state.
    first.assert_running();
    assert!(socket.exists());
    let status = status(&socket);
    assert!(route_info(&status, MANUAL).is_some(), "answered by the first rhi: {status:#?}");
    assert!(status.uptime_seconds < 60);
    assert_eq!(first.stop().code(), Some(0), "{}", first.log());
}

#[test]
fn a_stale_socket_left_by_a_killed_rhi_is_replaced() {
    let net = TestNet::allocate();
    let rhi = RhiProcess::start(&config(&net));
    let socket = socket_of(&rhi);
    wait_ready(&socket);
    rhi.kill();
    assert!(socket.exists(), "SIGKILL leaves the socket file behind");
    // Nobody answers on it: the CLI says so instead of hanging or blaming the socket.
    let run = cli(&socket, &["status"]).assert_fails(1, "");
    assert!(run.reason().starts_with("rhi: rhi is not running"), "{run:#?}");

    rhi.restart();
    wait_ready(&socket);
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    cli(&socket, &["announce", MANUAL]).assert_ok();
    assert!(route_info(&status(&socket), MANUAL).is_some());
    rhi.assert_running();
}
