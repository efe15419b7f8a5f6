//! `rhi run`: binds what must be bound (so a port or socket in use fails the start, not a log line
//! later), starts the speaker, and turns signals into events: SIGTERM/SIGINT withdraw and close,
//! SIGHUP reloads.

use std::io;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::config::{Config, ConfigFile};
use crate::control;
use crate::driver::tcp_md5::ListenerKeys;
use crate::listener;
use crate::metrics;
use crate::speaker::{Speaker, SpeakerEvent};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Runs until SIGTERM or SIGINT, then withdraws every route and closes every session.
pub async fn run(config: Config, config_file: Option<ConfigFile>) -> Result<(), DaemonError> {
    // Each BGP session, control client and scrape holds a descriptor.
    crate::accept_backoff::raise_nofile_limit_logged();
    // The speaker keeps the listeners' keys (it applies reloads); they are set before `listen`.
    let mut listener_keys = ListenerKeys::default();
    // Likewise the GTSM filters (driver::ttl: why a socket filter and not IP_MINTTL).
    let mut listener_ttl = crate::driver::ttl::ListenerTtl::default();
    let listeners = listener::bind(&config.listen, |socket| {
        listener_keys.adopt(socket, &config.peers)?;
        listener_ttl.adopt(socket, &config.peers)
    })?;
    let control_socket = config.control.socket.clone();
    let control = control::server::bind(&control_socket).await?;
    let metrics_listener = match &config.metrics {
        Some(metrics) => Some(
            metrics::bind(metrics.listen)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("metrics.listen {}: {e}", metrics.listen)))?,
        ),
        None => None,
    };
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;

    let (events, events_rx) = mpsc::unbounded_channel();
    for socket in listeners {
        tokio::spawn(listener::serve(socket, events.clone()));
    }
    tokio::spawn(control::server::serve(control, events.clone()));
    if let Some(listener) = metrics_listener {
        let speaker = events.clone();
        tokio::spawn(metrics::serve(listener, move || {
            let speaker = speaker.clone();
            async move {
                let (reply, snapshot) = oneshot::channel();
                speaker.send(SpeakerEvent::Snapshot(reply)).ok()?;
                snapshot.await.ok()
            }
        }));
    }
    info!(
        router_id = %config.router_id,
        local_as = config.local_as,
        peers = config.peers.len(),
        vips = config.vips.len(),
        control = %control_socket.display(),
        "rhi running"
    );
    let startup_grace = config.startup_grace;
    // An API process's `shutdown` stops rhi as SIGTERM would.
    let (stop_requests, mut stop_requested) = mpsc::unbounded_channel::<String>();
    let mut speaker = Speaker::start(config, config_file, events.clone(), stop_requests);
    speaker.set_listener_keys(listener_keys);
    speaker.set_listener_ttl(listener_ttl);
    let speaker = tokio::spawn(speaker.run(events_rx));
    let grace = events.clone();
    tokio::spawn(async move {
        tokio::time::sleep(startup_grace).await;
        let _ = grace.send(SpeakerEvent::StartupGraceOver);
    });

    let reason = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM".to_string(),
            _ = interrupt.recv() => break "SIGINT".to_string(),
            Some(reason) = stop_requested.recv() => break reason,
            _ = hangup.recv() => {
                info!("SIGHUP: reloading the configuration");
                let _ = events.send(SpeakerEvent::Reload { reply: None });
            }
        }
    };
    info!(%reason, "withdrawing routes and closing sessions");
    let (done, finished) = oneshot::channel();
    let message = format!("rhi shutting down ({reason})");
    if events.send(SpeakerEvent::Shutdown { message, done }).is_ok() && finished.await.is_err() {
        warn!("speaker ended before confirming shutdown");
    }
    let _ = speaker.await;
    control::server::remove(&control_socket);
    info!("stopped");
    Ok(())
}
