//! Which offsets may be committed. Frames go through the shared lanes
//! ([`crate::lanes`]: one per device, in the order consumed, at most
//! [`IN_FLIGHT`](crate::lanes::IN_FLIGHT) under way); a frame the sink
//! cannot take now is retried, and its offset stays uncommitted until it is
//! stored.
//!
//! [`Offsets`] keeps, per partition, the records consumed but not done: the
//! position committed is the lowest of them (or, when none, one past the
//! last consumed), so a commit never passes a record that is not durable.

use std::collections::{BTreeSet, HashMap};

use tokio::sync::mpsc;

use crate::lanes::Done;

/// A record's place: (partition, offset).
pub(super) type Place = (i32, i64);

/// Per partition: the records consumed and not yet done.
#[derive(Debug, Default)]
pub(super) struct Offsets {
    partitions: HashMap<i32, Partition>,
}

#[derive(Debug, Default)]
struct Partition {
    pending: BTreeSet<i64>,
    /// One past the highest offset consumed.
    next: i64,
    /// The position last committed.
    committed: i64,
}

impl Offsets {
    /// A record was consumed.
    pub(super) fn consumed(&mut self, (partition, offset): Place) {
        let p = self.partitions.entry(partition).or_default();
        p.pending.insert(offset);
        p.next = p.next.max(offset + 1);
    }

    /// A consumed record is stored or refused.
    pub(super) fn done(&mut self, (partition, offset): Place) {
        if let Some(p) = self.partitions.get_mut(&partition) {
            p.pending.remove(&offset);
        }
    }

    /// The positions (next offset to read) that moved past the committed
    /// ones: every record before each is done.
    pub(super) fn to_commit(&self) -> Vec<Place> {
        let mut moved: Vec<Place> = self
            .partitions
            .iter()
            .filter_map(|(partition, p)| {
                let position = p.pending.first().copied().unwrap_or(p.next);
                (position > p.committed).then_some((*partition, position))
            })
            .collect();
        moved.sort_unstable();
        moved
    }

    /// A commit failed: every position is committed again next time.
    pub(super) fn forget_commits(&mut self) {
        for p in self.partitions.values_mut() {
            p.committed = 0;
        }
    }

    /// These positions are committed.
    pub(super) fn committed(&mut self, positions: &[Place]) {
        for (partition, position) in positions {
            if let Some(p) = self.partitions.get_mut(partition) {
                p.committed = p.committed.max(*position);
            }
        }
    }
}

/// A record's frame is done: its place goes to the run loop, which may
/// then commit past it.
pub(super) struct Committable {
    pub(super) place: Place,
    pub(super) done: mpsc::UnboundedSender<Place>,
}

impl Done for Committable {
    fn done(self) {
        let _ = self.done.send(self.place);
    }
}

/// The lanes of one run ([`crate::lanes`]).
pub(super) type Lanes = crate::lanes::Lanes<Committable>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_never_passes_a_record_that_is_not_done() {
        let mut offsets = Offsets::default();
        for offset in 10..15 {
            offsets.consumed((0, offset));
        }
        offsets.consumed((1, 3));
        // Nothing done yet: the positions are the first records consumed.
        assert_eq!(offsets.to_commit(), vec![(0, 10), (1, 3)]);
        offsets.done((0, 11));
        offsets.done((0, 12));
        offsets.done((1, 3));
        assert_eq!(offsets.to_commit(), vec![(0, 10), (1, 4)]);
        offsets.committed(&[(0, 10), (1, 4)]);
        assert!(offsets.to_commit().is_empty());
        offsets.done((0, 10));
        assert_eq!(offsets.to_commit(), vec![(0, 13)]);
        offsets.done((0, 13));
        offsets.done((0, 14));
        assert_eq!(offsets.to_commit(), vec![(0, 15)]);
    }
}
