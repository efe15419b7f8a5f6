//! A map keyed by prefix, held as one ordered map per address family.
//!
//! `IpNet` takes 18 bytes; an `Ipv4Net` 5. B-tree nodes store their keys side by side, so at a
//! million IPv4 routes splitting by family is what keeps each per-prefix table near 25 bytes a
//! prefix instead of 50 (the target is ≤ 100 bytes per announced prefix for the whole daemon).
//! Iteration is IPv4 then IPv6, each in prefix order: UPDATEs and listings come out sorted.

use std::collections::btree_map::{self, BTreeMap};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixMap<V> {
    v4: BTreeMap<Ipv4Net, V>,
    v6: BTreeMap<Ipv6Net, V>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap { v4: BTreeMap::new(), v6: BTreeMap::new() }
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
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(p) => self.v4.get(p),
            IpNet::V6(p) => self.v6.get(p),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        match prefix {
            IpNet::V4(p) => self.v4.get_mut(p),
            IpNet::V6(p) => self.v6.get_mut(p),
        }
    }

    pub fn contains_key(&self, prefix: &IpNet) -> bool {
        self.get(prefix).is_some()
    }

    pub fn insert(&mut self, prefix: IpNet, value: V) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.insert(p, value),
            IpNet::V6(p) => self.v6.insert(p, value),
        }
    }

    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.remove(p),
            IpNet::V6(p) => self.v6.remove(p),
        }
    }

    /// The value for `prefix`, inserting `make()` first when there is none.
    pub fn get_or_insert_with(&mut self, prefix: IpNet, make: impl FnOnce() -> V) -> &mut V {
        match prefix {
            IpNet::V4(p) => self.v4.entry(p).or_insert_with(make),
            IpNet::V6(p) => self.v6.entry(p).or_insert_with(make),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        let v4 = self.v4.iter().map(|(p, v)| (IpNet::V4(*p), v));
        v4.chain(self.v6.iter().map(|(p, v)| (IpNet::V6(*p), v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (IpNet, &mut V)> {
        let v4 = self.v4.iter_mut().map(|(p, v)| (IpNet::V4(*p), v));
        v4.chain(self.v6.iter_mut().map(|(p, v)| (IpNet::V6(*p), v)))
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.iter().map(|(prefix, _)| prefix)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.v4.values().chain(self.v6.values())
    }

    pub fn retain(&mut self, mut keep: impl FnMut(IpNet, &mut V) -> bool) {
        self.v4.retain(|p, v| keep(IpNet::V4(*p), v));
        self.v6.retain(|p, v| keep(IpNet::V6(*p), v));
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
    type IntoIter = std::iter::Chain<
        std::iter::Map<btree_map::IntoIter<Ipv4Net, V>, fn((Ipv4Net, V)) -> (IpNet, V)>,
        std::iter::Map<btree_map::IntoIter<Ipv6Net, V>, fn((Ipv6Net, V)) -> (IpNet, V)>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let v4: fn((Ipv4Net, V)) -> (IpNet, V) = |(p, v)| (IpNet::V4(p), v);
        let v6: fn((Ipv6Net, V)) -> (IpNet, V) = |(p, v)| (IpNet::V6(p), v);
        self.v4.into_iter().map(v4).chain(self.v6.into_iter().map(v6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
