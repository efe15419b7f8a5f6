//! A router that stops reading (issue 11, points 2 and 3), against the real rhi binary.
//!
//! No real router can be made to stop reading on demand, so the "router" is a BGP speaker written
//! with rhi's own codec over blocking sockets (like tests/session_errors.rs): it connects to rhi
//! (rhi's peer is passive, so every new session starts at once instead of after a growing retry
//! backoff), completes OPEN/KEEPALIVE, then never reads again. Its receive buffer is shrunk
//! (SO_RCVBUF) and rhi has a table big enough (an API process announcing 100,000 routes, each with
//! its own MED, so one UPDATE each: about 6 MB) to fill every buffer on the way, so rhi's writer
//! really blocks, as it does against a hung router.
//!
//! What the tests prove:
//! - `twenty_hold_expiries_on_a_router_that_never_reads_leak_nothing`: each hold-timer expiry
//!   frees its socket within about a second (the NOTIFICATION cannot be written, so the socket is
//!   reset), so after 20 of them rhi's descriptor count is back to its baseline and no socket of
//!   rhi's to that router is left in any state but TIME-WAIT (before the fix: one ESTABLISHED
//!   socket with a full send queue per expiry);
//! - `a_router_that_sends_keepalives_but_never_reads_is_closed_by_the_send_hold_timer`: the
//!   router's KEEPALIVEs keep rhi's hold timer happy, yet the session is closed about
//!   `send_hold_time` after the router stopped taking data, the log names the send hold timer, and
//!   `rhi status` stops counting the prefixes it had counted as advertised;
//! - `a_router_that_reads_keeps_its_session_past_the_send_hold_time`: the positive control, the
//!   same router reading everything keeps the session Established well past the send hold time
//!   (through the flood and while idle);
//! - `sigterm_with_a_stuck_router_exits_within_2_s`: the shutdown path (withdraw, then Cease)
//!   cannot hang on the same router (DESIGN §3: exit within 2 s).
//!
//! Socket states come from /proc/net/tcp (rhi's network namespace is the test's), descriptor
//! counts from /proc/PID/fd.

mod support;

use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use ::rhi::bgp::codec::{BgpCodec, CodecParams};
use ::rhi::bgp::message::{Message, Open};
use ::rhi::bgp::{Capability, Family};
use ::rhi::status::{PeerInfo, Status};
use bytes::BytesMut;
use socket2::{Domain, Socket, Type};
use support::process::WorkDir;
use support::*;
use tokio_util::codec::{Decoder, Encoder};

const PYTHON: &str = "/usr/bin/python3";
const PEER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Routes the API process announces: one UPDATE each (distinct MEDs), about 6 MB on the wire.
const FLOOD_ROUTES: usize = 100_000;
/// VIPs from the configuration in the send-hold tests: what rhi counts as advertised before the
/// flood.
const VIPS: [&str; 3] = ["10.46.46.46/32", "10.46.46.47/32", "10.46.46.48/32"];
/// The router's receive buffer: the kernel's minimum, so its window closes after a few KB.
const SMALL_RCVBUF: usize = 4096;

// ---- the router ----

/// The test's BGP speaker, blocking; it reads only when told to.
struct Router {
    stream: TcpStream,
    codec: BgpCodec,
    buffer: BytesMut,
}

impl Router {
    /// Connects from the router's address to rhi's listener; `rcvbuf` shrinks the receive buffer
    /// (set before connecting, so the window scale is chosen for it).
    fn connect(net: &TestNet, rcvbuf: Option<usize>) -> Router {
        let stream = wait_until_ok(secs(10), "rhi to accept the router's connection", || {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            if let Some(size) = rcvbuf {
                socket.set_recv_buffer_size(size)?;
            }
            socket.bind(&SocketAddr::new(net.router(), 0).into())?;
            socket.connect_timeout(&SocketAddr::new(net.injector(), BGP_PORT).into(), secs(2))?;
            Ok::<TcpStream, io::Error>(socket.into())
        });
        stream.set_read_timeout(Some(secs(10))).unwrap();
        Router { stream, codec: BgpCodec::new(), buffer: BytesMut::new() }
    }

    fn local_port(&self) -> u16 {
        self.stream.local_addr().unwrap().port()
    }

    fn send(&mut self, message: Message) {
        let mut out = BytesMut::new();
        self.codec.encode(message, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// The next message, or None at end of file.
    fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(message) = self.codec.decode(&mut self.buffer).expect("rhi sent something undecodable") {
                return Some(message);
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(error) => panic!("router read failed: {error}"),
            }
        }
    }

    /// OPEN both ways, KEEPALIVE both ways: rhi is Established. Reads nothing more.
    fn establish(&mut self, hold: u16) {
        match self.next() {
            Some(Message::Open(_)) => {}
            other => panic!("expected rhi's OPEN, got {other:?}"),
        }
        let capabilities = vec![Capability::Multiprotocol(Family::IPV4_UNICAST), Capability::FourOctetAs(ROUTER_AS)];
        self.send(Message::Open(Open::new(ROUTER_AS, hold, PEER_ID, capabilities)));
        self.send(Message::Keepalive);
        match self.next() {
            Some(Message::Keepalive) => {}
            other => panic!("expected rhi's KEEPALIVE, got {other:?}"),
        }
        self.codec.set_params(CodecParams { four_octet_as: true, ..CodecParams::default() });
    }

    /// A thread that sends a KEEPALIVE every second until the connection fails.
    fn keepalives(&self) -> thread::JoinHandle<()> {
        let mut stream = self.stream.try_clone().unwrap();
        let mut keepalive = BytesMut::new();
        BgpCodec::new().encode(Message::Keepalive, &mut keepalive).unwrap();
        thread::spawn(move || {
            while stream.write_all(&keepalive).is_ok() {
                thread::sleep(Duration::from_secs(1));
            }
        })
    }

    /// A thread that reads (and decodes) everything rhi sends, counting the prefixes announced.
    fn drain(mut self) -> (thread::JoinHandle<()>, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let prefixes = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = prefixes.clone();
        self.stream.set_read_timeout(None).unwrap();
        let handle = thread::spawn(move || {
            while let Some(message) = self.next() {
                if let Message::Update(update) = message {
                    counter.fetch_add(update.nlri.len(), Ordering::Relaxed);
                }
            }
        });
        (handle, prefixes)
    }
}

// ---- rhi ----

/// rhi with one passive peer (the router connects to rhi's listener), the VIPs given, and an API
/// process announcing FLOOD_ROUTES routes once `trigger` exists (at once when None).
fn start_rhi(net: &TestNet, extra_peer_keys: &str, vips: &[&str], trigger: Option<&str>) -> (RhiProcess, WorkDir) {
    let dir = WorkDir::new("flood");
    let wait = match trigger {
        Some(path) => format!("while not os.path.exists({path:?}):\n    time.sleep(0.02)\n"),
        None => String::new(),
    };
    let script = dir.write(
        "flood.py",
        &format!(
            "import os, sys, time\n\
             {wait}\
             out = sys.stdout\n\
             for i in range({FLOOD_ROUTES}):\n\
             \x20   out.write('announce route 10.%d.%d.%d/32 next-hop {NEXT_HOP_V4} med %d\\n' % (100 + (i >> 16), (i >> 8) & 255, i & 255, i))\n\
             out.flush()\n\
             time.sleep(3600)\n"
        ),
    );
    let vips: String = vips.iter().map(|vip| format!("  - prefix: {vip}\n")).collect();
    let config = format!(
        r#"router_id: {injector}
local_as: {INJECTOR_AS}
listen: ["{injector}:{BGP_PORT}"]
peers:
  - name: r1
    address: {router}
    remote_as: {ROUTER_AS}
    passive: true
    hold_time: 3s
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
{extra_peer_keys}vips:
{vips}processes:
  - name: flood
    run: [{PYTHON}, "{script}"]
    ack: false
control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        router = net.router(),
        script = script.display(),
    );
    let config = if vips.is_empty() { config.replace("vips:\n", "") } else { config };
    let rhi = RhiProcess::start(&config);
    rhi.wait_log("process started", secs(10));
    wait_until(secs(10), "rhi to listen", || {
        tcp_sockets()
            .into_iter()
            .any(|s| s.local == SocketAddr::new(net.injector(), BGP_PORT) && s.state == "LISTEN")
            .then_some(())
    });
    (rhi, dir)
}

fn status(rhi: &RhiProcess) -> Status {
    let (code, out, err) = rhi.client(&["status", "--json"]);
    assert_eq!(code, 0, "rhi status: {err}");
    serde_json::from_str(&out).expect("status JSON")
}

fn peer_status(rhi: &RhiProcess) -> PeerInfo {
    status(rhi).peers.into_iter().find(|p| p.name == "r1").expect("peer r1 in the status")
}

fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).expect("rhi's /proc/PID/fd").count()
}

/// How many times the session went down for a reason containing `reason`.
fn downs(rhi: &RhiProcess, reason: &str) -> usize {
    rhi.log().lines().filter(|line| line.contains("session down") && line.contains(reason)).count()
}

// ---- /proc/net/tcp ----

#[derive(Clone, Debug, PartialEq, Eq)]
struct TcpSocket {
    local: SocketAddr,
    remote: SocketAddr,
    state: &'static str,
    send_queue: u64,
}

/// Every IPv4 TCP socket of this network namespace.
fn tcp_sockets() -> Vec<TcpSocket> {
    let table = fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).filter_map(parse_tcp_line).collect()
}

/// `sl local_address rem_address st tx_queue:rx_queue ...`, addresses as hex `IP:PORT` with the
/// IP in the kernel's byte order.
fn parse_tcp_line(line: &str) -> Option<TcpSocket> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let address = |field: &str| -> Option<SocketAddr> {
        let (ip, port) = field.split_once(':')?;
        let ip = Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.to_ne_bytes());
        Some(SocketAddr::new(IpAddr::V4(ip), u16::from_str_radix(port, 16).ok()?))
    };
    let state = match *fields.get(3)? {
        "01" => "ESTABLISHED",
        "02" => "SYN-SENT",
        "03" => "SYN-RECV",
        "04" => "FIN-WAIT-1",
        "05" => "FIN-WAIT-2",
        "06" => "TIME-WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE-WAIT",
        "09" => "LAST-ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => "UNKNOWN",
    };
    let send_queue = u64::from_str_radix(fields.get(4)?.split_once(':')?.0, 16).ok()?;
    Some(TcpSocket { local: address(fields.get(1)?)?, remote: address(fields.get(2)?)?, state, send_queue })
}

/// rhi's sockets to the router: from rhi's listening address to the router's address, any port.
fn rhi_sockets_to_router(net: &TestNet) -> Vec<TcpSocket> {
    let listen = SocketAddr::new(net.injector(), BGP_PORT);
    tcp_sockets().into_iter().filter(|s| s.local == listen && s.remote.ip() == net.router()).collect()
}

/// rhi's end of the router's connection from `port`, unless it is gone or in TIME-WAIT.
fn live_socket(net: &TestNet, port: u16) -> Option<TcpSocket> {
    rhi_sockets_to_router(net).into_iter().find(|s| s.remote.port() == port && s.state != "TIME-WAIT")
}

// ---- the tests ----

/// 20 expiries: the count the issue asks for. Each cycle is the 3 s hold time plus the close
/// (≤ 1 s, awaited before the next connection so that each close is measured alone): about 80 s.
#[test]
fn twenty_hold_expiries_on_a_router_that_never_reads_leak_nothing() {
    const CYCLES: usize = 20;
    let net = TestNet::allocate();
    let (rhi, _flood) = start_rhi(&net, "", &[], None);
    let pid = rhi.pid();
    let baseline = fd_count(pid);

    let mut routers = Vec::new();
    let mut close_times = Vec::new();
    let mut largest_send_queue = 0;
    for cycle in 1..=CYCLES {
        let mut router = Router::connect(&net, Some(SMALL_RCVBUF));
        router.establish(3);
        let port = router.local_port();
        // rhi's writer is stuck: its socket holds data the router will never read.
        let stuck = wait_until_ok(secs(10), "rhi's send queue to the router to fill", || {
            let socket = live_socket(&net, port);
            match &socket {
                Some(s) if s.send_queue >= 64 * 1024 => Ok(s.send_queue),
                _ => Err(socket),
            }
        });
        largest_send_queue = largest_send_queue.max(stuck);
        // The router sends nothing either: rhi's hold timer (3 s) expires.
        let expired = wait_until(secs(10), "rhi's hold timer to expire", || {
            (downs(&rhi, "hold timer expired") >= cycle).then(Instant::now)
        });
        wait_until_ok(secs(5), "rhi to free the socket of the expired session", || match live_socket(&net, port) {
            None => Ok(()),
            Some(socket) => Err(socket),
        });
        close_times.push(expired.elapsed());
        // Like a hung router, this one keeps its end open.
        routers.push(router);
    }

    // Back to the baseline: every descriptor of the 20 sessions is closed...
    let after = wait_until_ok(secs(5), "rhi's descriptor count to return to its baseline", || {
        let count = fd_count(pid);
        if count <= baseline {
            Ok(count)
        } else {
            Err(format!("{count} descriptors, baseline {baseline}"))
        }
    });
    // ...and nothing of them lingers in the kernel, not even an orphan in FIN-WAIT.
    let left: Vec<TcpSocket> = rhi_sockets_to_router(&net).into_iter().filter(|s| s.state != "TIME-WAIT").collect();
    assert!(left.is_empty(), "rhi's sockets to the router still open: {left:#?}");
    rhi.assert_running();
    let slowest = close_times.iter().max().unwrap();
    eprintln!(
        "{CYCLES} hold expiries: descriptors {baseline} before, {after} after; largest send queue {largest_send_queue} B; \
         socket freed within {slowest:?} of the expiry being logged (polled every {POLL_INTERVAL:?}), all: {close_times:?}"
    );
    // rhi resets the socket CLOSE_FLUSH (1 s) after the decision at the latest, at once when its
    // writer had already stalled; the slack is for timers and polls on a loaded CI machine.
    assert!(*slowest < secs(3), "a close took {slowest:?}: {close_times:?}");
    drop(routers);
}

#[test]
fn a_router_that_sends_keepalives_but_never_reads_is_closed_by_the_send_hold_timer() {
    let net = TestNet::allocate();
    let trigger = WorkDir::new("trigger");
    let go = trigger.join("go");
    let (rhi, _flood) = start_rhi(&net, "    send_hold_time: 5s\n", &VIPS, Some(&go.display().to_string()));
    let router = {
        let mut router = Router::connect(&net, Some(SMALL_RCVBUF));
        router.establish(3);
        router
    };
    let _keepalives = router.keepalives();
    let port = router.local_port();

    // The VIPs fit in the buffers: rhi counts them as advertised, though the router read none.
    let before = wait_until_ok(secs(10), "rhi to count the VIPs as advertised", || {
        let peer = peer_status(&rhi);
        if peer.state == "Established" && peer.prefixes_advertised == VIPS.len() as u64 {
            Ok(peer)
        } else {
            Err(format!("{peer:#?}"))
        }
    });
    assert_eq!(before.flaps, 0, "{before:?}");

    // Then a table that cannot fit: rhi writes until every buffer on the way is full, after which
    // the socket takes nothing more. The stall begins when rhi's send queue stops changing (the
    // router's kernel acknowledges nothing once its window is closed).
    let flood_started = Instant::now();
    fs::write(&go, "").unwrap();
    let mut send_queue = (0, Instant::now());
    let line = wait_until_ok(secs(60), "the send hold timer to close the session", || {
        if let Some(socket) = live_socket(&net, port) {
            if socket.send_queue != send_queue.0 {
                send_queue = (socket.send_queue, Instant::now());
            }
        }
        let log = rhi.log();
        match log.lines().find(|l| l.contains("session down") && l.contains("send hold timer expired")) {
            Some(line) => Ok(line.to_string()),
            None => {
                rhi.assert_running();
                Err(format!("send queue {} B, unchanged for {:?}", send_queue.0, send_queue.1.elapsed()))
            }
        }
    });
    let stalled_for = send_queue.1.elapsed();
    let closed_after = flood_started.elapsed();
    assert!(line.contains("the peer has not read what we sent for 5s"), "{line}");
    // About the send hold time after the socket stopped taking data: not before (the router's
    // KEEPALIVEs kept the hold timer from firing, and progress restarted the send hold timer),
    // and not much after (bounded generously).
    assert!(
        stalled_for >= Duration::from_millis(4900) && stalled_for < secs(5 + 10),
        "closed {stalled_for:?} after the send queue last moved ({} B): {line}",
        send_queue.0
    );
    assert_eq!(downs(&rhi, ""), 1, "one session down, for the send hold timer:\n{}", rhi.log());
    wait_until_ok(secs(3), "rhi to free the socket", || match live_socket(&net, port) {
        None => Ok(()),
        Some(socket) => Err(socket),
    });
    let freed_after = send_queue.1.elapsed();

    let after = peer_status(&rhi);
    assert_ne!(after.state, "Established", "{after:?}");
    assert_eq!(after.prefixes_advertised, 0, "{after:?}");
    assert_eq!(after.flaps, 1, "{after:?}");
    assert!(after.last_error.as_deref().is_some_and(|e| e.contains("send hold timer expired")), "{after:?}");
    eprintln!(
        "send hold timer (5s): session closed {stalled_for:?} after rhi's send queue stopped at {} B \
         ({closed_after:?} after the flood began), socket freed {freed_after:?} after the stall",
        send_queue.0
    );
}

#[test]
fn a_router_that_reads_keeps_its_session_past_the_send_hold_time() {
    let net = TestNet::allocate();
    let trigger = WorkDir::new("trigger");
    let go = trigger.join("go");
    let (rhi, _flood) = start_rhi(&net, "    send_hold_time: 5s\n", &VIPS, Some(&go.display().to_string()));
    let mut router = Router::connect(&net, Some(SMALL_RCVBUF));
    router.establish(3);
    let _keepalives = router.keepalives();
    let (_reader, prefixes) = router.drain();
    wait_until(secs(10), "rhi to count the VIPs as advertised", || {
        let peer = peer_status(&rhi);
        (peer.state == "Established" && peer.prefixes_advertised == VIPS.len() as u64).then_some(())
    });

    let flood_started = Instant::now();
    fs::write(&go, "").unwrap();
    let all = VIPS.len() + FLOOD_ROUTES;
    wait_until_ok(secs(60), "the router to receive the whole table", || {
        let got = prefixes.load(std::sync::atomic::Ordering::Relaxed);
        if got >= all {
            Ok(())
        } else {
            rhi.assert_running();
            Err(format!("{got} of {all} prefixes"))
        }
    });
    let received_after = flood_started.elapsed();
    // Then idle, with only KEEPALIVEs to write, for twice the send hold time.
    let idle_from = Instant::now();
    let watch = secs(10);
    wait_until_ok(watch + secs(5), "the session to stay up past twice the send hold time", || {
        assert_eq!(downs(&rhi, ""), 0, "the session went down:\n{}", rhi.log());
        if idle_from.elapsed() >= watch {
            Ok(())
        } else {
            Err("still watching")
        }
    });
    let peer = peer_status(&rhi);
    assert_eq!(peer.state, "Established", "{peer:?}");
    assert_eq!(peer.flaps, 0, "{peer:?}");
    assert_eq!(peer.prefixes_advertised, all as u64, "{peer:?}");
    eprintln!("a reading router got {all} prefixes in {received_after:?}, then the session stayed up {watch:?} more");
}

#[test]
fn sigterm_with_a_stuck_router_exits_within_2_s() {
    let net = TestNet::allocate();
    let (rhi, _flood) = start_rhi(&net, "", &VIPS, None);
    let mut router = Router::connect(&net, Some(SMALL_RCVBUF));
    router.establish(9);
    let _keepalives = router.keepalives();
    let port = router.local_port();
    wait_until_ok(secs(10), "rhi's send queue to the router to fill", || {
        let socket = live_socket(&net, port);
        match &socket {
            Some(s) if s.send_queue >= 64 * 1024 => Ok(()),
            _ => Err(socket),
        }
    });
    let asked = Instant::now();
    rhi.sigterm();
    let exit = rhi.wait_exit(secs(2) + Duration::from_millis(500));
    let took = asked.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(took < secs(2), "exit took {took:?}");
    wait_until_ok(secs(3), "rhi's socket to be gone", || match live_socket(&net, port) {
        None => Ok(()),
        Some(socket) => Err(socket),
    });
    eprintln!("SIGTERM with a router that reads nothing: rhi exited in {took:?}");
}
