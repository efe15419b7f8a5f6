//! The BFD task: every BFD session of the daemon, their sockets and timers, around the pure
//! RFC 5880 machines of `crate::bfd`. Peer tasks ask it to watch the path to their router and
//! hear back through a report channel: each change of the session's state, and a failure (Up →
//! Down, not AdminDown) when the BGP session must go.
//!
//! One task for all sessions because the receiving sockets are shared: every single-hop session
//! with the same local address receives on the same UDP port, and the packet's Your
//! Discriminator (or, before the router has learnt ours, its source address) says which session
//! it belongs to.

mod connected;
mod socket;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::bfd::{self, Action, ControlPacket, Diagnostic, SessionState};
use crate::config::BfdConfig;
use crate::driver::bgp::sleep_until;

pub use socket::{MULTIHOP_PORT, SINGLE_HOP_PORT};

/// Received datagrams waiting for the BFD task; beyond this they are dropped (a flood must not
/// grow memory: BFD tolerates `multiplier - 1` lost packets by design).
const RECEIVE_QUEUE: usize = 1024;

/// What a peer task asks of the BFD task.
#[derive(Debug)]
pub enum BfdCommand {
    /// Run a session on this path (the BGP connection's addresses), or keep the one already
    /// running on it: a BGP reconnect over the same path does not restart BFD.
    Watch { spec: SessionSpec, reports: mpsc::UnboundedSender<BfdReport> },
    /// New timers for the peer's session: a Poll sequence, no reset (RFC 5880 §6.8.3).
    Reconfigure { peer: String, settings: BfdConfig },
    /// Tell the router AdminDown (not a failure, RFC 5882 §4.2) and forget the session.
    Stop { peer: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSpec {
    pub peer: String,
    pub local: IpAddr,
    pub remote: IpAddr,
    pub settings: BfdConfig,
}

/// A change the peer task hears about.
#[derive(Clone, Debug, PartialEq)]
pub struct BfdReport {
    pub status: BfdStatus,
    /// The session went from Up to Down because the router stopped answering or said Down:
    /// the BGP session must go now (RFC 5882 §3.2).
    pub failure: Option<Diagnostic>,
}

/// One session as `rhi status` and `/metrics` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct BfdStatus {
    pub state: SessionState,
    pub remote_state: SessionState,
    /// The session has been Up at least once: until then BFD takes no action (the router may
    /// not run BFD for us at all).
    pub has_been_up: bool,
    /// The router took the session down administratively (AdminDown) and has not brought it
    /// Up since: not a failure. Kept here because a router may send AdminDown only once, and
    /// the machine forgets the remote state one detection time after the last packet.
    pub router_admin_down: bool,
    pub multihop: bool,
    pub local: SocketAddr,
    pub remote: IpAddr,
    /// The interval we send at, and the one the router sends at, as negotiated.
    pub tx_interval: Duration,
    pub rx_interval: Duration,
    pub detection_time: Duration,
    /// Why the session last left Up (our diagnostic), and when.
    pub last_down: Option<(Diagnostic, SystemTime)>,
    pub transitions: u64,
    /// A session that cannot run (its port cannot be bound): it will never come Up.
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct BfdHandle {
    commands: mpsc::UnboundedSender<BfdCommand>,
}

impl BfdHandle {
    pub fn send(&self, command: BfdCommand) {
        // The task ends only with the runtime.
        let _ = self.commands.send(command);
    }
}

/// Starts the BFD task on a thread of its own, with its own single-threaded runtime. The daemon's
/// runtime is single-threaded too, and a burst of work there (a million routes from an API
/// process, a reload) can hold it for longer than a 300 ms detection time: BFD packets must not
/// wait for it, or the routers would take a busy node for a dead one.
pub fn spawn() -> BfdHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    let (datagrams, received) = mpsc::channel(RECEIVE_QUEUE);
    let task = BfdTask {
        commands: rx,
        datagrams,
        received,
        receivers: HashMap::new(),
        sessions: HashMap::new(),
        by_discriminator: HashMap::new(),
        next_discriminator: initial_discriminator(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let started = runtime.and_then(|runtime| {
        std::thread::Builder::new().name("rhi-bfd".into()).spawn(move || runtime.block_on(task.run()))
    });
    if let Err(error) = started {
        // Without its thread BFD never comes Up, and so never acts: BGP runs as without BFD.
        warn!(%error, "BFD cannot start: sessions run without it");
    }
    BfdHandle { commands }
}

/// A received control packet, or why it could not be read.
struct Received {
    local: SocketAddr,
    source: SocketAddr,
    ttl: Option<u8>,
    packet: Result<ControlPacket, bfd::DecodeError>,
}

struct Entry {
    spec: SessionSpec,
    multihop: bool,
    /// The lowest TTL accepted from the router: 255 single-hop.
    min_ttl: u8,
    machine: bfd::Session,
    sender: Option<UdpSocket>,
    reports: mpsc::UnboundedSender<BfdReport>,
    status: BfdStatus,
    last_sent: Option<BfdStatus>,
    /// Stopped: AdminDown is repeated a few times, then the session is forgotten.
    retiring: Option<Retiring>,
    retire_gap: Duration,
}

/// RFC 5880 §6.8.16: a session taken down administratively tells the router so with AdminDown.
/// One lost packet would make the router see a detection timeout instead (a failure, which
/// tears its BGP session down), so the packet goes out several times at the session's rate.
struct Retiring {
    remaining: u8,
    next: Instant,
}

const ADMIN_DOWN_REPEATS: u8 = 3;
const MIN_ADMIN_DOWN_GAP: Duration = Duration::from_millis(10);

struct BfdTask {
    commands: mpsc::UnboundedReceiver<BfdCommand>,
    datagrams: mpsc::Sender<Received>,
    received: mpsc::Receiver<Received>,
    /// One receiving socket per local address and port, shared by the sessions on it.
    receivers: HashMap<SocketAddr, Receiver>,
    sessions: HashMap<String, Entry>,
    by_discriminator: HashMap<u32, String>,
    next_discriminator: u32,
}

struct Receiver {
    task: JoinHandle<()>,
    error: Option<String>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Wake {
    Command(Option<BfdCommand>),
    Datagram(Received),
    Timer,
}

impl BfdTask {
    async fn run(mut self) {
        loop {
            let deadline = self.sessions.values().filter_map(Entry::deadline).min();
            let wake = tokio::select! {
                biased;
                Some(received) = self.received.recv() => Wake::Datagram(received),
                command = self.commands.recv() => Wake::Command(command),
                _ = sleep_until(deadline), if deadline.is_some() => Wake::Timer,
            };
            match wake {
                Wake::Command(None) => return,
                Wake::Command(Some(command)) => self.command(command),
                Wake::Datagram(received) => self.datagram(received),
                Wake::Timer => self.timers(Instant::now()),
            }
        }
    }

    fn command(&mut self, command: BfdCommand) {
        match command {
            BfdCommand::Watch { spec, reports } => self.watch(spec, reports),
            BfdCommand::Reconfigure { peer, settings } => {
                let now = Instant::now();
                let path_changed = self.sessions.get(&peer).is_some_and(|entry| {
                    entry.spec.settings.multihop != settings.multihop || entry.spec.settings.min_ttl != settings.min_ttl
                });
                if path_changed {
                    // Single-hop and multihop are different sessions (ports, TTL rules): start anew.
                    if let Some(entry) = self.sessions.get(&peer) {
                        let spec = SessionSpec { settings, ..entry.spec.clone() };
                        let reports = entry.reports.clone();
                        info!(%peer, ?settings, "BFD hop mode changed: new session");
                        self.watch(spec, reports);
                    }
                    return;
                }
                if let Some(entry) = self.sessions.get_mut(&peer) {
                    info!(%peer, ?settings, "BFD timers changed: renegotiating (Poll)");
                    entry.spec.settings = settings;
                    let actions = entry.machine.reconfigure(now, machine_config(&settings));
                    apply(entry, actions);
                }
            }
            BfdCommand::Stop { peer } => {
                if let Some(entry) = self.sessions.get_mut(&peer) {
                    if entry.retiring.is_none() {
                        let now = Instant::now();
                        let interval = entry.status.tx_interval.max(MIN_ADMIN_DOWN_GAP);
                        entry.retiring = Some(Retiring { remaining: ADMIN_DOWN_REPEATS, next: now });
                        entry.retire_gap = interval;
                        info!(%peer, "BFD session stopping: AdminDown to the router, not a failure");
                        self.retire_due(now);
                    }
                }
            }
        }
    }

    fn watch(&mut self, spec: SessionSpec, reports: mpsc::UnboundedSender<BfdReport>) {
        if let Some(entry) = self.sessions.get_mut(&spec.peer) {
            let same_path = entry.spec.local == spec.local
                && entry.spec.remote == spec.remote
                && entry.spec.settings.multihop == spec.settings.multihop
                && entry.spec.settings.min_ttl == spec.settings.min_ttl;
            if entry.retiring.is_none() && same_path {
                // Same path: keep the session (and its Up state); only who listens may change.
                entry.reports = reports;
                entry.last_sent = None;
                if entry.spec.settings != spec.settings {
                    entry.spec.settings = spec.settings;
                    let actions = entry.machine.reconfigure(Instant::now(), machine_config(&spec.settings));
                    apply(entry, actions);
                }
                publish(entry, None);
                return;
            }
            let old = self.sessions.remove(&spec.peer);
            if let Some(mut old) = old {
                let actions = old.machine.admin_down(Instant::now());
                apply(&mut old, actions);
                self.by_discriminator.remove(&old.status_discriminator());
            }
        }
        let multihop = spec.settings.multihop.unwrap_or_else(|| !connected::is_single_hop(spec.remote));
        let min_ttl = if multihop { spec.settings.min_ttl.unwrap_or(1) } else { socket::TTL };
        let port = if multihop { MULTIHOP_PORT } else { SINGLE_HOP_PORT };
        let discriminator = self.allocate_discriminator();
        let now = Instant::now();
        let machine =
            bfd::Session::new(machine_config(&spec.settings), discriminator, now, seed(&spec.peer, discriminator));
        let receiver_error = self.ensure_receiver(SocketAddr::new(spec.local, port));
        let (sender, local, sender_error) = match socket::bind_sender(spec.local, discriminator) {
            Ok(sender) => {
                let local = sender.local_addr().unwrap_or(SocketAddr::new(spec.local, 0));
                (Some(sender), local, None)
            }
            Err(error) => {
                (None, SocketAddr::new(spec.local, 0), Some(format!("cannot send from {}: {error}", spec.local)))
            }
        };
        let error = receiver_error.or(sender_error);
        match &error {
            Some(error) => warn!(peer = %spec.peer, %error, "BFD cannot run: the BGP session goes on without it"),
            None => info!(
                peer = %spec.peer, local = %local, remote = %spec.remote, multihop,
                "BFD session started; it acts only once it has been Up"
            ),
        }
        let snapshot = machine.snapshot();
        let status = BfdStatus {
            state: snapshot.state,
            remote_state: snapshot.remote_state,
            has_been_up: false,
            router_admin_down: false,
            multihop,
            local,
            remote: spec.remote,
            tx_interval: snapshot.tx_interval,
            rx_interval: Duration::ZERO,
            detection_time: snapshot.detection_time,
            last_down: None,
            transitions: 0,
            error,
        };
        self.by_discriminator.insert(discriminator, spec.peer.clone());
        let mut entry = Entry {
            spec,
            multihop,
            min_ttl,
            machine,
            sender,
            reports,
            status,
            last_sent: None,
            retiring: None,
            retire_gap: Duration::ZERO,
        };
        publish(&mut entry, None);
        let peer = entry.spec.peer.clone();
        self.sessions.insert(peer, entry);
        // A session replaced on another local address leaves its receiving socket unused.
        self.close_unused_receivers();
    }

    /// Binds the shared receiving socket for `local` if none is bound yet; the error text when
    /// it cannot be.
    fn ensure_receiver(&mut self, local: SocketAddr) -> Option<String> {
        if let Some(receiver) = self.receivers.get(&local) {
            return receiver.error.clone();
        }
        let receiver = match socket::bind_receiver(local) {
            Ok(socket) => {
                Receiver { task: tokio::spawn(receive_loop(socket, local, self.datagrams.clone())), error: None }
            }
            Err(error) => {
                Receiver { task: tokio::spawn(async {}), error: Some(format!("cannot receive on {local}: {error}")) }
            }
        };
        let error = receiver.error.clone();
        self.receivers.insert(local, receiver);
        error
    }

    fn close_unused_receivers(&mut self) {
        let in_use: Vec<SocketAddr> = self
            .sessions
            .values()
            .map(|e| SocketAddr::new(e.spec.local, if e.multihop { MULTIHOP_PORT } else { SINGLE_HOP_PORT }))
            .collect();
        self.receivers.retain(|local, _| in_use.contains(local));
    }

    fn allocate_discriminator(&mut self) -> u32 {
        loop {
            let candidate = self.next_discriminator;
            self.next_discriminator = self.next_discriminator.wrapping_add(1);
            if candidate != 0 && !self.by_discriminator.contains_key(&candidate) {
                return candidate;
            }
        }
    }

    fn datagram(&mut self, received: Received) {
        let packet = match received.packet {
            Ok(packet) => packet,
            Err(error) => {
                debug!(source = %received.source, %error, "BFD packet discarded");
                return;
            }
        };
        let Some(name) = self.session_for(&received, &packet) else {
            debug!(source = %received.source, local = %received.local, your = packet.your_discriminator,
                "BFD packet for no session of ours: discarded");
            return;
        };
        let Some(entry) = self.sessions.get_mut(&name) else { return };
        // RFC 5881 §5 / RFC 5883 §2: the TTL check is what keeps off-link senders out.
        if received.ttl.is_none_or(|ttl| ttl < entry.min_ttl) {
            debug!(peer = %name, ttl = ?received.ttl, min = entry.min_ttl, "BFD packet with too low a TTL: discarded");
            return;
        }
        let actions = entry.machine.receive(Instant::now(), &packet);
        apply(entry, actions);
    }

    /// RFC 5880 §6.8.6: by Your Discriminator when the router has learnt ours; before that, by
    /// the addresses and the port (single-hop or multihop) it arrived on.
    fn session_for(&self, received: &Received, packet: &ControlPacket) -> Option<String> {
        let matches = |entry: &Entry| {
            entry.spec.remote == crate::listener::canonical(received.source.ip())
                && entry.spec.local == received.local.ip()
                && received.local.port() == if entry.multihop { MULTIHOP_PORT } else { SINGLE_HOP_PORT }
        };
        if packet.your_discriminator != 0 {
            let name = self.by_discriminator.get(&packet.your_discriminator)?;
            // The discriminator alone is guessable: the packet must also come from the router.
            return self.sessions.get(name).filter(|e| matches(e)).map(|_| name.clone());
        }
        self.sessions.values().find(|e| matches(e)).map(|e| e.spec.peer.clone())
    }

    fn timers(&mut self, now: Instant) {
        for entry in self.sessions.values_mut() {
            if entry.retiring.is_none() && entry.machine.poll_timeout().is_some_and(|due| due <= now) {
                let actions = entry.machine.handle_timeout(now);
                apply(entry, actions);
            }
        }
        self.retire_due(now);
    }

    /// Sends the AdminDown repeats that are due, and forgets the sessions that sent their last.
    fn retire_due(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for (name, entry) in self.sessions.iter_mut() {
            let gap = entry.retire_gap;
            let Some(retiring) = &mut entry.retiring else { continue };
            if retiring.next > now {
                continue;
            }
            retiring.remaining = retiring.remaining.saturating_sub(1);
            retiring.next = now + gap;
            let last = retiring.remaining == 0;
            for action in entry.machine.admin_down(now) {
                if let Action::Send(packet) = action {
                    send(entry, &packet);
                }
            }
            if last {
                gone.push(name.clone());
            }
        }
        if gone.is_empty() {
            return;
        }
        for name in gone {
            if let Some(entry) = self.sessions.remove(&name) {
                self.by_discriminator.remove(&entry.status_discriminator());
                debug!(peer = %name, "BFD session removed");
            }
        }
        self.close_unused_receivers();
    }
}

impl Entry {
    fn status_discriminator(&self) -> u32 {
        self.machine.snapshot().local_discriminator
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.retiring {
            Some(retiring) => Some(retiring.next),
            None => self.machine.poll_timeout(),
        }
    }
}

/// Carries out a machine's actions for one session, then tells its peer task what changed.
fn apply(entry: &mut Entry, actions: Vec<Action>) {
    let mut failure = None;
    for action in actions {
        match action {
            Action::Send(packet) => send(entry, &packet),
            Action::StateChanged(transition) => {
                entry.status.transitions += 1;
                if transition.to == SessionState::Up {
                    entry.status.has_been_up = true;
                }
                entry.status.router_admin_down = transition.remote_admin_down
                    || (entry.status.router_admin_down && transition.to != SessionState::Up);
                if transition.from == SessionState::Up {
                    entry.status.last_down = Some((transition.diagnostic, SystemTime::now()));
                }
                let peer = &entry.spec.peer;
                if transition.is_failure() {
                    warn!(%peer, from = %transition.from, to = %transition.to, diagnostic = %transition.diagnostic,
                        "BFD session down");
                    failure = Some(transition.diagnostic);
                } else if transition.remote_admin_down {
                    info!(%peer, from = %transition.from, to = %transition.to,
                        "BFD: the router set the session AdminDown (not a failure: BGP stays up)");
                } else {
                    info!(%peer, from = %transition.from, to = %transition.to, diagnostic = %transition.diagnostic, "BFD state");
                }
            }
        }
    }
    publish(entry, failure);
}

fn send(entry: &Entry, packet: &ControlPacket) {
    let Some(sender) = &entry.sender else { return };
    let port = if entry.multihop { MULTIHOP_PORT } else { SINGLE_HOP_PORT };
    let to = SocketAddr::new(entry.spec.remote, port);
    // Never wait for room: a packet that cannot leave now is a lost packet, which BFD tolerates,
    // while waiting would delay every other session.
    if let Err(error) = sender.try_send_to(&packet.encode(), to) {
        debug!(peer = %entry.spec.peer, %to, %error, "BFD packet not sent");
    }
}

/// Sends the peer task a report when anything it shows changed, or on a failure.
fn publish(entry: &mut Entry, failure: Option<Diagnostic>) {
    // A stopping session has no listener any more: its peer is gone or has BFD turned off.
    if entry.retiring.is_some() {
        return;
    }
    let snapshot = entry.machine.snapshot();
    let status = &mut entry.status;
    status.state = snapshot.state;
    status.remote_state = snapshot.remote_state;
    status.tx_interval = snapshot.tx_interval;
    // What the router sends at: the slower of its wish and our minimum (RFC 5880 §6.8.2).
    status.rx_interval = match snapshot.remote_min_tx {
        Duration::ZERO => Duration::ZERO,
        remote => remote.max(snapshot.configured.required_min_rx),
    };
    status.detection_time = snapshot.detection_time;
    if failure.is_none() && entry.last_sent.as_ref() == Some(&entry.status) {
        return;
    }
    entry.last_sent = Some(entry.status.clone());
    let _ = entry.reports.send(BfdReport { status: entry.status.clone(), failure });
}

fn machine_config(settings: &BfdConfig) -> bfd::Config {
    bfd::Config { desired_min_tx: settings.min_tx, required_min_rx: settings.min_rx, detect_mult: settings.multiplier }
}

async fn receive_loop(socket: UdpSocket, local: SocketAddr, datagrams: mpsc::Sender<Received>) {
    let mut buf = [0u8; 512];
    loop {
        match socket::receive(&socket, &mut buf).await {
            Ok(datagram) => {
                let packet = ControlPacket::decode(&buf[..datagram.len]);
                let received = Received { local, source: datagram.source, ttl: datagram.ttl, packet };
                if datagrams.try_send(received).is_err() {
                    debug!(%local, "BFD receive queue full: packet dropped");
                }
            }
            Err(error) => {
                // A UDP socket fails only on resource errors: do not spin on them.
                warn!(%local, %error, "BFD receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Discriminators start at a value that differs between runs, so a router that still holds a
/// session of our previous run does not take our new packets for it (RFC 5880 §6.8.1: "SHOULD
/// be ... unique"; a restarted system should not reuse them at once).
fn initial_discriminator() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let salt = COUNTER.fetch_add(1, Ordering::Relaxed) as u32;
    (nanos ^ std::process::id().rotate_left(16) ^ salt.wrapping_mul(0x9e37_79b9)).max(1)
}

fn seed(peer: &str, discriminator: u32) -> u64 {
    crate::bgp::backoff::seed_for(peer) ^ u64::from(discriminator)
}

impl BfdStatus {
    /// The plain-data view for `rhi status` and `/metrics`.
    pub fn info(&self) -> crate::status::BfdInfo {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        crate::status::BfdInfo {
            state: self.state.to_string(),
            remote_state: self.remote_state.to_string(),
            has_been_up: self.has_been_up,
            router_admin_down: self.router_admin_down,
            multihop: self.multihop,
            local: self.local.to_string(),
            remote: self.remote,
            tx_interval_ms: ms(self.tx_interval),
            rx_interval_ms: ms(self.rx_interval),
            detection_time_ms: ms(self.detection_time),
            last_down: self.last_down.map(|(diagnostic, _)| diagnostic.to_string()),
            last_down_code: self.last_down.map(|(diagnostic, _)| diagnostic.code()),
            last_down_seconds: self
                .last_down
                .map(|(_, at)| SystemTime::now().duration_since(at).unwrap_or_default().as_secs()),
            transitions: self.transitions,
            error: self.error.clone(),
        }
    }
}
