//! HAProxy's CLI socket as a stats source: one `show stat` per probe, in non-interactive mode
//! (HAProxy answers the one command and closes), read to EOF. `show stat` is read-only and allowed
//! at the socket's `user` and `operator` levels; nothing else is ever sent.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::config::StatsSocket;

/// The only command rhi sends.
const COMMAND: &[u8] = b"show stat\n";

/// The stats CSV from `socket`, or why not (each reason names the socket). `max` caps the answer,
/// as the stats page's body is capped.
pub async fn show_stat(socket: &StatsSocket, timeout: Duration, max: usize) -> Result<String, String> {
    let name = |e: String| format!("stats socket {socket}: {e}");
    let exchange = async {
        match socket {
            StatsSocket::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(|e| format!("connect: {e}"))?;
                exchange(stream, max).await
            }
            StatsSocket::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
                exchange(stream, max).await
            }
        }
    };
    let answer = match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer.map_err(name)?,
        Err(_) => return Err(name(format!("no complete answer within {}", humantime::format_duration(timeout)))),
    };
    if !answer.starts_with("# ") {
        // An error from HAProxy ("Unknown command...", "Permission denied") or something else.
        let first = answer.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(empty answer)");
        let first: String = first.chars().take(200).collect();
        return Err(name(format!("`show stat` did not answer a stats CSV: {first}")));
    }
    Ok(answer)
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, max: usize) -> Result<String, String> {
    stream.write_all(COMMAND).await.map_err(|e| format!("send `show stat`: {e}"))?;
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        if answer.len() + n > max {
            return Err(format!("answer larger than {} MiB", max >> 20));
        }
        answer.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
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

    #[tokio::test]
    async fn reads_the_csv_to_eof() {
        let (_dir, socket) = serve_once(b"# pxname,svname,status,\napp,BACKEND,UP,\n\n").await;
        let csv = show_stat(&socket, Duration::from_secs(2), 1 << 20).await.unwrap();
        assert!(csv.contains("app,BACKEND,UP"), "{csv}");
    }

    #[tokio::test]
    async fn an_error_answer_names_the_socket_and_the_error() {
        let (_dir, socket) = serve_once(b"Permission denied\n\n").await;
        let e = show_stat(&socket, Duration::from_secs(2), 1 << 20).await.unwrap_err();
        assert!(e.contains(&format!("stats socket {socket}")) && e.contains("Permission denied"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_socket_and_an_oversized_answer_fail() {
        let missing = StatsSocket::Unix("/nonexistent/rhi-test.sock".into());
        let e = show_stat(&missing, Duration::from_secs(2), 1 << 20).await.unwrap_err();
        assert!(e.starts_with("stats socket /nonexistent/rhi-test.sock: connect:"), "{e}");
        let (_dir, socket) = serve_once(b"# pxname,svname,status,\napp,BACKEND,UP,\n").await;
        let e = show_stat(&socket, Duration::from_secs(2), 16).await.unwrap_err();
        assert!(e.contains("answer larger than"), "{e}");
    }

    #[tokio::test]
    async fn a_silent_socket_times_out_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let socket = StatsSocket::Unix(path);
        let e = show_stat(&socket, Duration::from_millis(100), 1 << 20).await.unwrap_err();
        assert!(e.contains(&format!("stats socket {socket}")) && e.contains("within 100ms"), "{e}");
    }
}
