//! Routes held by API processes, per prefix, in the order they were announced (the first holder
//! toward a peer wins).
//!
//! A process that injects a million prefixes announces them with a handful of distinct
//! (process, peer, attributes) triples. Each triple is stored once and counted; a prefix keeps
//! only the small numbers of its holders, so the table costs tens of bytes per prefix instead of
//! a vector of owned routes each.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use crate::policy::Announcement;
use crate::prefix_map::PrefixMap;

/// One process's announcement of one prefix, to one peer or to all of the process's peers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct ApiRoute {
    pub process: Arc<str>,
    /// None: every peer the process may speak to.
    pub peer: Option<Arc<str>>,
    pub announcement: Arc<Announcement>,
}

type HolderId = u32;

/// Nearly every prefix has one holder: that case stays inline.
#[derive(Clone, Debug)]
enum Holders {
    One(HolderId),
    Many(Box<[HolderId]>),
}

impl Holders {
    fn ids(&self) -> &[HolderId] {
        match self {
            Holders::One(id) => std::slice::from_ref(id),
            Holders::Many(ids) => ids,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct ApiRoutes {
    by_prefix: PrefixMap<Holders>,
    stored: Stored,
    /// (prefix, holder) pairs, i.e. routes held.
    held: usize,
}

/// The distinct routes, each stored once and counted by the prefixes holding it; an id whose
/// count drops to zero is reused.
#[derive(Debug, Default)]
struct Stored {
    routes: Vec<Option<(ApiRoute, usize)>>,
    ids: HashMap<ApiRoute, HolderId>,
    free: Vec<HolderId>,
    /// The holder acquired last: a bulk announcement is one route over many prefixes, compared
    /// (pointers first, then values) instead of hashed once per prefix.
    last: Option<HolderId>,
}

impl ApiRoutes {
    /// How many routes are held over all prefixes.
    pub fn len(&self) -> usize {
        self.held
    }

    pub fn prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.by_prefix.keys()
    }

    /// The holders of `prefix`, first announced first.
    pub fn holders(&self, prefix: &IpNet) -> impl Iterator<Item = &ApiRoute> {
        self.by_prefix.get(prefix).map(Holders::ids).unwrap_or_default().iter().map(|id| self.stored.route(*id))
    }

    /// The first route toward `peer` for `prefix`.
    pub fn route_for(&self, prefix: &IpNet, peer: &str) -> Option<&ApiRoute> {
        self.holders(prefix).find(|route| route.peer.as_deref().is_none_or(|p| p == peer))
    }

    /// `route_for` each of `prefixes`, which are sorted: a bulk change walks the table once.
    pub fn routes_for_sorted<'a>(
        &'a self,
        prefixes: &'a [IpNet],
        peer: &'a str,
    ) -> impl Iterator<Item = Option<&'a ApiRoute>> + 'a {
        self.by_prefix.get_sorted(prefixes).map(move |holders| {
            let ids = holders.map(Holders::ids).unwrap_or_default();
            ids.iter().map(|id| self.stored.route(*id)).find(|route| route.peer.as_deref().is_none_or(|p| p == peer))
        })
    }

    /// `route` for `prefix`, replacing what the same process held there toward the same peer.
    /// The route is borrowed: a bulk announcement passes one route for many prefixes, and it is
    /// cloned only the first time it is stored.
    pub fn announce(&mut self, prefix: IpNet, route: &ApiRoute) {
        // The bulk cases first, in one search of the table: a prefix nobody holds, or one
        // re-announced by its only holder.
        let holders = self.by_prefix.get_or_insert_with(prefix, Holders::none);
        let alone = match holders.ids() {
            [] => true,
            [id] => {
                let held = self.stored.route(*id);
                held.process == route.process && held.peer == route.peer
            }
            _ => false,
        };
        if alone {
            let new = self.stored.acquire(route);
            let old = std::mem::replace(holders, Holders::One(new));
            self.held += 1;
            self.held -= self.stored.release_all(&old);
            return;
        }
        let mut holders: Vec<ApiRoute> =
            self.holders(&prefix).filter(|r| !(r.process == route.process && r.peer == route.peer)).cloned().collect();
        holders.push(route.clone());
        self.set(prefix, holders);
    }

    /// Sets the holders of `prefix` (none: the prefix is dropped). True when they changed.
    pub fn set(&mut self, prefix: IpNet, holders: Vec<ApiRoute>) -> bool {
        let ids: Vec<HolderId> = holders.iter().map(|route| self.stored.acquire(route)).collect();
        let new = match ids.as_slice() {
            [] => None,
            [one] => Some(Holders::One(*one)),
            _ => Some(Holders::Many(ids.clone().into_boxed_slice())),
        };
        let old = match new {
            Some(new) => self.by_prefix.insert(prefix, new),
            None => self.by_prefix.remove(&prefix),
        };
        self.held += ids.len();
        let changed = old.as_ref().map(Holders::ids).unwrap_or_default() != ids.as_slice();
        if let Some(old) = old {
            self.held -= self.stored.release_all(&old);
        }
        changed
    }

    /// Drops every route of `process`; returns the prefixes whose holders changed.
    pub fn drop_process(&mut self, process: &str) -> Vec<IpNet> {
        let affected: Vec<IpNet> = self
            .by_prefix
            .iter()
            .filter(|(_, holders)| holders.ids().iter().any(|id| &*self.stored.route(*id).process == process))
            .map(|(prefix, _)| prefix)
            .collect();
        for prefix in &affected {
            let kept = self.holders(prefix).filter(|route| &*route.process != process).cloned().collect();
            self.set(*prefix, kept);
        }
        affected
    }
}

impl Holders {
    /// No holder: the state of a table slot just made, before its first holder is put in.
    fn none() -> Holders {
        Holders::Many(Box::new([]))
    }
}

impl Stored {
    fn route(&self, id: HolderId) -> &ApiRoute {
        match &self.routes[id as usize] {
            Some((route, _)) => route,
            None => unreachable!("holder {id} is referred to, so it is alive"),
        }
    }

    fn acquire(&mut self, route: &ApiRoute) -> HolderId {
        if let Some(last) = self.last {
            if let Some((held, uses)) = &mut self.routes[last as usize] {
                if held == route {
                    *uses += 1;
                    return last;
                }
            }
        }
        let id = self.acquire_by_value(route);
        self.last = Some(id);
        id
    }

    fn acquire_by_value(&mut self, route: &ApiRoute) -> HolderId {
        if let Some(&id) = self.ids.get(route) {
            if let Some((_, uses)) = &mut self.routes[id as usize] {
                *uses += 1;
            }
            return id;
        }
        let slot = Some((route.clone(), 1));
        let id = match self.free.pop() {
            Some(id) => {
                self.routes[id as usize] = slot;
                id
            }
            None => {
                self.routes.push(slot);
                HolderId::try_from(self.routes.len() - 1).expect("fewer than 2^32 distinct API routes")
            }
        };
        self.ids.insert(route.clone(), id);
        id
    }

    /// Releases each holder once; returns how many were released.
    fn release_all(&mut self, holders: &Holders) -> usize {
        for &id in holders.ids() {
            let slot = &mut self.routes[id as usize];
            if let Some((route, uses)) = slot {
                *uses -= 1;
                if *uses == 0 {
                    self.ids.remove(&*route);
                    *slot = None;
                    self.free.push(id);
                }
            }
        }
        holders.ids().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(process: &str, peer: Option<&str>, med: u32) -> ApiRoute {
        ApiRoute {
            process: Arc::from(process),
            peer: peer.map(Arc::from),
            announcement: Arc::new(Announcement { med: Some(med), ..Default::default() }),
        }
    }

    fn p(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn the_first_holder_toward_a_peer_wins_and_a_reannouncement_replaces_in_place() {
        let mut routes = ApiRoutes::default();
        let prefix = p("10.0.0.1/32");
        routes.announce(prefix, &route("a", None, 1));
        routes.announce(prefix, &route("b", Some("r1"), 2));
        assert_eq!(routes.route_for(&prefix, "r1").unwrap().announcement.med, Some(1));
        routes.announce(prefix, &route("a", None, 3));
        // a's new route goes last: b now holds r1, a the other peers.
        assert_eq!(routes.route_for(&prefix, "r1").unwrap().announcement.med, Some(2));
        assert_eq!(routes.route_for(&prefix, "r2").unwrap().announcement.med, Some(3));
        assert_eq!(routes.len(), 2);
    }

    #[test]
    fn a_million_prefixes_share_one_stored_route_and_dropping_the_process_frees_it() {
        let mut routes = ApiRoutes::default();
        for i in 0..10_000u32 {
            routes.announce(IpNet::V4(ipnet::Ipv4Net::new(i.into(), 32).unwrap()), &route("flood", None, 7));
        }
        assert_eq!(routes.len(), 10_000);
        assert_eq!(routes.stored.ids.len(), 1, "one distinct route stored once");
        routes.announce(p("0.0.0.5/32"), &route("flood", None, 8));
        assert_eq!(routes.stored.ids.len(), 2);
        routes.announce(p("0.0.0.5/32"), &route("flood", None, 7));
        assert_eq!(routes.stored.ids.len(), 1, "a route no prefix holds any more is freed");

        routes.announce(p("10.9.9.9/32"), &route("other", None, 1));
        let affected = routes.drop_process("flood");
        assert_eq!(affected.len(), 10_000);
        assert_eq!(routes.len(), 1);
        assert_eq!(routes.prefixes().collect::<Vec<_>>(), [p("10.9.9.9/32")]);
        assert_eq!(routes.stored.ids.len(), 1);
        assert_eq!(routes.stored.routes.iter().flatten().count(), 1);
    }

    #[test]
    fn set_reports_whether_the_holders_changed() {
        let mut routes = ApiRoutes::default();
        let prefix = p("2001:db8::1/128");
        assert!(routes.set(prefix, vec![route("a", Some("r1"), 1)]));
        assert!(!routes.set(prefix, vec![route("a", Some("r1"), 1)]));
        assert!(routes.set(prefix, vec![]));
        assert!(!routes.set(prefix, vec![]));
        assert_eq!(routes.len(), 0);
        assert!(routes.stored.ids.is_empty());
    }
}
