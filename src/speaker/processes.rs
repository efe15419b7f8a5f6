//! ExaBGP API processes as a route source: their commands become routes owned by the process
//! (withdrawn when it dies, unlike ExaBGP), their acks and answers go back through the
//! supervisor's never-blocking queue, and they hear about neighbor state changes.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::json;
use tracing::{debug, info, warn};

use super::api_routes::ApiRoute;
use super::{Speaker, SpeakerEvent};
use crate::bgp::fsm::State;
use crate::config::{Encoder, ProcessConfig};
use crate::driver::bgp::{PeerCommand, PeerStateEvent};
use crate::exabgp::api::{self, ApiCommand, NeighborView, PeerIdentity};
use crate::exabgp::process::{self, AckMode, ProcessEvent, Reply};

/// The owner of routes announced with `rhi ctl`: they stay until withdrawn or rhi stops.
pub(super) const CTL_OWNER: &str = "ctl";

impl Speaker {
    pub(super) fn spawn_processes(&mut self) {
        for config in self.config.processes.clone() {
            self.spawn_process(config);
        }
    }

    fn spawn_process(&mut self, config: ProcessConfig) {
        let Some(events) = self.events.clone() else { return };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if events.send(SpeakerEvent::Process(event)).is_err() {
                    return;
                }
            }
        });
        let handle = process::spawn(config.clone(), tx);
        self.processes.insert(config.name.clone(), (config, handle));
    }

    /// Reload: removed or changed processes stop (their routes go), new or changed ones start.
    pub(super) fn apply_processes(&mut self, wanted: &[ProcessConfig], changes: &mut Vec<String>) {
        let leaving: Vec<String> = self
            .processes
            .iter()
            .filter(|(name, (config, _))| !wanted.iter().any(|w| &w.name == *name && w == config))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &leaving {
            if let Some((_, handle)) = self.processes.remove(name) {
                tokio::spawn(handle.stop());
            }
            self.drop_routes_of(name);
        }
        for config in wanted {
            if !self.processes.contains_key(&config.name) {
                changes.push(format!(
                    "process {} {}",
                    config.name,
                    if leaving.contains(&config.name) { "restarted" } else { "added" }
                ));
                self.spawn_process(config.clone());
            }
        }
        for name in leaving {
            if !wanted.iter().any(|w| w.name == name) {
                changes.push(format!("process {name} removed"));
            }
        }
    }

    /// Shutdown, after the peers have withdrawn: each process hears `shutdown`, then SIGTERM
    /// (SIGKILL if it lingers), all in parallel.
    pub(super) async fn stop_processes(&mut self) {
        self.notify_processes_of_shutdown();
        let stopping: Vec<_> = std::mem::take(&mut self.processes).into_values().map(|(_, handle)| handle).collect();
        let all = async {
            for handle in stopping {
                handle.stop().await;
            }
        };
        // Each stop is bounded by the supervisor's SIGKILL; this bounds them all.
        if tokio::time::timeout(std::time::Duration::from_secs(3), all).await.is_err() {
            warn!("some processes did not stop in time");
        }
    }

    /// Removes every route `process` holds; returns how many there were.
    fn drop_routes_of(&mut self, process: &str) -> usize {
        let before = self.api.len();
        self.touched.extend(self.api.drop_process(process));
        before - self.api.len()
    }

    /// One line from `rhi ctl`: run as if a process named `ctl` had printed it.
    pub(super) fn ctl_line(&mut self, line: &str) -> Reply {
        match api::parse(line) {
            Ok(command) => self.api_command(CTL_OWNER, command),
            Err(error) => Reply { ok: false, output: vec![format!("error: {error}")], ..Reply::default() },
        }
    }

    pub(super) fn process_event(&mut self, event: ProcessEvent) {
        match event {
            ProcessEvent::Started { process, pid } => debug!(%process, pid, "process running"),
            ProcessEvent::Died { process, reason } => {
                let withdraw = self.processes.get(&process).is_none_or(|(config, _)| config.withdraw_on_exit);
                if !withdraw {
                    warn!(%process, %reason, "process gone: its routes stay announced (withdraw_on_exit: false)");
                    return;
                }
                let withdrawn = self.drop_routes_of(&process);
                if withdrawn > 0 {
                    warn!(%process, %reason, routes = withdrawn, "process gone: its routes are withdrawn");
                }
            }
            ProcessEvent::Lines { process, lines, reply } => {
                let answers = lines
                    .iter()
                    .map(|line| match api::parse(line) {
                        Ok(command) => self.api_command(&process, command),
                        Err(error) => {
                            warn!(%process, %line, %error, "API command refused");
                            Reply { ok: false, ..Reply::default() }
                        }
                    })
                    .collect();
                let _ = reply.send(answers);
            }
        }
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
                let targets: Vec<Option<Arc<str>>> = match &peers {
                    None => vec![None],
                    Some(names) => names.iter().map(|name| Some(Arc::from(name.as_str()))).collect(),
                };
                let routes: Vec<ApiRoute> = targets
                    .into_iter()
                    .map(|peer| ApiRoute { process: owner.clone(), peer, announcement: announcement.clone() })
                    .collect();
                for prefix in prefixes {
                    for route in &routes {
                        self.api.announce(prefix, route);
                    }
                    self.touched.push(prefix);
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
                let prefixes: Vec<IpNet> = self.api.prefixes().collect();
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
        let holders: Vec<ApiRoute> = self.api.holders(&prefix).cloned().collect();
        if holders.is_empty() {
            return;
        }
        let mut kept = Vec::new();
        for route in holders {
            let theirs = *route.process == *process;
            match (peers, &route.peer) {
                _ if !theirs => kept.push(route),
                (None, _) => {}
                (Some(names), Some(peer)) if !names.iter().any(|n| n.as_str() == &**peer) => kept.push(route),
                (Some(_), Some(_)) => {}
                // An all-peers route withdrawn from some peers stays for the others.
                (Some(names), None) => {
                    for peer in all_peers.iter().filter(|p| !names.contains(p)) {
                        kept.push(ApiRoute { peer: Some(Arc::from(peer.as_str())), ..route.clone() });
                    }
                }
            }
        }
        if self.api.set(prefix, kept) {
            self.touched.push(prefix);
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
        let local_as = self.config.local_as;
        let mut counter = self.event_counter;
        for (config, handle) in self.processes.values() {
            if !config.neighbors.is_empty()
                && !config.neighbors.iter().any(|n| *n == peer.name || *n == peer.address.to_string())
            {
                continue;
            }
            let line = match config.encoder {
                Encoder::Text => format!("neighbor {} {state}", peer.address),
                Encoder::Json => json_envelope(
                    &mut counter,
                    "state",
                    json!({
                        "neighbor": {
                            "address": {"local": event.local.map(|l| l.ip().to_string()), "peer": peer.address.to_string()},
                            "asn": {"local": local_as, "peer": peer.remote_as},
                            "state": state,
                        }
                    }),
                ),
            };
            handle.send(line);
        }
        self.event_counter = counter;
    }

    /// Told to every process as rhi stops (ExaBGP's text and JSON forms).
    fn notify_processes_of_shutdown(&mut self) {
        let mut counter = self.event_counter;
        for (config, handle) in self.processes.values() {
            let line = match config.encoder {
                Encoder::Text => "shutdown".to_string(),
                Encoder::Json => json_envelope(&mut counter, "notification", json!({"notification": "shutdown"})),
            };
            handle.send(line);
        }
        self.event_counter = counter;
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

/// ExaBGP's JSON event envelope around `body`'s fields; `counter` numbers every event.
fn json_envelope(counter: &mut u64, kind: &str, body: serde_json::Value) -> String {
    *counter += 1;
    let mut event = json!({
        "exabgp": "5.0.0",
        "time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
        "host": hostname(),
        "pid": std::process::id(),
        "ppid": std::os::unix::process::parent_id(),
        "counter": *counter,
        "type": kind,
    });
    if let (Some(event), serde_json::Value::Object(fields)) = (event.as_object_mut(), body) {
        event.extend(fields);
    }
    event.to_string()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}
