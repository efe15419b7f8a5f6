//! Closing a BGP connection in bounded time, whatever the router does.
//!
//! A router that stops reading (its BGP process hung, a TCP window of zero) leaves our send
//! queue full. Waiting for it to drain would keep the socket, its kernel send queue (megabytes
//! with a large table) and the writer task alive for as long as the router stays stuck, once per
//! hold-timer expiry. So every close gets one deadline, [`CLOSE_FLUSH`] after the decision:
//!
//! 1. the last messages (the NOTIFICATION) are handed to the writer, which flushes and then shuts
//!    down the write side (FIN);
//! 2. once that is done, the router's end of file is awaited: a healthy router that got the
//!    NOTIFICATION closes its side, and the socket ends cleanly (TIME-WAIT on our side);
//! 3. if the deadline comes first at any step, the writer task is aborted and the socket closed
//!    abortively (`SO_LINGER` 0, an RST): no orphaned FIN-WAIT socket keeps the send queue, and
//!    the descriptor is gone the moment the close returns.
//!
//! A writer already known to be stalled (it has had data to write and the socket took none of it
//! for [`CLOSE_FLUSH`] or more: a router that reads nothing, the send hold timer's case) skips
//! straight to step 3: the NOTIFICATION could not get through, so trying would only keep the
//! socket for nothing.
//!
//! The NOTIFICATION is thus best-effort, as RFC 9687 §4 asks of the send hold timer's: trying it
//! never delays the close by more than [`CLOSE_FLUSH`].

use std::io;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout_at;
use tokio_util::codec::FramedWrite;
use tracing::debug;

use crate::bgp::codec::{BgpCodec, CodecError};
use crate::bgp::message::Message;
use crate::bgp::notification::Notification;

/// How long a closing connection gets, from the decision to close, to flush its last messages
/// and see the router close its side; after that the socket is reset.
pub const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// One connection on its way out: the read half, and the writer task with its queue.
pub(super) struct Closing<T> {
    pub peer: String,
    pub reader: OwnedReadHalf,
    pub writer: mpsc::Sender<T>,
    /// `None` when the writer task already ended and its result was taken.
    pub writer_task: Option<JoinHandle<Result<(), CodecError>>>,
    /// Queued after whatever the writer still holds: the NOTIFICATION, if any.
    pub last: Vec<T>,
    /// The socket has taken nothing for a while although the writer had data: reset at once.
    pub stalled: bool,
}

/// How a close ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Closed {
    /// Everything was written and the router closed its side.
    Clean,
    /// The socket was reset; the reason says which step did not finish in time.
    Reset(&'static str),
}

/// Closes `closing` by `deadline` at the latest (see the module documentation).
pub(super) async fn close<T>(closing: Closing<T>, deadline: Instant) -> Closed {
    let Closing { peer, reader, writer, mut writer_task, last, stalled } = closing;
    let started = Instant::now();
    let mut flushed = !stalled;
    for item in last.into_iter().take_while(|_| !stalled) {
        if !matches!(timeout_at(deadline.into(), writer.send(item)).await, Ok(Ok(()))) {
            flushed = false;
            break;
        }
    }
    // The writer ends once it has written what it holds, shutting the write side down.
    drop(writer);
    if flushed {
        flushed = match writer_task.as_mut() {
            Some(task) => match timeout_at(deadline.into(), task).await {
                Ok(result) => {
                    writer_task = None;
                    matches!(result, Ok(Ok(())))
                }
                Err(_) => false,
            },
            None => false,
        };
    }
    let outcome = if stalled {
        Closed::Reset("the router had stopped reading")
    } else if !flushed {
        Closed::Reset("the router did not take our last messages")
    } else {
        finish(&reader, deadline).await
    };
    if let Closed::Reset(_) = outcome {
        reset(reader.as_ref());
        if let Some(task) = writer_task {
            task.abort();
            // Cancelled at its next poll: waiting for it drops the write half now.
            let _ = task.await;
        }
    }
    drop(reader);
    log(&peer, outcome, started);
    outcome
}

/// Refuses a connection we will not use: the NOTIFICATION, then the same bounded close.
pub(super) async fn reject(stream: TcpStream, notification: Notification, peer: String) -> Closed {
    let deadline = Instant::now() + CLOSE_FLUSH;
    let started = Instant::now();
    let (reader, writer) = stream.into_split();
    let mut framed = FramedWrite::new(writer, BgpCodec::new());
    let sent = async {
        framed.send(Message::Notification(notification)).await?;
        // Flushes and shuts the write side down (FIN).
        SinkExt::<Message>::close(&mut framed).await
    };
    let flushed = matches!(timeout_at(deadline.into(), sent).await, Ok(Ok(())));
    let outcome = if flushed {
        finish(&reader, deadline).await
    } else {
        Closed::Reset("the router did not take the NOTIFICATION")
    };
    if let Closed::Reset(_) = outcome {
        reset(reader.as_ref());
    }
    // The write half goes first; the read half's drop then closes the descriptor.
    drop(framed);
    drop(reader);
    log(&peer, outcome, started);
    outcome
}

/// After our FIN: waits for the router's, discarding whatever it still sends.
async fn finish(reader: &OwnedReadHalf, deadline: Instant) -> Closed {
    match timeout_at(deadline.into(), until_end_of_file(reader)).await {
        Ok(Ok(())) => Closed::Clean,
        Ok(Err(_)) => Closed::Reset("the connection failed while closing"),
        Err(_) => Closed::Reset("the router did not close its side"),
    }
}

async fn until_end_of_file(reader: &OwnedReadHalf) -> io::Result<()> {
    let mut buffer = [0u8; 4096];
    loop {
        reader.readable().await?;
        match reader.try_read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
}

/// `SO_LINGER` 0: the close that follows sends an RST and frees the socket with its send queue
/// at once, instead of leaving an orphan in FIN-WAIT for the kernel to retry.
fn reset(stream: &TcpStream) {
    if let Err(error) = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO)) {
        debug!(%error, "SO_LINGER 0 failed: the socket closes gracefully instead");
    }
}

fn log(peer: &str, outcome: Closed, started: Instant) {
    let millis = started.elapsed().as_millis() as u64;
    match outcome {
        Closed::Clean => debug!(%peer, millis, "connection closed"),
        Closed::Reset(why) => debug!(%peer, millis, why, "connection reset"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A connected pair on loopback: (ours, the router's).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (theirs, _) = listener.accept().await.unwrap();
        (ours, theirs)
    }

    fn closing(stream: TcpStream, last: Vec<Vec<u8>>) -> Closing<Vec<u8>> {
        let (reader, mut write_half) = stream.into_split();
        let (writer, mut queue) = mpsc::channel::<Vec<u8>>(4);
        let writer_task = tokio::spawn(async move {
            while let Some(bytes) = queue.recv().await {
                write_half.write_all(&bytes).await?;
            }
            write_half.shutdown().await?;
            Ok(())
        });
        Closing { peer: "r1".into(), reader, writer, writer_task: Some(writer_task), last, stalled: false }
    }

    #[tokio::test]
    async fn a_router_that_reads_gets_the_last_message_and_a_clean_close() {
        let (ours, mut theirs) = pair().await;
        let router = tokio::spawn(async move {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).await.unwrap();
            got
        });
        let deadline = Instant::now() + CLOSE_FLUSH;
        assert_eq!(close(closing(ours, vec![b"bye".to_vec()]), deadline).await, Closed::Clean);
        assert_eq!(router.await.unwrap(), b"bye");
    }

    #[tokio::test]
    async fn a_router_that_never_reads_is_reset_by_the_deadline() {
        let (ours, theirs) = pair().await;
        // Megabytes the router never reads: the writer blocks and the queue fills behind it.
        let last: Vec<Vec<u8>> = (0..64).map(|_| vec![0u8; 256 * 1024]).collect();
        let started = Instant::now();
        let outcome = close(closing(ours, last), started + Duration::from_millis(300)).await;
        assert!(matches!(outcome, Closed::Reset(_)), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_millis(800), "{:?}", started.elapsed());
        // The router sees a reset, not an orderly end of file.
        let mut theirs = theirs;
        let mut buffer = vec![0u8; 1 << 20];
        let error = loop {
            match theirs.read(&mut buffer).await {
                Ok(0) => panic!("an orderly close, not a reset"),
                Ok(_) => continue,
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn a_router_that_reads_but_never_closes_is_reset_by_the_deadline() {
        let (ours, mut theirs) = pair().await;
        let router = tokio::spawn(async move {
            let mut buffer = [0u8; 16];
            let n = theirs.read(&mut buffer).await.unwrap();
            // Holds the connection open after reading: no FIN from this side.
            (buffer[..n].to_vec(), theirs)
        });
        let started = Instant::now();
        let outcome = close(closing(ours, vec![b"bye".to_vec()]), started + Duration::from_millis(200)).await;
        assert_eq!(outcome, Closed::Reset("the router did not close its side"));
        assert!(started.elapsed() < Duration::from_millis(700));
        assert_eq!(router.await.unwrap().0, b"bye");
    }

    #[tokio::test]
    async fn a_stalled_writer_is_reset_at_once() {
        let (ours, _theirs) = pair().await;
        let closing = Closing { stalled: true, ..closing(ours, vec![b"bye".to_vec()]) };
        let started = Instant::now();
        let outcome = close(closing, started + CLOSE_FLUSH).await;
        assert_eq!(outcome, Closed::Reset("the router had stopped reading"));
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_writer_that_already_ended_means_a_reset() {
        let (ours, _theirs) = pair().await;
        let mut closing = closing(ours, vec![]);
        closing.writer_task.take().unwrap().abort();
        let outcome = close(closing, Instant::now() + CLOSE_FLUSH).await;
        assert!(matches!(outcome, Closed::Reset(_)), "{outcome:?}");
    }

    #[tokio::test]
    async fn reject_sends_the_notification_to_a_router_that_reads() {
        let (ours, theirs) = pair().await;
        let router = tokio::spawn(async move {
            let mut framed = tokio_util::codec::FramedRead::new(theirs, BgpCodec::new());
            use futures_util::StreamExt;
            framed.next().await
        });
        let notification = Notification { code: 6, subcode: 7, data: bytes::Bytes::new() };
        assert_eq!(reject(ours, notification.clone(), "r1".into()).await, Closed::Clean);
        let got = router.await.unwrap();
        assert!(matches!(got, Some(Ok(Message::Notification(n))) if n == notification));
    }
}
