//! HAProxy's CLI socket as a stats source: one `show stat` per probe, in non-interactive mode
//! (HAProxy answers the one command and closes), read to EOF. `show stat` is read-only and allowed
//! at the socket's `user` and `operator` levels; nothing else is ever sent.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::haproxy::{Stats, StatsScanner};
use crate::config::StatsSocket;

/// The only command rhi sends.
const COMMAND: &[u8] = b"show stat\n";

/// The stats CSV from `socket`, streamed through `scanner` (only the rows it keeps stay in memory),
/// or why not (each reason names the socket). `max` caps the bytes read, as the stats page's are.
pub async fn show_stat(
    socket: &StatsSocket,
    scanner: StatsScanner,
    timeout: Duration,
    max: usize,
) -> Result<Stats, String> {
    let name = |e: String| format!("stats socket {socket}: {e}");
    let exchange = async {
        match socket {
            StatsSocket::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(|e| format!("connect: {e}"))?;
                exchange(stream, scanner, max).await
            }
            StatsSocket::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
                exchange(stream, scanner, max).await
            }
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer.map_err(name),
        Err(_) => Err(name(format!("no complete answer within {}", humantime::format_duration(timeout)))),
    }
}

/// How much of an answer that is not a stats CSV is kept to name the error in it.
const MAX_ERROR: usize = 4 << 10;

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut scanner: StatsScanner,
    max: usize,
) -> Result<Stats, String> {
    stream.write_all(COMMAND).await.map_err(|e| format!("send `show stat`: {e}"))?;
    let mut read = 0usize;
    // The answer's first bytes, until they show whether it is a stats CSV ("# ") or not.
    let mut start = Vec::new();
    let mut is_csv = None;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        read += n;
        if read > max {
            return Err(format!("answer larger than {} MiB", max >> 20));
        }
        let chunk = &buf[..n];
        match is_csv {
            Some(true) => scanner.feed(chunk)?,
            Some(false) => {
                let room = MAX_ERROR.saturating_sub(start.len());
                start.extend_from_slice(&chunk[..n.min(room)]);
            }
            None => {
                start.extend_from_slice(chunk);
                if start.len() >= 2 {
                    let csv = start.starts_with(b"# ");
                    is_csv = Some(csv);
                    if csv {
                        scanner.feed(&std::mem::take(&mut start))?;
                    } else {
                        start.truncate(MAX_ERROR);
                    }
                }
            }
        }
    }
    if is_csv == Some(true) {
        return scanner.finish();
    }
    // An error from HAProxy ("Unknown command...", "Permission denied") or something else.
    let answer = String::from_utf8_lossy(&start);
    let first = answer.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(empty answer)");
    let first: String = first.chars().take(200).collect();
    Err(format!("`show stat` did not answer a stats CSV: {first}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake CLI on a UNIX socket that checks the command and answers `reply`, then closes.
    async fn serve_once(reply: &'static [u8]) -> (tempfile::TempDir, StatsSocket) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while stream.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            assert_eq!(line, b"show stat");
            stream.write_all(reply).await.unwrap();
        });
        (dir, StatsSocket::Unix(path))
    }

    fn check() -> crate::config::HaproxyCheck {
        crate::config::HaproxyCheck {
            source: crate::config::StatsSource::Socket(StatsSocket::Unix("/unused".into())),
            backend: "app".into(),
            min_up: 0,
            frontend: None,
            degraded_below: None,
            count_backup: false,
            username: None,
            password_file: None,
        }
    }

    fn scanner() -> StatsScanner {
        StatsScanner::new(&check())
    }

    #[tokio::test]
    async fn reads_the_csv_to_eof() {
        let (_dir, socket) = serve_once(b"# pxname,svname,status,act,\napp,BACKEND,UP,0,\n\n").await;
        let stats = show_stat(&socket, scanner(), Duration::from_secs(2), 1 << 20).await.unwrap();
        let verdict = crate::health::haproxy::verdict(&stats, &check());
        assert!(
            matches!(&verdict, crate::health::Verdict::Pass(r) if r == "backend app: 0 usable servers"),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn an_error_answer_names_the_socket_and_the_error() {
        let (_dir, socket) = serve_once(b"Permission denied\n\n").await;
        let e = show_stat(&socket, scanner(), Duration::from_secs(2), 1 << 20).await.unwrap_err();
        assert!(e.contains(&format!("stats socket {socket}")) && e.contains("Permission denied"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_socket_and_an_oversized_answer_fail() {
        let missing = StatsSocket::Unix("/nonexistent/rhi-test.sock".into());
        let e = show_stat(&missing, scanner(), Duration::from_secs(2), 1 << 20).await.unwrap_err();
        assert!(e.starts_with("stats socket /nonexistent/rhi-test.sock: connect:"), "{e}");
        let (_dir, socket) = serve_once(b"# pxname,svname,status,\napp,BACKEND,UP,\n").await;
        let e = show_stat(&socket, scanner(), Duration::from_secs(2), 16).await.unwrap_err();
        assert!(e.contains("answer larger than"), "{e}");
    }

    #[tokio::test]
    async fn a_silent_socket_times_out_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let socket = StatsSocket::Unix(path);
        let e = show_stat(&socket, scanner(), Duration::from_millis(100), 1 << 20).await.unwrap_err();
        assert!(e.contains(&format!("stats socket {socket}")) && e.contains("within 100ms"), "{e}");
    }
}
