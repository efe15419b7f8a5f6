//! The `peers:` section: the upstream routers, and whether each can carry the VIPs it is sent.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::error::{closest, ConfigError};
use super::locate::YamlPath;
use super::protection::{self, GracefulRestart};
use super::raw::{DurationText, OneOrMany, RawPeer, Text};
use super::resolve::{item_path, Ctx, DEFAULT_BGP_PORT};
use super::values;
use super::{NextHop, PeerConfig, VipConfig};
use crate::bgp::nlri::Family;

pub(crate) const DEFAULT_HOLD_TIME: u16 = 90;
pub(crate) const DEFAULT_CONNECT_RETRY: Duration = Duration::from_secs(5);
/// DESIGN §2: the reconnect backoff is capped here, so a longer first delay would be meaningless.
const MAX_CONNECT_RETRY: Duration = Duration::from_secs(60);

/// What a peer's validation needs from the rest of the configuration.
pub(crate) struct Env<'a> {
    pub listen: &'a [SocketAddr],
    pub vips: &'a [VipConfig],
    /// The top-level `graceful_restart`, the default of every peer.
    pub graceful_restart: Option<GracefulRestart>,
}

pub(crate) fn resolve(ctx: &Ctx<'_>, raw: &[RawPeer], env: &Env<'_>) -> Result<Vec<PeerConfig>, ConfigError> {
    let base = YamlPath::root().key("peers");
    let mut out: Vec<PeerConfig> = Vec::new();
    for (i, peer) in raw.iter().enumerate() {
        let path = base.index(i);
        let resolved = resolve_one(ctx, &path, peer, env)?;
        unique(ctx, &path, &resolved, &out)?;
        out.push(resolved);
    }
    Ok(out)
}

fn unique(ctx: &Ctx<'_>, path: &YamlPath, peer: &PeerConfig, earlier: &[PeerConfig]) -> Result<(), ConfigError> {
    if let Some(i) = earlier.iter().position(|p| p.name == peer.name) {
        return Err(ctx.error(
            &path.key("name"),
            format!("`{}` is already the name of peers[{i}]: names must be unique", peer.name),
        ));
    }
    let same_address = |p: &PeerConfig| p.address == peer.address && p.port == peer.port;
    if let Some((i, other)) = earlier.iter().enumerate().find(|(_, p)| same_address(p)) {
        return Err(ctx.error(
            &path.key("address"),
            format!(
                "{} port {} is already peers[{i}] (`{}`): one session per router",
                peer.address, peer.port, other.name
            ),
        ));
    }
    Ok(())
}

fn resolve_one(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawPeer, env: &Env<'_>) -> Result<PeerConfig, ConfigError> {
    let name = ctx.required(
        raw.name.as_ref(),
        &path.key("name"),
        "every peer needs a unique name, used by the CLI and in logs (e.g. name: sw01)",
    )?;
    let name = ctx.at(&path.key("name"), values::name(name.as_str()))?;
    let address = ctx.required(raw.address.as_ref(), &path.key("address"), "the router's IPv4 or IPv6 address")?;
    let address = ctx.at(&path.key("address"), values::unicast_ip(address.as_str()))?;
    let remote_as = ctx.required(
        raw.remote_as.as_ref(),
        &path.key("remote_as"),
        "the router's AS number (equal to local_as for iBGP)",
    )?;
    let passive = raw.passive.unwrap_or(false);
    if passive && env.listen.is_empty() {
        return Err(ctx.error(
            &path.key("passive"),
            "a passive peer waits for the router to connect, but there is no listen address: \
             add e.g. listen: [\"0.0.0.0:179\"] at the top level",
        ));
    }
    let (next_hop, next_hop_v6) = next_hops(ctx, path, raw)?;
    let mut peer = PeerConfig {
        name,
        address,
        remote_as: ctx.at(&path.key("remote_as"), values::asn(*remote_as))?,
        port: ctx.opt(raw.port.as_ref(), &path.key("port"), DEFAULT_BGP_PORT, |v| values::port(*v))?,
        local_address: local_address(ctx, &path.key("local_address"), raw, address)?,
        passive,
        hold_time: ctx.opt(raw.hold_time.as_ref(), &path.key("hold_time"), DEFAULT_HOLD_TIME, hold_time)?,
        connect_retry: ctx.opt(
            raw.connect_retry.as_ref(),
            &path.key("connect_retry"),
            DEFAULT_CONNECT_RETRY,
            connect_retry,
        )?,
        next_hop,
        next_hop_v6,
        families: Vec::new(),
        bfd: super::bfd::resolve(ctx, &path.key("bfd"), raw.bfd.as_ref())?,
        send_hold_time: ctx.opt(raw.send_hold_time.as_ref(), &path.key("send_hold_time"), None, |v| {
            super::bfd::send_hold_time(v).map(Some)
        })?,
        md5: protection::md5(ctx, path, raw)?,
        ttl: protection::ttl(ctx, path, raw)?,
        graceful_restart: protection::graceful_restart(
            ctx,
            &path.key("graceful_restart"),
            raw.graceful_restart.as_ref(),
            env.graceful_restart,
        )?,
    };
    let explicit = families(ctx, &path.key("families"), raw.families.as_ref())?;
    peer.families = explicit.unwrap_or_else(|| vip_families(env.vips));
    check_vip_next_hops(ctx, path, raw, &peer, env.vips)?;
    Ok(peer)
}

/// RFC 4271 §4.2: a 16-bit number of seconds, 0 (no keepalives) or at least 3.
fn hold_time(raw: &DurationText) -> Result<u16, String> {
    let d = values::duration(raw)?;
    let text = match raw {
        DurationText::Text(t) | DurationText::Number(t) => t.trim(),
    };
    if d.subsec_nanos() != 0 {
        return Err(format!("{text} is not a whole number of seconds: the hold time is sent in seconds (RFC 4271)"));
    }
    match d.as_secs() {
        0 => Ok(0),
        1..=2 => Err(format!("{text} is not allowed: must be 0 or at least 3s (RFC 4271)")),
        s => u16::try_from(s).map_err(|_| format!("{text} is too long: at most 65535s (a 16-bit field, RFC 4271)")),
    }
}

fn connect_retry(raw: &DurationText) -> Result<Duration, String> {
    let d = values::duration(raw)?;
    if d.is_zero() {
        return Err("must be more than 0".to_owned());
    }
    if d > MAX_CONNECT_RETRY {
        return Err(format!("{} is more than 60s, where the reconnect backoff is capped", values::duration_text(d)));
    }
    Ok(d)
}

/// The socket binds to it, so it must be of the session's family.
fn local_address(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: &RawPeer,
    address: IpAddr,
) -> Result<Option<IpAddr>, ConfigError> {
    let Some(text) = &raw.local_address else {
        return Ok(None);
    };
    let local = ctx.at(path, values::unicast_ip(text.as_str()))?;
    if local.is_ipv4() != address.is_ipv4() {
        return Err(ctx.error(path, format!("{local} and the peer address {address} are not of the same IP version")));
    }
    Ok(Some(local))
}

fn next_hops(ctx: &Ctx<'_>, path: &YamlPath, raw: &RawPeer) -> Result<(NextHop, Option<Ipv6Addr>), ConfigError> {
    let next_hop =
        ctx.opt(raw.next_hop.as_ref(), &path.key("next_hop"), NextHop::SelfAddress, |t| next_hop(t.as_str()))?;
    let v6_path = path.key("next_hop_v6");
    let next_hop_v6 = ctx.opt(raw.next_hop_v6.as_ref(), &v6_path, None, |t| next_hop_v6(t.as_str()).map(Some))?;
    if let (NextHop::Address(IpAddr::V6(a)), Some(b)) = (next_hop, next_hop_v6) {
        return Err(ctx.error(
            &v6_path,
            format!("next_hop is already an IPv6 address ({a}); keep one of next_hop and next_hop_v6 ({b})"),
        ));
    }
    Ok((next_hop, next_hop_v6))
}

fn next_hop(text: &str) -> Result<NextHop, String> {
    if text.trim() == "self" {
        return Ok(NextHop::SelfAddress);
    }
    values::unicast_ip(text).map(NextHop::Address).map_err(|e| format!("{e}: write `self` or this node's address"))
}

/// A link-local address is not a usable global next hop (RFC 2545 §3).
fn next_hop_v6(text: &str) -> Result<Ipv6Addr, String> {
    match values::unicast_ip(text)? {
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => {
            Err(format!("{a} is link-local; the next hop must be a global IPv6 address"))
        }
        IpAddr::V6(a) => Ok(a),
        IpAddr::V4(a) => Err(format!("{a} is IPv4; next_hop_v6 must be an IPv6 address")),
    }
}

const FAMILY_NAMES: [(&str, Family); 2] =
    [("ipv4-unicast", Family::IPV4_UNICAST), ("ipv6-unicast", Family::IPV6_UNICAST)];

/// The explicit list, `None` when the key is absent.
fn families(ctx: &Ctx<'_>, path: &YamlPath, raw: Option<&OneOrMany<Text>>) -> Result<Option<Vec<Family>>, ConfigError> {
    let Some(list) = raw else {
        return Ok(None);
    };
    if list.items.is_empty() {
        return Err(ctx.error(path, "must list at least one of ipv4-unicast, ipv6-unicast (or be left out)"));
    }
    let mut out = Vec::new();
    for (i, text) in list.items.iter().enumerate() {
        let at = item_path(path, list, i);
        let family = ctx.at(&at, family(text.as_str()))?;
        if out.contains(&family) {
            return Err(ctx.error(&at, format!("{family} is listed twice")));
        }
        out.push(family);
    }
    Ok(Some(out))
}

fn family(text: &str) -> Result<Family, String> {
    if let Some((_, f)) = FAMILY_NAMES.iter().find(|(n, _)| *n == text) {
        return Ok(*f);
    }
    let msg = format!("`{text}` is not a supported family: use ipv4-unicast or ipv6-unicast");
    Err(match closest(text, FAMILY_NAMES.iter().map(|(n, _)| *n)) {
        Some(best) => format!("{msg}; did you mean {best}?"),
        None => msg,
    })
}

/// The default families: those of the VIPs, IPv4 first; IPv4 alone when there are none.
fn vip_families(vips: &[VipConfig]) -> Vec<Family> {
    let has = |v4: bool| vips.iter().any(|v| v.prefix.addr().is_ipv4() == v4);
    match (has(true), has(false)) {
        (_, false) => vec![Family::IPV4_UNICAST],
        (false, true) => vec![Family::IPV6_UNICAST],
        (true, true) => vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
    }
}

/// Every VIP of a family the peer carries needs a next hop of that family: without one the
/// UPDATE could not be built, and the route would silently never reach that router.
fn check_vip_next_hops(
    ctx: &Ctx<'_>,
    path: &YamlPath,
    raw: &RawPeer,
    peer: &PeerConfig,
    vips: &[VipConfig],
) -> Result<(), ConfigError> {
    for (i, vip) in vips.iter().enumerate() {
        let family = family_of(vip);
        if !peer.families.contains(&family) || peer.next_hop_for(family).is_some() {
            continue;
        }
        let at = if raw.next_hop.is_some() { path.key("next_hop") } else { path.key("address") };
        return Err(ctx.error(&at, missing_next_hop(peer, vip, i, family)));
    }
    Ok(())
}

fn family_of(vip: &VipConfig) -> Family {
    if vip.prefix.addr().is_ipv4() {
        Family::IPV4_UNICAST
    } else {
        Family::IPV6_UNICAST
    }
}

fn missing_next_hop(peer: &PeerConfig, vip: &VipConfig, i: usize, family: Family) -> String {
    let (version, session, other, fix) = if family == Family::IPV6_UNICAST {
        ("IPv6", "IPv4", "ipv4-unicast", "set next_hop_v6 on this peer to this node's IPv6 address")
    } else {
        ("IPv4", "IPv6", "ipv6-unicast", "set next_hop on this peer to this node's IPv4 address")
    };
    format!(
        "peer `{}` cannot carry {version} VIP {} (vips[{i}]): the session to {} is {session} and \
         there is no {version} next hop; {fix}, or set families: [{other}] on this peer to not \
         send it {version} routes",
        peer.name, vip.prefix, peer.address
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DurationText {
        DurationText::Text(s.to_owned())
    }

    #[test]
    fn hold_times() {
        assert_eq!(hold_time(&t("0s")), Ok(0));
        assert_eq!(hold_time(&DurationText::Number("0".into())), Ok(0));
        assert_eq!(hold_time(&t("3s")), Ok(3));
        assert_eq!(hold_time(&t("65535s")), Ok(65535));
        assert_eq!(hold_time(&t("2s")).unwrap_err(), "2s is not allowed: must be 0 or at least 3s (RFC 4271)");
        assert!(hold_time(&t("1500ms")).unwrap_err().contains("whole number of seconds"));
        assert!(hold_time(&t("65536s")).unwrap_err().contains("at most 65535s"));
    }

    #[test]
    fn next_hop_words() {
        assert_eq!(next_hop("self"), Ok(NextHop::SelfAddress));
        assert!(next_hop("10.0.0.1").is_ok());
        assert!(next_hop("me").unwrap_err().contains("`self`"));
        assert!(next_hop_v6("fe80::1").unwrap_err().contains("link-local"));
        assert!(next_hop_v6("10.0.0.1").unwrap_err().contains("IPv4"));
    }

    #[test]
    fn family_names() {
        assert_eq!(family("ipv6-unicast"), Ok(Family::IPV6_UNICAST));
        assert!(family("ipv6_unicast").unwrap_err().contains("did you mean ipv6-unicast?"));
        assert!(family("l2vpn-evpn").is_err());
    }
}
