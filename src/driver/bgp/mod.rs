//! The tokio task that drives one peer: a thin shell that feeds the pure [`Fsm`] with socket
//! frames and timer ticks, carries out its actions, and streams the peer's Adj-RIB-Out.
//!
//! Reading and writing are split: a writer task owns the write half behind a bounded queue, so a
//! router that reads slowly slows down only the UPDATEs we produce (changes coalesce in the
//! Adj-RIB-Out meanwhile) and never stops us from reading its KEEPALIVEs. The peer task itself
//! never awaits a write.
//!
//! The writer records when the socket last took data ([`WriteProgress`]); before the FSM's timers
//! are judged, the peer task reports the latest instant as [`Event::SendProgress`] (RFC 9687's
//! send hold timer), so the peer task is not woken per write. A writer with nothing left to write
//! counts as progressing: an idle session is not a stuck one. Closing is bounded in time, whatever
//! the router does (`close`).

mod bfd_link;
mod close;
mod collision;
mod outbox;
mod writer;

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use ipnet::IpNet;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::{debug, info, warn};

use crate::bgp::capability::GracefulRestartCap;
use crate::bgp::codec::{BgpCodec, CodecError, CodecParams};
use crate::bgp::fsm::{Action, Event, Fsm, FsmConfig, GracefulRestartConfig, Negotiated, State};
use crate::bgp::message::{Message, Update};
use crate::bgp::nlri::Family;
use crate::config::{BfdConfig, PeerConfig};
use crate::driver::bfd::{BfdCommand, BfdHandle, BfdReport, BfdStatus};
use crate::driver::tcp_md5::{self, ConnectWatch};
use crate::policy::{Announcement, SessionContext};
use crate::rib::AdjRibOut;
use bfd_link::BfdLink;
use close::{Closing, CLOSE_FLUSH};
use collision::collision_notification;
use writer::{write_loop, Outgoing, WriteProgress};

/// UPDATEs the writer may hold before we stop producing more (each <= 4 KiB, or 64 KiB).
const WRITER_QUEUE: usize = 64;
/// Prefixes taken from the Adj-RIB-Out per packing round.
const BATCH_PREFIXES: usize = 4096;
/// On shutdown, a writer queue without room for this long means the router is not reading: the
/// withdraw is given up and the Cease attempted (CLOSE_FLUSH more at most).
const WITHDRAW_STALL: Duration = Duration::from_millis(500);
/// RFC 4271 suggests 120 s; the retry backoff starts lower and is capped at this.
pub const CONNECT_RETRY_MAX: Duration = Duration::from_secs(60);

/// A prefix as advertised to this peer, with the next hop this session sends for it.
pub type AdvertisedRoute = (IpNet, Arc<Announcement>, Option<IpAddr>);

/// What the speaker tells a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// Desired state of these prefixes for this peer (None = withdraw).
    Routes(Vec<(IpNet, Option<Arc<Announcement>>)>),
    /// Every source has given its first verdict: End-of-RIB may follow the initial table.
    InitialTableComplete,
    /// A connection from this peer's address arrived on a listening socket.
    Inbound(TcpStream),
    /// Withdraw everything, send Cease/Administrative Shutdown, and end the task.
    Shutdown { message: String, done: oneshot::Sender<()> },
    /// The Adj-RIB-Out as advertised, for `rhi routes`.
    Advertised(oneshot::Sender<Vec<AdvertisedRoute>>),
    /// The Routes just sent follow a health verdict reached at this instant: the next UPDATE
    /// logs the verdict → UPDATE latency (up to the write to the socket).
    VerdictAt(Instant),
    /// Send the whole Adj-RIB-Out again (ExaBGP's `flush adj-rib out`).
    Resend,
    /// Reload changed only timers: applied to the running session, which stays up. `bfd_task`
    /// is the BFD task to use when BFD is newly turned on.
    Timers { bfd: Option<BfdConfig>, bfd_task: Option<BfdHandle>, send_hold_time: Option<Duration> },
}

/// A session state change, for those who must hear about each one (API processes): the status
/// watch keeps only the latest state, and a flap between two looks would go unseen.
#[derive(Clone, Debug)]
pub struct PeerStateEvent {
    pub peer: String,
    pub state: State,
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
}

/// A snapshot of one peer for `rhi status`, logs and metrics.
#[derive(Clone, Debug)]
pub struct PeerStatus {
    pub name: String,
    pub state: State,
    /// When the current state began (wall clock, for display).
    pub since: SystemTime,
    pub remote_id: Option<Ipv4Addr>,
    pub local_address: Option<SocketAddr>,
    pub families: Vec<Family>,
    pub hold_time: Option<u16>,
    pub last_error: Option<String>,
    pub prefixes_advertised: usize,
    pub updates_sent: u64,
    pub updates_received: u64,
    /// Every message, KEEPALIVEs and OPENs included.
    pub messages_sent: u64,
    pub messages_received: u64,
    /// Prefixes the peer announced to us (counted, not kept: rhi has no Adj-RIB-In).
    pub prefixes_received: u64,
    pub flaps: u64,
    /// BFD to this router, once a session runs (it starts with the first TCP connection).
    pub bfd: Option<BfdStatus>,
    /// Established, and both sides sent the Graceful Restart capability (RFC 4724).
    pub graceful_restart: bool,
    /// The router's Graceful Restart capability on the current session, if it sent one.
    pub peer_graceful_restart: Option<GracefulRestartCap>,
}

pub struct PeerHandle {
    pub name: String,
    pub address: IpAddr,
    pub commands: mpsc::UnboundedSender<PeerCommand>,
    pub status: watch::Receiver<PeerStatus>,
    pub task: JoinHandle<()>,
}

/// Starts the task for one configured peer; `state_events` hears of every state change.
/// `restarting`: rhi came back from a crash (graceful restart's Restart State bit, if configured).
pub fn spawn_peer(
    peer: PeerConfig,
    local_as: u32,
    router_id: Ipv4Addr,
    state_events: Option<mpsc::UnboundedSender<PeerStateEvent>>,
    bfd: Option<BfdHandle>,
    restarting: bool,
) -> PeerHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    let initial = PeerStatus {
        name: peer.name.clone(),
        state: State::Idle,
        since: SystemTime::now(),
        remote_id: None,
        local_address: None,
        families: Vec::new(),
        hold_time: None,
        last_error: None,
        prefixes_advertised: 0,
        updates_sent: 0,
        updates_received: 0,
        messages_sent: 0,
        messages_received: 0,
        prefixes_received: 0,
        flaps: 0,
        bfd: None,
        graceful_restart: false,
        peer_graceful_restart: None,
    };
    let (status_tx, status) = watch::channel(initial);
    let name = peer.name.clone();
    let address = peer.address;
    let mut task = PeerTask::new(peer, local_as, router_id, rx, status_tx, restarting);
    task.state_events = state_events;
    task.bfd.task = bfd;
    let task = tokio::spawn(task.run());
    PeerHandle { name, address, commands, status, task }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Why the peer task woke up; owned, so handling it may borrow the task mutably.
#[allow(clippy::large_enum_variant)]
enum Wake {
    Frame(Option<Result<Message, CodecError>>),
    WriterFinished(Result<(), CodecError>),
    Command(Option<PeerCommand>),
    Connected(io::Result<TcpStream>),
    Timer,
    /// The writer queue has room (false: the writer is gone).
    Writable(bool),
    Bfd(BfdReport),
}

struct Connection {
    reader: FramedRead<OwnedReadHalf, BgpCodec>,
    writer: mpsc::Sender<Outgoing>,
    writer_task: JoinHandle<Result<(), CodecError>>,
    /// The writer task ended and its result was taken: its handle must not be polled again.
    writer_done: bool,
    progress: Arc<WriteProgress>,
    /// The last write progress reported to the FSM.
    progress_reported: Option<Instant>,
    local: SocketAddr,
    remote: SocketAddr,
    inbound: bool,
}

impl Connection {
    fn into_closing(self, last: Vec<Outgoing>, peer: String) -> Closing<Outgoing> {
        // A writer that has had data to write and got none of it out for CLOSE_FLUSH will not
        // get the NOTIFICATION out either: no point waiting for it.
        let progress = &self.progress;
        let stalled_since = progress.last().unwrap_or(progress.base);
        let stalled = !progress.is_idle() && stalled_since.elapsed() >= CLOSE_FLUSH;
        Closing {
            peer,
            reader: self.reader.into_inner(),
            writer: self.writer,
            writer_task: (!self.writer_done).then_some(self.writer_task),
            last,
            stalled,
        }
    }
}

struct Session {
    context: SessionContext,
    params: CodecParams,
    families: Vec<Family>,
    end_of_rib_sent: bool,
}

struct PeerTask {
    peer: PeerConfig,
    local_as: u32,
    router_id: Ipv4Addr,
    fsm: Fsm,
    rib: AdjRibOut,
    commands: mpsc::UnboundedReceiver<PeerCommand>,
    status: watch::Sender<PeerStatus>,
    connection: Option<Connection>,
    connecting: Option<ConnectFuture>,
    /// An inbound connection that arrived during OpenSent: kept until collision detection can
    /// compare BGP identifiers (RFC 4271 §6.8).
    parked_inbound: Option<TcpStream>,
    session: Option<Session>,
    /// FSM messages waiting for room in the writer queue; they go before any UPDATE.
    urgent: VecDeque<Outgoing>,
    /// UPDATEs packed from the Adj-RIB-Out, waiting for room in the writer queue.
    outbox: VecDeque<Update>,
    initial_table_complete: bool,
    verdict_at: Option<Instant>,
    /// The state last logged and published in the status.
    reported_state: State,
    state_events: Option<mpsc::UnboundedSender<PeerStateEvent>>,
    bfd: BfdLink,
    /// The TCP-MD5 hint and key errors of failing connects.
    connects: ConnectWatch,
}

impl PeerTask {
    fn new(
        peer: PeerConfig,
        local_as: u32,
        router_id: Ipv4Addr,
        commands: mpsc::UnboundedReceiver<PeerCommand>,
        status: watch::Sender<PeerStatus>,
        restarting: bool,
    ) -> PeerTask {
        let fsm_config = FsmConfig {
            local_as,
            remote_as: peer.remote_as,
            local_id: router_id,
            hold_time: peer.hold_time,
            passive: peer.passive,
            connect_retry: peer.connect_retry,
            connect_retry_max: CONNECT_RETRY_MAX.max(peer.connect_retry),
            families: peer.families.clone(),
            send_hold_time: peer.send_hold_time,
            graceful_restart: peer.graceful_restart.map(|gr| GracefulRestartConfig {
                restart_time: u16::try_from(gr.restart_time.as_secs()).unwrap_or(u16::MAX),
                restarting,
            }),
        };
        let seed = crate::bgp::backoff::seed_for(&peer.name);
        PeerTask {
            fsm: Fsm::new(fsm_config, seed),
            peer,
            local_as,
            router_id,
            rib: AdjRibOut::new(),
            commands,
            status,
            connection: None,
            connecting: None,
            parked_inbound: None,
            session: None,
            urgent: VecDeque::new(),
            outbox: VecDeque::new(),
            initial_table_complete: false,
            verdict_at: None,
            reported_state: State::Idle,
            state_events: None,
            bfd: {
                let (reports_tx, reports) = mpsc::unbounded_channel();
                BfdLink { task: None, reports_tx, reports }
            },
            connects: ConnectWatch::default(),
        }
    }

    async fn run(mut self) {
        if let Some(ttl) = crate::driver::ttl::describe(self.peer.ttl) {
            info!(peer = %self.peer.name, ttl, "TTL policy");
        }
        let actions = self.fsm.handle(Instant::now(), Event::Start);
        self.apply(actions);
        loop {
            let deadline = self.fsm.poll_timeout();
            let has_output = self.has_output();
            let wake = tokio::select! {
                // Reading first: a KEEPALIVE already in the socket must count before our hold
                // timer is judged.
                biased;
                wake = connection_wake(&mut self.connection, has_output) => wake,
                Some(report) = self.bfd.reports.recv() => Wake::Bfd(report),
                command = self.commands.recv() => Wake::Command(command),
                result = connect_progress(&mut self.connecting) => Wake::Connected(result),
                _ = sleep_until(deadline), if deadline.is_some() => Wake::Timer,
            };
            let event = match wake {
                Wake::Frame(Some(Ok(message))) => {
                    let prefixes = match &message {
                        Message::Update(update) => {
                            Some(update.nlri.len() + update.mp_reach.as_ref().map_or(0, |r| r.nlri.len()))
                        }
                        _ => None,
                    };
                    self.status.send_modify(|s| {
                        s.messages_received += 1;
                        if let Some(prefixes) = prefixes {
                            s.updates_received += 1;
                            s.prefixes_received += prefixes as u64;
                        }
                    });
                    Some(Event::Received(message))
                }
                Wake::Frame(Some(Err(CodecError::Notify(notification)))) => Some(Event::DecodeError(notification)),
                Wake::Frame(Some(Err(error))) => {
                    debug!(peer = %self.peer.name, %error, "read failed");
                    Some(Event::TcpFailed)
                }
                Wake::Frame(None) => Some(Event::TcpFailed),
                Wake::WriterFinished(result) => {
                    if let Err(error) = result {
                        debug!(peer = %self.peer.name, %error, "write failed");
                    }
                    Some(Event::TcpFailed)
                }
                Wake::Command(Some(PeerCommand::Shutdown { message, done })) => {
                    self.shutdown(message).await;
                    let _ = done.send(());
                    return;
                }
                Wake::Command(Some(command)) => self.command(command),
                // The speaker is gone: nothing will ever be announced again.
                Wake::Command(None) => {
                    self.shutdown("rhi stopped".to_string()).await;
                    return;
                }
                Wake::Connected(result) => {
                    self.connecting = None;
                    match result {
                        Ok(stream) => self.adopt(stream, false),
                        Err(error) => {
                            let remote = SocketAddr::new(self.peer.address, self.peer.port);
                            let keyed = self.peer.md5.is_some();
                            if !self.connects.failed(&self.peer.name, remote, keyed, &error) {
                                info!(peer = %self.peer.name, %error, "connect failed");
                            }
                            Some(Event::TcpFailed)
                        }
                    }
                }
                Wake::Timer => {
                    let now = Instant::now();
                    self.report_send_progress(now);
                    let actions = self.fsm.handle_timeout(now);
                    self.apply(actions);
                    None
                }
                Wake::Writable(true) => {
                    self.send_next();
                    None
                }
                Wake::Writable(false) => None,
                Wake::Bfd(report) => self.bfd_report(report),
            };
            if let Some(event) = event {
                let actions = self.fsm.handle(Instant::now(), event);
                self.apply(actions);
            }
        }
    }

    fn command(&mut self, command: PeerCommand) -> Option<Event> {
        match command {
            PeerCommand::Routes(changes) => {
                for (prefix, announcement) in changes {
                    self.rib.set(prefix, announcement);
                }
                None
            }
            PeerCommand::InitialTableComplete => {
                self.initial_table_complete = true;
                None
            }
            PeerCommand::Inbound(stream) => self.inbound(stream),
            PeerCommand::Advertised(reply) => {
                let context = self.session.as_ref().map(|s| &s.context);
                let routes = self
                    .rib
                    .advertised()
                    .map(|(prefix, ann)| {
                        let next_hop = context.and_then(|c| match prefix {
                            IpNet::V4(_) => c.next_hop_v4(ann).map(IpAddr::V4),
                            IpNet::V6(_) => c.next_hop_v6(ann).map(IpAddr::V6),
                        });
                        (prefix, ann.clone(), next_hop)
                    })
                    .collect();
                let _ = reply.send(routes);
                None
            }
            PeerCommand::VerdictAt(at) => {
                if self.session.is_some() {
                    self.verdict_at.get_or_insert(at);
                }
                None
            }
            PeerCommand::Resend => {
                info!(peer = %self.peer.name, "re-sending Adj-RIB-Out on request");
                self.rib.resend_all();
                None
            }
            PeerCommand::Timers { bfd, bfd_task, send_hold_time } => {
                self.peer.send_hold_time = send_hold_time;
                self.fsm.set_send_hold_time(Instant::now(), send_hold_time);
                self.set_bfd(bfd, bfd_task);
                None
            }
            PeerCommand::Shutdown { .. } => None,
        }
    }

    fn adopt(&mut self, stream: TcpStream, inbound: bool) -> Option<Event> {
        let (local, remote) = match (stream.local_addr(), stream.peer_addr()) {
            (Ok(local), Ok(remote)) => (local, remote),
            _ => return Some(Event::TcpFailed),
        };
        let _ = stream.set_nodelay(true);
        let (read_half, write_half) = stream.into_split();
        let (writer, queue) = mpsc::channel(WRITER_QUEUE);
        let progress = Arc::new(WriteProgress::new());
        let sink = FramedWrite::new(write_half, BgpCodec::new());
        let writer_task = tokio::spawn(write_loop(sink, queue, self.peer.name.clone(), progress.clone()));
        self.connection = Some(Connection {
            reader: FramedRead::new(read_half, BgpCodec::new()),
            writer,
            writer_task,
            writer_done: false,
            progress,
            progress_reported: None,
            local,
            remote,
            inbound,
        });
        debug!(peer = %self.peer.name, %local, %remote, inbound, "TCP connected");
        self.watch_bfd(local, remote);
        Some(Event::TcpConnected)
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect => self.connect(),
                Action::Send(message) => self.urgent.push_back(Outgoing::Message(message)),
                Action::Close => self.close(),
                Action::Up(negotiated) => self.up(negotiated),
                Action::Down { reason } => self.down(reason),
                Action::Deliver(message) => self.deliver(message),
            }
        }
        // The FSM moved when it handled the event, before these actions: compare with what was
        // last reported, not with the state at the start of this call.
        let after = self.fsm.state();
        if after != self.reported_state {
            self.state_changed(self.reported_state, after);
        }
        // An inbound connection parked during OpenSent waits for the peer's identifier.
        if let Some(stream) = self.parked_inbound.take() {
            match (after, self.fsm.remote_id()) {
                (State::OpenConfirm, Some(remote_id)) => {
                    if let Some(event) = self.resolve_collision(stream, remote_id) {
                        let actions = self.fsm.handle(Instant::now(), event);
                        self.apply(actions);
                    }
                }
                (State::OpenSent, _) => self.parked_inbound = Some(stream),
                _ if self.connection.is_none() => {
                    if let Some(event) = self.inbound(stream) {
                        let actions = self.fsm.handle(Instant::now(), event);
                        self.apply(actions);
                    }
                }
                _ => self.reject(stream),
            }
        }
    }

    fn state_changed(&mut self, from: State, to: State) {
        self.reported_state = to;
        let last_error = self.fsm.last_error().map(str::to_string);
        match (to, &last_error) {
            (State::Idle, Some(error)) if from != State::Connect && from != State::Active => {
                info!(peer = %self.peer.name, ?from, state = ?to, reason = %error, "peer state")
            }
            _ => info!(peer = %self.peer.name, ?from, state = ?to, "peer state"),
        }
        self.status.send_modify(|s| {
            s.state = to;
            s.since = SystemTime::now();
            s.last_error = self.connects.failure().map(str::to_string).or(last_error);
        });
        if let Some(events) = &self.state_events {
            let (local, remote) = match &self.connection {
                Some(connection) => (Some(connection.local), Some(connection.remote)),
                None => (None, None),
            };
            let _ = events.send(PeerStateEvent { peer: self.peer.name.clone(), state: to, remote, local });
        }
    }

    fn connect(&mut self) {
        if self.peer.passive || self.connection.is_some() {
            return;
        }
        let remote = SocketAddr::new(self.peer.address, self.peer.port);
        let local = self.peer.local_address;
        let timeout = self.peer.connect_retry.max(Duration::from_secs(1));
        if self.connecting.is_some() {
            // The FSM gave up on the previous attempt: it never got an answer.
            self.connects.no_answer(&self.peer.name, remote, self.peer.md5.is_some());
        }
        let md5 = self.peer.md5.clone();
        let ttl = self.peer.ttl;
        debug!(peer = %self.peer.name, %remote, ttl = crate::driver::ttl::describe(ttl), "connecting");
        self.connecting = Some(Box::pin(async move {
            let socket = match remote {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            // Before the SYN: every segment of the session is signed.
            if let Some(key) = &md5 {
                tcp_md5::set_key(&socket, remote.ip(), key.secret())?;
            }
            // Before the SYN too: it leaves with the TTL, and a SYN-ACK below GTSM's minimum is dropped.
            crate::driver::ttl::apply(&socket, ttl)?;
            if let Some(local) = local {
                socket.bind(SocketAddr::new(local, 0))?;
            }
            match tokio::time::timeout(timeout, socket.connect(remote)).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
            }
        }));
    }

    /// Hands the last FSM messages (the NOTIFICATION) to the writer and closes in the
    /// background: the socket is gone within CLOSE_FLUSH, whatever the router does.
    fn close(&mut self) {
        self.connecting = None;
        let Some(connection) = self.connection.take() else {
            self.urgent.clear();
            return;
        };
        let last: Vec<Outgoing> = self.urgent.drain(..).collect();
        self.outbox.clear();
        let deadline = Instant::now() + CLOSE_FLUSH;
        tokio::spawn(close::close(connection.into_closing(last, self.peer.name.clone()), deadline));
    }

    /// Refuses a connection this peer will not use (collision), in the background.
    fn reject(&self, stream: TcpStream) {
        tokio::spawn(close::reject(stream, collision_notification(), self.peer.name.clone()));
    }

    /// RFC 9687: tells the FSM when the socket last took data, if that is news. A writer with
    /// nothing to write and nothing waiting for it is progressing by definition (now).
    fn report_send_progress(&mut self, now: Instant) {
        if self.fsm.send_hold_time().is_none() {
            return;
        }
        let nothing_pending = !self.has_output();
        let Some(connection) = &mut self.connection else { return };
        let idle = nothing_pending
            && connection.progress.is_idle()
            && connection.writer.capacity() == connection.writer.max_capacity();
        let at = if idle { Some(now) } else { connection.progress.last() };
        if let Some(at) = at.filter(|at| Some(*at) > connection.progress_reported) {
            connection.progress_reported = Some(at);
            let actions = self.fsm.handle(at, Event::SendProgress);
            self.apply(actions);
        }
    }

    fn up(&mut self, negotiated: Negotiated) {
        let Some(connection) = &self.connection else { return };
        let params = CodecParams {
            four_octet_as: negotiated.four_octet_as,
            max_message_len: if negotiated.extended_message {
                crate::bgp::MAX_EXTENDED_MESSAGE_LEN
            } else {
                crate::bgp::MAX_MESSAGE_LEN
            },
        };
        let context = SessionContext {
            local_as: self.local_as,
            ibgp: self.peer.remote_as == self.local_as,
            next_hop: self.peer.next_hop,
            next_hop_v6: self.peer.next_hop_v6,
            local_address: connection.local.ip(),
        };
        let families: Vec<Family> =
            negotiated.families.iter().copied().filter(|f| self.peer.families.contains(f)).collect();
        self.connects.established();
        info!(
            peer = %self.peer.name,
            remote = %connection.remote,
            remote_id = %negotiated.remote_id,
            hold_time = negotiated.hold_time,
            families = ?families,
            graceful_restart = negotiated.graceful_restart,
            "session established"
        );
        match &negotiated.peer_graceful_restart {
            // Nothing more to do as its helper: every new session gets the table and End-of-RIB.
            Some(gr) if gr.restart_state() => {
                info!(peer = %self.peer.name, capability = %gr, "the router restarted gracefully: sending it the whole table")
            }
            Some(gr) => debug!(peer = %self.peer.name, capability = %gr, "the router's graceful restart"),
            None => {}
        }
        self.status.send_modify(|s| {
            s.remote_id = Some(negotiated.remote_id);
            s.local_address = Some(connection.local);
            s.families = families.clone();
            s.hold_time = Some(negotiated.hold_time);
            s.graceful_restart = negotiated.graceful_restart;
            s.peer_graceful_restart = negotiated.peer_graceful_restart.clone();
        });
        if let Some(connection) = &mut self.connection {
            connection.reader.decoder_mut().set_params(params);
        }
        // Queued behind the KEEPALIVE that completed the handshake, ahead of every UPDATE.
        self.urgent.push_back(Outgoing::Params(params));
        self.session = Some(Session { context, params, families, end_of_rib_sent: false });
    }

    fn down(&mut self, reason: String) {
        warn!(peer = %self.peer.name, %reason, "session down");
        self.session = None;
        self.outbox.clear();
        self.rib.session_down();
        self.status.send_modify(|s| {
            s.flaps += 1;
            s.prefixes_advertised = 0;
            s.families.clear();
            s.hold_time = None;
            s.graceful_restart = false;
            s.peer_graceful_restart = None;
        });
    }

    fn deliver(&mut self, message: Message) {
        match message {
            Message::RouteRefresh(refresh) => {
                info!(peer = %self.peer.name, family = %refresh.family, "route refresh requested: re-sending Adj-RIB-Out");
                self.rib.resend_all();
            }
            Message::Update(update) => {
                if let Some(error) = &update.treat_as_withdraw {
                    warn!(peer = %self.peer.name, %error, "malformed UPDATE from peer treated as withdraw (RFC 7606)");
                }
            }
            _ => {}
        }
    }

    /// SIGTERM path: withdraw what this peer holds, wait until the withdrawals are written, then
    /// Cease. Bounded in time by the caller.
    async fn shutdown(&mut self, message: String) {
        let advertised: Vec<IpNet> = self.rib.advertised().map(|(prefix, _)| prefix).collect();
        for prefix in advertised {
            self.rib.set(prefix, None);
        }
        // Whatever was queued and not yet advertised must not go out now.
        self.outbox.clear();
        if self.session.is_some() {
            let mut withdrawn = true;
            while !self.urgent.is_empty() || !self.outbox.is_empty() || self.rib.pending() > 0 {
                match tokio::time::timeout(WITHDRAW_STALL, writable(&self.connection)).await {
                    Ok(true) => self.send_next(),
                    Ok(false) => break,
                    Err(_) => {
                        withdrawn = false;
                        warn!(peer = %self.peer.name, "the router reads nothing: withdraw abandoned, closing");
                        break;
                    }
                }
            }
            if withdrawn {
                info!(peer = %self.peer.name, "routes withdrawn");
            }
        }
        // AdminDown first: the router must not take our Cease's closing of BFD for a failure.
        if let (Some(bfd), Some(_)) = (&self.bfd.task, self.peer.bfd) {
            bfd.send(BfdCommand::Stop { peer: self.peer.name.clone() });
        }
        let actions = self.fsm.handle(Instant::now(), Event::Stop { message });
        for action in actions {
            match action {
                Action::Send(message) => self.urgent.push_back(Outgoing::Message(message)),
                Action::Close => {
                    if let Some(connection) = self.connection.take() {
                        let last = self.urgent.drain(..).collect();
                        let closing = connection.into_closing(last, self.peer.name.clone());
                        close::close(closing, Instant::now() + CLOSE_FLUSH).await;
                    }
                }
                _ => {}
            }
        }
        if self.reported_state != self.fsm.state() {
            self.state_changed(self.reported_state, self.fsm.state());
        }
    }
}

/// Whatever happens first on the connection: a frame, the writer ending, or room to write.
async fn connection_wake(connection: &mut Option<Connection>, want_write: bool) -> Wake {
    let Some(connection) = connection else { return std::future::pending().await };
    tokio::select! {
        biased;
        frame = connection.reader.next() => Wake::Frame(frame),
        result = &mut connection.writer_task, if !connection.writer_done => {
            connection.writer_done = true;
            Wake::WriterFinished(match result {
                // The writer only ends on its own when the socket failed or closed.
                Ok(result) => result.and(Err(CodecError::Io(io::ErrorKind::BrokenPipe.into()))),
                Err(_) => Err(CodecError::Io(io::ErrorKind::BrokenPipe.into())),
            })
        }
        room = connection.writer.reserve(), if want_write => Wake::Writable(room.is_ok()),
    }
}

async fn connect_progress(connecting: &mut Option<ConnectFuture>) -> io::Result<TcpStream> {
    match connecting {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Waits for room in the writer queue without taking it (the permit would borrow the task).
async fn writable(connection: &Option<Connection>) -> bool {
    match connection {
        Some(connection) => connection.writer.reserve().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`; forever when there is none (a `select!` branch that never fires).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
