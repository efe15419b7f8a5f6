//! Reload (SIGHUP, `rhi reload`): read the config again and apply only the difference. A peer
//! whose settings did not change keeps its session (no reset, no flap); an invalid file changes
//! nothing.

use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::{CheckSlot, Speaker, Vip};
use crate::config::{Config, PeerConfig};
use crate::control::proto::Response;
use crate::driver::bgp::PeerCommand;

impl Speaker {
    pub(super) fn reload(&mut self) -> Response {
        let Some(file) = self.config_file.clone() else {
            return Response::refused("rhi was started without a config file: nothing to reload");
        };
        let path = &file.path;
        match file.load() {
            Ok((config, warnings)) => {
                for warning in warnings {
                    warn!("{warning}");
                }
                let summary = self.apply_config(config);
                info!(changes = %summary, "configuration reloaded");
                Response::done(format!("reloaded {}: {summary}", path.display()))
            }
            Err(reason) => {
                error!(%reason, "configuration not reloaded: the running configuration stays");
                Response::refused(format!("not reloaded, the running configuration stays: {reason}"))
            }
        }
    }

    /// Returns a one-line summary of what changed.
    pub(super) fn apply_config(&mut self, new: Config) -> String {
        let mut changes: Vec<String> = Vec::new();
        let identity_changed = new.router_id != self.config.router_id || new.local_as != self.config.local_as;
        if identity_changed {
            changes.push("router_id/local_as changed: every session restarts".into());
        }
        for unchanged_only_at_restart in [
            (new.listen != self.config.listen, "listen"),
            (new.control != self.config.control, "control.socket"),
            (new.metrics != self.config.metrics, "metrics.listen"),
        ] {
            if unchanged_only_at_restart.0 {
                warn!(key = unchanged_only_at_restart.1, "this setting changes only when rhi restarts");
                changes.push(format!("{} takes effect at restart", unchanged_only_at_restart.1));
            }
        }

        // Peers that are gone or changed withdraw and close; they come back below if changed.
        // A change of timers alone (BFD, send hold) is applied to the running session instead.
        let leaving: Vec<String> = self
            .peers
            .iter()
            .filter(|(name, slot)| {
                identity_changed
                    || !new
                        .peers
                        .iter()
                        .any(|p| &p.name == *name && slot.config.as_ref().is_some_and(|old| same_session(old, p)))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for peer in &new.peers {
            if leaving.contains(&peer.name) {
                continue;
            }
            let Some(slot) = self.peers.get_mut(&peer.name) else { continue };
            if slot.config.as_ref().is_some_and(|old| old != peer) {
                if peer.bfd.is_some() && self.bfd.is_none() {
                    self.bfd = Some(crate::driver::bfd::spawn());
                }
                let _ = slot.link.commands.send(PeerCommand::Timers {
                    bfd: peer.bfd,
                    bfd_task: peer.bfd.and(self.bfd.clone()),
                    send_hold_time: peer.send_hold_time,
                });
                slot.config = Some(peer.clone());
                changes.push(format!("peer {} timers changed (session kept)", peer.name));
            }
        }
        // Before the changed peers restart: their routers' next connections need the new keys.
        self.listener_keys.apply(&new.peers);
        self.listener_ttl.apply(&new.peers);
        for name in &leaving {
            if let Some(slot) = self.peers.remove(name) {
                let (done, _) = oneshot::channel();
                let message = "rhi configuration changed".to_string();
                let _ = slot.link.commands.send(PeerCommand::Shutdown { message, done });
            }
        }

        // Checks: keep unchanged ones running; a changed one restarts from its current state.
        self.checks.retain(|name, slot| {
            let keep = new.checks.contains_key(name);
            if !keep {
                if let Some(task) = slot.task.take() {
                    task.abort();
                }
                changes.push(format!("check {name} removed"));
            }
            keep
        });
        for (name, check) in &new.checks {
            match self.checks.get_mut(name) {
                Some(slot) if slot.config == *check => {}
                Some(slot) => {
                    if let Some(task) = slot.task.take() {
                        task.abort();
                    }
                    slot.config = check.clone();
                    let resume = slot.status.decided.then_some(slot.status.state);
                    changes.push(format!("check {name} changed"));
                    self.spawn_check(name, resume);
                }
                None => {
                    self.checks.insert(name.clone(), CheckSlot::new(check.clone()));
                    changes.push(format!("check {name} added"));
                    self.spawn_check(name, None);
                }
            }
        }

        // VIPs: rebuild; every old and new prefix is re-resolved, unchanged ones send nothing.
        let old_prefixes: Vec<_> = self.vips.iter().map(|v| v.config.prefix).collect();
        let new_vips: Vec<Vip> = new
            .vips
            .iter()
            .map(|config| {
                let mut vip = Vip::new(config);
                vip.current =
                    self.vips.iter().find(|v| v.config.prefix == config.prefix).and_then(|v| v.current.clone());
                vip
            })
            .collect();
        for vip in &new_vips {
            let before = self.vips.iter().find(|v| v.config.prefix == vip.config.prefix);
            match before {
                None => changes.push(format!("vip {} added", vip.config.prefix)),
                Some(before) if before.config != vip.config => {
                    changes.push(format!("vip {} changed", vip.config.prefix))
                }
                Some(_) => {}
            }
        }
        for prefix in &old_prefixes {
            if !new_vips.iter().any(|v| v.config.prefix == *prefix) {
                changes.push(format!("vip {prefix} removed"));
            }
        }
        self.touched.extend(old_prefixes);
        self.touched.extend(new_vips.iter().map(|v| v.config.prefix));
        self.vips = new_vips;
        let vip_prefixes: Vec<_> = self.vips.iter().map(|v| v.config.prefix).collect();
        self.drain.prefixes.retain(|prefix, _| vip_prefixes.contains(prefix));

        self.apply_processes(&new.processes, &mut changes);
        self.config = new;
        for name in &leaving {
            changes.push(format!("peer {name} restarted or removed"));
        }
        for peer in self.config.peers.clone() {
            if !self.peers.contains_key(&peer.name) {
                if !leaving.contains(&peer.name) {
                    changes.push(format!("peer {} added", peer.name));
                }
                self.add_peer(peer);
            }
        }
        if changes.is_empty() {
            "no changes".to_string()
        } else {
            changes.join("; ")
        }
    }
}

/// Whether `new` can be applied to the session `old` runs without restarting it: everything but
/// the timers that a running session renegotiates (BFD, by a Poll) or simply re-arms (send hold).
fn same_session(old: &PeerConfig, new: &PeerConfig) -> bool {
    let timers_of_old = PeerConfig { bfd: new.bfd, send_hold_time: new.send_hold_time, ..old.clone() };
    timers_of_old == *new
}
