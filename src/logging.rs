//! tracing setup: human-readable or JSON lines on stderr (stdout stays free for command output).

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `RUST_LOG` overrides the default level (info), as `LEVEL` and/or `target=LEVEL` directives,
/// comma-separated (`info,rhi::driver::bgp=debug`). A value that does not parse is reported on
/// stderr and the default is used.
///
/// `Targets` rather than `EnvFilter`: it covers these directives without the regex engine,
/// which is a quarter of a megabyte of code mapped into an idle daemon.
pub fn init(format: LogFormat) {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    // Colour codes only for a person at a terminal, never into files or journald.
    let ansi = std::io::stderr().is_terminal();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let result = match format {
        LogFormat::Text => tracing_subscriber::registry().with(fmt).with(filter).try_init(),
        LogFormat::Json => tracing_subscriber::registry().with(fmt.json().flatten_event(true)).with(filter).try_init(),
    };
    // Only fails when a subscriber is already installed (tests): that one keeps working.
    let _ = result;
}

fn filter_from(rust_log: Option<&str>) -> Targets {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim) {
        None | Some("") => default,
        Some(directives) => directives.parse().unwrap_or_else(|error| {
            eprintln!("rhi: RUST_LOG={directives:?} ignored ({error}); logging at info");
            default
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_default_and_per_target_levels() {
        let filter = filter_from(Some("warn,rhi::driver::bgp=debug"));
        assert!(filter.would_enable("rhi::driver::bgp", &Level::DEBUG));
        assert!(!filter.would_enable("rhi::speaker", &Level::INFO));
        assert!(filter.would_enable("rhi::speaker", &Level::WARN));
    }

    #[test]
    fn no_or_unparsable_rust_log_means_info() {
        for value in [None, Some(""), Some("rhi=loud")] {
            let filter = filter_from(value);
            assert!(filter.would_enable("rhi::speaker", &Level::INFO), "{value:?}");
            assert!(!filter.would_enable("rhi::speaker", &Level::DEBUG), "{value:?}");
        }
    }
}
