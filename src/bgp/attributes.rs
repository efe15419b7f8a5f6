//! Path attributes (RFC 4271 §4.3, §5): typed values for the ones rhi sends or must validate,
//! raw bytes for the rest.
//!
//! Encoding writes MP_REACH_NLRI / MP_UNREACH_NLRI first (RFC 7606 §5.1), then the others in
//! type-code order, and sets Extended Length only for values over 255 octets. Decoding follows
//! RFC 4271 §6.3 as revised by RFC 7606: every error carries the NOTIFICATION RFC 4271 would
//! send and the action RFC 7606 prescribes (see [`ErrorAction`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bytes::{BufMut, Bytes};
use ipnet::IpNet;

use super::codec::CodecParams;
use super::message::EncodeError;
use super::nlri::{self, Family};
use super::notification::{update as sub, ErrorAction, UpdateError};
use super::AS_TRANS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AsSegment {
    Set(Vec<u32>),
    Sequence(Vec<u32>),
}

/// Always held with 4-octet AS numbers; the codec maps to 2 octets + AS4_PATH toward a peer that
/// lacks the 4-octet capability, and merges AS4_PATH back when decoding from one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

/// RFC 8092.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

/// An attribute rhi has no type for: carried through as received (flags, type code, value).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Bytes,
}

/// The attributes of a route, without the NLRI: one value is shared by every prefix announced
/// with the same attributes, which is what lets the Adj-RIB-Out pack them into one UPDATE.
/// MP_REACH_NLRI / MP_UNREACH_NLRI live in [`super::message::Update`] because they carry prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    /// (AS, address); 4-octet AS held, 2-octet + AS4_AGGREGATOR on the wire toward old peers.
    pub aggregator: Option<(u32, Ipv4Addr)>,
    /// RFC 1997, each as the 32-bit value (high 16 bits = AS).
    pub communities: Vec<u32>,
    /// RFC 4360, each as its 8 octets.
    pub extended_communities: Vec<[u8; 8]>,
    pub large_communities: Vec<LargeCommunity>,
    pub unknown: Vec<RawAttribute>,
}

/// MP_REACH_NLRI (RFC 4760 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpReach {
    pub family: Family,
    /// IPv6: global address; a link-local one may follow (32-octet next hop, RFC 2545).
    pub next_hop: IpAddr,
    pub link_local_next_hop: Option<Ipv6Addr>,
    pub nlri: Vec<IpNet>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4). Empty `withdrawn` = End-of-RIB for that family (RFC 4724 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Vec<IpNet>,
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod type_code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

use flags::{EXTENDED_LENGTH, OPTIONAL, PARTIAL, TRANSITIVE};

const WELL_KNOWN: u8 = TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE: u8 = OPTIONAL;
const OPTIONAL_TRANSITIVE: u8 = OPTIONAL | TRANSITIVE;

/// AS_PATH segment types (RFC 4271 §4.3); RFC 5065 adds 3 and 4 for confederations.
const AS_SET: u8 = 1;
const AS_SEQUENCE: u8 = 2;
/// A segment's length field is one octet.
const MAX_SEGMENT_ASNS: usize = 255;

// ---------------------------------------------------------------------------------------------
// AS paths

impl AsPath {
    /// A path of one AS_SEQUENCE (empty input: the empty path of an iBGP-originated route).
    pub fn sequence(asns: Vec<u32>) -> AsPath {
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath { segments: vec![AsSegment::Sequence(asns)] }
    }

    /// Path length for route selection (RFC 4271 §9.1.2.2): every AS of a sequence counts, an
    /// AS_SET counts one.
    pub fn len(&self) -> usize {
        self.segments.iter().map(AsSegment::path_len).sum()
    }

    /// No AS at all: the path of a route originated inside the AS.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Prepends `asn` `count` times, as a speaker does toward eBGP peers (and once more per
    /// configured prepend).
    pub fn prepend(&mut self, asn: u32, count: usize) {
        if count == 0 {
            return;
        }
        match self.segments.first_mut() {
            Some(AsSegment::Sequence(seq)) => {
                seq.splice(0..0, std::iter::repeat_n(asn, count));
            }
            _ => self.segments.insert(0, AsSegment::Sequence(vec![asn; count])),
        }
    }

    /// The neighbouring AS: the first AS of a leading AS_SEQUENCE.
    pub fn first(&self) -> Option<u32> {
        match self.segments.first() {
            Some(AsSegment::Sequence(seq)) => seq.first().copied(),
            _ => None,
        }
    }

    pub fn contains(&self, asn: u32) -> bool {
        self.asns().any(|a| a == asn)
    }

    pub fn asns(&self) -> impl Iterator<Item = u32> + '_ {
        self.segments.iter().flat_map(|s| s.asns().iter().copied())
    }

    fn has_4_octet_asn(&self) -> bool {
        self.asns().any(|a| a > u16::MAX as u32)
    }

    /// AS_PATH value length at `width` octets per AS. Empty segments are not sent (a zero
    /// segment length is malformed, RFC 7606 §7.2); longer ones are split at 255 ASes.
    fn value_len(&self, width: usize) -> usize {
        self.segments
            .iter()
            .map(|s| {
                let n = s.asns().len();
                n.div_ceil(MAX_SEGMENT_ASNS) * 2 + n * width
            })
            .sum()
    }

    fn put(&self, width: usize, buf: &mut impl BufMut) {
        for seg in &self.segments {
            let seg_type = match seg {
                AsSegment::Set(_) => AS_SET,
                AsSegment::Sequence(_) => AS_SEQUENCE,
            };
            for chunk in seg.asns().chunks(MAX_SEGMENT_ASNS) {
                buf.put_u8(seg_type);
                buf.put_u8(chunk.len() as u8);
                for &asn in chunk {
                    if width == 4 {
                        buf.put_u32(asn);
                    } else {
                        buf.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS));
                    }
                }
            }
        }
    }

    /// Decodes an AS_PATH / AS4_PATH value. Malformed per RFC 7606 §7.2: an overrun, a lone
    /// trailing octet, a zero segment length, or an unknown segment type. Confederation segments
    /// are refused too: rhi is never in a confederation, and RFC 5065 §5 makes them an error from
    /// any peer outside one.
    fn decode(mut value: &[u8], width: usize) -> Result<AsPath, ()> {
        let mut segments = Vec::new();
        while !value.is_empty() {
            let (seg_type, count, rest) = match value {
                [t, n, rest @ ..] if *n > 0 => (*t, *n as usize, rest),
                _ => return Err(()),
            };
            let octets = count * width;
            if rest.len() < octets {
                return Err(());
            }
            let asns: Vec<u32> = rest[..octets]
                .chunks_exact(width)
                .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32))
                .collect();
            segments.push(match seg_type {
                AS_SET => AsSegment::Set(asns),
                AS_SEQUENCE => AsSegment::Sequence(asns),
                // AS_CONFED_SEQUENCE, AS_CONFED_SET, and types nobody defined.
                _ => return Err(()),
            });
            value = &rest[octets..];
        }
        Ok(AsPath { segments })
    }

    /// Rebuilds the real path from a 2-octet AS_PATH and an AS4_PATH (RFC 6793 §4.2.3): the
    /// AS4_PATH is ignored when it counts more ASes than the AS_PATH; otherwise the AS_PATH's
    /// leading ASes that the AS4_PATH does not cover (added by OLD speakers) are put in front.
    fn merge_as4(&self, as4: AsPath) -> AsPath {
        let (n2, n4) = (self.len(), as4.len());
        if n2 < n4 {
            return self.clone();
        }
        let mut need = n2 - n4;
        let mut segments = Vec::with_capacity(self.segments.len() + as4.segments.len());
        for seg in &self.segments {
            if need == 0 {
                break;
            }
            match seg {
                AsSegment::Set(_) => {
                    segments.push(seg.clone());
                    need -= 1;
                }
                AsSegment::Sequence(seq) => {
                    let take = seq.len().min(need);
                    segments.push(AsSegment::Sequence(seq[..take].to_vec()));
                    need -= take;
                }
            }
        }
        let mut rest = as4.segments.into_iter();
        // Join the two halves of a sequence that the AS_TRANS substitution split in two.
        if let (Some(AsSegment::Sequence(head)), Some(AsSegment::Sequence(tail))) =
            (segments.last_mut(), rest.as_slice().first())
        {
            if head.len() + tail.len() <= MAX_SEGMENT_ASNS {
                head.extend_from_slice(tail);
                rest.next();
            }
        }
        segments.extend(rest);
        AsPath { segments }
    }
}

impl AsSegment {
    pub fn asns(&self) -> &[u32] {
        match self {
            AsSegment::Set(v) | AsSegment::Sequence(v) => v,
        }
    }

    /// An empty segment is never sent (see `AsPath::value_len`), so it counts nothing.
    fn path_len(&self) -> usize {
        match self {
            AsSegment::Set(v) => usize::from(!v.is_empty()),
            AsSegment::Sequence(v) => v.len(),
        }
    }
}

/// `65000 65001 {64512 64513}` (sets in braces, as BIRD and Cisco print them).
impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let join = |f: &mut fmt::Formatter<'_>, v: &[u32]| -> fmt::Result {
                for (i, asn) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{asn}")?;
                }
                Ok(())
            };
            match seg {
                AsSegment::Sequence(v) => join(f, v)?,
                AsSegment::Set(v) => {
                    f.write_str("{")?;
                    join(f, v)?;
                    f.write_str("}")?;
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Communities

/// Well-known communities (IANA "BGP Well-known Communities").
pub mod community {
    pub const GRACEFUL_SHUTDOWN: u32 = 0xFFFF_0000; // RFC 8326
    pub const ACCEPT_OWN: u32 = 0xFFFF_0001; // RFC 7611
    pub const LLGR_STALE: u32 = 0xFFFF_0006; // RFC 9494
    pub const NO_LLGR: u32 = 0xFFFF_0007; // RFC 9494
    pub const ACCEPT_OWN_NEXTHOP: u32 = 0xFFFF_0008;
    pub const BLACKHOLE: u32 = 0xFFFF_029A; // RFC 7999
    pub const NO_EXPORT: u32 = 0xFFFF_FF01; // RFC 1997
    pub const NO_ADVERTISE: u32 = 0xFFFF_FF02; // RFC 1997
    pub const NO_EXPORT_SUBCONFED: u32 = 0xFFFF_FF03; // RFC 1997
    pub const NO_PEER: u32 = 0xFFFF_FF04; // RFC 3765
}

/// Names first; the first name of a value is the one printed.
const WELL_KNOWN_COMMUNITIES: &[(&str, u32)] = &[
    ("graceful-shutdown", community::GRACEFUL_SHUTDOWN),
    ("accept-own", community::ACCEPT_OWN),
    ("llgr-stale", community::LLGR_STALE),
    ("no-llgr", community::NO_LLGR),
    ("accept-own-nexthop", community::ACCEPT_OWN_NEXTHOP),
    ("blackhole", community::BLACKHOLE),
    ("no-export", community::NO_EXPORT),
    ("no-advertise", community::NO_ADVERTISE),
    ("no-export-subconfed", community::NO_EXPORT_SUBCONFED),
    // Cisco's name for NO_EXPORT_SUBCONFED.
    ("local-as", community::NO_EXPORT_SUBCONFED),
    ("no-peer", community::NO_PEER),
];

/// Parses an RFC 1997 community: `65000:46` (two 16-bit halves), a well-known name
/// (`no-export`, `graceful-shutdown`, ...; case and `_`/`-` do not matter), or the 32-bit value
/// in decimal as GoBGP prints it.
pub fn parse_community(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if let Some((hi, lo)) = s.split_once(':') {
        let half = |p: &str| {
            p.trim().parse::<u16>().map_err(|_| format!("invalid community {s:?}: {p:?} is not a number in 0..=65535"))
        };
        return Ok((half(hi)? as u32) << 16 | half(lo)? as u32);
    }
    let name = s.to_ascii_lowercase().replace('_', "-");
    if let Some((_, v)) = WELL_KNOWN_COMMUNITIES.iter().find(|(n, _)| *n == name) {
        return Ok(*v);
    }
    s.parse::<u32>().map_err(|_| format!("invalid community {s:?}: expected ASN:VALUE or a well-known name"))
}

/// `65000:46`, or the well-known name (`no-export`).
pub fn community_to_string(c: u32) -> String {
    match WELL_KNOWN_COMMUNITIES.iter().find(|(_, v)| *v == c) {
        Some((name, _)) => (*name).to_owned(),
        None => format!("{}:{}", c >> 16, c & 0xFFFF),
    }
}

impl LargeCommunity {
    pub const fn new(global: u32, local1: u32, local2: u32) -> LargeCommunity {
        LargeCommunity { global, local1, local2 }
    }
}

impl FromStr for LargeCommunity {
    type Err = String;

    /// `GLOBAL:LOCAL1:LOCAL2`, each a 32-bit number (RFC 8092 §3).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid large community {s:?}: expected A:B:C with 32-bit numbers");
        let mut parts = s.trim().split(':').map(|p| p.trim().parse::<u32>());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(global)), Some(Ok(local1)), Some(Ok(local2)), None) => {
                Ok(LargeCommunity { global, local1, local2 })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// One attribute as it will be written: both `encoded_len` and `encode` walk the same list, so
/// they cannot disagree.
enum Value<'a> {
    Empty,
    U8(u8),
    U32(u32),
    Addr(Ipv4Addr),
    Path(&'a AsPath, usize),
    Aggregator(u32, Ipv4Addr, usize),
    Communities(&'a [u32]),
    Extended(&'a [[u8; 8]]),
    Large(&'a [LargeCommunity]),
    Raw(&'a [u8]),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Empty => 0,
            Value::U8(_) => 1,
            Value::U32(_) | Value::Addr(_) => 4,
            Value::Path(path, width) => path.value_len(*width),
            Value::Aggregator(_, _, width) => *width + 4,
            Value::Communities(c) => c.len() * 4,
            Value::Extended(c) => c.len() * 8,
            Value::Large(c) => c.len() * 12,
            Value::Raw(v) => v.len(),
        }
    }

    fn put(&self, buf: &mut impl BufMut) {
        match self {
            Value::Empty => {}
            Value::U8(v) => buf.put_u8(*v),
            Value::U32(v) => buf.put_u32(*v),
            Value::Addr(a) => buf.put_slice(&a.octets()),
            Value::Path(path, width) => path.put(*width, buf),
            Value::Aggregator(asn, addr, width) => {
                if *width == 4 {
                    buf.put_u32(*asn);
                } else {
                    buf.put_u16(u16::try_from(*asn).unwrap_or(AS_TRANS));
                }
                buf.put_slice(&addr.octets());
            }
            Value::Communities(c) => c.iter().for_each(|v| buf.put_u32(*v)),
            Value::Extended(c) => c.iter().for_each(|v| buf.put_slice(v)),
            Value::Large(c) => c.iter().for_each(|v| {
                buf.put_u32(v.global);
                buf.put_u32(v.local1);
                buf.put_u32(v.local2);
            }),
            Value::Raw(v) => buf.put_slice(v),
        }
    }
}

/// Flags, type code and length: 3 octets, or 4 with Extended Length for values over 255.
#[inline]
pub(crate) fn header_len(value_len: usize) -> usize {
    if value_len > 255 {
        4
    } else {
        3
    }
}

pub(crate) fn put_header(flags: u8, code: u8, value_len: usize, buf: &mut impl BufMut) -> Result<(), EncodeError> {
    let len = u16::try_from(value_len).map_err(|_| EncodeError::Invalid("attribute value longer than 65535 octets"))?;
    let flags = flags & !EXTENDED_LENGTH & 0xF0;
    if len > 255 {
        buf.put_u8(flags | EXTENDED_LENGTH);
        buf.put_u8(code);
        buf.put_u16(len);
    } else {
        buf.put_u8(flags);
        buf.put_u8(code);
        buf.put_u8(len as u8);
    }
    Ok(())
}

/// Type codes the encoder derives from typed fields: a [`RawAttribute`] with one of them is not
/// sent, or the UPDATE would carry a duplicate.
fn is_modeled(code: u8) -> bool {
    use type_code::*;
    matches!(
        code,
        ORIGIN
            | AS_PATH
            | NEXT_HOP
            | MULTI_EXIT_DISC
            | LOCAL_PREF
            | ATOMIC_AGGREGATE
            | AGGREGATOR
            | COMMUNITIES
            | MP_REACH_NLRI
            | MP_UNREACH_NLRI
            | EXTENDED_COMMUNITIES
            | AS4_PATH
            | AS4_AGGREGATOR
            | LARGE_COMMUNITIES
    )
}

/// Partial stays only on optional transitive attributes (RFC 4271 §4.3); the low four bits are
/// unused and sent as zero.
fn raw_flags(f: u8) -> u8 {
    let f = f & (OPTIONAL | TRANSITIVE | PARTIAL);
    if f & OPTIONAL_TRANSITIVE == OPTIONAL_TRANSITIVE {
        f
    } else {
        f & !PARTIAL
    }
}

impl PathAttributes {
    /// Calls `f(flags, type code, value)` for every attribute to send, in type-code order.
    fn for_each(&self, params: &CodecParams, mut f: impl FnMut(u8, u8, Value<'_>)) {
        use type_code::*;
        let width = if params.four_octet_as { 4 } else { 2 };
        // First occurrence of each unknown type code; 0 = none. Sending one per code keeps
        // a hand-built list from producing a duplicate attribute.
        let mut unknown = [0u16; 256];
        for (i, raw) in self.unknown.iter().enumerate().take(u16::MAX as usize - 1) {
            let slot = &mut unknown[raw.type_code as usize];
            if *slot == 0 && !is_modeled(raw.type_code) {
                *slot = i as u16 + 1;
            }
        }
        let needs_as4_path = !params.four_octet_as && self.as_path.as_ref().is_some_and(AsPath::has_4_octet_asn);
        let needs_as4_aggregator =
            !params.four_octet_as && self.aggregator.is_some_and(|(asn, _)| asn > u16::MAX as u32);
        for code in 0..=255u8 {
            match code {
                ORIGIN => {
                    if let Some(o) = self.origin {
                        f(WELL_KNOWN, code, Value::U8(o as u8));
                    }
                }
                AS_PATH => {
                    if let Some(p) = &self.as_path {
                        f(WELL_KNOWN, code, Value::Path(p, width));
                    }
                }
                NEXT_HOP => {
                    if let Some(nh) = self.next_hop {
                        f(WELL_KNOWN, code, Value::Addr(nh));
                    }
                }
                MULTI_EXIT_DISC => {
                    if let Some(med) = self.med {
                        f(OPTIONAL_NON_TRANSITIVE, code, Value::U32(med));
                    }
                }
                LOCAL_PREF => {
                    if let Some(lp) = self.local_pref {
                        f(WELL_KNOWN, code, Value::U32(lp));
                    }
                }
                ATOMIC_AGGREGATE => {
                    if self.atomic_aggregate {
                        f(WELL_KNOWN, code, Value::Empty);
                    }
                }
                AGGREGATOR => {
                    if let Some((asn, addr)) = self.aggregator {
                        f(OPTIONAL_TRANSITIVE, code, Value::Aggregator(asn, addr, width));
                    }
                }
                COMMUNITIES if !self.communities.is_empty() => {
                    f(OPTIONAL_TRANSITIVE, code, Value::Communities(&self.communities));
                }
                EXTENDED_COMMUNITIES if !self.extended_communities.is_empty() => {
                    f(OPTIONAL_TRANSITIVE, code, Value::Extended(&self.extended_communities));
                }
                AS4_PATH if needs_as4_path => {
                    if let Some(p) = &self.as_path {
                        f(OPTIONAL_TRANSITIVE, code, Value::Path(p, 4));
                    }
                }
                AS4_AGGREGATOR if needs_as4_aggregator => {
                    if let Some((asn, addr)) = self.aggregator {
                        f(OPTIONAL_TRANSITIVE, code, Value::Aggregator(asn, addr, 4));
                    }
                }
                LARGE_COMMUNITIES if !self.large_communities.is_empty() => {
                    f(OPTIONAL_TRANSITIVE, code, Value::Large(&self.large_communities));
                }
                _ => {
                    if let Some(raw) = unknown[code as usize].checked_sub(1).and_then(|i| self.unknown.get(i as usize))
                    {
                        f(raw_flags(raw.flags), code, Value::Raw(&raw.value));
                    }
                }
            }
        }
    }

    /// Octets [`PathAttributes::encode`] writes with these parameters (headers included).
    pub fn encoded_len(&self, params: &CodecParams) -> usize {
        let mut total = 0;
        self.for_each(params, |_, _, v| {
            let len = v.len();
            total += header_len(len) + len;
        });
        total
    }

    /// Appends the attributes in type-code order. Toward a peer without the 4-octet AS
    /// capability, ASNs above 65535 become AS_TRANS and AS4_PATH / AS4_AGGREGATOR carry the real
    /// ones (RFC 6793 §4.2.2). Empty community lists are not sent (a zero-length COMMUNITIES is
    /// malformed, RFC 7606 §7.8); [`RawAttribute`]s whose type code rhi models are skipped.
    pub fn encode(&self, params: &CodecParams, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        let mut result = Ok(());
        self.for_each(params, |flags, code, v| {
            if result.is_ok() {
                result = put_header(flags, code, v.len(), buf).map(|()| v.put(buf));
            }
        });
        result
    }
}

impl MpReach {
    fn next_hop_len(&self) -> usize {
        match self.next_hop {
            IpAddr::V4(_) => 4,
            IpAddr::V6(_) if self.link_local_next_hop.is_some() => 32,
            IpAddr::V6(_) => 16,
        }
    }

    /// Octets of the attribute value (AFI, SAFI, next hop, reserved, NLRI).
    pub fn value_len(&self) -> usize {
        5 + self.next_hop_len() + self.nlri.iter().map(nlri::prefix_encoded_len).sum::<usize>()
    }

    /// Octets of the whole attribute, header included.
    pub fn encoded_len(&self) -> usize {
        let v = self.value_len();
        header_len(v) + v
    }

    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        check_family(self.family, &self.nlri)?;
        if self.family == Family::IPV6_UNICAST && self.next_hop.is_ipv4() {
            return Err(EncodeError::Invalid("IPv6 unicast MP_REACH_NLRI with an IPv4 next hop"));
        }
        if self.next_hop.is_ipv4() && self.link_local_next_hop.is_some() {
            return Err(EncodeError::Invalid("link-local next hop beside an IPv4 next hop"));
        }
        put_header(OPTIONAL_NON_TRANSITIVE, type_code::MP_REACH_NLRI, self.value_len(), buf)?;
        buf.put_u16(self.family.afi);
        buf.put_u8(self.family.safi);
        buf.put_u8(self.next_hop_len() as u8);
        match self.next_hop {
            IpAddr::V4(a) => buf.put_slice(&a.octets()),
            IpAddr::V6(a) => buf.put_slice(&a.octets()),
        }
        if let Some(ll) = self.link_local_next_hop {
            buf.put_slice(&ll.octets());
        }
        buf.put_u8(0); // reserved (was the SNPA count)
        self.nlri.iter().for_each(|p| nlri::encode(p, buf));
        Ok(())
    }
}

impl MpUnreach {
    pub fn value_len(&self) -> usize {
        3 + self.withdrawn.iter().map(nlri::prefix_encoded_len).sum::<usize>()
    }

    pub fn encoded_len(&self) -> usize {
        let v = self.value_len();
        header_len(v) + v
    }

    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        check_family(self.family, &self.withdrawn)?;
        put_header(OPTIONAL_NON_TRANSITIVE, type_code::MP_UNREACH_NLRI, self.value_len(), buf)?;
        buf.put_u16(self.family.afi);
        buf.put_u8(self.family.safi);
        self.withdrawn.iter().for_each(|p| nlri::encode(p, buf));
        Ok(())
    }
}

fn check_family(family: Family, prefixes: &[IpNet]) -> Result<(), EncodeError> {
    let ok = match family {
        Family::IPV4_UNICAST => prefixes.iter().all(|p| matches!(p, IpNet::V4(_))),
        Family::IPV6_UNICAST => prefixes.iter().all(|p| matches!(p, IpNet::V6(_))),
        _ => prefixes.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(EncodeError::Invalid("prefix of another address family in MP_REACH/MP_UNREACH"))
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// The strongest non-fatal error seen so far; a session reset is returned as `Err` at once.
#[derive(Debug, Default)]
pub(crate) struct ErrorReport {
    pub worst: Option<UpdateError>,
}

impl ErrorReport {
    pub fn record(&mut self, subcode: u8, data: &[u8], action: ErrorAction) -> Result<(), UpdateError> {
        let err = UpdateError::new(subcode, Bytes::copy_from_slice(data), action);
        if action == ErrorAction::SessionReset {
            return Err(err);
        }
        // Keep the first error of the strongest kind: it is the one RFC 4271 would have sent.
        if self.worst.as_ref().is_none_or(|w| action.severity() > w.action.severity()) {
            self.worst = Some(err);
        }
        Ok(())
    }
}

/// A set of attribute type codes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TypeSet([u64; 4]);

impl TypeSet {
    pub fn contains(&self, code: u8) -> bool {
        self.0[code as usize / 64] & (1 << (code % 64)) != 0
    }

    fn insert(&mut self, code: u8) {
        self.0[code as usize / 64] |= 1 << (code % 64);
    }
}

/// What the attribute block of an UPDATE held.
#[derive(Debug, Default)]
pub(crate) struct DecodedAttributes {
    pub attributes: PathAttributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// Every type code present, malformed or not (a malformed attribute is not also "missing").
    pub present: TypeSet,
}

/// The O and T bits a known attribute must carry (RFC 7606 §3(c) checks only those two).
fn expected_flags(code: u8) -> Option<u8> {
    use type_code::*;
    Some(match code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => WELL_KNOWN,
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => OPTIONAL_NON_TRANSITIVE,
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR | LARGE_COMMUNITIES => {
            OPTIONAL_TRANSITIVE
        }
        _ => return None,
    })
}

/// A NEXT_HOP that can never be a host: "this network" 0/8, multicast 224/4 and the reserved
/// 240/4 (which holds the limited broadcast address). RFC 4271 §6.3 calls these syntactically
/// incorrect; being on a shared subnet, or being the receiver's own address, is the semantic
/// check that only the session can make (routes are then ignored, no NOTIFICATION). Loopback
/// is left to the receiver too: lab peers on 127/8 legitimately announce next-hop self.
pub fn is_invalid_next_hop(addr: Ipv4Addr) -> bool {
    let first = addr.octets()[0];
    first == 0 || first >= 224
}

fn be_u32(v: &[u8]) -> u32 {
    v.iter().take(4).fold(0, |acc, b| (acc << 8) | *b as u32)
}

fn ipv4_at(v: &[u8]) -> Ipv4Addr {
    Ipv4Addr::from(be_u32(v))
}

struct Decoder<'p> {
    params: &'p CodecParams,
    /// The UPDATE's NLRI field is not empty: NEXT_HOP matters.
    has_v4_nlri: bool,
    out: DecodedAttributes,
    as4_path: Option<AsPath>,
    as4_aggregator: Option<(u32, Ipv4Addr)>,
}

/// Decodes the path attribute block of an UPDATE. Errors that RFC 7606 lets the session survive
/// are recorded in `report`; a session reset is returned as `Err`.
pub(crate) fn decode_attributes(
    mut block: &[u8],
    params: &CodecParams,
    has_v4_nlri: bool,
    report: &mut ErrorReport,
) -> Result<DecodedAttributes, UpdateError> {
    let mut d =
        Decoder { params, has_v4_nlri, out: DecodedAttributes::default(), as4_path: None, as4_aggregator: None };
    while !block.is_empty() {
        // RFC 7606 §4: a header or value running past the block is treat-as-withdraw; the
        // Total Path Attribute Length still locates the NLRI, so the rest of the UPDATE is read.
        let ext = block[0] & EXTENDED_LENGTH != 0;
        let hdr = if ext { 4 } else { 3 };
        if block.len() < hdr {
            report.record(sub::MALFORMED_ATTRIBUTE_LIST, &[], ErrorAction::TreatAsWithdraw)?;
            break;
        }
        let (flag_bits, code) = (block[0], block[1]);
        let len = if ext { u16::from_be_bytes([block[2], block[3]]) as usize } else { block[2] as usize };
        if block.len() < hdr + len {
            report.record(sub::ATTRIBUTE_LENGTH_ERROR, block, ErrorAction::TreatAsWithdraw)?;
            break;
        }
        let (raw, rest) = block.split_at(hdr + len);
        block = rest;
        d.attribute(flag_bits, code, &raw[hdr..], raw, report)?;
    }
    d.finish();
    Ok(d.out)
}

impl Decoder<'_> {
    fn attribute(
        &mut self,
        flag_bits: u8,
        code: u8,
        value: &[u8],
        raw: &[u8],
        report: &mut ErrorReport,
    ) -> Result<(), UpdateError> {
        use type_code::*;
        use ErrorAction::{AttributeDiscard, SessionReset, TreatAsWithdraw};
        let is_mp = code == MP_REACH_NLRI || code == MP_UNREACH_NLRI;
        if self.out.present.contains(code) {
            // RFC 7606 §3(g): later copies are discarded, except of the attributes carrying NLRI.
            let action = if is_mp { SessionReset } else { AttributeDiscard };
            return report.record(sub::MALFORMED_ATTRIBUTE_LIST, &[], action);
        }
        self.out.present.insert(code);
        if self.params.four_octet_as && (code == AS4_PATH || code == AS4_AGGREGATOR) {
            // RFC 6793 §3: between NEW speakers these are meaningless and discarded.
            return Ok(());
        }
        // RFC 4760 §3: without IPv4 prefixes in the NLRI field the NEXT_HOP is ignored, so a
        // fault in it can cost that attribute at most, never the MP_REACH_NLRI routes.
        let ignored = code == NEXT_HOP && !self.has_v4_nlri;
        let withdraw = if ignored { AttributeDiscard } else { TreatAsWithdraw };
        if let Some(expected) = expected_flags(code) {
            if flag_bits & OPTIONAL_TRANSITIVE != expected {
                report.record(sub::ATTRIBUTE_FLAGS_ERROR, raw, withdraw)?;
                // The NLRI of an MP attribute must still be read so it can be withdrawn.
                if !is_mp {
                    return Ok(());
                }
            }
        }
        let len = value.len();
        let width = self.width();
        let attrs = &mut self.out.attributes;
        match code {
            ORIGIN => match value {
                [0] => attrs.origin = Some(Origin::Igp),
                [1] => attrs.origin = Some(Origin::Egp),
                [2] => attrs.origin = Some(Origin::Incomplete),
                [_] => report.record(sub::INVALID_ORIGIN_ATTRIBUTE, raw, TreatAsWithdraw)?,
                _ => report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, TreatAsWithdraw)?,
            },
            AS_PATH => match AsPath::decode(value, width) {
                Ok(path) => attrs.as_path = Some(path),
                Err(()) => report.record(sub::MALFORMED_AS_PATH, &[], TreatAsWithdraw)?,
            },
            NEXT_HOP if len != 4 => report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, withdraw)?,
            NEXT_HOP => {
                let nh = ipv4_at(value);
                if !ignored && is_invalid_next_hop(nh) {
                    report.record(sub::INVALID_NEXT_HOP_ATTRIBUTE, raw, TreatAsWithdraw)?;
                }
                attrs.next_hop = Some(nh);
            }
            MULTI_EXIT_DISC | LOCAL_PREF | ORIGINATOR_ID if len != 4 => {
                report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, TreatAsWithdraw)?
            }
            MULTI_EXIT_DISC => attrs.med = Some(be_u32(value)),
            // Whether LOCAL_PREF from an eBGP peer must be ignored (RFC 7606 §7.5) is the
            // session's call: the codec does not know the peer's AS.
            LOCAL_PREF => attrs.local_pref = Some(be_u32(value)),
            ATOMIC_AGGREGATE if len != 0 => report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, AttributeDiscard)?,
            ATOMIC_AGGREGATE => attrs.atomic_aggregate = true,
            AGGREGATOR if len != width + 4 => report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, AttributeDiscard)?,
            AGGREGATOR => attrs.aggregator = Some((be_u32(&value[..width]), ipv4_at(&value[width..]))),
            COMMUNITIES | CLUSTER_LIST if len == 0 || len % 4 != 0 => {
                report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, TreatAsWithdraw)?
            }
            COMMUNITIES => attrs.communities = value.chunks_exact(4).map(be_u32).collect(),
            // Route-reflection attributes: checked (RFC 7606 §7.9, §7.10), then dropped, since
            // they are optional non-transitive and rhi reflects nothing.
            ORIGINATOR_ID | CLUSTER_LIST => {}
            MP_REACH_NLRI => match decode_mp_reach(value) {
                Some(reach) => self.out.mp_reach = Some(reach),
                // RFC 7606 §7.11: the NLRI cannot be located reliably any more.
                None => report.record(sub::OPTIONAL_ATTRIBUTE_ERROR, raw, SessionReset)?,
            },
            MP_UNREACH_NLRI => match decode_mp_unreach(value) {
                Some(unreach) => self.out.mp_unreach = Some(unreach),
                None => report.record(sub::OPTIONAL_ATTRIBUTE_ERROR, raw, SessionReset)?,
            },
            EXTENDED_COMMUNITIES if len == 0 || len % 8 != 0 => {
                report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, TreatAsWithdraw)?
            }
            EXTENDED_COMMUNITIES => {
                attrs.extended_communities =
                    value.chunks_exact(8).map(|c| <[u8; 8]>::try_from(c).unwrap_or_default()).collect()
            }
            // RFC 6793 §6: a malformed AS4_PATH / AS4_AGGREGATOR is discarded, never fatal.
            AS4_PATH => match AsPath::decode(value, 4) {
                Ok(path) => self.as4_path = Some(path),
                Err(()) => report.record(sub::OPTIONAL_ATTRIBUTE_ERROR, raw, AttributeDiscard)?,
            },
            AS4_AGGREGATOR if len != 8 => report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, AttributeDiscard)?,
            AS4_AGGREGATOR => self.as4_aggregator = Some((be_u32(&value[..4]), ipv4_at(&value[4..]))),
            LARGE_COMMUNITIES if len == 0 || len % 12 != 0 => {
                report.record(sub::ATTRIBUTE_LENGTH_ERROR, raw, TreatAsWithdraw)?
            }
            LARGE_COMMUNITIES => {
                attrs.large_communities = value
                    .chunks_exact(12)
                    .map(|c| LargeCommunity::new(be_u32(&c[..4]), be_u32(&c[4..8]), be_u32(&c[8..])))
                    .collect()
            }
            // An unknown well-known attribute: RFC 4271 sends 3/2. RFC 7606 does not revise that
            // case, but the attribute is self-delimiting and the rest of the message parses, so
            // rhi prefers treat-as-withdraw (§2), as BIRD and FRR do.
            _ if flag_bits & OPTIONAL == 0 => {
                report.record(sub::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, raw, TreatAsWithdraw)?
            }
            // Unknown optional transitive: passed on with Partial set (RFC 4271 §5), since rhi
            // is a speaker on the path that did not recognize it.
            _ if flag_bits & TRANSITIVE != 0 => attrs.unknown.push(RawAttribute {
                flags: (flag_bits & (OPTIONAL | TRANSITIVE)) | PARTIAL,
                type_code: code,
                value: Bytes::copy_from_slice(value),
            }),
            // Unknown optional non-transitive: quietly dropped (RFC 4271 §5).
            _ => {}
        }
        Ok(())
    }

    fn width(&self) -> usize {
        if self.params.four_octet_as {
            4
        } else {
            2
        }
    }

    /// RFC 6793 §4.2.3: rebuild the 4-octet AS path and aggregator from an OLD speaker's
    /// AS4_PATH / AS4_AGGREGATOR. Also puts unknown attributes in type-code order.
    fn finish(&mut self) {
        let attrs = &mut self.out.attributes;
        // Type-code order, as the encoder writes them: two UPDATEs that differ only in the order
        // of their unknown attributes then hold equal attributes.
        attrs.unknown.sort_by_key(|r| r.type_code);
        let mut as4_path = self.as4_path.take();
        if let Some(as4_aggregator) = self.as4_aggregator.take() {
            match attrs.aggregator {
                Some((asn, _)) if asn == AS_TRANS as u32 => attrs.aggregator = Some(as4_aggregator),
                // An OLD speaker aggregated after the NEW ones: its AS_PATH is the truth.
                Some(_) => as4_path = None,
                None => {}
            }
        }
        if let (Some(as4), Some(path)) = (as4_path, attrs.as_path.as_mut()) {
            *path = path.merge_as4(as4);
        }
    }
}

fn decode_mp_reach(value: &[u8]) -> Option<MpReach> {
    let (afi, safi, rest) = match value {
        [a0, a1, safi, rest @ ..] => (u16::from_be_bytes([*a0, *a1]), *safi, rest),
        _ => return None,
    };
    let family = Family::new(afi, safi);
    let (&nh_len, rest) = rest.split_first()?;
    let nh = rest.get(..nh_len as usize)?;
    // One reserved octet follows the next hop (RFC 4760 §3); it must be there, its value is ignored.
    let nlri_bytes = rest.get(nh_len as usize + 1..)?;
    if !family.is_supported() {
        // Keep the family so the receiver can see what it was; its NLRI cannot be read.
        return Some(MpReach {
            family,
            next_hop: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            link_local_next_hop: None,
            nlri: Vec::new(),
        });
    }
    let v6 = |o: &[u8]| <[u8; 16]>::try_from(o).ok().map(Ipv6Addr::from);
    let (next_hop, link_local_next_hop) = match (family, nh.len()) {
        (Family::IPV4_UNICAST, 4) => (IpAddr::V4(ipv4_at(nh)), None),
        // 16 and 32 octets: IPv6 global (+ link-local, RFC 2545), for IPv4 NLRI too (RFC 8950).
        (_, 16) => (IpAddr::V6(v6(nh)?), None),
        (_, 32) => (IpAddr::V6(v6(&nh[..16])?), Some(v6(&nh[16..])?)),
        _ => return None,
    };
    let nlri = nlri::decode(family, nlri_bytes).ok()?;
    Some(MpReach { family, next_hop, link_local_next_hop, nlri })
}

fn decode_mp_unreach(value: &[u8]) -> Option<MpUnreach> {
    let (afi, safi, rest) = match value {
        [a0, a1, safi, rest @ ..] => (u16::from_be_bytes([*a0, *a1]), *safi, rest),
        _ => return None,
    };
    let family = Family::new(afi, safi);
    let withdrawn = if family.is_supported() { nlri::decode(family, rest).ok()? } else { Vec::new() };
    Some(MpUnreach { family, withdrawn })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P4: CodecParams = CodecParams { four_octet_as: true, max_message_len: 4096 };
    const P2: CodecParams = CodecParams { four_octet_as: false, max_message_len: 4096 };

    fn enc(a: &PathAttributes, p: &CodecParams) -> Vec<u8> {
        let mut b = Vec::new();
        a.encode(p, &mut b).unwrap();
        assert_eq!(b.len(), a.encoded_len(p), "encoded_len disagrees with encode");
        b
    }

    fn dec(block: &[u8], p: &CodecParams) -> (PathAttributes, Option<UpdateError>) {
        let mut report = ErrorReport::default();
        let d = decode_attributes(block, p, true, &mut report).unwrap();
        (d.attributes, report.worst)
    }

    #[test]
    fn as_path_length_counts_a_set_once() {
        let p = AsPath {
            segments: vec![
                AsSegment::Sequence(vec![1, 2, 3]),
                AsSegment::Set(vec![4, 5]),
                AsSegment::Sequence(vec![6]),
            ],
        };
        assert_eq!(p.len(), 5);
        assert_eq!(p.to_string(), "1 2 3 {4 5} 6");
        assert_eq!(AsPath::sequence(vec![]).len(), 0);
        assert!(AsPath::default().is_empty());
        assert_eq!(AsPath::sequence(vec![65000, 65001]).first(), Some(65000));
    }

    #[test]
    fn prepend_extends_the_leading_sequence() {
        let mut p = AsPath::sequence(vec![65001]);
        p.prepend(65000, 3);
        assert_eq!(p, AsPath::sequence(vec![65000, 65000, 65000, 65001]));
        let mut p = AsPath { segments: vec![AsSegment::Set(vec![1, 2])] };
        p.prepend(65000, 1);
        assert_eq!(p.segments[0], AsSegment::Sequence(vec![65000]));
        let mut p = AsPath::default();
        p.prepend(65000, 0);
        assert!(p.segments.is_empty());
    }

    #[test]
    fn communities_parse_and_print() {
        assert_eq!(parse_community("65000:46"), Ok(0xFDE8_002E));
        assert_eq!(parse_community(" 0:0 "), Ok(0));
        assert_eq!(parse_community("65535:65535"), Ok(u32::MAX));
        assert_eq!(parse_community("no-export"), Ok(community::NO_EXPORT));
        assert_eq!(parse_community("NO_EXPORT"), Ok(community::NO_EXPORT));
        assert_eq!(parse_community("local-as"), Ok(community::NO_EXPORT_SUBCONFED));
        assert_eq!(parse_community("graceful-shutdown"), Ok(0xFFFF_0000));
        assert_eq!(parse_community("blackhole"), Ok(0xFFFF_029A));
        assert_eq!(parse_community("4260233262"), Ok(4_260_233_262)); // GoBGP's 65006:46
        for name in [
            "no-export",
            "no-advertise",
            "no-export-subconfed",
            "local-as",
            "no-peer",
            "blackhole",
            "graceful-shutdown",
            "accept-own",
            "llgr-stale",
            "no-llgr",
        ] {
            let v = parse_community(name).unwrap();
            assert_eq!(parse_community(&community_to_string(v)), Ok(v), "{name}");
        }
        assert!(parse_community("65536:1").is_err());
        assert!(parse_community("1:2:3").is_err());
        assert!(parse_community("no-such").is_err());
        assert!(parse_community("").is_err());
        assert_eq!(community_to_string(0xFDE8_002E), "65000:46");
        assert_eq!(community_to_string(community::NO_EXPORT), "no-export");
        assert_eq!(community_to_string(community::NO_EXPORT_SUBCONFED), "no-export-subconfed");
    }

    #[test]
    fn large_communities_parse_and_print() {
        let c: LargeCommunity = "4200000013:1:2".parse().unwrap();
        assert_eq!(c, LargeCommunity::new(4_200_000_013, 1, 2));
        assert_eq!(c.to_string(), "4200000013:1:2");
        for bad in ["1:2", "1:2:3:4", "a:b:c", "4294967296:0:0", ""] {
            assert!(bad.parse::<LargeCommunity>().is_err(), "{bad}");
        }
    }

    fn full() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65006, 4_200_000_013])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 6)),
            med: Some(300),
            local_pref: Some(100),
            atomic_aggregate: true,
            aggregator: Some((4_200_000_013, Ipv4Addr::new(192, 0, 2, 13))),
            communities: vec![0xFDEE_002E],
            extended_communities: vec![[0, 2, 0xfd, 0xee, 0, 0, 0, 1]],
            large_communities: vec![LargeCommunity::new(65006, 1, 2)],
            unknown: vec![RawAttribute { flags: 0xe0, type_code: 35, value: Bytes::from_static(&[0, 0, 0xfd, 0xee]) }],
        }
    }

    #[test]
    fn four_octet_encoding_is_byte_exact() {
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x40, 1, 1, 0,                                       // ORIGIN IGP
            0x40, 2, 10, 2, 2, 0, 0, 0xfd, 0xee, 0xfa, 0x56, 0xea, 0x0d, // AS_PATH seq 65006 4200000013
            0x40, 3, 4, 192, 0, 2, 6,                           // NEXT_HOP
            0x80, 4, 4, 0, 0, 1, 0x2c,                          // MED 300
            0x40, 5, 4, 0, 0, 0, 100,                           // LOCAL_PREF 100
            0x40, 6, 0,                                         // ATOMIC_AGGREGATE
            0xc0, 7, 8, 0xfa, 0x56, 0xea, 0x0d, 192, 0, 2, 13,  // AGGREGATOR
            0xc0, 8, 4, 0xfd, 0xee, 0, 0x2e,                    // COMMUNITIES 65006:46
            0xc0, 16, 8, 0, 2, 0xfd, 0xee, 0, 0, 0, 1,          // EXTENDED_COMMUNITIES
            0xc0, 32, 12, 0, 0, 0xfd, 0xee, 0, 0, 0, 1, 0, 0, 0, 2, // LARGE_COMMUNITIES 65006:1:2
            0xe0, 35, 4, 0, 0, 0xfd, 0xee,                      // unknown optional transitive (OTC)
        ];
        assert_eq!(enc(&full(), &P4), expected);
        assert_eq!(dec(expected, &P4), (full(), None));
    }

    #[test]
    fn two_octet_peer_gets_as_trans_and_as4_attributes() {
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x40, 1, 1, 0,
            0x40, 2, 6, 2, 2, 0xfd, 0xee, 0x5b, 0xa0,           // AS_PATH seq 65006 AS_TRANS
            0x40, 3, 4, 192, 0, 2, 6,
            0x80, 4, 4, 0, 0, 1, 0x2c,
            0x40, 5, 4, 0, 0, 0, 100,
            0x40, 6, 0,
            0xc0, 7, 6, 0x5b, 0xa0, 192, 0, 2, 13,              // AGGREGATOR AS_TRANS
            0xc0, 8, 4, 0xfd, 0xee, 0, 0x2e,
            0xc0, 16, 8, 0, 2, 0xfd, 0xee, 0, 0, 0, 1,
            0xc0, 17, 10, 2, 2, 0, 0, 0xfd, 0xee, 0xfa, 0x56, 0xea, 0x0d, // AS4_PATH
            0xc0, 18, 8, 0xfa, 0x56, 0xea, 0x0d, 192, 0, 2, 13, // AS4_AGGREGATOR
            0xc0, 32, 12, 0, 0, 0xfd, 0xee, 0, 0, 0, 1, 0, 0, 0, 2,
            0xe0, 35, 4, 0, 0, 0xfd, 0xee,
        ];
        assert_eq!(enc(&full(), &P2), expected);
        assert_eq!(dec(expected, &P2), (full(), None));
    }

    #[test]
    fn no_as4_path_when_every_asn_fits_two_octets() {
        let a = PathAttributes { as_path: Some(AsPath::sequence(vec![65006, 65001])), ..Default::default() };
        assert_eq!(enc(&a, &P2), [0x40, 2, 6, 2, 2, 0xfd, 0xee, 0xfd, 0xe9]);
    }

    #[test]
    fn as4_path_from_a_new_speaker_is_discarded() {
        let block = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xee, 0xc0, 17, 6, 2, 1, 0, 0, 0, 1];
        let (a, err) = dec(&block, &P4);
        assert_eq!(a.as_path, Some(AsPath::sequence(vec![65006])));
        assert_eq!(err, None);
    }

    #[test]
    fn as4_merge_keeps_leading_old_speaker_ases() {
        // AS_PATH 65001 65002 AS_TRANS {1 2}, AS4_PATH 4200000013 {1 2}: the two leading ASes
        // were added by OLD speakers after the AS4_PATH was built.
        let as_path =
            AsPath { segments: vec![AsSegment::Sequence(vec![65001, 65002, 23456]), AsSegment::Set(vec![1, 2])] };
        let as4 = AsPath { segments: vec![AsSegment::Sequence(vec![4_200_000_013]), AsSegment::Set(vec![1, 2])] };
        assert_eq!(
            as_path.merge_as4(as4),
            AsPath {
                segments: vec![AsSegment::Sequence(vec![65001, 65002, 4_200_000_013]), AsSegment::Set(vec![1, 2])]
            }
        );
        // An AS4_PATH longer than the AS_PATH is ignored.
        let short = AsPath::sequence(vec![23456]);
        assert_eq!(short.merge_as4(AsPath::sequence(vec![1, 2])), short);
    }

    #[test]
    fn aggregator_not_as_trans_overrides_as4_attributes() {
        // AGGREGATOR 65001 + AS4_AGGREGATOR + AS4_PATH: an OLD speaker aggregated last.
        #[rustfmt::skip]
        let block = [
            0x40, 2, 4, 2, 1, 0x5b, 0xa0,
            0xc0, 7, 6, 0xfd, 0xe9, 10, 0, 0, 1,
            0xc0, 17, 6, 2, 1, 0xfa, 0x56, 0xea, 0x0d,
            0xc0, 18, 8, 0xfa, 0x56, 0xea, 0x0d, 10, 0, 0, 2,
        ];
        let (a, _) = dec(&block, &P2);
        assert_eq!(a.as_path, Some(AsPath::sequence(vec![23456])));
        assert_eq!(a.aggregator, Some((65001, Ipv4Addr::new(10, 0, 0, 1))));
    }

    #[test]
    fn extended_length_only_above_255_octets() {
        let a = PathAttributes { communities: (0..63).collect(), ..Default::default() };
        assert_eq!(&enc(&a, &P4)[..3], &[0xc0, 8, 252]);
        let a = PathAttributes { communities: (0..64).collect(), ..Default::default() };
        assert_eq!(&enc(&a, &P4)[..4], &[0xd0, 8, 1, 0]);
        assert_eq!(dec(&enc(&a, &P4), &P4).0, a);
    }

    #[test]
    fn long_as_path_segments_are_split_at_255() {
        let a = PathAttributes { as_path: Some(AsPath::sequence((1..=300).collect())), ..Default::default() };
        let b = enc(&a, &P4);
        assert_eq!(&b[..4], &[0x50, 2, (1204u16 >> 8) as u8, (1204 & 0xff) as u8]);
        assert_eq!(&b[4..6], &[2, 255]);
        assert_eq!(&b[4 + 2 + 255 * 4..4 + 2 + 255 * 4 + 2], &[2, 45]);
        let back = dec(&b, &P4).0.as_path.unwrap();
        assert_eq!(back.len(), 300);
        assert_eq!(back.asns().collect::<Vec<_>>(), (1..=300).collect::<Vec<_>>());
    }

    #[test]
    fn unknown_attributes_are_sorted_and_deduplicated() {
        let a = PathAttributes {
            origin: Some(Origin::Incomplete),
            unknown: vec![
                RawAttribute { flags: 0xc0, type_code: 40, value: Bytes::from_static(&[1]) },
                RawAttribute { flags: 0xc0, type_code: 2, value: Bytes::from_static(&[9]) }, // modeled: skipped
                RawAttribute { flags: 0xd0, type_code: 20, value: Bytes::from_static(&[2]) },
                RawAttribute { flags: 0xc0, type_code: 40, value: Bytes::from_static(&[3]) }, // duplicate
                RawAttribute { flags: 0x4f, type_code: 41, value: Bytes::from_static(&[]) },
            ],
            ..Default::default()
        };
        assert_eq!(enc(&a, &P4), [0x40, 1, 1, 2, 0xc0, 20, 1, 2, 0xc0, 40, 1, 1, 0x40, 41, 0]);
    }

    #[test]
    fn received_unknown_transitive_gets_partial() {
        let (a, err) = dec(&[0xc0, 99, 2, 1, 2, 0x80, 98, 1, 0], &P4);
        assert_eq!(err, None);
        assert_eq!(a.unknown, vec![RawAttribute { flags: 0xe0, type_code: 99, value: Bytes::from_static(&[1, 2]) }]);
    }

    #[test]
    fn next_hop_validity() {
        assert!(is_invalid_next_hop(Ipv4Addr::new(0, 0, 0, 0)));
        assert!(is_invalid_next_hop(Ipv4Addr::new(224, 0, 0, 5)));
        assert!(is_invalid_next_hop(Ipv4Addr::new(255, 255, 255, 255)));
        assert!(!is_invalid_next_hop(Ipv4Addr::new(127, 0, 0, 6)));
        assert!(!is_invalid_next_hop(Ipv4Addr::new(192, 0, 2, 6)));
        // Without IPv4 NLRI the NEXT_HOP is ignored (RFC 4760 §3): an invalid address is no
        // error, a malformed attribute is only discarded.
        let mut report = ErrorReport::default();
        decode_attributes(&[0x40, 3, 4, 0, 0, 0, 0], &P4, false, &mut report).unwrap();
        assert_eq!(report.worst, None);
        for bad in [&[0x40, 3, 3, 10, 0, 0][..], &[0xc0, 3, 4, 10, 0, 0, 1][..]] {
            let mut report = ErrorReport::default();
            decode_attributes(bad, &P4, false, &mut report).unwrap();
            assert_eq!(report.worst.map(|e| e.action), Some(ErrorAction::AttributeDiscard));
        }
    }

    #[test]
    fn mp_reach_next_hops() {
        // IPv6 with a link-local address (32 octets).
        let mut v = vec![0, 2, 1, 32];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&[0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
        let r = decode_mp_reach(&v).unwrap();
        assert_eq!(r.next_hop, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(r.link_local_next_hop, Some("fe80::1".parse().unwrap()));
        assert_eq!(r.nlri, vec!["2001:db8:0:1::/64".parse::<IpNet>().unwrap()]);
        let mut b = Vec::new();
        r.encode(&mut b).unwrap();
        assert_eq!(&b[3..], &v[..]);
        assert_eq!(b.len(), r.encoded_len());
        // IPv4 NLRI with an IPv6 next hop (RFC 8950).
        let mut v = vec![0, 1, 1, 16];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&[0, 32, 10, 46, 46, 46]);
        let r = decode_mp_reach(&v).unwrap();
        assert_eq!(r.family, Family::IPV4_UNICAST);
        assert!(r.next_hop.is_ipv6());
        // Unknown family: kept, NLRI skipped.
        let r = decode_mp_reach(&[0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, 88, 1, 2, 3]).unwrap();
        assert_eq!((r.family, r.nlri.len()), (Family::new(1, 128), 0));
        // Inconsistent next hop lengths, missing reserved octet.
        assert!(decode_mp_reach(&[0, 2, 1, 4, 10, 0, 0, 1, 0]).is_none());
        assert!(decode_mp_reach(&[0, 1, 1, 4, 10, 0, 0, 1]).is_none());
        assert!(decode_mp_reach(&[0, 1, 1, 5, 10, 0, 0, 1, 0, 0]).is_none());
    }

    #[test]
    fn mp_encode_refuses_mixed_families() {
        let r = MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: "2001:db8::1".parse().unwrap(),
            link_local_next_hop: None,
            nlri: vec!["10.0.0.0/8".parse().unwrap()],
        };
        assert!(r.encode(&mut Vec::new()).is_err());
        let u = MpUnreach { family: Family::IPV4_UNICAST, withdrawn: vec!["::/0".parse().unwrap()] };
        assert!(u.encode(&mut Vec::new()).is_err());
    }
}
