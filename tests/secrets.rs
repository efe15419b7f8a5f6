//! A TCP-MD5 key never leaves rhi through `check-config`: not in the YAML it prints, not in its
//! warnings, not in its errors, whether the key is inline (`password`), in a `password_file`, or
//! an ExaBGP `md5-password`. What is shown instead: `(redacted)`, or the key file's path.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use support::rhi_command;

const SECRET: &str = "S3cretValue";

fn peer(extra: &str) -> String {
    format!(
        "router_id: 10.25.150.10\nlocal_as: 65010\npeers:\n  - name: sw01\n    address: 10.25.150.1\n    \
         remote_as: 65000\n{extra}"
    )
}

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn check_config(args: &[&str], file: &Path) -> Output {
    rhi_command().arg("check-config").args(args).arg(file).output().expect("run rhi check-config")
}

/// Neither stdout nor stderr holds the secret; returns them for further checks.
#[track_caller]
fn without_secret(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stdout.contains(SECRET), "the key is in stdout:\n{stdout}");
    assert!(!stderr.contains(SECRET), "the key is in stderr:\n{stderr}");
    (stdout, stderr)
}

#[test]
fn check_config_never_prints_an_inline_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "rhi.yaml", &peer(&format!("    password: \"{SECRET}\"\n")), 0o600);
    let out = check_config(&["-c"], &config);
    let (stdout, _) = without_secret(&out);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("password: (redacted)"), "{stdout}");
}

#[test]
fn check_config_shows_the_password_file_not_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "sw01.md5", &format!("{SECRET}\n"), 0o600);
    let config = write(dir.path(), "rhi.yaml", &peer(&format!("    password_file: {}\n", key.display())), 0o644);
    let out = check_config(&["-c"], &config);
    let (stdout, _) = without_secret(&out);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("password_file: {}", key.display())), "{stdout}");
    assert!(!stdout.contains("password:"), "{stdout}");
}

/// Refused configurations: the error is located and names no key.
#[test]
fn check_config_errors_never_print_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let open_key = write(dir.path(), "open.md5", SECRET, 0o644);
    let cases = [
        (
            peer(&format!("    password: \"{SECRET}\"\n    password_file: /etc/rhi/sw01.md5\n")),
            ":8:20: peers[0].password_file: password and password_file are both set",
        ),
        (peer(&format!("    password_file: {}\n", open_key.display())), ":7:20: peers[0].password_file: "),
        // Another error in a file that holds a key.
        (peer(&format!("    password: \"{SECRET}\"\n    hold_time: 2s\n")), ":8:16: peers[0].hold_time: 2s"),
        (peer(&format!("    password: \"{SECRET}{}\"\n", "x".repeat(80))), ":7:15: peers[0].password: is 91 bytes"),
        (
            peer(&format!("    password: \"{SECRET}\"\n    ttl_security: {{hops: 255}}\n")),
            ":8:26: peers[0].ttl_security.hops",
        ),
    ];
    for (i, (yaml, located)) in cases.iter().enumerate() {
        let config = write(dir.path(), &format!("bad{i}.yaml"), yaml, 0o600);
        let out = check_config(&["-c"], &config);
        let (stdout, stderr) = without_secret(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(stderr.starts_with(&format!("{}{located}", config.display())), "want {located:?}:\n{stderr}");
    }
}

#[test]
fn check_config_never_prints_an_exabgp_md5_password() {
    let dir = tempfile::tempdir().unwrap();
    let conf = format!(
        "neighbor 10.0.0.1 {{\n  router-id 10.0.0.2;\n  local-address 10.0.0.2;\n  local-as 65002;\n  peer-as 65001;\n  \
         md5-password \"{SECRET}\";\n  family {{ ipv4 unicast; }}\n}}\n"
    );
    let file = write(dir.path(), "exabgp.conf", &conf, 0o600);
    let out = check_config(&["--exabgp-config"], &file);
    let (stdout, stderr) = without_secret(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("password: (redacted)"), "{stdout}");
    assert!(stderr.contains("the md5-password is never printed"), "{stderr}");
    // A refused one: located, and still no key.
    let file = write(dir.path(), "bad.conf", &conf.replace("family", "md5-ip 10.0.0.3;\n  family"), 0o600);
    let out = check_config(&["--exabgp-config"], &file);
    let (_, stderr) = without_secret(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("{}:7:3: neighbor 10.0.0.1: md5-ip 10.0.0.3 differs", file.display())),
        "{stderr}"
    );
}
