// NOT COMPILED YET (issue 5, in progress): this module is not declared in speaker/mod.rs. Wiring
// it needs: Speaker fields `processes`, `api: BTreeMap<IpNet, Vec<ApiRoute>>`, `announced_up`,
// `event_counter`, `stop_requests`; SpeakerEvent::{Process, PeerState}; `resolve`/`source_of`/
// `known_prefixes` with precedence manual > process > VIP; PeerCommand::Resend and a
// PeerStateEvent from session.rs; the daemon's stop channel; processes stopped after peers on
// shutdown. See the closing note of the session that wrote it.
//! ExaBGP API processes as a route source: their commands become routes owned by the process
//! (withdrawn when it dies, unlike ExaBGP), their acks and answers go back through the
//! supervisor's never-blocking queue, and they hear about neighbor state changes.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::json;
use tracing::{debug, info, warn};

use super::{Speaker, SpeakerEvent};
use crate::bgp::fsm::State;
use crate::bgp::session::{PeerCommand, PeerStateEvent};
use crate::config::{Encoder, ProcessConfig};
use crate::exabgp::api::{self, ApiCommand, NeighborView, PeerIdentity};
use crate::exabgp::process::{self, AckMode, ProcessEvent, Reply};
use crate::policy::Announcement;

/// One process's announcement of one prefix, to one peer or to all of the process's peers.
#[derive(Clone, Debug)]
pub(super) struct ApiRoute {
    pub process: Arc<str>,
    /// None: every peer the process may speak to.
    pub peer: Option<String>,
    pub announcement: Arc<Announcement>,
}

impl Speaker {
    pub(super) fn spawn_processes(&mut self) {
        let Some(events) = self.events.clone() else { return };
        for config in self.config.processes.clone() {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let forward = events.clone();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if forward.send(SpeakerEvent::Process(event)).is_err() {
                        return;
                    }
                }
            });
            let handle = process::spawn(config.clone(), tx);
            self.processes.insert(config.name.clone(), (config, handle));
        }
    }

    pub(super) fn process_event(&mut self, event: ProcessEvent) {
        match event {
            ProcessEvent::Started { process, pid } => debug!(%process, pid, "process running"),
            ProcessEvent::Died { process, reason } => {
                let before = self.api_routes_count();
                for entries in self.api.values_mut() {
                    entries.retain(|route| *route.process != *process);
                }
                let gone: Vec<IpNet> =
                    self.api.iter().filter(|(_, entries)| entries.is_empty()).map(|(prefix, _)| *prefix).collect();
                self.touched.extend(self.api.keys().copied());
                for prefix in gone {
                    self.api.remove(&prefix);
                }
                let withdrawn = before - self.api_routes_count();
                if withdrawn > 0 {
                    warn!(%process, %reason, routes = withdrawn, "process gone: its routes are withdrawn");
                }
            }
            ProcessEvent::Line { process, line, reply } => {
                let answer = match api::parse(&line) {
                    Ok(command) => self.api_command(&process, command),
                    Err(error) => {
                        warn!(%process, %line, %error, "API command refused");
                        Reply { ok: false, ..Reply::default() }
                    }
                };
                let _ = reply.send(answer);
            }
        }
    }

    fn api_routes_count(&self) -> usize {
        self.api.values().map(Vec::len).sum()
    }

    /// The configured peers a process may speak to (its `neighbors`, or all), with identities
    /// for selector matching.
    fn process_peers(&self, process: &str) -> Vec<(String, PeerIdentity)> {
        let allowed = self.processes.get(process).map(|(config, _)| config.neighbors.clone()).unwrap_or_default();
        self.peers
            .values()
            .filter_map(|slot| slot.config.as_ref())
            .filter(|peer| {
                allowed.is_empty() || allowed.iter().any(|n| *n == peer.name || *n == peer.address.to_string())
            })
            .map(|peer| {
                let identity = PeerIdentity {
                    address: peer.address,
                    local_ip: peer.local_address,
                    local_as: self.config.local_as,
                    peer_as: peer.remote_as,
                    router_id: self.config.router_id,
                };
                (peer.name.clone(), identity)
            })
            .collect()
    }

    /// The peers a command's selectors name among the process's peers; None = all of them (no
    /// selectors, and the process is not limited to some peers).
    fn selected(&self, process: &str, selectors: &[api::Selector]) -> Option<Vec<String>> {
        let limited = self.processes.get(process).is_some_and(|(config, _)| !config.neighbors.is_empty());
        if selectors.is_empty() && !limited {
            return None;
        }
        Some(
            self.process_peers(process)
                .into_iter()
                .filter(|(_, identity)| api::selects(selectors, identity))
                .map(|(name, _)| name)
                .collect(),
        )
    }

    fn api_command(&mut self, process: &str, command: ApiCommand) -> Reply {
        let done = Reply { ok: true, ..Reply::default() };
        match command {
            ApiCommand::Announce { selectors, prefixes, attributes } => {
                let peers = self.selected(process, &selectors);
                if peers.as_ref().is_some_and(Vec::is_empty) {
                    return Reply { ok: false, ..Reply::default() };
                }
                let announcement = self.intern(attributes.to_announcement());
                let owner: Arc<str> = Arc::from(process);
                for prefix in prefixes {
                    let entries = self.api.entry(prefix).or_default();
                    let targets: Vec<Option<String>> = match &peers {
                        None => vec![None],
                        Some(names) => names.iter().cloned().map(Some).collect(),
                    };
                    for peer in targets {
                        entries.retain(|r| !(*r.process == *process && r.peer == peer));
                        entries.push(ApiRoute { process: owner.clone(), peer, announcement: announcement.clone() });
                    }
                    self.touched.insert(prefix);
                }
                done
            }
            ApiCommand::Withdraw { selectors, prefixes } => {
                let peers = self.selected(process, &selectors);
                for prefix in prefixes {
                    self.withdraw_api(process, prefix, peers.as_deref());
                }
                done
            }
            ApiCommand::ClearAdjRibOut { selectors } => {
                let peers = self.selected(process, &selectors);
                let prefixes: Vec<IpNet> = self.api.keys().copied().collect();
                for prefix in prefixes {
                    self.withdraw_api(process, prefix, peers.as_deref());
                }
                done
            }
            ApiCommand::FlushAdjRibOut { selectors } => {
                let names = match self.selected(process, &selectors) {
                    Some(names) => names,
                    None => self.process_peers(process).into_iter().map(|(name, _)| name).collect(),
                };
                for name in names {
                    self.send_to(&name, PeerCommand::Resend);
                }
                done
            }
            // rhi sends End-of-RIB itself once its sources are ready, and keeps no Adj-RIB-In
            // to refresh: both are accepted so ExaBGP programs run unchanged.
            ApiCommand::Eor { .. } | ApiCommand::RouteRefresh { .. } | ApiCommand::Comment(_) => done,
            ApiCommand::Debug(text) => {
                info!(%process, "{text}");
                Reply { ok: true, quiet: true, ..Reply::default() }
            }
            ApiCommand::ShowNeighbor { neighbor, view, json } => {
                Reply { output: self.show_neighbor(neighbor, view, json), ..done }
            }
            ApiCommand::ShowAdjRibOut { neighbor, json, .. } => {
                Reply { output: self.show_adj_rib_out(neighbor, json), ..done }
            }
            ApiCommand::Version => {
                Reply { output: vec![format!("rhi {} (ExaBGP API 4.x/5.x)", env!("CARGO_PKG_VERSION"))], ..done }
            }
            ApiCommand::Reload => {
                let response = self.reload();
                Reply { ok: response.ok, ..Reply::default() }
            }
            ApiCommand::Shutdown => {
                info!(%process, "API process asked rhi to shut down");
                if let Some(stop) = &self.stop_requests {
                    let _ = stop.send(format!("shutdown requested by process {process}"));
                }
                done
            }
            ApiCommand::Restart => {
                warn!(%process, "`restart` is not supported by rhi: use `reload`, or restart the service");
                Reply { ok: false, ..Reply::default() }
            }
            ApiCommand::DisableAck => Reply { ack: Some(AckMode::Off), ..done },
            ApiCommand::EnableAck => Reply { ack: Some(AckMode::On), ..done },
            ApiCommand::SilenceAck => Reply { ack: Some(AckMode::Silent), ..done },
        }
    }

    /// Removes `process`'s route for `prefix` toward `peers` (None = everywhere).
    fn withdraw_api(&mut self, process: &str, prefix: IpNet, peers: Option<&[String]>) {
        let all_peers: Vec<String> = self.process_peers(process).into_iter().map(|(name, _)| name).collect();
        let Some(entries) = self.api.get_mut(&prefix) else { return };
        let before = entries.len();
        match peers {
            None => entries.retain(|r| *r.process != *process),
            Some(names) => {
                // An all-peers route withdrawn from some peers stays for the others.
                let mut kept = Vec::new();
                for route in entries.drain(..) {
                    match (&route.peer, *route.process == *process) {
                        (_, false) => kept.push(route),
                        (Some(peer), true) if !names.contains(peer) => kept.push(route),
                        (Some(_), true) => {}
                        (None, true) => {
                            for peer in all_peers.iter().filter(|p| !names.contains(p)) {
                                kept.push(ApiRoute { peer: Some(peer.clone()), ..route.clone() });
                            }
                        }
                    }
                }
                *entries = kept;
            }
        }
        if entries.len() != before || entries.is_empty() {
            self.touched.insert(prefix);
        }
        if entries.is_empty() {
            self.api.remove(&prefix);
        }
    }

    /// Neighbor state changes to every process that speaks to that peer, in its encoding.
    pub(super) fn peer_state_event(&mut self, event: PeerStateEvent) {
        let state = match event.state {
            State::Established => "up",
            State::OpenSent if event.remote.is_some() => "connected",
            State::Idle | State::Active | State::Connect => "down",
            _ => return,
        };
        if state == "down" && !self.announced_up.remove(&event.peer) {
            return;
        }
        if state == "up" {
            self.announced_up.insert(event.peer.clone());
        }
        let Some(peer) = self.peers.get(&event.peer).and_then(|slot| slot.config.clone()) else { return };
        for (config, handle) in self.processes.values() {
            if !config.neighbors.is_empty()
                && !config.neighbors.iter().any(|n| *n == peer.name || *n == peer.address.to_string())
            {
                continue;
            }
            let line = match config.encoder {
                Encoder::Text => format!("neighbor {} {state}", peer.address),
                Encoder::Json => self.json_event(config, &peer.address, peer.remote_as, event.local, state),
            };
            handle.send(line);
        }
    }

    fn json_event(
        &mut self,
        _config: &ProcessConfig,
        address: &IpAddr,
        remote_as: u32,
        local: Option<std::net::SocketAddr>,
        state: &str,
    ) -> String {
        self.event_counter += 1;
        json!({
            "exabgp": "5.0.0",
            "time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            "host": hostname(),
            "pid": std::process::id(),
            "ppid": std::os::unix::process::parent_id(),
            "counter": self.event_counter,
            "type": "state",
            "neighbor": {
                "address": {"local": local.map(|l| l.ip().to_string()), "peer": address.to_string()},
                "asn": {"local": self.config.local_as, "peer": remote_as},
                "state": state,
            },
        })
        .to_string()
    }

    /// Told to every process as rhi stops (ExaBGP's text and JSON forms).
    pub(super) fn notify_processes_of_shutdown(&mut self) {
        let names: Vec<String> = self.processes.keys().cloned().collect();
        for name in names {
            let Some((config, _)) = self.processes.get(&name) else { continue };
            let line = match config.encoder {
                Encoder::Text => "shutdown".to_string(),
                Encoder::Json => {
                    self.event_counter += 1;
                    json!({
                        "exabgp": "5.0.0",
                        "time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
                        "host": hostname(),
                        "pid": std::process::id(),
                        "ppid": std::os::unix::process::parent_id(),
                        "counter": self.event_counter,
                        "type": "notification",
                        "notification": "shutdown",
                    })
                    .to_string()
                }
            };
            if let Some((_, handle)) = self.processes.get(&name) {
                handle.send(line);
            }
        }
    }

    fn show_neighbor(&self, only: Option<IpAddr>, view: Option<NeighborView>, json: bool) -> Vec<String> {
        let peers: Vec<_> = self
            .peers
            .values()
            .filter_map(|slot| Some((slot.config.as_ref()?, slot.status.as_ref()?.borrow().clone())))
            .filter(|(config, _)| only.is_none_or(|ip| ip == config.address))
            .collect();
        if json {
            let list: Vec<_> = peers
                .iter()
                .map(|(config, status)| {
                    json!({
                        "peer-address": config.address.to_string(),
                        "local-address": status.local_address.map(|a| a.ip().to_string()),
                        "peer-as": config.remote_as,
                        "local-as": self.config.local_as,
                        "state": format!("{:?}", status.state).to_lowercase(),
                        "messages": {"sent": status.messages_sent, "received": status.messages_received},
                    })
                })
                .collect();
            return vec![serde_json::Value::Array(list).to_string()];
        }
        if view.is_none() {
            return vec!["show neighbor [summary|extensive|configuration] [json]".into()];
        }
        let mut out = vec![format!("{:<15} {:<10} {:<12} {:>9} {:>9}", "Peer", "AS", "state", "#sent", "#recvd")];
        for (config, status) in peers {
            out.push(format!(
                "{:<15} {:<10} {:<12} {:>9} {:>9}",
                config.address,
                config.remote_as,
                format!("{:?}", status.state).to_lowercase(),
                status.updates_sent,
                status.updates_received
            ));
        }
        out
    }

    fn show_adj_rib_out(&self, only: Option<IpAddr>, json: bool) -> Vec<String> {
        let mut lines = Vec::new();
        let mut entries = Vec::new();
        for slot in self.peers.values() {
            let Some(config) = &slot.config else { continue };
            if only.is_some_and(|ip| ip != config.address) {
                continue;
            }
            for prefix in self.known_prefixes() {
                if let Some(announcement) = self.resolve(&prefix, &config.name) {
                    let family = if prefix.addr().is_ipv4() { "ipv4 unicast" } else { "ipv6 unicast" };
                    let med = announcement.med.map(|m| format!(" med {m}")).unwrap_or_default();
                    lines.push(format!("neighbor {} {family} {prefix}{med}", config.address));
                    entries.push(json!({"neighbor": config.address.to_string(), "prefix": prefix.to_string(), "med": announcement.med}));
                }
            }
        }
        if json {
            vec![serde_json::Value::Array(entries).to_string()]
        } else {
            lines
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}
