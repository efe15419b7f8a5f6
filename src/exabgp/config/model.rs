//! The statement tree -> what the ExaBGP configuration says: processes, templates and neighbors,
//! every value checked and located.
//!
//! Each statement is read here, once, where it is written: a value ExaBGP would refuse, or a
//! feature rhi does not have, fails at its own line and column. Harmless ExaBGP-only knobs become
//! located warnings. Nothing is resolved yet (templates, defaults, cross-neighbor rules): that is
//! `convert`'s job.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::syntax::{Kind, Node, Token};
use crate::bgp::attributes::LargeCommunity;
use crate::bgp::nlri::Family;
use crate::config::{Encoder, Position};

/// A located error, before the file name is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub pos: Option<Position>,
    pub message: String,
}

pub(crate) fn problem(pos: Position, message: impl Into<String>) -> Problem {
    Problem { pos: Some(pos), message: message.into() }
}

/// A located warning: the configuration works, but not exactly as the ExaBGP knob asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Warning {
    pub pos: Position,
    pub message: String,
}

/// A value and the statement that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Set<T> {
    pub value: T,
    pub pos: Position,
    /// The statement as written, for messages.
    pub text: String,
}

#[derive(Debug, Default)]
pub(crate) struct Document {
    pub processes: Vec<Process>,
    pub templates: Vec<Template>,
    pub neighbors: Vec<Neighbor>,
}

#[derive(Debug)]
pub(crate) struct Process {
    pub name: String,
    pub pos: Position,
    pub run: Option<Set<Vec<String>>>,
    pub encoder: Option<Set<Encoder>>,
}

#[derive(Debug)]
pub(crate) struct Template {
    pub name: String,
    pub pos: Position,
    pub body: Body,
}

#[derive(Debug)]
pub(crate) struct Neighbor {
    pub address: IpAddr,
    pub pos: Position,
    pub body: Body,
}

/// The settings of a `neighbor` or `template { neighbor NAME }` block.
#[derive(Clone, Debug, Default)]
pub(crate) struct Body {
    pub router_id: Option<Set<Ipv4Addr>>,
    /// `None` inside = `local-address auto`.
    pub local_address: Option<Set<Option<IpAddr>>>,
    pub local_as: Option<Set<u32>>,
    pub peer_as: Option<Set<u32>>,
    pub hold_time: Option<Set<u16>>,
    pub passive: Option<Set<bool>>,
    pub listen: Option<Set<u16>>,
    pub connect: Option<Set<u16>>,
    pub description: Option<Set<String>>,
    pub inherit: Vec<Set<String>>,
    /// `Some` once a family block is seen.
    pub families: Option<Families>,
    /// Process names from `api { processes [..] }`.
    pub processes: Vec<Set<String>>,
    pub routes: Vec<Route>,
    /// `md5-password`, as written: decoded in `convert`, once `md5-base64` is known.
    pub md5_password: Option<Set<Secret>>,
    /// `md5-base64 true|false` (ExaBGP's default: false, also when the keyword stands alone).
    pub md5_base64: Option<Set<bool>>,
    /// `md5-ip`: the local address ExaBGP binds the session (and so the key) to.
    pub md5_ip: Option<Set<IpAddr>>,
    /// `outgoing-ttl`; `None` inside = `disable` or 0 (the kernel's default TTL).
    pub outgoing_ttl: Option<Set<Option<u8>>>,
    /// `incoming-ttl`: the lowest TTL accepted; `None` inside = `disable` or 0.
    pub incoming_ttl: Option<Set<Option<u8>>>,
    /// ExaBGP 3's `ttl-security [N]`, which set the outgoing TTL (255 when alone).
    pub ttl_security: Option<Set<Option<u8>>>,
    /// `capability { graceful-restart [N|disable]; }`: `None` inside = disabled, `Some(0)` = no
    /// time given (ExaBGP then uses the hold-time).
    pub graceful_restart: Option<Set<Option<u16>>>,
}

/// A TCP-MD5 key as written in the ExaBGP file: never shown by `Debug` or in a message.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Families {
    /// The first family block.
    pub pos: Position,
    pub list: Vec<Set<Family>>,
    /// Where `all;` was written.
    pub all: Option<Position>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RouteNextHop {
    SelfAddress,
    Address(IpAddr),
}

/// One static route (`route`, `attributes ... nlri`, `announce { ipv4 { unicast } }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub prefix: IpNet,
    /// Of the prefix.
    pub pos: Position,
    pub next_hop: Option<Set<RouteNextHop>>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    pub as_path: Option<Set<Vec<u32>>>,
    /// The template it was inherited from, for messages.
    pub template: Option<String>,
}

impl Route {
    /// `route 10.0.0.0/24`, or `route 10.0.0.0/24 (from template base)`.
    pub fn name(&self) -> String {
        match &self.template {
            Some(t) => format!("route {} (from template {t})", self.prefix),
            None => format!("route {}", self.prefix),
        }
    }
}

/// Where a statement is, for messages: `neighbor 10.0.0.1`, `template base`, `process api`.
struct Scope<'a> {
    name: &'a str,
    warnings: &'a mut Vec<Warning>,
}

impl Scope<'_> {
    fn err(&self, pos: Position, message: impl std::fmt::Display) -> Problem {
        problem(pos, format!("{}: {message}", self.name))
    }

    fn warn(&mut self, pos: Position, message: impl std::fmt::Display) {
        let message = format!("{}: {message}", self.name);
        self.warnings.push(Warning { pos, message });
    }
}

pub(crate) fn document(nodes: &[Node], warnings: &mut Vec<Warning>) -> Result<Document, Problem> {
    let mut doc = Document::default();
    for node in nodes {
        match (node.keyword(), &node.body) {
            ("process", Some(items)) => {
                let p = process(node, items, warnings)?;
                if let Some(first) = doc.processes.iter().find(|q| q.name == p.name) {
                    return Err(problem(
                        node.pos(),
                        format!(
                            "process {}: already defined at line {} (ExaBGP refuses it too)",
                            p.name, first.pos.line
                        ),
                    ));
                }
                doc.processes.push(p);
            }
            ("neighbor", Some(items)) => doc.neighbors.push(neighbor(node, items, warnings)?),
            ("template", Some(items)) => {
                if node.words.len() > 1 {
                    return Err(problem(
                        node.words[1].pos,
                        "a template block has no name: template { neighbor NAME { ... } }",
                    ));
                }
                for item in items {
                    let t = template(item, warnings)?;
                    if let Some(first) = doc.templates.iter().find(|u| u.name == t.name) {
                        return Err(problem(
                            item.pos(),
                            format!("template {}: already defined at line {}", t.name, first.pos.line),
                        ));
                    }
                    doc.templates.push(t);
                }
            }
            ("group", _) => {
                return Err(problem(
                    node.pos(),
                    "'group' is ExaBGP 3 syntax, which ExaBGP 4 and rhi do not read: move its settings into \
                     template { neighbor NAME { ... } } and write `inherit NAME;` in each neighbor",
                ))
            }
            (kw @ ("process" | "neighbor" | "template"), None) => {
                return Err(problem(node.pos(), format!("'{kw}' is a block: {kw} ... {{ ... }}")))
            }
            (kw, _) => {
                return Err(problem(
                    node.pos(),
                    format!(
                        "unknown top-level keyword '{kw}': an ExaBGP configuration holds process, template and \
                         neighbor blocks{}",
                        suggest(kw, &["process", "template", "neighbor"])
                    ),
                ))
            }
        }
    }
    Ok(doc)
}

fn process(node: &Node, items: &[Node], warnings: &mut Vec<Warning>) -> Result<Process, Problem> {
    let name = block_name(node, "process NAME { run ...; encoder text; }")?;
    let scope_name = format!("process {name}");
    let mut scope = Scope { name: &scope_name, warnings };
    let mut out = Process { name, pos: node.pos(), run: None, encoder: None };
    for item in items {
        let kw = item.keyword();
        if item.body.is_some() {
            return Err(
                scope.err(item.pos(), format!("'{kw}' cannot be a block here: a process holds run and encoder"))
            );
        }
        match kw {
            "run" => {
                let argv = run(item, &mut scope)?;
                set_once(&mut out.run, item, argv, &scope)?;
            }
            "encoder" => {
                let value = single(item, &scope)?;
                let encoder = match value.text.as_str() {
                    "text" => Encoder::Text,
                    "json" => Encoder::Json,
                    other => return Err(scope.err(value.pos, format!("'{other}' is not an encoder: use text or json"))),
                };
                set_once(&mut out.encoder, item, encoder, &scope)?;
            }
            "respawn" => {
                if !boolean(item, true, &scope)? {
                    return Err(scope.err(
                        item.pos(),
                        "'respawn false' is not supported: rhi always restarts a process that exits (with \
                         backoff) and withdraws its routes meanwhile",
                    ));
                }
            }
            other => {
                return Err(scope.err(
                    item.pos(),
                    format!(
                        "unknown keyword '{other}' (a process has run, encoder){}",
                        suggest(other, &["run", "encoder"])
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// `run PROGRAM ARGS...`: the words as ExaBGP splits them (quotes honoured; `[`, `]` and `,` are
/// arguments of their own, as in ExaBGP).
fn run(node: &Node, scope: &mut Scope<'_>) -> Result<Vec<String>, Problem> {
    let args = &node.words[1..];
    let Some(program) = args.first() else {
        return Err(scope.err(node.pos(), "'run' needs the program to start (and its arguments)"));
    };
    if !program.is_word() || program.text.is_empty() {
        return Err(scope.err(program.pos, "'run' needs the program to start first"));
    }
    if !program.text.starts_with('/') {
        scope.warn(
            program.pos,
            format!(
                "'{}' is not an absolute path: ExaBGP looks for it in /etc/exabgp, the configuration's folder and \
                 $PATH; rhi runs it through $PATH only",
                program.text
            ),
        );
    }
    if let Some(p) = args.iter().find(|t| t.is_list_punctuation()) {
        scope.warn(
            p.pos,
            format!(
                "'{}' is an argument of its own here (ExaBGP splits words at '[', ']' and ','; so does rhi): \
                 quote the argument if it should stay whole",
                p.text
            ),
        );
    }
    Ok(args.iter().map(|t| t.text.clone()).collect())
}

fn template(node: &Node, warnings: &mut Vec<Warning>) -> Result<Template, Problem> {
    let Some(items) = &node.body else {
        return Err(problem(node.pos(), "a template holds neighbor blocks: template { neighbor NAME { ... } }"));
    };
    if node.keyword() != "neighbor" {
        return Err(problem(
            node.pos(),
            format!(
                "'{}' cannot be templated: a template holds neighbor blocks (neighbor NAME {{ ... }})",
                node.keyword()
            ),
        ));
    }
    let name = block_name(node, "template { neighbor NAME { ... } }")?;
    let scope_name = format!("template {name}");
    let mut scope = Scope { name: &scope_name, warnings };
    let body = body(items, &mut scope, true)?;
    Ok(Template { name, pos: node.pos(), body })
}

fn neighbor(node: &Node, items: &[Node], warnings: &mut Vec<Warning>) -> Result<Neighbor, Problem> {
    if node.words.len() != 2 {
        return Err(problem(node.pos(), "write a neighbor block as: neighbor IP-ADDRESS { ... }"));
    }
    let word = &node.words[1];
    let address = neighbor_address(word)?;
    let scope_name = format!("neighbor {address}");
    let mut scope = Scope { name: &scope_name, warnings };
    let body = body(items, &mut scope, false)?;
    Ok(Neighbor { address, pos: node.pos(), body })
}

fn neighbor_address(word: &Token) -> Result<IpAddr, Problem> {
    let text = word.text.as_str();
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let Ok(address) = addr.parse::<IpAddr>() else {
        return Err(problem(word.pos, format!("neighbor '{text}': not an IP address")));
    };
    let full = if address.is_ipv4() { "32" } else { "128" };
    match len {
        None => Ok(address),
        Some(l) if l == full => Ok(address),
        Some(_) => Err(problem(
            word.pos,
            format!(
                "neighbor {text}: a range of neighbor addresses (any router in it may connect) is not supported \
                 by rhi: write one neighbor block per router"
            ),
        )),
    }
}

fn block_name(node: &Node, usage: &str) -> Result<String, Problem> {
    match node.words.as_slice() {
        [_, name] if name.is_word() && !name.text.is_empty() => Ok(name.text.clone()),
        _ => Err(problem(node.pos(), format!("write it as: {usage}"))),
    }
}

const NEIGHBOR_STATEMENTS: &[&str] = &[
    "description",
    "router-id",
    "local-address",
    "local-as",
    "peer-as",
    "hold-time",
    "passive",
    "listen",
    "connect",
    "inherit",
    "md5-password",
    "md5-base64",
    "md5-ip",
    "group-updates",
    "auto-flush",
    "adj-rib-out",
    "adj-rib-in",
    "manual-eor",
    "rate-limit",
    "outgoing-ttl",
    "incoming-ttl",
    "ttl-security",
    "host-name",
    "domain-name",
];

const NEIGHBOR_BLOCKS: &[&str] =
    &["family", "capability", "api", "static", "announce", "flow", "l2vpn", "operational", "add-path", "nexthop"];

fn body(items: &[Node], scope: &mut Scope<'_>, in_template: bool) -> Result<Body, Problem> {
    let mut out = Body::default();
    for item in items {
        match &item.body {
            Some(inner) => block(item, inner, scope, &mut out)?,
            None => statement(item, scope, &mut out, in_template)?,
        }
    }
    Ok(out)
}

fn statement(node: &Node, scope: &mut Scope<'_>, out: &mut Body, in_template: bool) -> Result<(), Problem> {
    let kw = node.keyword();
    match kw {
        "description" => {
            let v = single(node, scope)?.text.clone();
            set_once(&mut out.description, node, v, scope)
        }
        "router-id" => {
            let t = single(node, scope)?;
            let id = t.text.parse::<Ipv4Addr>().map_err(|_| {
                scope.err(t.pos, format!("'{}' is not a valid router-id: write an IPv4 address", t.text))
            })?;
            if id.is_unspecified() {
                return Err(scope.err(t.pos, "0.0.0.0 is not a valid router-id: it must be non-zero (RFC 6286)"));
            }
            set_once(&mut out.router_id, node, id, scope)
        }
        "local-address" => {
            let t = single(node, scope)?;
            let value = if t.text == "auto" {
                None
            } else {
                Some(
                    t.text
                        .parse::<IpAddr>()
                        .map_err(|_| scope.err(t.pos, format!("'{}' is not an IP address (or 'auto')", t.text)))?,
                )
            };
            set_once(&mut out.local_address, node, value, scope)
        }
        "local-as" | "peer-as" => {
            let t = single(node, scope)?;
            if t.text == "auto" {
                return Err(scope.err(t.pos, format!("'{kw} auto' is not supported by rhi: give the AS number")));
            }
            let asn =
                parse_asn(&t.text).ok_or_else(|| scope.err(t.pos, format!("'{}' is not a valid AS number", t.text)))?;
            if asn == 0 {
                return Err(scope.err(t.pos, "AS 0 is reserved (RFC 7607)"));
            }
            let slot = if kw == "local-as" { &mut out.local_as } else { &mut out.peer_as };
            set_once(slot, node, asn, scope)
        }
        "hold-time" => {
            let t = single(node, scope)?;
            let hold = match t.text.parse::<u32>() {
                Ok(h @ (0 | 3..=65535)) => h as u16,
                Ok(1..=2) => return Err(scope.err(t.pos, "the hold-time must be 0 or at least 3 seconds (RFC 4271)")),
                Ok(_) => return Err(scope.err(t.pos, "the hold-time must be at most 65535 seconds")),
                Err(_) => return Err(scope.err(t.pos, format!("'{}' is not a hold-time in seconds", t.text))),
            };
            set_once(&mut out.hold_time, node, hold, scope)
        }
        "passive" => {
            let v = boolean(node, true, scope)?;
            set_once(&mut out.passive, node, v, scope)
        }
        "listen" | "connect" => {
            let t = single(node, scope)?;
            let port =
                t.text.parse::<u16>().map_err(|_| scope.err(t.pos, format!("'{}' is not a TCP port", t.text)))?;
            let slot = if kw == "listen" { &mut out.listen } else { &mut out.connect };
            set_once(slot, node, port, scope)
        }
        "inherit" => {
            if in_template {
                return Err(scope.err(
                    node.pos(),
                    "'inherit' inside a template is ignored by ExaBGP: write it in the neighbor blocks",
                ));
            }
            for t in names_list(node, scope)? {
                out.inherit.push(Set { value: t.text.clone(), pos: t.pos, text: node.text() });
            }
            Ok(())
        }
        "md5-password" => {
            let t = single(node, scope)?;
            if t.text.is_empty() {
                return Err(scope.err(t.pos, "'md5-password' needs the key (ExaBGP refuses an empty one too)"));
            }
            set_once(&mut out.md5_password, node, Secret(t.text.clone()), scope)?;
            if let Some(s) = out.md5_password.as_mut() {
                // The statement's text is quoted in messages: never with the key in it.
                s.text = "md5-password (redacted)".to_owned();
            }
            Ok(())
        }
        "md5-base64" => {
            // ExaBGP's `auto_boolean`, whose default here is false: `md5-base64;` alone is false.
            if node.words.len() == 1 {
                scope.warn(
                    node.pos(),
                    "'md5-base64' alone means false in ExaBGP (its default): the key is used as written; write \
                     md5-base64 true; if it is base64",
                );
                return set_once(&mut out.md5_base64, node, false, scope);
            }
            let t = single(node, scope)?;
            let v = match t.text.to_ascii_lowercase().as_str() {
                "true" | "enable" | "enabled" => true,
                "false" | "disable" | "disabled" => false,
                "auto" => {
                    return Err(scope.err(
                        t.pos,
                        "'md5-base64 auto' is not supported by rhi: ExaBGP guesses (a key of only a-f and 0-9 is \
                         decoded as base64, any other is used as written); write md5-base64 true; or false;",
                    ))
                }
                _ => return Err(scope.err(t.pos, format!("'{}' is not a boolean: write true or false", t.text))),
            };
            set_once(&mut out.md5_base64, node, v, scope)
        }
        "md5-ip" => {
            let t = single(node, scope)?;
            let ip =
                t.text.parse::<IpAddr>().map_err(|_| scope.err(t.pos, format!("'{}' is not an IP address", t.text)))?;
            set_once(&mut out.md5_ip, node, ip, scope)
        }
        "group-updates" => {
            if !boolean(node, true, scope)? {
                scope.warn(
                    node.pos(),
                    "'group-updates false' is ignored: rhi always packs prefixes that share attributes into one UPDATE",
                );
            }
            Ok(())
        }
        "auto-flush" => {
            if !boolean(node, true, scope)? {
                scope.warn(
                    node.pos(),
                    "'auto-flush false' is ignored: rhi sends the routes of API processes as they arrive",
                );
            }
            Ok(())
        }
        "adj-rib-out" => {
            // ExaBGP's value when the word stands alone is false.
            if !boolean(node, false, scope)? {
                scope.warn(
                    node.pos(),
                    "'adj-rib-out false' is ignored: rhi always keeps what it sent, and resends it after a reconnect",
                );
            }
            Ok(())
        }
        "adj-rib-in" => {
            if boolean(node, false, scope)? {
                scope.warn(node.pos(), "'adj-rib-in true' is ignored: rhi does not store the routes it receives");
            }
            Ok(())
        }
        "manual-eor" => {
            if boolean(node, false, scope)? {
                scope.warn(
                    node.pos(),
                    "'manual-eor true' is ignored: rhi sends End-of-RIB itself, once every check has its first verdict",
                );
            }
            Ok(())
        }
        "rate-limit" => {
            match single(node, scope)?.text.to_ascii_lowercase().as_str() {
                "disable" | "disabled" => Ok(()),
                _ => Err(scope
                    .err(node.pos(), "'rate-limit' is not supported by rhi (it reads every message a router sends)")),
            }
        }
        "outgoing-ttl" | "incoming-ttl" => {
            let ttl = ttl_value(single(node, scope)?, kw, scope)?;
            let slot = if kw == "outgoing-ttl" { &mut out.outgoing_ttl } else { &mut out.incoming_ttl };
            set_once(slot, node, ttl, scope)
        }
        "ttl-security" => {
            // ExaBGP 3 (`_set_ttl`): the outgoing TTL, 255 when the keyword stands alone.
            let ttl = if node.words.len() == 1 { Some(255) } else { ttl_value(single(node, scope)?, kw, scope)? };
            scope.warn(
                node.pos(),
                format!(
                    "'ttl-security' is ExaBGP 3 syntax (ExaBGP 4 and 5 refuse it), where it set the outgoing TTL only: \
                     rhi reads it as {}; for GTSM (RFC 5082, the router's TTL checked too) write incoming-ttl 255;",
                    ttl.map_or("the default TTL".to_owned(), |t| format!("`ttl: {t}`"))
                ),
            );
            set_once(&mut out.ttl_security, node, ttl, scope)
        }
        "host-name" | "domain-name" => {
            single(node, scope)?;
            scope.warn(node.pos(), format!("'{kw}' is ignored: rhi does not send the FQDN capability"));
            Ok(())
        }
        "route" => {
            Err(scope.err(node.pos(), "a route belongs in a static block: static { route PREFIX next-hop IP; }"))
        }
        "attributes" => Err(scope.err(node.pos(), "'attributes ... nlri ...' belongs in a static block")),
        _ if NEIGHBOR_BLOCKS.contains(&kw) => Err(scope.err(node.pos(), format!("'{kw}' is a block: {kw} {{ ... }}"))),
        _ => Err(scope.err(
            node.pos(),
            format!(
                "unknown keyword '{kw}'{}",
                suggest(kw, NEIGHBOR_STATEMENTS.iter().chain(NEIGHBOR_BLOCKS).copied().collect::<Vec<_>>().as_slice())
            ),
        )),
    }
}

fn block(node: &Node, items: &[Node], scope: &mut Scope<'_>, out: &mut Body) -> Result<(), Problem> {
    let kw = node.keyword();
    if kw == "process" {
        return Err(scope.err(
            node.pos(),
            "a process block inside a neighbor is ExaBGP 3 syntax: define the process at the top level and \
             write api { processes [ NAME ]; } here",
        ));
    }
    if kw != "api" && node.words.len() > 1 {
        return Err(scope.err(node.words[1].pos, format!("write it as: {kw} {{ ... }}")));
    }
    match kw {
        "family" => family(node, items, scope, out),
        "capability" => capability(items, scope, out),
        "api" => api(node, items, scope, out),
        "static" => {
            for item in items {
                static_item(item, scope, &mut out.routes)?;
            }
            Ok(())
        }
        "announce" => {
            for item in items {
                announce_item(item, scope, &mut out.routes)?;
            }
            Ok(())
        }
        "flow" => Err(scope.err(node.pos(), "'flow' (FlowSpec, RFC 8955) is not supported by rhi")),
        "l2vpn" => Err(scope.err(node.pos(), "'l2vpn' (VPLS) is not supported by rhi")),
        "operational" => Err(scope.err(node.pos(), "'operational' messages are not supported by rhi")),
        "add-path" => Err(scope.err(node.pos(), "'add-path' (RFC 7911) is not supported by rhi")),
        "nexthop" => {
            Err(scope.err(node.pos(), "'nexthop' (IPv4 routes with IPv6 next hops, RFC 8950) is not supported by rhi"))
        }
        _ if NEIGHBOR_STATEMENTS.contains(&kw) => {
            Err(scope.err(node.pos(), format!("'{kw}' is a statement, not a block: {kw} VALUE;")))
        }
        _ => Err(scope.err(node.pos(), format!("unknown block '{kw}'{}", suggest(kw, NEIGHBOR_BLOCKS)))),
    }
}

fn family(node: &Node, items: &[Node], scope: &mut Scope<'_>, out: &mut Body) -> Result<(), Problem> {
    let families = out.families.get_or_insert_with(|| Families { pos: node.pos(), list: Vec::new(), all: None });
    for item in items {
        if item.body.is_some() {
            return Err(scope.err(item.pos(), "a family block lists families: ipv4 unicast; ipv6 unicast;"));
        }
        let words: Vec<&str> = item.words.iter().map(|t| t.text.as_str()).collect();
        let family = match words.as_slice() {
            ["all"] => {
                if !families.list.is_empty() {
                    return Err(
                        scope.err(item.pos(), "'all' cannot be combined with other families (ExaBGP refuses it too)")
                    );
                }
                families.all = Some(item.pos());
                continue;
            }
            ["ipv4", "unicast"] => Family::IPV4_UNICAST,
            ["ipv6", "unicast"] => Family::IPV6_UNICAST,
            ["ipv4", safi @ ("multicast" | "nlri-mpls" | "mpls-vpn" | "flow" | "flow-vpn" | "rtc")]
            | ["ipv6", safi @ ("multicast" | "nlri-mpls" | "mpls-vpn" | "flow" | "flow-vpn")]
            | ["l2vpn", safi @ ("vpls" | "evpn")]
            | ["bgp-ls", safi @ ("bgp-ls" | "bgp-ls-vpn")] => {
                return Err(scope.err(
                    item.pos(),
                    format!("family {} {safi} is not supported by rhi (only ipv4 unicast and ipv6 unicast)", words[0]),
                ))
            }
            ["minimal"] => return Err(scope.err(item.pos(), "'family minimal' is deprecated (ExaBGP refuses it too)")),
            _ => {
                return Err(scope.err(
                    item.pos(),
                    format!("'{}' is not a family: write ipv4 unicast; or ipv6 unicast;", item.text()),
                ))
            }
        };
        if families.all.is_some() {
            return Err(scope.err(item.pos(), "no family can be added after 'all' (ExaBGP refuses it too)"));
        }
        if let Some(first) = families.list.iter().find(|f| f.value == family) {
            return Err(
                scope.err(item.pos(), format!("{} is listed twice (first at line {})", item.text(), first.pos.line))
            );
        }
        families.list.push(Set { value: family, pos: item.pos(), text: item.text() });
    }
    Ok(())
}

fn capability(items: &[Node], scope: &mut Scope<'_>, out: &mut Body) -> Result<(), Problem> {
    for item in items {
        let kw = item.keyword();
        if item.body.is_some() {
            return Err(scope.err(item.pos(), format!("'{kw}' cannot be a block inside capability")));
        }
        match kw {
            "asn4" => {
                if !boolean(item, true, scope)? {
                    return Err(scope.err(
                        item.pos(),
                        "'asn4 disable' is not supported: rhi always uses 4-octet AS numbers (RFC 6793)",
                    ));
                }
            }
            "route-refresh" => {
                if !boolean(item, true, scope)? {
                    scope.warn(
                        item.pos(),
                        "'route-refresh disable' is ignored: rhi always offers route refresh (RFC 2918) and answers it",
                    );
                }
            }
            "extended-message" => {
                if !boolean(item, true, scope)? {
                    scope.warn(
                        item.pos(),
                        "'extended-message disable' is ignored: rhi always offers extended messages (RFC 8654)",
                    );
                }
            }
            "graceful-restart" => {
                // ExaBGP's `gracefulrestart`: alone (or 0) = the hold-time, `disable`, or seconds.
                let time = if item.words.len() == 1 {
                    Some(0)
                } else {
                    let t = single(item, scope)?;
                    match t.text.as_str() {
                        "disable" | "disabled" => None,
                        text => match text.parse::<u32>() {
                            Ok(n @ 0..=4095) => Some(n as u16),
                            Ok(_) => {
                                return Err(scope.err(
                                    t.pos,
                                    format!(
                                        "graceful-restart {text}: the restart time is at most 4095 seconds (a 12-bit \
                                         field, RFC 4724)"
                                    ),
                                ))
                            }
                            Err(_) => {
                                return Err(
                                    scope.err(t.pos, format!("'{text}' is not a graceful-restart time in seconds"))
                                )
                            }
                        },
                    }
                };
                set_once(&mut out.graceful_restart, item, time, scope)?;
            }
            "add-path" => {
                let off = matches!(
                    item.words.get(1).map(|t| t.text.to_ascii_lowercase()).as_deref(),
                    Some("disable" | "disabled")
                );
                if !off || item.words.len() > 2 {
                    return Err(scope.err(
                        item.pos(),
                        "'add-path' (RFC 7911) is not supported by rhi: remove it, or write add-path disable;",
                    ));
                }
            }
            "multi-session" | "operational" | "nexthop" | "aigp" => {
                if boolean(item, true, scope)? {
                    return Err(scope.err(
                        item.pos(),
                        format!("capability '{kw}' is not supported by rhi: remove it, or write {kw} disable;"),
                    ));
                }
            }
            other => {
                return Err(scope.err(
                    item.pos(),
                    format!(
                        "unknown capability '{other}'{}",
                        suggest(other, &["asn4", "route-refresh", "extended-message", "graceful-restart", "add-path"])
                    ),
                ))
            }
        }
    }
    Ok(())
}

const API_FLAGS: &[&str] = &["neighbor-changes", "negotiated", "fsm", "signal"];
const API_MESSAGES: &[&str] =
    &["parsed", "packets", "consolidate", "open", "update", "notification", "keepalive", "refresh", "operational"];

/// `api [NAME] { processes [ ... ]; neighbor-changes; send { ... } receive { ... } }`. Which events
/// a process is sent is rhi's own choice (see the module documentation); the names are checked.
fn api(node: &Node, items: &[Node], scope: &mut Scope<'_>, out: &mut Body) -> Result<(), Problem> {
    if node.words.len() > 2 {
        return Err(scope.err(node.words[2].pos, "write it as: api { processes [ NAME ]; } or api NAME { ... }"));
    }
    for item in items {
        let kw = item.keyword();
        match (kw, &item.body) {
            ("processes", None) => {
                for t in bracket_list(item, scope)? {
                    if !out.processes.iter().any(|p| p.value == t.text) {
                        out.processes.push(Set { value: t.text.clone(), pos: t.pos, text: item.text() });
                    }
                }
            }
            (_, None) if API_FLAGS.contains(&kw) => {
                boolean(item, true, scope)?;
            }
            ("send" | "receive", Some(inner)) => {
                for message in inner {
                    let m = message.keyword();
                    if message.body.is_some() || !API_MESSAGES.contains(&m) {
                        return Err(
                            scope.err(message.pos(), format!("unknown {kw} option '{m}'{}", suggest(m, API_MESSAGES)))
                        );
                    }
                    boolean(message, true, scope)?;
                }
            }
            ("processes-match", _) => {
                return Err(scope.err(
                    item.pos(),
                    "'processes-match' is not supported by rhi: list the names with processes [ ... ]",
                ))
            }
            _ => {
                let known: Vec<&str> = ["processes", "send", "receive"].iter().chain(API_FLAGS).copied().collect();
                return Err(scope.err(item.pos(), format!("unknown api keyword '{kw}'{}", suggest(kw, &known))));
            }
        }
    }
    Ok(())
}

fn static_item(node: &Node, scope: &mut Scope<'_>, routes: &mut Vec<Route>) -> Result<(), Problem> {
    match (node.keyword(), &node.body) {
        ("route", None) => {
            let Some(prefix) = node.words.get(1) else {
                return Err(scope.err(node.pos(), "'route' needs a prefix: route PREFIX next-hop IP ...;"));
            };
            let mut route = new_route(prefix, scope)?;
            attributes(&node.words[2..], &mut route, scope)?;
            push_route(route, node, scope, routes)
        }
        ("route", Some(inner)) => {
            // The ExaBGP 3 form: route PREFIX { next-hop IP; med N; }
            if node.words.len() != 2 {
                return Err(scope.err(node.pos(), "write it as: route PREFIX { next-hop IP; ... }"));
            }
            let mut route = new_route(&node.words[1], scope)?;
            for item in inner {
                if item.body.is_some() {
                    return Err(scope.err(item.pos(), "a route block holds attributes: next-hop IP; med N; ..."));
                }
                attributes(&item.words, &mut route, scope)?;
            }
            push_route(route, node, scope, routes)
        }
        ("attributes", None) => {
            // attributes ATTRS... nlri PREFIX PREFIX...;
            let args = &node.words[1..];
            let Some(split) = args.iter().position(|t| t.kind == Kind::Word && t.text == "nlri") else {
                return Err(scope.err(
                    node.pos(),
                    "'attributes' needs its prefixes after 'nlri': attributes next-hop IP nlri P1 P2;",
                ));
            };
            let prefixes = &args[split + 1..];
            if prefixes.is_empty() {
                return Err(scope.err(args[split].pos, "'nlri' needs at least one prefix"));
            }
            for prefix in prefixes {
                let mut route = new_route(prefix, scope)?;
                attributes(&args[..split], &mut route, scope)?;
                push_route(route, node, scope, routes)?;
            }
            Ok(())
        }
        (kw, _) => {
            Err(scope.err(node.pos(), format!("unknown keyword '{kw}' in a static block (it holds route statements)")))
        }
    }
}

fn announce_item(node: &Node, scope: &mut Scope<'_>, routes: &mut Vec<Route>) -> Result<(), Problem> {
    let (afi, items) = match (node.keyword(), &node.body) {
        (afi @ ("ipv4" | "ipv6"), Some(items)) if node.words.len() == 1 => (afi, items),
        ("l2vpn", _) => return Err(scope.err(node.pos(), "'l2vpn' (VPLS) is not supported by rhi")),
        _ => return Err(scope.err(node.pos(), "an announce block holds ipv4 { ... } and ipv6 { ... } blocks")),
    };
    for item in items {
        match (item.keyword(), &item.body) {
            ("unicast", None) => {
                let Some(prefix) = item.words.get(1) else {
                    return Err(scope.err(item.pos(), "'unicast' needs a prefix: unicast PREFIX next-hop IP ...;"));
                };
                let route = {
                    let mut r = new_route(prefix, scope)?;
                    attributes(&item.words[2..], &mut r, scope)?;
                    r
                };
                if (afi == "ipv4") != route.prefix.addr().is_ipv4() {
                    return Err(scope.err(prefix.pos, format!("{} is not an {afi} prefix", route.prefix)));
                }
                push_route(route, item, scope, routes)?;
            }
            (safi, _) => {
                return Err(
                    scope.err(item.pos(), format!("'{afi} {safi}' routes are not supported by rhi (only unicast)"))
                )
            }
        }
    }
    Ok(())
}

fn new_route(prefix: &Token, scope: &Scope<'_>) -> Result<Route, Problem> {
    Ok(Route {
        prefix: parse_prefix(prefix, scope)?,
        pos: prefix.pos,
        next_hop: None,
        med: None,
        local_pref: None,
        communities: Vec::new(),
        large_communities: Vec::new(),
        as_path: None,
        template: None,
    })
}

/// A route must say where traffic goes, and a prefix is announced once per block.
fn push_route(route: Route, node: &Node, scope: &Scope<'_>, routes: &mut Vec<Route>) -> Result<(), Problem> {
    if route.next_hop.is_none() {
        return Err(
            scope.err(route.pos, format!("route {} has no next-hop: add next-hop self or next-hop IP", route.prefix))
        );
    }
    if let Some(first) = routes.iter().find(|r| r.prefix == route.prefix) {
        return Err(
            scope.err(node.pos(), format!("route {} is given twice (first at line {})", route.prefix, first.pos.line))
        );
    }
    routes.push(route);
    Ok(())
}

fn parse_prefix(t: &Token, scope: &Scope<'_>) -> Result<IpNet, Problem> {
    let text = t.text.as_str();
    let net = match text.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match text.parse::<IpAddr>() {
            // ExaBGP reads a bare address as a host route.
            Ok(a) => IpNet::from(a),
            Err(_) => return Err(scope.err(t.pos, format!("'{text}' is not a prefix (e.g. 10.46.46.46/32)"))),
        },
    };
    if net.trunc() != net {
        return Err(scope.err(t.pos, format!("{net} has host bits set; did you mean {}?", net.trunc())));
    }
    Ok(net)
}

/// Reads `KEYWORD VALUE` pairs of a route.
fn attributes(tokens: &[Token], route: &mut Route, scope: &Scope<'_>) -> Result<(), Problem> {
    let mut cur = Cursor { tokens, i: 0 };
    let mut seen: Vec<(&str, Position)> = Vec::new();
    while let Some(kw_token) = cur.next() {
        let kw = kw_token.text.as_str();
        if !kw_token.is_word() {
            return Err(scope.err(kw_token.pos, format!("unexpected '{kw}': a route attribute name was expected")));
        }
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == kw) {
            return Err(scope.err(
                kw_token.pos,
                format!(
                    "'{kw}' is given twice for route {} (first at column {}; ExaBGP would keep the first)",
                    route.prefix, first.column
                ),
            ));
        }
        seen.push((kw, kw_token.pos));
        match kw {
            "next-hop" => {
                let v = cur.value(kw_token, scope)?;
                let nh = if v.text.eq_ignore_ascii_case("self") {
                    RouteNextHop::SelfAddress
                } else {
                    let a = v.text.parse::<IpAddr>().map_err(|_| {
                        scope.err(v.pos, format!("'{}' is not a next-hop: write self or an IP address", v.text))
                    })?;
                    if a.is_unspecified() || a.is_multicast() {
                        return Err(scope.err(v.pos, format!("{a} is not a usable next-hop")));
                    }
                    RouteNextHop::Address(a)
                };
                route.next_hop = Some(Set { value: nh, pos: kw_token.pos, text: format!("next-hop {}", v.text) });
            }
            "med" | "local-preference" => {
                let v = cur.value(kw_token, scope)?;
                let n = v
                    .text
                    .parse::<u32>()
                    .map_err(|_| scope.err(v.pos, format!("'{}' is not a valid {kw} (0 to 4294967295)", v.text)))?;
                if kw == "med" {
                    route.med = Some(n);
                } else {
                    route.local_pref = Some(n);
                }
            }
            "community" => {
                for v in cur.list(kw_token, scope, false)? {
                    let c = community(&v.text).map_err(|m| scope.err(v.pos, m))?;
                    if !route.communities.contains(&c) {
                        route.communities.push(c);
                    }
                }
            }
            "large-community" => {
                for v in cur.list(kw_token, scope, false)? {
                    let c = large_community(&v.text).map_err(|m| scope.err(v.pos, m))?;
                    if !route.large_communities.contains(&c) {
                        route.large_communities.push(c);
                    }
                }
            }
            "as-path" => {
                let mut path = Vec::new();
                let values = cur.list(kw_token, scope, true)?;
                for v in &values {
                    if v.text.starts_with('(') || v.text.ends_with(')') || v.kind == Kind::LBracket {
                        return Err(scope.err(v.pos, "an AS_SET in as-path is not supported by rhi (RFC 6472 deprecates them)"));
                    }
                    path.push(parse_asn(&v.text).ok_or_else(|| scope.err(v.pos, format!("'{}' is not an AS number", v.text)))?);
                }
                let text = format!("as-path [ {} ]", path.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
                route.as_path = Some(Set { value: path, pos: kw_token.pos, text });
            }
            "origin" => {
                let v = cur.value(kw_token, scope)?;
                match v.text.to_ascii_lowercase().as_str() {
                    "igp" => {}
                    "egp" | "incomplete" => {
                        return Err(scope.err(
                            v.pos,
                            format!("'origin {}' is not supported by rhi: its routes have origin igp", v.text),
                        ))
                    }
                    _ => return Err(scope.err(v.pos, format!("'{}' is not an origin: igp, egp or incomplete", v.text))),
                }
            }
            "extended-community" => {
                return Err(scope.err(
                    kw_token.pos,
                    "'extended-community' on configured routes is not supported by rhi yet (an API process can announce it)",
                ))
            }
            "rd" | "route-distinguisher" | "label" => {
                return Err(scope.err(kw_token.pos, format!("'{kw}' (MPLS/VPN routes) is not supported by rhi")))
            }
            "split" => {
                return Err(scope.err(kw_token.pos, "'split' is not supported by rhi: list the smaller prefixes one by one"))
            }
            "watchdog" | "withdraw" => {
                return Err(scope.err(
                    kw_token.pos,
                    format!("'{kw}' is not supported by rhi: an API process announces and withdraws routes itself"),
                ))
            }
            "path-information" | "atomic-aggregate" | "aggregator" | "originator-id" | "cluster-list" | "aigp"
            | "attribute" | "name" | "bgp-prefix-sid" | "bgp-prefix-sid-srv6" => {
                return Err(scope.err(kw_token.pos, format!("route attribute '{kw}' is not supported by rhi")))
            }
            _ => {
                return Err(scope.err(
                    kw_token.pos,
                    format!("unknown route attribute '{kw}'{}", suggest(kw, ROUTE_ATTRIBUTES)),
                ))
            }
        }
    }
    Ok(())
}

const ROUTE_ATTRIBUTES: &[&str] =
    &["next-hop", "med", "local-preference", "community", "large-community", "as-path", "origin"];

struct Cursor<'a> {
    tokens: &'a [Token],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.i)?;
        self.i += 1;
        Some(t)
    }

    /// The one word after `kw`.
    fn value(&mut self, kw: &Token, scope: &Scope<'_>) -> Result<&'a Token, Problem> {
        match self.next() {
            Some(t) if t.is_word() => Ok(t),
            Some(t) => Err(scope.err(t.pos, format!("'{}' needs a value, not '{}'", kw.text, t.text))),
            None => Err(scope.err(kw.pos, format!("'{}' needs a value", kw.text))),
        }
    }

    /// One value, or `[ v1 v2 ... ]` (with `,` between values when `commas`, as ExaBGP's as-path).
    fn list(&mut self, kw: &Token, scope: &Scope<'_>, commas: bool) -> Result<Vec<&'a Token>, Problem> {
        let Some(first) = self.next() else {
            return Err(scope.err(kw.pos, format!("'{}' needs a value or a [ list ]", kw.text)));
        };
        if first.kind != Kind::LBracket {
            return if first.is_word() {
                Ok(vec![first])
            } else {
                Err(scope.err(first.pos, format!("'{}' needs a value, not '{}'", kw.text, first.text)))
            };
        }
        let mut out = Vec::new();
        loop {
            match self.next() {
                None => return Err(scope.err(first.pos, "this '[' is never closed (missing ']')")),
                Some(t) if t.kind == Kind::RBracket => return Ok(out),
                Some(t) if t.kind == Kind::Comma && commas => {}
                Some(t) if t.is_word() || t.kind == Kind::LBracket => out.push(t),
                Some(t) => return Err(scope.err(t.pos, format!("unexpected '{}' in the {} list", t.text, kw.text))),
            }
        }
    }
}

/// ExaBGP's community forms: `A:B`, a number (decimal or 0x hex), or a well-known name.
fn community(text: &str) -> Result<u32, String> {
    let named = match text.to_ascii_lowercase().as_str() {
        "no-export" => Some(0xFFFF_FF01),
        "no-advertise" => Some(0xFFFF_FF02),
        "no-export-subconfed" => Some(0xFFFF_FF03),
        "nopeer" | "no-peer" => Some(0xFFFF_FF04),
        "blackhole" => Some(0xFFFF_029A),
        _ => None,
    };
    if let Some(v) = named {
        return Ok(v);
    }
    let bad = || {
        format!("'{text}' is not a community: write AS:VALUE (both at most 65535), a number, or no-export, no-advertise, no-export-subconfed, no-peer, blackhole")
    };
    if let Some((high, low)) = text.split_once(':') {
        let high = digits(high).and_then(|h| u16::try_from(h).ok()).ok_or_else(bad)?;
        let low = digits(low).and_then(|l| u16::try_from(l).ok()).ok_or_else(bad)?;
        return Ok((u32::from(high) << 16) | u32::from(low));
    }
    let n = match text.get(..2) {
        Some("0x" | "0X") => u64::from_str_radix(&text[2..], 16).ok(),
        _ => digits(text),
    };
    n.and_then(|n| u32::try_from(n).ok()).ok_or_else(bad)
}

/// `A:B:C`, or one 96-bit number as ExaBGP also reads.
fn large_community(text: &str) -> Result<LargeCommunity, String> {
    let bad = || format!("'{text}' is not a large community: write GLOBAL:LOCAL1:LOCAL2, each at most 4294967295");
    let parts: Vec<&str> = text.split(':').collect();
    if let [a, b, c] = parts.as_slice() {
        let n = |s: &str| digits(s).and_then(|v| u32::try_from(v).ok());
        return match (n(a), n(b), n(c)) {
            (Some(global), Some(local1), Some(local2)) => Ok(LargeCommunity { global, local1, local2 }),
            _ => Err(bad()),
        };
    }
    let n = match text.get(..2) {
        Some("0x" | "0X") => u128::from_str_radix(&text[2..], 16).ok(),
        _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse::<u128>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >> 96 == 0 => {
            Ok(LargeCommunity { global: (n >> 64) as u32, local1: (n >> 32) as u32, local2: n as u32 })
        }
        _ => Err(bad()),
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `65001`, or asdot `1.10` (= 65546).
fn parse_asn(text: &str) -> Option<u32> {
    if let Some((high, low)) = text.split_once('.') {
        let high = u16::try_from(digits(high)?).ok()?;
        let low = u16::try_from(digits(low)?).ok()?;
        return Some((u32::from(high) << 16) | u32::from(low));
    }
    u32::try_from(digits(text)?).ok()
}

/// ExaBGP's `ttl`: 0 to 255, or false/disable/disabled; 0 and those leave the TTL alone.
fn ttl_value(t: &Token, kw: &str, scope: &Scope<'_>) -> Result<Option<u8>, Problem> {
    if matches!(t.text.as_str(), "false" | "disable" | "disabled") {
        return Ok(None);
    }
    match digits(&t.text) {
        Some(0) => Ok(None),
        Some(n @ 1..=255) => Ok(Some(n as u8)),
        Some(_) => Err(scope.err(t.pos, format!("{kw} {}: a TTL is at most 255 (ExaBGP refuses it too)", t.text))),
        None => Err(scope.err(t.pos, format!("'{}' is not a TTL: write 1 to 255, or disable", t.text))),
    }
}

/// The one value of a statement.
fn single<'a>(node: &'a Node, scope: &Scope<'_>) -> Result<&'a Token, Problem> {
    match node.words.as_slice() {
        [_, value] if value.is_word() => Ok(value),
        [kw] => Err(scope.err(kw.pos, format!("'{}' needs a value", kw.text))),
        [kw, value] => Err(scope.err(value.pos, format!("'{}' needs a value, not '{}'", kw.text, value.text))),
        [kw, _, extra, ..] => {
            Err(scope.err(extra.pos, format!("'{}' takes one value; quote it if it contains spaces", kw.text)))
        }
        [] => unreachable!("a statement has at least its keyword"),
    }
}

/// ExaBGP's booleans: true/enable/enabled, false/disable/disabled; the keyword alone means
/// `alone` (ExaBGP's per-keyword default).
fn boolean(node: &Node, alone: bool, scope: &Scope<'_>) -> Result<bool, Problem> {
    if node.words.len() == 1 {
        return Ok(alone);
    }
    let t = single(node, scope)?;
    match t.text.to_ascii_lowercase().as_str() {
        "true" | "enable" | "enabled" => Ok(true),
        "false" | "disable" | "disabled" => Ok(false),
        _ => Err(scope.err(t.pos, format!("'{}' is not a boolean: write true or false", t.text))),
    }
}

/// `NAME` or `[ NAME NAME ... ]`.
fn names_list<'a>(node: &'a Node, scope: &Scope<'_>) -> Result<Vec<&'a Token>, Problem> {
    if node.words.len() == 2 && node.words[1].is_word() {
        return Ok(vec![&node.words[1]]);
    }
    bracket_list(node, scope)
}

/// `KEYWORD [ a b , c ]` (ExaBGP skips commas here).
fn bracket_list<'a>(node: &'a Node, scope: &Scope<'_>) -> Result<Vec<&'a Token>, Problem> {
    let kw = node.keyword();
    let args = &node.words[1..];
    let usage = || format!("write it as: {kw} [ NAME ... ]");
    match (args.first(), args.last()) {
        (Some(open), Some(close)) if open.kind == Kind::LBracket && close.kind == Kind::RBracket && args.len() >= 2 => {
            let mut out = Vec::new();
            for t in &args[1..args.len() - 1] {
                match t.kind {
                    Kind::Comma => {}
                    Kind::Word | Kind::Quoted => out.push(t),
                    _ => return Err(scope.err(t.pos, format!("unexpected '{}': {}", t.text, usage()))),
                }
            }
            Ok(out)
        }
        (Some(open), _) => Err(scope.err(open.pos, usage())),
        _ => Err(scope.err(node.pos(), usage())),
    }
}

fn set_once<T>(slot: &mut Option<Set<T>>, node: &Node, value: T, scope: &Scope<'_>) -> Result<(), Problem> {
    if let Some(first) = slot {
        return Err(scope.err(
            node.pos(),
            format!("'{}' is given twice in this block (first at line {})", node.keyword(), first.pos.line),
        ));
    }
    *slot = Some(Set { value, pos: node.pos(), text: node.text() });
    Ok(())
}

/// "; did you mean 'x'?" for a likely typo of one of `candidates`.
fn suggest(word: &str, candidates: &[&str]) -> String {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("; did you mean '{c}'?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
