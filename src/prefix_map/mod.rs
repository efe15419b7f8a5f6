//! A map keyed by prefix, held as one ordered map per address family.
//!
//! `IpNet` takes 18 bytes, and a million of them in a B-tree of half-full nodes cost the daemon
//! most of its memory and a third of its CPU in a bulk injection. IPv4 prefixes are kept in
//! [`v4::V4Map`], grouped by their first 24 bits; IPv6 prefixes, few in practice, in a B-tree of
//! 17-byte keys. Iteration is IPv4 then IPv6, each in prefix order: UPDATEs and listings come
//! out sorted.
//!
//! The IPv6 keys are our own: `Ipv6Net`'s `Ord` compares the address as eight 16-bit segments;
//! a key compares it as one integer instead, in the same order.

mod v4;

use std::cmp::Ordering;
use std::collections::btree_map::{self, BTreeMap};

use ipnet::{IpNet, Ipv6Net};

use v4::V4Map;

/// A prefix as a B-tree key: the address as one integer (`u32`, `u128`) and the length, packed
/// (5 or 17 bytes, like `Ipv4Net` and `Ipv6Net`) and ordered like them, but compared with one
/// integer comparison instead of bytes or 16-bit segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
pub struct PackedKey<A> {
    addr: A,
    len: u8,
}

impl<A: Ord + Copy> Ord for PackedKey<A> {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.addr, other.addr);
        a.cmp(&b).then_with(|| { self.len }.cmp(&{ other.len }))
    }
}

impl<A: Ord + Copy> PartialOrd for PackedKey<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub type V6Key = PackedKey<u128>;

impl V6Key {
    fn of(prefix: &Ipv6Net) -> V6Key {
        PackedKey { addr: u128::from(prefix.addr()), len: prefix.prefix_len() }
    }

    fn prefix(self) -> Ipv6Net {
        let (addr, len) = (self.addr, self.len);
        Ipv6Net::new_assert(addr.into(), len)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixMap<V> {
    v4: V4Map<V>,
    v6: BTreeMap<V6Key, V>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap { v4: V4Map::default(), v6: BTreeMap::new() }
    }
}

impl<V> PrefixMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.is_empty()
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(p) => self.v4.get(p),
            IpNet::V6(p) => self.v6.get(&V6Key::of(p)),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        match prefix {
            IpNet::V4(p) => self.v4.get_mut(p),
            IpNet::V6(p) => self.v6.get_mut(&V6Key::of(p)),
        }
    }

    pub fn contains_key(&self, prefix: &IpNet) -> bool {
        self.get(prefix).is_some()
    }

    pub fn insert(&mut self, prefix: IpNet, value: V) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.insert(p, value),
            IpNet::V6(p) => self.v6.insert(V6Key::of(&p), value),
        }
    }

    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.remove(p),
            IpNet::V6(p) => self.v6.remove(&V6Key::of(p)),
        }
    }

    /// The value for `prefix`, inserting `make()` first when there is none.
    pub fn get_or_insert_with(&mut self, prefix: IpNet, make: impl FnOnce() -> V) -> &mut V {
        match prefix {
            IpNet::V4(p) => self.v4.get_or_insert_with(p, make),
            IpNet::V6(p) => self.v6.entry(V6Key::of(&p)).or_insert_with(make),
        }
    }

    /// The values for `prefixes`, in their order. Sorted prefixes that lie close together (a
    /// bulk announcement) cost a step along the tree each instead of a search from the root;
    /// one further on, or out of order, is searched for.
    pub fn get_sorted<'a>(&'a self, prefixes: &'a [IpNet]) -> impl Iterator<Item = Option<&'a V>> + 'a {
        let mut v4 = self.v4.lookup();
        let mut v6 = SortedWalk::new(&self.v6);
        prefixes.iter().map(move |prefix| match prefix {
            IpNet::V4(p) => v4(p),
            IpNet::V6(p) => v6.get(V6Key::of(p)),
        })
    }

    /// Calls `visit` with each of `prefixes` that is in the map and its value: IPv4 (/24 and
    /// shorter, then longer) first, then IPv6, each in the order given. Sorted prefixes close together cost a step along the tree
    /// each, as in `get_sorted`.
    pub fn visit_sorted_mut(&mut self, prefixes: &[IpNet], mut visit: impl FnMut(IpNet, &mut V)) {
        let v4 = prefixes.iter().filter_map(|prefix| match prefix {
            IpNet::V4(p) => Some(p),
            IpNet::V6(_) => None,
        });
        self.v4.visit_mut(v4, |prefix, value| visit(IpNet::V4(prefix), value));
        let v6 = prefixes.iter().filter_map(|prefix| match prefix {
            IpNet::V6(p) => Some(V6Key::of(p)),
            IpNet::V4(_) => None,
        });
        walk_mut(&mut self.v6, v6, |key, value| visit(IpNet::V6(key.prefix()), value));
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        let v4 = self.v4.iter().map(|(p, v)| (IpNet::V4(p), v));
        v4.chain(self.v6.iter().map(|(p, v)| (IpNet::V6(p.prefix()), v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (IpNet, &mut V)> {
        let v4 = self.v4.iter_mut().map(|(p, v)| (IpNet::V4(p), v));
        v4.chain(self.v6.iter_mut().map(|(p, v)| (IpNet::V6(p.prefix()), v)))
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.iter().map(|(prefix, _)| prefix)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.v4.values().chain(self.v6.values())
    }

    pub fn retain(&mut self, mut keep: impl FnMut(IpNet, &mut V) -> bool) {
        self.v4.retain(|p, v| keep(IpNet::V4(p), v));
        self.v6.retain(|p, v| keep(IpNet::V6(p.prefix()), v));
    }
}

/// Lookups of ascending keys as a walk along one range of the tree.
pub(super) struct SortedWalk<'a, K, V> {
    map: &'a BTreeMap<K, V>,
    range: btree_map::Range<'a, K, V>,
    /// The first entry of the walk not passed yet; None once past the end.
    next: Option<(&'a K, &'a V)>,
    /// The key the walk is at: a smaller one starts a new walk.
    at: Option<K>,
}

impl<'a, K: Ord + Copy, V> SortedWalk<'a, K, V> {
    /// Entries stepped over before a search from the root is the cheaper way forward.
    const STEPS: usize = 8;

    pub(super) fn new(map: &'a BTreeMap<K, V>) -> Self {
        SortedWalk { map, range: btree_map::Range::default(), next: None, at: None }
    }

    pub(super) fn get(&mut self, key: K) -> Option<&'a V> {
        // The walk answers only for keys from where it is on: entries it stepped over are gone
        // from it, so `at` moves with every answer.
        let walked_from = self.at.replace(key);
        if walked_from.is_some_and(|at| at <= key) {
            for _ in 0..Self::STEPS {
                let (entry_key, value) = self.next?;
                match entry_key.cmp(&key) {
                    Ordering::Less => self.next = self.range.next(),
                    Ordering::Equal => return Some(value),
                    Ordering::Greater => return None,
                }
            }
        }
        self.range = self.map.range(key..);
        self.next = self.range.next();
        self.next.filter(|(entry_key, _)| **entry_key == key).map(|(_, value)| value)
    }
}

/// `visit_sorted_mut` for one family. A walk is one mutable range of the tree; a key out of
/// order or further on than `SortedWalk::STEPS` entries ends it and starts the next.
pub(super) fn walk_mut<K: Ord + Copy, V>(
    map: &mut BTreeMap<K, V>,
    mut keys: impl Iterator<Item = K>,
    mut visit: impl FnMut(K, &mut V),
) {
    let mut start = keys.next();
    while let Some(first) = start.take() {
        let mut range = map.range_mut(first..);
        let mut next = range.next();
        let mut key = first;
        loop {
            let mut steps = 0;
            let far = loop {
                let Some((entry_key, value)) = next.take() else { break false };
                match entry_key.cmp(&key) {
                    Ordering::Less if steps < SortedWalk::<K, V>::STEPS => {
                        steps += 1;
                        next = range.next();
                    }
                    Ordering::Less => break true,
                    Ordering::Equal => {
                        visit(key, &mut *value);
                        // Kept: the same key may be asked again.
                        next = Some((entry_key, value));
                        break false;
                    }
                    Ordering::Greater => {
                        next = Some((entry_key, value));
                        break false;
                    }
                }
            };
            if far {
                start = Some(key);
                break;
            }
            match keys.next() {
                Some(following) if following >= key => key = following,
                out_of_order => {
                    start = out_of_order;
                    break;
                }
            }
        }
    }
}

impl<V> FromIterator<(IpNet, V)> for PrefixMap<V> {
    fn from_iter<I: IntoIterator<Item = (IpNet, V)>>(items: I) -> Self {
        let mut map = PrefixMap::new();
        for (prefix, value) in items {
            map.insert(prefix, value);
        }
        map
    }
}

impl<V> IntoIterator for PrefixMap<V> {
    type Item = (IpNet, V);
    type IntoIter = std::vec::IntoIter<(IpNet, V)>;

    fn into_iter(self) -> Self::IntoIter {
        let v4 = self.v4.into_iter().map(|(p, v)| (IpNet::V4(p), v));
        let all: Vec<(IpNet, V)> = v4.chain(self.v6.into_iter().map(|(p, v)| (IpNet::V6(p.prefix()), v))).collect();
        all.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::Ipv4Net;

    fn p(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn both_families_live_side_by_side_and_iterate_v4_first_in_order() {
        let mut map = PrefixMap::new();
        map.insert(p("2001:db8::1/128"), 3);
        map.insert(p("10.0.0.2/32"), 2);
        map.insert(p("10.0.0.1/32"), 1);
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&p("10.0.0.2/32")), Some(&2));
        assert_eq!(map.get(&p("10.0.0.2/31")), None, "the length is part of the key");
        let keys: Vec<String> = map.keys().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["10.0.0.1/32", "10.0.0.2/32", "2001:db8::1/128"]);
    }

    #[test]
    fn get_sorted_answers_like_get_for_any_order_and_spacing() {
        let mut map = PrefixMap::new();
        for i in (0..200u32).step_by(3) {
            map.insert(IpNet::V4(Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap()), i);
        }
        map.insert(p("10.0.0.0/24"), 1000);
        map.insert(p("10.0.1.0/24"), 1001);
        map.insert(p("10.0.2.0/24"), 1002);
        map.insert(p("2001:db8::/64"), 2000);
        let mut asked: Vec<IpNet> =
            (0..220u32).map(|i| IpNet::V4(Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap())).collect();
        asked.extend([
            p("10.0.0.0/24"),
            p("10.0.1.0/24"),
            p("10.0.2.0/24"),
            p("10.0.0.0/8"),
            p("2001:db8::/64"),
            p("2001:db8::/63"),
        ]);
        let sorted = {
            let mut sorted = asked.clone();
            sorted.sort();
            sorted
        };
        // Sorted (the fast walk, with gaps wider than a walk's steps), then out of order.
        let far_apart = [p("10.0.0.3/32"), p("10.0.0.150/32"), p("10.0.0.151/32"), p("10.0.0.153/32")];
        let shuffled: Vec<IpNet> = asked.iter().rev().chain(asked.iter().step_by(7)).copied().collect();
        // A walk past the end, or past keys, then asked for them again.
        let twice: Vec<IpNet> = sorted.iter().chain(&sorted).copied().collect();
        for keys in [&sorted[..], &far_apart[..], &shuffled[..], &twice[..]] {
            let walked: Vec<Option<&u32>> = map.get_sorted(keys).collect();
            let searched: Vec<Option<&u32>> = keys.iter().map(|k| map.get(k)).collect();
            assert_eq!(walked, searched);
        }
    }

    #[test]
    fn visit_sorted_mut_reaches_exactly_the_present_keys_in_any_order() {
        let mut map = PrefixMap::new();
        for i in (0..200u32).step_by(3) {
            map.insert(IpNet::V4(Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap()), 0u32);
        }
        map.insert(p("2001:db8::/64"), 0);
        let mut asked: Vec<IpNet> =
            (0..220u32).map(|i| IpNet::V4(Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap())).collect();
        asked.push(p("2001:db8::/64"));
        let far_apart = [p("10.0.0.3/32"), p("10.0.0.150/32"), p("10.0.0.151/32"), p("10.0.0.153/32")];
        let shuffled: Vec<IpNet> = asked.iter().rev().chain(asked.iter().step_by(7)).copied().collect();
        for keys in [&asked[..], &far_apart[..], &shuffled[..]] {
            let mut visited = Vec::new();
            map.visit_sorted_mut(keys, |prefix, value| {
                *value += 1;
                visited.push(prefix);
            });
            let present: Vec<IpNet> = keys.iter().copied().filter(|k| map.contains_key(k)).collect();
            let (mut v4, v6): (Vec<IpNet>, Vec<IpNet>) = present.into_iter().partition(|k| matches!(k, IpNet::V4(_)));
            v4.extend(v6);
            assert_eq!(visited, v4);
        }
        assert_eq!(map.get(&p("10.0.0.0/32")), Some(&3), "sorted, then twice in the shuffled keys");
    }

    #[test]
    fn insert_replace_remove_and_retain() {
        let mut map: PrefixMap<u32> = [(p("10.0.0.1/32"), 1), (p("2001:db8::/64"), 2)].into_iter().collect();
        assert_eq!(map.insert(p("10.0.0.1/32"), 10), Some(1));
        *map.get_or_insert_with(p("10.0.0.9/32"), || 0) += 5;
        *map.get_or_insert_with(p("10.0.0.9/32"), || 0) += 5;
        assert_eq!(map.get(&p("10.0.0.9/32")), Some(&10));
        map.retain(|prefix, value| prefix.addr().is_ipv4() && *value == 10);
        assert_eq!(map.len(), 2);
        assert_eq!(map.remove(&p("10.0.0.1/32")), Some(10));
        assert!(!map.contains_key(&p("10.0.0.1/32")));
        let left: Vec<(IpNet, u32)> = map.into_iter().collect();
        assert_eq!(left, [(p("10.0.0.9/32"), 10)]);
    }
}
