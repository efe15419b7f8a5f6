//! Control-socket commands and the status snapshot.

use std::time::{Instant, SystemTime};

use ipnet::IpNet;
use tokio::sync::oneshot;
use tracing::info;

use super::drain::Source;
use super::{Manual, Speaker};
use crate::bgp::attributes::community_to_string;
use crate::control::proto::{AdvertisedRoute, Command, Response, RouteSpec};
use crate::health::Health;
use crate::policy::Announcement;
use crate::status::{CheckInfo, DrainInfo, GracefulRestartInfo, PeerInfo, RouteInfo, Status};

impl Speaker {
    pub(super) fn command(&mut self, command: Command, reply: oneshot::Sender<Response>) {
        let response = match command {
            Command::Status => Response::data(self.snapshot()),
            Command::Routes { peer } => return self.advertised(peer, reply),
            Command::Announce { prefix, route, peers } => self.announce(prefix, route, peers),
            Command::Withdraw { prefix, peers } => self.withdraw(prefix, &peers),
            Command::Drain { prefixes, withdraw_after, wait } => match self.start_drain(prefixes, withdraw_after) {
                Ok(drained) if wait => {
                    self.drain_waiters.push((drained, reply));
                    return;
                }
                Ok(drained) => {
                    let after = self.drain.withdraw_in(SystemTime::now());
                    Response::done(match after {
                        Some(seconds) => format!("draining {} VIP(s); withdrawn in {seconds:.0}s", drained.len()),
                        None => format!("drained {} VIP(s); they stay announced until undrain", drained.len()),
                    })
                }
                Err(error) => Response::refused(error),
            },
            Command::Undrain { prefixes } => self.undrain(prefixes),
            Command::Reload => self.reload(),
            Command::Api { line } => {
                let answer = self.ctl_line(&line);
                Response {
                    ok: answer.ok,
                    error: None,
                    message: Some(if answer.ok { "done" } else { "error" }.to_string()),
                    result: serde_json::Value::from(answer.output),
                }
            }
        };
        let _ = reply.send(response);
    }

    fn unknown_peers(&self, peers: &[String]) -> Option<String> {
        let unknown: Vec<&str> = peers.iter().filter(|p| !self.peers.contains_key(*p)).map(String::as_str).collect();
        (!unknown.is_empty()).then(|| format!("no such peer: {}", unknown.join(", ")))
    }

    fn announce(&mut self, prefix: IpNet, route: RouteSpec, peers: Vec<String>) -> Response {
        if prefix != prefix.trunc() {
            return Response::refused(format!("{prefix} has host bits set; did you mean {}?", prefix.trunc()));
        }
        if let Some(error) = self.unknown_peers(&peers) {
            return Response::refused(error);
        }
        let announcement = match route.to_announcement() {
            Ok(announcement) => self.intern(announcement),
            Err(error) => return Response::refused(error),
        };
        let to = if peers.is_empty() { "all peers".to_string() } else { peers.join(", ") };
        info!(%prefix, to = %to, "manual route announced");
        self.manual.insert(prefix, Manual { spec: route, announcement, peers });
        self.touched.push(prefix);
        self.persist();
        Response::done(format!("announced {prefix} to {to}"))
    }

    fn withdraw(&mut self, prefix: IpNet, peers: &[String]) -> Response {
        let Some(manual) = self.manual.get_mut(&prefix) else {
            if self.vips.iter().any(|vip| vip.config.prefix == prefix) {
                return Response::refused(format!(
                    "{prefix} is a VIP from the config, not a manual route: use `rhi drain {prefix}`, or remove it from the config and reload"
                ));
            }
            return Response::refused(format!("no manual route for {prefix}"));
        };
        if !peers.is_empty() {
            if manual.peers.is_empty() {
                return Response::refused(format!(
                    "{prefix} is announced to every peer: withdraw it everywhere, or announce it again with --peer"
                ));
            }
            manual.peers.retain(|p| !peers.contains(p));
        }
        let message = if peers.is_empty() || manual.peers.is_empty() {
            self.manual.remove(&prefix);
            format!("withdrew {prefix}")
        } else {
            format!("withdrew {prefix} from {}", peers.join(", "))
        };
        info!(%prefix, "manual route withdrawn");
        self.touched.push(prefix);
        self.persist();
        Response::done(message)
    }

    fn vip_prefixes(&self) -> Vec<IpNet> {
        self.vips.iter().map(|vip| vip.config.prefix).collect()
    }

    /// Returns the drained VIPs.
    fn start_drain(&mut self, prefixes: Vec<IpNet>, withdraw_after: Option<String>) -> Result<Vec<IpNet>, String> {
        let withdraw_after = match withdraw_after {
            Some(text) => humantime::parse_duration(&text).map_err(|e| format!("withdraw-after {text:?}: {e}"))?,
            None => self.config.drain.withdraw_after,
        };
        let vips = self.vip_prefixes();
        if let Some(unknown) = prefixes.iter().find(|p| !vips.contains(p)) {
            return Err(format!("{unknown} is not a VIP of this node"));
        }
        if vips.is_empty() {
            return Err("this node has no VIPs to drain".into());
        }
        let named = (!prefixes.is_empty()).then_some(prefixes.as_slice());
        self.drain.drain(named, withdraw_after, Source::Cli, SystemTime::now());
        info!(vips = ?named, withdraw_after = %humantime::format_duration(withdraw_after), "drain");
        self.persist();
        Ok(if prefixes.is_empty() { vips } else { prefixes })
    }

    fn undrain(&mut self, prefixes: Vec<IpNet>) -> Response {
        let vips = self.vip_prefixes();
        if let Some(unknown) = prefixes.iter().find(|p| !vips.contains(p)) {
            return Response::refused(format!("{unknown} is not a VIP of this node"));
        }
        if !self.drain.is_active() {
            return Response::done("nothing is drained");
        }
        let named = (!prefixes.is_empty()).then_some(prefixes.as_slice());
        self.drain.undrain(named, &vips);
        info!(vips = ?named, "undrain");
        self.persist();
        Response::done(match named {
            Some(p) => format!("undrained {} VIP(s)", p.len()),
            None => "undrained every VIP".to_string(),
        })
    }

    /// Asks every peer task for its Adj-RIB-Out without blocking the speaker.
    fn advertised(&self, only: Option<String>, reply: oneshot::Sender<Response>) {
        if let Some(name) = &only {
            if !self.peers.contains_key(name) {
                let _ = reply.send(Response::refused(format!("no such peer: {name}")));
                return;
            }
        }
        let mut pending = Vec::new();
        let mut sources = std::collections::HashMap::new();
        for (name, slot) in &self.peers {
            if only.as_ref().is_some_and(|o| o != name) {
                continue;
            }
            for prefix in self.known_prefixes() {
                sources.insert((name.clone(), prefix), self.source_of(&prefix, name));
            }
            let (tx, rx) = oneshot::channel();
            if slot.link.commands.send(crate::driver::bgp::PeerCommand::Advertised(tx)).is_ok() {
                pending.push((name.clone(), rx));
            }
        }
        tokio::spawn(async move {
            let mut routes = Vec::new();
            for (peer, rx) in pending {
                let Ok(advertised) = rx.await else { continue };
                routes.extend(advertised.into_iter().map(|(prefix, a, next_hop)| {
                    // A route the speaker no longer holds, still in the Adj-RIB-Out until its
                    // withdrawal is written.
                    let source = sources.get(&(peer.clone(), prefix)).map_or("withdrawing", |s| s.as_ref());
                    advertised_route(&peer, prefix, source, &a, next_hop)
                }));
            }
            routes.sort_by(|a, b| (&a.peer, a.prefix).cmp(&(&b.peer, b.prefix)));
            let _ = reply.send(Response::data(routes));
        });
    }

    pub(super) fn snapshot(&self) -> Status {
        let now = SystemTime::now();
        let peers = self
            .peers
            .values()
            .filter_map(|slot| {
                let (config, status) = (slot.config.as_ref()?, slot.status.as_ref()?.borrow().clone());
                Some(PeerInfo {
                    name: config.name.clone(),
                    address: config.address,
                    remote_as: config.remote_as,
                    state: format!("{:?}", status.state),
                    state_seconds: now.duration_since(status.since).unwrap_or_default().as_secs(),
                    last_error: status.last_error,
                    prefixes_advertised: status.prefixes_advertised as u64,
                    updates_sent: status.updates_sent,
                    updates_received: status.updates_received,
                    messages_sent: status.messages_sent,
                    messages_received: status.messages_received,
                    prefixes_received: status.prefixes_received,
                    flaps: status.flaps,
                    bfd: status.bfd.as_ref().map(|bfd| bfd.info()),
                    graceful_restart: config.graceful_restart.map(|gr| GracefulRestartInfo {
                        negotiated: status.graceful_restart,
                        restart_time_seconds: gr.restart_time.as_secs(),
                        peer_restart_time_seconds: status.peer_graceful_restart.as_ref().map(|p| p.restart_time),
                        peer_restarted: status.peer_graceful_restart.as_ref().is_some_and(|p| p.restart_state()),
                    }),
                })
            })
            .collect();
        let checks = self
            .checks
            .iter()
            .map(|(name, slot)| CheckInfo {
                name: name.clone(),
                state: slot.status.state.as_str().to_string(),
                decided: slot.status.decided,
                reason: slot.status.reason.clone(),
                last_duration_seconds: slot.last_duration.map(|d| d.as_secs_f64()),
                probes: slot.probes,
                failures: slot.failures,
            })
            .collect();
        let mut routes: Vec<RouteInfo> = self
            .manual
            .iter()
            .map(|(prefix, m)| route_info(*prefix, "manual", Health::Up, Some(&m.announcement), false, m.peers.clone()))
            .collect();
        for vip in &self.vips {
            let drained = self.drain.state_of(&vip.config.prefix).is_some();
            let health = self.vip_health(&vip.config);
            routes.push(route_info(vip.config.prefix, "config", health, vip.current.as_ref(), drained, Vec::new()));
        }
        Status {
            router_id: self.config.router_id.to_string(),
            local_as: self.config.local_as,
            uptime_seconds: Instant::now().duration_since(self.started).as_secs(),
            peers,
            checks,
            routes,
            drain: DrainInfo {
                all: self.drain.all.is_some(),
                source: self.drain.source.map(|s| s.as_str().to_string()),
                withdraw_in_seconds: self.drain.withdraw_in(now),
            },
        }
    }
}

fn route_info(
    prefix: IpNet,
    source: &str,
    health: Health,
    announcement: Option<&std::sync::Arc<Announcement>>,
    drained: bool,
    peers: Vec<String>,
) -> RouteInfo {
    RouteInfo {
        prefix,
        source: source.to_string(),
        health: health.as_str().to_string(),
        announced: announcement.is_some(),
        drained,
        med: announcement.and_then(|a| a.med),
        as_path_prepend: announcement.map_or(0, |a| a.as_path_prepend),
        communities: announcement
            .map_or_else(Vec::new, |a| a.communities.iter().map(|c| community_to_string(*c)).collect()),
        large_communities: announcement
            .map_or_else(Vec::new, |a| a.large_communities.iter().map(|c| c.to_string()).collect()),
        local_pref: announcement.and_then(|a| a.local_pref),
        peers,
    }
}

fn advertised_route(
    peer: &str,
    prefix: IpNet,
    source: &str,
    a: &Announcement,
    next_hop: Option<std::net::IpAddr>,
) -> AdvertisedRoute {
    AdvertisedRoute {
        peer: peer.to_string(),
        prefix,
        source: source.to_string(),
        med: a.med,
        as_path_prepend: a.as_path_prepend,
        communities: a.communities.iter().map(|c| community_to_string(*c)).collect(),
        large_communities: a.large_communities.iter().map(|c| c.to_string()).collect(),
        local_pref: a.local_pref,
        next_hop,
    }
}
