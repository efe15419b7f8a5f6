//! What goes out on the connection, in order: the FSM's messages first, then UPDATEs packed from
//! the Adj-RIB-Out, then End-of-RIB once the initial table is complete. The writer queue is
//! bounded, so UPDATEs are packed only as fast as the router reads them.

use tracing::{info, warn};

use super::writer::Outgoing;
use super::{PeerTask, BATCH_PREFIXES};
use crate::bgp::message::{Message, Update};
use crate::rib::pack;

impl PeerTask {
    pub(super) fn has_output(&self) -> bool {
        if self.connection.is_none() {
            return false;
        }
        if !self.urgent.is_empty() {
            return true;
        }
        match &self.session {
            Some(session) => {
                !self.outbox.is_empty()
                    || self.rib.pending() > 0
                    || (!session.end_of_rib_sent && self.initial_table_complete)
            }
            None => false,
        }
    }

    /// Moves one message into the writer queue, FSM messages first. Called when the queue has
    /// room; this task is its only producer, so the room is still there.
    pub(super) fn send_next(&mut self) {
        if self.urgent.is_empty() && self.outbox.is_empty() {
            self.fill_outbox();
        }
        let Some(connection) = &self.connection else { return };
        let Ok(permit) = connection.writer.try_reserve() else { return };
        if let Some(item) = self.urgent.pop_front() {
            if matches!(item, Outgoing::Message(_)) {
                self.status.send_modify(|s| s.messages_sent += 1);
            }
            permit.send(item);
            return;
        }
        if let Some(update) = self.outbox.pop_front() {
            self.status.send_modify(|s| {
                s.updates_sent += 1;
                s.messages_sent += 1;
            });
            let message = Message::Update(update);
            permit.send(match self.verdict_at.take() {
                Some(at) => Outgoing::AfterVerdict(message, at),
                None => Outgoing::Message(message),
            });
        }
        if self.outbox.is_empty() && self.rib.pending() == 0 {
            self.status.send_modify(|s| s.prefixes_advertised = self.rib.advertised_count());
        }
    }

    pub(super) fn fill_outbox(&mut self) {
        let Some(session) = &mut self.session else { return };
        while self.outbox.is_empty() && self.rib.pending() > 0 {
            let batch = self.rib.take_batch(BATCH_PREFIXES, &session.families);
            let (updates, unsendable) = pack(&batch, &session.context, &session.params);
            for skipped in unsendable {
                warn!(peer = %self.peer.name, prefixes = ?skipped.prefixes, reason = skipped.reason, "not announced");
                self.rib.not_sent(&skipped.prefixes);
            }
            self.outbox.extend(updates);
        }
        if self.outbox.is_empty() && self.initial_table_complete && !session.end_of_rib_sent {
            session.end_of_rib_sent = true;
            info!(peer = %self.peer.name, families = ?session.families, "initial table sent: End-of-RIB");
            self.outbox.extend(session.families.iter().map(|family| Update::end_of_rib(*family)));
        }
    }
}
