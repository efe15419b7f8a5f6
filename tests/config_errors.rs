//! Bad configurations and where rhi says the problem is: `line:col` plus a fragment of the
//! message, through the public API exactly as `rhi check-config` sees it.

use rhi::config::{Config, Position};

const HEAD: &str = "router_id: 10.25.150.10\nlocal_as: 65010\n";
const PEER: &str = "peers:\n  - name: sw01\n    address: 10.25.150.1\n    remote_as: 65000\n";

struct Case {
    name: &'static str,
    yaml: String,
    line: usize,
    column: usize,
    fragment: &'static str,
}

fn case(name: &'static str, yaml: String, line: usize, column: usize, fragment: &'static str) -> Case {
    Case { name, yaml, line, column, fragment }
}

fn head(body: &str) -> String {
    format!("{HEAD}{body}")
}

/// `HEAD` + `PEER` (lines 1-6) + `extra` from line 7.
fn with_peer(extra: &str) -> String {
    format!("{HEAD}{PEER}{extra}")
}

fn cases() -> Vec<Case> {
    vec![
        case("unknown top-level key", head("routerid: 1.2.3.4\n"), 3, 1, "unknown field `routerid`"),
        case("unknown top-level key typo hint", head("vip: []\n"), 3, 1, "did you mean `vips`?"),
        case("unknown nested key", with_peer("    holdtime: 9s\n"), 7, 5, "peers[0]: unknown field `holdtime`"),
        case("bfd min_rx below 10ms", with_peer("    bfd: {min_rx: 9ms}\n"), 7, 19, "peers[0].bfd.min_rx: 9ms is out of range: must be between 10ms and 60s"),
        case("bfd min_tx above 60s", with_peer("    bfd:\n      min_tx: 61s\n"), 8, 15, "peers[0].bfd.min_tx: 61s is out of range"),
        case("bfd multiplier 0", with_peer("    bfd: {multiplier: 0}\n"), 7, 23, "peers[0].bfd.multiplier: 0 is out of range: must be 1..255"),
        case("bfd multiplier 256", with_peer("    bfd: {multiplier: 256}\n"), 7, 23, "peers[0].bfd.multiplier: 256 is out of range"),
        case("bfd unknown key", with_peer("    bfd: {interval: 100ms}\n"), 7, 11, "unknown field `interval`"),
        case("bfd not a bool or mapping", with_peer("    bfd: yes please\n"), 7, 10, "peers[0].bfd"),
        case("bfd min_ttl without multihop", with_peer("    bfd: {min_ttl: 250}\n"), 7, 20, "min_ttl applies to multihop BFD only"),
        case("send_hold_time below 3s", with_peer("    send_hold_time: 2s\n"), 7, 21, "peers[0].send_hold_time: 2s is too short"),
        case(
            "unknown key deep in a check",
            head("checks:\n  web:\n    haproxy:\n      stats_url: \"http://x/\"\n      backend: b\n      pool: p\n"),
            8,
            7,
            "checks.web.haproxy: unknown field `pool`",
        ),
        case(
            "haproxy with both stats_url and stats_socket",
            head("checks:\n  web:\n    haproxy:\n      stats_url: \"http://x/\"\n      stats_socket: /run/s.sock\n      backend: b\n"),
            7,
            21,
            "checks.web.haproxy.stats_socket: stats_url and stats_socket are both set: give exactly one",
        ),
        case(
            "haproxy with neither stats_url nor stats_socket",
            head("checks:\n  web:\n    haproxy:\n      backend: b\n"),
            6,
            7,
            "checks.web.haproxy: neither stats_url nor stats_socket is set",
        ),
        case(
            "haproxy username with stats_socket",
            head("checks:\n  web:\n    haproxy:\n      stats_socket: /run/s.sock\n      backend: b\n      username: u\n"),
            8,
            17,
            "checks.web.haproxy.username: applies to stats_url only",
        ),
        case("bad prefix", head("vips:\n  - prefix: 10.46.46/32\n"), 4, 13, "vips[0].prefix: `10.46.46/32` is not a prefix"),
        case(
            "prefix with host bits",
            head("vips:\n  - prefix: 10.46.46.46/24\n"),
            4,
            13,
            "10.46.46.46/24 has host bits set; did you mean 10.46.46.0/24?",
        ),
        case("local_as 0", "router_id: 10.25.150.10\nlocal_as: 0\n".into(), 2, 11, "local_as: 0 is not a valid AS number"),
        case(
            "local_as too big",
            "router_id: 10.25.150.10\nlocal_as: 4294967296\n".into(),
            2,
            11,
            "local_as: 4294967296 is not a valid AS number",
        ),
        case(
            "remote_as 0",
            head("peers:\n  - name: sw01\n    address: 10.25.150.1\n    remote_as: 0\n"),
            6,
            16,
            "peers[0].remote_as: 0 is not a valid AS number",
        ),
        case(
            "duplicate peer name",
            with_peer("  - name: sw01\n    address: 10.25.150.2\n    remote_as: 65000\n"),
            7,
            11,
            "peers[1].name: `sw01` is already the name of peers[0]",
        ),
        case(
            "duplicate peer address",
            with_peer("  - name: sw02\n    address: 10.25.150.1\n    remote_as: 65000\n"),
            8,
            14,
            "10.25.150.1 port 179 is already peers[0]",
        ),
        case("hold time 1s", with_peer("    hold_time: 1s\n"), 7, 16, "peers[0].hold_time: 1s is not allowed: must be 0 or at least 3s (RFC 4271)"),
        case("hold time 2s", with_peer("    hold_time: 2s\n"), 7, 16, "peers[0].hold_time: 2s is not allowed: must be 0 or at least 3s (RFC 4271)"),
        case("hold time in ms", with_peer("    hold_time: 1500ms\n"), 7, 16, "not a whole number of seconds"),
        case("missing router_id", "local_as: 65010\npeers: []\n".into(), 1, 1, "router_id is required"),
        case("router_id 0.0.0.0", "router_id: 0.0.0.0\nlocal_as: 65010\n".into(), 1, 12, "must be non-zero"),
        case("bare-integer duration", with_peer("    connect_retry: 5\n"), 7, 20, "5 has no unit: durations need one, e.g. 5s"),
        case(
            "bare-integer check interval",
            head("checks:\n  web:\n    tcp: {address: \"127.0.0.1:80\"}\n    interval: 2\n"),
            6,
            15,
            "checks.web.interval: 2 has no unit",
        ),
        case(
            "undefined check",
            head("checks:\n  web:\n    tcp: {address: \"127.0.0.1:80\"}\nvips:\n  - prefix: 10.46.46.46/32\n    check: [web, api]\n"),
            8,
            18,
            "vips[0].check[1]: check `api` is not defined under checks",
        ),
        case(
            "v6 VIP without v6 next hop",
            with_peer("vips:\n  - prefix: 10.46.46.46/32\n  - prefix: 2001:db8:46::46/128\n"),
            5,
            14,
            "peer `sw01` cannot carry IPv6 VIP 2001:db8:46::46/128 (vips[1])",
        ),
        case(
            "v4 VIP to a v6 peer with next_hop self",
            head("peers:\n  - name: sw01\n    address: 2001:db8::1\n    remote_as: 65000\n    next_hop: self\nvips:\n  - prefix: 10.46.46.46/32\n"),
            7,
            15,
            "set next_hop on this peer to this node's IPv4 address",
        ),
        case("passive without listen", with_peer("    passive: true\n"), 7, 14, "no listen address"),
        case("port 0", with_peer("    port: 0\n"), 7, 11, "0 is not a TCP port"),
        case("bad next_hop", with_peer("    next_hop: gateway\n"), 7, 15, "write `self` or this node's address"),
        case("bad family", with_peer("    families: [ipv4-flowspec]\n"), 7, 16, "is not a supported family"),
        case(
            "check with two kinds",
            head("checks:\n  web:\n    tcp: {address: \"127.0.0.1:80\"}\n    http: {url: \"http://127.0.0.1/\"}\n"),
            6,
            11,
            "check `web` has both tcp and http",
        ),
        case("check without a kind", head("checks:\n  web:\n    rise: 2\n"), 5, 5, "check `web` has no kind"),
        case("rise 0", head("checks:\n  web:\n    exec: {command: [x]}\n    rise: 0\n"), 6, 11, "rise: 0 is out of range: must be at least 1"),
        case("timeout 0", head("checks:\n  web:\n    exec: {command: [x]}\n    timeout: 0s\n"), 6, 14, "timeout: must be more than 0"),
        case("exec without command", head("checks:\n  s:\n    exec: {command: []}\n"), 5, 21, "must not be empty"),
        case("med out of range", head("vips:\n  - prefix: 10.0.0.0/8\n    med: 4294967296\n"), 5, 10, "vips[0].med: 4294967296 is out of range"),
        case("prepend 33", head("vips:\n  - prefix: 10.0.0.0/8\n    as_path_prepend: 33\n"), 5, 22, "must be 0..32 (longer AS paths are commonly filtered"),
        case("bad community", head("vips:\n  - prefix: 10.0.0.0/8\n    communities: [\"65000:70000\"]\n"), 5, 19, "is not a community"),
        case("bad large community", head("vips:\n  - prefix: 10.0.0.0/8\n    large_communities: [\"1:2\"]\n"), 5, 25, "is not a large community"),
        case("duplicate VIP", head("vips:\n  - prefix: 10.0.0.0/8\n  - prefix: 10.0.0.0/8\n"), 5, 13, "is listed twice"),
        case("bad when_down word", head("vips:\n  - prefix: 10.0.0.0/8\n    when_down: drop\n"), 5, 16, "`drop` is not allowed: write `withdraw`"),
        case("duplicate key", head("peers: []\npeers: []\n"), 4, 1, "`peers` is given twice"),
        case("tab indentation", head("peers:\n\t- name: x\n"), 4, 2, "invalid YAML: tabs"),
        case("wrong type", head("peers: sw01\n"), 3, 8, "peers: invalid type: string \"sw01\", expected a sequence"),
        case("duplicate process", head("processes:\n  - {name: a, run: [x]}\n  - {name: a, run: [y]}\n"), 5, 12, "`a` is already the name of processes[0]"),
        // Session protection (TCP-MD5, GTSM, graceful restart). Files: see `password_file_errors_are_located`.
        case(
            "password and password_file both set",
            with_peer("    password: \"S3cretValue\"\n    password_file: /etc/rhi/sw01.md5\n"),
            8,
            20,
            "peers[0].password_file: password and password_file are both set: keep exactly one",
        ),
        case("empty password", with_peer("    password: \"\"\n"), 7, 15, "peers[0].password: is empty"),
        case("password longer than 80 bytes", with_peer(&format!("    password: {}\n", "k".repeat(81))), 7, 15, "is 81 bytes long"),
        case("ttl_security hops 0", with_peer("    ttl_security: {hops: 0}\n"), 7, 26, "peers[0].ttl_security.hops: 0 is out of range: must be 1..254"),
        case("ttl_security hops 255", with_peer("    ttl_security:\n      hops: 255\n"), 8, 13, "peers[0].ttl_security.hops: 255 is out of range: must be 1..254"),
        case("ttl_security not a bool or mapping", with_peer("    ttl_security: on\n"), 7, 19, "peers[0].ttl_security"),
        case("ttl 0", with_peer("    ttl: 0\n"), 7, 10, "peers[0].ttl: 0 is out of range: must be 1..255"),
        case("ttl 256", with_peer("    ttl: 256\n"), 7, 10, "peers[0].ttl: 256 is out of range"),
        case("ttl and ttl_security", with_peer("    ttl_security: true\n    ttl: 255\n"), 8, 10, "ttl and ttl_security are both set"),
        case(
            "peer restart_time above 4095s",
            with_peer("    graceful_restart: {restart_time: 4096s}\n"),
            7,
            38,
            "peers[0].graceful_restart.restart_time: 4096s is too long: at most 4095s",
        ),
        case(
            "top-level restart_time above 4095s",
            head("graceful_restart:\n  restart_time: 2h\n"),
            4,
            17,
            "graceful_restart.restart_time: 7200s is too long: at most 4095s",
        ),
        case("restart_time in ms", with_peer("    graceful_restart: {restart_time: 1500ms}\n"), 7, 38, "not a whole number of seconds"),
    ]
}

#[test]
fn every_bad_config_is_located() {
    let mut failures = Vec::new();
    for c in cases() {
        match Config::from_yaml(&c.yaml, "/etc/rhi/rhi.yaml") {
            Ok(_) => failures.push(format!("{}: loaded, expected an error", c.name)),
            Err(e) => {
                let want = Position { line: c.line, column: c.column };
                if e.position != Some(want) || !e.message.contains(c.fragment) {
                    failures.push(format!("{}: want {want} and {:?}\n      got {e}", c.name, c.fragment));
                }
                let shown = e.to_string();
                let prefix = format!("/etc/rhi/rhi.yaml:{}:{}: ", c.line, c.column);
                if !shown.starts_with(&prefix) {
                    failures.push(format!("{}: displayed as {shown}", c.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn load_of_a_missing_file_names_the_file() {
    let e = Config::load(std::path::Path::new("/nonexistent/rhi.yaml")).unwrap_err();
    assert_eq!(e.position, None);
    assert!(e.to_string().starts_with("/nonexistent/rhi.yaml: cannot read: "), "{e}");
}

#[test]
fn load_of_a_bad_file_gives_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rhi.yaml");
    std::fs::write(&path, with_peer("    hold_time: 2s\n")).unwrap();
    let e = Config::load(&path).unwrap_err();
    let want =
        format!("{}:7:16: peers[0].hold_time: 2s is not allowed: must be 0 or at least 3s (RFC 4271)", path.display());
    assert_eq!(e.to_string(), want);
}

#[test]
fn load_of_binary_data_is_refused_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rhi.yaml");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let e = Config::load(&path).unwrap_err();
    assert!(e.message.contains("not UTF-8"), "{e}");
}

#[test]
fn load_of_a_directory_or_endless_file_is_refused() {
    let e = Config::load(std::path::Path::new("/")).unwrap_err();
    assert!(e.message.starts_with("cannot read"), "{e}");
    if std::path::Path::new("/dev/zero").exists() {
        let e = Config::load(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(e.message.contains("larger than 16 MiB"), "{e}");
    }
}

#[test]
fn byte_order_mark_and_crlf_are_accepted_and_located() {
    let text = "\u{feff}router_id: 10.0.0.1\r\nlocal_as: 0\r\n";
    let e = Config::from_yaml(text, "x").unwrap_err();
    assert_eq!(e.position, Some(Position { line: 2, column: 11 }), "{e}");
}

/// Whatever the bytes, loading returns an error instead of panicking.
#[test]
fn garbage_never_panics() {
    let samples = [
        "",
        "~",
        "[]",
        "{}",
        "- - -",
        "? ? ?",
        ":",
        "&a [*a]",
        "*x",
        "!!binary aGVsbG8=",
        "router_id: !!str 1.2.3.4\nlocal_as: 1\n",
        "router_id: [1]\nlocal_as: {}\n",
        "peers: [{name: {a: b}}]",
        "vips: [{prefix: ''}]",
        "checks: {'': {}}",
        "checks: {x: {exec: {command: [[]]}}}",
        "local_as: 1e400",
        "local_as: .nan",
        "router_id: 1.2.3.4\nlocal_as: 1\nvips: [{prefix: '::/0', when_down: {med: []}}]",
        "\u{feff}router_id: 1.2.3.4",
        "a: b: c",
        "'unterminated",
        "key: \"\\q\"",
    ];
    for s in samples {
        let _ = Config::from_yaml(s, "x");
    }
    let deep = format!("router_id: {}", "[".repeat(10_000));
    assert!(Config::from_yaml(&deep, "x").is_err());
}

/// `password_file` problems, with real files: each a `file:line:col` error that names the key
/// file, never its content.
#[test]
fn password_file_errors_are_located() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str, mode: u32| {
        let path = dir.path().join(name);
        std::fs::write(&path, "S3cretValue\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let load = |path: &std::path::Path| {
        let yaml = with_peer(&format!("    password_file: {}\n", path.display()));
        Config::from_yaml(&yaml, "/etc/rhi/rhi.yaml")
    };
    let located = |path: &std::path::Path, fragment: &str| {
        let e = load(path).expect_err(fragment);
        let shown = e.to_string();
        assert!(shown.starts_with("/etc/rhi/rhi.yaml:7:20: peers[0].password_file: "), "{shown}");
        assert!(shown.contains(fragment), "want {fragment:?} in {shown}");
        assert!(!shown.contains("S3cretValue"), "{shown}");
    };
    // Readable by every user: refused, as ssh refuses such a private key.
    located(&key("world-readable", 0o644), "is accessible to every user (mode 644)");
    located(&key("world-writable", 0o602), "is accessible to every user (mode 602)");
    // Not there, or not a file.
    located(&dir.path().join("missing"), "cannot read");
    located(dir.path(), "is not a regular file");
    // Unreadable by rhi (root reads it anyway, so only checked for other users).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        located(&key("unreadable", 0o000), "cannot read");
    }
    // The empty key.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o600)).unwrap();
    located(&empty, "is empty");
    // 600 and 640 load; one trailing newline is not part of the key.
    for mode in [0o600, 0o640, 0o400] {
        let config = load(&key(&format!("ok-{mode:o}"), mode)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.peers[0].md5.as_ref().unwrap().secret(), b"S3cretValue");
    }
}
