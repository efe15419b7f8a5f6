//! ExaBGP API processes: programs whose stdout lines are API commands and whose stdin receives
//! acknowledgements and events.
//!
//! The one rule ExaBGP breaks and rhi must not: never block on a process. Everything written to
//! a process goes through a bounded queue; a process that stops reading its stdin loses lines
//! (counted and logged), while BGP sessions, other processes and the speaker carry on.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::bgp::backoff::Backoff;
use crate::config::ProcessConfig;

/// Lines (acks, events) waiting for the process to read them.
const STDIN_QUEUE: usize = 4096;
/// A command line longer than this is not an API command.
const MAX_LINE: usize = 64 * 1024;
/// Lines already read from a process go to the speaker together, up to this many: a program
/// printing 100k routes costs a few hundred speaker wake-ups and packed UPDATEs, not 100k.
const MAX_BATCH: usize = 1024;
/// How much of a process's output is read at once.
const READ_BUFFER: usize = 64 * 1024;
/// After SIGTERM, how long a process gets before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// A process that ran this long before dying restarts without delay growth.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// What a process tells the speaker.
#[derive(Debug)]
pub enum ProcessEvent {
    /// Stdout lines, in order (all that were already read, at most MAX_BATCH); one answer per
    /// line, written back when acks are on.
    Lines { process: String, lines: Vec<String>, reply: oneshot::Sender<Vec<Reply>> },
    /// The process exited (or could not start): its routes must go.
    Died { process: String, reason: String },
    /// The process is running (again).
    Started { process: String, pid: u32 },
}

/// The speaker's answer to one command line.
#[derive(Debug, Default)]
pub struct Reply {
    /// Lines to write back before the ack (answers to `show ...`, `version`).
    pub output: Vec<String>,
    pub ok: bool,
    /// Changes to the ack mode requested by the line itself.
    pub ack: Option<AckMode>,
    /// No answer at all to this line (ExaBGP's `debug ...`).
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckMode {
    /// `done` / `error` after each command.
    On,
    /// Nothing, not even for this command (`disable-ack` is still acknowledged; `silence-ack`
    /// is not).
    Off,
    Silent,
}

/// The speaker's handle on a running supervisor.
pub struct ProcessHandle {
    pub name: String,
    /// Events (neighbor state, shutdown) for the process's stdin; never blocks.
    pub stdin: mpsc::Sender<String>,
    pub dropped: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl ProcessHandle {
    /// Queues a line for the process; counts it as lost when the process is not reading.
    pub fn send(&self, line: String) {
        if self.stdin.try_send(line).is_err() {
            let lost = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if lost.is_power_of_two() {
                warn!(process = %self.name, lost, "process does not read its stdin: lines dropped");
            }
        }
    }

    /// SIGTERM, then SIGKILL after a grace period; resolves when the process is gone.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

pub fn spawn(config: ProcessConfig, events: mpsc::UnboundedSender<ProcessEvent>) -> ProcessHandle {
    let (stdin, queue) = mpsc::channel(STDIN_QUEUE);
    let (stop, stopped) = oneshot::channel();
    let dropped = Arc::new(AtomicU64::new(0));
    let name = config.name.clone();
    let task = tokio::spawn(supervise(config, events, queue, stopped, dropped.clone()));
    ProcessHandle { name, stdin, dropped, stop: Some(stop), task }
}

async fn supervise(
    config: ProcessConfig,
    events: mpsc::UnboundedSender<ProcessEvent>,
    mut queue: mpsc::Receiver<String>,
    mut stopped: oneshot::Receiver<()>,
    dropped: Arc<AtomicU64>,
) {
    let name = config.name.clone();
    let mut backoff =
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60), crate::bgp::backoff::seed_for(&name));
    loop {
        let started = Instant::now();
        let reason = match start(&config) {
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                info!(process = %name, pid, "process started");
                let _ = events.send(ProcessEvent::Started { process: name.clone(), pid });
                let outcome = run(&config, &mut child, &events, &mut queue, &mut stopped, &dropped).await;
                match outcome {
                    Outcome::Stopped => {
                        terminate(&name, &mut child).await;
                        return;
                    }
                    Outcome::Exited(reason) => reason,
                }
            }
            Err(error) => format!("cannot start {:?}: {error}", config.run.first().map(String::as_str).unwrap_or("")),
        };
        warn!(process = %name, %reason, "process ended: its routes are withdrawn until it is back");
        let _ = events.send(ProcessEvent::Died { process: name.clone(), reason });
        if started.elapsed() >= STABLE_RUN {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        info!(process = %name, seconds = delay.as_secs_f64(), "restarting process after backoff");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = &mut stopped => return,
        }
    }
}

fn start(config: &ProcessConfig) -> std::io::Result<Child> {
    let Some((program, args)) = config.run.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"));
    };
    let mut command = Command::new(program);
    // A process must not outlive rhi, even a SIGKILLed rhi that cannot stop it: the kernel
    // sends it SIGTERM when rhi dies.
    #[cfg(target_os = "linux")]
    {
        let rhi = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec and makes only
        // async-signal-safe system calls.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // rhi may have died between the fork and the prctl: nobody would signal us then.
                if u32::try_from(libc::getppid()).ok() != Some(rhi) {
                    libc::raise(libc::SIGTERM);
                }
                Ok(())
            });
        }
    }
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // ExaBGP tells its processes which encoder to expect; some programs read it.
        .env(
            "exabgp_api_encoder",
            match config.encoder {
                crate::config::Encoder::Text => "text",
                crate::config::Encoder::Json => "json",
            },
        )
        .kill_on_drop(true)
        .spawn()
}

enum Outcome {
    Stopped,
    Exited(String),
}

async fn run(
    config: &ProcessConfig,
    child: &mut Child,
    events: &mpsc::UnboundedSender<ProcessEvent>,
    queue: &mut mpsc::Receiver<String>,
    stopped: &mut oneshot::Receiver<()>,
    dropped: &Arc<AtomicU64>,
) -> Outcome {
    let name = config.name.clone();
    let (Some(stdout), Some(stdin), Some(stderr)) = (child.stdout.take(), child.stdin.take(), child.stderr.take())
    else {
        return Outcome::Exited("no pipes to the process".into());
    };
    // Acks share the stdin queue's writer through this channel, in order with events.
    let (acks, mut ack_queue) = mpsc::channel::<String>(STDIN_QUEUE);
    let stderr_name = name.clone();
    let stderr_task = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            info!(process = %stderr_name, "{line}");
        }
    });
    let reader_name = name.clone();
    let reader_events = events.clone();
    let ack_default = if config.ack { AckMode::On } else { AckMode::Off };
    let reader_dropped = dropped.clone();
    let mut reader = tokio::spawn(async move {
        let mut ack = ack_default;
        let mut output = BufReader::with_capacity(READ_BUFFER, stdout);
        let mut buffer = Vec::new();
        loop {
            let mut lines = Vec::new();
            // Wait for one line, then take every complete line already buffered.
            loop {
                buffer.clear();
                match read_line(&mut output, &mut buffer).await {
                    Ok(0) if lines.is_empty() => return "closed its stdout".to_string(),
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => return format!("reading stdout: {error}"),
                }
                // Checked as UTF-8 the fast way first; a broken byte becomes U+FFFD, not an error.
                let line = match std::str::from_utf8(&buffer) {
                    Ok(text) => text.trim().to_string(),
                    Err(_) => String::from_utf8_lossy(&buffer).trim().to_string(),
                };
                if !line.is_empty() {
                    lines.push(line);
                }
                if lines.len() >= MAX_BATCH || (!lines.is_empty() && !output.buffer().contains(&b'\n')) {
                    break;
                }
            }
            let (reply_tx, reply_rx) = oneshot::channel();
            let event = ProcessEvent::Lines { process: reader_name.clone(), lines, reply: reply_tx };
            if reader_events.send(event).is_err() {
                return "rhi is stopping".into();
            }
            let Ok(replies) = reply_rx.await else { return "rhi is stopping".into() };
            for reply in replies {
                // `enable-ack` is itself acknowledged, `silence-ack` is not.
                let acknowledged = if reply.ack == Some(AckMode::On) { AckMode::On } else { ack };
                if let Some(mode) = reply.ack {
                    ack = mode;
                }
                let mut out = reply.output;
                if acknowledged == AckMode::On && reply.ack != Some(AckMode::Silent) && !reply.quiet {
                    out.push(if reply.ok { "done" } else { "error" }.to_string());
                }
                for line in out {
                    if acks.try_send(line).is_err() {
                        let lost = reader_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        if lost.is_power_of_two() {
                            warn!(process = %reader_name, lost, "process does not read its stdin: answers dropped");
                        }
                    }
                }
            }
        }
    });
    // Writing is a future the loop owns (stdin moves into it and comes back), so a process that
    // does not read never stalls this loop: its exit, its commands and `stop` are still seen.
    let mut stdin = Some(stdin);
    let mut writing: Option<WriteFuture> = None;
    let outcome = loop {
        tokio::select! {
            status = child.wait() => break Outcome::Exited(match status {
                Ok(status) => format!("exited ({status})"),
                Err(error) => format!("wait failed: {error}"),
            }),
            reason = &mut reader => break Outcome::Exited(reason.unwrap_or_else(|_| "reader failed".into())),
            _ = &mut *stopped => break Outcome::Stopped,
            (pipe, result) = finish_write(&mut writing) => {
                writing = None;
                // A process that closed its stdin gets nothing more; its commands still count.
                stdin = result.is_ok().then_some(pipe);
            }
            line = next_output(&mut ack_queue, queue), if writing.is_none() && stdin.is_some() => {
                let (Some(mut line), Some(mut pipe)) = (line, stdin.take()) else { continue };
                line.push('\n');
                writing = Some(Box::pin(async move {
                    let result = pipe.write_all(line.as_bytes()).await;
                    (pipe, result)
                }));
            }
        }
    };
    reader.abort();
    stderr_task.abort();
    outcome
}

type WriteFuture = Pin<Box<dyn Future<Output = (ChildStdin, std::io::Result<()>)> + Send>>;

async fn finish_write(writing: &mut Option<WriteFuture>) -> (ChildStdin, std::io::Result<()>) {
    match writing {
        Some(write) => write.await,
        None => std::future::pending().await,
    }
}

/// Acks first: they answer commands the process may be waiting on.
async fn next_output(acks: &mut mpsc::Receiver<String>, events: &mut mpsc::Receiver<String>) -> Option<String> {
    tokio::select! {
        biased;
        Some(line) = acks.recv() => Some(line),
        line = events.recv() => line,
    }
}

/// A line, capped at MAX_LINE: the rest of an overlong line is discarded, not buffered.
async fn read_line(reader: &mut BufReader<tokio::process::ChildStdout>, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..=end], true),
            None => (available, false),
        };
        let used = chunk.len();
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..used.min(room)]);
        total += used;
        reader.consume(used);
        if done {
            return Ok(total);
        }
    }
}

async fn terminate(name: &str, child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(TERM_GRACE, child.wait()).await.is_err() {
        warn!(process = %name, "did not exit on SIGTERM: killing it");
        let _ = child.kill().await;
    }
    info!(process = %name, "process stopped");
}
