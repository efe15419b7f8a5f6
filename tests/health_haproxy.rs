//! rhi's `haproxy` check end to end: a real HAProxy 2.6 in front of real `python3 -m http.server`
//! backends decides whether BIRD holds the VIP, and with which MED. Everything on this test's
//! 127.X.Y.0/24: BIRD .1, rhi .2, HAProxy .10 (stats :8404), backends .11:8081 and .12:8082.
//!
//! The verdict cases run twice, once per stats source ([`Source`]): the stats page
//! (`stats_url`) and HAProxy's CLI socket at `level user` (`stats_socket`, `show stat`).
//!
//! Settings (the example config's, with rise 2): HAProxy checks its servers every 200 ms (fall 2,
//! rise 2); rhi's check runs every 1 s, every 200 ms while changing, 500 ms timeout, rise 2,
//! fall 2. Every wait is on a real condition (what BIRD holds, what HAProxy's stats show, what rhi
//! logged) with a deadline computed from these settings where the time is the point.

mod support;

use std::time::{Duration, Instant};

use support::haproxy::{silent_listener, GarbageHttpServer};
use support::*;

/// The VIP the `web` check decides.
const VIP: &str = "10.46.46.46/32";
/// A VIP without a check: always announced. It shows rhi keeps serving when the checked one goes.
const PLAIN_VIP: &str = "10.46.46.47/32";
const MED: u32 = 300;

// rhi's check settings, written into the config below.
const INTERVAL: Duration = Duration::from_secs(1);
const FAST_INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(500);
const FALL: u32 = 2;
/// For BGP to carry the UPDATE, BIRD to apply it and the 50 ms poll of `birdc` to see it.
const PROPAGATION: Duration = Duration::from_secs(1);

const PLAIN_VIP_YAML: &str = "  - prefix: 10.46.46.47/32\n    med: 310\n";

/// Where rhi's `web` check reads HAProxy's stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `stats_url`: the stats page over HTTP.
    Page,
    /// `stats_socket`: `show stat` on HAProxy's `level user` CLI socket.
    Socket,
}

impl Source {
    /// The `haproxy:` key that names this source for `haproxy`.
    fn yaml(self, haproxy: &Haproxy) -> String {
        match self {
            Source::Page => format!("stats_url: \"{}\"", haproxy.stats_url()),
            Source::Socket => format!("stats_socket: \"{}\"", haproxy.user_socket().display()),
        }
    }

    /// What a failed probe's reason names when HAProxy is gone: connect refused, by either road.
    fn assert_gone(self, haproxy: &Haproxy, reason: &str) {
        assert!(reason.contains("Connection refused"), "{reason}");
        if self == Source::Socket {
            let socket = format!("stats socket {}", haproxy.user_socket().display());
            assert!(reason.contains(&socket), "{reason}");
        }
    }
}

/// rhi announcing [`VIP`] (checked by `web`, MED 300) and `extra_vips`, to the BIRD of `net`.
/// `source` is the `stats_url:`/`stats_socket:` line ([`Source::yaml`]); `check_extra` goes inside
/// `haproxy:` (6 spaces), `vip_extra` inside the VIP (4 spaces).
fn rhi_config(net: &TestNet, source: &str, check_extra: &str, vip_extra: &str, extra_vips: &str) -> String {
    format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
startup_grace: 5s
peers:
  - name: r1
    address: {router}
    remote_as: {ROUTER_AS}
    port: {BGP_PORT}
    local_address: {injector}
    hold_time: 9s
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
checks:
  web:
    haproxy:
      {source}
      backend: app
{check_extra}    interval: {interval}
    fast_interval: {fast}
    timeout: {timeout}
    rise: 2
    fall: {FALL}
vips:
  - prefix: {VIP}
    check: web
    med: {MED}
{vip_extra}{extra_vips}control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        router = net.router(),
        interval = humantime::format_duration(INTERVAL),
        fast = humantime::format_duration(FAST_INTERVAL),
        timeout = humantime::format_duration(TIMEOUT),
    )
}

/// The bound the brief sets for a backend failure: HAProxy's own detection + `fall` ×
/// `fast_interval` + 1 s. rhi probes every `interval` (1 s) while steady, then `fast_interval`
/// apart, so its own worst case is `interval` + (`fall` − 1) × `fast_interval`: this bound leaves
/// one `fast_interval` (plus HAProxy's phase, see [`HaproxyOptions::detection_bound`]) for BGP.
fn backend_failure_bound(haproxy_detection: Duration) -> Duration {
    haproxy_detection + FAST_INTERVAL * FALL + Duration::from_secs(1)
}

/// The worst case when HAProxy's verdict changes at once (runtime socket, HAProxy gone, stats page
/// replaced) and each probe takes up to `probe_takes`: the next steady probe within `interval`,
/// the `fall` − 1 others `fast_interval` apart, then [`PROPAGATION`].
fn worst_case_bound(probe_takes: Duration) -> Duration {
    INTERVAL + FAST_INTERVAL * (FALL - 1) + probe_takes * FALL + PROPAGATION
}

/// rhi's log lines as plain text: without colour codes (rhi colours its log even into a file) and
/// without quotes, so `state=DOWN` matches whether tracing renders the field as `DOWN` or `"DOWN"`.
fn plain_log(rhi: &RhiProcess) -> Vec<String> {
    rhi.log().lines().map(|line| strip_ansi(line).replace('"', "")).collect()
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits until rhi has logged a line containing every one of `needles` (in [`plain_log`] form).
fn wait_log_line(rhi: &RhiProcess, needles: &[&str], timeout: Duration) -> String {
    let what = format!("rhi to log a line with {needles:?}");
    wait_until_ok(timeout, &what, || {
        rhi.assert_running();
        let lines = plain_log(rhi);
        match lines.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
            Some(line) => Ok(line.clone()),
            None => Err(lines.iter().rev().take(10).rev().cloned().collect::<Vec<_>>().join("\n")),
        }
    })
}

/// Field order = drop order: rhi goes first (it must not see the others die), the block last.
struct Lab {
    rhi: RhiProcess,
    haproxy: Haproxy,
    bird: Bird,
    _net: TestNet,
}

impl Lab {
    /// BIRD, HAProxy with both servers UP, and rhi with [`rhi_config`] (plus [`PLAIN_VIP`])
    /// reading the stats page; returns once BIRD holds both VIPs with their healthy attributes.
    fn start(check_extra: &str, vip_extra: &str) -> Lab {
        Lab::start_with(Source::Page, check_extra, vip_extra)
    }

    /// [`Lab::start`] with rhi reading HAProxy's stats from `source`.
    fn start_with(source: Source, check_extra: &str, vip_extra: &str) -> Lab {
        let net = TestNet::allocate();
        let bird = Bird::start(BirdOptions::new(&net));
        let haproxy = Haproxy::start(HaproxyOptions::new(&net));
        haproxy.wait_backend_status("UP");
        let config = rhi_config(&net, &source.yaml(&haproxy), check_extra, vip_extra, PLAIN_VIP_YAML);
        let rhi = RhiProcess::start(&config);
        let lab = Lab { rhi, haproxy, bird, _net: net };
        lab.wait_med(MED, secs(10));
        lab.bird.wait_route(PLAIN_VIP, secs(5));
        lab
    }

    fn wait_med(&self, med: u32, timeout: Duration) -> Route {
        self.bird.wait_route_where(VIP, timeout, &format!("MED {med}"), |r| r.med == Some(med))
    }

    /// Waits for BIRD to drop the VIP; returns how long since `since`.
    fn wait_withdrawn(&self, since: Instant, bound: Duration) -> Duration {
        self.bird.wait_no_route(VIP, bound.saturating_sub(since.elapsed()));
        since.elapsed()
    }

    /// The VIP without a check is still there and rhi still runs.
    fn assert_still_serving(&self) {
        self.rhi.assert_running();
        let plain = self.bird.route(PLAIN_VIP);
        assert!(plain.is_some(), "the unchecked VIP must stay: {:?}\n{}", self.bird.routes(), self.rhi.log());
    }

    /// `rhi status --json` shows check `web` in `state`; returns its reason.
    fn assert_status(&self, state: &str) -> String {
        let (code, stdout, stderr) = self.rhi.client(&["status", "--json"]);
        assert_eq!(code, 0, "rhi status --json: {stderr}");
        let status: serde_json::Value = serde_json::from_str(&stdout).expect("status --json parses");
        let check = status["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == "web"))
            .unwrap_or_else(|| panic!("no check `web` in rhi status: {stdout}"));
        assert_eq!(check["state"], state, "rhi status: {check}");
        check["reason"].as_str().unwrap_or_default().to_string()
    }

    fn restore_backends(&self) {
        self.haproxy.restart_backend(0);
        self.haproxy.restart_backend(1);
    }
}

#[test]
fn the_vip_follows_the_backend_pool_down_and_back() {
    pool_down_and_back(Source::Page);
}

#[test]
fn stats_socket_the_vip_follows_the_backend_pool_down_and_back() {
    pool_down_and_back(Source::Socket);
}

fn pool_down_and_back(source: Source) {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start_with(source, "", "");
    let route = lab.bird.route(VIP).expect("announced after rise");
    assert_eq!(route.next_hop, Some(NEXT_HOP_V4.parse().unwrap()), "{route:?}");

    let bound = backend_failure_bound(lab.haproxy.options().detection_bound());
    let killed = Instant::now();
    lab.haproxy.kill_backend(0);
    lab.haproxy.kill_backend(1);
    let took = lab.wait_withdrawn(killed, bound);
    eprintln!(
        "DETECTION ({source:?}) backends killed -> VIP withdrawn from BIRD: {took:.2?} (bound {bound:.2?}; HAProxy \
         inter 200ms fall 2; rhi interval 1s fast_interval 200ms timeout 500ms fall 2)"
    );
    let line = wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));
    assert!(line.contains("backend app is DOWN: 0 usable servers"), "{line}");
    let reason = lab.assert_status("DOWN");
    assert!(reason.contains("backend app is DOWN: 0 usable servers"), "{reason}");
    lab.assert_still_serving();

    let restored = Instant::now();
    lab.restore_backends();
    lab.wait_med(MED, secs(10));
    eprintln!("DETECTION ({source:?}) backends restored -> VIP back in BIRD: {:.2?}", restored.elapsed());
    lab.assert_status("UP");
}

#[test]
fn disabling_both_servers_on_the_runtime_socket_withdraws_the_vip() {
    both_servers_disabled(Source::Page);
}

#[test]
fn stats_socket_disabling_both_servers_on_the_runtime_socket_withdraws_the_vip() {
    both_servers_disabled(Source::Socket);
}

fn both_servers_disabled(source: Source) {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start_with(source, "", "");
    let disabled = Instant::now();
    lab.haproxy.disable_server("s1");
    lab.haproxy.disable_server("s2");
    // MAINT takes effect at once in HAProxy: only rhi's detection counts.
    let bound = worst_case_bound(Duration::ZERO);
    let took = lab.wait_withdrawn(disabled, bound);
    eprintln!("DETECTION ({source:?}) both servers disabled (MAINT) -> VIP withdrawn: {took:.2?} (bound {bound:.2?})");
    lab.haproxy.wait_server_status("s1", "MAINT");
    wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));
    let reason = lab.assert_status("DOWN");
    assert!(reason.contains("0 usable servers"), "{reason}");
    lab.assert_still_serving();

    lab.haproxy.enable_server("s1");
    lab.haproxy.enable_server("s2");
    lab.wait_med(MED, secs(10));
}

#[test]
fn one_server_down_or_draining_announces_the_degraded_med() {
    one_server_down_or_draining(Source::Page);
}

#[test]
fn stats_socket_one_server_down_or_draining_announces_the_degraded_med() {
    one_server_down_or_draining(Source::Socket);
}

fn one_server_down_or_draining(source: Source) {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start_with(source, "      degraded_below: 2\n", "    when_degraded: {med: 350}\n");
    let bound = backend_failure_bound(lab.haproxy.options().detection_bound());
    let killed = Instant::now();
    lab.haproxy.kill_backend(0);
    lab.wait_med(350, bound.saturating_sub(killed.elapsed()));
    eprintln!("DETECTION ({source:?}) one backend killed -> degraded MED 350 in BIRD: {:.2?}", killed.elapsed());
    let line = wait_log_line(&lab.rhi, &["check state changed", "state=DEGRADED"], secs(1));
    assert!(line.contains("1 usable servers (degraded below 2)"), "{line}");
    let reason = lab.assert_status("DEGRADED");
    assert!(reason.contains("1 usable servers (degraded below 2)"), "{reason}");

    lab.haproxy.restart_backend(0);
    lab.wait_med(MED, secs(10));

    // DRAIN: the server still answers but takes no new traffic, so it is not usable.
    lab.haproxy.set_state("s2", "drain");
    lab.wait_med(350, worst_case_bound(Duration::ZERO));
    lab.assert_status("DEGRADED");
    // MAINT on one server: degraded as well.
    lab.haproxy.set_state("s2", "maint");
    lab.haproxy.wait_server_status("s2", "MAINT");
    lab.wait_med(350, worst_case_bound(Duration::ZERO));
    lab.assert_status("DEGRADED");
    lab.haproxy.set_state("s2", "ready");
    lab.wait_med(MED, secs(10));
    lab.assert_status("UP");
    lab.assert_still_serving();
}

#[test]
fn when_down_keeps_the_vip_announced_with_med_1000() {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start("", "    when_down: {med: 1000}\n");
    let bound = backend_failure_bound(lab.haproxy.options().detection_bound());
    let killed = Instant::now();
    lab.haproxy.kill_backend(0);
    lab.haproxy.kill_backend(1);
    let route = lab.wait_med(1000, bound.saturating_sub(killed.elapsed()));
    eprintln!("DETECTION backends killed -> VIP re-announced with MED 1000: {:.2?}", killed.elapsed());
    assert_eq!(route.next_hop, Some(NEXT_HOP_V4.parse().unwrap()), "{route:?}");
    wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));

    lab.restore_backends();
    lab.wait_med(MED, secs(10));
}

#[test]
fn killing_haproxy_withdraws_the_vip_and_a_restart_brings_it_back() {
    haproxy_killed_and_restarted(Source::Page);
}

#[test]
fn stats_socket_killing_haproxy_withdraws_the_vip_and_a_restart_brings_it_back() {
    haproxy_killed_and_restarted(Source::Socket);
}

fn haproxy_killed_and_restarted(source: Source) {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start_with(source, "", "");
    let killed = Instant::now();
    lab.haproxy.kill();
    // Connection refused is immediate: only rhi's detection counts.
    let bound = worst_case_bound(Duration::ZERO);
    let took = lab.wait_withdrawn(killed, bound);
    eprintln!("DETECTION ({source:?}) HAProxy killed -> VIP withdrawn: {took:.2?} (bound {bound:.2?})");
    let line = wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));
    source.assert_gone(&lab.haproxy, &line);
    source.assert_gone(&lab.haproxy, &lab.assert_status("DOWN"));
    lab.assert_still_serving();

    lab.haproxy.restart();
    lab.wait_med(MED, secs(10));
    lab.assert_status("UP");
}

#[test]
fn a_frontend_not_open_withdraws_the_vip() {
    frontend_not_open(Source::Page);
}

#[test]
fn stats_socket_a_frontend_not_open_withdraws_the_vip() {
    frontend_not_open(Source::Socket);
}

/// `frontend: web` in the check: `disable frontend web` on the runtime socket pauses it (status
/// PAUSED) and the VIP goes though both servers are UP; `enable frontend web` brings it back.
fn frontend_not_open(source: Source) {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start_with(source, "      frontend: web\n", "");
    let disabled = Instant::now();
    lab.haproxy.admin("disable frontend web");
    let bound = worst_case_bound(Duration::ZERO);
    let took = lab.wait_withdrawn(disabled, bound);
    eprintln!("DETECTION ({source:?}) frontend disabled -> VIP withdrawn: {took:.2?} (bound {bound:.2?})");
    let line = wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));
    assert!(line.contains("frontend web is PAUSED, not OPEN"), "{line}");
    let reason = lab.assert_status("DOWN");
    assert!(reason.contains("frontend web is PAUSED, not OPEN"), "{reason}");
    lab.assert_still_serving();

    lab.haproxy.admin("enable frontend web");
    lab.wait_med(MED, secs(10));
    lab.assert_status("UP");
}

/// The `level user` socket refuses what changes HAProxy, and rhi's `show stat` works there: a
/// check on it reaches UP (in [`Lab::start_with`]) while a write command on the same socket is
/// refused.
#[test]
fn stats_socket_at_level_user_is_read_only_and_enough() {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start_with(Source::Socket, "", "");
    let refused = user_command(&lab.haproxy, "disable server app/s1");
    assert!(refused.contains("Permission denied"), "{refused}");
    lab.haproxy.wait_server_status("s1", "UP");
    assert!(lab.assert_status("UP").contains("backend app: 2 usable servers"), "{}", lab.rhi.log());
}

/// One command on the `level user` socket, as rhi talks to it: no prompt, read to EOF.
fn user_command(haproxy: &Haproxy, command: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(haproxy.user_socket()).expect("connect user.sock");
    stream.set_read_timeout(Some(secs(5))).unwrap();
    stream.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn a_stats_page_answering_garbage_withdraws_only_its_vip() {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start("", "");
    let replaced = Instant::now();
    lab.haproxy.kill();
    let _garbage = GarbageHttpServer::start(lab.haproxy.stats_addr());
    let bound = worst_case_bound(Duration::ZERO);
    let took = lab.wait_withdrawn(replaced, bound);
    eprintln!("DETECTION stats page answering garbage -> VIP withdrawn: {took:.2?} (bound {bound:.2?})");
    let line = wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));
    assert!(line.contains("not a HAProxy stats CSV"), "{line}");
    lab.assert_still_serving();
}

#[test]
fn a_stats_page_that_never_answers_withdraws_only_its_vip() {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let lab = Lab::start("", "");
    let replaced = Instant::now();
    lab.haproxy.kill();
    let _silent = silent_listener(lab.haproxy.stats_addr());
    // Each probe now runs into the timeout.
    let bound = worst_case_bound(TIMEOUT);
    let took = lab.wait_withdrawn(replaced, bound);
    eprintln!("DETECTION stats page never answering -> VIP withdrawn: {took:.2?} (bound {bound:.2?})");
    let line = wait_log_line(&lab.rhi, &["check state changed", "state=DOWN"], secs(1));
    assert!(line.contains("timed out after 500ms"), "{line}");
    lab.assert_still_serving();
}

#[test]
fn rhi_started_while_haproxy_is_down_announces_nothing_until_haproxy_comes_up() {
    if !require(&[Peer::Bird, Peer::Haproxy]) {
        return;
    }
    let net = TestNet::allocate();
    let bird = Bird::start(BirdOptions::new(&net));
    let haproxy = Haproxy::start(HaproxyOptions::new(&net));
    haproxy.kill();
    // Only the checked VIP: nothing at all may be announced while HAProxy is down.
    let started = Instant::now();
    let rhi = RhiProcess::start(&rhi_config(&net, &Source::Page.yaml(&haproxy), "", "", ""));

    bird.wait_established(secs(10));
    // The first verdict (DOWN, confirmed after `fall` refused probes) or startup_grace (5 s),
    // whichever comes first, completes the initial table.
    rhi.wait_log("End-of-RIB", secs(5) + PROPAGATION);
    eprintln!("rhi started with HAProxy down: End-of-RIB after {:.2?}", started.elapsed());
    let verdict = wait_log_line(&rhi, &["check first verdict"], secs(1));
    assert!(verdict.contains("state=DOWN") && verdict.contains("Connection refused"), "{verdict}");
    assert!(bird.routes().is_empty(), "nothing announced: {:?}", bird.routes());
    let announced: Vec<String> = plain_log(&rhi).into_iter().filter(|l| l.contains("announce vip=")).collect();
    assert!(announced.is_empty(), "rhi announced with HAProxy down: {announced:#?}");
    assert_eq!(bird.session_state(), "Established");
    rhi.assert_running();

    let up = Instant::now();
    haproxy.restart();
    bird.wait_route_where(VIP, secs(10), "MED 300", |r| r.med == Some(MED));
    eprintln!("HAProxy came up -> VIP announced after {:.2?}", up.elapsed());
    assert_eq!(bird.session_state(), "Established", "the same session: no reset");
    rhi.assert_running();
}
