//! ExaBGP's text API: the commands a health-check program prints on its stdout, one per line
//! (`announce route 10.46.46.46/32 next-hop self med 100`), parsed the way ExaBGP 4.x/5.x parses
//! them, plus the target-first `peer`/`daemon`/`session`/`system`/`rib` grammar of ExaBGP's main
//! branch.
//!
//! Pure: no I/O, no allocation beyond a bound set by the input ([`MAX_LINE`], [`MAX_PREFIXES`]),
//! no panic on any input (see the proptests below and `fuzz/fuzz_targets/exabgp_api.rs`).
//!
//! How ExaBGP reads a line, and what this module copies from it (paths in Exa-Networks/exabgp):
//! - `reactor/api/processes.py` yields `formated(line)`: `[`, `]`, `(`, `)` and `,` become tokens
//!   of their own even without spaces around them (`configuration/core/format.py`); so here.
//!   A line starting with `debug ` is only logged and gets no answer.
//! - `reactor/api/command/limit.py` `extract_neighbors`: the `neighbor <ip> [key value]...`
//!   prefix, descriptions separated by `,`; a description matches a peer when each of its terms
//!   does, and the term `neighbor *` matches everything (the terms after it are never looked at).
//! - `configuration/static/__init__.py` `route()` / `attributes()` and
//!   `configuration/static/parser.py`: the attributes, the prefix (no length = /32 or /128; host
//!   bits set is an error), `split /N`; `configuration/static/route.py`: an IPv4 unicast
//!   announcement needs a next hop. `bgp/message/update/attribute/attributes.py` `add()`: an
//!   attribute given twice keeps its first value, except extended communities, which add up.
//! - `reactor/api/__init__.py` `api_eor` (no family = IPv4 unicast) and `api_refresh`;
//!   `reactor/api/command/rib.py` and `neighbor.py` for `flush`, `clear`, `show`;
//!   `reactor/api/command/reactor.py` for the one-word commands; `reactor/api/dispatch/v6.py` and
//!   `dispatch/common.py` for the `peer <selector> ...` grammar.
//!
//! Where rhi refuses what ExaBGP accepts, the error says so ("... is not supported by rhi")
//! rather than dropping the attribute: a route must never go out with less than was asked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::bgp::attributes::{community, parse_community, LargeCommunity, Origin};
use crate::bgp::Family;
use crate::policy::Announcement;

/// A longer line is refused before it is looked at (the process reader caps lines at the same
/// size).
pub const MAX_LINE: usize = 64 * 1024;
/// At most this many prefixes from one line, `split` included.
pub const MAX_PREFIXES: usize = 100_000;

/// One API command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiCommand {
    /// `announce route P ATTRS`, `announce attributes ATTRS nlri P...`, `announce ipv4|ipv6
    /// unicast P ATTRS`. Every prefix of one line carries the same attributes, held once (a
    /// `split /24` of a /8 is 65,536 prefixes: one copy of the attributes, not 65,536).
    Announce {
        selectors: Vec<Selector>,
        prefixes: Vec<IpNet>,
        attributes: RouteAttributes,
    },
    /// `withdraw route P [ATTRS]`, `withdraw attributes [ATTRS] nlri P...`: the attributes are
    /// checked, then ignored (a route is withdrawn by its prefix).
    Withdraw {
        selectors: Vec<Selector>,
        prefixes: Vec<IpNet>,
    },
    /// `announce eor [AFI SAFI]`. None: no family given, which ExaBGP sends as the IPv4 unicast
    /// End-of-RIB (`api_eor` returns `Family(1, 1)`).
    Eor {
        selectors: Vec<Selector>,
        family: Option<Family>,
    },
    /// `announce route-refresh AFI SAFI`.
    RouteRefresh {
        selectors: Vec<Selector>,
        family: Family,
    },
    /// `flush adj-rib out`: send the Adj-RIB-Out again.
    FlushAdjRibOut {
        selectors: Vec<Selector>,
    },
    /// `clear adj-rib [out]`: withdraw everything announced.
    ClearAdjRibOut {
        selectors: Vec<Selector>,
    },
    /// `show neighbor [IP] [summary|extensive|configuration] [json]`. With neither a view nor
    /// `json`, ExaBGP prints a two-line hint.
    ShowNeighbor {
        neighbor: Option<IpAddr>,
        view: Option<NeighborView>,
        json: bool,
    },
    /// `show adj-rib out [IP] [extensive] [json]` (also `show adj-rib-out`).
    ShowAdjRibOut {
        neighbor: Option<IpAddr>,
        extensive: bool,
        json: bool,
    },
    Shutdown,
    Reload,
    Restart,
    Version,
    /// Answered `done`, then no more answers.
    DisableAck,
    EnableAck,
    /// No more answers, not even to this command.
    SilenceAck,
    /// `# text`: answered `done`, nothing else.
    Comment(String),
    /// `debug text`: ExaBGP logs it and sends no answer at all.
    Debug(String),
}

/// The views of `show neighbor`; given several, ExaBGP shows the first of summary, extensive,
/// configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NeighborView {
    Summary,
    Extensive,
    Configuration,
}

/// One peer description of a `neighbor ...` (or `peer ...`) prefix: a peer is selected when it
/// has every property given. A command's selectors are alternatives; none means every peer of
/// the process, which is also what `neighbor *` means (so `*` is never kept as a selector).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    pub neighbor: IpAddr,
    pub local_ip: Option<IpAddr>,
    pub local_as: Option<u32>,
    pub peer_as: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    /// ExaBGP names a peer `... family-allowed in-open` unless it runs multi-session, which rhi
    /// does not: only `in-open` can match.
    pub family_allowed: Option<String>,
}

/// What a [`Selector`] is matched against: one configured peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    pub address: IpAddr,
    pub local_ip: Option<IpAddr>,
    pub local_as: u32,
    pub peer_as: u32,
    pub router_id: Ipv4Addr,
}

impl Selector {
    pub fn new(neighbor: IpAddr) -> Selector {
        Selector { neighbor, local_ip: None, local_as: None, peer_as: None, router_id: None, family_allowed: None }
    }

    pub fn matches(&self, peer: &PeerIdentity) -> bool {
        self.neighbor == peer.address
            && self.local_ip.is_none_or(|ip| peer.local_ip == Some(ip))
            && self.local_as.is_none_or(|asn| asn == peer.local_as)
            && self.peer_as.is_none_or(|asn| asn == peer.peer_as)
            && self.router_id.is_none_or(|id| id == peer.router_id)
            && self.family_allowed.as_deref().is_none_or(|family| family == "in-open")
    }
}

/// True when `peer` is among those `selectors` name (all peers when there are none).
pub fn selects(selectors: &[Selector], peer: &PeerIdentity) -> bool {
    selectors.is_empty() || selectors.iter().any(|selector| selector.matches(peer))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// `next-hop self`: the local address of each session.
    Self_,
    Ip(IpAddr),
}

/// The attributes of an announcement as the API line gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouteAttributes {
    pub next_hop: Option<NextHop>,
    pub origin: Option<Origin>,
    /// `as-path [ ... ]`: the whole AS_PATH, sent as given (see [`RouteAttributes::to_announcement`]).
    pub as_path: Option<Vec<u32>>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    /// RFC 4360 values, 8 octets each.
    pub extended_communities: Vec<[u8; 8]>,
    pub atomic_aggregate: bool,
}

impl RouteAttributes {
    /// The policy form. `next-hop self` becomes no next hop (the session's own, per peer).
    ///
    /// AS path: ExaBGP sends an explicit `as-path` exactly as given, also toward eBGP peers; it
    /// adds its own AS only when no path was given (`Attributes.pack` in
    /// `bgp/message/update/attribute/attributes.py`: default `ASPath([SEQUENCE([local_asn])])`
    /// on eBGP, `ASPath([])` on iBGP). So an explicit path (even `as-path [ ]`) becomes
    /// `as_path` with `as_path_exact` set, which tells the speaker not to put `local_as` in
    /// front; without one, `as_path` is empty and not exact, and the speaker adds its AS as for
    /// any route.
    pub fn to_announcement(&self) -> Announcement {
        Announcement {
            origin: self.origin,
            as_path: self.as_path.clone().unwrap_or_default(),
            as_path_exact: self.as_path.is_some(),
            as_path_prepend: 0,
            med: self.med,
            local_pref: self.local_pref,
            communities: self.communities.clone(),
            large_communities: self.large_communities.clone(),
            extended_communities: self.extended_communities.clone(),
            atomic_aggregate: self.atomic_aggregate,
            next_hop: match self.next_hop {
                Some(NextHop::Ip(ip)) => Some(ip),
                Some(NextHop::Self_) | None => None,
            },
        }
    }
}

impl ApiCommand {
    /// The peers the command is for (empty: all of the process's peers, or not a peer command).
    pub fn selectors(&self) -> &[Selector] {
        match self {
            ApiCommand::Announce { selectors, .. }
            | ApiCommand::Withdraw { selectors, .. }
            | ApiCommand::Eor { selectors, .. }
            | ApiCommand::RouteRefresh { selectors, .. }
            | ApiCommand::FlushAdjRibOut { selectors }
            | ApiCommand::ClearAdjRibOut { selectors } => selectors,
            _ => &[],
        }
    }
}

/// Why a line is not a command rhi can run. The message quotes the offending token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty command")]
    Empty,
    #[error("command of {0} bytes: at most {max} are read", max = MAX_LINE)]
    TooLong(usize),
    #[error("more than {max} prefixes in one command", max = MAX_PREFIXES)]
    TooManyPrefixes,
    #[error("unknown command `{0}`")]
    Unknown(String),
    /// Valid for ExaBGP, refused by rhi.
    #[error("{0} is not supported by rhi")]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ParseError {
    ParseError::Invalid(message.into())
}

fn unsupported(what: impl Into<String>) -> ParseError {
    ParseError::Unsupported(what.into())
}

/// A token for an error message: long ones are cut (the line can be 64 KiB of one token).
fn q(token: &str) -> String {
    const MAX: usize = 64;
    if token.len() <= MAX {
        return format!("`{token}`");
    }
    let mut end = MAX;
    while !token.is_char_boundary(end) {
        end -= 1;
    }
    format!("`{}...`", &token[..end])
}

/// Parses one line as ExaBGP would (surrounding whitespace ignored).
pub fn parse(line: &str) -> Result<ApiCommand, ParseError> {
    if line.len() > MAX_LINE {
        return Err(ParseError::TooLong(line.len()));
    }
    let line = line.trim();
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    if line.contains(['\n', '\r']) {
        return Err(invalid("several lines in one command: ExaBGP reads one command per line"));
    }
    if let Some(text) = line.strip_prefix('#') {
        return Ok(ApiCommand::Comment(text.trim().to_owned()));
    }
    if let Some(text) = line.strip_prefix("debug ") {
        return Ok(ApiCommand::Debug(text.trim().to_owned()));
    }
    let mut tokens = Tokens::new(line);
    // Route lines go through ExaBGP's configuration parser, which takes a final `;`.
    if tokens.list.last() == Some(&";") {
        tokens.list.pop();
    }
    let Some(first) = tokens.next() else { return Err(ParseError::Unknown(line.to_owned())) };
    match first {
        "neighbor" => {
            let selectors = neighbor_selectors(&mut tokens)?;
            selected_command(Some(selectors), &mut tokens)
        }
        "peer" => v6_peer(&mut tokens),
        "daemon" | "session" | "system" | "rib" => v6_command(first, &mut tokens),
        _ => {
            tokens.pos -= 1;
            selected_command(None, &mut tokens)
        }
    }
}

/// The tokens of a line, split as ExaBGP's `formated()` does.
struct Tokens<'a> {
    list: Vec<&'a str>,
    pos: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Word,
    Space,
    /// `[ ] ( ) , ;`: a token by itself.
    Special,
}

impl Mark {
    fn of(space: bool, ch: char) -> Mark {
        match ch {
            _ if space => Mark::Space,
            '[' | ']' | '(' | ')' | ',' | ';' => Mark::Special,
            _ => Mark::Word,
        }
    }
}

impl<'a> Tokens<'a> {
    fn new(line: &'a str) -> Tokens<'a> {
        // The usual line is ASCII: read as bytes, not chars. A million-route feed is 15 MB of
        // text, and decoding it char by char was a tenth of the daemon's time. The marks are
        // ASCII either way, and ASCII's whitespace is `char::is_whitespace`'s (vertical tab too).
        if line.is_ascii() {
            let marks = line
                .bytes()
                .enumerate()
                .map(|(i, byte)| (i, Mark::of(byte.is_ascii_whitespace() || byte == b'\x0b', char::from(byte))));
            Tokens::split(line, marks)
        } else {
            Tokens::split(line, line.char_indices().map(|(i, ch)| (i, Mark::of(ch.is_whitespace(), ch))))
        }
    }

    /// Tokens between separators; a special mark is a token of its own.
    fn split(line: &'a str, marks: impl Iterator<Item = (usize, Mark)>) -> Tokens<'a> {
        let mut list = Vec::new();
        let mut start = None;
        for (i, mark) in marks {
            if mark == Mark::Word {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                list.push(&line[s..i]);
            }
            if mark == Mark::Special {
                list.push(&line[i..i + 1]);
            }
        }
        if let Some(s) = start {
            list.push(&line[s..]);
        }
        Tokens { list, pos: 0 }
    }

    fn next(&mut self) -> Option<&'a str> {
        let token = self.list.get(self.pos).copied();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn peek(&self) -> Option<&'a str> {
        self.list.get(self.pos).copied()
    }

    fn remaining(&self) -> usize {
        self.list.len() - self.pos
    }

    /// The next token, which `what` needs.
    fn value(&mut self, what: &str) -> Result<&'a str, ParseError> {
        self.next().ok_or_else(|| invalid(format!("missing value after `{what}`")))
    }

    /// The next token must be `keyword`.
    fn keyword(&mut self, keyword: &str, after: &str) -> Result<(), ParseError> {
        match self.next() {
            Some(token) if token == keyword => Ok(()),
            Some(token) => Err(invalid(format!("expected `{keyword}` after `{after}`, found {}", q(token)))),
            None => Err(invalid(format!("expected `{keyword}` after `{after}`"))),
        }
    }

    /// Nothing may follow `command`.
    fn end(&mut self, command: &str) -> Result<(), ParseError> {
        match self.next() {
            None => Ok(()),
            Some(token) => Err(invalid(format!("unexpected {} after `{command}`", q(token)))),
        }
    }
}

// ------------------------------------------------------------------------------------ selectors

const SELECTOR_KEYS: [&str; 5] = ["local-ip", "local-as", "peer-as", "router-id", "family-allowed"];

/// One description being read: the terms before a `neighbor *` count, those after it do not.
#[derive(Default)]
struct Description {
    neighbor: Option<IpAddr>,
    local_ip: Option<IpAddr>,
    local_as: Option<u32>,
    peer_as: Option<u32>,
    router_id: Option<Ipv4Addr>,
    family_allowed: Option<String>,
    wildcard: bool,
    terms: usize,
}

fn set_once<T: PartialEq + fmt::Display>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), ParseError> {
    match slot {
        Some(old) if *old != value => {
            Err(invalid(format!("one neighbor selector gives `{key}` both {old} and {value}: it would match no peer")))
        }
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

impl Description {
    fn term(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        self.terms += 1;
        let mut ignored = Description::default();
        // ExaBGP's match_neighbor returns "match" on reaching `neighbor *`: later terms are
        // checked for syntax here but do not narrow the selection.
        let target = if self.wildcard { &mut ignored } else { self };
        match key {
            "neighbor" if value == "*" => target.wildcard = true,
            "neighbor" => set_once(&mut target.neighbor, neighbor_address(value)?, key)?,
            "local-ip" => set_once(&mut target.local_ip, ip_value(value, key)?, key)?,
            "local-as" => set_once(&mut target.local_as, asn(value)?, key)?,
            "peer-as" => set_once(&mut target.peer_as, asn(value)?, key)?,
            "router-id" => {
                let id = Ipv4Addr::from_str(value)
                    .map_err(|_| invalid(format!("router-id {} is not an IPv4 address", q(value))))?;
                set_once(&mut target.router_id, id, key)?
            }
            "family-allowed" => {
                if is_punctuation(value) {
                    return Err(invalid(format!("missing value after `family-allowed`, found {}", q(value))));
                }
                set_once(&mut target.family_allowed, value.to_owned(), key)?
            }
            _ => return Err(invalid(format!("{} is not a neighbor selector key", q(key)))),
        }
        Ok(())
    }

    /// None: every peer.
    fn finish(self) -> Result<Option<Selector>, ParseError> {
        let Some(neighbor) = self.neighbor else {
            if self.wildcard {
                return Ok(None);
            }
            return Err(invalid("a neighbor selector must start with `neighbor <ip>` or `neighbor *`"));
        };
        Ok(Some(Selector {
            neighbor,
            local_ip: self.local_ip,
            local_as: self.local_as,
            peer_as: self.peer_as,
            router_id: self.router_id,
            family_allowed: self.family_allowed,
        }))
    }
}

fn is_punctuation(token: &str) -> bool {
    matches!(token, "[" | "]" | "(" | ")" | "," | ";")
}

fn neighbor_address(value: &str) -> Result<IpAddr, ParseError> {
    IpAddr::from_str(value).map_err(|_| invalid(format!("{} is not a neighbor address (an IP or `*`)", q(value))))
}

fn ip_value(value: &str, key: &str) -> Result<IpAddr, ParseError> {
    IpAddr::from_str(value).map_err(|_| invalid(format!("{key} {} is not an IP address", q(value))))
}

/// The descriptions in, the selectors out: any description selecting every peer makes all of
/// them selected.
fn collect_selectors(descriptions: Vec<Description>) -> Result<Vec<Selector>, ParseError> {
    let mut selectors = Vec::with_capacity(descriptions.len());
    let mut everyone = false;
    for description in descriptions {
        match description.finish()? {
            Some(selector) => selectors.push(selector),
            None => everyone = true,
        }
    }
    if everyone {
        selectors.clear();
    }
    Ok(selectors)
}

/// `neighbor <ip>|* [key value]... [, [neighbor <ip>] [key value]...]...`, the first `neighbor`
/// already read (ExaBGP's `extract_neighbors`; `neighbor` may repeat inside one description, as
/// healthcheck.py's `neighbor A, neighbor B neighbor * announce ...` does).
fn neighbor_selectors(tokens: &mut Tokens) -> Result<Vec<Selector>, ParseError> {
    let mut descriptions = Vec::new();
    let mut current = Description::default();
    let first = tokens.value("neighbor")?;
    current.term("neighbor", first)?;
    loop {
        match tokens.peek() {
            Some(",") => {
                tokens.next();
                if current.terms > 0 {
                    descriptions.push(std::mem::take(&mut current));
                }
            }
            Some(key) if key == "neighbor" || SELECTOR_KEYS.contains(&key) => {
                tokens.next();
                let value = tokens.value(key)?;
                current.term(key, value)?;
            }
            _ => break,
        }
    }
    if current.terms > 0 {
        descriptions.push(current);
    }
    collect_selectors(descriptions)
}

/// The selector of ExaBGP main's `peer <selector> ...`: `*`, `<ip> [key value]...`, or
/// `[ <ip> [key value]... , <ip> ... ]` (`dispatch/common.py` `extract_selector`).
fn v6_selectors(tokens: &mut Tokens) -> Result<Vec<Selector>, ParseError> {
    let first = tokens.value("peer")?;
    if first == "*" {
        return Ok(Vec::new());
    }
    let mut descriptions = Vec::new();
    if first != "[" {
        let mut current = Description::default();
        current.term("neighbor", first)?;
        while let Some(key) = tokens.peek().filter(|key| SELECTOR_KEYS.contains(key)) {
            tokens.next();
            let value = tokens.value(key)?;
            current.term(key, value)?;
        }
        descriptions.push(current);
        return collect_selectors(descriptions);
    }
    let mut current = Description::default();
    loop {
        match tokens.next() {
            None => return Err(invalid("missing `]` to close the peer selector")),
            Some("]") => break,
            Some(",") => {
                if current.terms > 0 {
                    descriptions.push(std::mem::take(&mut current));
                }
            }
            Some(token) if current.terms == 0 => current.term("neighbor", token)?,
            Some(key) if SELECTOR_KEYS.contains(&key) => {
                let value = tokens.value(key)?;
                current.term(key, value)?;
            }
            Some(token) => return Err(invalid(format!("{} is not a peer selector key", q(token)))),
        }
    }
    if current.terms > 0 {
        descriptions.push(current);
    }
    if descriptions.is_empty() {
        return Err(invalid("empty peer selector `[ ]`"));
    }
    collect_selectors(descriptions)
}

// ------------------------------------------------------------------------------------- commands

/// Commands ExaBGP knows and rhi does not run.
const UNSUPPORTED_COMMANDS: [&str; 13] = [
    "help",
    "teardown",
    "reset",
    "crash",
    "enable-sync",
    "disable-sync",
    "ping",
    "bye",
    "status",
    "queue-status",
    "api",
    "create",
    "delete",
];

/// What follows the selectors (None: the line had none).
fn selected_command(selectors: Option<Vec<Selector>>, tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let given = selectors.is_some();
    let selectors = selectors.unwrap_or_default();
    let Some(command) = tokens.next() else {
        return Err(invalid("missing command after the neighbor selector"));
    };
    match command {
        "announce" => announce(selectors, tokens),
        "withdraw" => withdraw(selectors, tokens),
        "flush" => {
            tokens.keyword("adj-rib", "flush")?;
            tokens.keyword("out", "flush adj-rib")?;
            tokens.end("flush adj-rib out")?;
            Ok(ApiCommand::FlushAdjRibOut { selectors })
        }
        "clear" => {
            tokens.keyword("adj-rib", "clear")?;
            clear_adj_rib(selectors, tokens)
        }
        "teardown" => Err(unsupported("`teardown`")),
        _ if given && (is_global(command) || UNSUPPORTED_COMMANDS.contains(&command)) => {
            Err(invalid(format!("`{command}` does not take a neighbor selector")))
        }
        _ => global(command, tokens),
    }
}

fn is_global(command: &str) -> bool {
    matches!(
        command,
        "shutdown" | "reload" | "restart" | "version" | "disable-ack" | "enable-ack" | "silence-ack" | "show"
    )
}

fn global(command: &str, tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let parsed = match command {
        "shutdown" => ApiCommand::Shutdown,
        "reload" => ApiCommand::Reload,
        "restart" => ApiCommand::Restart,
        "version" => ApiCommand::Version,
        "disable-ack" => ApiCommand::DisableAck,
        "enable-ack" => ApiCommand::EnableAck,
        "silence-ack" => ApiCommand::SilenceAck,
        "show" => return show(tokens),
        _ if UNSUPPORTED_COMMANDS.contains(&command) => return Err(unsupported(format!("`{command}`"))),
        _ => return Err(ParseError::Unknown(command.to_owned())),
    };
    tokens.end(command)?;
    Ok(parsed)
}

fn clear_adj_rib(selectors: Vec<Selector>, tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    // ExaBGP 4: `clear adj-rib` alone clears the Adj-RIB-Out.
    match tokens.next() {
        None | Some("out") => {
            tokens.end("clear adj-rib out")?;
            Ok(ApiCommand::ClearAdjRibOut { selectors })
        }
        Some("in") => Err(unsupported("`clear adj-rib in` (rhi keeps no Adj-RIB-In)")),
        Some(token) => Err(invalid(format!("expected `out` after `clear adj-rib`, found {}", q(token)))),
    }
}

fn show(tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    match tokens.next() {
        Some("neighbor") => show_neighbor(tokens),
        Some("adj-rib") => match tokens.next() {
            Some("out") => show_adj_rib_out(tokens),
            Some("in") => Err(unsupported("`show adj-rib in` (rhi keeps no Adj-RIB-In)")),
            Some(token) => Err(invalid(format!("expected `out` after `show adj-rib`, found {}", q(token)))),
            None => Err(invalid("expected `out` after `show adj-rib`")),
        },
        Some("adj-rib-out") => show_adj_rib_out(tokens),
        Some("adj-rib-in") => Err(unsupported("`show adj-rib-in` (rhi keeps no Adj-RIB-In)")),
        Some(token) => Err(ParseError::Unknown(format!("show {token}"))),
        None => Err(invalid("missing what to show after `show` (neighbor, adj-rib out)")),
    }
}

/// The words of `show neighbor`, in any order (`reactor/api/command/neighbor.py`).
fn show_neighbor(tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let (mut summary, mut extensive, mut configuration, mut json) = (false, false, false, false);
    let mut neighbor = None;
    while let Some(token) = tokens.next() {
        match token {
            "summary" => summary = true,
            "extensive" => extensive = true,
            "configuration" => configuration = true,
            "json" => json = true,
            "text" => {}
            _ => match IpAddr::from_str(token) {
                Ok(ip) if neighbor.is_none() => neighbor = Some(ip),
                _ => {
                    return Err(invalid(format!(
                        "{} is not an option of `show neighbor` (summary, extensive, configuration, json, \
                         or one neighbor address)",
                        q(token)
                    )))
                }
            },
        }
    }
    let view = if summary {
        Some(NeighborView::Summary)
    } else if extensive {
        Some(NeighborView::Extensive)
    } else if configuration {
        Some(NeighborView::Configuration)
    } else {
        None
    };
    Ok(ApiCommand::ShowNeighbor { neighbor, view, json })
}

/// The words of `show adj-rib out` (`reactor/api/command/rib.py`).
fn show_adj_rib_out(tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let (mut extensive, mut json) = (false, false);
    let mut neighbor = None;
    while let Some(token) = tokens.next() {
        match token {
            "extensive" => extensive = true,
            "json" => json = true,
            // rhi's Adj-RIB-Out holds only inet routes: that filter keeps them all.
            "text" | "inet" => {}
            "flow" | "l2vpn" => return Err(unsupported(format!("`show adj-rib out {token}`"))),
            _ => match IpAddr::from_str(token) {
                Ok(ip) if neighbor.is_none() => neighbor = Some(ip),
                _ => {
                    return Err(invalid(format!(
                        "{} is not an option of `show adj-rib out` (extensive, json, or one neighbor address)",
                        q(token)
                    )))
                }
            },
        }
    }
    Ok(ApiCommand::ShowAdjRibOut { neighbor, extensive, json })
}

/// ExaBGP main's target-first commands (`reactor/api/dispatch/v6.py`), the first word read.
fn v6_command(first: &str, tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let second = tokens.next().unwrap_or("");
    let command = format!("{first} {second}");
    let parsed = match (first, second) {
        ("daemon", "shutdown") => ApiCommand::Shutdown,
        ("daemon", "reload") => ApiCommand::Reload,
        ("daemon", "restart") => ApiCommand::Restart,
        ("daemon", "status") | ("session", "sync" | "reset" | "ping" | "bye") => {
            return Err(unsupported(format!("`{command}`")))
        }
        ("session", "ack") => {
            let third = tokens.value("session ack")?;
            let parsed = match third {
                "enable" => ApiCommand::EnableAck,
                "disable" => ApiCommand::DisableAck,
                "silence" => ApiCommand::SilenceAck,
                _ => return Err(ParseError::Unknown(format!("session ack {third}"))),
            };
            tokens.end(&format!("session ack {third}"))?;
            return Ok(parsed);
        }
        ("system", "version") => ApiCommand::Version,
        ("system", "help" | "crash" | "queue-status" | "api") => return Err(unsupported(format!("`{command}`"))),
        ("rib", "show") => {
            return match tokens.next() {
                Some("out") => show_adj_rib_out(tokens),
                Some("in") => Err(unsupported("`rib show in` (rhi keeps no Adj-RIB-In)")),
                _ => Err(invalid("expected `out` after `rib show`")),
            }
        }
        ("rib", "flush") => {
            tokens.keyword("out", "rib flush")?;
            tokens.end("rib flush out")?;
            return Ok(ApiCommand::FlushAdjRibOut { selectors: Vec::new() });
        }
        ("rib", "clear") => {
            return match tokens.next() {
                Some("out") => {
                    tokens.end("rib clear out")?;
                    Ok(ApiCommand::ClearAdjRibOut { selectors: Vec::new() })
                }
                Some("in") => Err(unsupported("`rib clear in` (rhi keeps no Adj-RIB-In)")),
                _ => Err(invalid("expected `out` after `rib clear`")),
            }
        }
        _ => return Err(ParseError::Unknown(command.trim_end().to_owned())),
    };
    tokens.end(&command)?;
    Ok(parsed)
}

/// `peer show ...`, `peer <selector> announce|withdraw ...`.
fn v6_peer(tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    match tokens.peek() {
        Some("show") => {
            tokens.next();
            show_neighbor(tokens)
        }
        Some(word @ ("list" | "create" | "delete" | "teardown" | "disable" | "enable" | "group")) => {
            Err(unsupported(format!("`peer {word}`")))
        }
        _ => {
            let selectors = v6_selectors(tokens)?;
            selected_command(Some(selectors), tokens)
        }
    }
}

// ---------------------------------------------------------------------------- announce/withdraw

/// Families that only exist in ExaBGP.
const UNSUPPORTED_NLRI: [&str; 7] = ["flow", "vpls", "watchdog", "operational", "vpn", "evpn", "l2vpn"];

fn announce(selectors: Vec<Selector>, tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let Some(what) = tokens.next() else {
        return Err(invalid("missing what to announce after `announce` (route, attributes, eor, route-refresh)"));
    };
    match what {
        "route" => {
            let prefix = parse_prefix(tokens.value("announce route")?)?;
            let (attributes, split) = attributes(tokens, Form::Route)?;
            let prefixes = split_prefix(prefix, split)?;
            announcement(selectors, prefixes, attributes)
        }
        "ipv4" | "ipv6" => {
            let prefix = unicast_prefix(what, tokens)?;
            let (attributes, split) = attributes(tokens, Form::Route)?;
            let prefixes = split_prefix(prefix, split)?;
            announcement(selectors, prefixes, attributes)
        }
        "attribute" | "attributes" => {
            let (attributes, _) = attributes(tokens, Form::Attributes)?;
            let prefixes = nlri(tokens)?;
            announcement(selectors, prefixes, attributes)
        }
        "eor" => {
            let family = match tokens.remaining() {
                0 => None,
                2 => Some(family(tokens)?),
                _ => return Err(invalid("`announce eor` takes no family or an AFI and a SAFI (ipv4 unicast)")),
            };
            Ok(ApiCommand::Eor { selectors, family })
        }
        "route-refresh" => {
            if tokens.remaining() != 2 {
                return Err(invalid("`announce route-refresh` takes an AFI and a SAFI (ipv4 unicast)"));
            }
            let family = family(tokens)?;
            Ok(ApiCommand::RouteRefresh { selectors, family })
        }
        _ if UNSUPPORTED_NLRI.contains(&what) => Err(unsupported(format!("`announce {what}`"))),
        _ => Err(ParseError::Unknown(format!("announce {what}"))),
    }
}

fn withdraw(selectors: Vec<Selector>, tokens: &mut Tokens) -> Result<ApiCommand, ParseError> {
    let Some(what) = tokens.next() else {
        return Err(invalid("missing what to withdraw after `withdraw` (route, attributes)"));
    };
    let prefixes = match what {
        "route" => {
            let prefix = parse_prefix(tokens.value("withdraw route")?)?;
            let (_, split) = attributes(tokens, Form::Route)?;
            split_prefix(prefix, split)?
        }
        "ipv4" | "ipv6" => {
            let prefix = unicast_prefix(what, tokens)?;
            let (_, split) = attributes(tokens, Form::Route)?;
            split_prefix(prefix, split)?
        }
        "attribute" | "attributes" => {
            attributes(tokens, Form::Attributes)?;
            nlri(tokens)?
        }
        _ if UNSUPPORTED_NLRI.contains(&what) => return Err(unsupported(format!("`withdraw {what}`"))),
        _ => return Err(ParseError::Unknown(format!("withdraw {what}"))),
    };
    Ok(ApiCommand::Withdraw { selectors, prefixes })
}

/// `ipv4 unicast P` / `ipv6 unicast P` (ExaBGP's `api_announce_v4`/`v6`), `ipv4|ipv6` read.
fn unicast_prefix(afi: &str, tokens: &mut Tokens) -> Result<IpNet, ParseError> {
    let safi = tokens.value(afi)?;
    if safi != "unicast" {
        return Err(unsupported(format!("`{afi} {safi}` (rhi speaks unicast only)")));
    }
    let prefix = parse_prefix(tokens.value(&format!("{afi} unicast"))?)?;
    if (afi == "ipv4") != matches!(prefix, IpNet::V4(_)) {
        return Err(invalid(format!("{prefix} is not an {afi} prefix")));
    }
    Ok(prefix)
}

/// The checks ExaBGP makes before an announcement, and rhi's own.
fn announcement(
    selectors: Vec<Selector>,
    prefixes: Vec<IpNet>,
    attributes: RouteAttributes,
) -> Result<ApiCommand, ParseError> {
    let Some(first) = prefixes.first() else { return Err(invalid("no prefix to announce")) };
    let Some(next_hop) = attributes.next_hop else {
        // configuration/static/route.py refuses an IPv4 unicast announcement without one;
        // rhi refuses it for IPv6 too (MP_REACH_NLRI cannot be sent without one).
        return Err(invalid(format!("announcing {first} needs a next hop: add `next-hop self` or `next-hop <ip>`")));
    };
    if let NextHop::Ip(ip) = next_hop {
        if let Some(prefix) = prefixes.iter().find(|prefix| prefix.addr().is_ipv4() != ip.is_ipv4()) {
            return Err(unsupported(format!(
                "next hop {ip} for {prefix} (a next hop of the other address family, RFC 8950)"
            )));
        }
    }
    Ok(ApiCommand::Announce { selectors, prefixes, attributes })
}

/// `nlri P1 P2 ...` after `announce attributes`, `nlri` read: every token left is a prefix.
fn nlri(tokens: &mut Tokens) -> Result<Vec<IpNet>, ParseError> {
    let count = tokens.remaining();
    if count == 0 {
        return Err(invalid("missing prefixes after `nlri`"));
    }
    if count > MAX_PREFIXES {
        return Err(ParseError::TooManyPrefixes);
    }
    let mut prefixes = Vec::with_capacity(count);
    while let Some(token) = tokens.next() {
        let prefix = parse_prefix(token)?;
        if let Some(first) = prefixes.first() {
            if matches!(first, IpNet::V4(_)) != matches!(prefix, IpNet::V4(_)) {
                // ExaBGP builds every NLRI of the line in the family of one of them.
                return Err(invalid(format!("{first} and {prefix} in one `nlri` list: one address family per line")));
            }
        }
        prefixes.push(prefix);
    }
    Ok(prefixes)
}

/// `split /N`: the prefix cut into its /N subnets, or itself when it is no shorter.
fn split_prefix(prefix: IpNet, split: Option<u8>) -> Result<Vec<IpNet>, ParseError> {
    let Some(len) = split else { return Ok(vec![prefix]) };
    if len > prefix.max_prefix_len() {
        return Err(invalid(format!("`split /{len}`: {prefix} has at most /{} subnets", prefix.max_prefix_len())));
    }
    if len <= prefix.prefix_len() {
        return Ok(vec![prefix]);
    }
    let bits = u32::from(len - prefix.prefix_len());
    if bits > 63 || (1u64 << bits) > MAX_PREFIXES as u64 {
        return Err(ParseError::TooManyPrefixes);
    }
    let subnets = prefix.subnets(len).map_err(|_| invalid(format!("cannot split {prefix} into /{len}")))?;
    Ok(subnets.collect())
}

/// A prefix as ExaBGP's `prefix()` reads it: no length = a host route; host bits set = error.
fn parse_prefix(token: &str) -> Result<IpNet, ParseError> {
    match canonical_ipv4_prefix(token.as_bytes()) {
        Some(prefix) => Ok(IpNet::V4(prefix)),
        None => any_prefix(token),
    }
}

fn any_prefix(token: &str) -> Result<IpNet, ParseError> {
    let (address, length) = match token.split_once('/') {
        Some((address, length)) => (address, Some(length)),
        None => (token, None),
    };
    let ip = IpAddr::from_str(address).map_err(|_| invalid(format!("{} is not a prefix", q(token))))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let length = match length {
        None => max,
        Some(length) => match length.parse::<u8>() {
            Ok(n) if n <= max && length.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(invalid(format!("{}: prefix length {} is not in 0..={max}", q(token), q(length)))),
        },
    };
    let net = IpNet::new(ip, length).map_err(|_| invalid(format!("{} is not a prefix", q(token))))?;
    if net.trunc() != net {
        return Err(invalid(format!("{}: host bits set, the network is {}", q(token), net.trunc())));
    }
    Ok(net)
}

/// `a.b.c.d/len` written the one way a program writes it (no leading zeros, no host bits): the
/// bulk of a million-route feed, read without the general parser. Anything else is `None` and
/// goes to `parse_prefix`'s general path, which accepts or refuses it with the reason.
fn canonical_ipv4_prefix(token: &[u8]) -> Option<ipnet::Ipv4Net> {
    fn number(bytes: &[u8], max: u32) -> Option<u32> {
        match bytes {
            [] => None,
            [b'0', _, ..] => None,
            _ if bytes.len() > 3 => None,
            _ => {
                let mut value = 0u32;
                for &b in bytes {
                    if !b.is_ascii_digit() {
                        return None;
                    }
                    value = value * 10 + u32::from(b - b'0');
                }
                (value <= max).then_some(value)
            }
        }
    }
    let mut parts = token.split(|&b| b == b'/');
    let mut octets = parts.next()?.split(|&b| b == b'.');
    let mut addr = 0u32;
    for _ in 0..4 {
        addr = addr << 8 | number(octets.next()?, 255)?;
    }
    if octets.next().is_some() {
        return None;
    }
    let len = match parts.next() {
        Some(len) => number(len, 32)?,
        None => 32,
    };
    if parts.next().is_some() || (len < 32 && addr & (u32::MAX >> len) != 0) {
        return None;
    }
    ipnet::Ipv4Net::new(addr.into(), len as u8).ok()
}

// ----------------------------------------------------------------------------------- attributes

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `route P ATTRS` to the end of the line.
    Route,
    /// `attributes ATTRS nlri ...`: stops at `nlri`.
    Attributes,
}

/// Attributes ExaBGP knows and rhi cannot send.
const UNSUPPORTED_ATTRIBUTES: [&str; 14] = [
    "aggregator",
    "originator-id",
    "cluster-list",
    "path-information",
    "label",
    "rd",
    "route-distinguisher",
    "aigp",
    "attribute",
    "bgp-prefix-sid",
    "bgp-prefix-sid-srv6",
    "name",
    "watchdog",
    "withdraw",
];

/// The attribute list; an attribute given twice keeps its first value (ExaBGP's
/// `Attributes.add`), extended communities add up, a second next hop is an error (ExaBGP keeps
/// the first in the attribute and the last in the NLRI).
fn attributes(tokens: &mut Tokens, form: Form) -> Result<(RouteAttributes, Option<u8>), ParseError> {
    let mut attributes = RouteAttributes::default();
    let mut split = None;
    let (mut communities, mut large_communities) = (false, false);
    loop {
        let Some(name) = tokens.next() else {
            if form == Form::Attributes {
                return Err(invalid("missing `nlri` and the prefixes after the attributes"));
            }
            break;
        };
        match name {
            "nlri" if form == Form::Attributes => break,
            "next-hop" => {
                let next_hop = next_hop(tokens.value(name)?)?;
                if attributes.next_hop.is_some() {
                    return Err(invalid("`next-hop` given twice"));
                }
                attributes.next_hop = Some(next_hop);
            }
            "origin" => {
                let origin = origin(tokens.value(name)?)?;
                attributes.origin.get_or_insert(origin);
            }
            "as-path" => {
                let path = as_path(tokens)?;
                attributes.as_path.get_or_insert(path);
            }
            "med" => {
                let med = number(tokens.value(name)?, "MED")?;
                attributes.med.get_or_insert(med);
            }
            "local-preference" => {
                let local_pref = number(tokens.value(name)?, "local-preference")?;
                attributes.local_pref.get_or_insert(local_pref);
            }
            "community" => {
                let list = list(tokens, name, exabgp_community)?;
                if !std::mem::replace(&mut communities, true) {
                    attributes.communities = dedup(list);
                }
            }
            "large-community" => {
                let list = list(tokens, name, large_community)?;
                if !std::mem::replace(&mut large_communities, true) {
                    attributes.large_communities = dedup(list);
                }
            }
            "extended-community" => {
                for value in list(tokens, name, extended_community)? {
                    if !attributes.extended_communities.contains(&value) {
                        attributes.extended_communities.push(value);
                    }
                }
            }
            "atomic-aggregate" => attributes.atomic_aggregate = true,
            "split" if form == Form::Route => {
                let value = tokens.value(name)?;
                let len = value
                    .strip_prefix('/')
                    .filter(|len| !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|len| len.parse::<u8>().ok())
                    .ok_or_else(|| invalid(format!("`split` takes /<length>, not {}", q(value))))?;
                split.get_or_insert(len);
            }
            "split" => return Err(unsupported("`split` in `announce attributes` (ExaBGP ignores it there)")),
            _ if UNSUPPORTED_ATTRIBUTES.contains(&name) => return Err(unsupported(format!("attribute `{name}`"))),
            _ => return Err(invalid(format!("unknown attribute {}", q(name)))),
        }
    }
    Ok((attributes, split))
}

fn dedup<T: PartialEq>(list: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(list.len());
    for item in list {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// `[ a b ... ]` or a single value.
fn list<T>(
    tokens: &mut Tokens,
    name: &str,
    parse: impl Fn(&str) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    let first = tokens.value(name)?;
    if first != "[" {
        if is_punctuation(first) {
            return Err(invalid(format!("missing value after `{name}`, found {}", q(first))));
        }
        return Ok(vec![parse(first)?]);
    }
    let mut out = Vec::new();
    loop {
        match tokens.next() {
            None => return Err(invalid(format!("missing `]` to close the `{name}` list"))),
            Some("]") => return Ok(out),
            Some("[") => return Err(invalid(format!("`[` inside the `{name}` list"))),
            Some(value) => out.push(parse(value)?),
        }
    }
}

fn next_hop(value: &str) -> Result<NextHop, ParseError> {
    if value.eq_ignore_ascii_case("self") {
        return Ok(NextHop::Self_);
    }
    IpAddr::from_str(value)
        .map(NextHop::Ip)
        .map_err(|_| invalid(format!("next-hop {} is neither `self` nor an IP address", q(value))))
}

fn origin(value: &str) -> Result<Origin, ParseError> {
    match value.to_ascii_lowercase().as_str() {
        "igp" => Ok(Origin::Igp),
        "egp" => Ok(Origin::Egp),
        "incomplete" => Ok(Origin::Incomplete),
        _ => Err(invalid(format!("origin {} is not igp, egp or incomplete", q(value)))),
    }
}

fn digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

fn number(value: &str, what: &str) -> Result<u32, ParseError> {
    match value.parse::<u32>() {
        Ok(n) if digits(value) => Ok(n),
        _ => Err(invalid(format!("{what} {} is not a number in 0..=4294967295", q(value)))),
    }
}

fn asn(value: &str) -> Result<u32, ParseError> {
    match value.parse::<u32>() {
        Ok(n) if digits(value) => Ok(n),
        _ => Err(invalid(format!("{} is not an AS number (0..=4294967295)", q(value)))),
    }
}

/// `as-path [ 65001 65002 ]` (several `[ ]` in a row are one sequence), `as-path 65001`.
fn as_path(tokens: &mut Tokens) -> Result<Vec<u32>, ParseError> {
    let first = tokens.value("as-path")?;
    match first {
        "[" => {}
        "(" => return Err(unsupported("an AS_SET in `as-path ( ... )`")),
        _ if is_punctuation(first) => {
            return Err(invalid(format!("missing value after `as-path`, found {}", q(first))))
        }
        _ => return Ok(vec![asn(first)?]),
    }
    let mut path = Vec::new();
    loop {
        match tokens.next() {
            None => return Err(invalid("missing `]` to close the `as-path` list")),
            Some("]") => match tokens.peek() {
                Some("[") => {
                    tokens.next();
                }
                Some("(") => return Err(unsupported("an AS_SET in `as-path ( ... )`")),
                _ => return Ok(path),
            },
            // ExaBGP skips commas between AS numbers.
            Some(",") => {}
            Some(token) if token.starts_with(['{', '}']) => {
                return Err(unsupported("an AS_CONFED segment in `as-path [ { ... } ]`"))
            }
            Some(token) if is_punctuation(token) => {
                return Err(invalid(format!("{} inside the `as-path` list", q(token))))
            }
            Some(token) => path.push(asn(token)?),
        }
    }
}

/// A community as ExaBGP's `_community` reads it: `A:B`, `0x` hex, a decimal, or a name
/// (case-insensitive; `nopeer` is ExaBGP's spelling of `no-peer`).
fn exabgp_community(value: &str) -> Result<u32, ParseError> {
    let bad = |why: String| invalid(format!("community {}: {why}", q(value)));
    if let Some(hex) = value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("not a hexadecimal number".into()));
        }
        return u32::from_str_radix(hex, 16).map_err(|_| bad("more than 32 bits".into()));
    }
    if value.eq_ignore_ascii_case("nopeer") {
        return Ok(community::NO_PEER);
    }
    if let Some((high, low)) = value.split_once(':') {
        if !digits(high) || !digits(low) {
            return Err(bad("write ASN:VALUE with two numbers in 0..=65535".into()));
        }
    }
    parse_community(value).map_err(bad)
}

/// `A:B:C` (three 32-bit numbers) or one decimal of at most 96 bits (ExaBGP's
/// `_large_community`).
fn large_community(value: &str) -> Result<LargeCommunity, ParseError> {
    let bad = || invalid(format!("large community {}: write GLOBAL:LOCAL1:LOCAL2, each in 0..=4294967295", q(value)));
    if digits(value) {
        let n = value.parse::<u128>().ok().filter(|n| n >> 96 == 0).ok_or_else(bad)?;
        return Ok(LargeCommunity::new((n >> 64) as u32, (n >> 32) as u32, n as u32));
    }
    let mut parts = value.split(':');
    let mut part = || parts.next().filter(|p| digits(p)).and_then(|p| p.parse::<u32>().ok());
    let (global, local1, local2) = (part(), part(), part());
    match (global, local1, local2, parts.next()) {
        (Some(global), Some(local1), Some(local2), None) => Ok(LargeCommunity::new(global, local1, local2)),
        _ => Err(bad()),
    }
}

/// RFC 4360 type/sub-type of route target and route origin.
const EXT_TWO_OCTET_AS: u8 = 0x00;
const EXT_IPV4: u8 = 0x01;
const EXT_FOUR_OCTET_AS: u8 = 0x02;
const EXT_ROUTE_TARGET: u8 = 0x02;
const EXT_ROUTE_ORIGIN: u8 = 0x03;

/// An extended community as ExaBGP's `_extended_community` reads it: `target:G:L` or `G:L`
/// (route target), `origin:G:L`, with G an ASN (`L` suffix: 4-octet even when small) or an IPv4
/// address, or `0x` and 16 hex digits. Encoded per RFC 4360 / RFC 5668: 2-octet AS 0x00, IPv4
/// 0x01, 4-octet AS 0x02; sub-type 0x02 target, 0x03 origin. (ExaBGP itself gives 4-octet AS
/// values the IPv4 type 0x01: rhi follows the RFC.)
fn extended_community(value: &str) -> Result<[u8; 8], ParseError> {
    let bad = |why: &str| invalid(format!("extended community {}: {why}", q(value)));
    if !value.contains(':') {
        if let Some(hex) = value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
            if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("write 0x and 16 hexadecimal digits (8 octets)"));
            }
            let raw = u64::from_str_radix(hex, 16).map_err(|_| bad("not hexadecimal"))?;
            return Ok(raw.to_be_bytes());
        }
        if value == "redirect-to-nexthop" {
            return Err(unsupported("extended community `redirect-to-nexthop`"));
        }
        return Err(bad("expected target:ASN:N, origin:ASN:N, ASN:N or 0x<16 hex digits>"));
    }
    let parts: Vec<&str> = value.splitn(4, ':').collect();
    let (kind, global, local) = match parts[..] {
        [global, local] => ("target", global, local),
        [kind, global, local] => (kind, global, local),
        _ => return Err(bad("too many `:`")),
    };
    let subtype = match kind {
        "target" => EXT_ROUTE_TARGET,
        "origin" => EXT_ROUTE_ORIGIN,
        "redirect" | "l2info" | "bandwidth" | "mup" | "redirect-to-nexthop" => {
            return Err(unsupported(format!("extended community type `{kind}`")))
        }
        _ => return Err(bad("the type is neither `target` nor `origin`")),
    };
    // ExaBGP's `_integer` accepts a trailing `L` on any number.
    let number = |part: &str| -> Option<(u64, bool)> {
        let (digits_part, long) = match part.strip_suffix('L') {
            Some(stripped) => (stripped, true),
            None => (part, false),
        };
        digits(digits_part).then(|| digits_part.parse::<u64>().ok()).flatten().map(|n| (n, long))
    };
    let (local, _) = number(local).ok_or_else(|| bad("the local part is not a number"))?;
    let mut out = [0u8; 8];
    out[1] = subtype;
    if global.contains('.') {
        let ip = Ipv4Addr::from_str(global).map_err(|_| bad("the global part is not an IPv4 address"))?;
        let local = u16::try_from(local).map_err(|_| bad("the local part of an IPv4 form is at most 65535"))?;
        out[0] = EXT_IPV4;
        out[2..6].copy_from_slice(&ip.octets());
        out[6..8].copy_from_slice(&local.to_be_bytes());
        return Ok(out);
    }
    let (asn, long) =
        number(global).ok_or_else(|| bad("the global part is neither an AS number nor an IPv4 address"))?;
    if long || asn > u64::from(u16::MAX) {
        let asn = u32::try_from(asn).map_err(|_| bad("the AS number is more than 32 bits"))?;
        let local = u16::try_from(local).map_err(|_| bad("the local part of a 4-octet AS form is at most 65535"))?;
        out[0] = EXT_FOUR_OCTET_AS;
        out[2..6].copy_from_slice(&asn.to_be_bytes());
        out[6..8].copy_from_slice(&local.to_be_bytes());
    } else {
        let local = u32::try_from(local).map_err(|_| bad("the local part is more than 32 bits"))?;
        out[0] = EXT_TWO_OCTET_AS;
        out[2..4].copy_from_slice(&(asn as u16).to_be_bytes());
        out[4..8].copy_from_slice(&local.to_be_bytes());
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------- families

const AFIS: [(&str, u16); 4] = [("ipv4", 1), ("ipv6", 2), ("l2vpn", 25), ("bgp-ls", 16388)];
/// First name of a value is the one printed (`labeled-unicast` is ExaBGP main's alias).
const SAFIS: [(&str, u8); 14] = [
    ("unicast", 1),
    ("multicast", 2),
    ("nlri-mpls", 4),
    ("labeled-unicast", 4),
    ("mcast-vpn", 5),
    ("vpls", 65),
    ("evpn", 70),
    ("bgp-ls", 71),
    ("bgp-ls-vpn", 72),
    ("mup", 85),
    ("mpls-vpn", 128),
    ("rtc", 132),
    ("flow", 133),
    ("flow-vpn", 134),
];

/// `AFI SAFI` by ExaBGP's names (`protocol/family.py`).
fn family(tokens: &mut Tokens) -> Result<Family, ParseError> {
    let afi_name = tokens.value("the family")?;
    let safi_name = tokens.value(afi_name)?;
    let afi = AFIS
        .iter()
        .find(|(name, _)| *name == afi_name)
        .ok_or_else(|| invalid(format!("{} is not an AFI (ipv4, ipv6, l2vpn, bgp-ls)", q(afi_name))))?
        .1;
    let safi = SAFIS
        .iter()
        .find(|(name, _)| *name == safi_name)
        .ok_or_else(|| invalid(format!("{} is not a SAFI (unicast, multicast, ...)", q(safi_name))))?
        .1;
    Ok(Family::new(afi, safi))
}

struct FamilyText(Family);

impl fmt::Display for FamilyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let afi = AFIS.iter().find(|(_, v)| *v == self.0.afi).map(|(n, _)| *n);
        let safi = SAFIS.iter().find(|(_, v)| *v == self.0.safi).map(|(n, _)| *n);
        match (afi, safi) {
            (Some(afi), Some(safi)) => write!(f, "{afi} {safi}"),
            // Not from `parse`: no ExaBGP name to print.
            _ => write!(f, "{} {}", self.0.afi, self.0.safi),
        }
    }
}

// -------------------------------------------------------------------------------------- display

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHop::Self_ => f.write_str("self"),
            NextHop::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "neighbor {}", self.neighbor)?;
        if let Some(ip) = self.local_ip {
            write!(f, " local-ip {ip}")?;
        }
        if let Some(asn) = self.local_as {
            write!(f, " local-as {asn}")?;
        }
        if let Some(asn) = self.peer_as {
            write!(f, " peer-as {asn}")?;
        }
        if let Some(id) = self.router_id {
            write!(f, " router-id {id}")?;
        }
        if let Some(family) = &self.family_allowed {
            write!(f, " family-allowed {family}")?;
        }
        Ok(())
    }
}

/// A community the way ExaBGP writes it: its well-known names, else `A:B`.
fn community_text(value: u32) -> String {
    match value {
        community::NO_EXPORT => "no-export".into(),
        community::NO_ADVERTISE => "no-advertise".into(),
        community::NO_EXPORT_SUBCONFED => "no-export-subconfed".into(),
        community::NO_PEER => "no-peer".into(),
        community::BLACKHOLE => "blackhole".into(),
        _ => format!("{}:{}", value >> 16, value & 0xFFFF),
    }
}

fn extended_community_text(value: &[u8; 8]) -> String {
    let kind = match value[1] {
        EXT_ROUTE_TARGET => Some("target"),
        EXT_ROUTE_ORIGIN => Some("origin"),
        _ => None,
    };
    let u16_at = |i: usize| u16::from_be_bytes([value[i], value[i + 1]]);
    let u32_at = |i: usize| u32::from_be_bytes([value[i], value[i + 1], value[i + 2], value[i + 3]]);
    match (value[0], kind) {
        (EXT_TWO_OCTET_AS, Some(kind)) => format!("{kind}:{}:{}", u16_at(2), u32_at(4)),
        (EXT_IPV4, Some(kind)) => format!("{kind}:{}:{}", Ipv4Addr::from(u32_at(2)), u16_at(6)),
        (EXT_FOUR_OCTET_AS, Some(kind)) => format!("{kind}:{}L:{}", u32_at(2), u16_at(6)),
        _ => format!("0x{:016x}", u64::from_be_bytes(*value)),
    }
}

fn bracketed<T>(f: &mut fmt::Formatter<'_>, name: &str, items: &[T], text: impl Fn(&T) -> String) -> fmt::Result {
    write!(f, " {name} [")?;
    for item in items {
        write!(f, " {}", text(item))?;
    }
    f.write_str(" ]")
}

/// ExaBGP syntax, each attribute preceded by a space (nothing at all when there are none).
struct AttributesText<'a>(&'a RouteAttributes);

impl fmt::Display for AttributesText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        if let Some(next_hop) = a.next_hop {
            write!(f, " next-hop {next_hop}")?;
        }
        if let Some(origin) = a.origin {
            let name = match origin {
                Origin::Igp => "igp",
                Origin::Egp => "egp",
                Origin::Incomplete => "incomplete",
            };
            write!(f, " origin {name}")?;
        }
        if let Some(path) = &a.as_path {
            bracketed(f, "as-path", path, u32::to_string)?;
        }
        if let Some(med) = a.med {
            write!(f, " med {med}")?;
        }
        if let Some(local_pref) = a.local_pref {
            write!(f, " local-preference {local_pref}")?;
        }
        if !a.communities.is_empty() {
            bracketed(f, "community", &a.communities, |c| community_text(*c))?;
        }
        if !a.large_communities.is_empty() {
            bracketed(f, "large-community", &a.large_communities, |c| {
                format!("{}:{}:{}", c.global, c.local1, c.local2)
            })?;
        }
        if !a.extended_communities.is_empty() {
            bracketed(f, "extended-community", &a.extended_communities, extended_community_text)?;
        }
        if a.atomic_aggregate {
            f.write_str(" atomic-aggregate")?;
        }
        Ok(())
    }
}

impl fmt::Display for RouteAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = AttributesText(self).to_string();
        f.write_str(text.strip_prefix(' ').unwrap_or(&text))
    }
}

fn write_selectors(f: &mut fmt::Formatter<'_>, selectors: &[Selector]) -> fmt::Result {
    for (i, selector) in selectors.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{selector}")?;
    }
    if !selectors.is_empty() {
        f.write_str(" ")?;
    }
    Ok(())
}

/// When `prefixes` are, in order, every /N subnet of one supernet (what `split /N` makes), that
/// supernet and N: the command then prints as one short `route ... split /N` (65,536 prefixes
/// written out would not fit in a line).
fn split_of(prefixes: &[IpNet]) -> Option<(IpNet, u8)> {
    let first = prefixes.first()?;
    let count = prefixes.len();
    if count < 2 || !count.is_power_of_two() {
        return None;
    }
    let bits = u8::try_from(count.trailing_zeros()).ok()?;
    let len = first.prefix_len();
    let supernet = IpNet::new(first.addr(), len.checked_sub(bits)?).ok()?.trunc();
    if supernet.addr() != first.addr() {
        return None;
    }
    let subnets = supernet.subnets(len).ok()?;
    subnets.eq(prefixes.iter().copied()).then_some((supernet, len))
}

fn write_prefixes(f: &mut fmt::Formatter<'_>, prefixes: &[IpNet]) -> fmt::Result {
    for prefix in prefixes {
        write!(f, " {prefix}")?;
    }
    Ok(())
}

/// The command in ExaBGP 4 syntax; [`parse`] reads it back to the same value, as long as the
/// text fits in [`MAX_LINE`] (spellings are normalised, and some grow: community `1` prints as
/// `0:1`, prefix `10.0.0.1` as `10.0.0.1/32`).
impl fmt::Display for ApiCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiCommand::Announce { selectors, prefixes, attributes } => {
                write_selectors(f, selectors)?;
                if let [prefix] = &prefixes[..] {
                    write!(f, "announce route {prefix}{}", AttributesText(attributes))
                } else if let Some((supernet, len)) = split_of(prefixes) {
                    write!(f, "announce route {supernet}{} split /{len}", AttributesText(attributes))
                } else {
                    write!(f, "announce attributes{} nlri", AttributesText(attributes))?;
                    write_prefixes(f, prefixes)
                }
            }
            ApiCommand::Withdraw { selectors, prefixes } => {
                write_selectors(f, selectors)?;
                if let [prefix] = &prefixes[..] {
                    write!(f, "withdraw route {prefix}")
                } else if let Some((supernet, len)) = split_of(prefixes) {
                    write!(f, "withdraw route {supernet} split /{len}")
                } else {
                    f.write_str("withdraw attributes nlri")?;
                    write_prefixes(f, prefixes)
                }
            }
            ApiCommand::Eor { selectors, family } => {
                write_selectors(f, selectors)?;
                f.write_str("announce eor")?;
                match family {
                    Some(family) => write!(f, " {}", FamilyText(*family)),
                    None => Ok(()),
                }
            }
            ApiCommand::RouteRefresh { selectors, family } => {
                write_selectors(f, selectors)?;
                write!(f, "announce route-refresh {}", FamilyText(*family))
            }
            ApiCommand::FlushAdjRibOut { selectors } => {
                write_selectors(f, selectors)?;
                f.write_str("flush adj-rib out")
            }
            ApiCommand::ClearAdjRibOut { selectors } => {
                write_selectors(f, selectors)?;
                f.write_str("clear adj-rib out")
            }
            ApiCommand::ShowNeighbor { neighbor, view, json } => {
                f.write_str("show neighbor")?;
                if let Some(ip) = neighbor {
                    write!(f, " {ip}")?;
                }
                match view {
                    Some(NeighborView::Summary) => f.write_str(" summary")?,
                    Some(NeighborView::Extensive) => f.write_str(" extensive")?,
                    Some(NeighborView::Configuration) => f.write_str(" configuration")?,
                    None => {}
                }
                if *json {
                    f.write_str(" json")?;
                }
                Ok(())
            }
            ApiCommand::ShowAdjRibOut { neighbor, extensive, json } => {
                f.write_str("show adj-rib out")?;
                if let Some(ip) = neighbor {
                    write!(f, " {ip}")?;
                }
                if *extensive {
                    f.write_str(" extensive")?;
                }
                if *json {
                    f.write_str(" json")?;
                }
                Ok(())
            }
            ApiCommand::Shutdown => f.write_str("shutdown"),
            ApiCommand::Reload => f.write_str("reload"),
            ApiCommand::Restart => f.write_str("restart"),
            ApiCommand::Version => f.write_str("version"),
            ApiCommand::DisableAck => f.write_str("disable-ack"),
            ApiCommand::EnableAck => f.write_str("enable-ack"),
            ApiCommand::SilenceAck => f.write_str("silence-ack"),
            ApiCommand::Comment(text) if text.is_empty() => f.write_str("#"),
            ApiCommand::Comment(text) => write!(f, "# {text}"),
            ApiCommand::Debug(text) => write!(f, "debug {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(line: &str) -> ApiCommand {
        match parse(line) {
            Ok(command) => {
                let printed = command.to_string();
                assert_eq!(parse(&printed).as_ref(), Ok(&command), "{line:?} printed as {printed:?}");
                command
            }
            Err(e) => panic!("{line:?}: {e}"),
        }
    }

    fn err(line: &str) -> String {
        match parse(line) {
            Ok(command) => panic!("{line:?} parsed as {command:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn announced(command: &ApiCommand) -> (Vec<Selector>, Vec<IpNet>, RouteAttributes) {
        match command {
            ApiCommand::Announce { selectors, prefixes, attributes } => {
                (selectors.clone(), prefixes.clone(), attributes.clone())
            }
            other => panic!("not an announcement: {other:?}"),
        }
    }

    fn self_med(med: u32) -> RouteAttributes {
        RouteAttributes { next_hop: Some(NextHop::Self_), med: Some(med), ..RouteAttributes::default() }
    }

    // ------------------------------------------------------------------ real lines

    /// ExaBGP's src/exabgp/application/healthcheck.py, `loop()` → `exabgp(target)`: it writes
    /// `f'{command} {announce}'` with command `neighbor * announce` / `neighbor * withdraw`
    /// (older releases: bare `announce` / `withdraw`) and announce
    /// `route {ip} next-hop {next_hop or "self"}`, then ` med {metric}`, ` local-preference N`,
    /// ` community [ C ]`, ` extended-community [ C ]`, ` large-community [ C ]`,
    /// ` as-path [ P ]`, ` path-information ID`, and `neighbor A, neighbor B ` in front with
    /// `--neighbor`.
    #[test]
    fn healthcheck_lines() {
        let up = ok("announce route 10.46.46.46/32 next-hop self med 100");
        assert_eq!(
            up,
            ApiCommand::Announce {
                selectors: vec![],
                prefixes: vec![net("10.46.46.46/32")],
                attributes: self_med(100)
            }
        );
        assert_eq!(ok("neighbor * announce route 10.46.46.46/32 next-hop self med 100"), up);
        assert_eq!(
            ok("withdraw route 10.46.46.46/32 next-hop self"),
            ApiCommand::Withdraw { selectors: vec![], prefixes: vec![net("10.46.46.46/32")] }
        );
        assert_eq!(
            ok("neighbor * withdraw route 10.46.46.46/32 next-hop self"),
            ApiCommand::Withdraw { selectors: vec![], prefixes: vec![net("10.46.46.46/32")] }
        );
        // --next-hop, --local-preference, --community, --extended-community, --large-community,
        // --as-path, with the spacing healthcheck.py uses.
        let full = ok("neighbor * announce route 2001:db8::46/128 next-hop 2001:db8::1 med 1000 \
                       local-preference 200 community [ 65000:46 no-export ] extended-community [ target:65000:46 ] \
                       large-community [ 65000:0:46 ] as-path [ 65001 65002 ]");
        let (_, prefixes, a) = announced(&full);
        assert_eq!(prefixes, [net("2001:db8::46/128")]);
        assert_eq!(a.next_hop, Some(NextHop::Ip(ip("2001:db8::1"))));
        assert_eq!((a.med, a.local_pref), (Some(1000), Some(200)));
        assert_eq!(a.communities, [0xFDE8_002E, community::NO_EXPORT]);
        assert_eq!(a.extended_communities, [[0x00, 0x02, 0xFD, 0xE8, 0, 0, 0, 46]]);
        assert_eq!(a.large_communities, [LargeCommunity::new(65000, 0, 46)]);
        assert_eq!(a.as_path, Some(vec![65001, 65002]));
        // --neighbor 192.0.2.1 --neighbor 192.0.2.2: `', '.join(...)` then ` neighbor * announce`.
        let (selectors, _, _) = announced(&ok(
            "neighbor 192.0.2.1, neighbor 192.0.2.2 neighbor * announce route 10.46.46.46/32 next-hop self med 100",
        ))
        .clone();
        assert_eq!(selectors, [Selector::new(ip("192.0.2.1")), Selector::new(ip("192.0.2.2"))]);
        // --path-id: add-path, which rhi does not speak; refused, not dropped.
        let e = err("neighbor * announce route 10.46.46.46/32 next-hop self med 100 path-information 1");
        assert!(e.contains("`path-information` is not supported by rhi"), "{e}");
    }

    /// The ExaBGP wiki, "Text API Reference" / "API Commands"
    /// (github.com/Exa-Networks/exabgp/wiki/Text-API-Reference, .../API-Commands).
    #[test]
    fn documented_lines() {
        assert_eq!(announced(&ok("announce route 100.10.0.0/24 next-hop self")).1, [net("100.10.0.0/24")]);
        assert_eq!(
            ok("withdraw route 100.10.0.0/24"),
            ApiCommand::Withdraw { selectors: vec![], prefixes: vec![net("100.10.0.0/24")] }
        );
        assert_eq!(announced(&ok("announce route 100.10.0.100/32 next-hop self")).1, [net("100.10.0.100/32")]);
        let (selectors, _, a) =
            announced(&ok("neighbor 127.0.0.1 announce route 10.0.0.0/24 next-hop 192.168.1.1")).clone();
        assert_eq!(selectors, [Selector::new(ip("127.0.0.1"))]);
        assert_eq!(a.next_hop, Some(NextHop::Ip(ip("192.168.1.1"))));
        let (selectors, _, _) = announced(&ok("neighbor 127.0.0.1 local-ip 192.168.1.2 local-as 65001 peer-as 65000 \
             router-id 192.168.1.1 family-allowed in-open announce route 10.0.0.0/24 next-hop self"))
        .clone();
        assert_eq!(
            selectors,
            [Selector {
                neighbor: ip("127.0.0.1"),
                local_ip: Some(ip("192.168.1.2")),
                local_as: Some(65001),
                peer_as: Some(65000),
                router_id: Some("192.168.1.1".parse().unwrap()),
                family_allowed: Some("in-open".into()),
            }]
        );
        let bulk = ok("announce attributes next-hop 10.0.0.1 med 100 nlri 10.0.1.0/24 10.0.2.0/24 10.0.3.0/24");
        let (_, prefixes, a) = announced(&bulk);
        assert_eq!(prefixes, [net("10.0.1.0/24"), net("10.0.2.0/24"), net("10.0.3.0/24")]);
        assert_eq!(a.med, Some(100));
        assert_eq!(
            ok("withdraw attributes next-hop 10.0.0.1 nlri 10.0.1.0/24 10.0.2.0/24"),
            ApiCommand::Withdraw { selectors: vec![], prefixes: vec![net("10.0.1.0/24"), net("10.0.2.0/24")] }
        );
    }

    // ------------------------------------------------------------------ commands

    #[test]
    fn every_command_form() {
        let none = Vec::<Selector>::new;
        assert_eq!(ok("announce eor"), ApiCommand::Eor { selectors: none(), family: None });
        assert_eq!(
            ok("announce eor ipv6 unicast"),
            ApiCommand::Eor { selectors: none(), family: Some(Family::IPV6_UNICAST) }
        );
        assert_eq!(
            ok("neighbor 10.0.0.1 announce eor ipv4 unicast"),
            ApiCommand::Eor { selectors: vec![Selector::new(ip("10.0.0.1"))], family: Some(Family::IPV4_UNICAST) }
        );
        assert_eq!(
            ok("announce eor ipv4 flow"),
            ApiCommand::Eor { selectors: none(), family: Some(Family::new(1, 133)) }
        );
        assert_eq!(
            ok("announce route-refresh ipv4 unicast"),
            ApiCommand::RouteRefresh { selectors: none(), family: Family::IPV4_UNICAST }
        );
        assert_eq!(ok("flush adj-rib out"), ApiCommand::FlushAdjRibOut { selectors: none() });
        assert_eq!(
            ok("neighbor 10.0.0.1 flush adj-rib out"),
            ApiCommand::FlushAdjRibOut { selectors: vec![Selector::new(ip("10.0.0.1"))] }
        );
        assert_eq!(ok("clear adj-rib out"), ApiCommand::ClearAdjRibOut { selectors: none() });
        assert_eq!(ok("clear adj-rib"), ApiCommand::ClearAdjRibOut { selectors: none() });
        let show = |neighbor, view, json| ApiCommand::ShowNeighbor { neighbor, view, json };
        assert_eq!(ok("show neighbor"), show(None, None, false));
        assert_eq!(ok("show neighbor summary"), show(None, Some(NeighborView::Summary), false));
        assert_eq!(ok("show neighbor extensive"), show(None, Some(NeighborView::Extensive), false));
        assert_eq!(ok("show neighbor configuration"), show(None, Some(NeighborView::Configuration), false));
        assert_eq!(ok("show neighbor json"), show(None, None, true));
        assert_eq!(ok("show neighbor summary json"), show(None, Some(NeighborView::Summary), true));
        assert_eq!(
            ok("show neighbor 10.0.0.1 extensive"),
            show(Some(ip("10.0.0.1")), Some(NeighborView::Extensive), false)
        );
        // neighbor.py: summary wins over extensive, extensive over configuration.
        assert_eq!(ok("show neighbor configuration extensive"), show(None, Some(NeighborView::Extensive), false));
        let rib = |neighbor, extensive, json| ApiCommand::ShowAdjRibOut { neighbor, extensive, json };
        assert_eq!(ok("show adj-rib out"), rib(None, false, false));
        assert_eq!(ok("show adj-rib out json"), rib(None, false, true));
        assert_eq!(ok("show adj-rib out extensive"), rib(None, true, false));
        assert_eq!(ok("show adj-rib-out"), rib(None, false, false));
        assert_eq!(ok("show adj-rib out 10.0.0.1 json"), rib(Some(ip("10.0.0.1")), false, true));
        for (line, command) in [
            ("shutdown", ApiCommand::Shutdown),
            ("reload", ApiCommand::Reload),
            ("restart", ApiCommand::Restart),
            ("version", ApiCommand::Version),
            ("disable-ack", ApiCommand::DisableAck),
            ("enable-ack", ApiCommand::EnableAck),
            ("silence-ack", ApiCommand::SilenceAck),
        ] {
            assert_eq!(ok(line), command, "{line}");
        }
        assert_eq!(ok("# healthcheck starting"), ApiCommand::Comment("healthcheck starting".into()));
        assert_eq!(ok("#"), ApiCommand::Comment(String::new()));
        assert_eq!(ok("debug state UP"), ApiCommand::Debug("state UP".into()));
        // ExaBGP 4 also knows `announce ipv4 unicast` and `announce attribute`.
        assert_eq!(
            ok("announce ipv4 unicast 10.0.0.0/24 next-hop self med 5"),
            ok("announce route 10.0.0.0/24 next-hop self med 5")
        );
        assert_eq!(ok("withdraw ipv6 unicast 2001:db8::/32"), ok("withdraw route 2001:db8::/32"));
        assert_eq!(
            ok("announce attribute next-hop self nlri 10.0.0.0/24"),
            ok("announce route 10.0.0.0/24 next-hop self")
        );
    }

    /// ExaBGP main's target-first grammar (reactor/api/dispatch/v6.py).
    #[test]
    fn v6_grammar() {
        assert_eq!(ok("daemon shutdown"), ApiCommand::Shutdown);
        assert_eq!(ok("daemon reload"), ApiCommand::Reload);
        assert_eq!(ok("daemon restart"), ApiCommand::Restart);
        assert_eq!(ok("session ack enable"), ApiCommand::EnableAck);
        assert_eq!(ok("session ack disable"), ApiCommand::DisableAck);
        assert_eq!(ok("session ack silence"), ApiCommand::SilenceAck);
        assert_eq!(ok("system version"), ApiCommand::Version);
        assert_eq!(ok("rib show out json"), ok("show adj-rib out json"));
        assert_eq!(ok("rib flush out"), ok("flush adj-rib out"));
        assert_eq!(ok("rib clear out"), ok("clear adj-rib out"));
        assert_eq!(ok("peer show summary"), ok("show neighbor summary"));
        assert_eq!(
            ok("peer * announce route 10.0.0.0/24 next-hop self"),
            ok("announce route 10.0.0.0/24 next-hop self")
        );
        assert_eq!(
            ok("peer 10.0.0.1 local-as 65001 withdraw route 10.0.0.0/24"),
            ok("neighbor 10.0.0.1 local-as 65001 withdraw route 10.0.0.0/24")
        );
        assert_eq!(
            ok("peer [10.0.0.1 peer-as 65000, 10.0.0.2] announce eor"),
            ok("neighbor 10.0.0.1 peer-as 65000, neighbor 10.0.0.2 announce eor")
        );
        assert_eq!(ok("peer [ 10.0.0.1, * ] announce eor"), ok("announce eor"));
        assert!(err("peer [ 10.0.0.1 announce eor").contains("peer selector key"));
        assert!(err("peer list").contains("not supported by rhi"));
        assert!(err("daemon status").contains("not supported by rhi"));
        assert!(err("rib show in").contains("not supported by rhi"));
    }

    // ------------------------------------------------------------------ selectors

    #[test]
    fn neighbor_selectors() {
        let sel = |line: &str| ok(line).selectors().to_vec();
        assert_eq!(sel("neighbor 10.0.0.1 announce route 10.0.0.0/24 next-hop self"), [Selector::new(ip("10.0.0.1"))]);
        // `,` glued to the value (as the brief and healthcheck.py write it) or alone.
        let two = [
            Selector { local_ip: Some(ip("10.0.0.2")), ..Selector::new(ip("10.0.0.1")) },
            Selector::new(ip("10.0.0.3")),
        ];
        assert_eq!(
            sel("neighbor 10.0.0.1 local-ip 10.0.0.2, neighbor 10.0.0.3 announce route 1.0.0.0/8 next-hop self"),
            two
        );
        assert_eq!(
            sel("neighbor 10.0.0.1 local-ip 10.0.0.2 , neighbor 10.0.0.3 announce route 1.0.0.0/8 next-hop self"),
            two
        );
        assert_eq!(sel("neighbor 10.0.0.1 local-ip 10.0.0.2,neighbor 10.0.0.3 withdraw route 1.0.0.0/8"), two);
        assert_eq!(sel("neighbor 2001:db8::1 announce eor"), [Selector::new(ip("2001:db8::1"))]);
        // `neighbor *` selects every peer, and limit.py's match_neighbor stops looking at it.
        assert!(sel("neighbor * announce route 10.0.0.0/24 next-hop self").is_empty());
        assert!(sel("neighbor * local-as 65000 announce eor").is_empty());
        assert!(sel("neighbor 10.0.0.1, neighbor * announce eor").is_empty());
        assert_eq!(
            sel("neighbor 10.0.0.1 local-as 65000 neighbor * peer-as 1 announce eor"),
            [Selector { local_as: Some(65000), ..Selector::new(ip("10.0.0.1")) }]
        );
        // A trailing `,` is harmless, as in extract_neighbors.
        assert_eq!(sel("neighbor 10.0.0.1 , announce eor"), [Selector::new(ip("10.0.0.1"))]);

        assert!(err("neighbor 10.0.0.1 neighbor 10.0.0.2 announce eor").contains("would match no peer"));
        assert!(err("neighbor banana announce eor").contains("`banana` is not a neighbor address"));
        assert!(err("neighbor 10.0.0.1 local-as x announce eor").contains("`x` is not an AS number"));
        assert!(err("neighbor 10.0.0.1 router-id ::1 announce eor").contains("not an IPv4 address"));
        assert!(err("neighbor 10.0.0.1").contains("missing command"));
        assert!(err("neighbor").contains("missing value after `neighbor`"));
        assert!(err("neighbor 10.0.0.1, local-as 1 announce eor").contains("must start with `neighbor"));
        assert!(err("neighbor 10.0.0.1 shutdown").contains("`shutdown` does not take a neighbor selector"));
        assert!(err("neighbor 10.0.0.1 show neighbor").contains("does not take a neighbor selector"));
    }

    #[test]
    fn selector_matching() {
        let peer = PeerIdentity {
            address: ip("10.0.0.1"),
            local_ip: Some(ip("10.0.0.2")),
            local_as: 65001,
            peer_as: 65000,
            router_id: "10.0.0.2".parse().unwrap(),
        };
        assert!(selects(&[], &peer));
        assert!(Selector::new(ip("10.0.0.1")).matches(&peer));
        assert!(!Selector::new(ip("10.0.0.9")).matches(&peer));
        let narrow = Selector { local_as: Some(65001), peer_as: Some(65000), ..Selector::new(ip("10.0.0.1")) };
        assert!(narrow.matches(&peer));
        assert!(!Selector { peer_as: Some(1), ..narrow.clone() }.matches(&peer));
        assert!(Selector { family_allowed: Some("in-open".into()), ..narrow.clone() }.matches(&peer));
        assert!(!Selector { family_allowed: Some("ipv4-unicast".into()), ..narrow.clone() }.matches(&peer));
        assert!(selects(&[Selector::new(ip("10.0.0.9")), narrow], &peer));
    }

    // ------------------------------------------------------------------ attributes

    #[test]
    fn attribute_forms() {
        let attrs = |tail: &str| announced(&ok(&format!("announce route 10.0.0.0/24 {tail}"))).2.clone();
        assert_eq!(attrs("next-hop 192.0.2.1").next_hop, Some(NextHop::Ip(ip("192.0.2.1"))));
        assert_eq!(attrs("next-hop SELF").next_hop, Some(NextHop::Self_));
        for (word, origin) in [("igp", Origin::Igp), ("egp", Origin::Egp), ("incomplete", Origin::Incomplete)] {
            assert_eq!(attrs(&format!("next-hop self origin {word}")).origin, Some(origin));
        }
        assert_eq!(attrs("next-hop self origin IGP").origin, Some(Origin::Igp));
        assert_eq!(attrs("next-hop self as-path [ 65001 65002 ]").as_path, Some(vec![65001, 65002]));
        assert_eq!(attrs("next-hop self as-path [65001 4200000000]").as_path, Some(vec![65001, 4_200_000_000]));
        assert_eq!(attrs("next-hop self as-path 65001").as_path, Some(vec![65001]));
        assert_eq!(attrs("next-hop self as-path [ ]").as_path, Some(vec![]));
        assert_eq!(attrs("next-hop self as-path [ 1, 2 ] [ 3 ]").as_path, Some(vec![1, 2, 3]));
        assert_eq!(attrs("next-hop self").as_path, None);
        assert_eq!(attrs("next-hop self med 0").med, Some(0));
        assert_eq!(attrs("next-hop self med 4294967295").med, Some(u32::MAX));
        assert_eq!(attrs("next-hop self local-preference 300").local_pref, Some(300));
        assert!(attrs("next-hop self atomic-aggregate").atomic_aggregate);

        assert_eq!(attrs("next-hop self community 65000:1").communities, [0xFDE8_0001]);
        assert_eq!(
            attrs(
                "next-hop self community [ no-export no_advertise no-export-subconfed nopeer no-peer blackhole \
                 graceful-shutdown accept-own 0xFFFF0001 4294967041 65535:65281 ]"
            )
            .communities,
            [
                community::NO_EXPORT,
                community::NO_ADVERTISE,
                community::NO_EXPORT_SUBCONFED,
                community::NO_PEER,
                community::BLACKHOLE,
                community::GRACEFUL_SHUTDOWN,
                community::ACCEPT_OWN,
            ]
        );
        assert!(attrs("next-hop self community []").communities.is_empty());
        assert_eq!(attrs("next-hop self large-community 1:2:3").large_communities, [LargeCommunity::new(1, 2, 3)]);
        assert_eq!(
            attrs("next-hop self large-community [ 4294967295:0:1 65000:1:1 ]").large_communities,
            [LargeCommunity::new(u32::MAX, 0, 1), LargeCommunity::new(65000, 1, 1)]
        );
        assert_eq!(
            attrs("next-hop self large-community 18446744073709551617").large_communities,
            [LargeCommunity::new(1, 0, 1)]
        );
        // attributes.py `add`: a repeated attribute keeps its first value, extended communities
        // add up.
        let twice = attrs(
            "next-hop self med 1 med 2 community 1:1 community 2:2 extended-community 1:1 \
                           extended-community 2:2",
        );
        assert_eq!((twice.med, twice.communities.as_slice()), (Some(1), &[0x0001_0001][..]));
        assert_eq!(twice.extended_communities.len(), 2);
        assert!(err("announce route 10.0.0.0/24 next-hop self next-hop 10.0.0.1").contains("`next-hop` given twice"));
        // A final `;`, as in a configuration file.
        assert_eq!(attrs("next-hop self med 5;").med, Some(5));
    }

    /// RFC 4360 §3.1 / §4 / §5 and RFC 5668 §2, octet by octet.
    #[test]
    fn extended_community_encodings() {
        let ext = |value: &str| extended_community(value).unwrap_or_else(|e| panic!("{value}: {e}"));
        // Route target, 2-octet AS: type 0x00, sub-type 0x02, AS (2), value (4).
        assert_eq!(ext("target:65000:1"), [0x00, 0x02, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(ext("65000:1"), ext("target:65000:1"));
        assert_eq!(ext("target:65000:4294967295"), [0x00, 0x02, 0xFD, 0xE8, 0xFF, 0xFF, 0xFF, 0xFF]);
        // Route target, IPv4: type 0x01, address (4), value (2).
        assert_eq!(ext("target:1.2.3.4:5"), [0x01, 0x02, 1, 2, 3, 4, 0x00, 0x05]);
        // Route target, 4-octet AS: type 0x02, AS (4), value (2).
        assert_eq!(ext("target:4200000000:7"), [0x02, 0x02, 0xFA, 0x56, 0xEA, 0x00, 0x00, 0x07]);
        assert_eq!(ext("target:65000L:7"), [0x02, 0x02, 0x00, 0x00, 0xFD, 0xE8, 0x00, 0x07]);
        // Route origin: sub-type 0x03.
        assert_eq!(ext("origin:65000:1"), [0x00, 0x03, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(ext("origin:1.2.3.4:5"), [0x01, 0x03, 1, 2, 3, 4, 0x00, 0x05]);
        assert_eq!(ext("origin:4200000000:7"), [0x02, 0x03, 0xFA, 0x56, 0xEA, 0x00, 0x00, 0x07]);
        // Raw.
        assert_eq!(ext("0x0002fde800000001"), [0x00, 0x02, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(ext("0X8008FDE800000064"), [0x80, 0x08, 0xFD, 0xE8, 0x00, 0x00, 0x00, 0x64]);

        let line = "announce route 10.0.0.0/24 next-hop self extended-community [ target:65000:1 origin:1.2.3.4:5 \
                    0x0002fde800000001 target:4200000000:7 0x8008fde800000064 ]";
        let command = ok(line);
        assert_eq!(
            command.to_string(),
            "announce route 10.0.0.0/24 next-hop self extended-community [ target:65000:1 origin:1.2.3.4:5 \
             target:4200000000L:7 0x8008fde800000064 ]"
        );

        for (bad, why) in [
            ("target:65536:4294967296", "65535"),
            ("target:1.2.3.4:65536", "at most 65535"),
            ("target:4200000000:65536", "at most 65535"),
            ("target:4294967296:1", "more than 32 bits"),
            ("target:1.2.3:1", "not an IPv4 address"),
            ("target:x:1", "neither an AS number"),
            ("target:1:x", "not a number"),
            ("color:1:1", "neither `target` nor `origin`"),
            ("target:1:2:3", "too many"),
            ("0x0002", "16 hexadecimal digits"),
            ("0x0002fde80000000g", "16 hexadecimal digits"),
            ("banana", "expected target"),
        ] {
            let e = extended_community(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
        assert!(extended_community("redirect:65000:1").unwrap_err().to_string().contains("not supported by rhi"));
    }

    #[test]
    fn prefixes() {
        let one = |p: &str| announced(&ok(&format!("announce route {p} next-hop self"))).1[0];
        assert_eq!(one("10.0.0.1"), net("10.0.0.1/32"));
        assert_eq!(one("2001:db8::1"), net("2001:db8::1/128"));
        assert_eq!(one("0.0.0.0/0"), net("0.0.0.0/0"));
        assert_eq!(one("::/0"), net("::/0"));
        let split = ok("announce route 10.0.0.0/22 next-hop self split /24");
        assert_eq!(
            announced(&split).1,
            [net("10.0.0.0/24"), net("10.0.1.0/24"), net("10.0.2.0/24"), net("10.0.3.0/24")]
        );
        assert_eq!(announced(&ok("announce route 10.0.0.0/24 next-hop self split /16")).1, [net("10.0.0.0/24")]);
        assert_eq!(
            ok("withdraw route 10.0.0.0/23 split /24"),
            ApiCommand::Withdraw { selectors: vec![], prefixes: vec![net("10.0.0.0/24"), net("10.0.1.0/24")] }
        );
        let big = ok("announce route 10.0.0.0/8 next-hop self split /24");
        assert_eq!(announced(&big).1.len(), 65_536);
        assert_eq!(big.to_string(), "announce route 10.0.0.0/8 next-hop self split /24");
        assert_eq!(ok("withdraw route 2001:db8::/47 split /48").to_string(), "withdraw route 2001:db8::/47 split /48");
        // Two halves given one by one print the same way, and read back the same.
        assert_eq!(
            ok("announce attributes next-hop self nlri 10.0.0.0/25 10.0.0.128/25").to_string(),
            "announce route 10.0.0.0/24 next-hop self split /25"
        );
        // Not a whole supernet in order: written out.
        for line in [
            "withdraw attributes nlri 10.0.0.128/25 10.0.0.0/25",
            "withdraw attributes nlri 10.0.0.128/25 10.0.1.0/25",
            "withdraw attributes nlri 10.0.0.0/25 10.0.0.128/26",
        ] {
            assert_eq!(ok(line).to_string(), line);
        }
        assert_eq!(err("announce route 10.0.0.0/8 next-hop self split /25"), ParseError::TooManyPrefixes.to_string());
        assert_eq!(err("announce route ::/0 next-hop self split /128"), ParseError::TooManyPrefixes.to_string());
    }

    #[test]
    fn to_announcement() {
        let command = ok("announce route 10.0.0.0/24 next-hop 192.0.2.1 origin egp as-path [ 65001 ] med 5 \
                          local-preference 50 community no-export large-community 1:2:3 \
                          extended-community target:65000:1 atomic-aggregate");
        let a = announced(&command).2.to_announcement();
        assert_eq!(
            a,
            Announcement {
                origin: Some(Origin::Egp),
                as_path: vec![65001],
                as_path_exact: true,
                as_path_prepend: 0,
                med: Some(5),
                local_pref: Some(50),
                communities: vec![community::NO_EXPORT],
                large_communities: vec![LargeCommunity::new(1, 2, 3)],
                extended_communities: vec![[0x00, 0x02, 0xFD, 0xE8, 0, 0, 0, 1]],
                atomic_aggregate: true,
                next_hop: Some(ip("192.0.2.1")),
            }
        );
        let plain = announced(&ok("announce route 10.0.0.0/24 next-hop self")).2.to_announcement();
        assert_eq!(plain, Announcement::default());
        let empty = announced(&ok("announce route 10.0.0.0/24 next-hop self as-path [ ]")).2.to_announcement();
        assert!(empty.as_path.is_empty() && empty.as_path_exact);
    }

    // ------------------------------------------------------------------ errors

    #[test]
    fn malformed_lines() {
        for (line, expected) in [
            ("", "empty command"),
            ("   \t ", "empty command"),
            ("announce", "missing what to announce"),
            ("announce route", "missing value after `announce route`"),
            ("announce route next-hop self", "`next-hop` is not a prefix"),
            ("announce route 10.0.0.0/24", "needs a next hop"),
            ("announce attributes med 1 nlri 10.0.0.0/24", "needs a next hop"),
            ("announce route 10.0.0.0/24 next-hop self med", "missing value after `med`"),
            ("announce route 10.0.0.0/24 next-hop self med ten", "MED `ten` is not a number"),
            ("announce route 10.0.0.0/24 next-hop self med -1", "MED `-1` is not a number"),
            ("announce route 10.0.0.0/24 next-hop self med +1", "MED `+1` is not a number"),
            ("announce route 10.0.0.0/24 next-hop self med 4294967296", "MED `4294967296`"),
            ("announce route 10.0.0.0/24 next-hop self local-preference x", "local-preference `x`"),
            ("announce route 10.0.0.0/24 next-hop self community [ 65000:1", "missing `]`"),
            ("announce route 10.0.0.0/24 next-hop self community [ 65000:1 [ ]", "`[` inside"),
            ("announce route 10.0.0.0/24 next-hop self community ]", "found `]`"),
            ("announce route 10.0.0.0/24 next-hop self community [ 65000:1, 65000:2 ]", "community `,`"),
            ("announce route 10.0.0.0/24 next-hop self community 65536:1", "community `65536:1`"),
            ("announce route 10.0.0.0/24 next-hop self community no-such-thing", "community `no-such-thing`"),
            ("announce route 10.0.0.0/24 next-hop self community 0x100000000", "more than 32 bits"),
            ("announce route 10.0.0.0/24 next-hop self large-community 1:2", "large community `1:2`"),
            ("announce route 10.0.0.0/24 next-hop self large-community 1:2:4294967296", "large community"),
            ("announce route 10.0.0.0/24 next-hop self as-path [ 1 2", "missing `]` to close the `as-path`"),
            ("announce route 10.0.0.0/24 next-hop self as-path [ 1 x ]", "`x` is not an AS number"),
            ("announce route 10.0.0.0/24 next-hop self as-path ( 1 2 )", "AS_SET"),
            ("announce route 10.0.0.0/24 next-hop self as-path [ { 1 } ]", "AS_CONFED"),
            ("announce route 10.0.0.0/24 next-hop self origin bgp", "origin `bgp`"),
            ("announce route 10.0.0.0/24 next-hop here", "next-hop `here`"),
            ("announce route 10.0.0.0/24 next-hop self colour blue", "unknown attribute `colour`"),
            ("announce route 10.0.0.0/24 next-hop self aggregator (65000:1.2.3.4)", "`aggregator` is not supported"),
            ("announce route 10.0.0.0/24 next-hop self label 100", "`label` is not supported"),
            ("announce route 10.0.0.0/24 next-hop self rd 65000:1", "`rd` is not supported"),
            ("announce route 10.0.0.0/24 next-hop self split 24", "`split` takes /<length>"),
            ("announce route 10.0.0.0/24 next-hop self split /33", "has at most /32"),
            ("announce route 10.0.0.0/33 next-hop self", "prefix length `33` is not in 0..=32"),
            ("announce route 2001:db8::/129 next-hop self", "not in 0..=128"),
            ("announce route 10.0.0.0/x next-hop self", "prefix length `x`"),
            ("announce route 10.0.0.1/24 next-hop self", "host bits set, the network is 10.0.0.0/24"),
            ("announce route 10.0.0.0/24 next-hop 2001:db8::1", "other address family"),
            ("announce route 2001:db8::/32 next-hop 192.0.2.1", "other address family"),
            ("announce attributes next-hop self nlri", "missing prefixes after `nlri`"),
            ("announce attributes next-hop self", "missing `nlri`"),
            ("announce attributes next-hop self nlri 10.0.0.0/8 2001:db8::/32", "one address family per line"),
            ("announce attributes next-hop self split /24 nlri 10.0.0.0/8", "`split` in `announce attributes`"),
            ("announce ipv4 unicast 2001:db8::/32 next-hop self", "not an ipv4 prefix"),
            ("announce ipv4 flow 10.0.0.0/8", "`ipv4 flow` (rhi speaks unicast only) is not supported"),
            ("announce eor ipv4", "takes no family or an AFI and a SAFI"),
            ("announce eor ipv5 unicast", "`ipv5` is not an AFI"),
            ("announce eor ipv4 anycast", "`anycast` is not a SAFI"),
            ("announce route-refresh", "takes an AFI and a SAFI"),
            ("announce flow route { match { destination 10.0.0.0/8; } }", "`announce flow` is not supported"),
            ("announce watchdog dns", "`announce watchdog` is not supported"),
            ("announce routes 10.0.0.0/24", "unknown command `announce routes`"),
            ("withdraw", "missing what to withdraw"),
            ("withdraw route", "missing value after `withdraw route`"),
            ("withdraw route 10.0.0.0/33", "prefix length"),
            ("anounce route 10.0.0.0/24 next-hop self", "unknown command `anounce`"),
            ("ANNOUNCE route 10.0.0.0/24 next-hop self", "unknown command `ANNOUNCE`"),
            ("shutdown now", "unexpected `now` after `shutdown`"),
            ("flush adj-rib in", "expected `out`"),
            ("clear adj-rib in", "`clear adj-rib in` (rhi keeps no Adj-RIB-In) is not supported"),
            ("show adj-rib in", "not supported by rhi"),
            ("show neighbors", "unknown command `show neighbors`"),
            ("show neighbor bogus", "`bogus` is not an option of `show neighbor`"),
            ("teardown 4", "`teardown` is not supported by rhi"),
            ("help", "`help` is not supported by rhi"),
            ("announce route 10.0.0.0/24 next-hop self\nshutdown", "one command per line"),
            (";", "unknown command `;`"),
        ] {
            let e = err(line);
            assert!(e.contains(expected), "{line:?}: {e:?} lacks {expected:?}");
        }
    }

    #[test]
    fn bounds() {
        let long = format!("announce route 10.0.0.0/24 next-hop self med 1{}", " ".repeat(MAX_LINE));
        assert_eq!(parse(&long), Err(ParseError::TooLong(long.len())));
        // Just under the limit: a huge community list parses.
        let mut line = String::from("announce route 10.0.0.0/24 next-hop self community [");
        while line.len() < MAX_LINE - 16 {
            line.push_str(" 1:1");
        }
        line.push_str(" ]");
        assert_eq!(announced(&ok(&line)).2.communities, [0x0001_0001]);
        // An overlong token is quoted cut short.
        let e = err(&format!("announce route {} next-hop self", "9".repeat(10_000)));
        assert!(e.len() < 200, "{e}");
    }

    // ------------------------------------------------------------------ properties

    fn attribute_text() -> impl Strategy<Value = String> {
        let community = prop_oneof![
            (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("{a}:{b}")),
            prop::sample::select(vec!["no-export", "no-advertise", "nopeer", "blackhole", "graceful-shutdown"])
                .prop_map(String::from),
            any::<u32>().prop_map(|n| n.to_string()),
        ];
        let ext = prop_oneof![
            (any::<u16>(), any::<u32>()).prop_map(|(a, n)| format!("target:{a}:{n}")),
            (any::<u32>(), any::<u16>()).prop_map(|(a, n)| format!("origin:{a}L:{n}")),
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, n)| format!("target:{}:{n}", Ipv4Addr::from(a))),
            any::<u64>().prop_map(|n| format!("0x{n:016X}")),
        ];
        prop_oneof![
            any::<u32>().prop_map(|n| format!("med {n}")),
            any::<u32>().prop_map(|n| format!("local-preference {n}")),
            prop::sample::select(vec!["igp", "egp", "incomplete"]).prop_map(|o| format!("origin {o}")),
            prop::collection::vec(any::<u32>(), 0..5)
                .prop_map(|p| format!("as-path [ {} ]", p.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))),
            prop::collection::vec(community, 1..4).prop_map(|c| format!("community [ {} ]", c.join(" "))),
            prop::collection::vec(any::<(u32, u32, u32)>(), 1..3).prop_map(|c| format!(
                "large-community [{}]",
                c.iter().map(|(a, b, d)| format!("{a}:{b}:{d}")).collect::<Vec<_>>().join(" ")
            )),
            prop::collection::vec(ext, 1..3).prop_map(|c| format!("extended-community [ {} ]", c.join(" "))),
            Just("atomic-aggregate".to_string()),
        ]
    }

    fn line_text() -> impl Strategy<Value = String> {
        let v4 = (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, len)| IpNet::new(IpAddr::from(a), len).unwrap().trunc().to_string());
        let selector = prop_oneof![
            Just(String::new()),
            Just("neighbor * ".to_string()),
            (any::<[u8; 4]>(), proptest::option::of(any::<u32>())).prop_map(|(a, asn)| match asn {
                Some(asn) => format!("neighbor {} peer-as {asn}, neighbor 10.0.0.1 ", Ipv4Addr::from(a)),
                None => format!("neighbor {} ", Ipv4Addr::from(a)),
            }),
        ];
        let next_hop =
            prop_oneof![Just("self".to_string()), any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_string())];
        prop_oneof![
            (selector.clone(), v4.clone(), next_hop.clone(), prop::collection::vec(attribute_text(), 0..6))
                .prop_map(|(s, p, nh, attrs)| format!("{s}announce route {p} next-hop {nh} {}", attrs.join(" "))),
            (
                selector.clone(),
                prop::collection::vec(v4.clone(), 1..5),
                next_hop,
                prop::collection::vec(attribute_text(), 0..4)
            )
                .prop_map(|(s, ps, nh, attrs)| format!(
                    "{s}announce attributes {} next-hop {nh} nlri {}",
                    attrs.join(" "),
                    ps.join(" ")
                )),
            (selector.clone(), prop::collection::vec(v4, 1..5))
                .prop_map(|(s, ps)| format!("{s}withdraw attributes nlri {}", ps.join(" "))),
            selector.clone().prop_map(|s| format!("{s}announce eor ipv6 unicast")),
            selector.prop_map(|s| format!("{s}flush adj-rib out")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Anything at all: an answer, never a panic; what parses prints back to itself.
        #[test]
        fn arbitrary_strings(line in ".{0,200}") {
            if let Ok(command) = parse(&line) {
                let printed = command.to_string();
                prop_assert!(printed.len() <= MAX_LINE);
                prop_assert_eq!(parse(&printed), Ok(command));
            }
        }

        /// ASCII lines split the same way byte by byte as char by char.
        #[test]
        fn ascii_lines_split_like_any_line(line in "[ -~\t\n\x0b\x0c\r]{0,80}") {
            // A no-break space sends the line down the char path; it is whitespace, so it only
            // ends the last token.
            let not_ascii = format!("{line}\u{a0}");
            prop_assert_eq!(Tokens::new(&line).list, Tokens::new(&not_ascii).list);
        }

        /// The fast path for canonical IPv4 prefixes reads what the general parser reads, and
        /// takes every prefix as a program prints it.
        #[test]
        fn canonical_ipv4_prefixes_read_like_any_prefix(
            soup in "[0-9./]{0,20}",
            addr in any::<u32>(),
            len in 0u8..=32,
            host in any::<bool>(),
        ) {
            if let Some(fast) = canonical_ipv4_prefix(soup.as_bytes()) {
                prop_assert_eq!(any_prefix(&soup), Ok(IpNet::V4(fast)));
            }
            let net = ipnet::Ipv4Net::new(addr.into(), len).unwrap();
            let printed = if host { net.to_string() } else { net.trunc().to_string() };
            match canonical_ipv4_prefix(printed.as_bytes()) {
                Some(fast) => prop_assert_eq!(Ok(IpNet::V4(fast)), any_prefix(&printed)),
                None => prop_assert!(host && net != net.trunc() && any_prefix(&printed).is_err(), "{}", printed),
            }
        }

        /// Token soup from the grammar's own words: more of it gets deep into the parser.
        #[test]
        fn grammar_soup(words in prop::collection::vec(prop::sample::select(vec![
            "neighbor", "peer", "*", "10.0.0.1", "2001:db8::/32", "10.0.0.0/24", "announce", "withdraw", "route",
            "attributes", "nlri", "next-hop", "self", "med", "1", "[", "]", "(", ")", ",", "community", "as-path",
            "extended-community", "target:1:1", "large-community", "1:2:3", "split", "/26", "eor", "ipv4",
            "unicast", "show", "neighbor", "adj-rib", "out", "json", "local-as", "flush", ";", "#", "{",
        ]), 0..16)) {
            let line = words.join(" ");
            if let Ok(command) = parse(&line) {
                let printed = command.to_string();
                prop_assert!(printed.len() <= MAX_LINE);
                prop_assert_eq!(parse(&printed), Ok(command));
            }
        }

        /// Valid lines parse, and print to lines that parse to the same command.
        #[test]
        fn generated_lines_roundtrip(line in line_text()) {
            let command = parse(&line);
            prop_assert!(command.is_ok(), "{:?}: {:?}", line, command);
            let command = command.unwrap();
            prop_assert_eq!(parse(&command.to_string()), Ok(command));
        }
    }
}
