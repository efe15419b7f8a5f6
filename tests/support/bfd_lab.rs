//! BFD labs: two network namespaces joined by a veth pair (single-hop BFD needs a real
//! interface), and what a BFD test asks of rhi, BIRD and FRR about their BFD sessions.
//!
//! The namespaces are this test's own (named after the test binary's PID and a counter) and are
//! removed on drop; inside them only 10.77.0.0/30 is used: the router at .2 on `veth-rtr`, rhi
//! at .1 on `veth-rhi`. The veth ends are created directly inside the namespaces, so their
//! names never meet those of a concurrent test.

use std::env;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::bird::Bird;
use super::frr::Frr;
use super::process::find_program;
use super::rhi::RhiProcess;
use super::wait::wait_until_ok;

/// rhi's end of the veth pair.
pub const NODE_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The router's end.
pub const ROUTER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
pub const NODE_IFACE: &str = "veth-rhi";
pub const ROUTER_IFACE: &str = "veth-rtr";

fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().nth(1)) // effective UID
        .is_some_and(|euid| euid == "0")
}

/// Whether a namespace test can run here: root, `ip netns`, and `programs` (names or absolute
/// paths; `package` says where they come from). Outside CI a test that cannot run says why on
/// stderr and is skipped (returns false); under CI (`CI` set) it fails instead.
pub fn require_netns(programs: &[&str], package: &str) -> bool {
    let test = thread::current().name().unwrap_or("?").to_string();
    let reason = netns_problem(programs, package);
    let Some(reason) = reason else { return true };
    if in_ci() {
        panic!("{test}: {reason}; CI must run the BFD lab as root with {package} installed");
    }
    eprintln!("SKIPPED {test}: {reason}");
    false
}

fn netns_problem(programs: &[&str], package: &str) -> Option<String> {
    if !is_root() {
        return Some("not root (network namespaces need it)".into());
    }
    let Some(ip) = find_program("ip") else {
        return Some("no ip command (apt-get install iproute2)".into());
    };
    match Command::new(ip).args(["netns", "list"]).stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => {}
        _ => return Some("`ip netns list` fails: no network namespaces here".into()),
    }
    let missing: Vec<&str> = programs.iter().copied().filter(|p| find_program(p).is_none()).collect();
    if !missing.is_empty() {
        return Some(format!("missing {} (apt-get install {package})", missing.join(", ")));
    }
    None
}

/// [`require_netns`] for FRR's zebra + bfdd + bgpd: they also need the `frrvty` group that
/// Debian's frr package creates (see `start_helper` in frr.rs).
pub fn require_frr_bfd_netns() -> bool {
    let programs = ["/usr/lib/frr/zebra", "/usr/lib/frr/bfdd", "/usr/lib/frr/bgpd", "vtysh"];
    if !require_netns(&programs, "frr") {
        return false;
    }
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    if groups.lines().any(|l| l.starts_with("frrvty:")) {
        return true;
    }
    let test = thread::current().name().unwrap_or("?").to_string();
    if in_ci() {
        panic!("{test}: no frrvty group (the frr package creates it); CI must install frr");
    }
    eprintln!("SKIPPED {test}: no frrvty group (apt-get install frr)");
    false
}

/// Runs `ip ARGS`; panics with its stderr if it fails.
pub fn ip(args: &[&str]) {
    let output = Command::new(find_program("ip").expect("ip"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"));
    assert!(
        output.status.success(),
        "ip {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

static NEXT_NETNS: AtomicU32 = AtomicU32::new(0);

/// A network namespace this test created; deleted on drop. Stop the processes inside first
/// (declare the namespace before them, so it is dropped after them).
pub struct Netns {
    name: String,
}

impl Netns {
    /// `rhi-bfd-PID-N-ROLE`, with its loopback up.
    pub fn create(role: &str) -> Netns {
        let n = NEXT_NETNS.fetch_add(1, Ordering::Relaxed);
        let name = format!("rhi-bfd-{}-{n}-{role}", std::process::id());
        ip(&["netns", "add", &name]);
        let netns = Netns { name };
        ip(&["-n", &netns.name, "link", "set", "lo", "up"]);
        netns
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).stderr(Stdio::null()).status();
    }
}

/// A router namespace and a node namespace joined by a veth pair: 10.77.0.2/30 on
/// [`ROUTER_IFACE`] (router), 10.77.0.1/30 on [`NODE_IFACE`] (rhi). A connected subnet, so BGP
/// runs without multihop and BFD is single-hop (RFC 5881).
pub struct VethLab {
    pub router: Netns,
    pub node: Netns,
}

impl VethLab {
    pub fn new() -> VethLab {
        let lab = VethLab { router: Netns::create("r"), node: Netns::create("n") };
        let (r, n) = (lab.router.name(), lab.node.name());
        ip(&["link", "add", ROUTER_IFACE, "netns", r, "type", "veth", "peer", "name", NODE_IFACE, "netns", n]);
        ip(&["-n", r, "addr", "add", &format!("{ROUTER_ADDR}/30"), "dev", ROUTER_IFACE]);
        ip(&["-n", n, "addr", "add", &format!("{NODE_ADDR}/30"), "dev", NODE_IFACE]);
        ip(&["-n", r, "link", "set", ROUTER_IFACE, "up"]);
        ip(&["-n", n, "link", "set", NODE_IFACE, "up"]);
        lab
    }

    pub fn router_addr(&self) -> IpAddr {
        ROUTER_ADDR.into()
    }

    pub fn node_addr(&self) -> IpAddr {
        NODE_ADDR.into()
    }
}

/// rhi's first (only) peer from `rhi status --json`. Never call it while rhi is stopped
/// (SIGSTOP): the client would wait for an answer that cannot come.
pub fn rhi_peer(rhi: &RhiProcess) -> Result<Value, String> {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    if code != 0 {
        return Err(format!("rhi status --json exited {code}: {}", err.trim()));
    }
    let status: Value = serde_json::from_str(&out).map_err(|e| format!("rhi status --json: {e}: {out}"))?;
    let peer = &status["peers"][0];
    if peer.is_object() {
        Ok(peer.clone())
    } else {
        Err(format!("no peer in {out}"))
    }
}

/// Waits until rhi's BFD session is Up and hears the router Up; returns the peer's status.
pub fn wait_rhi_bfd_up(rhi: &RhiProcess, timeout: Duration) -> Value {
    wait_until_ok(timeout, "rhi's BFD session to be Up", || {
        let peer = rhi_peer(rhi)?;
        let bfd = &peer["bfd"];
        if bfd["state"] == "Up" && bfd["remote_state"] == "Up" && bfd["has_been_up"] == true {
            Ok(peer)
        } else {
            Err(format!("peer {} bfd {bfd}", peer["state"]))
        }
    })
}

/// Waits until rhi's BGP session is Established with BFD Up on both sides, as rhi sees it.
pub fn wait_rhi_established_with_bfd(rhi: &RhiProcess, timeout: Duration) -> Value {
    wait_until_ok(timeout, "rhi Established with BFD Up", || {
        let peer = rhi_peer(rhi)?;
        let bfd = &peer["bfd"];
        if peer["state"] == "Established" && bfd["state"] == "Up" && bfd["remote_state"] == "Up" {
            Ok(peer)
        } else {
            Err(format!("peer {} bfd {bfd}", peer["state"]))
        }
    })
}

/// The state BIRD shows for its BFD session with `neighbor` (`birdc show bfd sessions`: "Up",
/// "Down", "Init", ...). BIRD must be running (birdc waits forever for a stopped BIRD).
pub fn bird_bfd_state(bird: &Bird, neighbor: IpAddr) -> Result<String, String> {
    bird_bfd_session(bird, neighbor).map(|row| row.state)
}

/// BIRD's whole row for its BFD session with `neighbor`.
pub fn bird_bfd_session(bird: &Bird, neighbor: IpAddr) -> Result<BirdBfdSession, String> {
    let out = bird.birdc(&["show", "bfd", "sessions"])?;
    parse_bird_bfd_sessions(&out, neighbor).ok_or_else(|| format!("no BFD session with {neighbor} in:\n{out}"))
}

/// One row of `birdc show bfd sessions`.
#[derive(Clone, Debug, PartialEq)]
pub struct BirdBfdSession {
    pub state: String,
    /// BIRD's transmit interval and its detection timeout, in seconds.
    pub interval: f64,
    pub timeout: f64,
}

/// From "IP address  Interface  State  Since  Interval  Timeout" rows (Since may be two words).
pub fn parse_bird_bfd_sessions(text: &str, neighbor: IpAddr) -> Option<BirdBfdSession> {
    text.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 || cols[0].parse::<IpAddr>().ok()? != neighbor {
            return None;
        }
        let number = |i: usize| cols[i].parse::<f64>().ok();
        Some(BirdBfdSession {
            state: cols[2].to_string(),
            interval: number(cols.len() - 2)?,
            timeout: number(cols.len() - 1)?,
        })
    })
}

/// FRR bfdd's view of its session with `peer` (`show bfd peers json`): "status" is "up",
/// "down", "init" or "shutdown". bfdd must be running.
pub fn frr_bfd_peer(frr: &Frr, peer: IpAddr) -> Result<Value, String> {
    let out = frr.vtysh(&["show bfd peers json"])?;
    let peers: Value = serde_json::from_str(&out).map_err(|e| format!("bad JSON from vtysh ({e}): {out}"))?;
    peers
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["peer"].as_str().and_then(|a| a.parse::<IpAddr>().ok()) == Some(peer))
        .cloned()
        .ok_or_else(|| format!("no BFD peer {peer} in: {out}"))
}

/// How many lines of `log` contain `needle`.
pub fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}
