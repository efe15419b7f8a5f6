//! A received route as a router holds it, in one shape for every router.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    /// Accepts every spelling the routers use: BIRD "IGP"/"Incomplete", FRR "IGP"/"incomplete",
    /// GoBGP 0/1/2 (see [`Origin::from_code`]).
    pub fn parse(text: &str) -> Option<Origin> {
        match text.trim().to_ascii_lowercase().as_str() {
            "igp" | "i" => Some(Origin::Igp),
            "egp" | "e" => Some(Origin::Egp),
            "incomplete" | "?" => Some(Origin::Incomplete),
            _ => None,
        }
    }

    pub fn from_code(code: u64) -> Option<Origin> {
        match code {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

/// One path for one prefix, as the router holds it after import.
///
/// Values are what the router reports, not what was sent: BIRD, for example, gives every eBGP
/// route `local_pref: Some(100)` on import, whereas GoBGP's Adj-RIB-In shows only what arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNet,
    /// The BGP NEXT_HOP (IPv4) or the global MP_REACH next hop (IPv6).
    pub next_hop: Option<IpAddr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    /// Flattened: sequences and sets in order, without the set braces.
    pub as_path: Vec<u32>,
    /// RFC 1997, as (AS, value). Well-known names are mapped back to their numbers.
    pub communities: Vec<(u16, u16)>,
    /// RFC 8092, as (global, local1, local2).
    pub large_communities: Vec<(u32, u32, u32)>,
    pub origin: Option<Origin>,
    /// The neighbour the route came from, where the router says.
    pub from: Option<IpAddr>,
    /// Selected as best by the router (BIRD's primary `*`, FRR's bestpath). GoBGP's Adj-RIB-In
    /// has no selection: always `true` there.
    pub best: bool,
}

impl Route {
    /// An empty route for `prefix`; the parsers fill in the rest.
    pub fn new(prefix: IpNet) -> Route {
        Route {
            prefix,
            next_hop: None,
            med: None,
            local_pref: None,
            as_path: Vec::new(),
            communities: Vec::new(),
            large_communities: Vec::new(),
            origin: None,
            from: None,
            best: false,
        }
    }

    /// `has_community("65000:46")`; names such as "graceful-shutdown" work too.
    pub fn has_community(&self, text: &str) -> bool {
        self.communities.contains(&community(text))
    }

    pub fn has_large_community(&self, global: u32, local1: u32, local2: u32) -> bool {
        self.large_communities.contains(&(global, local1, local2))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        if let Some(nh) = self.next_hop {
            write!(f, " via {nh}")?;
        }
        if let Some(med) = self.med {
            write!(f, " med {med}")?;
        }
        if let Some(lp) = self.local_pref {
            write!(f, " local-pref {lp}")?;
        }
        write!(f, " as-path {:?}", self.as_path)?;
        if !self.communities.is_empty() {
            let c: Vec<String> = self.communities.iter().map(|(a, b)| format!("{a}:{b}")).collect();
            write!(f, " communities [{}]", c.join(" "))?;
        }
        if !self.large_communities.is_empty() {
            let c: Vec<String> = self.large_communities.iter().map(|(a, b, c)| format!("{a}:{b}:{c}")).collect();
            write!(f, " large [{}]", c.join(" "))?;
        }
        if let Some(origin) = self.origin {
            write!(f, " origin {origin:?}")?;
        }
        if let Some(from) = self.from {
            write!(f, " from {from}")?;
        }
        if self.best {
            write!(f, " best")?;
        }
        Ok(())
    }
}

/// Parses a prefix, accepting a bare address as a host route (/32 or /128).
pub fn prefix(text: &str) -> IpNet {
    let text = text.trim();
    IpNet::from_str(text)
        .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
        .unwrap_or_else(|_| panic!("not a prefix: {text:?}"))
}

/// The well-known communities (RFC 1997, 3765, 7611, 7999, 8326, 8642, 9494) and their names.
const WELL_KNOWN: &[(&str, u16)] = &[
    ("graceful-shutdown", 0x0000),
    ("accept-own", 0x0001),
    ("route-filter-translated-v4", 0x0002),
    ("route-filter-v4", 0x0003),
    ("route-filter-translated-v6", 0x0004),
    ("route-filter-v6", 0x0005),
    ("llgr-stale", 0x0006),
    ("no-llgr", 0x0007),
    ("accept-own-nexthop", 0x0008),
    ("blackhole", 0x029a),
    ("no-export", 0xff01),
    ("no-advertise", 0xff02),
    ("no-export-subconfed", 0xff03),
    ("local-as", 0xff03),
    ("no-peer", 0xff04),
];

/// Parses "65000:46", a well-known name ("no-export", "graceful-shutdown"), or a plain 32-bit
/// number ("4260233262") into (AS, value). Panics on anything else: community literals in tests
/// are constants, and a typo must not silently match nothing.
pub fn community(text: &str) -> (u16, u16) {
    try_community(text).unwrap_or_else(|| panic!("not a community: {text:?}"))
}

pub fn try_community(text: &str) -> Option<(u16, u16)> {
    let text = text.trim();
    if let Some((a, b)) = text.split_once(':') {
        return Some((a.trim().parse().ok()?, b.trim().parse().ok()?));
    }
    if let Ok(value) = text.parse::<u32>() {
        return Some(((value >> 16) as u16, value as u16));
    }
    // Spellings differ: "no-export" (CLI, rhi config), "noExport" / "acceptownnexthop" (FRR's
    // JSON), "NO_EXPORT" (RFC constants). Compare without case and separators.
    let squash = |s: &str| s.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
    let wanted = squash(text);
    WELL_KNOWN.iter().find(|(name, _)| squash(name) == wanted).map(|(_, value)| (0xffff, *value))
}

/// Parses "65006:1:2" into (global, local1, local2).
pub fn try_large_community(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split(':').map(|p| p.trim().parse::<u32>());
    let triple = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    parts.next().is_none().then_some(triple)
}
