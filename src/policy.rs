//! From what an operator asked to announce to the attributes one peer receives.
//!
//! An [`Announcement`] is peer-independent: the same value is shared (behind an `Arc`) by every
//! prefix announced alike, whatever session it goes to. Which AS path, LOCAL_PREF and next hop a
//! given peer sees depends on that session (eBGP or iBGP, its local address), so the conversion to
//! [`PathAttributes`] happens per session, once per distinct announcement.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::bgp::attributes::{AsPath, AsSegment, LargeCommunity, Origin, PathAttributes};
use crate::config::{AttrOverride, NextHop, RouteAttrs};

/// RFC 8326 GRACEFUL_SHUTDOWN well-known community.
pub const GRACEFUL_SHUTDOWN: u32 = 0xFFFF_0000;

/// RFC 4271 §5.1.5: the default LOCAL_PREF; we send it explicitly on iBGP when none is configured,
/// because a missing LOCAL_PREF on iBGP is treated inconsistently by routers.
pub const DEFAULT_LOCAL_PREF: u32 = 100;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Announcement {
    pub origin: Option<Origin>,
    /// Extra ASNs after our own; empty for VIPs.
    pub as_path: Vec<u32>,
    /// `as_path` is the whole AS_PATH, sent as given without our AS (ExaBGP's `as-path [...]`).
    pub as_path_exact: bool,
    pub as_path_prepend: u8,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    pub extended_communities: Vec<[u8; 8]>,
    pub atomic_aggregate: bool,
    /// Overrides the peer's configured next hop.
    pub next_hop: Option<IpAddr>,
}

impl Announcement {
    pub fn from_attrs(attrs: &RouteAttrs) -> Announcement {
        Announcement {
            as_path_prepend: attrs.as_path_prepend,
            med: attrs.med,
            local_pref: attrs.local_pref,
            communities: attrs.communities.clone(),
            large_communities: attrs.large_communities.clone(),
            ..Announcement::default()
        }
    }

    /// Applies an override (`when_down`, `when_degraded`, drain): given fields replace, given
    /// communities are added.
    pub fn overridden(&self, with: &AttrOverride) -> Announcement {
        let mut out = self.clone();
        if let Some(med) = with.med {
            out.med = Some(med);
        }
        if let Some(prepend) = with.as_path_prepend {
            out.as_path_prepend = prepend;
        }
        if let Some(local_pref) = with.local_pref {
            out.local_pref = Some(local_pref);
        }
        add_unique(&mut out.communities, &with.communities);
        add_unique(&mut out.large_communities, &with.large_communities);
        out
    }
}

/// Two desired states of a prefix are the same: both withdrawn, or equal announcements (the
/// pointer check first: interned announcements share one `Arc`).
pub fn same_state(a: &Option<Arc<Announcement>>, b: &Option<Arc<Announcement>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        _ => false,
    }
}

fn add_unique<T: PartialEq + Copy>(to: &mut Vec<T>, more: &[T]) {
    for item in more {
        if !to.contains(item) {
            to.push(*item);
        }
    }
}

/// What the attributes of one session depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionContext {
    pub local_as: u32,
    pub ibgp: bool,
    pub next_hop: NextHop,
    pub next_hop_v6: Option<Ipv6Addr>,
    /// The local address of the TCP connection (what `next_hop: self` means).
    pub local_address: IpAddr,
}

impl SessionContext {
    /// The next hop for IPv4 routes, or None when this session has no usable one.
    pub fn next_hop_v4(&self, announcement: &Announcement) -> Option<Ipv4Addr> {
        let chosen = announcement.next_hop.or(match self.next_hop {
            NextHop::Address(address) => Some(address),
            NextHop::SelfAddress => Some(self.local_address),
        });
        match chosen {
            Some(IpAddr::V4(v4)) => Some(v4),
            _ => None,
        }
    }

    /// The next hop for IPv6 routes: an explicit IPv6 next hop, else `next_hop_v6`, else the
    /// session's own address when it is IPv6 and `next_hop: self`.
    pub fn next_hop_v6(&self, announcement: &Announcement) -> Option<Ipv6Addr> {
        if let Some(IpAddr::V6(v6)) = announcement.next_hop {
            return Some(v6);
        }
        if let NextHop::Address(IpAddr::V6(v6)) = self.next_hop {
            return Some(v6);
        }
        if let Some(v6) = self.next_hop_v6 {
            return Some(v6);
        }
        match (self.next_hop, self.local_address) {
            (NextHop::SelfAddress, IpAddr::V6(v6)) => Some(v6),
            _ => None,
        }
    }

    /// The attributes this session sends for `announcement`, without next hop for IPv6 (that one
    /// travels in MP_REACH_NLRI) and with NEXT_HOP for IPv4.
    pub fn path_attributes(&self, announcement: &Announcement, ipv4: bool) -> PathAttributes {
        let mut path: Vec<u32> = Vec::with_capacity(1 + announcement.as_path.len());
        // RFC 4271 §5.1.2: a route originated toward an external peer carries our AS, prepends
        // repeat it. Toward an internal peer the path starts empty and prepends do not apply:
        // our AS is the receiver's AS, so every router in it would see a loop and drop the route
        // (use MED or LOCAL_PREF to rank iBGP routes).
        let own =
            if self.ibgp || announcement.as_path_exact { 0 } else { 1 + usize::from(announcement.as_path_prepend) };
        path.extend(std::iter::repeat_n(self.local_as, own));
        path.extend_from_slice(&announcement.as_path);
        let as_path =
            if path.is_empty() { AsPath::default() } else { AsPath { segments: vec![AsSegment::Sequence(path)] } };
        let local_pref = self.ibgp.then(|| announcement.local_pref.unwrap_or(DEFAULT_LOCAL_PREF));
        PathAttributes {
            origin: Some(announcement.origin.unwrap_or(Origin::Igp)),
            as_path: Some(as_path),
            next_hop: if ipv4 { self.next_hop_v4(announcement) } else { None },
            med: announcement.med,
            local_pref,
            atomic_aggregate: announcement.atomic_aggregate,
            aggregator: None,
            communities: announcement.communities.clone(),
            extended_communities: announcement.extended_communities.clone(),
            large_communities: announcement.large_communities.clone(),
            unknown: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ebgp() -> SessionContext {
        SessionContext {
            local_as: 65010,
            ibgp: false,
            next_hop: NextHop::SelfAddress,
            next_hop_v6: None,
            local_address: "10.25.150.10".parse().unwrap(),
        }
    }

    fn sequence(attrs: &PathAttributes) -> Vec<u32> {
        match attrs.as_path.as_ref().map(|p| p.segments.as_slice()) {
            Some([AsSegment::Sequence(asns)]) => asns.clone(),
            Some([]) => vec![],
            other => panic!("unexpected path {other:?}"),
        }
    }

    #[test]
    fn ebgp_path_starts_with_own_as_and_prepends_add_to_it() {
        let ann = Announcement { as_path_prepend: 2, med: Some(300), ..Default::default() };
        let attrs = ebgp().path_attributes(&ann, true);
        assert_eq!(sequence(&attrs), vec![65010, 65010, 65010]);
        assert_eq!(attrs.med, Some(300));
        assert_eq!(attrs.local_pref, None, "LOCAL_PREF is never sent to external peers");
        assert_eq!(attrs.next_hop, Some("10.25.150.10".parse().unwrap()));
        assert_eq!(attrs.origin, Some(Origin::Igp));
    }

    #[test]
    fn ibgp_path_is_empty_and_carries_local_pref() {
        let ctx = SessionContext { ibgp: true, ..ebgp() };
        let plain = ctx.path_attributes(&Announcement { as_path_prepend: 3, ..Default::default() }, true);
        assert_eq!(sequence(&plain), Vec::<u32>::new(), "no own AS, no prepends: they would be a loop");
        assert_eq!(plain.local_pref, Some(DEFAULT_LOCAL_PREF));
        let set = ctx.path_attributes(&Announcement { local_pref: Some(200), ..Default::default() }, true);
        assert_eq!(set.local_pref, Some(200));
    }

    #[test]
    fn an_exact_path_is_sent_as_given() {
        let ann = Announcement { as_path: vec![64512, 64513], as_path_exact: true, ..Default::default() };
        assert_eq!(sequence(&ebgp().path_attributes(&ann, true)), vec![64512, 64513]);
    }

    #[test]
    fn explicit_path_follows_own_as() {
        let ann = Announcement { as_path: vec![64512, 64513], ..Default::default() };
        assert_eq!(sequence(&ebgp().path_attributes(&ann, true)), vec![65010, 64512, 64513]);
    }

    #[test]
    fn ipv6_next_hop_resolution_order() {
        let mut ctx = ebgp();
        assert_eq!(ctx.next_hop_v6(&Announcement::default()), None, "v4 session, self: nothing usable");
        ctx.next_hop_v6 = Some("2001:db8::10".parse().unwrap());
        assert_eq!(ctx.next_hop_v6(&Announcement::default()), Some("2001:db8::10".parse().unwrap()));
        let explicit = Announcement { next_hop: Some("2001:db8::99".parse().unwrap()), ..Default::default() };
        assert_eq!(ctx.next_hop_v6(&explicit), Some("2001:db8::99".parse().unwrap()));
        let v6_session = SessionContext { local_address: "2001:db8::1".parse().unwrap(), next_hop_v6: None, ..ebgp() };
        assert_eq!(v6_session.next_hop_v6(&Announcement::default()), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(v6_session.next_hop_v4(&Announcement::default()), None);
    }

    #[test]
    fn configured_next_hop_beats_self_and_announcement_beats_both() {
        let ctx = SessionContext { next_hop: NextHop::Address("192.0.2.6".parse().unwrap()), ..ebgp() };
        assert_eq!(ctx.next_hop_v4(&Announcement::default()), Some("192.0.2.6".parse().unwrap()));
        let ann = Announcement { next_hop: Some("192.0.2.7".parse().unwrap()), ..Default::default() };
        assert_eq!(ctx.next_hop_v4(&ann), Some("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn override_replaces_given_fields_and_adds_communities() {
        let base = Announcement { med: Some(300), communities: vec![1], ..Default::default() };
        let drained = base.overridden(&AttrOverride {
            med: Some(1000),
            as_path_prepend: Some(3),
            communities: vec![GRACEFUL_SHUTDOWN, 1],
            ..Default::default()
        });
        assert_eq!(drained.med, Some(1000));
        assert_eq!(drained.as_path_prepend, 3);
        assert_eq!(drained.communities, vec![1, GRACEFUL_SHUTDOWN]);
        assert_eq!(base.overridden(&AttrOverride::default()), base);
    }
}
