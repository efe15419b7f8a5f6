//! Listening sockets for routers that connect to us (passive peers, or active ones that race us).
//! A connection is handed to the task of the peer whose address it comes from; any other source
//! address is refused at once, before a single byte is read.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::bgp::session::PeerCommand;

/// Binds every address first, so that a port in use is an error at startup, not a log line later.
pub fn bind(addresses: &[SocketAddr]) -> io::Result<Vec<TcpListener>> {
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
                .and_then(|()| socket.listen(64))
                .map_err(|error| io::Error::new(error.kind(), format!("listen {address}: {error}")))
        })
        .collect()
}

pub async fn serve(listener: TcpListener, peers: HashMap<IpAddr, mpsc::UnboundedSender<PeerCommand>>) {
    let local = listener.local_addr().ok();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(?local, %error, "accept failed");
                continue;
            }
        };
        let source = canonical(remote.ip());
        match peers.get(&source) {
            Some(peer) => {
                if peer.send(PeerCommand::Inbound(stream)).is_err() {
                    warn!(%remote, "peer task has stopped; connection dropped");
                }
            }
            None => info!(%remote, ?local, "refused connection: not a configured peer"),
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
