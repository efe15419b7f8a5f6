//! One probe of each kind. A probe returns a verdict, never an error: anything that goes wrong
//! (refused, timed out, non-2xx, unparseable) is a failure with its reason.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{exec, haproxy, stats_socket, Verdict};
use crate::config::{CheckKind, HaproxyCheck, StatsSource};

/// A stats page of a few thousand servers is a few MB; more than this is not a stats page (nor a
/// `show stat` answer on the stats socket). A read limit, not a buffer: the stats CSV streams
/// through [`haproxy::StatsScanner`], which keeps only the rows the verdict needs.
const MAX_BODY: usize = 32 << 20;

pub enum Probe {
    Haproxy { client: Result<reqwest::Client, String>, check: HaproxyCheck },
    Http { client: Result<reqwest::Client, String>, url: String, expect_status: u16, expect_body: Option<String> },
    Tcp { address: SocketAddr },
    Exec { command: Vec<String> },
}

fn client() -> Result<reqwest::Client, String> {
    // A proxy from the environment must not sit between a node and its own HAProxy.
    reqwest::Client::builder().no_proxy().build().map_err(|e| format!("HTTP client: {e}"))
}

impl Probe {
    pub fn new(kind: &CheckKind) -> Probe {
        match kind {
            CheckKind::Haproxy(check) => Probe::Haproxy { client: client(), check: check.clone() },
            CheckKind::Http { url, expect_status, expect_body } => Probe::Http {
                client: client(),
                url: url.clone(),
                expect_status: *expect_status,
                expect_body: expect_body.clone(),
            },
            CheckKind::Tcp { address } => Probe::Tcp { address: *address },
            CheckKind::Exec { command } => Probe::Exec { command: command.clone() },
        }
    }

    pub async fn run(&self, timeout: Duration) -> Verdict {
        match self {
            Probe::Haproxy { client, check } => match &check.source {
                StatsSource::Url(url) => haproxy_probe(client, url, check).await,
                // A little inside the check's timeout, so the socket's own reason (naming it) wins.
                StatsSource::Socket(socket) => {
                    let scanner = haproxy::StatsScanner::new(check);
                    match stats_socket::show_stat(socket, scanner, timeout.saturating_sub(timeout / 20), MAX_BODY).await
                    {
                        Ok(stats) => haproxy::verdict(&stats, check),
                        Err(error) => Verdict::Fail(error),
                    }
                }
            },
            Probe::Http { client, url, expect_status, expect_body } => {
                http_probe(client, url, *expect_status, expect_body.as_deref()).await
            }
            Probe::Tcp { address } => match TcpStream::connect(address).await {
                Ok(_) => Verdict::Pass(format!("connected to {address}")),
                Err(error) => Verdict::Fail(format!("connect {address}: {error}")),
            },
            Probe::Exec { command } => exec::run(command, timeout).await,
        }
    }
}

async fn haproxy_probe(client: &Result<reqwest::Client, String>, url: &str, check: &HaproxyCheck) -> Verdict {
    let client = match client {
        Ok(client) => client,
        Err(error) => return Verdict::Fail(error.clone()),
    };
    let mut request = client.get(url);
    if let Some(username) = &check.username {
        let password = match read_password(check.password_file.as_ref()).await {
            Ok(password) => password,
            Err(error) => return Verdict::Fail(error),
        };
        request = request.basic_auth(username, password);
    }
    match scan_stats_page(request, url, check).await {
        Ok(stats) => haproxy::verdict(&stats, check),
        Err(error) => Verdict::Fail(error),
    }
}

/// The stats page, read chunk by chunk into a [`haproxy::StatsScanner`] (at most [`MAX_BODY`]
/// bytes read): memory stays a small constant plus the rows kept, whatever the page's size.
async fn scan_stats_page(
    request: reqwest::RequestBuilder,
    url: &str,
    check: &HaproxyCheck,
) -> Result<haproxy::Stats, String> {
    let mut response = request.send().await.map_err(|e| format!("{url}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    if !(200..=299).contains(&status) {
        return Err(format!("stats page {url} answered HTTP {status}"));
    }
    let mut scanner = haproxy::StatsScanner::new(check);
    let mut read = 0usize;
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {}", error_chain(&e)))? {
        read += chunk.len();
        if read > MAX_BODY {
            return Err(format!("{url}: body larger than {} MiB", MAX_BODY >> 20));
        }
        scanner.feed(&chunk)?;
    }
    scanner.finish()
}

/// Read at every probe so a rotated secret takes effect without a restart; never logged.
async fn read_password(file: Option<&PathBuf>) -> Result<Option<String>, String> {
    let Some(file) = file else { return Ok(None) };
    match tokio::fs::read_to_string(file).await {
        Ok(text) => Ok(Some(text.trim_end_matches(['\n', '\r']).to_string())),
        Err(error) => Err(format!("password_file {}: {error}", file.display())),
    }
}

async fn http_probe(
    client: &Result<reqwest::Client, String>,
    url: &str,
    expect_status: u16,
    expect_body: Option<&str>,
) -> Verdict {
    let client = match client {
        Ok(client) => client,
        Err(error) => return Verdict::Fail(error.clone()),
    };
    match fetch(client.get(url), url).await {
        Ok((status, _)) if status != expect_status => {
            Verdict::Fail(format!("{url} answered HTTP {status}, expected {expect_status}"))
        }
        Ok((status, body)) => match expect_body {
            Some(needle) if !body.contains(needle) => Verdict::Fail(format!("{url} body does not contain {needle:?}")),
            _ => Verdict::Pass(format!("{url} answered HTTP {status}")),
        },
        Err(error) => Verdict::Fail(error),
    }
}

async fn fetch(request: reqwest::RequestBuilder, url: &str) -> Result<(u16, String), String> {
    let mut response = request.send().await.map_err(|e| format!("{url}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {}", error_chain(&e)))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url}: body larger than {} MiB", MAX_BODY >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// reqwest's top-level message ("error sending request") hides the cause ("connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
