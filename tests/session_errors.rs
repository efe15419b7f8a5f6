//! Session behaviour that no real router can be made to provoke on demand: malformed input, a
//! peer that goes silent, a wrong AS, a peer without 4-octet AS support. The "router" here is a
//! BGP peer written with rhi's own codec (DESIGN §6); rhi is the real binary.

mod support;

use std::net::Ipv4Addr;

use ::rhi::bgp::attributes::AsSegment;
use ::rhi::bgp::codec::{BgpCodec, CodecParams};
use ::rhi::bgp::message::{Message, Open, RouteRefresh, Update};
use ::rhi::bgp::notification::{code, Notification};
use ::rhi::bgp::{Capability, Family};
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

const VIP: &str = "10.46.46.46/32";
const PEER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn config(net: &TestNet, local_as: u32, hold: &str) -> String {
    format!(
        r#"router_id: {injector}
local_as: {local_as}
peers:
  - name: r1
    address: {router}
    remote_as: {ROUTER_AS}
    port: {BGP_PORT}
    local_address: {injector}
    hold_time: {hold}
    connect_retry: 1s
    next_hop: {NEXT_HOP_V4}
vips:
  - prefix: {VIP}
    med: 300
control:
  socket: "@DIR@/rhi.sock"
"#,
        injector = net.injector(),
        router = net.router(),
    )
}

struct Peer {
    framed: Framed<TcpStream, BgpCodec>,
}

async fn listen(net: &TestNet) -> TcpListener {
    TcpListener::bind((net.router(), BGP_PORT)).await.expect("bind the test peer")
}

async fn accept(listener: &TcpListener) -> Peer {
    let (stream, _) = tokio::time::timeout(secs(10), listener.accept()).await.expect("rhi connects").unwrap();
    Peer { framed: Framed::new(stream, BgpCodec::new()) }
}

impl Peer {
    async fn next(&mut self) -> Option<Message> {
        match tokio::time::timeout(secs(10), self.framed.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(error))) => panic!("peer could not decode what rhi sent: {error}"),
            Ok(None) => None,
            Err(_) => panic!("rhi sent nothing for 10 s"),
        }
    }

    async fn expect_open(&mut self) -> Open {
        match self.next().await {
            Some(Message::Open(open)) => open,
            other => panic!("expected OPEN, got {other:?}"),
        }
    }

    /// OPEN both ways, KEEPALIVE both ways: rhi is Established.
    async fn establish(&mut self, capabilities: Vec<Capability>, hold: u16) -> Open {
        let theirs = self.expect_open().await;
        let four_octet_as = capabilities.iter().any(|c| matches!(c, Capability::FourOctetAs(_)));
        let ours = Open::new(ROUTER_AS, hold, PEER_ID, capabilities);
        self.framed.send(Message::Open(ours)).await.unwrap();
        self.framed.send(Message::Keepalive).await.unwrap();
        assert_eq!(self.next().await, Some(Message::Keepalive));
        // rhi always offers 4-octet AS: the wire format follows what this peer offered.
        self.framed.codec_mut().set_params(CodecParams { four_octet_as, ..CodecParams::default() });
        theirs
    }

    /// Reads until a message matching `wanted` arrives (KEEPALIVEs and others are skipped).
    async fn until<T>(&mut self, what: &str, mut wanted: impl FnMut(&Message) -> Option<T>) -> T {
        loop {
            match self.next().await {
                Some(message) => {
                    if let Some(found) = wanted(&message) {
                        return found;
                    }
                }
                None => panic!("connection closed while waiting for {what}"),
            }
        }
    }

    async fn until_notification(&mut self) -> Notification {
        self.until("a NOTIFICATION", |m| match m {
            Message::Notification(n) => Some(n.clone()),
            _ => None,
        })
        .await
    }

    async fn until_vip(&mut self) -> Update {
        self.until("the VIP", |m| match m {
            Message::Update(u) if u.nlri.contains(&VIP.parse().unwrap()) => Some(u.clone()),
            _ => None,
        })
        .await
    }
}

fn full_capabilities() -> Vec<Capability> {
    vec![Capability::Multiprotocol(Family::IPV4_UNICAST), Capability::RouteRefresh, Capability::FourOctetAs(ROUTER_AS)]
}

#[tokio::test]
async fn a_bad_marker_gets_notification_1_1_and_rhi_reconnects() {
    let net = TestNet::allocate();
    let listener = listen(&net).await;
    let rhi = RhiProcess::start(&config(&net, INJECTOR_AS, "9s"));
    let mut peer = accept(&listener).await;
    peer.establish(full_capabilities(), 9).await;
    peer.until_vip().await;
    let mut garbage = vec![0u8; 19];
    garbage[16..18].copy_from_slice(&19u16.to_be_bytes());
    garbage[18] = 4;
    peer.framed.get_mut().write_all(&garbage).await.unwrap();
    let notification = peer.until_notification().await;
    assert_eq!((notification.code, notification.subcode), (code::MESSAGE_HEADER, 1), "{notification}");
    assert_eq!(peer.next().await, None, "rhi closes after the NOTIFICATION");
    // Backoff, then a fresh session that carries the table again.
    let mut again = accept(&listener).await;
    again.establish(full_capabilities(), 9).await;
    again.until_vip().await;
    rhi.assert_running();
}

#[tokio::test]
async fn a_silent_peer_gets_hold_timer_expired() {
    let net = TestNet::allocate();
    let listener = listen(&net).await;
    let rhi = RhiProcess::start(&config(&net, INJECTOR_AS, "3s"));
    let mut peer = accept(&listener).await;
    let theirs = peer.establish(full_capabilities(), 3).await;
    assert_eq!(theirs.hold_time, 3);
    // From here the peer sends nothing: rhi's hold timer (3 s) must expire.
    let notification = peer.until_notification().await;
    assert_eq!((notification.code, notification.subcode), (code::HOLD_TIMER_EXPIRED, 0), "{notification}");
    rhi.wait_log("hold timer expired", secs(5));
}

#[tokio::test]
async fn a_wrong_peer_as_gets_open_error_2_2() {
    let net = TestNet::allocate();
    let listener = listen(&net).await;
    let rhi = RhiProcess::start(&config(&net, INJECTOR_AS, "9s"));
    let mut peer = accept(&listener).await;
    peer.expect_open().await;
    let wrong = Open::new(64999, 9, PEER_ID, vec![Capability::FourOctetAs(64999)]);
    peer.framed.send(Message::Open(wrong)).await.unwrap();
    let notification = peer.until_notification().await;
    assert_eq!((notification.code, notification.subcode), (code::OPEN_MESSAGE, 2), "{notification}");
    rhi.assert_running();
}

#[tokio::test]
async fn route_refresh_resends_the_table() {
    let net = TestNet::allocate();
    let listener = listen(&net).await;
    let _rhi = RhiProcess::start(&config(&net, INJECTOR_AS, "9s"));
    let mut peer = accept(&listener).await;
    peer.establish(full_capabilities(), 9).await;
    let first = peer.until_vip().await;
    peer.framed.send(Message::RouteRefresh(RouteRefresh::new(Family::IPV4_UNICAST))).await.unwrap();
    let again = peer.until_vip().await;
    assert_eq!(again.attributes, first.attributes);
}

#[tokio::test]
async fn a_malformed_attribute_from_the_peer_is_treated_as_withdraw_not_a_reset() {
    let net = TestNet::allocate();
    let listener = listen(&net).await;
    let rhi = RhiProcess::start(&config(&net, INJECTOR_AS, "3s"));
    let mut peer = accept(&listener).await;
    peer.establish(full_capabilities(), 3).await;
    peer.until_vip().await;
    // An UPDATE with ORIGIN = 7 (invalid) for 198.51.100.0/24: RFC 7606 says treat-as-withdraw.
    #[rustfmt::skip]
    let body: &[u8] = &[
        0, 0,                       // no withdrawn routes
        0, 20,                      // path attributes: 20 octets
        0x40, 1, 1, 7,              // ORIGIN = 7
        0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, // AS_PATH: sequence [65001]
        0x40, 3, 4, 192, 0, 2, 1,   // NEXT_HOP
        24, 198, 51, 100,           // NLRI 198.51.100.0/24
    ];
    let mut raw = BytesMut::new();
    raw.extend_from_slice(&[0xff; 16]);
    raw.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    raw.extend_from_slice(&[2]);
    raw.extend_from_slice(body);
    peer.framed.get_mut().write_all(&raw).await.unwrap();
    rhi.wait_log("treated as withdraw", secs(5));
    // The session survives: keepalives keep coming past the 3 s hold time, no NOTIFICATION.
    for _ in 0..3 {
        peer.framed.send(Message::Keepalive).await.unwrap();
        peer.until("a KEEPALIVE", |m| match m {
            Message::Keepalive => Some(()),
            Message::Notification(n) => panic!("the session was reset: {n}"),
            _ => None,
        })
        .await;
    }
    rhi.assert_running();
}

#[tokio::test]
async fn a_four_octet_as_reaches_a_two_octet_peer_as_as_trans_plus_as4_path() {
    let net = TestNet::allocate();
    let listener = listen(&net).await;
    let four_octet_as = 4_200_000_010u32;
    let rhi = RhiProcess::start(&config(&net, four_octet_as, "9s"));
    let mut peer = accept(&listener).await;
    // The peer offers no 4-octet AS capability: an old router.
    let theirs = peer.establish(vec![Capability::Multiprotocol(Family::IPV4_UNICAST)], 9).await;
    assert_eq!(theirs.my_as, ::rhi::bgp::AS_TRANS, "My AS is AS_TRANS");
    assert_eq!(theirs.asn(), four_octet_as, "the real AS is in the capability");
    // The peer's codec is in 2-octet mode, as the old router's would be; it merges AS4_PATH.
    let update = peer.until_vip().await;
    let path = update.attributes.as_path.expect("AS_PATH");
    assert_eq!(path.segments, vec![AsSegment::Sequence(vec![four_octet_as])]);
    rhi.assert_running();
}
