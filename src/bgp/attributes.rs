//! Path attributes (RFC 4271 §4.3, §5): typed values for the ones rhi sends or must validate,
//! raw bytes for the rest.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ipnet::IpNet;

use super::nlri::Family;

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
