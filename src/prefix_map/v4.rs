//! The IPv4 side of `PrefixMap`. Host routes and other long prefixes (/25 to /32) are grouped
//! by their first 24 bits, each group a sorted vector of what remains of the key (the last
//! octet and the length); /24 and shorter prefixes stay in a B-tree.
//!
//! A bulk feed announces host routes in address order. In one B-tree over a million keys every
//! insert searched from the root down six levels of half-full nodes (Rust's B-tree leaves a node
//! half full when it splits at the right edge), and those searches were a third of a 1M
//! injection's CPU. Grouped, the tree holds one key per 256 addresses and an insert in order is
//! a push onto the end of a vector; the keys shrink from 5 bytes to 2 and the vectors are full,
//! so the map also takes half the memory. A group holds at most 256 × 8 entries (every last
//! octet at /25 to /32), so inserting into the middle of one stays cheap.
//!
//! Prefixes of /24 and shorter are not grouped: at most one of each length falls in a /24, so a
//! full table of /24s would make a group (and its vector) per prefix. In the B-tree their keys
//! compare the address as one integer: `Ipv4Net`'s `Ord` compares it as a byte array, which is
//! a `memcmp` call per comparison.

use std::collections::btree_map::{self, BTreeMap};
use std::iter::Peekable;

use ipnet::Ipv4Net;

use super::{walk_mut, PackedKey, SortedWalk};

/// The key inside a group: ordered by last octet, then length, so that the whole map iterates
/// in `Ipv4Net` order (address, then length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Low {
    octet: u8,
    len: u8,
}

type Group<V> = Vec<(Low, V)>;

/// The longest prefix length that is not grouped.
const SHORT: u8 = 24;

fn is_short(prefix: &Ipv4Net) -> bool {
    prefix.prefix_len() <= SHORT
}

/// A /24-or-shorter prefix as a B-tree key.
pub type ShortKey = PackedKey<u32>;

impl ShortKey {
    fn of(prefix: &Ipv4Net) -> ShortKey {
        PackedKey { addr: u32::from(prefix.addr()), len: prefix.prefix_len() }
    }

    fn prefix(self) -> Ipv4Net {
        let (addr, len) = (self.addr, self.len);
        Ipv4Net::new_assert(addr.into(), len)
    }
}

/// Two iterators in prefix order merged into one in prefix order.
struct Merge<A: Iterator, B: Iterator> {
    short: Peekable<A>,
    long: Peekable<B>,
}

impl<T, A: Iterator<Item = (Ipv4Net, T)>, B: Iterator<Item = (Ipv4Net, T)>> Iterator for Merge<A, B> {
    type Item = (Ipv4Net, T);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.short.peek(), self.long.peek()) {
            (Some((a, _)), Some((b, _))) if b < a => self.long.next(),
            (Some(_), _) => self.short.next(),
            (None, _) => self.long.next(),
        }
    }
}

fn merge<T>(
    short: impl Iterator<Item = (Ipv4Net, T)>,
    long: impl Iterator<Item = (Ipv4Net, T)>,
) -> impl Iterator<Item = (Ipv4Net, T)> {
    Merge { short: short.peekable(), long: long.peekable() }
}

fn split(prefix: &Ipv4Net) -> (u32, Low) {
    let addr = u32::from(prefix.addr());
    (addr >> 8, Low { octet: addr as u8, len: prefix.prefix_len() })
}

fn join(high: u32, low: Low) -> Ipv4Net {
    Ipv4Net::new_assert((high << 8 | u32::from(low.octet)).into(), low.len)
}

fn find<V>(group: &Group<V>, low: Low) -> Result<usize, usize> {
    // In-order inserts land at the end: check there before searching.
    match group.last() {
        Some((last, _)) if *last < low => Err(group.len()),
        _ => group.binary_search_by_key(&low, |(key, _)| *key),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct V4Map<V> {
    short: BTreeMap<ShortKey, V>,
    groups: BTreeMap<u32, Group<V>>,
    /// Entries in `groups`.
    grouped: usize,
}

impl<V> Default for V4Map<V> {
    fn default() -> Self {
        V4Map { short: BTreeMap::new(), groups: BTreeMap::new(), grouped: 0 }
    }
}

impl<V> V4Map<V> {
    pub fn len(&self) -> usize {
        self.short.len() + self.grouped
    }

    pub fn get(&self, prefix: &Ipv4Net) -> Option<&V> {
        if is_short(prefix) {
            return self.short.get(&ShortKey::of(prefix));
        }
        let (high, low) = split(prefix);
        let group = self.groups.get(&high)?;
        find(group, low).ok().map(|i| &group[i].1)
    }

    pub fn get_mut(&mut self, prefix: &Ipv4Net) -> Option<&mut V> {
        if is_short(prefix) {
            return self.short.get_mut(&ShortKey::of(prefix));
        }
        let (high, low) = split(prefix);
        let group = self.groups.get_mut(&high)?;
        find(group, low).ok().map(|i| &mut group[i].1)
    }

    pub fn insert(&mut self, prefix: Ipv4Net, value: V) -> Option<V> {
        if is_short(&prefix) {
            return self.short.insert(ShortKey::of(&prefix), value);
        }
        let (high, low) = split(&prefix);
        let group = self.groups.entry(high).or_default();
        match find(group, low) {
            Ok(i) => Some(std::mem::replace(&mut group[i].1, value)),
            Err(i) => {
                group.insert(i, (low, value));
                self.grouped += 1;
                None
            }
        }
    }

    pub fn remove(&mut self, prefix: &Ipv4Net) -> Option<V> {
        if is_short(prefix) {
            return self.short.remove(&ShortKey::of(prefix));
        }
        let (high, low) = split(prefix);
        let btree_map::Entry::Occupied(mut entry) = self.groups.entry(high) else { return None };
        let i = find(entry.get(), low).ok()?;
        let (_, value) = entry.get_mut().remove(i);
        if entry.get().is_empty() {
            entry.remove();
        }
        self.grouped -= 1;
        Some(value)
    }

    pub fn get_or_insert_with(&mut self, prefix: Ipv4Net, make: impl FnOnce() -> V) -> &mut V {
        if is_short(&prefix) {
            return self.short.entry(ShortKey::of(&prefix)).or_insert_with(make);
        }
        let (high, low) = split(&prefix);
        let group = self.groups.entry(high).or_default();
        let i = match find(group, low) {
            Ok(i) => i,
            Err(i) => {
                group.insert(i, (low, make()));
                self.grouped += 1;
                i
            }
        };
        &mut group[i].1
    }

    /// `get` for keys mostly in order: the group and the position in it are kept from one
    /// lookup to the next.
    pub fn lookup<'a>(&'a self) -> impl FnMut(&Ipv4Net) -> Option<&'a V> + 'a {
        let mut current: Option<(u32, Option<&'a Group<V>>)> = None;
        let mut at = 0;
        let mut short = SortedWalk::new(&self.short);
        move |prefix| {
            if is_short(prefix) {
                return short.get(ShortKey::of(prefix));
            }
            let (high, low) = split(prefix);
            let group = match current {
                Some((held, group)) if held == high => group,
                _ => {
                    let group = self.groups.get(&high);
                    current = Some((high, group));
                    at = 0;
                    group
                }
            }?;
            // The next entry after the last one found is the usual answer in a walk.
            if let Some((key, value)) = group.get(at) {
                if *key == low {
                    at += 1;
                    return Some(value);
                }
            }
            let i = find(group, low).ok()?;
            at = i + 1;
            Some(&group[i].1)
        }
    }

    /// Calls `visit` for each of `prefixes` in the map: the /24-and-shorter ones, then the
    /// others, each in their order. Those along one range of the B-tree are walked to; a run of
    /// prefixes in one group looks the group up once.
    pub fn visit_mut<'p>(
        &mut self,
        prefixes: impl Iterator<Item = &'p Ipv4Net> + Clone,
        mut visit: impl FnMut(Ipv4Net, &mut V),
    ) {
        let short = prefixes.clone().filter(|prefix| is_short(prefix)).map(ShortKey::of);
        walk_mut(&mut self.short, short, |key, value| visit(key.prefix(), value));
        let mut prefixes =
            prefixes.filter(|prefix| !is_short(prefix)).map(|prefix| (*prefix, split(prefix))).peekable();
        let same_group = |high: u32| move |(_, (next, _)): &(Ipv4Net, (u32, Low))| *next == high;
        while let Some((prefix, (high, low))) = prefixes.next() {
            let Some(group) = self.groups.get_mut(&high) else {
                while prefixes.next_if(same_group(high)).is_some() {}
                continue;
            };
            let mut item = Some((prefix, low));
            // Where the next key in order would be: checked before searching.
            let mut at = 0;
            while let Some((prefix, low)) = item {
                let found = match group.get(at) {
                    Some((key, _)) if *key == low => Ok(at),
                    _ => find(group, low),
                };
                if let Ok(i) = found {
                    visit(prefix, &mut group[i].1);
                    at = i + 1;
                }
                item = prefixes.next_if(same_group(high)).map(|(prefix, (_, low))| (prefix, low));
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Net, &V)> {
        let long = self
            .groups
            .iter()
            .flat_map(|(high, group)| group.iter().map(move |(low, value)| (join(*high, *low), value)));
        merge(self.short.iter().map(|(key, value)| (key.prefix(), value)), long)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Ipv4Net, &mut V)> {
        let long = self
            .groups
            .iter_mut()
            .flat_map(|(high, group)| group.iter_mut().map(move |(low, value)| (join(*high, *low), value)));
        merge(self.short.iter_mut().map(|(key, value)| (key.prefix(), value)), long)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, value)| value)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(Ipv4Net, &mut V) -> bool) {
        self.short.retain(|key, value| keep(key.prefix(), value));
        let mut grouped = 0;
        self.groups.retain(|high, group| {
            group.retain_mut(|(low, value)| keep(join(*high, *low), value));
            grouped += group.len();
            !group.is_empty()
        });
        self.grouped = grouped;
    }

    pub fn into_iter(self) -> impl Iterator<Item = (Ipv4Net, V)> {
        let long = self
            .groups
            .into_iter()
            .flat_map(|(high, group)| group.into_iter().map(move |(low, value)| (join(high, low), value)));
        merge(self.short.into_iter().map(|(key, value)| (key.prefix(), value)), long)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Operations on the map, checked against a `BTreeMap<Ipv4Net, _>` doing the same.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(Ipv4Net, u32),
        Remove(Ipv4Net),
        GetOrInsert(Ipv4Net, u32),
        AddToPresent(Vec<Ipv4Net>),
        Retain(u32),
    }

    /// Prefixes from a few groups, so that groups fill, empty and collide.
    fn prefix() -> impl Strategy<Value = Ipv4Net> {
        (0u32..4, any::<u8>(), prop_oneof![Just(32u8), 20u8..=32, 0u8..=32, Just(24u8)]).prop_map(
            |(high, octet, len)| {
                Ipv4Net::new(((0x0a00_0000 | high << 8) | u32::from(octet)).into(), len).unwrap().trunc()
            },
        )
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (prefix(), any::<u32>()).prop_map(|(p, v)| Op::Insert(p, v)),
            2 => prefix().prop_map(Op::Remove),
            2 => (prefix(), any::<u32>()).prop_map(|(p, v)| Op::GetOrInsert(p, v)),
            1 => prop::collection::vec(prefix(), 0..40).prop_map(Op::AddToPresent),
            1 => (1u32..5).prop_map(Op::Retain),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_an_ordered_map(ops in prop::collection::vec(op(), 0..200), asked in prop::collection::vec(prefix(), 0..60)) {
            let mut map = V4Map::default();
            let mut model: BTreeMap<Ipv4Net, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(p, v) => prop_assert_eq!(map.insert(p, v), model.insert(p, v)),
                    Op::Remove(p) => prop_assert_eq!(map.remove(&p), model.remove(&p)),
                    Op::GetOrInsert(p, v) => prop_assert_eq!(*map.get_or_insert_with(p, || v), *model.entry(p).or_insert(v)),
                    Op::AddToPresent(mut ps) => {
                        if ps.len() % 2 == 0 {
                            ps.sort();
                        }
                        map.visit_mut(ps.iter(), |p, v| *v = v.wrapping_add(u32::from(p.prefix_len())));
                        for p in &ps {
                            if let Some(v) = model.get_mut(p) {
                                *v = v.wrapping_add(u32::from(p.prefix_len()));
                            }
                        }
                    }
                    Op::Retain(m) => {
                        map.retain(|_, v| *v % m != 0);
                        model.retain(|_, v| *v % m != 0);
                    }
                }
                prop_assert_eq!(map.len(), model.len());
            }
            let listed: Vec<(Ipv4Net, u32)> = map.iter().map(|(p, v)| (p, *v)).collect();
            let expected: Vec<(Ipv4Net, u32)> = model.iter().map(|(p, v)| (*p, *v)).collect();
            prop_assert_eq!(&listed, &expected);
            prop_assert_eq!(map.values().copied().collect::<Vec<_>>(), model.values().copied().collect::<Vec<_>>());
            {
                let mut lookup = map.lookup();
                let mut sorted = asked.clone();
                sorted.sort();
                for p in sorted.iter().chain(&asked) {
                    prop_assert_eq!(lookup(p), model.get(p));
                }
            }
            for p in &asked {
                prop_assert_eq!(map.get(p), model.get(p));
            }
            for (_, v) in map.iter_mut() {
                *v = v.wrapping_add(1);
            }
            prop_assert_eq!(map.into_iter().map(|(p, v)| (p, v.wrapping_sub(1))).collect::<Vec<_>>(), expected);
        }
    }
}
