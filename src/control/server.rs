//! The daemon's end of the control socket: a Unix socket, mode 0600, one JSON request per line,
//! each answered by one JSON line. Every command goes to the speaker, the one owner of state.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{Framed, LinesCodec};
use tracing::debug;

use super::proto::{Request, Response, PROTOCOL_VERSION};
use crate::accept_backoff::AcceptErrors;
use crate::speaker::SpeakerEvent;

/// No request is anywhere near this; a client that sends more is not speaking the protocol.
const MAX_LINE: usize = 1 << 20;

/// Binds the socket. A socket file left by a crashed rhi is replaced; one that a running rhi
/// answers on is not (two daemons would fight over the routes).
pub async fn bind(path: &Path) -> io::Result<UnixListener> {
    if path.exists() {
        match UnixStream::connect(path).await {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("control socket {}: another rhi is running and owns it", path.display()),
                ))
            }
            Err(_) => std::fs::remove_file(path).map_err(|e| {
                io::Error::new(e.kind(), format!("control socket {}: stale, cannot remove: {e}", path.display()))
            })?,
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("control socket directory {}: {e}", dir.display())))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| io::Error::new(e.kind(), format!("control socket {}: {e}", path.display())))?;
    // Anyone who can talk to the socket can withdraw this node's routes.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

pub async fn serve(listener: UnixListener, speaker: mpsc::UnboundedSender<SpeakerEvent>) {
    let mut errors = AcceptErrors::new("control socket");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                errors.accepted();
                tokio::spawn(connection(stream, speaker.clone()));
            }
            Err(error) => errors.failed(&error).await,
        }
    }
}

async fn connection(stream: UnixStream, speaker: mpsc::UnboundedSender<SpeakerEvent>) {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let response = match line {
            Ok(line) => answer(&line, &speaker).await,
            Err(error) => Response::refused(format!("bad request: {error}")),
        };
        let text = serde_json::to_string(&response).unwrap_or_else(|_| r#"{"ok":false,"error":"encoding"}"#.into());
        if lines.send(text).await.is_err() {
            return;
        }
    }
    debug!("control client left");
}

async fn answer(line: &str, speaker: &mpsc::UnboundedSender<SpeakerEvent>) -> Response {
    let request: Request = match serde_json::from_str(line) {
        Ok(request) => request,
        Err(error) => return Response::refused(format!("bad request: {error}")),
    };
    if request.version != PROTOCOL_VERSION {
        return Response::refused(format!(
            "protocol version {} is not supported by this daemon (it speaks {PROTOCOL_VERSION}): use the rhi binary of the same release",
            request.version
        ));
    }
    let (reply, answer) = oneshot::channel();
    if speaker.send(SpeakerEvent::Control { command: request.command, reply }).is_err() {
        return Response::refused("rhi is shutting down");
    }
    answer.await.unwrap_or_else(|_| Response::refused("rhi is shutting down"))
}

/// Removes the socket file at exit, if it is still ours.
pub fn remove(path: &PathBuf) {
    let _ = std::fs::remove_file(path);
}
