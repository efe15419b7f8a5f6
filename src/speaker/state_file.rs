//! `state_file`: drain state and manual routes survive a restart. Written atomically (temporary
//! file, fsync, rename), so a crash leaves the old or the new state, never half of one. A file
//! that does not parse is moved aside and reported, never silently dropped or overwritten.
//!
//! It also holds the crash mark for graceful restart (RFC 4724): `running` is written true at
//! start and false after a deliberate stop has withdrawn everything, so a start that finds it
//! true follows a crash (SIGKILL, panic, power loss). Without a state file rhi cannot tell, and
//! never sets the Restart State bit: routers still keep its routes after a crash (they see the
//! connection drop, or the new OPEN), the bit only tells them not to wait for rhi's End-of-RIB
//! before sending their own routes, which rhi does not use.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::drain::Drain;
use crate::control::proto::RouteSpec;

const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persisted {
    pub version: u32,
    /// True while rhi runs; false after a clean stop. Missing (older files): false.
    #[serde(default)]
    pub running: bool,
    pub drain: Drain,
    pub manual: Vec<ManualRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualRecord {
    pub prefix: IpNet,
    pub route: RouteSpec,
    /// Empty = every peer.
    pub peers: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum Loaded {
    Missing,
    Restored(Persisted),
    /// The file was unreadable as state; it now lives at `moved_to`.
    Corrupt {
        reason: String,
        moved_to: PathBuf,
    },
}

pub fn load(path: &Path) -> io::Result<Loaded> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(error) if error.kind() == io::ErrorKind::InvalidData => return set_aside(path, error.to_string()),
        Err(error) => return Err(error),
    };
    match serde_json::from_str::<Persisted>(&text) {
        Ok(state) if state.version == FORMAT_VERSION => Ok(Loaded::Restored(state)),
        Ok(state) => set_aside(path, format!("format version {} is not {FORMAT_VERSION}", state.version)),
        Err(error) => set_aside(path, error.to_string()),
    }
}

fn set_aside(path: &Path, reason: String) -> io::Result<Loaded> {
    let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut moved_to = path.as_os_str().to_owned();
    moved_to.push(format!(".corrupt-{stamp}"));
    let moved_to = PathBuf::from(moved_to);
    fs::rename(path, &moved_to)?;
    Ok(Loaded::Corrupt { reason, moved_to })
}

pub fn save(path: &Path, state: &Persisted) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = fs::File::create(&temporary)?;
    let state = Persisted { version: FORMAT_VERSION, ..state.clone() };
    file.write_all(serde_json::to_string_pretty(&state).map_err(io::Error::other)?.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::speaker::drain::Source;

    fn sample() -> Persisted {
        let mut drain = Drain::default();
        drain.drain(None, Duration::from_secs(30), Source::Cli, SystemTime::UNIX_EPOCH);
        Persisted {
            version: FORMAT_VERSION,
            running: true,
            drain,
            manual: vec![ManualRecord {
                prefix: "10.99.0.1/32".parse().unwrap(),
                route: RouteSpec { med: Some(50), ..Default::default() },
                peers: vec!["sw01".into()],
            }],
        }
    }

    #[test]
    fn saves_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert_eq!(load(&path).unwrap(), Loaded::Missing);
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), Loaded::Restored(sample()));
        assert!(!dir.path().join("sub/state.json.tmp").exists());
    }

    #[test]
    fn the_crash_mark_round_trips_and_defaults_to_clean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for running in [true, false] {
            save(&path, &Persisted { running, ..sample() }).unwrap();
            let Loaded::Restored(state) = load(&path).unwrap() else { panic!("not restored") };
            assert_eq!(state.running, running);
        }
        // A file written before the mark existed reads as a clean stop.
        save(&path, &Persisted { running: true, ..sample() }).unwrap();
        let older = fs::read_to_string(&path).unwrap().replace("\"running\": true,", "");
        assert!(!older.contains("running"), "{older}");
        fs::write(&path, older).unwrap();
        match load(&path).unwrap() {
            Loaded::Restored(state) => assert!(!state.running),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_corrupt_file_is_set_aside_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "{\"version\": 1, \"drain\": ").unwrap();
        let Loaded::Corrupt { reason, moved_to } = load(&path).unwrap() else { panic!("expected corrupt") };
        assert!(reason.contains("EOF"), "{reason}");
        assert!(!path.exists());
        assert_eq!(fs::read_to_string(moved_to).unwrap(), "{\"version\": 1, \"drain\": ");
        fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(load(&path).unwrap(), Loaded::Corrupt { .. }));
    }
}
