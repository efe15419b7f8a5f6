//! The `rhi` command line (DESIGN §4).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rhi::config::Config;
use rhi::logging::{self, LogFormat};

#[derive(Parser)]
#[command(name = "rhi", version, about = "Route Health Injection: announce this node's VIPs to its routers over BGP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (logs to stderr).
    Run {
        #[arg(short = 'c', long = "config", env = "RHI_CONFIG", default_value = "/etc/rhi/rhi.yaml")]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Validate the configuration and print it with every default filled in.
    CheckConfig {
        #[arg(short = 'c', long = "config", env = "RHI_CONFIG", default_value = "/etc/rhi/rhi.yaml")]
        config: PathBuf,
    },
}

/// Exit codes (DESIGN §4): 0 success, 1 runtime failure, 2 usage or configuration error.
const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(config) => {
                for warning in config.warnings() {
                    eprintln!("warning: {warning}");
                }
                print!("{}", config.to_yaml());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Run { config, log_format } => {
            let config = match Config::load(&config) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("{error}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            logging::init(log_format);
            for warning in config.warnings() {
                tracing::warn!("{warning}");
            }
            // One thread: a route injector's work is small and latency-bound, and a single
            // thread keeps the idle footprint to a few megabytes.
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("rhi: cannot start runtime: {error}");
                    return ExitCode::from(EXIT_FAILURE);
                }
            };
            match runtime.block_on(rhi::daemon::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("rhi: {error}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}
