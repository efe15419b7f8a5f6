//! `rhi::exabgp::config`: real ExaBGP configurations (written like ExaBGP's documentation, and
//! accepted by `exabgp --test`) import as the rhi configuration their `.yaml` twin spells out;
//! configurations rhi cannot run fail at the statement responsible.

use std::path::{Path, PathBuf};
use std::process::Command;

use rhi::config::Config;
use rhi::exabgp::config::{import, import_file, Imported};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/exabgp").join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Imports `NAME.conf`, checks it equals `NAME.yaml` loaded by rhi's own loader, and that what
/// `check-config` prints loads back to the same configuration.
fn same_as_yaml(name: &str) -> Imported {
    let conf = fixture(&format!("{name}.conf"));
    let imported = import_file(&conf).unwrap_or_else(|e| panic!("{e}"));
    let yaml = fixture(&format!("{name}.yaml"));
    let expected = Config::from_yaml(&read(&yaml), &yaml.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.config, expected, "{name}.conf differs from {name}.yaml");
    let printed = imported.to_yaml();
    assert_eq!(Config::from_yaml(&printed, "check-config").unwrap(), imported.config, "{printed}");
    imported
}

#[test]
fn neighbor_static_routes_and_processes() {
    let i = same_as_yaml("static-processes");
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
}

#[test]
fn template_with_inherit() {
    let i = same_as_yaml("template");
    let conf = fixture("template.conf").display().to_string();
    assert_eq!(
        i.warnings,
        [format!(
            "{conf}:14:3: template tor: 'group-updates false' is ignored: rhi always packs prefixes that share \
             attributes into one UPDATE"
        )]
    );
}

#[test]
fn ipv6_neighbor_and_routes() {
    let i = same_as_yaml("ipv6");
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
}

#[test]
fn healthcheck_program_as_a_process() {
    let i = same_as_yaml("healthcheck");
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    let run = &i.config.processes[0].run;
    assert_eq!(run[..4], ["/usr/bin/python3", "-m", "exabgp", "healthcheck"]);
    assert_eq!(run[5], "curl -sf http://127.0.0.1/", "the quoted command stays one argument");
}

/// TCP-MD5 (from a template), `md5-ip`, GTSM from `incoming-ttl`, `outgoing-ttl` and graceful
/// restart import as `protection.yaml` spells them; the key is never printed.
#[test]
fn session_protection() {
    let conf = fixture("protection.conf");
    let i = import_file(&conf).unwrap_or_else(|e| panic!("{e}"));
    let yaml = fixture("protection.yaml");
    let expected = Config::from_yaml(&read(&yaml), &yaml.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(i.config, expected, "protection.conf differs from protection.yaml");
    assert!(i.config.peers.iter().all(|p| p.md5.as_ref().is_some_and(|k| k.secret() == b"s3cret key")));
    let conf = conf.display().to_string();
    let reminder = |peer: &str| {
        format!(
            "{conf}:9:3: neighbor {peer}: the md5-password is never printed (`password: (redacted)`): in a YAML \
             configuration, put the key in a file only rhi can read and set password_file"
        )
    };
    assert_eq!(i.warnings, [reminder("10.0.1.1"), reminder("10.0.2.1")]);
    // check-config's YAML: the key redacted, everything else loads back the same.
    let printed = i.to_yaml();
    assert!(!printed.contains("s3cret"), "{printed}");
    let mut back = Config::from_yaml(&printed, "check-config").unwrap();
    for p in &mut back.peers {
        assert_eq!(p.md5.as_ref().map(|k| k.secret()), Some(&b"(redacted)"[..]));
        p.md5 = Some(rhi::config::Md5Key::inline(b"s3cret key"));
    }
    assert_eq!(back, i.config);
}

/// ExaBGP's own examples that use the session-protection keywords (`md5-password`, `md5-ip`,
/// `outgoing-ttl`, `capability { graceful-restart }`) and nothing else rhi lacks now import
/// (skipped where the exabgp package's examples are not installed).
#[test]
fn exabgp_examples_with_session_protection() {
    let dir = Path::new("/usr/share/doc/exabgp/examples");
    if !dir.exists() {
        eprintln!("skipped: no {}", dir.display());
        return;
    }
    type Check = fn(&rhi::config::PeerConfig) -> bool;
    let cases: [(&str, Check); 13] = [
        ("parse-md5.conf", |p| p.md5.as_ref().is_some_and(|k| k.secret() == b"abc123")),
        ("parse-ttl.conf", |p| p.ttl == rhi::config::TtlPolicy::Outgoing(1)),
        ("conf-group.conf", |p| p.graceful_restart.is_some_and(|g| g.restart_time.as_secs() == 1200)),
        ("api-add-remove.conf", |p| p.graceful_restart.is_some_and(|g| g.restart_time.as_secs() == 180)),
        ("api-announce.conf", |p| p.graceful_restart.is_some()),
        ("api-announcement.conf", |p| p.graceful_restart.is_some()),
        ("api-eor.conf", |p| p.graceful_restart.is_some()),
        ("api-fast.conf", |p| p.graceful_restart.is_some()),
        ("api-manual-eor.conf", |p| p.graceful_restart.is_some()),
        ("api-multi-neighbor.conf", |p| p.graceful_restart.is_some()),
        ("api-notification.conf", |p| p.graceful_restart.is_some()),
        ("api-reload.1.conf", |p| p.graceful_restart.is_some()),
        ("api-reload.2.conf", |p| p.graceful_restart.is_some()),
    ];
    for (name, check) in cases {
        let path = dir.join(name);
        let i = import_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(i.config.peers.iter().all(check), "{name}: {:?}", i.config.peers);
    }
}

/// Each refused configuration, and the exact error. The comment at the top of each file says
/// whether ExaBGP accepts it (rhi-specific refusal) or refuses it too.
#[test]
fn bad_configurations_fail_at_the_statement() {
    let cases = [
        (
            "md5.conf",
            "9:2: neighbor 10.0.0.1: md5-ip 10.0.0.11 differs from local-address 10.0.0.10: ExaBGP would connect from \
             and listen on 10.0.0.11 (the local end the key is bound to); rhi has one local address per session: write \
             local-address 10.0.0.11, or remove md5-ip",
        ),
        (
            "graceful-restart.conf",
            "7:21: template test: graceful-restart 12000: the restart time is at most 4095 seconds (a 12-bit field, \
             RFC 4724)",
        ),
        (
            "flow.conf",
            "9:3: neighbor 10.0.0.1: family ipv4 flow is not supported by rhi (only ipv4 unicast and ipv6 unicast)",
        ),
        (
            "next-hop-conflict.conf",
            "10:24: neighbor 10.0.0.1: route 10.46.46.47/32 has `next-hop 10.0.0.11` but route 10.46.46.46/32 (line 9) \
             has `next-hop 10.0.0.10`: rhi has one next hop per neighbor and address family; give all IPv4 routes to \
             this neighbor the same next-hop",
        ),
        (
            "different-routes.conf",
            "13:1: neighbor 10.0.2.1: does not announce route 10.46.46.46/32, which neighbor 10.0.1.1 announces (line \
             9): rhi announces every route to every neighbor that carries its family; give both neighbors the same \
             routes (a template helps), or leave ipv4 unicast out of this neighbor's family block",
        ),
        (
            "router-id.conf",
            "10:2: neighbor 10.0.2.1: router-id 10.0.2.10 (from its local-address) differs from router-id 10.0.1.10 \
             of neighbor 10.0.1.1 (line 3): rhi has one router-id for all its sessions",
        ),
        (
            "unknown-template.conf",
            "10:10: neighbor 10.0.0.1: inherits template 'egde', which is not defined (defined: edge)",
        ),
        (
            "group.conf",
            "2:1: 'group' is ExaBGP 3 syntax, which ExaBGP 4 and rhi do not read: move its settings into template { \
             neighbor NAME { ... } } and write `inherit NAME;` in each neighbor",
        ),
        (
            "syntax.conf",
            "4:2: missing ';' at the end of `local-address 10.0.0.10` (ExaBGP reads a statement from one line; end a \
             line with '\\' to continue it)",
        ),
    ];
    for (name, expected) in cases {
        let path = fixture(&format!("bad/{name}"));
        let err = import_file(&path).expect_err(name);
        assert_eq!(err.to_string(), format!("{}:{expected}", path.display()));
    }
}

/// The configurations of the peer lab (`/work/shared/peers/exabgp`, copied here with `@PEERS@`
/// replaced): the receiver imports; the injector stand-in announces an AS path with a foreign AS
/// (64999), which rhi's VIPs cannot carry.
#[test]
fn peer_lab_configurations() {
    let lab = "/work/shared/peers";
    let receiver = Path::new(lab).join("exabgp/exabgp-receiver.conf");
    let injector = Path::new(lab).join("exabgp/exabgp.conf");
    if !receiver.exists() || !injector.exists() {
        eprintln!("skipped: {lab} is not here");
        return;
    }
    let text = read(&receiver).replace("@PEERS@", lab);
    let i = import(&text, "exabgp-receiver.conf").unwrap_or_else(|e| panic!("{e}"));
    let expected = Config::from_yaml(
        &format!(
            "router_id: 127.0.0.7\nlocal_as: 65007\nlisten: [\"127.0.0.7:1179\"]\n\
             peers:\n  - {{name: n-127-0-0-13, address: 127.0.0.13, remote_as: 65013, local_address: 127.0.0.7, \
             passive: true, hold_time: 180s, families: [ipv4-unicast, ipv6-unicast]}}\n\
             processes:\n  - {{name: api, run: [/usr/bin/python3, {lab}/exabgp/api.py, cmd.fifo, received.jsonl], \
             encoder: json, neighbors: [127.0.0.13]}}\n"
        ),
        "expected",
    )
    .unwrap();
    assert_eq!(i.config, expected);
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);

    let text = read(&injector).replace("@PEERS@", lab);
    let err = import(&text, "exabgp.conf").unwrap_err();
    assert_eq!(
        err.to_string(),
        "exabgp.conf:20:85: neighbor 127.0.0.2: route 10.46.46.46/32 (from template injector): `as-path [ 65006 64999 \
         ]`: rhi originates its routes: the AS path it sends is local-as (65006), repeated to prepend; AS 64999 cannot \
         be set in the configuration (an API process can announce a route with any as-path)"
    );
    // Without the foreign AS, the rest of it (template, three neighbors, IPv6 route over IPv4) imports.
    let i = import(&text.replace("as-path [ 65006 64999 ]", "as-path [ 65006 ]"), "exabgp.conf")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(i.config.peers.iter().map(|p| p.remote_as).collect::<Vec<_>>(), [65002, 65003, 65004]);
    assert!(i.config.peers.iter().all(|p| p.port == 1179 && p.next_hop_v6 == Some("2001:db8::6".parse().unwrap())));
    assert_eq!(i.config.vips.len(), 2);
}

/// The good fixtures are genuine ExaBGP configurations: ExaBGP 4.2 `--test` accepts them (skipped
/// where ExaBGP is not installed).
#[test]
fn exabgp_accepts_the_good_fixtures() {
    let exabgp = Path::new("/usr/sbin/exabgp");
    if !exabgp.exists() {
        eprintln!("skipped: no {}", exabgp.display());
        return;
    }
    let run_dir = tempfile::tempdir().unwrap();
    for name in ["static-processes", "template", "ipv6", "healthcheck", "protection"] {
        let conf = fixture(&format!("{name}.conf"));
        let mut cmd = Command::new(exabgp);
        cmd.arg("--test").arg(&conf).current_dir(run_dir.path());
        // As root ExaBGP switches to the `exabgp` user unless told otherwise.
        cmd.env("exabgp.daemon.user", "root");
        let out = cmd.output().expect("run exabgp --test");
        assert!(
            out.status.success(),
            "exabgp --test {name}.conf failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
