//! The `rhi` command line (DESIGN §4).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use rhi::config::{Config, ConfigFile, DEFAULT_CONTROL_SOCKET};
use rhi::control::client::{self, ClientError};
use rhi::control::proto::{AdvertisedRoute, Command as Request, Response, RouteSpec};
use rhi::logging::{self, LogFormat};
use rhi::status::Status;

#[derive(Parser)]
#[command(name = "rhi", version, about = "Route Health Injection: announce this node's VIPs to its routers over BGP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct ConfigArg {
    /// The configuration file.
    #[arg(short = 'c', long = "config", env = "RHI_CONFIG", default_value = rhi::config::DEFAULT_PATH)]
    config: PathBuf,
}

#[derive(Args)]
struct Client {
    /// The daemon's control socket (default: `control.socket` of the config, else /run/rhi/rhi.sock).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (logs to stderr).
    Run {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        exabgp: ExabgpArg,
        /// Overrides `control.socket` of the configuration.
        #[arg(long, value_name = "PATH")]
        control_socket: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Validate the configuration and print it with every default filled in (with
    /// --exabgp-config: the equivalent rhi YAML, a migration aid).
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        exabgp: ExabgpArg,
    },
    /// Peers (state, uptime, prefixes sent), checks, and routes (health, attributes, drain).
    Status {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: Client,
    },
    /// What has been advertised to each peer (the Adj-RIB-Out).
    Routes {
        #[arg(long)]
        peer: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: Client,
    },
    /// Announce a route by hand; held until withdrawn, never overridden by a health check.
    Announce {
        #[arg(value_parser = parse_prefix)]
        prefix: IpNet,
        #[arg(long)]
        med: Option<u32>,
        #[arg(long, default_value_t = 0)]
        as_path_prepend: u8,
        /// "65000:46" or a well-known name (no-export, graceful-shutdown, ...); repeatable.
        #[arg(long = "community")]
        communities: Vec<String>,
        /// "a:b:c"; repeatable.
        #[arg(long = "large-community")]
        large_communities: Vec<String>,
        /// Sent to iBGP peers only.
        #[arg(long)]
        local_pref: Option<u32>,
        #[arg(long)]
        next_hop: Option<IpAddr>,
        /// Only to this peer (repeatable); default every peer.
        #[arg(long = "peer")]
        peers: Vec<String>,
        #[command(flatten)]
        client: Client,
    },
    /// Withdraw a manual route.
    Withdraw {
        #[arg(value_parser = parse_prefix)]
        prefix: IpNet,
        #[arg(long = "peer")]
        peers: Vec<String>,
        #[command(flatten)]
        client: Client,
    },
    /// Make VIPs less preferred (drain attributes), then withdraw them after `withdraw_after`.
    Drain {
        /// VIPs to drain; none = every VIP.
        #[arg(value_parser = parse_prefix)]
        prefixes: Vec<IpNet>,
        /// Overrides drain.withdraw_after ("0s" = stay drained until undrain).
        #[arg(long, value_parser = parse_duration)]
        withdraw_after: Option<String>,
        /// Return only when the drain is complete.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: Client,
    },
    /// Restore drained VIPs.
    Undrain {
        #[arg(value_parser = parse_prefix)]
        prefixes: Vec<IpNet>,
        #[command(flatten)]
        client: Client,
    },
    /// Re-read the configuration; sessions whose settings did not change stay up.
    Reload {
        #[command(flatten)]
        client: Client,
    },
    /// Send one ExaBGP API command to the daemon and print its answer (exabgpcli's job), e.g.
    /// rhi ctl announce route 10.0.0.1/32 next-hop self med 100
    Ctl {
        /// The command; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
        #[command(flatten)]
        client: Client,
    },
}

#[derive(Args)]
struct ExabgpArg {
    /// Read an ExaBGP 4/5 configuration file instead of rhi's YAML (-c is then ignored).
    #[arg(long = "exabgp-config", value_name = "FILE")]
    exabgp_config: Option<PathBuf>,
}

impl ExabgpArg {
    fn file(&self, config: &ConfigArg) -> ConfigFile {
        match &self.exabgp_config {
            Some(path) => ConfigFile::exabgp(path.clone()),
            None => ConfigFile::rhi(config.config.clone()),
        }
    }
}

/// Exit codes (DESIGN §4): 0 success, 1 refused or failed, 2 usage or configuration error.
const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// A bare address is the host route an operator almost always means.
fn parse_prefix(text: &str) -> Result<IpNet, String> {
    if let Ok(prefix) = text.parse::<IpNet>() {
        return Ok(prefix);
    }
    text.parse::<IpAddr>().map(IpNet::from).map_err(|_| format!("{text:?} is not a prefix (like 10.46.46.46/32)"))
}

fn parse_duration(text: &str) -> Result<String, String> {
    humantime::parse_duration(text).map(|_| text.to_string()).map_err(|e| format!("{e} (like 30s, 1m)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, exabgp, control_socket, log_format } => {
            run(ConfigFile { control_socket, ..exabgp.file(&config) }, log_format)
        }
        Command::CheckConfig { config, exabgp } => match exabgp.file(&config).load() {
            Ok((config, warnings)) => {
                for warning in &warnings {
                    eprintln!("warning: {warning}");
                }
                // The YAML carries the warnings too, so a migrated file still says what changed.
                if exabgp.exabgp_config.is_some() {
                    for warning in &warnings {
                        println!("# warning: {warning}");
                    }
                }
                print!("{}", config.to_yaml());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Status { json, client } => call(&client, Request::Status, false, |r| {
            let status: Status = serde_json::from_value(r.result.clone()).map_err(|e| e.to_string())?;
            Ok(if json { pretty(&r.result) } else { client::render_status(&status) })
        }),
        Command::Routes { peer, json, client } => call(&client, Request::Routes { peer }, false, |r| {
            let routes: Vec<AdvertisedRoute> = serde_json::from_value(r.result.clone()).map_err(|e| e.to_string())?;
            Ok(if json { pretty(&r.result) } else { client::render_routes(&routes) })
        }),
        Command::Announce {
            prefix,
            med,
            as_path_prepend,
            communities,
            large_communities,
            local_pref,
            next_hop,
            peers,
            client,
        } => {
            let route = RouteSpec { med, as_path_prepend, communities, large_communities, local_pref, next_hop };
            // Bad attributes are a usage error: say so before bothering the daemon.
            if let Err(error) = route.to_announcement() {
                eprintln!("rhi announce: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
            call(&client, Request::Announce { prefix, route, peers }, false, message)
        }
        Command::Withdraw { prefix, peers, client } => {
            call(&client, Request::Withdraw { prefix, peers }, false, message)
        }
        Command::Drain { prefixes, withdraw_after, wait, client } => {
            call(&client, Request::Drain { prefixes, withdraw_after, wait }, wait, message)
        }
        Command::Undrain { prefixes, client } => call(&client, Request::Undrain { prefixes }, false, message),
        Command::Reload { client } => call(&client, Request::Reload, false, message),
        Command::Ctl { words, client } => ctl(&client, words.join(" ")),
    }
}

/// Prints the answer lines; exit 0 on `done`, 1 on `error` (the answer then goes to stderr).
fn ctl(client: &Client, line: String) -> ExitCode {
    match client::request(&socket_of(client), Request::Api { line }, false) {
        Ok(response) => {
            let lines: Vec<String> = serde_json::from_value(response.result.clone()).unwrap_or_default();
            if response.ok {
                for line in &lines {
                    println!("{line}");
                }
                println!("done");
                ExitCode::SUCCESS
            } else {
                for line in &lines {
                    eprintln!("{line}");
                }
                eprintln!("error");
                ExitCode::from(EXIT_FAILURE)
            }
        }
        Err(error) => {
            eprintln!("rhi: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(file: ConfigFile, log_format: LogFormat) -> ExitCode {
    let (config, warnings) = match file.load() {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    logging::init(log_format);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    // One thread: a route injector's work is small and latency-bound, and a single thread keeps
    // the idle footprint to a few megabytes.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("rhi: cannot start runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(rhi::daemon::run(config, Some(file))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rhi: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The socket named on the command line, else the config's, else the default.
fn socket_of(client: &Client) -> PathBuf {
    if let Some(socket) = &client.socket {
        return socket.clone();
    }
    Config::load(&client.config.config).map(|c| c.control.socket).unwrap_or_else(|_| DEFAULT_CONTROL_SOCKET.into())
}

fn call(client: &Client, request: Request, wait: bool, show: impl Fn(&Response) -> Result<String, String>) -> ExitCode {
    match client::request(&socket_of(client), request, wait) {
        Ok(response) if response.ok => match show(&response) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("rhi: unexpected answer from the daemon: {error}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Ok(response) => {
            eprintln!("rhi: {}", response.error.unwrap_or_else(|| "refused".into()));
            ExitCode::from(EXIT_FAILURE)
        }
        Err(error @ ClientError::NotRunning { .. }) | Err(error @ ClientError::Io { .. }) => {
            eprintln!("rhi: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn message(response: &Response) -> Result<String, String> {
    Ok(response.message.clone().map(|m| m + "\n").unwrap_or_default())
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}
