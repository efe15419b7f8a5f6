//! Child processes: finding the peer programs, spawning daemons with their output in a log file,
//! signalling and killing them by PID, and showing their logs when a test fails.

use std::cell::RefCell;
use std::env;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::wait::POLL_INTERVAL;

/// The real routing daemons a test can depend on, each from its Debian package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Bird,
    Gobgp,
    Frr,
    Exabgp,
    Haproxy,
}

impl Peer {
    /// Every program the harness runs for this peer.
    pub fn programs(self) -> &'static [&'static str] {
        match self {
            Peer::Bird => &["bird", "birdc"],
            Peer::Gobgp => &["gobgpd", "gobgp"],
            // /usr/sbin/bgpd is an unrelated program on Debian: always the FRR path.
            Peer::Frr => &["/usr/lib/frr/bgpd", "vtysh"],
            Peer::Exabgp => &["exabgp"],
            Peer::Haproxy => &["haproxy", "socat"],
        }
    }

    /// The Debian package that provides the programs.
    pub fn package(self) -> &'static str {
        match self {
            Peer::Bird => "bird2",
            Peer::Gobgp => "gobgpd",
            Peer::Frr => "frr",
            Peer::Exabgp => "exabgp",
            Peer::Haproxy => "haproxy socat",
        }
    }
}

fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Whether the given peers are installed. Use as the first line of a test:
/// `if !require(&[Peer::Bird]) { return; }`.
///
/// Missing peers skip the test with a message on stderr, so a developer without the daemons can
/// still run everything else; under CI (`CI` set) they fail it instead, because a CI machine that
/// silently skips the real-router tests proves nothing.
pub fn require(peers: &[Peer]) -> bool {
    let missing: Vec<String> = peers
        .iter()
        .flat_map(|peer| {
            peer.programs()
                .iter()
                .filter(|p| find_program(p).is_none())
                .map(move |p| format!("{p} (apt-get install {})", peer.package()))
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let test = thread::current().name().unwrap_or("?").to_string();
    let message = format!("missing {}", missing.join(", "));
    if in_ci() {
        panic!("{test}: {message}; CI must install every peer (see .ci/run)");
    }
    eprintln!("SKIPPED {test}: {message}");
    false
}

/// Resolves a program name: absolute paths as given, else `$PATH`, then the sbin directories a
/// non-root user's `$PATH` usually lacks (bird, exabgp live in /usr/sbin).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    let search = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&search)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// [`find_program`], or a panic that says which package to install.
pub fn program(name: &str) -> PathBuf {
    find_program(name)
        .unwrap_or_else(|| panic!("{name} not found; install the Debian package and guard the test with require()"))
}

/// Runs a query program (birdc, gobgp, vtysh) to completion. `Err` carries a one-line reason
/// (exit status + stderr), which the wait helpers show as the last observed state.
pub fn run_query(program: &Path, args: &[&OsStr]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("{} {:?} failed ({}): {} {}", program.display(), args, output.status, stderr.trim(), stdout.trim()))
    }
}

type CommandFactory = Box<dyn Fn() -> Command + Send + Sync>;

/// One long-running child process (router, announcer or rhi) with stdout and stderr appended to
/// a log file.
///
/// The PID is only ever signalled while the child is unreaped, so it cannot belong to another
/// process. Dropping kills (SIGKILL) and reaps it; if the test is panicking the log is printed
/// into the test's output.
///
/// Every daemon is watched by the test thread that started it: while that thread is inside
/// [`wait_until_ok`](super::wait::wait_until_ok), a daemon that exits without having been
/// asked to (signal, [`Daemon::kill`], [`Daemon::expect_exit`]) fails the test at once with its
/// log, instead of the wait timing out on a symptom elsewhere.
pub struct Daemon {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    factory: CommandFactory,
    log_path: PathBuf,
    child: Mutex<Option<Child>>,
    exited: Mutex<Option<ExitStatus>>,
    exit_expected: AtomicBool,
}

thread_local! {
    static WATCHED: RefCell<Vec<Weak<Inner>>> = const { RefCell::new(Vec::new()) };
}

/// Panics with the log of any daemon started by this thread that has exited unexpectedly.
pub fn check_watched_daemons() {
    let alive: Vec<Arc<Inner>> = WATCHED.with(|w| {
        let mut watched = w.borrow_mut();
        watched.retain(|d| d.strong_count() > 0);
        watched.iter().filter_map(Weak::upgrade).collect()
    });
    for inner in alive {
        if !inner.exit_expected.load(Ordering::SeqCst) {
            inner.assert_running();
        }
    }
}

impl Daemon {
    /// Spawns `factory()` now and again on every [`Daemon::restart`]. `name` appears in every
    /// message about the process ("BIRD 127.3.4.1").
    pub fn spawn(
        name: impl Into<String>,
        log_path: impl Into<PathBuf>,
        factory: impl Fn() -> Command + Send + Sync + 'static,
    ) -> Daemon {
        let inner = Arc::new(Inner {
            name: name.into(),
            factory: Box::new(factory),
            log_path: log_path.into(),
            child: Mutex::new(None),
            exited: Mutex::new(None),
            exit_expected: AtomicBool::new(false),
        });
        inner.spawn_child();
        WATCHED.with(|w| w.borrow_mut().push(Arc::downgrade(&inner)));
        Daemon { inner }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn log_path(&self) -> &Path {
        &self.inner.log_path
    }

    /// Everything the process wrote so far (all runs, separated by "=== harness:" lines).
    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// The PID while the process runs (or is an unreaped zombie), else `None`.
    pub fn pid(&self) -> Option<u32> {
        self.inner.lock_child().as_ref().map(Child::id)
    }

    /// The exit status once the process has ended; reaps it.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.inner.exit_status()
    }

    pub fn is_running(&self) -> bool {
        self.exit_status().is_none() && self.pid().is_some()
    }

    /// Panics with the log if the process has exited.
    pub fn assert_running(&self) {
        self.inner.assert_running();
    }

    /// Tells the watcher that this process may exit by itself (e.g. rhi given a bad config).
    pub fn expect_exit(&self) {
        self.inner.exit_expected.store(true, Ordering::SeqCst);
    }

    /// Sends a signal by name ("TERM", "HUP", "INT", "KILL") to the process. Panics if it has
    /// already exited: signalling a dead process is a test bug, not something to ignore.
    /// TERM, INT and KILL mark the exit as expected.
    pub fn signal(&self, signal: &str) {
        let guard = self.inner.lock_child();
        let child =
            guard.as_ref().unwrap_or_else(|| panic!("cannot send SIG{signal} to {}: it has exited", self.inner.name));
        if matches!(signal, "TERM" | "INT" | "KILL") {
            self.expect_exit();
        }
        let status = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().expect("run kill(1)");
        assert!(status.success(), "kill -s {signal} {} failed", child.id());
    }

    /// Waits for the process to exit by itself; panics with the log after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        self.expect_exit();
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            if start.elapsed() >= timeout {
                panic!(
                    "{} still running {timeout:?} after being asked to exit; its log:\n{}",
                    self.inner.name,
                    tail(&self.log(), 200)
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`. Returns how it ended.
    pub fn stop(&self, grace: Duration) -> ExitStatus {
        if let Some(status) = self.exit_status() {
            return status;
        }
        self.signal("TERM");
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Some(status) = self.exit_status() {
                return status;
            }
            thread::sleep(POLL_INTERVAL);
        }
        self.kill();
        self.exit_status().expect("reaped after SIGKILL")
    }

    /// SIGKILL and reap: the process gets no chance to say goodbye (no NOTIFICATION, no
    /// withdraw), like a crash or a power cut. Idempotent.
    pub fn kill(&self) {
        self.expect_exit();
        self.inner.kill();
    }

    /// Kills the process if it still runs and starts the same command again (same config, same
    /// directory, same log file).
    pub fn restart(&self) {
        self.kill();
        self.inner.spawn_child();
    }
}

impl Inner {
    fn spawn_child(&self) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log_path.display()));
        let mut command = (self.factory)();
        let _ = writeln!(log, "=== harness: starting {command:?}");
        let stderr = log.try_clone().expect("clone log file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({command:?}): {e}", self.name));
        *self.lock_child() = Some(child);
        *lock(&self.exited) = None;
        self.exit_expected.store(false, Ordering::SeqCst);
    }

    fn lock_child(&self) -> MutexGuard<'_, Option<Child>> {
        lock(&self.child)
    }

    fn log(&self) -> String {
        fs::read(&self.log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        let mut guard = self.lock_child();
        if let Some(child) = guard.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                *guard = None;
                *lock(&self.exited) = Some(status);
            }
        }
        *lock(&self.exited)
    }

    fn assert_running(&self) {
        if let Some(status) = self.exit_status() {
            panic!(
                "{} exited unexpectedly ({status}); its log ({}):\n{}",
                self.name,
                self.log_path.display(),
                tail(&self.log(), 200)
            );
        }
    }

    fn kill(&self) {
        let mut guard = self.lock_child();
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            if let Ok(status) = child.wait() {
                *lock(&self.exited) = Some(status);
            }
        }
    }
}

// A test that panicked while holding a lock must not turn every later access (and Drop) into
// a second panic, which would abort the whole test binary.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "\n----- log of {} ({}) -----\n{}\n----- end of log of {} -----",
                self.inner.name,
                self.inner.log_path.display(),
                tail(&self.log(), 300),
                self.inner.name
            );
        }
        self.inner.kill();
    }
}

/// The last `lines` lines of `text`, with a note when some were cut.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    if all.len() <= lines {
        return text.to_string();
    }
    format!("[... {} earlier lines cut ...]\n{}", all.len() - lines, all[all.len() - lines..].join("\n"))
}

/// A fresh private directory for one daemon's config, sockets and log. Removed on drop unless
/// `RHI_TEST_KEEP` is set, in which case its path is printed for a post-mortem.
pub struct WorkDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl WorkDir {
    pub fn new(prefix: &str) -> WorkDir {
        let dir = tempfile::Builder::new().prefix(&format!("rhi-test-{prefix}-")).tempdir().expect("create temp dir");
        let path = dir.path().to_path_buf();
        WorkDir { dir: Some(dir), path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` in the directory and returns the full path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        let mut file = File::create(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        file.write_all(contents.as_bytes()).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if env::var_os("RHI_TEST_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("RHI_TEST_KEEP: kept {}", dir.keep().display());
            }
        }
    }
}
