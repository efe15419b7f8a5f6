//! Listening sockets for routers that connect to us (passive peers, or active ones that race us).
//! A connection is handed to the task of the peer whose address it comes from; any other source
//! address is refused at once, before a single byte is read.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;

use crate::accept_backoff::AcceptErrors;
use crate::speaker::SpeakerEvent;

/// Binds every address first, so that a port in use is an error at startup, not a log line later.
/// `before_listen` sees each bound socket before it accepts anything (the TCP-MD5 keys).
pub fn bind(
    addresses: &[SocketAddr],
    mut before_listen: impl FnMut(&TcpSocket) -> io::Result<()>,
) -> io::Result<Vec<TcpListener>> {
    addresses
        .iter()
        .map(|address| {
            let socket = match address {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            socket.set_reuseaddr(true)?;
            socket
                .bind(*address)
                .and_then(|()| before_listen(&socket))
                .and_then(|()| socket.listen(64))
                .map_err(|error| io::Error::new(error.kind(), format!("listen {address}: {error}")))
        })
        .collect()
}

/// Accepted connections go to the speaker, which knows the peers (they change on reload).
pub async fn serve(listener: TcpListener, speaker: mpsc::UnboundedSender<SpeakerEvent>) {
    let local = listener.local_addr().ok();
    let mut errors = AcceptErrors::new(match local {
        Some(local) => format!("BGP {local}"),
        None => "BGP".to_string(),
    });
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                errors.failed(&error).await;
                continue;
            }
        };
        errors.accepted();
        tracing::debug!(%remote, ?local, "inbound connection");
        if speaker.send(SpeakerEvent::Inbound(stream)).is_err() {
            return;
        }
    }
}

/// An IPv4 router connecting to an IPv6 dual-stack socket shows up as ::ffff:a.b.c.d.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
        v4 => v4,
    }
}
