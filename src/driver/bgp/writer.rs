//! The writer task of a connection: it owns the socket's write half behind a bounded queue and
//! tells the peer task when the socket last took data (RFC 9687's send hold timer).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;
use tracing::debug;

use crate::bgp::codec::{BgpCodec, CodecError, CodecParams};
use crate::bgp::message::Message;

// Each value moves once, straight into the writer: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Outgoing {
    Message(Message),
    /// The first UPDATE after a health verdict, with the verdict's instant: the writer logs
    /// how long after the verdict it was written to the socket.
    AfterVerdict(Message, Instant),
    /// Negotiation changed the wire format (4-octet AS, extended messages) from here on.
    Params(CodecParams),
}

/// What the writer task tells the peer task about the socket taking data (RFC 9687).
pub(super) struct WriteProgress {
    pub(super) base: Instant,
    /// When the socket last took data, in nanoseconds after `base`; 0 = never.
    nanos: AtomicU64,
    /// The writer has written everything it was given and waits for more.
    idle: AtomicBool,
}

impl WriteProgress {
    pub(super) fn new() -> WriteProgress {
        WriteProgress { base: Instant::now(), nanos: AtomicU64::new(0), idle: AtomicBool::new(true) }
    }

    pub(super) fn record(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(nanos.max(1), Ordering::Relaxed);
    }

    pub(super) fn last(&self) -> Option<Instant> {
        match self.nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => self.base.checked_add(Duration::from_nanos(nanos)),
        }
    }

    pub(super) fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::Relaxed);
    }

    pub(super) fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Relaxed)
    }
}

pub(super) async fn write_loop(
    mut sink: FramedWrite<OwnedWriteHalf, BgpCodec>,
    mut queue: mpsc::Receiver<Outgoing>,
    peer: String,
    progress: Arc<WriteProgress>,
) -> Result<(), CodecError> {
    let mut verdict: Option<Instant> = None;
    loop {
        progress.set_idle(true);
        let Some(item) = queue.recv().await else { break };
        progress.set_idle(false);
        feed(&mut sink, item, &mut verdict).await?;
        progress.record();
        // Everything already queued goes out in the same write: fewer syscalls under load.
        while let Ok(item) = queue.try_recv() {
            feed(&mut sink, item, &mut verdict).await?;
            progress.record();
        }
        SinkExt::<Message>::flush(&mut sink).await?;
        progress.record();
        if let Some(at) = verdict.take() {
            debug!(%peer, micros = at.elapsed().as_micros() as u64, "verdict → UPDATE written to the socket");
        }
    }
    SinkExt::<Message>::close(&mut sink).await
}

async fn feed(
    sink: &mut FramedWrite<OwnedWriteHalf, BgpCodec>,
    item: Outgoing,
    verdict: &mut Option<Instant>,
) -> Result<(), CodecError> {
    match item {
        Outgoing::Message(message) => sink.feed(message).await,
        Outgoing::AfterVerdict(message, at) => {
            verdict.get_or_insert(at);
            sink.feed(message).await
        }
        Outgoing::Params(params) => {
            sink.encoder_mut().set_params(params);
            Ok(())
        }
    }
}
