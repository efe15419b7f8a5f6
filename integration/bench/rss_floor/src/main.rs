//! rss-floor: the least a daemon built on rhi's mandated crates does at start and when idle, so
//! its VmRSS is the floor under `rhi run`'s idle RSS target (integration/bench/rss_floor.sh).
//! Every mandated crate is used for real, on the same paths rhi takes: clap derive, serde_yaml
//! into a struct with an IpNet and a humantime duration, a tracing fmt subscriber on stderr, a
//! current-thread tokio runtime, a reqwest Client, a hyper http1 server on loopback, one TCP
//! connection to the peer read through a tokio-util codec, then a 1 s timer and signals.
//! Nothing here is rhi's own logic (no BGP, RIB, health checks), so whatever this costs is the
//! price of the stack itself.

use std::{convert::Infallible, net::SocketAddr, path::PathBuf, time::Duration};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::{server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::codec::{BytesCodec, FramedRead};

#[derive(Parser)]
struct Args {
    /// YAML config (rhi's `-c`); `env` because rhi's CLI pulls in clap's env feature too.
    #[arg(short = 'c', long = "config", env = "RSS_FLOOR_CONFIG")]
    config: PathBuf,
    /// JSON log lines, as `rhi --log-format json`, so both tracing formatters are linked in.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Deserialize)]
struct Config {
    peer: std::net::IpAddr,
    port: u16,
    /// rhi binds its side of the session (BIRD only accepts the configured neighbour).
    local_address: Option<std::net::IpAddr>,
    /// Where the trivial metrics endpoint listens (127.x only).
    metrics: SocketAddr,
    prefix: ipnet::IpNet,
    #[serde(deserialize_with = "duration")]
    keepalive: Duration,
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn main() {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.config).expect("read config");
    let config: Config = serde_yaml::from_str(&text).expect("parse config");
    // As rhi's logging::init: stderr, colour only at a terminal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(ansi);
    if args.json {
        fmt.json().init()
    } else {
        fmt.init()
    }
    tracing::info!(peer = %config.peer, prefix = %config.prefix, "rss-floor starting");
    // Current-thread, all drivers: exactly rhi's runtime (no worker threads, no blocking pool yet).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(run(config));
}

async fn run(config: Config) {
    // rhi builds its health-check clients at start, whether or not a probe ever fires.
    let _client = reqwest::Client::builder().no_proxy().build().expect("reqwest client");

    // The metrics endpoint: hyper http1 with a timer, one task per connection, like rhi's.
    let listener = TcpListener::bind(config.metrics).await.expect("bind metrics");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    // The one peer: a TCP connection held open (no BGP on top: that is rhi's code, not the floor).
    let peer = SocketAddr::new(config.peer, config.port);
    let socket = if peer.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.expect("socket");
    if let Some(local) = config.local_address {
        socket.bind(SocketAddr::new(local, 0)).expect("bind local address");
    }
    let stream = socket.connect(peer).await.expect("connect to peer");
    tracing::info!(%peer, "connected");
    // Whatever the peer sends (BIRD's OPEN) is read into a BytesMut and dropped, as rhi's codec would.
    let mut frames = FramedRead::new(stream, BytesCodec::new());
    tokio::spawn(async move { while let Some(Ok(_)) = frames.next().await {} });

    // Idle: a keepalive-like tick that sends nothing, until SIGTERM or SIGINT (ctrl-c).
    let mut tick = tokio::time::interval(config.keepalive);
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("rss-floor stopping");
}
