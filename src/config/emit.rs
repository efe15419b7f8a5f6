//! `Config` -> YAML in the schema it was read from, every default spelled out, so that
//! `rhi check-config` shows what rhi will really do and its output loads back to the same `Config`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::community::{community_to_text, large_community_to_text};
use super::raw::{
    DurationText, Int, OneOrMany, RawBfd, RawBfdSettings, RawCheck, RawConfig, RawControl, RawDrain, RawExec,
    RawGracefulRestart, RawGracefulRestartSettings, RawHaproxy, RawHttp, RawMetrics, RawOverride, RawPeer, RawProcess,
    RawTcp, RawTtlSecurity, RawTtlSecuritySettings, RawVip, RawWhenDown, Text,
};
use super::values::duration_text;
use super::{
    AttrOverride, BfdConfig, CheckConfig, CheckKind, Config, Encoder, GracefulRestart, HaproxyCheck, NextHop,
    PeerConfig, ProcessConfig, StatsSource, TtlPolicy, VipConfig, WhenDown,
};
use crate::bgp::attributes::LargeCommunity;

const HEADER: &str = "# rhi effective configuration: defaults filled in\n";

pub(crate) fn to_yaml(config: &Config) -> String {
    match serde_yaml::to_string(&raw_config(config)) {
        Ok(body) => format!("{HEADER}{body}"),
        // Only strings, numbers, lists and maps are serialized, which cannot fail; still, a
        // printing problem must not take the daemon down.
        Err(e) => format!("# cannot print the configuration: {e}\n"),
    }
}

fn raw_config(c: &Config) -> RawConfig {
    RawConfig {
        router_id: Some(text(c.router_id)),
        local_as: Some(int(c.local_as)),
        listen: Some(list(c.listen.iter().map(text).collect())),
        peers: Some(c.peers.iter().map(raw_peer).collect()),
        checks: Some(raw_checks(&c.checks)),
        vips: Some(c.vips.iter().map(raw_vip).collect()),
        drain: Some(RawDrain {
            med: c.drain.med.map(int),
            as_path_prepend: c.drain.as_path_prepend.map(int),
            graceful_shutdown: Some(c.drain.graceful_shutdown),
            withdraw_after: Some(duration(c.drain.withdraw_after)),
            file: c.drain.file.as_deref().map(path),
            on_shutdown: Some(duration(c.drain.on_shutdown)),
        }),
        control: Some(RawControl { socket: Some(path(&c.control.socket)) }),
        state_file: c.state_file.as_deref().map(path),
        metrics: c.metrics.as_ref().map(|m| RawMetrics { listen: Some(text(m.listen)) }),
        processes: Some(c.processes.iter().map(raw_process).collect()),
        startup_grace: Some(duration(c.startup_grace)),
        graceful_restart: c.graceful_restart.map(|gr| raw_graceful_restart(Some(gr))),
    }
}

fn raw_peer(p: &PeerConfig) -> RawPeer {
    let (password, password_file) = super::protection::emit_password(p.md5.as_ref());
    RawPeer {
        name: Some(text(&p.name)),
        address: Some(text(p.address)),
        remote_as: Some(int(p.remote_as)),
        port: Some(int(p.port)),
        local_address: p.local_address.map(text),
        passive: Some(p.passive),
        hold_time: Some(duration(Duration::from_secs(p.hold_time.into()))),
        connect_retry: Some(duration(p.connect_retry)),
        next_hop: Some(match p.next_hop {
            NextHop::SelfAddress => text("self"),
            NextHop::Address(a) => text(a),
        }),
        next_hop_v6: p.next_hop_v6.map(text),
        families: Some(list(p.families.iter().map(text).collect())),
        bfd: p.bfd.map(raw_bfd),
        send_hold_time: p.send_hold_time.map(duration),
        password,
        password_file,
        ttl_security: match p.ttl {
            TtlPolicy::Gtsm { hops } => {
                Some(RawTtlSecurity::Settings(RawTtlSecuritySettings { hops: Some(int(hops)) }))
            }
            _ => None,
        },
        ttl: match p.ttl {
            TtlPolicy::Outgoing(ttl) => Some(int(ttl)),
            _ => None,
        },
        graceful_restart: Some(raw_graceful_restart(p.graceful_restart)),
    }
}

fn raw_graceful_restart(gr: Option<GracefulRestart>) -> RawGracefulRestart {
    match gr {
        None => RawGracefulRestart::Enabled(false),
        Some(gr) => {
            RawGracefulRestart::Settings(RawGracefulRestartSettings { restart_time: Some(duration(gr.restart_time)) })
        }
    }
}

fn raw_bfd(b: BfdConfig) -> RawBfd {
    RawBfd::Settings(RawBfdSettings {
        min_rx: Some(duration(b.min_rx)),
        min_tx: Some(duration(b.min_tx)),
        multiplier: Some(int(b.multiplier)),
        multihop: b.multihop,
        min_ttl: b.min_ttl.map(int),
    })
}

fn raw_checks(checks: &BTreeMap<String, CheckConfig>) -> BTreeMap<String, RawCheck> {
    checks.iter().map(|(name, c)| (name.clone(), raw_check(c))).collect()
}

fn raw_check(c: &CheckConfig) -> RawCheck {
    let mut raw = RawCheck {
        interval: Some(duration(c.interval)),
        fast_interval: Some(duration(c.fast_interval)),
        timeout: Some(duration(c.timeout)),
        rise: Some(int(c.rise)),
        fall: Some(int(c.fall)),
        ..RawCheck::default()
    };
    match &c.kind {
        CheckKind::Haproxy(h) => raw.haproxy = Some(raw_haproxy(h)),
        CheckKind::Http { url, expect_status, expect_body } => {
            raw.http = Some(RawHttp {
                url: Some(text(url)),
                expect_status: Some(int(*expect_status)),
                expect_body: expect_body.as_ref().map(text),
            })
        }
        CheckKind::Tcp { address } => raw.tcp = Some(RawTcp { address: Some(text(address)) }),
        CheckKind::Exec { command } => {
            raw.exec = Some(RawExec { command: Some(list(command.iter().map(text).collect())) })
        }
    }
    raw
}

fn raw_haproxy(h: &HaproxyCheck) -> RawHaproxy {
    RawHaproxy {
        stats_url: match &h.source {
            StatsSource::Url(url) => Some(text(url)),
            StatsSource::Socket(_) => None,
        },
        stats_socket: match &h.source {
            StatsSource::Url(_) => None,
            StatsSource::Socket(socket) => Some(text(socket)),
        },
        backend: Some(text(&h.backend)),
        min_up: Some(int(h.min_up)),
        frontend: h.frontend.as_ref().map(text),
        degraded_below: h.degraded_below.map(int),
        count_backup: Some(h.count_backup),
        username: h.username.as_ref().map(text),
        password_file: h.password_file.as_deref().map(path),
    }
}

fn raw_vip(v: &VipConfig) -> RawVip {
    let a = &v.attributes;
    RawVip {
        prefix: Some(text(v.prefix)),
        check: (!v.checks.is_empty()).then(|| list(v.checks.iter().map(text).collect())),
        med: a.med.map(int),
        as_path_prepend: Some(int(a.as_path_prepend)),
        communities: Some(communities(&a.communities)),
        large_communities: Some(large_communities(&a.large_communities)),
        local_pref: a.local_pref.map(int),
        when_down: Some(match &v.when_down {
            WhenDown::Withdraw => RawWhenDown::Withdraw,
            WhenDown::Announce(o) => RawWhenDown::Announce(raw_override(o)),
        }),
        when_degraded: v.when_degraded.as_ref().map(raw_override),
    }
}

/// Only what the override sets: an absent key means "keep the route's own".
fn raw_override(o: &AttrOverride) -> RawOverride {
    RawOverride {
        med: o.med.map(int),
        as_path_prepend: o.as_path_prepend.map(int),
        communities: (!o.communities.is_empty()).then(|| communities(&o.communities)),
        large_communities: (!o.large_communities.is_empty()).then(|| large_communities(&o.large_communities)),
        local_pref: o.local_pref.map(int),
    }
}

fn raw_process(p: &ProcessConfig) -> RawProcess {
    RawProcess {
        name: Some(text(&p.name)),
        run: Some(list(p.run.iter().map(text).collect())),
        encoder: Some(text(match p.encoder {
            Encoder::Text => "text",
            Encoder::Json => "json",
        })),
        ack: Some(p.ack),
        neighbors: Some(list(p.neighbors.iter().map(text).collect())),
        withdraw_on_exit: Some(p.withdraw_on_exit),
    }
}

fn communities(values: &[u32]) -> OneOrMany<Text> {
    list(values.iter().map(|c| Text(community_to_text(*c))).collect())
}

fn large_communities(values: &[LargeCommunity]) -> OneOrMany<Text> {
    list(values.iter().map(|c| Text(large_community_to_text(c))).collect())
}

fn text(value: impl ToString) -> Text {
    Text(value.to_string())
}

fn int(value: impl Into<i128>) -> Int {
    Int(value.into())
}

fn duration(d: Duration) -> DurationText {
    DurationText::Text(duration_text(d))
}

fn path(p: &Path) -> Text {
    Text(p.to_string_lossy().into_owned())
}

fn list(items: Vec<Text>) -> OneOrMany<Text> {
    OneOrMany::list(items)
}
