//! A peer's session protection: TCP-MD5 (RFC 2385), GTSM (RFC 5082) or a plain outgoing TTL, and
//! graceful restart (RFC 4724). What routers at a datacenter or ISP edge require before they
//! give a load balancer a session at all.

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;
use super::locate::YamlPath;
use super::raw::{DurationText, Int, RawGracefulRestart, RawPeer, RawTtlSecurity, Text};
use super::resolve::Ctx;
use super::values;

/// The kernel's limit for a TCP-MD5 key (`TCP_MD5SIG_MAXKEYLEN`).
pub const MD5_MAX_KEY_LEN: usize = 80;
/// RFC 4724 §3: Restart Time is a 12-bit number of seconds.
const MAX_RESTART_TIME: u64 = 4095;
/// Short, because a crashed node's VIPs stay at the router (stale) this long: see README.
pub const DEFAULT_RESTART_TIME: Duration = Duration::from_secs(30);

/// A TCP-MD5 key. Its bytes never reach `Debug`, `check-config`, the status or the logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Md5Key {
    secret: Vec<u8>,
    pub source: Md5Source,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Md5Source {
    /// `password:` in the config file itself.
    Inline,
    /// `password_file:`, read at start and on every reload.
    File(PathBuf),
}

impl Md5Key {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// For tests and the ExaBGP importer.
    pub fn inline(secret: &[u8]) -> Md5Key {
        Md5Key { secret: secret.to_vec(), source: Md5Source::Inline }
    }
}

impl fmt::Debug for Md5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Md5Key").field("source", &self.source).field("secret", &"(redacted)").finish()
    }
}

/// What rhi does with the IP TTL of its BGP packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TtlPolicy {
    /// The kernel's default TTL out, anything accepted.
    #[default]
    Default,
    /// `ttl: N`: this TTL out (ExaBGP's `outgoing-ttl`), anything accepted.
    Outgoing(u8),
    /// `ttl_security`: TTL 255 out, only TTL >= 256 - hops accepted (RFC 5082).
    Gtsm { hops: u8 },
}

impl TtlPolicy {
    /// The TTL rhi sends with, if not the kernel's default.
    pub fn outgoing(self) -> Option<u8> {
        match self {
            TtlPolicy::Default => None,
            TtlPolicy::Outgoing(ttl) => Some(ttl),
            TtlPolicy::Gtsm { .. } => Some(255),
        }
    }

    /// The lowest TTL accepted from the router, if any is enforced.
    pub fn minimum(self) -> Option<u8> {
        match self {
            TtlPolicy::Gtsm { hops } => Some(255 - hops + 1),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulRestart {
    /// Whole seconds, at most 4095: how long the router keeps our routes after we vanish.
    pub restart_time: Duration,
}

pub(crate) fn md5(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawPeer) -> Result<Option<Md5Key>, ConfigError> {
    match (&raw.password, &raw.password_file) {
        (Some(_), Some(_)) => Err(ctx.error(
            &path.key("password_file"),
            "password and password_file are both set: keep exactly one (password_file keeps the \
             secret out of the config)",
        )),
        (Some(text), None) => {
            ctx.at(&path.key("password"), key_bytes(text.as_str().as_bytes()).map(|k| Some(Md5Key::inline(&k))))
        }
        (None, Some(file)) => {
            let at = path.key("password_file");
            let file = ctx.at(&at, values::path(file.as_str()))?;
            let secret = ctx.at(&at, read_password_file(&file))?;
            Ok(Some(Md5Key { secret, source: Md5Source::File(file) }))
        }
        (None, None) => Ok(None),
    }
}

fn key_bytes(secret: &[u8]) -> Result<Vec<u8>, String> {
    if secret.is_empty() {
        return Err("is empty: a TCP-MD5 key needs at least one character".to_owned());
    }
    if secret.len() > MD5_MAX_KEY_LEN {
        return Err(format!(
            "is {} bytes long: the kernel takes TCP-MD5 keys of at most {MD5_MAX_KEY_LEN} bytes",
            secret.len()
        ));
    }
    Ok(secret.to_vec())
}

/// The key file, as ssh treats a private key: anyone on the machine must not be able to read it.
/// One trailing newline (what `echo` and editors leave) is not part of the key.
fn read_password_file(file: &Path) -> Result<Vec<u8>, String> {
    let shown = file.display();
    let metadata = fs::metadata(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !metadata.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    let mode = metadata.permissions().mode();
    if mode & 0o007 != 0 {
        return Err(format!(
            "{shown} is accessible to every user (mode {:03o}): the TCP-MD5 key must not be; \
             chmod 600 (or 640 with a group rhi is in)",
            mode & 0o777
        ));
    }
    let mut bytes = fs::read(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(bytes.len() - 1);
    }
    key_bytes(&bytes).map_err(|e| format!("the key in {shown} {e}"))
}

pub(crate) fn ttl(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawPeer) -> Result<TtlPolicy, ConfigError> {
    let gtsm = match &raw.ttl_security {
        None | Some(RawTtlSecurity::Enabled(false)) => None,
        Some(RawTtlSecurity::Enabled(true)) => Some(1),
        Some(RawTtlSecurity::Settings(settings)) => {
            let at = path.key("ttl_security").key("hops");
            Some(ctx.opt(settings.hops.as_ref(), &at, 1, |v| gtsm_hops(*v))?)
        }
    };
    match (gtsm, &raw.ttl) {
        (Some(_), Some(_)) => Err(ctx.error(
            &path.key("ttl"),
            "ttl and ttl_security are both set: with ttl_security rhi always sends TTL 255 (RFC 5082)",
        )),
        (Some(hops), None) => Ok(TtlPolicy::Gtsm { hops }),
        (None, Some(ttl)) => ctx.at(&path.key("ttl"), outgoing_ttl(*ttl)).map(TtlPolicy::Outgoing),
        (None, None) => Ok(TtlPolicy::Default),
    }
}

/// RFC 5082: the router is at most this many hops away; 255 - hops + 1 must stay above 1.
fn gtsm_hops(v: Int) -> Result<u8, String> {
    match u8::try_from(v.0) {
        Ok(n @ 1..=254) => Ok(n),
        _ => Err(format!("{} is out of range: must be 1..254", v.0)),
    }
}

fn outgoing_ttl(v: Int) -> Result<u8, String> {
    match u8::try_from(v.0) {
        Ok(n @ 1..=255) => Ok(n),
        _ => Err(format!("{} is out of range: must be 1..255", v.0)),
    }
}

/// A peer's `graceful_restart`, or the top-level one when the peer has none.
pub(crate) fn graceful_restart(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: Option<&RawGracefulRestart>,
    default: Option<GracefulRestart>,
) -> Result<Option<GracefulRestart>, ConfigError> {
    match raw {
        None => Ok(default),
        Some(RawGracefulRestart::Enabled(false)) => Ok(None),
        Some(RawGracefulRestart::Enabled(true)) => {
            Ok(Some(default.unwrap_or(GracefulRestart { restart_time: DEFAULT_RESTART_TIME })))
        }
        Some(RawGracefulRestart::Settings(settings)) => {
            let at = path.key("restart_time");
            let restart_time =
                ctx.opt(settings.restart_time.as_ref(), &at, DEFAULT_RESTART_TIME, restart_time_value)?;
            Ok(Some(GracefulRestart { restart_time }))
        }
    }
}

fn restart_time_value(raw: &DurationText) -> Result<Duration, String> {
    let d = values::duration(raw)?;
    if d.subsec_nanos() != 0 {
        return Err(format!("{} is not a whole number of seconds (RFC 4724 sends seconds)", values::duration_text(d)));
    }
    if d.as_secs() > MAX_RESTART_TIME {
        return Err(format!("{} is too long: at most 4095s (a 12-bit field, RFC 4724)", values::duration_text(d)));
    }
    Ok(d)
}

/// What `check-config` prints for an inline password.
pub(crate) const REDACTED: &str = "(redacted)";

pub(crate) fn emit_password(key: Option<&Md5Key>) -> (Option<Text>, Option<Text>) {
    match key.map(|k| &k.source) {
        None => (None, None),
        Some(Md5Source::Inline) => (Some(Text(REDACTED.to_owned())), None),
        Some(Md5Source::File(path)) => (None, Some(Text(path.display().to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = Md5Key::inline(b"s3cret-key");
        assert!(!format!("{key:?}").contains("s3cret"), "{key:?}");
    }

    #[test]
    fn password_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        fs::write(&file, "s3cret\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password_file(&file).unwrap(), b"s3cret");
        fs::write(&file, "s3cret\r\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap(), b"s3cret");
        fs::write(&file, "s3cret\n\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap(), b"s3cret\n", "only one newline is dropped");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_password_file(&file).unwrap_err().contains("accessible to every user (mode 644)"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(read_password_file(&file).is_ok());
        fs::write(&file, "\n").unwrap();
        assert!(read_password_file(&file).unwrap_err().contains("is empty"));
        fs::write(&file, "x".repeat(81)).unwrap();
        assert!(read_password_file(&file).unwrap_err().contains("at most 80 bytes"));
        assert!(read_password_file(&dir.path().join("missing")).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn gtsm_minimum_ttl() {
        assert_eq!(TtlPolicy::Gtsm { hops: 1 }.minimum(), Some(255));
        assert_eq!(TtlPolicy::Gtsm { hops: 2 }.minimum(), Some(254));
        assert_eq!(TtlPolicy::Gtsm { hops: 254 }.minimum(), Some(2));
        assert_eq!(TtlPolicy::Gtsm { hops: 1 }.outgoing(), Some(255));
        assert_eq!(TtlPolicy::Outgoing(64).minimum(), None);
        assert!(gtsm_hops(Int(0)).is_err() && gtsm_hops(Int(255)).is_err());
    }

    #[test]
    fn restart_time_is_twelve_bits_of_seconds() {
        let t = |s: &str| DurationText::Text(s.to_owned());
        assert_eq!(restart_time_value(&t("4095s")), Ok(Duration::from_secs(4095)));
        assert!(restart_time_value(&t("4096s")).unwrap_err().contains("at most 4095s"));
        assert!(restart_time_value(&t("1500ms")).unwrap_err().contains("whole number"));
    }
}
