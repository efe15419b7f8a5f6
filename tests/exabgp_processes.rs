//! rhi as a drop-in ExaBGP (DESIGN §5, issue 5), against a real BIRD 2:
//! - ExaBGP's own `healthcheck` program runs unchanged as an rhi process (MED 100 → 1000, or
//!   withdrawn with `--withdraw-on-down`; killed → withdrawn; respawned → announced again);
//! - a process that floods 100,000 routes with acks on and never reads its stdin costs rhi no
//!   keepalive: the session stays up and BIRD gets every route (ExaBGP's deadlock, #867/#1141);
//! - one ExaBGP configuration file (neighbor + template/inherit + static + process) gives BIRD the
//!   same routes under `rhi run --exabgp-config` as under ExaBGP 4.2 itself;
//! - `rhi ctl` sends API commands to the running daemon.

mod support;

use std::fs;
use std::path::Path;

use ::rhi::status::Status;
use support::process::WorkDir;
use support::*;

const VIP: &str = "10.46.46.46/32";
const PYTHON: &str = "/usr/bin/python3";

fn peer_yaml(net: &TestNet, hold_time: &str) -> String {
    format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
peers:
  - name: r1
    address: {router}
    remote_as: {ROUTER_AS}
    port: {BGP_PORT}
    local_address: {injector}
    hold_time: {hold_time}
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
    next_hop_v6: {NEXT_HOP_V6}
control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        router = net.router(),
    )
}

/// ExaBGP's healthcheck as the Debian package ships it, checking that `DIR/up` exists; its PID
/// goes to `DIR/healthcheck.pid`.
fn healthcheck_process(extra: &[&str]) -> String {
    let mut run = vec![
        PYTHON,
        "-m",
        "exabgp",
        "healthcheck",
        "--cmd",
        "test -e @DIR@/up",
        "--ip",
        VIP,
        "--next-hop",
        NEXT_HOP_V4,
        "--interval",
        "1",
        "--fast-interval",
        "0.2",
        "--rise",
        "1",
        "--fall",
        "1",
        "--up-metric",
        "100",
        "--down-metric",
        "1000",
        "--no-syslog",
        "--no-ip-setup",
        "--pid",
        "@DIR@/healthcheck.pid",
    ];
    run.extend_from_slice(extra);
    let argv: Vec<String> = run.iter().map(|a| format!("\"{a}\"")).collect();
    format!("processes:\n  - name: healthcheck\n    run: [{}]\n", argv.join(", "))
}

fn healthcheck_pid(rhi: &RhiProcess) -> i32 {
    let path = rhi.dir().join("healthcheck.pid");
    wait_until_ok(secs(10), "the healthcheck to write its PID", || {
        fs::read_to_string(&path).map_err(|e| e.to_string())?.trim().parse::<i32>().map_err(|e| e.to_string())
    })
}

fn kill(pid: i32, signal: &str) {
    let status = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

fn touch(path: &Path) {
    fs::write(path, b"").unwrap();
}

#[test]
fn exabgp_healthcheck_runs_unchanged_med_100_then_1000_and_a_killed_one_is_withdrawn_then_respawned() {
    if !require(&[Peer::Bird, Peer::Exabgp]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&(peer_yaml(&net, "9s") + &healthcheck_process(&[])));
    touch(&rhi.dir().join("up"));

    let up = bird.wait_route_where(VIP, secs(20), "MED 100 (check passing)", |r| r.med == Some(100));
    assert_eq!(up.next_hop, Some(NEXT_HOP_V4.parse().unwrap()), "{up:?}");
    assert_eq!(up.as_path, vec![INJECTOR_AS], "{up:?}");

    fs::remove_file(rhi.dir().join("up")).unwrap();
    bird.wait_route_where(VIP, secs(10), "MED 1000 (check failing)", |r| r.med == Some(1000));
    touch(&rhi.dir().join("up"));
    bird.wait_route_where(VIP, secs(10), "MED 100 again", |r| r.med == Some(100));

    // The program dies without a word: ExaBGP would keep its route announced, rhi withdraws it.
    let first = healthcheck_pid(&rhi);
    fs::remove_file(rhi.dir().join("healthcheck.pid")).unwrap();
    kill(first, "KILL");
    bird.wait_no_route(VIP, secs(5));
    rhi.wait_log("process gone: its routes are withdrawn", secs(5));

    // Respawned with backoff, it announces again.
    let second = healthcheck_pid(&rhi);
    assert_ne!(first, second, "a new process");
    bird.wait_route_where(VIP, secs(15), "MED 100 from the respawned program", |r| r.med == Some(100));
    assert_eq!(rhi.stop().code(), Some(0));
    bird.wait_no_route(VIP, secs(5));
}

#[test]
fn exabgp_healthcheck_with_withdraw_on_down_withdraws_when_failing() {
    if !require(&[Peer::Bird, Peer::Exabgp]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&(peer_yaml(&net, "9s") + &healthcheck_process(&["--withdraw-on-down"])));
    touch(&rhi.dir().join("up"));
    bird.wait_route_where(VIP, secs(20), "MED 100 (check passing)", |r| r.med == Some(100));
    fs::remove_file(rhi.dir().join("up")).unwrap();
    bird.wait_no_route(VIP, secs(10));
    touch(&rhi.dir().join("up"));
    bird.wait_route_where(VIP, secs(10), "MED 100 after recovery", |r| r.med == Some(100));
}

/// How many IPv4 routes BIRD holds from rhi (`show route count` scales; `show route all` of
/// 100k routes does not).
fn bird_ipv4_count(bird: &Bird) -> Result<usize, String> {
    let text = bird.birdc(&["show", "route", "count", "table", "master4", "protocol", support::bird::PROTOCOL])?;
    text.lines()
        .find_map(|line| line.split_whitespace().next().filter(|_| line.contains("routes")).map(str::to_string))
        .ok_or_else(|| format!("no count in {text:?}"))?
        .parse::<usize>()
        .map_err(|e| format!("{e} in {text:?}"))
}

fn status(rhi: &RhiProcess) -> Status {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    assert_eq!(code, 0, "rhi status: {err}");
    serde_json::from_str(&out).expect("status JSON")
}

#[test]
fn a_process_flooding_100k_routes_that_never_reads_its_acks_costs_no_keepalive() {
    if !require(&[Peer::Bird]) {
        return;
    }
    const ROUTES: usize = 100_000;
    let net = TestNet::allocate();
    // A short hold time: a blocked daemon (ExaBGP's failure) would miss it within seconds.
    let bird = Bird::start(BirdOptions { hold_time: Some(6), ..BirdOptions::new(&net) });
    let flood = format!(
        "import sys, time\n\
         out = sys.stdout\n\
         for i in range({ROUTES}):\n\
         \x20   out.write('announce route 10.%d.%d.%d/32 next-hop {NEXT_HOP_V4} med 7\\n' % (100 + (i >> 16), (i >> 8) & 255, i & 255))\n\
         out.flush()\n\
         time.sleep(3600)   # never reads stdin: rhi's 100,000 acks pile up\n"
    );
    let mut config = peer_yaml(&net, "6s");
    config += &format!("processes:\n  - name: flood\n    run: [{PYTHON}, \"@DIR@/flood.py\"]\n    ack: true\n");
    let dir = WorkDir::new("flood");
    let script = dir.write("flood.py", &flood);
    let rhi = RhiProcess::start(&config.replace("@DIR@/flood.py", &script.display().to_string()));

    bird.wait_established(secs(10));
    let count = wait_until_ok(secs(120), "BIRD to hold all 100,000 routes", || {
        rhi.assert_running();
        let count = bird_ipv4_count(&bird)?;
        if count == ROUTES {
            Ok(count)
        } else {
            Err(format!("{count} so far"))
        }
    });
    assert_eq!(count, ROUTES);
    // The acks really did pile up: the pipe is full and rhi dropped the rest, logging it.
    rhi.wait_log("does not read its stdin", secs(5));

    // Keepalives keep flowing both ways after the flood, on the same session (no flap).
    let before = status(&rhi).peers[0].clone();
    assert_eq!(before.flaps, 0, "{before:?}");
    let after = wait_until(secs(15), "two more keepalives from BIRD", || {
        let now = status(&rhi).peers[0].clone();
        (now.messages_received >= before.messages_received + 2).then_some(now)
    });
    assert_eq!(after.flaps, 0, "{after:?}");
    assert_eq!(after.state, "Established", "{after:?}");
    assert_eq!(bird.protocol_state(), "Established");
    assert_eq!(bird_ipv4_count(&bird).unwrap(), ROUTES);
}

/// One ExaBGP configuration in the style of ExaBGP's documentation: a process, a template
/// inherited by the neighbor, static routes with attributes, and the neighbor's api block.
fn exabgp_conf(net: &TestNet, api_script: &Path) -> String {
    format!(
        r#"process announce-more {{
    run /bin/sh {script};
    encoder text;
}}

template {{
    neighbor upstream {{
        local-as {INJECTOR_AS};
        peer-as {ROUTER_AS};
        hold-time 30;
        family {{
            ipv4 unicast;
            ipv6 unicast;
        }}
    }}
}}

neighbor {router} {{
    inherit upstream;
    description "edge router";
    router-id {injector};
    local-address {injector};
    connect {BGP_PORT};

    static {{
        route 10.46.46.46/32 next-hop {NEXT_HOP_V4} med 300 community [ 65010:46 no-export ] large-community [ 65010:46:1 ];
        route 10.46.46.47/32 {{
            next-hop {NEXT_HOP_V4};
            med 400;
            as-path [ {INJECTOR_AS} {INJECTOR_AS} {INJECTOR_AS} ];
        }}
        route 2001:db8:46::46/128 next-hop {NEXT_HOP_V6} med 310 community [ 65010:66 ];
    }}

    api services {{
        processes [ announce-more ];
    }}
}}
"#,
        script = api_script.display(),
        router = net.router(),
        injector = net.injector(),
    )
}

/// Announces through the API, then waits (reading acks) until told to stop.
const API_SCRIPT: &str = "#!/bin/sh
echo 'announce route 10.46.46.50/32 next-hop 192.0.2.6 med 200 community [65010:50] large-community [65010:50:2]'
echo 'announce attributes next-hop 192.0.2.6 med 250 origin igp nlri 10.46.47.1/32 10.46.47.2/32'
echo 'announce route 2001:db8:46::50/128 next-hop 2001:db8::6 med 210'
while read -r line; do :; done
";

/// What BIRD holds, without what differs between two speakers by design (the session's source).
fn comparable(mut routes: Vec<Route>) -> Vec<Route> {
    for route in &mut routes {
        route.from = None;
    }
    routes.sort_by_key(|route| route.prefix);
    routes
}

#[test]
fn the_same_exabgp_config_gives_bird_the_same_routes_under_rhi_as_under_exabgp() {
    if !require(&[Peer::Bird, Peer::Exabgp]) {
        return;
    }
    const EXPECTED: usize = 7;
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let scripts = WorkDir::new("api");
    let script = scripts.write("announce-more.sh", API_SCRIPT);
    let conf = exabgp_conf(&net, &script);

    let exabgp = Exabgp::start_with_config(ExabgpOptions::new(&net), &conf);
    let from_exabgp = comparable(bird.wait_route_count(EXPECTED, secs(30)));
    exabgp.stop();
    bird.wait_route_count(0, secs(10));

    let rhi = RhiProcess::start_exabgp(&conf);
    let from_rhi = comparable(bird.wait_route_count(EXPECTED, secs(30)));

    // Side by side, for the log of a failing run.
    for (e, r) in from_exabgp.iter().zip(&from_rhi) {
        println!("ExaBGP: {e:?}\nrhi:    {r:?}\n");
    }
    assert_eq!(from_rhi, from_exabgp, "BIRD holds different routes from rhi than from ExaBGP 4.2 for one file");
    // And they are what the file says, not merely equal.
    let vip = from_rhi.iter().find(|r| r.prefix == route::prefix("10.46.46.46/32")).unwrap();
    assert_eq!((vip.med, vip.as_path.clone()), (Some(300), vec![INJECTOR_AS]), "{vip:?}");
    assert!(vip.has_community("no-export"), "{vip:?}");
    let prepended = from_rhi.iter().find(|r| r.prefix == route::prefix("10.46.46.47/32")).unwrap();
    assert_eq!(prepended.as_path, vec![INJECTOR_AS; 3], "{prepended:?}");
    let api = from_rhi.iter().find(|r| r.prefix == route::prefix("10.46.47.2/32")).unwrap();
    assert_eq!(api.med, Some(250), "{api:?}");
    assert!(rhi.is_running());
}

#[test]
fn rhi_ctl_announces_shows_and_withdraws_through_the_api_grammar() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let rhi = RhiProcess::start(&peer_yaml(&net, "9s"));
    bird.wait_established(secs(10));

    let (code, out, err) = rhi.client(&[
        "ctl",
        "announce",
        "route",
        "10.99.1.1/32",
        "next-hop",
        NEXT_HOP_V4,
        "med",
        "55",
        "community",
        "[65010:9]",
    ]);
    assert_eq!((code, out.as_str()), (0, "done\n"), "{err}");
    let route = bird.wait_route("10.99.1.1/32", secs(10));
    assert_eq!(route.med, Some(55), "{route:?}");
    assert!(route.has_community("65010:9"), "{route:?}");

    let (code, out, _) = rhi.client(&["ctl", "show adj-rib out"]);
    assert_eq!(code, 0);
    assert!(out.contains("10.99.1.1/32 med 55"), "{out}");
    let (code, out, _) = rhi.client(&["routes", "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"source\": \"ctl\""), "routes name `ctl` as the source: {out}");

    let (code, _, err) = rhi.client(&["ctl", "announce route 10.99.1.2/32 next-hop banana"]);
    assert_eq!(code, 1, "a line that does not parse is an error");
    assert!(err.contains("error"), "{err}");

    let (code, out, _) = rhi.client(&["ctl", "withdraw route 10.99.1.1/32"]);
    assert_eq!((code, out.as_str()), (0, "done\n"));
    bird.wait_no_route("10.99.1.1/32", secs(10));

    // ExaBGP's `shutdown` stops the daemon the way SIGTERM does.
    let (code, _, err) = rhi.client(&["ctl", "shutdown"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rhi.wait_exit(secs(10)).code(), Some(0));
    rhi.wait_log("shutdown requested by process ctl", secs(1));
}

#[test]
fn check_config_prints_the_rhi_yaml_of_an_exabgp_file_and_names_the_line_of_what_it_refuses() {
    let dir = WorkDir::new("convert");
    let net = TestNet::allocate();
    let conf = dir.write("exabgp.conf", &exabgp_conf(&net, Path::new("/bin/true")));
    let output = rhi_command().arg("check-config").arg("--exabgp-config").arg(&conf).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let yaml = String::from_utf8(output.stdout).unwrap();
    // The printed YAML is itself a valid rhi configuration that says the same.
    let reread = dir.write("rhi.yaml", &yaml);
    let again = rhi_command().arg("check-config").arg("-c").arg(&reread).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(yaml.contains("10.46.46.47/32") && yaml.contains("announce-more"), "{yaml}");

    let bad = dir.write("bad.conf", "neighbor 10.0.0.1 {\n  local-as 1;\n  peer-as 2;\n  rate-limit 100;\n}\n");
    let output = rhi_command().arg("run").arg("--exabgp-config").arg(&bad).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("bad.conf:4:"), "names file and line: {error}");
    assert!(error.contains("rate-limit"), "{error}");
}

/// A process that would run forever, blocked on nothing rhi controls.
const LINGERING_SCRIPT: &str = "import os, sys, time
open(sys.argv[1], 'w').write(str(os.getpid()))
sys.stdout.write('announce route 10.46.46.60/32 next-hop 192.0.2.6\\n')
sys.stdout.flush()
time.sleep(3600)
";

fn alive(pid: i32) -> bool {
    // A zombie has exited: only a process still running counts.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

#[test]
fn an_api_process_does_not_outlive_a_sigkilled_rhi() {
    if !require(&[Peer::Bird]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let dir = WorkDir::new("linger");
    let script = dir.write("linger.py", LINGERING_SCRIPT);
    let pid_file = dir.join("linger.pid");
    let config = peer_yaml(&net, "9s")
        + &format!(
            "processes:\n  - name: linger\n    run: [{PYTHON}, \"{}\", \"{}\"]\n",
            script.display(),
            pid_file.display()
        );
    let rhi = RhiProcess::start(&config);
    bird.wait_route("10.46.46.60/32", secs(20));
    let pid = wait_until_ok(secs(10), "the process to write its PID", || {
        fs::read_to_string(&pid_file).map_err(|e| e.to_string())?.trim().parse::<i32>().map_err(|e| e.to_string())
    });
    assert!(alive(pid));

    rhi.kill();
    wait_until(secs(5), "the API process to end with rhi", || (!alive(pid)).then_some(()));
}
