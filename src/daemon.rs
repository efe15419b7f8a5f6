//! `rhi run`: wires the configuration to the peer tasks, listeners and speaker, and turns
//! SIGTERM/SIGINT into withdraw-then-Cease.

use std::collections::HashMap;
use std::io;

use tokio::signal::unix::{signal, SignalKind};
use tracing::info;

use crate::bgp::session::spawn_peer;
use crate::config::Config;
use crate::listener;
use crate::speaker::Speaker;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Unsupported(String),
}

/// Runs until SIGTERM or SIGINT, then withdraws every route and closes every session.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    refuse_unbuilt_features(&config)?;
    let listeners = listener::bind(&config.listen)?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;

    let peers: Vec<_> =
        config.peers.iter().map(|peer| spawn_peer(peer.clone(), config.local_as, config.router_id)).collect();
    let by_address: HashMap<_, _> =
        peers.iter().map(|peer| (listener::canonical(peer.address), peer.commands.clone())).collect();
    for socket in listeners {
        tokio::spawn(listener::serve(socket, by_address.clone()));
    }
    info!(router_id = %config.router_id, local_as = config.local_as, peers = peers.len(), vips = config.vips.len(), "rhi running");

    let mut speaker = Speaker::new(peers);
    speaker.announce_static_vips(&config);

    let signal_name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    info!(signal = signal_name, "withdrawing routes and closing sessions");
    speaker.shutdown(format!("rhi shutting down ({signal_name})")).await;
    info!("stopped");
    Ok(())
}

/// Parts of the configuration schema whose runtime is not in this build: refusing them is safer
/// than running without them (a VIP whose check is ignored would attract traffic it cannot serve).
fn refuse_unbuilt_features(config: &Config) -> Result<(), DaemonError> {
    if let Some(vip) = config.vips.iter().find(|vip| !vip.checks.is_empty()) {
        return Err(DaemonError::Unsupported(format!(
            "vip {}: health checks are not supported by this build of rhi yet",
            vip.prefix
        )));
    }
    if !config.processes.is_empty() {
        return Err(DaemonError::Unsupported("processes: ExaBGP API processes are not supported by this build yet".into()));
    }
    Ok(())
}
