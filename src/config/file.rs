//! Where the running configuration comes from: rhi's YAML, or an ExaBGP configuration read as
//! rhi's, plus what the command line overrides. Kept by the daemon so that a reload reads the
//! file the way it was first read.

use std::path::PathBuf;

use super::{Config, ConfigError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFormat {
    Rhi,
    /// `--exabgp-config`: ExaBGP 4/5 syntax (DESIGN §5).
    Exabgp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub format: ConfigFormat,
    /// `rhi run --control-socket`: an ExaBGP configuration has no place for it, and two daemons
    /// on one host need two sockets.
    pub control_socket: Option<PathBuf>,
}

impl ConfigFile {
    pub fn rhi(path: PathBuf) -> ConfigFile {
        ConfigFile { path, format: ConfigFormat::Rhi, control_socket: None }
    }

    pub fn exabgp(path: PathBuf) -> ConfigFile {
        ConfigFile { path, format: ConfigFormat::Exabgp, control_socket: None }
    }

    /// Reads and validates the file; returns the configuration and what works differently from
    /// what the file says (each warning names file and line when it can).
    ///
    /// # Errors
    /// The first problem found, as `file:line:col: message`.
    pub fn load(&self) -> Result<(Config, Vec<String>), ConfigError> {
        let (mut config, mut warnings) = match self.format {
            ConfigFormat::Rhi => (Config::load(&self.path)?, Vec::new()),
            ConfigFormat::Exabgp => {
                let imported = crate::exabgp::config::import_file(&self.path)?;
                (imported.config, imported.warnings)
            }
        };
        warnings.extend(config.warnings());
        if let Some(socket) = &self.control_socket {
            config.control.socket = socket.clone();
        }
        Ok((config, warnings))
    }
}
