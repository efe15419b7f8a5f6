//! A peer task's end of the BFD task: BFD runs on the path of the task's connection, and its
//! failure takes the BGP session down.

use std::net::SocketAddr;

use tokio::sync::mpsc;

use super::PeerTask;
use crate::bgp::fsm::Event;
use crate::config::BfdConfig;
use crate::driver::bfd::{BfdCommand, BfdHandle, BfdReport, SessionSpec};

/// This peer's end of the BFD task.
pub(super) struct BfdLink {
    pub(super) task: Option<BfdHandle>,
    pub(super) reports_tx: mpsc::UnboundedSender<BfdReport>,
    pub(super) reports: mpsc::UnboundedReceiver<BfdReport>,
}

impl PeerTask {
    /// The BFD task's news: shown in the status; a failure takes the session down at once.
    pub(super) fn bfd_report(&mut self, report: BfdReport) -> Option<Event> {
        self.status.send_modify(|s| s.bfd = Some(report.status));
        let diagnostic = report.failure?;
        Some(Event::BfdDown { diagnostic: diagnostic.to_string() })
    }

    /// Runs BFD on the path of the connection just made; the BFD task keeps a session that
    /// already runs on the same path.
    pub(super) fn watch_bfd(&self, local: SocketAddr, remote: SocketAddr) {
        let (Some(task), Some(settings)) = (&self.bfd.task, self.peer.bfd) else { return };
        let spec = SessionSpec {
            peer: self.peer.name.clone(),
            local: crate::listener::canonical(local.ip()),
            remote: crate::listener::canonical(remote.ip()),
            settings,
        };
        task.send(BfdCommand::Watch { spec, reports: self.bfd.reports_tx.clone() });
    }

    pub(super) fn set_bfd(&mut self, settings: Option<BfdConfig>, task: Option<BfdHandle>) {
        let before = self.peer.bfd;
        self.peer.bfd = settings;
        if self.bfd.task.is_none() {
            self.bfd.task = task;
        }
        let Some(bfd) = &self.bfd.task else { return };
        let peer = self.peer.name.clone();
        match (before, settings) {
            (Some(_), Some(settings)) => bfd.send(BfdCommand::Reconfigure { peer, settings }),
            (Some(_), None) => {
                bfd.send(BfdCommand::Stop { peer });
                self.status.send_modify(|s| s.bfd = None);
            }
            (None, Some(_)) => {
                if let Some(connection) = &self.connection {
                    self.watch_bfd(connection.local, connection.remote);
                }
            }
            (None, None) => {}
        }
    }
}
