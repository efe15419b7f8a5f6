//! The speaker: the one owner of routing state. Sources — config VIPs and their health checks,
//! manual routes from the control socket, drain — send it events; it resolves what each prefix
//! should look like toward each peer and hands the changes to the peer tasks, each of which diffs
//! them against its own Adj-RIB-Out. Nothing here is shared behind a lock.
//!
//! Precedence per prefix and peer: a manual route beats an API process's route, which beats a
//! config VIP (an operator's explicit command is never overridden by a health check or a script).

mod api_routes;
mod commands;
pub mod drain;
mod processes;
mod reload;
pub mod state_file;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::{CheckConfig, Config, ConfigFile, PeerConfig, ProcessConfig, VipConfig, WhenDown};
use crate::control::proto::{Command, Response, RouteSpec};
use crate::driver::bfd::BfdHandle;
use crate::driver::bgp::{sleep_until, spawn_peer, PeerCommand, PeerStateEvent, PeerStatus};
use crate::driver::tcp_md5::ListenerKeys;
use crate::exabgp::process::{ProcessEvent, ProcessHandle};
use crate::health::{self, CheckReport, Health};
use crate::listener;
use crate::policy::{same_state, Announcement, GRACEFUL_SHUTDOWN};
use crate::status::Status;
use drain::{Drain, Source};

pub enum SpeakerEvent {
    Check(CheckReport),
    /// `startup_grace` passed: send End-of-RIB even if some check has no verdict yet.
    StartupGraceOver,
    /// A router connected to a listening socket.
    Inbound(TcpStream),
    Control {
        command: Command,
        reply: oneshot::Sender<Response>,
    },
    Snapshot(oneshot::Sender<Status>),
    /// Re-read the config file (SIGHUP, or `rhi reload` which wants the outcome).
    Reload {
        reply: Option<oneshot::Sender<Response>>,
    },
    /// A line from an API process, or its start or death.
    Process(ProcessEvent),
    /// A session changed state (API processes hear of it).
    PeerState(PeerStateEvent),
    /// Withdraw everything from every peer, Cease every session, then answer.
    Shutdown {
        message: String,
        done: oneshot::Sender<()>,
    },
}

/// How long shutdown waits for peers to write their withdrawals and NOTIFICATION.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1800);
/// How often `drain.file` is looked at.
const DRAIN_FILE_POLL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct CheckStatus {
    pub state: Health,
    /// Reached its first verdict (risen, or confirmed down).
    pub decided: bool,
    pub reason: String,
}

/// The speaker's end of a peer task.
#[derive(Clone)]
pub struct PeerLink {
    pub name: String,
    pub commands: mpsc::UnboundedSender<PeerCommand>,
}

struct PeerSlot {
    link: PeerLink,
    config: Option<PeerConfig>,
    status: Option<watch::Receiver<PeerStatus>>,
}

struct CheckSlot {
    config: CheckConfig,
    status: CheckStatus,
    task: Option<JoinHandle<()>>,
    probes: u64,
    failures: u64,
    last_duration: Option<Duration>,
}

struct Vip {
    config: VipConfig,
    healthy: Announcement,
    /// What the speaker currently wants announced for this VIP (None = withdrawn).
    current: Option<Arc<Announcement>>,
}

struct Manual {
    spec: RouteSpec,
    announcement: Arc<Announcement>,
    /// Empty = every peer.
    peers: Vec<String>,
}

pub struct Speaker {
    config: Config,
    config_file: Option<ConfigFile>,
    /// Handed to check tasks so their reports reach this loop.
    events: Option<mpsc::UnboundedSender<SpeakerEvent>>,
    peers: BTreeMap<String, PeerSlot>,
    vips: Vec<Vip>,
    checks: BTreeMap<String, CheckSlot>,
    manual: BTreeMap<IpNet, Manual>,
    drain: Drain,
    drain_waiters: Vec<(Vec<IpNet>, oneshot::Sender<Response>)>,
    drain_file_present: bool,
    interned: HashSet<Arc<Announcement>>,
    /// Prefixes whose resolution may have changed since the last publish, with repeats: sorting
    /// once per publish costs less than a set insert per prefix of a bulk announcement.
    touched: Vec<IpNet>,
    initial_table_complete: bool,
    started: Instant,
    processes: BTreeMap<String, (ProcessConfig, ProcessHandle)>,
    /// Routes from API processes, per prefix (several processes or peers may hold one).
    api: api_routes::ApiRoutes,
    /// Peers whose `up` the processes were told, so that each `down` follows an `up`.
    announced_up: HashSet<String>,
    /// ExaBGP's JSON `counter`: one sequence over every event rhi writes.
    event_counter: u64,
    /// Where an API `shutdown` asks the daemon to stop.
    stop_requests: Option<mpsc::UnboundedSender<String>>,
    /// The BFD task, started with the first peer that has `bfd`.
    bfd: Option<BfdHandle>,
    /// The listening sockets, for their TCP-MD5 keys (set again on reload).
    listener_keys: ListenerKeys,
    /// The state file says the previous run did not stop cleanly (a crash, SIGKILL): the first
    /// OPENs carry graceful restart's Restart State bit. False once the first peers are spawned.
    restarting: bool,
    /// The listening sockets, for their GTSM filters (set again on reload).
    listener_ttl: crate::driver::ttl::ListenerTtl,
}

impl Speaker {
    /// A speaker over existing peer links; nothing is spawned (see [`Speaker::start`]).
    pub fn new(config: &Config, links: Vec<PeerLink>) -> Speaker {
        let vips = config.vips.iter().map(Vip::new).collect();
        let checks = config.checks.iter().map(|(name, check)| (name.clone(), CheckSlot::new(check.clone()))).collect();
        let peers =
            links.into_iter().map(|link| (link.name.clone(), PeerSlot { link, config: None, status: None })).collect();
        Speaker {
            config: config.clone(),
            config_file: None,
            events: None,
            peers,
            vips,
            checks,
            manual: BTreeMap::new(),
            drain: Drain::default(),
            drain_waiters: Vec::new(),
            drain_file_present: false,
            interned: HashSet::new(),
            touched: Vec::new(),
            initial_table_complete: false,
            started: Instant::now(),
            processes: BTreeMap::new(),
            api: api_routes::ApiRoutes::default(),
            announced_up: HashSet::new(),
            event_counter: 0,
            stop_requests: None,
            bfd: None,
            listener_keys: ListenerKeys::default(),
            restarting: false,
            listener_ttl: Default::default(),
        }
    }

    /// The daemon's speaker: spawns a task per peer, check and API process, restores the state
    /// file. An API process's `shutdown` is passed on to `stop_requests`.
    pub fn start(
        config: Config,
        config_file: Option<ConfigFile>,
        events: mpsc::UnboundedSender<SpeakerEvent>,
        stop_requests: mpsc::UnboundedSender<String>,
    ) -> Speaker {
        let mut speaker = Speaker::new(&config, Vec::new());
        speaker.config_file = config_file;
        speaker.events = Some(events);
        speaker.stop_requests = Some(stop_requests);
        // Before the peers: the state file says whether the last run crashed, which their
        // first OPEN tells the router (graceful restart's Restart State bit).
        speaker.restore_state();
        speaker.save_state(true);
        for peer in config.peers.clone() {
            speaker.add_peer(peer);
        }
        // Peers added later (reload) are not part of the restart.
        speaker.restarting = false;
        let names: Vec<String> = speaker.checks.keys().cloned().collect();
        for name in names {
            speaker.spawn_check(&name, None);
        }
        speaker.spawn_processes();
        speaker
    }

    /// The daemon's listening sockets, their keys already set for the configured peers.
    pub fn set_listener_keys(&mut self, keys: ListenerKeys) {
        self.listener_keys = keys;
    }

    /// The daemon's listening sockets, their GTSM filters already set for the configured peers.
    pub fn set_listener_ttl(&mut self, ttl: crate::driver::ttl::ListenerTtl) {
        self.listener_ttl = ttl;
    }

    fn add_peer(&mut self, peer: PeerConfig) {
        let state_events = self.events.clone().map(|events| {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if events.send(SpeakerEvent::PeerState(event)).is_err() {
                        return;
                    }
                }
            });
            tx
        });
        let bfd = peer.bfd.map(|_| self.bfd.get_or_insert_with(crate::driver::bfd::spawn).clone());
        let handle =
            spawn_peer(peer.clone(), self.config.local_as, self.config.router_id, state_events, bfd, self.restarting);
        let link = PeerLink { name: peer.name.clone(), commands: handle.commands.clone() };
        // The task ends by itself after a Shutdown command; its handle is not needed.
        let slot = PeerSlot { link, config: Some(peer.clone()), status: Some(handle.status) };
        self.peers.insert(peer.name.clone(), slot);
        // A new session starts from the whole table.
        let prefixes: Vec<IpNet> = self.known_prefixes().into_iter().collect();
        let routes = prefixes.iter().map(|p| (*p, self.resolve(p, &peer.name))).collect();
        self.send_to(&peer.name, PeerCommand::Routes(routes));
        if self.initial_table_complete {
            self.send_to(&peer.name, PeerCommand::InitialTableComplete);
        }
    }

    fn spawn_check(&mut self, name: &str, resume: Option<Health>) {
        let (Some(events), Some(slot)) = (self.events.clone(), self.checks.get_mut(name)) else { return };
        let (reports, mut reports_rx) = mpsc::unbounded_channel();
        let probe = tokio::spawn(health::run_check(name.to_string(), slot.config.clone(), resume, reports));
        let forward = tokio::spawn(async move {
            while let Some(report) = reports_rx.recv().await {
                if events.send(SpeakerEvent::Check(report)).is_err() {
                    return;
                }
            }
        });
        // Aborting the forwarder drops the receiver, which ends the probe loop at its next report;
        // abort both so a removed check stops at once.
        slot.task = Some(tokio::spawn(async move {
            let _stop_probe = AbortOnDrop(probe);
            let _ = forward.await;
        }));
    }

    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<SpeakerEvent>) {
        self.refresh();
        let mut drain_file = tokio::time::interval(DRAIN_FILE_POLL);
        drain_file.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.drain.next_deadline().map(instant_for);
            let watch_file = self.config.drain.file.is_some();
            tokio::select! {
                event = events.recv() => match event {
                    None => return,
                    Some(SpeakerEvent::Shutdown { message, done }) => {
                        self.shutdown(message).await;
                        let _ = done.send(());
                        return;
                    }
                    Some(event) => self.handle(event),
                },
                _ = sleep_until(deadline), if deadline.is_some() => {
                    if self.drain.expire(SystemTime::now()) {
                        info!("drain: withdraw_after passed, withdrawing drained VIPs");
                        self.persist();
                    }
                }
                _ = drain_file.tick(), if watch_file => self.poll_drain_file(),
            }
            self.refresh();
        }
    }

    fn handle(&mut self, event: SpeakerEvent) {
        match event {
            SpeakerEvent::Check(report) => self.check_report(report),
            SpeakerEvent::StartupGraceOver => {
                if !self.initial_table_complete {
                    let waiting: Vec<&String> =
                        self.checks.iter().filter(|(_, c)| !c.status.decided).map(|(name, _)| name).collect();
                    warn!(checks = ?waiting, "startup_grace passed before these checks had a verdict: sending End-of-RIB");
                    self.complete_initial_table();
                }
            }
            SpeakerEvent::Inbound(stream) => self.inbound(stream),
            SpeakerEvent::Control { command, reply } => self.command(command, reply),
            SpeakerEvent::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            SpeakerEvent::Reload { reply } => {
                let response = self.reload();
                if let Some(reply) = reply {
                    let _ = reply.send(response);
                }
            }
            SpeakerEvent::Process(event) => self.process_event(event),
            SpeakerEvent::PeerState(event) => self.peer_state_event(event),
            SpeakerEvent::Shutdown { .. } => {}
        }
    }

    fn check_report(&mut self, report: CheckReport) {
        let Some(slot) = self.checks.get_mut(&report.check) else { return };
        slot.probes += 1;
        slot.failures += u64::from(report.failed);
        slot.last_duration = Some(report.duration);
        slot.status = CheckStatus { state: report.state, decided: report.decided, reason: report.reason };
        if report.changed && self.recompute_vips() {
            // Ahead of the routes it explains, so the first UPDATE they cause carries it.
            self.broadcast(|| PeerCommand::VerdictAt(report.at));
            self.refresh();
        }
    }

    fn inbound(&mut self, stream: TcpStream) {
        let Ok(remote) = stream.peer_addr() else { return };
        let source = listener::canonical(remote.ip());
        let peer = self.peers.values().find(|slot| slot.config.as_ref().is_some_and(|c| c.address == source));
        match peer {
            // Its key could not be set on the listeners: the kernel did not check the signature.
            Some(slot) if !self.listener_keys.ready(source, slot.config.as_ref().and_then(|c| c.md5.as_ref())) => {
                warn!(peer = %slot.link.name, %remote, "refused connection: the peer's TCP-MD5 key is not on the listening socket");
            }
            Some(slot) => {
                if slot.link.commands.send(PeerCommand::Inbound(stream)).is_err() {
                    warn!(peer = %slot.link.name, "peer task has stopped; connection dropped");
                }
            }
            None => info!(%remote, "refused connection: not a configured peer"),
        }
    }

    /// Recomputes every VIP, publishes what changed, answers drain waiters, releases End-of-RIB.
    fn refresh(&mut self) {
        self.recompute_vips();
        self.publish();
        self.answer_drain_waiters();
        if !self.initial_table_complete && self.checks.values().all(|c| c.status.decided) {
            self.complete_initial_table();
        }
    }

    /// Brings every VIP's desired announcement up to date; true when any changed.
    fn recompute_vips(&mut self) -> bool {
        for index in 0..self.vips.len() {
            let health = self.vip_health(&self.vips[index].config);
            let drained = self.drain.state_of(&self.vips[index].config.prefix);
            let wanted = self.desired_for(index, health, drained);
            let vip = &mut self.vips[index];
            if !same_state(&vip.current, &wanted) {
                let prefix = vip.config.prefix;
                let drained = drained.is_some();
                match &wanted {
                    Some(a) => info!(vip = %prefix, health = %health.as_str(), drained, med = ?a.med, "announce"),
                    None => info!(vip = %prefix, health = %health.as_str(), drained, "withdraw"),
                }
                vip.current = wanted;
                self.touched.push(prefix);
            }
        }
        !self.touched.is_empty()
    }

    /// Sends each peer its resolution of every touched prefix.
    fn publish(&mut self) {
        if self.touched.is_empty() {
            return;
        }
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        let names: Vec<String> = self.peers.keys().cloned().collect();
        for name in names {
            let api_routes = self.api.routes_for_sorted(&touched, &name);
            let routes =
                touched.iter().zip(api_routes).map(|(p, api)| (*p, self.resolve_with(p, &name, api))).collect();
            self.send_to(&name, PeerCommand::Routes(routes));
        }
    }

    /// What `peer` should hold for `prefix`: a manual route meant for it, else an API process's
    /// route, else the VIP's state.
    fn resolve(&self, prefix: &IpNet, peer: &str) -> Option<Arc<Announcement>> {
        self.resolve_with(prefix, peer, self.api_route_for(prefix, peer))
    }

    /// `resolve`, given the API process's route for `prefix` toward `peer`, looked up already.
    fn resolve_with(
        &self,
        prefix: &IpNet,
        peer: &str,
        api_route: Option<&api_routes::ApiRoute>,
    ) -> Option<Arc<Announcement>> {
        if let Some(manual) = self.manual_for(prefix, peer) {
            return Some(manual.announcement.clone());
        }
        if let Some(route) = api_route {
            return Some(route.announcement.clone());
        }
        self.vips.iter().find(|vip| vip.config.prefix == *prefix).and_then(|vip| vip.current.clone())
    }

    /// Which source `resolve` takes `prefix` from for `peer`: `manual`, `ctl`, `process:NAME`
    /// or `config`.
    fn source_of(&self, prefix: &IpNet, peer: &str) -> Cow<'static, str> {
        if self.manual_for(prefix, peer).is_some() {
            return Cow::Borrowed("manual");
        }
        match self.api_route_for(prefix, peer) {
            Some(route) if &*route.process == processes::CTL_OWNER => Cow::Borrowed("ctl"),
            Some(route) => Cow::Owned(format!("process:{}", route.process)),
            None => Cow::Borrowed("config"),
        }
    }

    fn manual_for(&self, prefix: &IpNet, peer: &str) -> Option<&Manual> {
        self.manual.get(prefix).filter(|manual| manual.peers.is_empty() || manual.peers.iter().any(|p| p == peer))
    }

    /// The first process to announce `prefix` toward `peer` holds it until it withdraws.
    fn api_route_for(&self, prefix: &IpNet, peer: &str) -> Option<&api_routes::ApiRoute> {
        self.api.route_for(prefix, peer)
    }

    fn known_prefixes(&self) -> BTreeSet<IpNet> {
        self.vips
            .iter()
            .map(|vip| vip.config.prefix)
            .chain(self.manual.keys().copied())
            .chain(self.api.prefixes())
            .collect()
    }

    fn complete_initial_table(&mut self) {
        self.initial_table_complete = true;
        self.broadcast(|| PeerCommand::InitialTableComplete);
    }

    /// All of a VIP's checks must pass; the worst one decides. No checks = always up.
    fn vip_health(&self, vip: &VipConfig) -> Health {
        vip.checks
            .iter()
            .map(|name| self.checks.get(name).map_or(Health::Down, |c| c.status.state))
            .min()
            .unwrap_or(Health::Up)
    }

    fn desired_for(
        &mut self,
        index: usize,
        health: Health,
        drained: Option<drain::Entry>,
    ) -> Option<Arc<Announcement>> {
        let vip = &self.vips[index];
        let mut announcement = match health {
            Health::Up => vip.healthy.clone(),
            Health::Degraded => match &vip.config.when_degraded {
                Some(degraded) => vip.healthy.overridden(degraded),
                None => vip.healthy.clone(),
            },
            Health::Down => match &vip.config.when_down {
                WhenDown::Withdraw => return None,
                WhenDown::Announce(down) => vip.healthy.overridden(down),
            },
        };
        if let Some(entry) = drained {
            if entry.withdrawn {
                return None;
            }
            announcement = self.drained(announcement);
        }
        Some(self.intern(announcement))
    }

    /// The drain attributes (DESIGN §2 `drain:`) on top of whatever the VIP announces.
    fn drained(&self, announcement: Announcement) -> Announcement {
        let drain = &self.config.drain;
        let mut communities = Vec::new();
        if drain.graceful_shutdown {
            communities.push(GRACEFUL_SHUTDOWN);
        }
        announcement.overridden(&crate::config::AttrOverride {
            med: drain.med,
            as_path_prepend: drain.as_path_prepend,
            communities,
            ..Default::default()
        })
    }

    /// One `Arc` per distinct announcement, so peers group equal routes into one UPDATE by
    /// pointer.
    fn intern(&mut self, announcement: Announcement) -> Arc<Announcement> {
        if let Some(shared) = self.interned.get(&announcement) {
            return shared.clone();
        }
        let shared = Arc::new(announcement);
        self.interned.insert(shared.clone());
        shared
    }

    fn broadcast(&self, command: impl Fn() -> PeerCommand) {
        for name in self.peers.keys() {
            self.send_to(name, command());
        }
    }

    fn send_to(&self, peer: &str, command: PeerCommand) {
        if let Some(slot) = self.peers.get(peer) {
            if slot.link.commands.send(command).is_err() {
                warn!(peer = %peer, "peer task has stopped");
            }
        }
    }

    fn poll_drain_file(&mut self) {
        let Some(path) = &self.config.drain.file else { return };
        let present = path.exists();
        if present == self.drain_file_present {
            return;
        }
        self.drain_file_present = present;
        if present {
            info!(file = %path.display(), "drain file present: draining every VIP");
            self.drain.drain(None, self.config.drain.withdraw_after, Source::File, SystemTime::now());
        } else if self.drain.source == Some(Source::File) {
            info!(file = %path.display(), "drain file removed: undraining");
            self.drain.undrain(None, &[]);
        }
        self.persist();
    }

    fn answer_drain_waiters(&mut self) {
        let waiters = std::mem::take(&mut self.drain_waiters);
        for (prefixes, reply) in waiters {
            if self.drain.settled(&prefixes) {
                let _ = reply.send(Response::done(format!("drain complete for {} VIP(s)", prefixes.len())));
            } else if !reply.is_closed() {
                self.drain_waiters.push((prefixes, reply));
            }
        }
    }

    fn persist(&self) {
        self.save_state(true);
    }

    /// Writes the state file; `running` is the crash mark: true while rhi runs, false once a
    /// deliberate stop has withdrawn everything.
    fn save_state(&self, running: bool) {
        let Some(path) = &self.config.state_file else { return };
        let state = state_file::Persisted {
            version: 0,
            running,
            drain: if self.drain.source == Some(Source::Shutdown) { Drain::default() } else { self.drain.clone() },
            manual: self
                .manual
                .iter()
                .map(|(prefix, m)| state_file::ManualRecord {
                    prefix: *prefix,
                    route: m.spec.clone(),
                    peers: m.peers.clone(),
                })
                .collect(),
        };
        if let Err(error) = state_file::save(path, &state) {
            error!(file = %path.display(), %error, "cannot write the state file: drain and manual routes will not survive a restart");
        }
    }

    fn restore_state(&mut self) {
        let Some(path) = self.config.state_file.clone() else { return };
        match state_file::load(&path) {
            Ok(state_file::Loaded::Missing) => {}
            Ok(state_file::Loaded::Corrupt { reason, moved_to }) => error!(
                file = %path.display(),
                moved_to = %moved_to.display(),
                %reason,
                "state file is corrupt: set aside; starting with no drain and no manual routes"
            ),
            Ok(state_file::Loaded::Restored(state)) => {
                if state.running {
                    self.restarting = true;
                    warn!("the previous run of rhi did not stop cleanly (crash, SIGKILL): telling routers with graceful restart that rhi restarted");
                }
                self.drain = state.drain;
                self.drain.expire(SystemTime::now());
                // The file's presence was last seen as what started this drain: the first poll
                // then undrains if the file went away meanwhile, and does not restart the
                // withdrawal clock of a drain the file already started.
                self.drain_file_present = self.drain.source == Some(Source::File);
                if self.drain.is_active() {
                    info!(source = ?self.drain.source, "restored drain state from the state file");
                }
                for record in state.manual {
                    match record.route.to_announcement() {
                        Ok(announcement) => {
                            let announcement = self.intern(announcement);
                            info!(prefix = %record.prefix, "restored manual route");
                            self.manual.insert(
                                record.prefix,
                                Manual { spec: record.route, announcement, peers: record.peers },
                            );
                            self.touched.push(record.prefix);
                        }
                        Err(reason) => {
                            error!(prefix = %record.prefix, %reason, "state file: manual route not restored")
                        }
                    }
                }
            }
            Err(error) => error!(file = %path.display(), %error, "cannot read the state file"),
        }
    }

    /// SIGTERM: optionally drain first (`drain.on_shutdown`), then every peer withdraws and
    /// closes in parallel; a peer that cannot finish in time (a router that stopped reading)
    /// does not hold up the others or the exit.
    pub async fn shutdown(&mut self, message: String) {
        let on_shutdown = self.config.drain.on_shutdown;
        if !on_shutdown.is_zero() {
            info!(seconds = on_shutdown.as_secs_f64(), "draining before shutdown");
            self.drain.drain(None, Duration::ZERO, Source::Shutdown, SystemTime::now());
            self.refresh();
            tokio::time::sleep(on_shutdown).await;
        }
        let mut waiting = Vec::new();
        for (name, slot) in &self.peers {
            let (done, finished) = oneshot::channel();
            if slot.link.commands.send(PeerCommand::Shutdown { message: message.clone(), done }).is_ok() {
                waiting.push((name.clone(), finished));
            }
        }
        let all = async {
            for (name, finished) in waiting {
                if finished.await.is_err() {
                    warn!(peer = %name, "peer task ended before confirming shutdown");
                }
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
            warn!("some peers did not finish withdrawing in time");
        }
        // A deliberate stop, not a crash: the next start is not a graceful restart.
        self.save_state(false);
        // After the peers: the withdrawals are out before a process's exit could change them.
        self.stop_processes().await;
    }
}

impl Vip {
    fn new(config: &VipConfig) -> Vip {
        Vip { config: config.clone(), healthy: Announcement::from_attrs(&config.attributes), current: None }
    }
}

impl CheckSlot {
    fn new(config: CheckConfig) -> CheckSlot {
        let status = CheckStatus { state: Health::Down, decided: false, reason: "no result yet".into() };
        CheckSlot { config, status, task: None, probes: 0, failures: 0, last_duration: None }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A wall-clock deadline as a monotonic one (deadlines are wall-clock to survive restarts).
fn instant_for(at: SystemTime) -> Instant {
    Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;
    use std::path::PathBuf;

    use super::*;
    use crate::config::{AttrOverride, CheckConfig, CheckKind, ControlConfig, DrainConfig, RouteAttrs, VipConfig};
    use ipnet::IpNet;

    fn vip(prefix: &str, checks: &[&str], med: u32) -> VipConfig {
        VipConfig {
            prefix: prefix.parse().unwrap(),
            checks: checks.iter().map(|c| c.to_string()).collect(),
            attributes: RouteAttrs { med: Some(med), ..Default::default() },
            when_down: WhenDown::Withdraw,
            when_degraded: None,
        }
    }

    fn config(vips: Vec<VipConfig>, checks: &[&str]) -> Config {
        let check = CheckConfig {
            kind: CheckKind::Tcp { address: "127.0.0.1:1".parse().unwrap() },
            interval: Duration::from_secs(1),
            fast_interval: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
            rise: 1,
            fall: 1,
        };
        Config {
            router_id: Ipv4Addr::new(10, 25, 150, 10),
            local_as: 65010,
            listen: vec![],
            peers: vec![],
            checks: checks.iter().map(|c| (c.to_string(), check.clone())).collect::<BTreeMap<_, _>>(),
            vips,
            drain: DrainConfig {
                med: None,
                as_path_prepend: None,
                graceful_shutdown: true,
                withdraw_after: Duration::ZERO,
                file: None,
                on_shutdown: Duration::ZERO,
            },
            control: ControlConfig { socket: PathBuf::from("/nonexistent") },
            state_file: None,
            metrics: None,
            processes: vec![],
            startup_grace: Duration::from_secs(10),
            graceful_restart: None,
        }
    }

    fn speaker(config: &Config) -> (Speaker, mpsc::UnboundedReceiver<PeerCommand>) {
        let (commands, rx) = mpsc::unbounded_channel();
        (Speaker::new(config, vec![PeerLink { name: "sw01".into(), commands }]), rx)
    }

    fn report(check: &str, state: Health) -> CheckReport {
        CheckReport {
            check: check.into(),
            state,
            decided: true,
            changed: true,
            failed: state == Health::Down,
            reason: "test".into(),
            duration: Duration::ZERO,
            at: Instant::now(),
        }
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<PeerCommand>) -> Vec<PeerCommand> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn routes(commands: &[PeerCommand]) -> Vec<(IpNet, Option<u32>)> {
        commands
            .iter()
            .filter_map(|c| match c {
                PeerCommand::Routes(r) => {
                    Some(r.iter().map(|(p, a)| (*p, a.as_ref().and_then(|a| a.med))).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn eor(commands: &[PeerCommand]) -> bool {
        commands.iter().any(|c| matches!(c, PeerCommand::InitialTableComplete))
    }

    fn apply(speaker: &mut Speaker, check: &str, state: Health) {
        speaker.check_report(report(check, state));
    }

    #[test]
    fn a_vip_without_checks_is_announced_at_once_and_end_of_rib_follows() {
        let config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.refresh();
        let sent = drain(&mut rx);
        assert_eq!(routes(&sent), vec![("10.46.46.46/32".parse().unwrap(), Some(300))]);
        assert!(eor(&sent));
    }

    #[test]
    fn a_checked_vip_starts_withdrawn_and_end_of_rib_waits_for_the_first_verdict() {
        let config = config(vec![vip("10.46.46.46/32", &["web"], 300)], &["web"]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.refresh();
        let sent = drain(&mut rx);
        assert!(routes(&sent).is_empty());
        assert!(!eor(&sent), "End-of-RIB must wait for the check");
        apply(&mut speaker, "web", Health::Up);
        let sent = drain(&mut rx);
        assert_eq!(routes(&sent), vec![("10.46.46.46/32".parse().unwrap(), Some(300))]);
        assert!(eor(&sent));
    }

    #[test]
    fn health_drives_withdraw_degraded_and_when_down_attributes() {
        let mut degraded = vip("10.0.0.1/32", &["web"], 300);
        degraded.when_degraded = Some(AttrOverride { med: Some(350), ..Default::default() });
        let mut stays = vip("10.0.0.2/32", &["web"], 300);
        stays.when_down = WhenDown::Announce(AttrOverride { med: Some(1000), ..Default::default() });
        let config = config(vec![degraded, stays], &["web"]);
        let (mut speaker, mut rx) = speaker(&config);
        apply(&mut speaker, "web", Health::Up);
        drain(&mut rx);
        apply(&mut speaker, "web", Health::Degraded);
        // Only the VIP with `when_degraded` changes; the other keeps its healthy attributes.
        assert_eq!(routes(&drain(&mut rx)), vec![("10.0.0.1/32".parse().unwrap(), Some(350))]);
        apply(&mut speaker, "web", Health::Down);
        assert_eq!(
            routes(&drain(&mut rx)),
            vec![("10.0.0.1/32".parse().unwrap(), None), ("10.0.0.2/32".parse().unwrap(), Some(1000))]
        );
    }

    #[test]
    fn an_unchanged_verdict_sends_nothing() {
        let config = config(vec![vip("10.46.46.46/32", &["web"], 300)], &["web"]);
        let (mut speaker, mut rx) = speaker(&config);
        apply(&mut speaker, "web", Health::Up);
        drain(&mut rx);
        apply(&mut speaker, "web", Health::Up);
        assert!(drain(&mut rx).is_empty());
    }

    #[test]
    fn every_check_of_a_vip_must_pass() {
        let config = config(vec![vip("10.46.46.46/32", &["web", "api"], 300)], &["web", "api"]);
        let (mut speaker, mut rx) = speaker(&config);
        apply(&mut speaker, "web", Health::Up);
        assert!(routes(&drain(&mut rx)).is_empty(), "api has no verdict yet");
        apply(&mut speaker, "api", Health::Up);
        assert_eq!(routes(&drain(&mut rx)).len(), 1);
        apply(&mut speaker, "api", Health::Down);
        assert_eq!(routes(&drain(&mut rx)), vec![("10.46.46.46/32".parse().unwrap(), None)]);
    }

    #[test]
    fn equal_announcements_share_one_arc() {
        let config = config(vec![vip("10.0.0.1/32", &[], 300), vip("10.0.0.2/32", &[], 300)], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.refresh();
        let sent = drain(&mut rx);
        let PeerCommand::Routes(changes) = &sent[0] else { panic!("expected routes") };
        let (a, b) = (changes[0].1.as_ref().unwrap(), changes[1].1.as_ref().unwrap());
        assert!(Arc::ptr_eq(a, b), "one UPDATE can carry both");
    }

    fn command(speaker: &mut Speaker, command: Command) -> Response {
        let (reply, mut answer) = oneshot::channel();
        speaker.command(command, reply);
        speaker.refresh();
        answer.try_recv().expect("answered at once")
    }

    fn announce(prefix: &str, med: u32, peers: &[&str]) -> Command {
        Command::Announce {
            prefix: prefix.parse().unwrap(),
            route: RouteSpec { med: Some(med), ..Default::default() },
            peers: peers.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_manual_route_beats_the_vip_and_its_health_check() {
        let config = config(vec![vip("10.46.46.46/32", &["web"], 300)], &["web"]);
        let (mut speaker, mut rx) = speaker(&config);
        apply(&mut speaker, "web", Health::Up);
        drain(&mut rx);
        assert!(command(&mut speaker, announce("10.46.46.46/32", 50, &[])).ok);
        assert_eq!(routes(&drain(&mut rx)), vec![("10.46.46.46/32".parse().unwrap(), Some(50))]);
        apply(&mut speaker, "web", Health::Down);
        assert!(routes(&drain(&mut rx)).iter().all(|(_, med)| *med == Some(50)), "the check does not override it");
        assert!(
            command(&mut speaker, Command::Withdraw { prefix: "10.46.46.46/32".parse().unwrap(), peers: vec![] }).ok
        );
        assert_eq!(routes(&drain(&mut rx)), vec![("10.46.46.46/32".parse().unwrap(), None)], "back to the (down) VIP");
    }

    #[test]
    fn manual_routes_can_target_one_peer() {
        let config = config(vec![], &[]);
        let (a, mut rx_a) = mpsc::unbounded_channel();
        let (b, mut rx_b) = mpsc::unbounded_channel();
        let links = vec![PeerLink { name: "sw01".into(), commands: a }, PeerLink { name: "sw02".into(), commands: b }];
        let mut speaker = Speaker::new(&config, links);
        assert!(command(&mut speaker, announce("10.99.0.1/32", 10, &["sw02"])).ok);
        assert_eq!(routes(&drain(&mut rx_a)), vec![("10.99.0.1/32".parse().unwrap(), None)]);
        assert_eq!(routes(&drain(&mut rx_b)), vec![("10.99.0.1/32".parse().unwrap(), Some(10))]);
        let refused = command(&mut speaker, announce("10.99.0.2/32", 10, &["nope"]));
        assert_eq!(refused.error.as_deref(), Some("no such peer: nope"));
    }

    #[test]
    fn withdrawing_a_vip_or_an_unknown_route_is_refused_with_a_reason() {
        let config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        let (mut speaker, _rx) = speaker(&config);
        let vip = command(&mut speaker, Command::Withdraw { prefix: "10.46.46.46/32".parse().unwrap(), peers: vec![] });
        assert!(vip.error.unwrap().contains("rhi drain"));
        let unknown =
            command(&mut speaker, Command::Withdraw { prefix: "10.1.1.1/32".parse().unwrap(), peers: vec![] });
        assert_eq!(unknown.error.as_deref(), Some("no manual route for 10.1.1.1/32"));
    }

    #[test]
    fn drain_applies_drain_attributes_then_undrain_restores() {
        let mut config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        config.drain.med = Some(1000);
        config.drain.as_path_prepend = Some(3);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.refresh();
        drain(&mut rx);
        let drained = command(&mut speaker, Command::Drain { prefixes: vec![], withdraw_after: None, wait: false });
        assert!(drained.ok, "{drained:?}");
        let sent = drain(&mut rx);
        let PeerCommand::Routes(changes) = &sent[0] else { panic!("expected routes") };
        let announcement = changes[0].1.as_ref().unwrap();
        assert_eq!((announcement.med, announcement.as_path_prepend), (Some(1000), 3));
        assert!(announcement.communities.contains(&GRACEFUL_SHUTDOWN));
        assert!(command(&mut speaker, Command::Undrain { prefixes: vec![] }).ok);
        assert_eq!(routes(&drain(&mut rx)), vec![("10.46.46.46/32".parse().unwrap(), Some(300))]);
    }

    #[test]
    fn a_drain_whose_time_has_come_withdraws() {
        let config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.refresh();
        drain(&mut rx);
        let answer =
            command(&mut speaker, Command::Drain { prefixes: vec![], withdraw_after: Some("30s".into()), wait: false });
        assert!(answer.message.unwrap().contains("withdrawn in 30s"));
        drain(&mut rx);
        assert!(speaker.drain.expire(SystemTime::now() + Duration::from_secs(31)));
        speaker.refresh();
        assert_eq!(routes(&drain(&mut rx)), vec![("10.46.46.46/32".parse().unwrap(), None)]);
        let status = speaker.snapshot();
        assert!(status.routes[0].drained && !status.routes[0].announced);
    }

    #[test]
    fn draining_something_that_is_not_a_vip_is_refused() {
        let config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        let (mut speaker, _rx) = speaker(&config);
        let answer = command(
            &mut speaker,
            Command::Drain { prefixes: vec!["10.9.9.9/32".parse().unwrap()], withdraw_after: None, wait: false },
        );
        assert_eq!(answer.error.as_deref(), Some("10.9.9.9/32 is not a VIP of this node"));
    }

    /// Lines from an API process, answered and published as the run loop would.
    fn from_process(speaker: &mut Speaker, process: &str, lines: &[&str]) -> Vec<crate::exabgp::process::Reply> {
        let (reply, mut answer) = oneshot::channel();
        let lines = lines.iter().map(|l| l.to_string()).collect();
        speaker.process_event(ProcessEvent::Lines { process: process.into(), lines, reply });
        speaker.refresh();
        answer.try_recv().expect("answered at once")
    }

    fn died(speaker: &mut Speaker, process: &str) {
        speaker.process_event(ProcessEvent::Died { process: process.into(), reason: "killed".into() });
        speaker.refresh();
    }

    fn p(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn precedence_is_manual_then_process_then_vip() {
        let config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.refresh();
        drain(&mut rx);
        let replies = from_process(&mut speaker, "hc", &["announce route 10.46.46.46/32 next-hop self med 100"]);
        assert!(replies[0].ok);
        assert_eq!(routes(&drain(&mut rx)), vec![(p("10.46.46.46/32"), Some(100))]);
        assert_eq!(speaker.source_of(&p("10.46.46.46/32"), "sw01"), "process:hc");
        assert!(command(&mut speaker, announce("10.46.46.46/32", 50, &[])).ok);
        assert_eq!(routes(&drain(&mut rx)), vec![(p("10.46.46.46/32"), Some(50))]);
        // A process's change under a manual route changes nothing on the wire.
        from_process(&mut speaker, "hc", &["announce route 10.46.46.46/32 next-hop self med 1000"]);
        assert!(routes(&drain(&mut rx)).iter().all(|(_, med)| *med == Some(50)));
        command(&mut speaker, Command::Withdraw { prefix: p("10.46.46.46/32"), peers: vec![] });
        assert_eq!(routes(&drain(&mut rx)), vec![(p("10.46.46.46/32"), Some(1000))], "the process's latest");
        from_process(&mut speaker, "hc", &["withdraw route 10.46.46.46/32"]);
        assert_eq!(routes(&drain(&mut rx)), vec![(p("10.46.46.46/32"), Some(300))], "back to the VIP");
    }

    #[test]
    fn a_dead_process_loses_only_its_own_routes() {
        let config = config(vec![], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        from_process(
            &mut speaker,
            "a",
            &[
                "announce attributes next-hop self med 10 nlri 10.0.0.1/32 10.0.0.2/32",
                "announce route 10.0.0.3/32 next-hop self med 11",
            ],
        );
        from_process(&mut speaker, "b", &["announce route 10.0.0.2/32 next-hop self med 20"]);
        drain(&mut rx);
        died(&mut speaker, "a");
        let mut after = routes(&drain(&mut rx));
        after.sort();
        assert_eq!(after, vec![(p("10.0.0.1/32"), None), (p("10.0.0.2/32"), Some(20)), (p("10.0.0.3/32"), None)]);
        assert_eq!(speaker.source_of(&p("10.0.0.2/32"), "sw01"), "process:b");
    }

    /// Two peers, sw01 at 10.0.0.1 and sw02 at 10.0.0.2, known to the processes.
    fn two_peer_speaker() -> (Speaker, mpsc::UnboundedReceiver<PeerCommand>, mpsc::UnboundedReceiver<PeerCommand>) {
        let config = config(vec![], &[]);
        let (one, rx1) = mpsc::unbounded_channel();
        let (two, rx2) = mpsc::unbounded_channel();
        let links =
            vec![PeerLink { name: "sw01".into(), commands: one }, PeerLink { name: "sw02".into(), commands: two }];
        let mut speaker = Speaker::new(&config, links);
        for (name, address) in [("sw01", "10.0.0.1"), ("sw02", "10.0.0.2")] {
            speaker.peers.get_mut(name).unwrap().config = Some(PeerConfig::example(name, address.parse().unwrap()));
        }
        (speaker, rx1, rx2)
    }

    #[test]
    fn a_route_for_every_peer_withdrawn_toward_one_stays_with_the_other() {
        let (mut speaker, mut sw01, mut sw02) = two_peer_speaker();
        from_process(&mut speaker, "hc", &["announce route 10.46.46.46/32 next-hop self med 100"]);
        assert_eq!(routes(&drain(&mut sw01)), vec![(p("10.46.46.46/32"), Some(100))]);
        assert_eq!(routes(&drain(&mut sw02)), vec![(p("10.46.46.46/32"), Some(100))]);
        let replies = from_process(&mut speaker, "hc", &["neighbor 10.0.0.1 withdraw route 10.46.46.46/32"]);
        assert!(replies[0].ok);
        assert_eq!(routes(&drain(&mut sw01)), vec![(p("10.46.46.46/32"), None)]);
        assert_eq!(routes(&drain(&mut sw02)), vec![(p("10.46.46.46/32"), Some(100))], "unchanged for sw02");
        assert_eq!(speaker.source_of(&p("10.46.46.46/32"), "sw02"), "process:hc");
        assert_eq!(speaker.source_of(&p("10.46.46.46/32"), "sw01"), "config");
    }

    #[test]
    fn a_line_that_does_not_parse_is_an_error_and_changes_nothing() {
        let config = config(vec![], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        let replies = from_process(
            &mut speaker,
            "hc",
            &["announce route 10.0.0.1/32 next-hop self med lots", "announce route 10.0.0.2/32 next-hop self"],
        );
        assert_eq!(
            replies.iter().map(|r| r.ok).collect::<Vec<_>>(),
            vec![false, true],
            "one answer per line, in order"
        );
        // Announced (no MED given): the refused line sent nothing.
        assert_eq!(routes(&drain(&mut rx)), vec![(p("10.0.0.2/32"), None)]);
    }

    #[test]
    fn ack_mode_commands_reach_the_supervisor() {
        let config = config(vec![], &[]);
        let (mut speaker, _rx) = speaker(&config);
        let replies = from_process(&mut speaker, "hc", &["disable-ack", "enable-ack", "silence-ack", "version"]);
        use crate::exabgp::process::AckMode;
        assert_eq!(
            replies.iter().map(|r| r.ack).collect::<Vec<_>>(),
            vec![Some(AckMode::Off), Some(AckMode::On), Some(AckMode::Silent), None]
        );
        assert!(replies[3].output[0].starts_with("rhi "), "{:?}", replies[3].output);
    }
}
