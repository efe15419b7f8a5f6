//! The speaker: the one owner of the desired routes. Sources (config VIPs today; health checks,
//! the control socket and API processes send it events) never touch peers directly: the speaker
//! resolves what each prefix should look like and fans the changes out to the peer tasks, each of
//! which diffs them against its own Adj-RIB-Out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::bgp::session::{PeerCommand, PeerHandle};
use crate::config::{Config, VipConfig};
use crate::policy::Announcement;

pub struct Speaker {
    peers: Vec<PeerHandle>,
    desired: BTreeMap<IpNet, Arc<Announcement>>,
}

/// How long shutdown waits for peers to write their withdrawals and NOTIFICATION.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1800);

impl Speaker {
    pub fn new(peers: Vec<PeerHandle>) -> Speaker {
        Speaker { peers, desired: BTreeMap::new() }
    }

    pub fn peers(&self) -> &[PeerHandle] {
        &self.peers
    }

    /// The routes of the config's VIPs that have no checks: announced from the start.
    pub fn announce_static_vips(&mut self, config: &Config) {
        let changes: Vec<(IpNet, Option<Arc<Announcement>>)> = config
            .vips
            .iter()
            .filter(|vip| vip.checks.is_empty())
            .map(|vip| (vip.prefix, Some(intern(&mut self.desired, vip))))
            .collect();
        for (prefix, _) in &changes {
            info!(%prefix, "announcing VIP");
        }
        self.broadcast(|| PeerCommand::Routes(changes.clone()));
        self.broadcast(|| PeerCommand::InitialTableComplete);
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
        self.desired.clear();
    }
}

/// One `Arc` per distinct announcement, so peers group equal routes into one UPDATE by pointer.
fn intern(desired: &mut BTreeMap<IpNet, Arc<Announcement>>, vip: &VipConfig) -> Arc<Announcement> {
    let announcement = Announcement::from_attrs(&vip.attributes);
    let shared = desired.values().find(|existing| ***existing == announcement).cloned();
    let arc = shared.unwrap_or_else(|| Arc::new(announcement));
    desired.insert(vip.prefix, arc.clone());
    arc
}
