//! Prometheus metrics: `render` turns a [`Status`] snapshot into the Prometheus text exposition format
//! (version 0.0.4), and `bind` + `serve` answer `GET /metrics` and `GET /healthz` on `metrics.listen`.
//!
//! Every value comes from the one snapshot model (`rhi::status`), so `/metrics`, `rhi status` and
//! `rhi status --json` never disagree. Counters are the daemon's own counts since it started (a restart
//! resets them, which `rate()` handles).
//!
//! Enumerations are exposed the way kube-state-metrics and node_exporter do it: one series per possible
//! state, 1 on the current one and 0 on the others, so `rhi_peer_state{state="Established"} == 0` or
//! `rhi_check_state{state="DOWN"} == 1` work as alerts and no numeric code has to be remembered.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `rhi_peer_up` | gauge | `peer` | 1 while the session is Established |
//! | `rhi_peer_state` | gauge | `peer`, `state` | 1 on the current FSM state (Idle, Connect, Active, OpenSent, OpenConfirm, Established) |
//! | `rhi_peer_state_seconds` | gauge | `peer` | seconds in the current state |
//! | `rhi_peer_updates_sent_total` | counter | `peer` | UPDATE messages sent |
//! | `rhi_peer_updates_received_total` | counter | `peer` | UPDATE messages received |
//! | `rhi_peer_messages_sent_total` | counter | `peer` | messages of every type sent |
//! | `rhi_peer_messages_received_total` | counter | `peer` | messages of every type received |
//! | `rhi_peer_prefixes_received_total` | counter | `peer` | prefixes announced to rhi |
//! | `rhi_peer_prefixes_advertised` | gauge | `peer` | prefixes in the Adj-RIB-Out |
//! | `rhi_peer_flaps_total` | counter | `peer` | times the session left Established |
//! | `rhi_peer_bfd_up` | gauge | `peer` | 1 while BFD to the router is Up (absent without BFD) |
//! | `rhi_peer_bfd_state` | gauge | `peer`, `state` | 1 on the current BFD state (AdminDown, Down, Init, Up) |
//! | `rhi_peer_bfd_transitions_total` | counter | `peer` | BFD state changes |
//! | `rhi_peer_bfd_detection_time_seconds` | gauge | `peer` | the negotiated BFD detection time |
//! | `rhi_check_up` | gauge | `check` | 1 while the check passes (UP or DEGRADED) |
//! | `rhi_check_state` | gauge | `check`, `state` | 1 on the current state (UP, DEGRADED, DOWN) |
//! | `rhi_check_decided` | gauge | `check` | 1 once the check has reached its first verdict |
//! | `rhi_check_last_duration_seconds` | gauge | `check` | duration of the last probe (absent before the first) |
//! | `rhi_check_probes_total` | counter | `check` | probes run |
//! | `rhi_check_failures_total` | counter | `check` | probes that failed |
//! | `rhi_route_announced` | gauge | `prefix`, `source` | 1 while announced to at least one peer |
//! | `rhi_route_drained` | gauge | `prefix`, `source` | 1 while drained |
//! | `rhi_drained_all` | gauge | | 1 while every VIP is drained |
//! | `rhi_drain_withdraw_in_seconds` | gauge | | seconds until drained routes are withdrawn (absent when none is pending) |
//! | `rhi_uptime_seconds` | gauge | | seconds since the daemon started |
//! | `rhi_build_info` | gauge | `version` | always 1 |

use std::collections::hash_map::{Entry, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::accept_backoff::AcceptErrors;
use crate::status::{CheckInfo, PeerInfo, Status};

/// `Content-Type` of `/metrics`: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE_METRICS: &str = prometheus_text::CONTENT_TYPE;

/// The BGP FSM states (RFC 4271 §8.2.2), as `Status` spells them.
const PEER_STATES: [&str; 6] = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];
/// Health check states, as `Status` spells them.
const CHECK_STATES: [&str; 3] = ["UP", "DEGRADED", "DOWN"];
const BFD_STATES: [&str; 4] = ["AdminDown", "Down", "Init", "Up"];

/// A snapshot that takes longer than this is answered with 503 (the speaker is stuck or gone).
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);
/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection (keep-alive included) is closed after this long; scrapers simply reconnect.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Connections served at once; further clients wait in the listen backlog.
const MAX_CONNECTIONS: usize = 64;

/// Renders one [`Status`] on each scrape: const metrics written in the snapshot's order (peers and
/// checks as configured), so the output is stable and diffable.
#[derive(Debug)]
struct StatusCollector(Status);

/// Writes one metric family: HELP, TYPE and one sample per label set. A family without samples is
/// left out, as the registry does for empty families.
fn write_family<L, M>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl IntoIterator<Item = (L, M)>,
) -> fmt::Result
where
    L: EncodeLabelSet,
    M: EncodeMetric,
{
    let mut series = series.into_iter().peekable();
    let Some((_, first)) = series.peek() else { return Ok(()) };
    let mut metric = enc.encode_descriptor(name, help, unit, first.metric_type())?;
    for (labels, m) in series {
        m.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge<N: EncodeGaugeValue>(v: N) -> ConstGauge<N> {
    ConstGauge::new(v)
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn flag(b: bool) -> ConstGauge<u64> {
    ConstGauge::new(u64::from(b))
}

/// One series per known state (1 on `current`, 0 on the others); a state outside the known list gets
/// a series of its own, so nothing the daemon reports is lost.
fn state_series<'a>(known: &[&'a str], current: &'a str) -> Vec<(&'a str, bool)> {
    let mut series: Vec<(&str, bool)> = known.iter().map(|s| (*s, s.eq_ignore_ascii_case(current))).collect();
    if !series.iter().any(|(_, on)| *on) {
        series.push((current, true));
    }
    series
}

fn is_established(state: &str) -> bool {
    state.eq_ignore_ascii_case("Established")
}

/// A DEGRADED check still passes: its VIPs stay announced, with their `when_degraded` attributes.
fn is_passing(state: &str) -> bool {
    state.eq_ignore_ascii_case("UP") || state.eq_ignore_ascii_case("DEGRADED")
}

impl Collector for StatusCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let st = &self.0;
        let secs = Some(&Unit::Seconds);
        let e = &mut enc;

        fn peer(p: &PeerInfo) -> [(&'static str, &str); 1] {
            [("peer", p.name.as_str())]
        }
        write_family(
            e,
            "peer_up",
            "1 while the BGP session with the peer is Established, else 0.",
            None,
            st.peers.iter().map(|p| (peer(p), flag(is_established(&p.state)))),
        )?;
        write_family(
            e,
            "peer_state",
            "BGP FSM state of the session: 1 on the current state (Idle, Connect, Active, OpenSent, \
             OpenConfirm, Established), 0 on the others.",
            None,
            st.peers.iter().flat_map(|p| {
                state_series(&PEER_STATES, &p.state)
                    .into_iter()
                    .map(move |(state, on)| ([("peer", p.name.as_str()), ("state", state)], flag(on)))
            }),
        )?;
        write_family(
            e,
            "peer_state",
            "Seconds the session has been in its current BGP state.",
            secs,
            st.peers.iter().map(|p| (peer(p), gauge(p.state_seconds))),
        )?;
        write_family(
            e,
            "peer_updates_sent",
            "BGP UPDATE messages sent to the peer.",
            None,
            st.peers.iter().map(|p| (peer(p), counter(p.updates_sent))),
        )?;
        write_family(
            e,
            "peer_updates_received",
            "BGP UPDATE messages received from the peer.",
            None,
            st.peers.iter().map(|p| (peer(p), counter(p.updates_received))),
        )?;
        write_family(
            e,
            "peer_messages_sent",
            "BGP messages of every type sent to the peer.",
            None,
            st.peers.iter().map(|p| (peer(p), counter(p.messages_sent))),
        )?;
        write_family(
            e,
            "peer_messages_received",
            "BGP messages of every type received from the peer.",
            None,
            st.peers.iter().map(|p| (peer(p), counter(p.messages_received))),
        )?;
        write_family(
            e,
            "peer_prefixes_received",
            "Prefixes the peer announced to rhi (counted; rhi keeps no Adj-RIB-In).",
            None,
            st.peers.iter().map(|p| (peer(p), counter(p.prefixes_received))),
        )?;
        write_family(
            e,
            "peer_prefixes_advertised",
            "Prefixes currently advertised to the peer (its Adj-RIB-Out).",
            None,
            st.peers.iter().map(|p| (peer(p), gauge(p.prefixes_advertised))),
        )?;
        write_family(
            e,
            "peer_flaps",
            "Times the BGP session left the Established state.",
            None,
            st.peers.iter().map(|p| (peer(p), counter(p.flaps))),
        )?;

        let with_bfd = || st.peers.iter().filter_map(|p| Some((p, p.bfd.as_ref()?)));
        write_family(
            e,
            "peer_bfd_up",
            "1 while BFD to the router is Up.",
            None,
            with_bfd().map(|(p, b)| (peer(p), flag(b.state == "Up"))),
        )?;
        write_family(
            e,
            "peer_bfd_state",
            "BFD session state: 1 on the current state (AdminDown, Down, Init, Up), 0 on the others.",
            None,
            with_bfd().flat_map(|(p, b)| {
                state_series(&BFD_STATES, &b.state)
                    .into_iter()
                    .map(move |(state, on)| ([("peer", p.name.as_str()), ("state", state)], flag(on)))
            }),
        )?;
        write_family(
            e,
            "peer_bfd_transitions",
            "BFD session state changes.",
            None,
            with_bfd().map(|(p, b)| (peer(p), counter(b.transitions))),
        )?;
        write_family(
            e,
            "peer_bfd_detection_time",
            "The negotiated BFD detection time: how long without a packet before the session is Down.",
            Some(&Unit::Seconds),
            with_bfd().map(|(p, b)| (peer(p), gauge(b.detection_time_ms / 1000.0))),
        )?;

        fn check(c: &CheckInfo) -> [(&'static str, &str); 1] {
            [("check", c.name.as_str())]
        }
        write_family(
            e,
            "check_up",
            "1 while the health check passes (UP or DEGRADED), 0 while it is DOWN.",
            None,
            st.checks.iter().map(|c| (check(c), flag(is_passing(&c.state)))),
        )?;
        write_family(
            e,
            "check_state",
            "Health check state: 1 on the current state (UP, DEGRADED, DOWN), 0 on the others.",
            None,
            st.checks.iter().flat_map(|c| {
                state_series(&CHECK_STATES, &c.state)
                    .into_iter()
                    .map(move |(state, on)| ([("check", c.name.as_str()), ("state", state)], flag(on)))
            }),
        )?;
        write_family(
            e,
            "check_decided",
            "1 once the health check has reached its first verdict (End-of-RIB waits for every check).",
            None,
            st.checks.iter().map(|c| (check(c), flag(c.decided))),
        )?;
        write_family(
            e,
            "check_last_duration",
            "Seconds the last probe of the health check took; absent before the first probe.",
            secs,
            st.checks.iter().filter_map(|c| Some((check(c), gauge(c.last_duration_seconds?)))),
        )?;
        write_family(
            e,
            "check_probes",
            "Probes run by the health check.",
            None,
            st.checks.iter().map(|c| (check(c), counter(c.probes))),
        )?;
        write_family(
            e,
            "check_failures",
            "Probes of the health check that failed.",
            None,
            st.checks.iter().map(|c| (check(c), counter(c.failures))),
        )?;

        // One series per (prefix, source): a duplicate series would make Prometheus reject the whole
        // scrape, so should the snapshot ever list a pair twice, the entries are merged.
        let mut routes: Vec<(String, &str, bool, bool)> = Vec::with_capacity(st.routes.len());
        let mut seen: HashMap<(String, &str), usize> = HashMap::with_capacity(st.routes.len());
        for r in &st.routes {
            let prefix = r.prefix.to_string();
            match seen.entry((prefix.clone(), r.source.as_str())) {
                Entry::Occupied(i) => {
                    let merged = &mut routes[*i.get()];
                    merged.2 |= r.announced;
                    merged.3 |= r.drained;
                }
                Entry::Vacant(slot) => {
                    slot.insert(routes.len());
                    routes.push((prefix, r.source.as_str(), r.announced, r.drained));
                }
            }
        }
        fn route<'a>(prefix: &'a str, source: &'a str) -> [(&'static str, &'a str); 2] {
            [("prefix", prefix), ("source", source)]
        }
        write_family(
            e,
            "route_announced",
            "1 while the route is announced to at least one peer (source: config = a VIP, manual = rhi \
             announce).",
            None,
            routes.iter().map(|(p, src, announced, _)| (route(p, src), flag(*announced))),
        )?;
        write_family(
            e,
            "route_drained",
            "1 while the route is drained (announced with the drain attributes until withdrawn).",
            None,
            routes.iter().map(|(p, src, _, drained)| (route(p, src), flag(*drained))),
        )?;

        let none: [(&str, &str); 0] = [];
        write_family(
            e,
            "drained_all",
            "1 while every VIP is drained (rhi drain, the drain file or shutdown).",
            None,
            [(none, flag(st.drain.all))],
        )?;
        write_family(
            e,
            "drain_withdraw_in",
            "Seconds until drained routes are withdrawn; absent when no withdrawal is pending.",
            secs,
            st.drain.withdraw_in_seconds.map(|s| (none, gauge(s))),
        )?;
        write_family(e, "uptime", "Seconds since the daemon started.", secs, [(none, gauge(st.uptime_seconds))])?;
        write_family(
            e,
            "build_info",
            "Build of rhi: always 1, the version is a label.",
            None,
            [([("version", env!("CARGO_PKG_VERSION"))], flag(true))],
        )?;
        Ok(())
    }
}

/// The snapshot in the Prometheus text exposition format (version 0.0.4), each metric with HELP and
/// TYPE lines; a metric with no series (no peers, no checks, ...) is left out. Serve it with
/// [`CONTENT_TYPE_METRICS`].
pub fn render(status: &Status) -> String {
    let mut registry = Registry::with_prefix("rhi");
    registry.register_collector(Box::new(StatusCollector(status.clone())));
    let mut out = String::new();
    // Writing to a String cannot fail; log rather than panic should a future encoder ever fail (a
    // panic aborts the daemon in release builds).
    if let Err(e) = prometheus_text::encode(&mut out, &registry) {
        tracing::error!(error = %e, "metrics: encoding failed");
    }
    out
}

/// Binds the metrics listener. Errors (address in use, no permission, address not available) are
/// returned so the daemon can report them against `metrics.listen`.
pub async fn bind(listen: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Serves `GET /metrics` and `GET /healthz` on `listener` until the returned future is dropped (abort
/// the task it runs in to stop it).
///
/// `snapshot` is called once per request that needs the daemon's state. `None`, or no answer within
/// 5 s, means the daemon cannot say: `/metrics` and `/healthz` then answer 503, so Prometheus records a
/// failed scrape and a liveness probe fails.
///
/// - `GET|HEAD /metrics`: 200, `text/plain; version=0.0.4; charset=utf-8`, [`render`] of the snapshot.
/// - `GET|HEAD /healthz`: 200 `ok`.
/// - another method on those paths: 405 with `Allow: GET, HEAD`; any other path: 404.
pub async fn serve<S, F>(listener: TcpListener, snapshot: S)
where
    S: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Option<Status>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut errors = AcceptErrors::new("metrics");
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning; the listener stays usable.
                errors.failed(&e).await;
                continue;
            }
        };
        errors.accepted();
        let snapshot = snapshot.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let snapshot = snapshot.clone();
                async move { Ok::<_, Infallible>(respond(req.method(), req.uri().path(), snapshot, SNAPSHOT_TIMEOUT).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // A timeout just closes the connection; errors are clients going away mid-request.
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                tracing::debug!(error = %e, "metrics: connection error");
            }
            drop(slot);
        });
    }
}

async fn respond<S, F>(method: &Method, path: &str, snapshot: S, wait: Duration) -> Response<Full<Bytes>>
where
    S: Fn() -> F,
    F: Future<Output = Option<Status>>,
{
    if path != "/metrics" && path != "/healthz" {
        return text(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n".into());
    }
    if method != Method::GET && method != Method::HEAD {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "method not allowed\n".into());
        resp.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let Some(status) = tokio::time::timeout(wait, snapshot()).await.ok().flatten() else {
        let body = "rhi: the daemon gave no status\n".into();
        return text(StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body);
    };
    if path == "/metrics" {
        text(StatusCode::OK, CONTENT_TYPE_METRICS, render(&status))
    } else {
        text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
    }
}

fn text(code: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = code;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    use prometheus_parse::{Scrape, Value};

    use super::*;
    use crate::status::{DrainInfo, RouteInfo};

    fn sample_status() -> Status {
        let peer = |name: &str, addr: &str, state: &str, n: u64| PeerInfo {
            name: name.into(),
            address: addr.parse().unwrap(),
            remote_as: 65000,
            state: state.into(),
            state_seconds: 10 * n,
            last_error: None,
            prefixes_advertised: n,
            updates_sent: 100 + n,
            updates_received: 200 + n,
            messages_sent: 300 + n,
            messages_received: 400 + n,
            prefixes_received: 500 + n,
            flaps: n,
            bfd: None,
            graceful_restart: None,
        };
        let check = |name: &str, state: &str, duration: Option<f64>, n: u64| CheckInfo {
            name: name.into(),
            state: state.into(),
            decided: state != "DOWN",
            reason: "test".into(),
            last_duration_seconds: duration,
            probes: 1000 + n,
            failures: n,
        };
        let route = |prefix: &str, source: &str, announced: bool, drained: bool| RouteInfo {
            prefix: prefix.parse().unwrap(),
            source: source.into(),
            health: "UP".into(),
            announced,
            drained,
            med: Some(300),
            as_path_prepend: 0,
            communities: vec![],
            large_communities: vec![],
            local_pref: None,
            peers: vec![],
        };
        Status {
            router_id: "10.25.150.10".into(),
            local_as: 65010,
            uptime_seconds: 3600,
            peers: vec![peer("sw01", "10.25.150.1", "Established", 2), peer("sw02", "2001:db8::1", "Active", 3)],
            checks: vec![check("web", "UP", Some(0.012), 1), check("api", "DEGRADED", None, 7)],
            routes: vec![
                route("10.46.46.46/32", "config", true, false),
                route("2001:db8:46::46/128", "manual", true, true),
            ],
            drain: DrainInfo { all: true, source: Some("cli".into()), withdraw_in_seconds: Some(12.5) },
        }
    }

    fn parse(text: &str) -> Scrape {
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses")
    }

    /// The value of the one sample named `name` whose labels are exactly `labels`.
    fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Value {
        let want: HashMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let found: Vec<_> = scrape.samples.iter().filter(|s| s.metric == name && *s.labels == want).collect();
        assert_eq!(found.len(), 1, "{name}{labels:?}: {} samples; all: {:#?}", found.len(), scrape.samples);
        found[0].value.clone()
    }

    fn gauge_of(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        match value(scrape, name, labels) {
            Value::Gauge(v) => v,
            other => panic!("{name}{labels:?} is not a gauge: {other:?}"),
        }
    }

    fn counter_of(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        match value(scrape, name, labels) {
            Value::Counter(v) => v,
            other => panic!("{name}{labels:?} is not a counter: {other:?}"),
        }
    }

    #[test]
    fn render_parses_with_names_labels_values() {
        let text = render(&sample_status());
        let s = parse(&text);

        // Every sample is rhi_*, documented, and typed; counters and only counters end in _total.
        for sample in &s.samples {
            assert!(sample.metric.starts_with("rhi_"), "{}", sample.metric);
            assert!(s.docs.contains_key(&sample.metric), "no HELP for {}", sample.metric);
            match sample.value {
                Value::Counter(_) => assert!(sample.metric.ends_with("_total"), "{}", sample.metric),
                Value::Gauge(_) => assert!(!sample.metric.ends_with("_total"), "{}", sample.metric),
                ref other => panic!("{} has an unexpected type: {other:?}", sample.metric),
            }
        }
        assert!(text.contains("# TYPE rhi_peer_flaps_total counter\n"), "{text}");
        assert!(!text.contains("# EOF"), "0.0.4 text has no EOF marker: {text}");

        // Peers.
        assert_eq!(gauge_of(&s, "rhi_peer_up", &[("peer", "sw01")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_peer_up", &[("peer", "sw02")]), 0.0);
        for state in PEER_STATES {
            let on = |peer_state: &str| if state == peer_state { 1.0 } else { 0.0 };
            assert_eq!(gauge_of(&s, "rhi_peer_state", &[("peer", "sw01"), ("state", state)]), on("Established"));
            assert_eq!(gauge_of(&s, "rhi_peer_state", &[("peer", "sw02"), ("state", state)]), on("Active"));
        }
        assert_eq!(s.samples.iter().filter(|x| x.metric == "rhi_peer_state").count(), 12);
        assert_eq!(gauge_of(&s, "rhi_peer_state_seconds", &[("peer", "sw02")]), 30.0);
        assert_eq!(counter_of(&s, "rhi_peer_updates_sent_total", &[("peer", "sw01")]), 102.0);
        assert_eq!(counter_of(&s, "rhi_peer_updates_received_total", &[("peer", "sw02")]), 203.0);
        assert_eq!(gauge_of(&s, "rhi_peer_prefixes_advertised", &[("peer", "sw01")]), 2.0);
        assert_eq!(counter_of(&s, "rhi_peer_flaps_total", &[("peer", "sw02")]), 3.0);

        // Checks.
        assert_eq!(gauge_of(&s, "rhi_check_up", &[("check", "web")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_check_up", &[("check", "api")]), 1.0, "DEGRADED still passes");
        assert_eq!(gauge_of(&s, "rhi_check_state", &[("check", "web"), ("state", "UP")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_check_state", &[("check", "web"), ("state", "DOWN")]), 0.0);
        assert_eq!(gauge_of(&s, "rhi_check_state", &[("check", "api"), ("state", "DEGRADED")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_check_state", &[("check", "api"), ("state", "UP")]), 0.0);
        assert_eq!(s.samples.iter().filter(|x| x.metric == "rhi_check_state").count(), 6);
        assert_eq!(gauge_of(&s, "rhi_check_decided", &[("check", "web")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_check_last_duration_seconds", &[("check", "web")]), 0.012);
        assert!(
            !s.samples
                .iter()
                .any(|x| x.metric == "rhi_check_last_duration_seconds" && x.labels.get("check") == Some("api")),
            "no duration before the first probe"
        );
        assert_eq!(counter_of(&s, "rhi_check_probes_total", &[("check", "api")]), 1007.0);
        assert_eq!(counter_of(&s, "rhi_check_failures_total", &[("check", "api")]), 7.0);

        // Routes.
        let v4 = [("prefix", "10.46.46.46/32"), ("source", "config")];
        let v6 = [("prefix", "2001:db8:46::46/128"), ("source", "manual")];
        assert_eq!(gauge_of(&s, "rhi_route_announced", &v4), 1.0);
        assert_eq!(gauge_of(&s, "rhi_route_drained", &v4), 0.0);
        assert_eq!(gauge_of(&s, "rhi_route_announced", &v6), 1.0);
        assert_eq!(gauge_of(&s, "rhi_route_drained", &v6), 1.0);

        // Node.
        assert_eq!(gauge_of(&s, "rhi_drained_all", &[]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_drain_withdraw_in_seconds", &[]), 12.5);
        assert_eq!(gauge_of(&s, "rhi_uptime_seconds", &[]), 3600.0);
        assert_eq!(gauge_of(&s, "rhi_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    }

    #[test]
    fn render_empty_status_has_only_node_metrics() {
        // Families without series are left out entirely (no HELP/TYPE without samples).
        let text = render(&Status::default());
        let s = parse(&text);
        let mut names: Vec<&str> = s.samples.iter().map(|x| x.metric.as_str()).collect();
        names.sort();
        assert_eq!(names, ["rhi_build_info", "rhi_drained_all", "rhi_uptime_seconds"], "{text}");
        assert_eq!(gauge_of(&s, "rhi_drained_all", &[]), 0.0);
    }

    #[test]
    fn unknown_state_gets_its_own_series() {
        let mut status = sample_status();
        status.peers[0].state = "Stopped".into();
        status.checks[0].state = "UNKNOWN".into();
        let s = parse(&render(&status));
        assert_eq!(gauge_of(&s, "rhi_peer_state", &[("peer", "sw01"), ("state", "Stopped")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_peer_state", &[("peer", "sw01"), ("state", "Established")]), 0.0);
        assert_eq!(gauge_of(&s, "rhi_peer_up", &[("peer", "sw01")]), 0.0);
        assert_eq!(gauge_of(&s, "rhi_check_state", &[("check", "web"), ("state", "UNKNOWN")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_check_up", &[("check", "web")]), 0.0);
    }

    #[test]
    fn duplicate_routes_are_merged() {
        let mut status = sample_status();
        let mut dup = status.routes[0].clone();
        dup.drained = true;
        status.routes.push(dup);
        let s = parse(&render(&status));
        let v4 = [("prefix", "10.46.46.46/32"), ("source", "config")];
        assert_eq!(gauge_of(&s, "rhi_route_announced", &v4), 1.0);
        assert_eq!(gauge_of(&s, "rhi_route_drained", &v4), 1.0);
    }

    #[test]
    fn label_values_are_escaped() {
        let mut status = sample_status();
        status.peers[0].name = "a\"b\\c\nd".into();
        let text = render(&status);
        assert!(text.contains(r#"rhi_peer_up{peer="a\"b\\c\nd"} 1"#), "{text}");
    }

    #[tokio::test]
    async fn http_metrics_healthz_and_404() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let h = healthy.clone();
        let server = tokio::spawn(serve(listener, move || {
            let h = h.clone();
            async move { h.load(Ordering::SeqCst).then(sample_status) }
        }));

        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let get = |path: &str| client.get(format!("http://{addr}{path}")).send();

        let resp = get("/metrics").await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
        let s = parse(&resp.text().await.unwrap());
        assert_eq!(gauge_of(&s, "rhi_peer_up", &[("peer", "sw01")]), 1.0);

        let resp = get("/healthz").await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "ok\n");

        let resp = get("/nope").await.unwrap();
        assert_eq!(resp.status(), 404);

        let resp = client.head(format!("http://{addr}/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "", "HEAD has no body");

        let resp = client.post(format!("http://{addr}/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[ALLOW], "GET, HEAD");

        healthy.store(false, Ordering::SeqCst);
        assert_eq!(get("/healthz").await.unwrap().status(), 503);
        assert_eq!(get("/metrics").await.unwrap().status(), 503);

        // A second bind of the same address is an error to report, not a panic.
        let err = bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

        server.abort();
    }

    #[tokio::test]
    async fn stuck_snapshot_is_503() {
        let pending = || std::future::pending::<Option<Status>>();
        let resp = respond(&Method::GET, "/metrics", pending, Duration::from_millis(20)).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn bfd_series_only_for_peers_with_bfd() {
        let mut status = sample_status();
        status.peers[0].bfd = Some(crate::status::BfdInfo {
            state: "Up".into(),
            remote_state: "Up".into(),
            has_been_up: true,
            router_admin_down: false,
            multihop: true,
            local: "127.0.0.6:50000".into(),
            remote: status.peers[0].address,
            tx_interval_ms: 100.0,
            rx_interval_ms: 100.0,
            detection_time_ms: 300.0,
            last_down: Some("Control Detection Time Expired".into()),
            last_down_code: Some(1),
            last_down_seconds: Some(5),
            transitions: 4,
            error: None,
        });
        let name = status.peers[0].name.clone();
        let other = status.peers[1].name.clone();
        let s = parse(&render(&status));
        assert_eq!(gauge_of(&s, "rhi_peer_bfd_up", &[("peer", &name)]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_peer_bfd_state", &[("peer", &name), ("state", "Up")]), 1.0);
        assert_eq!(gauge_of(&s, "rhi_peer_bfd_state", &[("peer", &name), ("state", "Down")]), 0.0);
        assert_eq!(counter_of(&s, "rhi_peer_bfd_transitions_total", &[("peer", &name)]), 4.0);
        assert_eq!(gauge_of(&s, "rhi_peer_bfd_detection_time_seconds", &[("peer", &name)]), 0.3);
        let text = render(&status);
        assert!(!text.contains(&format!("rhi_peer_bfd_up{{peer=\"{other}\"}}")), "{text}");
    }
}
