//! What the ExaBGP configuration says -> rhi's YAML configuration (DESIGN §2).
//!
//! Templates are applied the way ExaBGP applies them, ExaBGP's defaults are written out (hold-time
//! 180, port 179, both unicast families when there is no family block), and every rule that comes
//! from rhi's shape is checked here, in ExaBGP's terms, at the statement that breaks it:
//! - one `router_id` and one `local_as` for all sessions;
//! - routes are rhi VIPs, announced alike to every neighbor that carries their family: each
//!   neighbor must announce the same routes with the same attributes;
//! - one next hop per neighbor and address family;
//! - the AS path rhi sends is its own AS (eBGP), repeated for prepends, or empty (iBGP).
//!
//! The result is YAML text plus, for each YAML path, the ExaBGP statement it came from, so that
//! anything rhi's own loader still refuses is reported at the right line of the ExaBGP file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde_yaml::{Mapping, Value};

use super::model::{problem, Body, Document, Families, Neighbor, Problem, Route, RouteNextHop, Set, Template, Warning};
use crate::bgp::attributes::LargeCommunity;
use crate::bgp::nlri::Family;
use crate::config::{Encoder, Position};

/// ExaBGP's default hold time (`neighbor/__init__.py`: `HoldTime(180)`); rhi's own default is 90.
pub(crate) const EXABGP_HOLD_TIME: u16 = 180;
const BGP_PORT: u16 = 179;
/// A derived peer name longer than this falls back to the address form.
const MAX_NAME_FROM_DESCRIPTION: usize = 32;

/// The YAML and where each of its paths came from.
pub(crate) struct Output {
    pub yaml: String,
    pub places: Vec<Place>,
    /// `md5-password`, decoded, by index in `peers`: set on the loaded configuration rather than
    /// written into the YAML, so that the key is never in any text rhi produces.
    pub md5: Vec<(usize, Vec<u8>)>,
}

/// `path` (`peers[0].hold_time`) was written from the ExaBGP statement at `pos`, in `scope`.
#[derive(Clone, Debug)]
pub(crate) struct Place {
    pub path: String,
    pub pos: Position,
    pub scope: String,
}

/// A neighbor with its templates applied and ExaBGP's defaults resolved.
struct Peer {
    address: IpAddr,
    pos: Position,
    scope: String,
    body: Body,
    local_as: Set<u32>,
    remote_as: Set<u32>,
    router_id: (Ipv4Addr, Position, &'static str),
    local_address: Option<IpAddr>,
    families: Vec<Family>,
    name: String,
    protection: Protection,
}

/// A neighbor's TCP-MD5, TTL and graceful-restart settings, in rhi's terms.
#[derive(Default)]
struct Protection {
    md5: Option<Vec<u8>>,
    ttl: Ttl,
    /// Seconds, and the statement.
    graceful_restart: Option<(u16, Position)>,
}

#[derive(Default)]
enum Ttl {
    #[default]
    Default,
    /// `ttl: N`.
    Outgoing(u8, Position),
    /// `ttl_security: {hops: N}`.
    Gtsm(u8, Position),
}

impl Peer {
    fn ibgp(&self) -> bool {
        self.local_as.value == self.remote_as.value
    }

    fn port(&self) -> u16 {
        match self.body.connect.as_ref().map(|c| c.value) {
            None | Some(0) => BGP_PORT,
            Some(p) => p,
        }
    }
}

/// The attributes rhi gives a VIP, as one neighbor would receive it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VipAttrs {
    med: Option<u32>,
    local_pref: Option<u32>,
    communities: Vec<u32>,
    large_communities: Vec<LargeCommunity>,
    as_path_prepend: u8,
}

struct Vip {
    prefix: IpNet,
    attrs: VipAttrs,
    pos: Position,
    scope: String,
}

/// Per neighbor and family: the next hop, and the route statement that set it.
#[derive(Default)]
struct NextHops {
    v4: Option<(RouteNextHop, Position, String, IpNet)>,
    v6: Option<(RouteNextHop, Position, String, IpNet)>,
}

pub(crate) fn convert(doc: &Document, warnings: &mut Vec<Warning>) -> Result<Output, Problem> {
    let mut peers = Vec::new();
    for n in &doc.neighbors {
        peers.push(peer(n, &doc.templates, warnings)?);
    }
    if peers.is_empty() {
        return Err(Problem {
            pos: None,
            message: "there is no neighbor block: rhi needs at least one to know its router-id and local-as".into(),
        });
    }
    for p in &mut peers {
        p.protection = protection(p, warnings)?;
    }
    same_everywhere(&peers)?;
    unique_sessions(&peers)?;
    name_peers(&mut peers);
    let first = &peers[0];
    let (router_id, local_as) = (first.router_id.0, first.local_as.value);

    let mut places = Vec::new();
    let mut next_hops = Vec::new();
    let mut vips: Vec<Vip> = Vec::new();
    for p in &peers {
        next_hops.push(routes(p, &mut vips)?);
    }
    every_neighbor_announces_every_vip(&peers, &vips)?;

    let mut root = Mapping::new();
    root.insert("router_id".into(), router_id.to_string().into());
    place(&mut places, "router_id", first.router_id.1, &first.scope);
    root.insert("local_as".into(), local_as.into());
    place(&mut places, "local_as", first.local_as.pos, &first.scope);
    let listen = listen(&peers, &mut places, warnings);
    if !listen.is_empty() {
        root.insert("listen".into(), Value::Sequence(listen));
    }
    let mut yaml_peers = Vec::new();
    for (i, (p, nh)) in peers.iter().zip(&next_hops).enumerate() {
        yaml_peers.push(peer_yaml(i, p, nh, &mut places));
    }
    root.insert("peers".into(), Value::Sequence(yaml_peers));
    if !vips.is_empty() {
        let list = vips.iter().enumerate().map(|(j, v)| vip_yaml(j, v, &mut places)).collect();
        root.insert("vips".into(), Value::Sequence(list));
    }
    let processes = processes(doc, &peers, &mut places, warnings)?;
    if !processes.is_empty() {
        root.insert("processes".into(), Value::Sequence(processes));
    }
    let yaml = serde_yaml::to_string(&Value::Mapping(root))
        .map_err(|e| Problem { pos: None, message: format!("cannot write the rhi configuration: {e}") })?;
    let md5 = peers.iter().enumerate().filter_map(|(i, p)| Some((i, p.protection.md5.clone()?))).collect();
    Ok(Output { yaml, places, md5 })
}

fn place(places: &mut Vec<Place>, path: impl Into<String>, pos: Position, scope: &str) {
    places.push(Place { path: path.into(), pos, scope: scope.to_owned() });
}

/// Applies the templates (ExaBGP's rules) and ExaBGP's defaults.
fn peer(n: &Neighbor, templates: &[Template], warnings: &mut Vec<Warning>) -> Result<Peer, Problem> {
    let scope = format!("neighbor {}", n.address);
    let err = |pos: Position, m: String| problem(pos, format!("{scope}: {m}"));
    let mut body = n.body.clone();
    for wanted in &n.body.inherit {
        let Some(t) = templates.iter().find(|t| t.name == wanted.value) else {
            let known: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
            let defined = if known.is_empty() {
                "there is no template".to_owned()
            } else {
                format!("defined: {}", known.join(", "))
            };
            return Err(err(
                wanted.pos,
                format!("inherits template '{}', which is not defined ({defined})", wanted.value),
            ));
        };
        if t.pos > wanted.pos {
            return Err(err(
                wanted.pos,
                format!(
                    "inherits template '{}', which is defined further down (line {}): ExaBGP only inherits templates \
                     defined above the neighbor; move the template up",
                    t.name, t.pos.line
                ),
            ));
        }
        inherit(&mut body, &t.body, &t.name, &scope, warnings);
    }

    let local_as =
        body.local_as.clone().ok_or_else(|| err(n.pos, "missing local-as (ExaBGP refuses it too)".into()))?;
    let remote_as = body.peer_as.clone().ok_or_else(|| err(n.pos, "missing peer-as (ExaBGP refuses it too)".into()))?;
    let local_address = body.local_address.as_ref().and_then(|l| l.value);
    if let (Some(l), Some(set)) = (local_address, &body.local_address) {
        if l.is_ipv4() != n.address.is_ipv4() {
            return Err(err(
                set.pos,
                format!("local-address {l} and the neighbor address {} must be of the same family", n.address),
            ));
        }
        if l.is_unspecified() || l.is_multicast() {
            return Err(err(
                set.pos,
                format!("local-address {l} is not a unicast address (write auto to leave it out)"),
            ));
        }
    }
    let router_id = match (&body.router_id, local_address, &body.local_address) {
        (Some(r), _, _) => (r.value, r.pos, "router-id"),
        (None, Some(IpAddr::V4(l)), Some(set)) => (l, set.pos, "local-address"),
        _ => {
            return Err(err(
                n.pos,
                "missing router-id: ExaBGP takes it from local-address only when that is an IPv4 address".into(),
            ))
        }
    };
    let families = match &body.families {
        None => {
            warnings.push(Warning {
                pos: n.pos,
                message: format!(
                    "{scope}: no family block: ExaBGP offers every family it knows; rhi offers ipv4 unicast and ipv6 \
                     unicast"
                ),
            });
            vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        }
        Some(Families { all: Some(pos), .. }) => {
            warnings.push(Warning {
                pos: *pos,
                message: format!(
                    "{scope}: 'family all': rhi offers ipv4 unicast and ipv6 unicast, the families it has"
                ),
            });
            vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        }
        Some(f) => f.list.iter().map(|s| s.value).collect(),
    };
    if families.is_empty() {
        let pos = body.families.as_ref().map_or(n.pos, |f| f.pos);
        return Err(err(pos, "the family block lists no family: write ipv4 unicast; and/or ipv6 unicast;".into()));
    }
    Ok(Peer {
        address: n.address,
        pos: n.pos,
        scope,
        body,
        local_as,
        remote_as,
        router_id,
        local_address,
        families,
        name: String::new(),
        protection: Protection::default(),
    })
}

/// ExaBGP's `Scope.transfer`: a template's single values replace the neighbor's own (yes, the
/// template wins: ExaBGP 4.2 and 5 both do this), its lists and blocks are added to the neighbor's.
fn inherit(dst: &mut Body, src: &Body, template: &str, scope: &str, warnings: &mut Vec<Warning>) {
    fn scalar<T: Clone + PartialEq>(
        dst: &mut Option<Set<T>>,
        src: &Option<Set<T>>,
        template: &str,
        scope: &str,
        warnings: &mut Vec<Warning>,
    ) {
        let Some(s) = src else {
            return;
        };
        if let Some(d) = dst.as_ref().filter(|d| d.value != s.value) {
            warnings.push(Warning {
                pos: d.pos,
                message: format!(
                    "{scope}: `{}` is overridden by template {template} (`{}`, line {}): ExaBGP gives the inherited \
                     value precedence, and so does rhi",
                    d.text, s.text, s.pos.line
                ),
            });
        }
        *dst = Some(s.clone());
    }
    scalar(&mut dst.router_id, &src.router_id, template, scope, warnings);
    scalar(&mut dst.local_address, &src.local_address, template, scope, warnings);
    scalar(&mut dst.local_as, &src.local_as, template, scope, warnings);
    scalar(&mut dst.peer_as, &src.peer_as, template, scope, warnings);
    scalar(&mut dst.hold_time, &src.hold_time, template, scope, warnings);
    scalar(&mut dst.passive, &src.passive, template, scope, warnings);
    scalar(&mut dst.listen, &src.listen, template, scope, warnings);
    scalar(&mut dst.connect, &src.connect, template, scope, warnings);
    scalar(&mut dst.description, &src.description, template, scope, warnings);
    scalar(&mut dst.md5_password, &src.md5_password, template, scope, warnings);
    scalar(&mut dst.md5_base64, &src.md5_base64, template, scope, warnings);
    scalar(&mut dst.md5_ip, &src.md5_ip, template, scope, warnings);
    scalar(&mut dst.outgoing_ttl, &src.outgoing_ttl, template, scope, warnings);
    scalar(&mut dst.incoming_ttl, &src.incoming_ttl, template, scope, warnings);
    scalar(&mut dst.ttl_security, &src.ttl_security, template, scope, warnings);
    scalar(&mut dst.graceful_restart, &src.graceful_restart, template, scope, warnings);
    match (&mut dst.families, &src.families) {
        (_, None) => {}
        (None, Some(s)) => dst.families = Some(s.clone()),
        (Some(d), Some(s)) => {
            for f in &s.list {
                if !d.list.iter().any(|g| g.value == f.value) {
                    d.list.push(f.clone());
                }
            }
            d.all = d.all.or(s.all);
        }
    }
    for p in &src.processes {
        if !dst.processes.iter().any(|q| q.value == p.value) {
            dst.processes.push(p.clone());
        }
    }
    dst.routes.extend(src.routes.iter().map(|r| Route { template: Some(template.to_owned()), ..r.clone() }));
}

/// ExaBGP's session protection in rhi's terms (`neighbor/__init__.py`, `reactor/network/tcp.py`,
/// `reactor/listener.py` of ExaBGP 4.2):
/// - `md5-password` is the key as written, or base64 with `md5-base64 true`; at most 80 bytes.
/// - `md5-ip` is the local address ExaBGP connects from and listens on (default: local-address);
///   rhi has one, `local_address`, so a different `md5-ip` is refused.
/// - `outgoing-ttl N` is `ttl: N`. `incoming-ttl N` is the lowest TTL accepted, which is GTSM with
///   `hops: 256 - N` (rhi then sends TTL 255, which any router accepts where it accepted less).
/// - `graceful-restart [N]` is `graceful_restart: {restart_time: N}`, the hold-time when no N.
fn protection(p: &Peer, warnings: &mut Vec<Warning>) -> Result<Protection, Problem> {
    let b = &p.body;
    let err = |pos: Position, m: String| problem(pos, format!("{}: {m}", p.scope));
    let mut out = Protection::default();

    if let Some(pw) = &b.md5_password {
        let base64 = b.md5_base64.as_ref().filter(|s| s.value);
        let key = match base64 {
            Some(flag) => decode_base64(&pw.value.0).map_err(|why| {
                err(
                    pw.pos,
                    format!(
                        "md5-password is not valid base64 ({why}), which md5-base64 at line {} says",
                        flag.pos.line
                    ),
                )
            })?,
            None => {
                if !pw.value.0.is_ascii() {
                    return Err(err(
                        pw.pos,
                        "md5-password has a non-ASCII character: ExaBGP sends the key as ASCII and fails on it, and \
                         routers encode such keys differently; use ASCII, or give it as base64 with md5-base64 true"
                            .into(),
                    ));
                }
                pw.value.0.as_bytes().to_vec()
            }
        };
        if key.is_empty() {
            return Err(err(pw.pos, "md5-password: the key is empty".into()));
        }
        if key.len() > crate::config::MD5_MAX_KEY_LEN {
            return Err(err(
                pw.pos,
                format!(
                    "md5-password: the key is {} bytes long; the kernel takes at most {} (ExaBGP refuses it too)",
                    key.len(),
                    crate::config::MD5_MAX_KEY_LEN
                ),
            ));
        }
        out.md5 = Some(key);
        warnings.push(Warning {
            pos: pw.pos,
            message: format!(
                "{}: the md5-password is never printed (`password: (redacted)`): in a YAML configuration, put the key \
                 in a file only rhi can read and set password_file",
                p.scope
            ),
        });
    }

    if let Some(ip) = &b.md5_ip {
        if ip.value.is_ipv4() != p.address.is_ipv4() {
            return Err(err(
                ip.pos,
                format!("md5-ip {} and the neighbor address {} must be of the same family", ip.value, p.address),
            ));
        }
        match p.local_address {
            None => warnings.push(Warning {
                pos: ip.pos,
                message: format!("{}: `{}` is ignored with local-address auto (by ExaBGP too)", p.scope, ip.text),
            }),
            Some(local) if local == ip.value => {}
            Some(local) => {
                return Err(err(
                    ip.pos,
                    format!(
                        "md5-ip {} differs from local-address {local}: ExaBGP would connect from and listen on {} (the \
                         local end the key is bound to); rhi has one local address per session: write local-address {}, \
                         or remove md5-ip",
                        ip.value, ip.value, ip.value
                    ),
                ));
            }
        }
    }

    let outgoing = match (&b.outgoing_ttl, &b.ttl_security) {
        (Some(o), Some(t)) => {
            return Err(err(
                t.pos,
                format!("`{}` and `{}` (line {}) both set the outgoing TTL: keep one", t.text, o.text, o.pos.line),
            ))
        }
        (Some(s), None) | (None, Some(s)) => s.value.map(|v| (v, s)),
        (None, None) => None,
    };
    let incoming = b.incoming_ttl.as_ref().and_then(|s| Some((s.value?, s)));
    out.ttl = match (incoming, outgoing) {
        (Some((1, set)), _) => {
            warnings.push(Warning {
                pos: set.pos,
                message: format!("{}: `{}` accepts every TTL: there is nothing to check", p.scope, set.text),
            });
            outgoing.map_or(Ttl::Default, |(v, s)| Ttl::Outgoing(v, s.pos))
        }
        (Some((min, set)), out_ttl) => {
            let hops = 256 - u16::from(min);
            if let Some((v, s)) = out_ttl.filter(|(v, _)| *v != 255) {
                warnings.push(Warning {
                    pos: s.pos,
                    message: format!(
                        "{}: `{}` becomes TTL 255: with `{}` rhi checks the router's TTL as GTSM does (RFC 5082, \
                         ttl_security hops {hops}), which always sends 255; a router accepts TTL 255 wherever it \
                         accepted {v}",
                        p.scope, s.text, set.text
                    ),
                });
            }
            if b.listen.as_ref().is_none_or(|l| l.value == 0) {
                warnings.push(Warning {
                    pos: set.pos,
                    message: format!(
                        "{}: ExaBGP checks incoming-ttl only on the connections it accepts (with listen); rhi checks it \
                         on every session to this neighbor: the router must send TTL {min} or more (ttl-security hops \
                         {hops} on the router)",
                        p.scope
                    ),
                });
            }
            Ttl::Gtsm(hops as u8, set.pos)
        }
        (None, Some((v, s))) => Ttl::Outgoing(v, s.pos),
        (None, None) => Ttl::Default,
    };

    if let Some(gr) = &b.graceful_restart {
        if let Some(time) = gr.value {
            let time = if time == 0 {
                let hold = b.hold_time.as_ref().map_or(EXABGP_HOLD_TIME, |h| h.value);
                warnings.push(Warning {
                    pos: gr.pos,
                    message: format!(
                        "{}: `{}` gives no restart time: ExaBGP uses the hold-time ({hold}s) and so does rhi; a \
                         crashed node's routes stay at the router that long: a short time (30) is safer",
                        p.scope, gr.text
                    ),
                });
                hold
            } else {
                time
            };
            out.graceful_restart = Some((time, gr.pos));
        }
    }
    Ok(out)
}

/// Standard base64 with its padding (what Python's `b64decode` reads, minus the characters it
/// would skip). The reasons never quote the key.
fn decode_base64(text: &str) -> Result<Vec<u8>, &'static str> {
    let body = text.trim_end_matches('=');
    if text.len() % 4 != 0 || text.len() - body.len() > 2 {
        return Err("its length with padding is not a multiple of 4");
    }
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in body.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' => 62,
            '/' => 63,
            _ => return Err("a character outside A-Z a-z 0-9 + / ="),
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// rhi has one router-id and one local AS for all its sessions.
fn same_everywhere(peers: &[Peer]) -> Result<(), Problem> {
    let first = &peers[0];
    for p in &peers[1..] {
        if p.router_id.0 != first.router_id.0 {
            return Err(problem(
                p.router_id.1,
                format!(
                    "{}: router-id {} (from its {}) differs from router-id {} of {} (line {}): rhi has one router-id for \
                     all its sessions",
                    p.scope, p.router_id.0, p.router_id.2, first.router_id.0, first.scope, first.router_id.1.line
                ),
            ));
        }
        if p.local_as.value != first.local_as.value {
            return Err(problem(
                p.local_as.pos,
                format!(
                    "{}: local-as {} differs from local-as {} of {} (line {}): rhi has one local AS for all its sessions",
                    p.scope, p.local_as.value, first.local_as.value, first.scope, first.local_as.pos.line
                ),
            ));
        }
    }
    Ok(())
}

fn unique_sessions(peers: &[Peer]) -> Result<(), Problem> {
    for (i, p) in peers.iter().enumerate() {
        if let Some(q) = peers[..i].iter().find(|q| q.address == p.address && q.port() == p.port()) {
            return Err(problem(
                p.pos,
                format!("{}: this neighbor is already defined at line {} (ExaBGP refuses it too)", p.scope, q.pos.line),
            ));
        }
    }
    Ok(())
}

/// A name from the description (`"BIRD router"` -> `bird-router`) when it is short and unique,
/// else from the address (`n-10-0-0-1`).
fn name_peers(peers: &mut [Peer]) {
    let by_address = |a: IpAddr| format!("n-{}", a.to_string().replace(['.', ':'], "-"));
    let slug = |text: &str| {
        let mut out = String::new();
        for c in text.chars() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_end_matches('-').to_owned()
    };
    let wanted: Vec<Option<String>> = peers
        .iter()
        .map(|p| {
            let s = slug(&p.body.description.as_ref()?.value);
            (!s.is_empty() && s.len() <= MAX_NAME_FROM_DESCRIPTION).then_some(s)
        })
        .collect();
    let address_names: Vec<String> = peers.iter().map(|p| by_address(p.address)).collect();
    for (i, p) in peers.iter_mut().enumerate() {
        p.name = match &wanted[i] {
            Some(w) if wanted.iter().filter(|o| o.as_ref() == Some(w)).count() == 1 && !address_names.contains(w) => {
                w.clone()
            }
            _ => address_names[i].clone(),
        };
    }
}

/// Checks one neighbor's routes and folds them into the VIP list; returns its next hops.
fn routes(p: &Peer, vips: &mut Vec<Vip>) -> Result<NextHops, Problem> {
    let scope = &p.scope;
    let err = |pos: Position, m: String| problem(pos, format!("{scope}: {m}"));
    let mut next_hops = NextHops::default();
    for (i, r) in p.body.routes.iter().enumerate() {
        let family = Family::of(&r.prefix);
        let v4 = family == Family::IPV4_UNICAST;
        let (afi, other) = if v4 { ("ipv4", "IPv4") } else { ("ipv6", "IPv6") };
        if !p.families.contains(&family) {
            return Err(err(
                r.pos,
                format!(
                    "{} is {other} but the family block does not list {afi} unicast, so it would never be sent: \
                     add {afi} unicast; to the family block",
                    r.name()
                ),
            ));
        }
        if let Some(earlier) = p.body.routes[..i].iter().find(|e| e.prefix == r.prefix) {
            return Err(err(
                r.pos,
                format!("{} is given twice for this neighbor (also at line {})", r.name(), earlier.pos.line),
            ));
        }
        // Refused while reading already; an error here too keeps config input from ever panicking.
        let Some(nh) = r.next_hop.as_ref() else {
            return Err(err(r.pos, format!("{} has no next-hop", r.name())));
        };
        let session_v4 = p.address.is_ipv4();
        match (v4, nh.value) {
            (true, RouteNextHop::SelfAddress) if !session_v4 => {
                return Err(err(
                    nh.pos,
                    format!(
                        "{}: next-hop self would be this IPv6 session's own address, which an IPv4 route cannot \
                         use: give an IPv4 next-hop",
                        r.name()
                    ),
                ))
            }
            (false, RouteNextHop::SelfAddress) if session_v4 => {
                return Err(err(
                    nh.pos,
                    format!(
                        "{}: next-hop self would be this IPv4 session's own address, which an IPv6 route cannot \
                         use: give this node's IPv6 address as next-hop",
                        r.name()
                    ),
                ))
            }
            (true, RouteNextHop::Address(IpAddr::V6(_))) => {
                return Err(err(
                    nh.pos,
                    format!("{}: an IPv6 next-hop for an IPv4 route (RFC 8950) is not supported by rhi", r.name()),
                ))
            }
            (false, RouteNextHop::Address(IpAddr::V4(_))) => {
                return Err(err(nh.pos, format!("{}: an IPv6 route needs an IPv6 next-hop", r.name())))
            }
            _ => {}
        }
        let slot = if v4 { &mut next_hops.v4 } else { &mut next_hops.v6 };
        match slot {
            Some((value, pos, text, prefix)) if *value != nh.value => {
                return Err(err(
                    nh.pos,
                    format!(
                        "{} has `{}` but route {prefix} (line {}) has `{text}`: rhi has one next hop per \
                         neighbor and address family; give all {other} routes to this neighbor the same next-hop",
                        r.name(),
                        nh.text,
                        pos.line
                    ),
                ))
            }
            Some(_) => {}
            None => *slot = Some((nh.value, nh.pos, nh.text.clone(), r.prefix)),
        }
        let attrs = VipAttrs {
            med: r.med,
            local_pref: r.local_pref,
            communities: r.communities.clone(),
            large_communities: r.large_communities.clone(),
            as_path_prepend: prepend(p, &r.name(), r.as_path.as_ref())?,
        };
        match vips.iter().find(|v| v.prefix == r.prefix) {
            Some(v) if v.attrs != attrs => {
                return Err(err(
                    r.pos,
                    format!(
                        "{} differs from the same route for {} (line {}): rhi announces a route alike to every \
                         neighbor; give it the same med, local-preference, communities and as-path everywhere",
                        r.name(),
                        v.scope,
                        v.pos.line
                    ),
                ))
            }
            Some(_) => {}
            None => vips.push(Vip { prefix: r.prefix, attrs, pos: r.pos, scope: scope.clone() }),
        }
    }
    Ok(next_hops)
}

/// ExaBGP sends an explicit as-path as written, else `[local-as]` to eBGP and `[]` to iBGP
/// neighbors (`Attributes.pack`). rhi sends `local-as` 1 + prepend times to eBGP, nothing to iBGP.
fn prepend(p: &Peer, route: &str, as_path: Option<&Set<Vec<u32>>>) -> Result<u8, Problem> {
    let Some(path) = as_path else {
        return Ok(0);
    };
    let local = p.local_as.value;
    let err = |m: String| problem(path.pos, format!("{}: {route}: `{}`: {m}", p.scope, path.text));
    if p.ibgp() {
        if path.value.is_empty() {
            return Ok(0);
        }
        return Err(err(
            "rhi sends iBGP neighbors an empty AS path (the AS is theirs too, a path with it would be a loop): \
             remove as-path"
                .into(),
        ));
    }
    if path.value.is_empty() {
        return Err(err(
            "an empty AS path toward an eBGP neighbor, which routers refuse; rhi always starts the path with \
             local-as: remove as-path"
                .into(),
        ));
    }
    if let Some(other) = path.value.iter().find(|a| **a != local) {
        return Err(err(format!(
            "rhi originates its routes: the AS path it sends is local-as ({local}), repeated to prepend; AS {other} \
             cannot be set in the configuration (an API process can announce a route with any as-path)"
        )));
    }
    u8::try_from(path.value.len() - 1).map_err(|_| err("at most 255 prepends".into()))
}

/// A neighbor that carries a family receives every VIP of it in rhi.
fn every_neighbor_announces_every_vip(peers: &[Peer], vips: &[Vip]) -> Result<(), Problem> {
    for p in peers {
        for v in vips {
            let carried = p.families.contains(&Family::of(&v.prefix));
            if carried && !p.body.routes.iter().any(|r| r.prefix == v.prefix) {
                let afi = if v.prefix.addr().is_ipv4() { "ipv4" } else { "ipv6" };
                return Err(problem(
                    p.pos,
                    format!(
                        "{}: does not announce route {}, which {} announces (line {}): rhi announces every route to \
                         every neighbor that carries its family; give both neighbors the same routes (a template \
                         helps), or leave {afi} unicast out of this neighbor's family block",
                        p.scope, v.prefix, v.scope, v.pos.line
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// ExaBGP listens on `local-address:listen` for each neighbor with `listen PORT`. A passive
/// neighbor without it is reachable only through ExaBGP's environment (`exabgp.tcp.bind`); rhi
/// listens for it on `local-address:179`.
fn listen(peers: &[Peer], places: &mut Vec<Place>, warnings: &mut Vec<Warning>) -> Vec<Value> {
    let mut out: Vec<String> = Vec::new();
    for p in peers {
        let passive = p.body.passive.as_ref().is_some_and(|s| s.value);
        let port = p.body.listen.as_ref().map_or(0, |l| l.value);
        if !passive && port == 0 {
            continue;
        }
        let pos = match (&p.body.listen, &p.body.passive) {
            (Some(l), _) if l.value != 0 => l.pos,
            (_, Some(s)) => s.pos,
            _ => p.pos,
        };
        let port = if port == 0 {
            warnings.push(Warning {
                pos,
                message: format!(
                    "{}: passive without listen: ExaBGP accepts this session only where its environment sets \
                     exabgp.tcp.bind; rhi listens on port 179 for it",
                    p.scope
                ),
            });
            BGP_PORT
        } else {
            port
        };
        let ip = p.local_address.unwrap_or_else(|| {
            warnings.push(Warning {
                pos,
                message: format!(
                    "{}: local-address auto: rhi listens on every local address for this neighbor",
                    p.scope
                ),
            });
            if p.address.is_ipv4() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            }
        });
        let text = std::net::SocketAddr::new(ip, port).to_string();
        if !out.contains(&text) {
            place(places, format!("listen[{}]", out.len()), pos, &p.scope);
            if out.is_empty() {
                place(places, "listen", pos, &p.scope);
            }
            out.push(text);
        }
    }
    out.into_iter().map(Value::from).collect()
}

fn peer_yaml(i: usize, p: &Peer, nh: &NextHops, places: &mut Vec<Place>) -> Value {
    let base = format!("peers[{i}]");
    let at = |places: &mut Vec<Place>, key: &str, pos: Position| place(places, format!("{base}.{key}"), pos, &p.scope);
    place(places, base.clone(), p.pos, &p.scope);
    let mut m = Mapping::new();
    m.insert("name".into(), p.name.clone().into());
    at(places, "name", p.body.description.as_ref().map_or(p.pos, |d| d.pos));
    m.insert("address".into(), p.address.to_string().into());
    at(places, "address", p.pos);
    m.insert("remote_as".into(), p.remote_as.value.into());
    at(places, "remote_as", p.remote_as.pos);
    m.insert("port".into(), p.port().into());
    at(places, "port", p.body.connect.as_ref().map_or(p.pos, |c| c.pos));
    if let (Some(l), Some(set)) = (p.local_address, &p.body.local_address) {
        m.insert("local_address".into(), l.to_string().into());
        at(places, "local_address", set.pos);
    }
    let passive = p.body.passive.as_ref();
    m.insert("passive".into(), passive.is_some_and(|s| s.value).into());
    at(places, "passive", passive.map_or(p.pos, |s| s.pos));
    let hold = p.body.hold_time.as_ref();
    m.insert("hold_time".into(), format!("{}s", hold.map_or(EXABGP_HOLD_TIME, |h| h.value)).into());
    at(places, "hold_time", hold.map_or(p.pos, |h| h.pos));
    if let Some((value, pos, _, _)) = &nh.v4 {
        let text = match value {
            RouteNextHop::SelfAddress => "self".to_owned(),
            RouteNextHop::Address(a) => a.to_string(),
        };
        m.insert("next_hop".into(), text.into());
        at(places, "next_hop", *pos);
    } else {
        m.insert("next_hop".into(), "self".into());
        at(places, "next_hop", p.pos);
    }
    if let Some((RouteNextHop::Address(a), pos, _, _)) = &nh.v6 {
        m.insert("next_hop_v6".into(), a.to_string().into());
        at(places, "next_hop_v6", *pos);
    }
    let families: Vec<Value> = p.families.iter().map(|f| Value::from(f.to_string())).collect();
    m.insert("families".into(), Value::Sequence(families));
    at(places, "families", p.body.families.as_ref().map_or(p.pos, |f| f.pos));
    match p.protection.ttl {
        Ttl::Default => {}
        Ttl::Outgoing(ttl, pos) => {
            m.insert("ttl".into(), ttl.into());
            at(places, "ttl", pos);
        }
        Ttl::Gtsm(hops, pos) => {
            let mut gtsm = Mapping::new();
            gtsm.insert("hops".into(), hops.into());
            m.insert("ttl_security".into(), Value::Mapping(gtsm));
            at(places, "ttl_security", pos);
        }
    }
    if let Some((time, pos)) = p.protection.graceful_restart {
        let mut gr = Mapping::new();
        gr.insert("restart_time".into(), format!("{time}s").into());
        m.insert("graceful_restart".into(), Value::Mapping(gr));
        at(places, "graceful_restart", pos);
    }
    Value::Mapping(m)
}

fn vip_yaml(j: usize, v: &Vip, places: &mut Vec<Place>) -> Value {
    place(places, format!("vips[{j}]"), v.pos, &v.scope);
    let mut m = Mapping::new();
    m.insert("prefix".into(), v.prefix.to_string().into());
    let a = &v.attrs;
    if let Some(med) = a.med {
        m.insert("med".into(), med.into());
    }
    if a.as_path_prepend > 0 {
        m.insert("as_path_prepend".into(), a.as_path_prepend.into());
    }
    if !a.communities.is_empty() {
        let list = a.communities.iter().map(|c| Value::from(format!("{}:{}", c >> 16, c & 0xFFFF))).collect();
        m.insert("communities".into(), Value::Sequence(list));
    }
    if !a.large_communities.is_empty() {
        let list = a
            .large_communities
            .iter()
            .map(|c| Value::from(format!("{}:{}:{}", c.global, c.local1, c.local2)))
            .collect();
        m.insert("large_communities".into(), Value::Sequence(list));
    }
    if let Some(lp) = a.local_pref {
        m.insert("local_pref".into(), lp.into());
    }
    Value::Mapping(m)
}

/// `process` blocks -> rhi processes; a process's neighbors are those whose api lists it.
fn processes(
    doc: &Document,
    peers: &[Peer],
    places: &mut Vec<Place>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Value>, Problem> {
    for p in peers {
        for wanted in &p.body.processes {
            if !doc.processes.iter().any(|q| q.name == wanted.value) {
                let known: Vec<&str> = doc.processes.iter().map(|q| q.name.as_str()).collect();
                let defined = if known.is_empty() {
                    "there is no process block".to_owned()
                } else {
                    format!("defined: {}", known.join(", "))
                };
                return Err(problem(
                    wanted.pos,
                    format!("{}: api lists process '{}', which is not defined ({defined})", p.scope, wanted.value),
                ));
            }
        }
    }
    let mut out = Vec::new();
    for (k, proc_) in doc.processes.iter().enumerate() {
        let scope = format!("process {}", proc_.name);
        let base = format!("processes[{k}]");
        place(places, base.clone(), proc_.pos, &scope);
        place(places, format!("{base}.name"), proc_.pos, &scope);
        place(places, format!("{base}.neighbors"), proc_.pos, &scope);
        let Some(run) = &proc_.run else {
            return Err(problem(proc_.pos, format!("{scope}: missing run (ExaBGP refuses it too)")));
        };
        place(places, format!("{base}.run"), run.pos, &scope);
        let encoder = proc_.encoder.as_ref().map_or(Encoder::Text, |e| e.value);
        if let Some(e) = &proc_.encoder {
            place(places, format!("{base}.encoder"), e.pos, &scope);
        }
        let neighbors: Vec<Value> = peers
            .iter()
            .filter(|p| p.body.processes.iter().any(|w| w.value == proc_.name))
            .map(|p| Value::from(p.address.to_string()))
            .collect();
        if neighbors.is_empty() {
            warnings.push(Warning {
                pos: proc_.pos,
                message: format!(
                    "{scope}: no neighbor's api lists it: ExaBGP sends it no events; rhi sends it the events of every \
                     neighbor"
                ),
            });
        }
        let mut m = Mapping::new();
        m.insert("name".into(), proc_.name.clone().into());
        m.insert("run".into(), Value::Sequence(run.value.iter().map(|a| Value::from(a.clone())).collect()));
        m.insert(
            "encoder".into(),
            match encoder {
                Encoder::Text => "text",
                Encoder::Json => "json",
            }
            .into(),
        );
        if !neighbors.is_empty() {
            m.insert("neighbors".into(), Value::Sequence(neighbors));
        }
        out.push(Value::Mapping(m));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) fn decode(text: &str) -> Result<Vec<u8>, &'static str> {
        super::decode_base64(text)
    }
}
