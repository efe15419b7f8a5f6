//! The rhi binary under test, as a daemon (`rhi run`) or a one-shot command.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use super::net::TestNet;
use super::process::{Daemon, WorkDir};
use super::wait::{secs, wait_until_ok};
use super::{BGP_PORT, INJECTOR_AS, NEXT_HOP_V4, ROUTER_AS};

/// Replaced by the process's private directory in configs given to [`RhiProcess::start`], for
/// paths that must not collide between tests: `control: {socket: "@DIR@/rhi.sock"}`,
/// `state_file: "@DIR@/state.json"`.
pub const DIR_PLACEHOLDER: &str = "@DIR@";

/// The rhi binary Cargo built for this test run.
pub fn rhi_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rhi"))
}

/// A `Command` for the rhi binary, for one-shot subcommands: `check-config`, and the client
/// commands (`status`, `announce`, ...) with `--socket`.
pub fn rhi_command() -> Command {
    let mut cmd = Command::new(rhi_bin());
    // A developer's own RHI_CONFIG must not leak into what a test runs.
    cmd.env_remove("RHI_CONFIG");
    cmd
}

/// `rhi run -c CONFIG` in the background, its stderr (and stdout) in `rhi.log` in a private
/// temp dir. Dropping it kills it (SIGKILL) and, if the test is failing, prints its log.
pub struct RhiProcess {
    daemon: Daemon,
    config: PathBuf,
    dir: WorkDir,
}

impl RhiProcess {
    /// Writes `config_yaml` (with [`DIR_PLACEHOLDER`] replaced) and starts `rhi run -c FILE`.
    /// Returns at once: wait on what the router holds, or on [`RhiProcess::wait_log`].
    pub fn start(config_yaml: &str) -> RhiProcess {
        RhiProcess::start_with_args(config_yaml, &[])
    }

    /// Like [`RhiProcess::start`], with more arguments after `run -c FILE` (e.g.
    /// `["--log-format", "json"]`).
    pub fn start_with_args(config_yaml: &str, args: &[&str]) -> RhiProcess {
        let dir = WorkDir::new("rhi");
        let config = dir.write("rhi.yaml", &expand(config_yaml, dir.path()));
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let daemon = {
            let config = config.clone();
            Daemon::spawn("rhi", dir.join("rhi.log"), move || {
                let mut cmd = rhi_command();
                cmd.arg("run").arg("-c").arg(&config).args(&args);
                cmd
            })
        };
        RhiProcess { daemon, config, dir }
    }

    /// Like [`RhiProcess::start`], with these environment variables (e.g. `RUST_LOG=debug`).
    pub fn start_with_env(config_yaml: &str, env: &[(&str, &str)]) -> RhiProcess {
        let dir = WorkDir::new("rhi");
        let config = dir.write("rhi.yaml", &expand(config_yaml, dir.path()));
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let daemon = {
            let config = config.clone();
            Daemon::spawn("rhi", dir.join("rhi.log"), move || {
                let mut cmd = rhi_command();
                cmd.arg("run").arg("-c").arg(&config).envs(env.iter().map(|(k, v)| (k, v)));
                cmd
            })
        };
        RhiProcess { daemon, config, dir }
    }

    /// Like [`RhiProcess::start`], inside a network namespace (`ip netns exec NAME rhi run ...`,
    /// which execs rhi in place, so the PID is rhi's own; needs root). The control socket is a
    /// path, so [`RhiProcess::client`] works from outside the namespace.
    pub fn start_in_netns(config_yaml: &str, netns: &str) -> RhiProcess {
        let dir = WorkDir::new("rhi");
        let config = dir.write("rhi.yaml", &expand(config_yaml, dir.path()));
        let netns = netns.to_string();
        let daemon = {
            let config = config.clone();
            Daemon::spawn(format!("rhi in {netns}"), dir.join("rhi.log"), move || {
                let mut cmd = Command::new(super::process::program("ip"));
                cmd.args(["netns", "exec", &netns]).arg(rhi_bin()).arg("run").arg("-c").arg(&config);
                cmd.env_remove("RHI_CONFIG");
                cmd
            })
        };
        RhiProcess { daemon, config, dir }
    }

    /// `rhi run --exabgp-config FILE` with an ExaBGP configuration (with [`DIR_PLACEHOLDER`]
    /// replaced), its control socket at `DIR/rhi.sock` (an ExaBGP file cannot name one).
    pub fn start_exabgp(exabgp_conf: &str) -> RhiProcess {
        let dir = WorkDir::new("rhi");
        let config = dir.write("exabgp.conf", &expand(exabgp_conf, dir.path()));
        let socket = dir.join("rhi.sock");
        let daemon = {
            let config = config.clone();
            Daemon::spawn("rhi", dir.join("rhi.log"), move || {
                let mut cmd = rhi_command();
                cmd.arg("run").arg("--exabgp-config").arg(&config).arg("--control-socket").arg(&socket);
                cmd
            })
        };
        RhiProcess { daemon, config, dir }
    }

    /// Runs a client subcommand (`status`, `ctl`, ...) against this daemon's socket
    /// (`DIR/rhi.sock`); returns (exit code, stdout, stderr).
    pub fn client(&self, args: &[&str]) -> (i32, String, String) {
        // Right after the subcommand: `ctl` takes every later word as its command.
        let (subcommand, rest) = args.split_first().expect("a subcommand");
        let output = rhi_command()
            .arg(subcommand)
            .arg("--socket")
            .arg(self.dir.join("rhi.sock"))
            .args(rest)
            .output()
            .expect("run the rhi client");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The private directory that [`DIR_PLACEHOLDER`] stands for.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Replaces the config file (atomically, so a SIGHUP racing with the write never sees half
    /// of it). Follow with [`RhiProcess::sighup`] to apply it.
    pub fn write_config(&self, config_yaml: &str) {
        let tmp = self.dir.write("rhi.yaml.new", &expand(config_yaml, self.dir.path()));
        fs::rename(&tmp, &self.config).expect("replace rhi.yaml");
    }

    /// The PID while rhi runs; panics once it has exited.
    pub fn pid(&self) -> u32 {
        self.daemon.pid().expect("rhi has exited")
    }

    pub fn is_running(&self) -> bool {
        self.daemon.is_running()
    }

    /// Panics with the log if rhi has exited.
    pub fn assert_running(&self) {
        self.daemon.assert_running();
    }

    /// SIGTERM: rhi must withdraw its routes and exit 0 (DESIGN §3).
    pub fn sigterm(&self) {
        self.daemon.signal("TERM");
    }

    pub fn sigint(&self) {
        self.daemon.signal("INT");
    }

    /// SIGHUP: re-read the config.
    pub fn sighup(&self) {
        self.daemon.signal("HUP");
    }

    /// Any signal by name ("USR1", ...).
    pub fn signal(&self, name: &str) {
        self.daemon.signal(name);
    }

    /// Waits for rhi to exit; panics with its log after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        self.daemon.wait_exit(timeout)
    }

    /// SIGKILL: no withdraw, no NOTIFICATION, like a crash.
    pub fn kill(&self) {
        self.daemon.kill();
    }

    /// Starts rhi again with the same config file and directory (state file, socket).
    pub fn restart(&self) {
        self.daemon.restart();
    }

    /// Everything rhi logged so far.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    pub fn log_path(&self) -> &Path {
        self.daemon.log_path()
    }

    /// Waits until the log contains `needle` and returns that line.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        let what = format!("rhi to log {needle:?}");
        wait_until_ok(timeout, &what, || {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return Ok(line.to_string());
            }
            self.daemon.assert_running();
            Err(format!("last lines:\n{}", super::process::tail(&log, 20)))
        })
    }

    /// SIGTERM and wait (up to 10 s) for the exit status.
    pub fn stop(&self) -> ExitStatus {
        self.sigterm();
        self.wait_exit(secs(10))
    }
}

fn expand(config_yaml: &str, dir: &Path) -> String {
    config_yaml.replace(DIR_PLACEHOLDER, &dir.display().to_string())
}

/// rhi's configuration for the usual one-router test: one peer `r1` (eBGP from AS 65010 to
/// 65001, connect retry 1 s), its control socket in the process's directory. Tests set only the
/// fields they vary; the YAML fragments are written as they stand in the file.
pub struct OnePeerConfig {
    /// rhi's address: the peer's `local_address`, and the router id when it is IPv4.
    pub local: IpAddr,
    pub router: IpAddr,
    pub port: u16,
    pub hold_time_secs: u16,
    pub next_hop: Option<String>,
    pub next_hop_v6: Option<String>,
    /// More keys of the peer, each line indented by four spaces.
    pub peer_keys: String,
    /// More top-level lines (`listen:`, `checks:`, `state_file:`, ...).
    pub top: String,
    /// The `vips:` list items.
    pub vips: String,
}

impl OnePeerConfig {
    /// rhi at `net.injector()`, the router at `net.router()` port 1179, hold time 9 s, the lab's
    /// IPv4 next hop, and the VIP 10.46.46.46/32.
    pub fn new(net: &TestNet) -> OnePeerConfig {
        OnePeerConfig {
            local: net.injector(),
            router: net.router(),
            port: BGP_PORT,
            hold_time_secs: 9,
            next_hop: Some(NEXT_HOP_V4.to_string()),
            next_hop_v6: None,
            peer_keys: String::new(),
            top: String::new(),
            vips: "  - prefix: 10.46.46.46/32\n".to_string(),
        }
    }

    pub fn yaml(&self) -> String {
        let router_id = match self.local {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(_) => "10.255.255.2".to_string(),
        };
        let line = |key: &str, value: &Option<String>| match value {
            Some(value) => format!("    {key}: {value}\n"),
            None => String::new(),
        };
        format!(
            "router_id: {router_id}\n\
             local_as: {INJECTOR_AS}\n\
             {top}\
             peers:\n\
             \x20 - name: r1\n\
             \x20   address: {router}\n\
             \x20   remote_as: {ROUTER_AS}\n\
             \x20   port: {port}\n\
             \x20   local_address: {local}\n\
             \x20   hold_time: {hold}s\n\
             \x20   connect_retry: 1s\n\
             {next_hop}{next_hop_v6}{peer_keys}\
             vips:\n\
             {vips}\
             control:\n\
             \x20 socket: \"@DIR@/rhi.sock\"\n",
            top = with_newline(&self.top),
            router = self.router,
            port = self.port,
            local = self.local,
            hold = self.hold_time_secs,
            next_hop = line("next_hop", &self.next_hop),
            next_hop_v6 = line("next_hop_v6", &self.next_hop_v6),
            peer_keys = with_newline(&self.peer_keys),
            vips = with_newline(&self.vips),
        )
    }
}

fn with_newline(fragment: &str) -> String {
    if fragment.is_empty() || fragment.ends_with('\n') {
        fragment.to_string()
    } else {
        format!("{fragment}\n")
    }
}
