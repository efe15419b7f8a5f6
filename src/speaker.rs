//! The speaker: the one owner of the desired routes. Sources (config VIPs with their health
//! checks today; the control socket and API processes later) send it events; it resolves what
//! each prefix should look like and fans the changes out to the peer tasks, each of which diffs
//! them against its own Adj-RIB-Out. Nothing here shares state behind a lock.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::bgp::session::PeerCommand;
use crate::config::{Config, VipConfig, WhenDown};
use crate::health::{CheckReport, Health};
use crate::policy::Announcement;

pub enum SpeakerEvent {
    Check(CheckReport),
    /// `startup_grace` passed: send End-of-RIB even if some check has no verdict yet.
    StartupGraceOver,
    /// Withdraw everything from every peer, Cease every session, then answer.
    Shutdown {
        message: String,
        done: oneshot::Sender<()>,
    },
}

/// How long shutdown waits for peers to write their withdrawals and NOTIFICATION.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1800);

#[derive(Clone, Debug)]
pub struct CheckStatus {
    pub state: Health,
    /// Reached its first verdict (risen, or confirmed down).
    pub decided: bool,
    pub reason: String,
}

struct Vip {
    config: VipConfig,
    healthy: Announcement,
    /// What the speaker currently wants announced for this VIP (None = withdrawn).
    current: Option<Arc<Announcement>>,
}

/// The speaker's end of a peer task.
#[derive(Clone)]
pub struct PeerLink {
    pub name: String,
    pub commands: mpsc::UnboundedSender<PeerCommand>,
}

pub struct Speaker {
    peers: Vec<PeerLink>,
    vips: Vec<Vip>,
    checks: BTreeMap<String, CheckStatus>,
    interned: HashSet<Arc<Announcement>>,
    initial_table_complete: bool,
}

impl Speaker {
    pub fn new(config: &Config, peers: Vec<PeerLink>) -> Speaker {
        let vips = config
            .vips
            .iter()
            .map(|vip| Vip { config: vip.clone(), healthy: Announcement::from_attrs(&vip.attributes), current: None })
            .collect();
        let checks = config
            .checks
            .keys()
            .map(|name| {
                let status = CheckStatus { state: Health::Down, decided: false, reason: "no result yet".into() };
                (name.clone(), status)
            })
            .collect();
        Speaker { peers, vips, checks, interned: HashSet::new(), initial_table_complete: false }
    }

    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<SpeakerEvent>) {
        self.reconcile(None);
        while let Some(event) = events.recv().await {
            match event {
                SpeakerEvent::Check(report) => {
                    let at = report.at;
                    if let Some(status) = self.checks.get_mut(&report.check) {
                        *status = CheckStatus { state: report.state, decided: true, reason: report.reason };
                    }
                    self.reconcile(Some(at));
                }
                SpeakerEvent::StartupGraceOver => {
                    if !self.initial_table_complete {
                        let waiting: Vec<&String> =
                            self.checks.iter().filter(|(_, s)| !s.decided).map(|(name, _)| name).collect();
                        warn!(checks = ?waiting, "startup_grace passed before these checks had a verdict: sending End-of-RIB");
                        self.complete_initial_table();
                    }
                }
                SpeakerEvent::Shutdown { message, done } => {
                    self.shutdown(message).await;
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    /// Recomputes every VIP's desired announcement and sends peers what changed.
    fn reconcile(&mut self, verdict_at: Option<Instant>) {
        let mut changes = Vec::new();
        for index in 0..self.vips.len() {
            let health = self.vip_health(&self.vips[index].config);
            let wanted = self.desired_for(index, health);
            let vip = &mut self.vips[index];
            if !same(&vip.current, &wanted) {
                let prefix = vip.config.prefix;
                match &wanted {
                    Some(announcement) => {
                        info!(vip = %prefix, health = health.as_str(), med = ?announcement.med, "announce")
                    }
                    None => info!(vip = %prefix, health = health.as_str(), "withdraw"),
                }
                vip.current = wanted.clone();
                changes.push((prefix, wanted));
            }
        }
        if !changes.is_empty() {
            self.broadcast(|| PeerCommand::Routes(changes.clone()));
            if let Some(at) = verdict_at {
                tracing::debug!(micros = at.elapsed().as_micros() as u64, "verdict handed to peers");
            }
        }
        if !self.initial_table_complete && self.checks.values().all(|s| s.decided) {
            self.complete_initial_table();
        }
    }

    fn complete_initial_table(&mut self) {
        self.initial_table_complete = true;
        self.broadcast(|| PeerCommand::InitialTableComplete);
    }

    /// All of a VIP's checks must pass; the worst one decides. No checks = always up.
    fn vip_health(&self, vip: &VipConfig) -> Health {
        vip.checks
            .iter()
            .map(|name| self.checks.get(name).map_or(Health::Down, |s| s.state))
            .min()
            .unwrap_or(Health::Up)
    }

    fn desired_for(&mut self, index: usize, health: Health) -> Option<Arc<Announcement>> {
        let vip = &self.vips[index];
        let announcement = match health {
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
        Some(self.intern(announcement))
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
        for peer in &self.peers {
            if peer.commands.send(command()).is_err() {
                warn!(peer = %peer.name, "peer task has stopped");
            }
        }
    }

    /// Every peer withdraws and closes in parallel; a peer that cannot finish in time (a router
    /// that stopped reading) does not hold up the others or the exit.
    pub async fn shutdown(&mut self, message: String) {
        let mut waiting = Vec::new();
        for peer in &self.peers {
            let (done, finished) = oneshot::channel();
            if peer.commands.send(PeerCommand::Shutdown { message: message.clone(), done }).is_ok() {
                waiting.push((peer.name.clone(), finished));
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
    }
}

fn same(a: &Option<Arc<Announcement>>, b: &Option<Arc<Announcement>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
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
        }
    }

    fn speaker(config: &Config) -> (Speaker, mpsc::UnboundedReceiver<PeerCommand>) {
        let (commands, rx) = mpsc::unbounded_channel();
        (Speaker::new(config, vec![PeerLink { name: "sw01".into(), commands }]), rx)
    }

    fn report(check: &str, state: Health) -> CheckReport {
        CheckReport { check: check.into(), state, reason: "test".into(), at: Instant::now() }
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
        speaker.checks.insert(check.into(), CheckStatus { state, decided: true, reason: "test".into() });
        speaker.reconcile(Some(report(check, state).at));
    }

    #[test]
    fn a_vip_without_checks_is_announced_at_once_and_end_of_rib_follows() {
        let config = config(vec![vip("10.46.46.46/32", &[], 300)], &[]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.reconcile(None);
        let sent = drain(&mut rx);
        assert_eq!(routes(&sent), vec![("10.46.46.46/32".parse().unwrap(), Some(300))]);
        assert!(eor(&sent));
    }

    #[test]
    fn a_checked_vip_starts_withdrawn_and_end_of_rib_waits_for_the_first_verdict() {
        let config = config(vec![vip("10.46.46.46/32", &["web"], 300)], &["web"]);
        let (mut speaker, mut rx) = speaker(&config);
        speaker.reconcile(None);
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
        speaker.reconcile(None);
        let sent = drain(&mut rx);
        let PeerCommand::Routes(changes) = &sent[0] else { panic!("expected routes") };
        let (a, b) = (changes[0].1.as_ref().unwrap(), changes[1].1.as_ref().unwrap());
        assert!(Arc::ptr_eq(a, b), "one UPDATE can carry both");
    }
}
