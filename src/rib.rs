//! Per-peer Adj-RIB-Out: what one session should advertise, what it has advertised, and the
//! UPDATEs that take the peer from one to the other.
//!
//! Work per change is O(changed prefixes): a change marks its prefix dirty once, and a flush
//! visits only dirty prefixes. A prefix that changes several times before the socket can take the
//! next UPDATE is sent once, in its latest state — under backpressure changes coalesce instead of
//! queueing.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net};

use crate::bgp::attributes::{MpReach, MpUnreach};
use crate::bgp::codec::CodecParams;
use crate::bgp::message::Update;
use crate::bgp::nlri::{self, Family};
use crate::bgp::HEADER_LEN;
use crate::policy::{Announcement, SessionContext};
use crate::prefix_map::PrefixMap;

/// An announcement as this RIB's small number for it; [`NOTHING`] is "not announced". A
/// million entries holding two of these cost 12 bytes each, where two `Arc`s and the padding
/// after an `IpNet` cost 48.
type Slot = u32;
const NOTHING: Slot = 0;

/// One prefix. Its desired and sent states are equal exactly when their slots are, because
/// equal announcements share one slot.
#[derive(Clone, Copy, Debug)]
struct Entry {
    desired: Slot,
    sent: Slot,
    queued: bool,
}

/// The distinct announcements this RIB refers to, each counted by the entry fields holding it;
/// a slot whose count drops to zero is reused.
#[derive(Debug, Default)]
struct Interned {
    slots: Vec<Option<(Arc<Announcement>, usize)>>,
    by_value: HashMap<Arc<Announcement>, Slot>,
    free: Vec<Slot>,
    /// The slot acquired last: a bulk change sets many prefixes to one announcement, compared
    /// (the pointer first: they share one `Arc`) instead of hashed once per prefix.
    last: Slot,
}

impl Interned {
    fn acquire(&mut self, announcement: &Option<Arc<Announcement>>) -> Slot {
        let Some(announcement) = announcement else { return NOTHING };
        if let Some(Some((held, count))) = self.slots.get_mut((self.last as usize).wrapping_sub(1)) {
            if held == announcement {
                *count += 1;
                return self.last;
            }
        }
        let slot = self.acquire_by_value(announcement);
        self.last = slot;
        slot
    }

    fn acquire_by_value(&mut self, announcement: &Arc<Announcement>) -> Slot {
        if let Some(&slot) = self.by_value.get(announcement) {
            self.retain(slot);
            return slot;
        }
        let value = Some((announcement.clone(), 1));
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize - 1] = value;
                slot
            }
            None => {
                self.slots.push(value);
                Slot::try_from(self.slots.len()).expect("fewer than 2^32 distinct announcements")
            }
        };
        self.by_value.insert(announcement.clone(), slot);
        slot
    }

    fn retain(&mut self, slot: Slot) {
        if let Some(Some((_, count))) = self.slots.get_mut((slot as usize).wrapping_sub(1)) {
            *count += 1;
        }
    }

    fn release(&mut self, slot: Slot) {
        let Some(held) = self.slots.get_mut((slot as usize).wrapping_sub(1)) else { return };
        if let Some((announcement, count)) = held {
            *count -= 1;
            if *count == 0 {
                self.by_value.remove(&*announcement);
                *held = None;
                self.free.push(slot);
            }
        }
    }

    fn get(&self, slot: Slot) -> Option<&Arc<Announcement>> {
        self.slots.get((slot as usize).wrapping_sub(1))?.as_ref().map(|(announcement, _)| announcement)
    }
}

#[derive(Debug, Default)]
pub struct AdjRibOut {
    entries: PrefixMap<Entry>,
    interned: Interned,
    dirty: VecDeque<IpNet>,
    /// Entries whose `sent` is an announcement, kept as they change so that status stays
    /// O(1) at a million routes.
    advertised: usize,
}

/// The changes taken from the RIB in one flush, grouped for packing.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub withdraw: Vec<IpNet>,
    /// Prefixes grouped by the announcement they share, in first-seen order.
    pub announce: Vec<(Arc<Announcement>, Vec<IpNet>)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.withdraw.is_empty() && self.announce.is_empty()
    }
}

/// A dirty queue that held a bulk change keeps its capacity once drained unless given back.
const DIRTY_CAPACITY_KEPT: usize = 4096;

impl AdjRibOut {
    pub fn new() -> AdjRibOut {
        AdjRibOut::default()
    }

    /// Sets what should be advertised for `prefix` (None = nothing).
    pub fn set(&mut self, prefix: IpNet, desired: Option<Arc<Announcement>>) {
        let slot = self.interned.acquire(&desired);
        let entry =
            self.entries.get_or_insert_with(prefix, || Entry { desired: NOTHING, sent: NOTHING, queued: false });
        self.interned.release(entry.desired);
        entry.desired = slot;
        if entry.desired == entry.sent {
            if entry.desired == NOTHING && !entry.queued {
                self.entries.remove(&prefix);
            }
            return;
        }
        if !entry.queued {
            entry.queued = true;
            self.dirty.push_back(prefix);
        }
    }

    /// The session went down: the peer holds nothing from us any more, so everything desired is
    /// to be sent again on the next session.
    pub fn session_down(&mut self) {
        self.dirty.clear();
        let interned = &mut self.interned;
        self.entries.retain(|_, entry| {
            interned.release(entry.sent);
            entry.sent = NOTHING;
            entry.desired != NOTHING
        });
        self.advertised = 0;
        for (prefix, entry) in self.entries.iter_mut() {
            entry.queued = true;
            self.dirty.push_back(prefix);
        }
    }

    /// The peer asked for everything again (ROUTE-REFRESH, `flush adj-rib out`): every desired
    /// route is sent once more. Unlike `session_down`, changes already queued — withdrawals
    /// above all — still go out: the peer holds what was sent and must hear they are gone.
    pub fn resend_all(&mut self) {
        for (prefix, entry) in self.entries.iter_mut() {
            if entry.desired != NOTHING {
                if entry.sent != NOTHING {
                    self.interned.release(entry.sent);
                    entry.sent = NOTHING;
                    self.advertised -= 1;
                }
                if !entry.queued {
                    entry.queued = true;
                    self.dirty.push_back(prefix);
                }
            }
        }
    }

    /// Prefixes whose advertised state differs from the desired one (upper bound: a queued
    /// prefix may have returned to its sent state).
    pub fn pending(&self) -> usize {
        self.dirty.len()
    }

    /// Takes up to `max` changes of the given families, marking them as sent. Prefixes of other
    /// families are left unsent (they go out once a session negotiates their family).
    pub fn take_batch(&mut self, max: usize, families: &[Family]) -> Batch {
        let mut batch = Batch::default();
        let mut groups: HashMap<Slot, usize> = HashMap::new();
        let mut last_group: Option<(Slot, usize)> = None;
        let mut taken = 0;
        let mut gone = Vec::new();
        let mut candidates = Vec::new();
        while taken < max && !self.dirty.is_empty() {
            candidates.clear();
            candidates.extend(self.dirty.drain(..(max - taken).min(self.dirty.len())));
            let (interned, advertised) = (&mut self.interned, &mut self.advertised);
            // The queue holds each publish's prefixes in order: one walk along the table.
            self.entries.visit_sorted_mut(&candidates, |prefix, entry| {
                entry.queued = false;
                if entry.desired == entry.sent || !families.contains(&family_of(&prefix)) {
                    if entry.desired == NOTHING && entry.sent == NOTHING {
                        gone.push(prefix);
                    }
                    return;
                }
                taken += 1;
                match (entry.sent, entry.desired) {
                    (NOTHING, _) => *advertised += 1,
                    (_, NOTHING) => *advertised -= 1,
                    _ => {}
                }
                interned.release(entry.sent);
                interned.retain(entry.desired);
                entry.sent = entry.desired;
                let slot = entry.desired;
                match interned.get(slot) {
                    None => {
                        batch.withdraw.push(prefix);
                        gone.push(prefix);
                    }
                    Some(announcement) => {
                        // Consecutive prefixes mostly share their announcement: try the last
                        // group before hashing.
                        let group = match last_group {
                            Some((last_slot, group)) if last_slot == slot => group,
                            _ => *groups.entry(slot).or_insert_with(|| {
                                batch.announce.push((announcement.clone(), Vec::new()));
                                batch.announce.len() - 1
                            }),
                        };
                        last_group = Some((slot, group));
                        batch.announce[group].1.push(prefix);
                    }
                }
            });
        }
        for prefix in &gone {
            self.entries.remove(prefix);
        }
        if self.dirty.is_empty() && self.dirty.capacity() > DIRTY_CAPACITY_KEPT {
            self.dirty = VecDeque::new();
        }
        batch
    }

    /// The packer could not put these into an UPDATE: the peer does not hold them. They are sent
    /// on the next session (a new local address may give them a next hop) or the next change.
    pub fn not_sent(&mut self, prefixes: &[IpNet]) {
        for prefix in prefixes {
            if let Some(entry) = self.entries.get_mut(prefix) {
                if entry.sent != NOTHING {
                    self.interned.release(entry.sent);
                    entry.sent = NOTHING;
                    self.advertised -= 1;
                }
            }
        }
    }

    /// What has been advertised (the peer's view of us), for `rhi routes`.
    pub fn advertised(&self) -> impl Iterator<Item = (IpNet, &Arc<Announcement>)> {
        self.entries.iter().filter_map(|(prefix, entry)| self.interned.get(entry.sent).map(|sent| (prefix, sent)))
    }

    pub fn advertised_count(&self) -> usize {
        self.advertised
    }
}

pub fn family_of(prefix: &IpNet) -> Family {
    match prefix {
        IpNet::V4(_) => Family::IPV4_UNICAST,
        IpNet::V6(_) => Family::IPV6_UNICAST,
    }
}

/// Why a prefix could not be put into an UPDATE for this session.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsendable {
    pub prefixes: Vec<IpNet>,
    pub reason: &'static str,
}

/// Turns a batch into UPDATE messages no longer than `params.max_message_len`, as few as the
/// size allows: prefixes that share attributes share UPDATEs.
pub fn pack(batch: &Batch, ctx: &SessionContext, params: &CodecParams) -> (Vec<Update>, Vec<Unsendable>) {
    let mut updates = Vec::new();
    let mut unsendable = Vec::new();
    let max = params.max_message_len;

    let (withdraw_v4, withdraw_v6) = split_families(&batch.withdraw);
    // Header, withdrawn-routes length, total-path-attribute length.
    let bare = HEADER_LEN + 2 + 2;
    for chunk in chunks(&withdraw_v4, bare, max) {
        updates.push(Update { withdrawn: chunk, ..Update::default() });
    }
    for chunk in chunks(&withdraw_v6, bare + MP_UNREACH_OVERHEAD, max) {
        updates.push(Update {
            mp_unreach: Some(MpUnreach {
                family: Family::IPV6_UNICAST,
                withdrawn: chunk.into_iter().map(IpNet::V6).collect(),
            }),
            ..Update::default()
        });
    }

    for (announcement, prefixes) in &batch.announce {
        let (v4, v6) = split_families(prefixes);
        if !v4.is_empty() {
            let attributes = ctx.path_attributes(announcement, true);
            if attributes.next_hop.is_none() {
                unsendable.push(Unsendable {
                    prefixes: v4.iter().map(|p| IpNet::V4(*p)).collect(),
                    reason: "no IPv4 next hop for this session",
                });
            } else {
                let overhead = bare + attributes.encoded_len(params);
                for chunk in chunks(&v4, overhead, max) {
                    updates.push(Update { attributes: attributes.clone(), nlri: chunk, ..Update::default() });
                }
            }
        }
        if !v6.is_empty() {
            let Some(next_hop) = ctx.next_hop_v6(announcement) else {
                unsendable.push(Unsendable {
                    prefixes: v6.iter().map(|p| IpNet::V6(*p)).collect(),
                    reason: "no IPv6 next hop for this session (set next_hop_v6)",
                });
                continue;
            };
            let attributes = ctx.path_attributes(announcement, false);
            let overhead = bare + attributes.encoded_len(params) + MP_REACH_OVERHEAD_V6;
            for chunk in chunks(&v6, overhead, max) {
                updates.push(Update {
                    attributes: attributes.clone(),
                    mp_reach: Some(MpReach {
                        family: Family::IPV6_UNICAST,
                        next_hop: next_hop.into(),
                        link_local_next_hop: None::<Ipv6Addr>,
                        nlri: chunk.into_iter().map(IpNet::V6).collect(),
                    }),
                    ..Update::default()
                });
            }
        }
    }
    (updates, unsendable)
}

/// Attribute header with extended length (4) + AFI/SAFI (3).
const MP_UNREACH_OVERHEAD: usize = 4 + 3;
/// Attribute header (4) + AFI/SAFI (3) + next hop length (1) + global next hop (16) + reserved (1).
const MP_REACH_OVERHEAD_V6: usize = 4 + 3 + 1 + 16 + 1;

fn split_families(prefixes: &[IpNet]) -> (Vec<Ipv4Net>, Vec<ipnet::Ipv6Net>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for prefix in prefixes {
        match prefix {
            IpNet::V4(p) => v4.push(*p),
            IpNet::V6(p) => v6.push(*p),
        }
    }
    (v4, v6)
}

/// Splits prefixes into runs that fit into a message of `max` octets after `overhead` octets.
fn chunks<P: Copy + PrefixLen>(prefixes: &[P], overhead: usize, max: usize) -> Vec<Vec<P>> {
    let room = max.saturating_sub(overhead);
    let mut out: Vec<Vec<P>> = Vec::new();
    let mut current: Vec<P> = Vec::new();
    let mut used = 0;
    for prefix in prefixes {
        let len = nlri::encoded_len(prefix.len());
        if used + len > room && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        used += len;
        current.push(*prefix);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

trait PrefixLen {
    fn len(&self) -> u8;
}

impl PrefixLen for Ipv4Net {
    fn len(&self) -> u8 {
        self.prefix_len()
    }
}

impl PrefixLen for ipnet::Ipv6Net {
    fn len(&self) -> u8 {
        self.prefix_len()
    }
}

/// Every message the batch becomes must fit: used by tests and debug assertions.
pub fn encoded_update_len(update: &Update, params: &CodecParams) -> usize {
    let mut buf = bytes::BytesMut::new();
    match crate::bgp::message::Message::Update(update.clone()).encode(params, &mut buf) {
        Ok(()) => buf.len(),
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NextHop;

    const V4V6: [Family; 2] = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];

    fn ann(med: u32) -> Arc<Announcement> {
        Arc::new(Announcement { med: Some(med), ..Default::default() })
    }

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ctx() -> SessionContext {
        SessionContext {
            local_as: 65010,
            ibgp: false,
            next_hop: NextHop::Address("192.0.2.10".parse().unwrap()),
            next_hop_v6: Some("2001:db8::10".parse().unwrap()),
            local_address: "127.0.0.6".parse().unwrap(),
        }
    }

    #[test]
    fn a_change_is_sent_once_and_an_unchanged_set_sends_nothing() {
        let mut rib = AdjRibOut::new();
        let a = ann(300);
        rib.set(p("10.46.46.46/32"), Some(a.clone()));
        let batch = rib.take_batch(100, &V4V6);
        assert_eq!(batch.announce, vec![(a.clone(), vec![p("10.46.46.46/32")])]);
        rib.set(p("10.46.46.46/32"), Some(Arc::new((*a).clone())));
        assert_eq!(rib.pending(), 0, "an equal announcement is no change");
        assert!(rib.take_batch(100, &V4V6).is_empty());
    }

    #[test]
    fn announcements_no_longer_referred_to_free_their_slot() {
        let mut rib = AdjRibOut::new();
        let prefix = p("10.46.46.46/32");
        for med in 0..1000 {
            rib.set(prefix, Some(ann(med)));
            rib.take_batch(100, &V4V6);
        }
        assert_eq!(rib.advertised().map(|(_, a)| a.med).collect::<Vec<_>>(), [Some(999)]);
        let live = rib.interned.slots.iter().flatten().count();
        assert_eq!(live, 1, "only the announcement still sent is kept");
        assert!(rib.interned.slots.len() <= 2, "slots are reused: {}", rib.interned.slots.len());
        rib.set(prefix, None);
        rib.take_batch(100, &V4V6);
        assert_eq!(rib.interned.slots.iter().flatten().count(), 0);
        assert!(rib.interned.by_value.is_empty());
        assert_eq!(rib.advertised_count(), 0);
    }

    #[test]
    fn flapping_before_a_flush_coalesces_to_the_latest_state() {
        let mut rib = AdjRibOut::new();
        let prefix = p("10.46.46.46/32");
        rib.set(prefix, Some(ann(300)));
        rib.take_batch(100, &V4V6);
        for _ in 0..10 {
            rib.set(prefix, None);
            rib.set(prefix, Some(ann(300)));
        }
        assert!(rib.take_batch(100, &V4V6).is_empty(), "back where it was: nothing to send");
        rib.set(prefix, None);
        rib.set(prefix, Some(ann(400)));
        rib.set(prefix, None);
        let batch = rib.take_batch(100, &V4V6);
        assert_eq!(batch.withdraw, vec![prefix]);
        assert!(batch.announce.is_empty());
        assert_eq!(rib.advertised_count(), 0);
    }

    #[test]
    fn prefixes_sharing_an_announcement_are_grouped() {
        let mut rib = AdjRibOut::new();
        let (a, b) = (ann(300), ann(400));
        rib.set(p("10.0.0.1/32"), Some(a.clone()));
        rib.set(p("10.0.0.2/32"), Some(b.clone()));
        rib.set(p("10.0.0.3/32"), Some(a.clone()));
        let batch = rib.take_batch(100, &V4V6);
        assert_eq!(batch.announce, vec![(a, vec![p("10.0.0.1/32"), p("10.0.0.3/32")]), (b, vec![p("10.0.0.2/32")])]);
    }

    #[test]
    fn session_down_makes_the_whole_table_pending_again() {
        let mut rib = AdjRibOut::new();
        let a = ann(1);
        rib.set(p("10.0.0.1/32"), Some(a.clone()));
        rib.set(p("2001:db8::1/128"), Some(a));
        rib.take_batch(100, &V4V6);
        assert_eq!(rib.advertised_count(), 2);
        rib.session_down();
        assert_eq!(rib.advertised_count(), 0);
        assert_eq!(rib.pending(), 2);
        assert_eq!(rib.take_batch(100, &V4V6).announce[0].1.len(), 2);
    }

    #[test]
    fn resend_keeps_a_taken_withdrawal_and_queues_every_route_again() {
        let mut rib = AdjRibOut::new();
        let a = ann(1);
        rib.set(p("10.0.0.1/32"), Some(a.clone()));
        rib.set(p("10.0.0.2/32"), Some(a.clone()));
        rib.take_batch(100, &V4V6);
        rib.set(p("10.0.0.2/32"), None);
        assert_eq!(rib.take_batch(100, &V4V6).withdraw, vec![p("10.0.0.2/32")]);
        // The withdrawal above is in flight when the peer asks for everything again: it is not
        // undone, and the one remaining route goes out once more.
        rib.resend_all();
        let again = rib.take_batch(100, &V4V6);
        assert!(again.withdraw.is_empty());
        assert_eq!(again.announce, vec![(a, vec![p("10.0.0.1/32")])]);
        assert_eq!(rib.pending(), 0);
    }

    #[test]
    fn batch_size_is_bounded_and_the_rest_stays_pending() {
        let mut rib = AdjRibOut::new();
        let a = ann(1);
        for i in 0..10u32 {
            rib.set(IpNet::V4(Ipv4Net::new(i.into(), 32).unwrap()), Some(a.clone()));
        }
        assert_eq!(rib.take_batch(4, &V4V6).announce[0].1.len(), 4);
        assert_eq!(rib.pending(), 6);
    }

    #[test]
    fn families_not_negotiated_stay_unsent() {
        let mut rib = AdjRibOut::new();
        let a = ann(1);
        rib.set(p("2001:db8::1/128"), Some(a.clone()));
        rib.set(p("10.0.0.1/32"), Some(a));
        let batch = rib.take_batch(100, &[Family::IPV4_UNICAST]);
        assert_eq!(batch.announce[0].1, vec![p("10.0.0.1/32")]);
        assert_eq!(rib.advertised_count(), 1);
        rib.session_down();
        assert_eq!(rib.take_batch(100, &V4V6).announce[0].1.len(), 2);
    }

    #[test]
    fn packed_updates_fit_the_message_size_and_carry_every_prefix() {
        let mut rib = AdjRibOut::new();
        let a = ann(300);
        let mut expected = Vec::new();
        for i in 0..5000u32 {
            let prefix = IpNet::V4(Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap());
            expected.push(prefix);
            rib.set(prefix, Some(a.clone()));
        }
        for i in 0..700u128 {
            let prefix = IpNet::V6(ipnet::Ipv6Net::new((0x2001_0db8_u128 << 96 | i).into(), 128).unwrap());
            expected.push(prefix);
            rib.set(prefix, Some(a.clone()));
        }
        let params = CodecParams::default();
        let batch = rib.take_batch(usize::MAX, &V4V6);
        let (updates, unsendable) = pack(&batch, &ctx(), &params);
        assert!(unsendable.is_empty());
        let mut carried = Vec::new();
        for update in &updates {
            let len = encoded_update_len(update, &params);
            assert!(len <= params.max_message_len, "UPDATE of {len} octets");
            carried.extend(update.nlri.iter().map(|p| IpNet::V4(*p)));
            carried.extend(update.mp_reach.iter().flat_map(|r| r.nlri.iter().copied()));
        }
        assert_eq!(carried, expected);
        // 5000 /32s at 5 octets each need ceil(25000 / ~4050) = 7 messages, 700 /128s at 17 need 3.
        assert_eq!(updates.len(), 7 + 3, "packing is tight");
        // The first of each family is full to within one prefix of the limit.
        assert!(encoded_update_len(&updates[0], &params) > params.max_message_len - 5);
    }

    #[test]
    fn withdrawals_pack_by_family() {
        let mut rib = AdjRibOut::new();
        let a = ann(300);
        for prefix in [p("10.0.0.1/32"), p("2001:db8::1/128")] {
            rib.set(prefix, Some(a.clone()));
        }
        rib.take_batch(100, &V4V6);
        rib.set(p("10.0.0.1/32"), None);
        rib.set(p("2001:db8::1/128"), None);
        let (updates, _) = pack(&rib.take_batch(100, &V4V6), &ctx(), &CodecParams::default());
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].withdrawn, vec!["10.0.0.1/32".parse().unwrap()]);
        assert_eq!(updates[1].mp_unreach.as_ref().unwrap().withdrawn, vec![p("2001:db8::1/128")]);
    }

    #[test]
    fn ipv6_without_next_hop_is_reported_not_sent() {
        let mut rib = AdjRibOut::new();
        rib.set(p("2001:db8::1/128"), Some(ann(1)));
        let no_v6 = SessionContext { next_hop_v6: None, ..ctx() };
        let (updates, unsendable) = pack(&rib.take_batch(100, &V4V6), &no_v6, &CodecParams::default());
        assert!(updates.is_empty());
        assert_eq!(unsendable[0].prefixes, vec![p("2001:db8::1/128")]);
        rib.not_sent(&unsendable[0].prefixes);
        assert_eq!(rib.advertised_count(), 0, "not advertised, so not shown as advertised");
        rib.session_down();
        assert_eq!(rib.pending(), 1, "tried again on the next session");
    }
}
