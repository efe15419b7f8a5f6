//! `rhi run`: wires the configuration to the peer tasks, listeners, health checks and speaker,
//! and turns SIGTERM/SIGINT into withdraw-then-Cease.

use std::collections::HashMap;
use std::io;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::bgp::session::spawn_peer;
use crate::config::Config;
use crate::health;
use crate::listener;
use crate::speaker::{PeerLink, Speaker, SpeakerEvent};

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
    // SIGHUP's default action would end the process without withdrawing anything.
    let mut hangup = signal(SignalKind::hangup())?;

    let peers: Vec<_> =
        config.peers.iter().map(|peer| spawn_peer(peer.clone(), config.local_as, config.router_id)).collect();
    let by_address: HashMap<_, _> =
        peers.iter().map(|peer| (listener::canonical(peer.address), peer.commands.clone())).collect();
    for socket in listeners {
        tokio::spawn(listener::serve(socket, by_address.clone()));
    }
    info!(router_id = %config.router_id, local_as = config.local_as, peers = peers.len(), vips = config.vips.len(), "rhi running");

    let (events, events_rx) = mpsc::unbounded_channel();
    let links = peers.iter().map(|p| PeerLink { name: p.name.clone(), commands: p.commands.clone() }).collect();
    let speaker = tokio::spawn(Speaker::new(&config, links).run(events_rx));

    let (reports, mut reports_rx) = mpsc::unbounded_channel();
    for (name, check) in &config.checks {
        tokio::spawn(health::run_check(name.clone(), check.clone(), reports.clone()));
    }
    let forward = events.clone();
    tokio::spawn(async move {
        while let Some(report) = reports_rx.recv().await {
            if forward.send(SpeakerEvent::Check(report)).is_err() {
                return;
            }
        }
    });
    let grace = events.clone();
    let startup_grace = config.startup_grace;
    tokio::spawn(async move {
        tokio::time::sleep(startup_grace).await;
        let _ = grace.send(SpeakerEvent::StartupGraceOver);
    });

    let signal_name = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
            _ = hangup.recv() => warn!("SIGHUP: configuration reload is not supported by this build yet; nothing changed"),
        }
    };
    info!(signal = signal_name, "withdrawing routes and closing sessions");
    let (done, finished) = oneshot::channel();
    let message = format!("rhi shutting down ({signal_name})");
    if events.send(SpeakerEvent::Shutdown { message, done }).is_ok() {
        let _ = finished.await;
    }
    let _ = speaker.await;
    info!("stopped");
    Ok(())
}

/// Parts of the configuration schema whose runtime is not in this build: refusing them is safer
/// than running without them.
fn refuse_unbuilt_features(config: &Config) -> Result<(), DaemonError> {
    if !config.processes.is_empty() {
        return Err(DaemonError::Unsupported(
            "processes: ExaBGP API processes are not supported by this build yet".into(),
        ));
    }
    Ok(())
}
