//! The CLI's end of the control socket, and the human-readable tables it prints.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::proto::{AdvertisedRoute, Command, Request, Response, PROTOCOL_VERSION};
use crate::status::Status;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("rhi is not running (no control socket at {path}: {reason})")]
    NotRunning { path: String, reason: String },
    #[error("control socket {path}: {reason}")]
    Io { path: String, reason: String },
}

/// Sends one command and waits for its answer. `wait` lifts the read timeout (drain --wait
/// answers only when the drain is complete).
pub fn request(socket: &Path, command: Command, wait: bool) -> Result<Response, ClientError> {
    let path = socket.display().to_string();
    let io_error = |e: io::Error| ClientError::Io { path: path.clone(), reason: e.to_string() };
    let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning { path: path.clone(), reason: e.to_string() }
        }
        _ => io_error(e),
    })?;
    let timeout = (!wait).then_some(Duration::from_secs(30));
    stream.set_read_timeout(timeout).map_err(io_error)?;
    let mut line = serde_json::to_string(&Request { version: PROTOCOL_VERSION, command })
        .map_err(|e| ClientError::Io { path: path.clone(), reason: e.to_string() })?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io_error)?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).map_err(io_error)?;
    if answer.is_empty() {
        return Err(ClientError::Io { path, reason: "the daemon closed the connection without answering".into() });
    }
    serde_json::from_str(&answer).map_err(|e| ClientError::Io { path, reason: format!("unreadable answer: {e}") })
}

/// A plain left-aligned table: operators read it, scripts use --json.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        text.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn duration(seconds: u64) -> String {
    humantime::format_duration(Duration::from_secs(seconds)).to_string().replace(' ', "")
}

fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(" ")
    }
}

pub fn render_status(status: &Status) -> String {
    let drain = match (&status.drain.source, status.drain.all) {
        (None, _) => "not drained".to_string(),
        (Some(source), all) => {
            let what = if all { "every VIP" } else { "some VIPs" };
            match status.drain.withdraw_in_seconds {
                Some(s) => format!("draining {what} ({source}); withdraw in {s:.0}s"),
                None => format!("drained {what} ({source})"),
            }
        }
    };
    let mut out =
        format!("rhi {} AS{}, up {}; {drain}\n\n", status.router_id, status.local_as, duration(status.uptime_seconds));
    let peers = status
        .peers
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.address.to_string(),
                p.remote_as.to_string(),
                p.state.clone(),
                duration(p.state_seconds),
                p.prefixes_advertised.to_string(),
                format!("{}/{}", p.updates_sent, p.updates_received),
                p.flaps.to_string(),
                or_dash(p.last_error.as_ref()),
            ]
        })
        .collect();
    out +=
        &table(&["PEER", "ADDRESS", "AS", "STATE", "FOR", "PREFIXES", "UPDATES OUT/IN", "FLAPS", "LAST ERROR"], peers);
    out += &bfd_table(status);
    out += &graceful_restart_table(status);
    if !status.checks.is_empty() {
        let checks = status
            .checks
            .iter()
            .map(|c| {
                let state = if c.decided { c.state.clone() } else { format!("{} (starting)", c.state) };
                let last = c.last_duration_seconds.map(|s| format!("{:.1}ms", s * 1000.0));
                vec![
                    c.name.clone(),
                    state,
                    c.probes.to_string(),
                    c.failures.to_string(),
                    or_dash(last),
                    c.reason.clone(),
                ]
            })
            .collect();
        out += "\n";
        out += &table(&["CHECK", "STATE", "PROBES", "FAILURES", "LAST", "REASON"], checks);
    }
    let routes = status
        .routes
        .iter()
        .map(|r| {
            vec![
                r.prefix.to_string(),
                r.source.clone(),
                r.health.clone(),
                if r.announced { "yes" } else { "no" }.into(),
                if r.drained { "yes" } else { "no" }.into(),
                or_dash(r.med),
                r.as_path_prepend.to_string(),
                list(&r.communities),
                if r.peers.is_empty() { "all".into() } else { r.peers.join(",") },
            ]
        })
        .collect();
    out += "\n";
    out += &table(
        &["ROUTE", "SOURCE", "HEALTH", "ANNOUNCED", "DRAINED", "MED", "PREPEND", "COMMUNITIES", "PEERS"],
        routes,
    );
    out
}

pub fn render_routes(routes: &[AdvertisedRoute]) -> String {
    if routes.is_empty() {
        return "nothing advertised\n".into();
    }
    let rows = routes
        .iter()
        .map(|r| {
            vec![
                r.peer.clone(),
                r.prefix.to_string(),
                r.source.clone(),
                or_dash(r.med),
                r.as_path_prepend.to_string(),
                list(&r.communities),
                list(&r.large_communities),
                or_dash(r.local_pref),
                or_dash(r.next_hop),
            ]
        })
        .collect();
    table(&["PEER", "PREFIX", "SOURCE", "MED", "PREPEND", "COMMUNITIES", "LARGE", "LOCAL_PREF", "NEXT_HOP"], rows)
}

/// One line per peer with BFD: its state in words an operator acts on.
fn bfd_table(status: &Status) -> String {
    let rows: Vec<Vec<String>> = status
        .peers
        .iter()
        .filter_map(|p| {
            let b = p.bfd.as_ref()?;
            let state = match (&b.error, b.has_been_up, b.state.as_str()) {
                (Some(error), _, _) => format!("not running: {error}"),
                (None, false, _) => format!("{} (waiting for the router; no action until Up)", b.state),
                (None, true, "Down") if b.router_admin_down => "Down (router: AdminDown)".to_string(),
                (None, true, state) => state.to_string(),
            };
            let last_down = match (&b.last_down, b.last_down_seconds) {
                (Some(reason), Some(ago)) => format!("{reason}, {} ago", duration(ago)),
                (Some(reason), None) => reason.clone(),
                _ => "-".to_string(),
            };
            Some(vec![
                p.name.clone(),
                state,
                format!("{}{}", b.local, if b.multihop { " (multihop)" } else { "" }),
                format!("{}/{}", ms(b.tx_interval_ms), ms(b.rx_interval_ms)),
                ms(b.detection_time_ms),
                last_down,
            ])
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!("\n{}", table(&["BFD PEER", "STATE", "LOCAL", "TX/RX", "DETECT", "LAST DOWN"], rows))
}

/// One line per peer with graceful restart: whether the router will hold our routes after a crash.
fn graceful_restart_table(status: &Status) -> String {
    let rows: Vec<Vec<String>> = status
        .peers
        .iter()
        .filter_map(|p| {
            let gr = p.graceful_restart.as_ref()?;
            let router = match (gr.peer_restart_time_seconds, gr.peer_restarted) {
                (Some(time), true) => format!("restart time {time}s, restarted"),
                (Some(time), false) => format!("restart time {time}s"),
                (None, _) if p.state == "Established" => "no graceful restart".to_string(),
                (None, _) => "-".to_string(),
            };
            let negotiated = if gr.negotiated { "yes" } else { "no" };
            Some(vec![p.name.clone(), negotiated.to_string(), format!("{}s", gr.restart_time_seconds), router])
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!("\n{}", table(&["GR PEER", "NEGOTIATED", "RESTART TIME", "ROUTER"], rows))
}

fn ms(value: f64) -> String {
    if value == 0.0 {
        "-".to_string()
    } else {
        format!("{value:.0}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let text = table(&["A", "LONGER"], vec![vec!["xxxx".into(), "y".into()]]);
        assert_eq!(text, "A     LONGER\nxxxx  y\n");
    }

    #[test]
    fn a_missing_socket_means_not_running() {
        let error = request(Path::new("/nonexistent/rhi.sock"), Command::Status, false).unwrap_err();
        assert!(matches!(error, ClientError::NotRunning { .. }), "{error}");
        assert!(error.to_string().starts_with("rhi is not running"));
    }
}
