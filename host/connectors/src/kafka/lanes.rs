//! Delivery with order and throughput, and the offsets that may be
//! committed. Each device has a lane (a task delivering its frames one
//! after another, in the order they were consumed), lanes run concurrently,
//! and at most [`IN_FLIGHT`] frames are queued or under way (past that the
//! consumer stops reading until one is done). A frame the sink cannot take
//! now (`Unavailable`) is retried after the sink's `retry_after`, and its
//! offset stays uncommitted until it is stored.
//!
//! [`Offsets`] keeps, per partition, the records consumed but not done: the
//! position committed is the lowest of them (or, when none, one past the
//! last consumed), so a commit never passes a record that is not durable.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nexus_model::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::{DeviceRef, FrameSink, Health, SinkError};

/// Frames queued or being delivered at once, over all devices.
pub(super) const IN_FLIGHT: usize = 512;
/// Idle lanes are dropped when there are more lanes than this.
const LANES_KEPT: usize = 1024;

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

struct Job {
    device: String,
    frame: Frame,
    place: Place,
    _permit: OwnedSemaphorePermit,
}

struct Lane {
    jobs: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
}

/// The lanes of one run. Each finished record's place goes to `done`.
pub(super) struct Lanes {
    sink: Arc<dyn FrameSink>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
    done: mpsc::UnboundedSender<Place>,
    permits: Arc<Semaphore>,
    lanes: HashMap<String, Lane>,
    tasks: JoinSet<()>,
}

impl Lanes {
    /// Lanes delivering into `sink`.
    pub(super) fn new(
        sink: Arc<dyn FrameSink>,
        health: Arc<Health>,
        stop: watch::Receiver<bool>,
        done: mpsc::UnboundedSender<Place>,
    ) -> Self {
        Self {
            sink,
            health,
            stop,
            done,
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
            lanes: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// No lanes (a run's lanes once they are finished).
    pub(super) fn none(link: &crate::Link) -> Self {
        Self::new(link.sink.clone(), link.health.clone(), link.stop.clone(), mpsc::unbounded_channel().0)
    }

    /// Queues a frame on its device's lane (waiting for room when
    /// [`IN_FLIGHT`] frames are under way).
    pub(super) async fn dispatch(&mut self, device: String, frame: Frame, place: Place) {
        let Ok(permit) = self.permits.clone().acquire_owned().await else { return };
        let job = Job { device, frame, place, _permit: permit };
        self.lane(&job.device).pending.fetch_add(1, Ordering::AcqRel);
        if let Some(lane) = self.lanes.get(&job.device) {
            // The lane's task lives as long as its sender (here).
            let _ = lane.jobs.send(job);
        }
    }

    /// Lets the lanes finish what they hold, for at most `grace` (past it,
    /// or when the sink is unavailable and the connector stops, the rest
    /// stays uncommitted and is consumed again).
    pub(super) async fn finish(mut self, grace: Duration) {
        self.lanes.clear();
        let _ = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
    }

    fn lane(&mut self, device: &str) -> &Lane {
        if !self.lanes.contains_key(device) {
            if self.lanes.len() >= LANES_KEPT {
                // Only this task sends, so a lane with nothing pending is
                // idle and empty: dropping its sender ends it.
                self.lanes.retain(|_, lane| lane.pending.load(Ordering::Acquire) > 0);
                while self.tasks.try_join_next().is_some() {}
            }
            let (jobs, rx) = mpsc::unbounded_channel();
            let pending = Arc::new(AtomicUsize::new(0));
            let worker = Worker {
                sink: self.sink.clone(),
                health: self.health.clone(),
                stop: self.stop.clone(),
                done: self.done.clone(),
                pending: pending.clone(),
            };
            self.tasks.spawn(worker.run(rx));
            self.lanes.insert(device.to_string(), Lane { jobs, pending });
        }
        &self.lanes[device]
    }
}

struct Worker {
    sink: Arc<dyn FrameSink>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
    done: mpsc::UnboundedSender<Place>,
    pending: Arc<AtomicUsize>,
}

impl Worker {
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = jobs.recv().await {
            if !self.deliver(&job).await {
                return;
            }
            let _ = self.done.send(job.place);
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Delivers until the frame is stored or refused (`true`), or the
    /// connector stops while the sink is unavailable (`false`: not done).
    async fn deliver(&mut self, job: &Job) -> bool {
        let device = DeviceRef::IdOrName(job.device.clone());
        loop {
            match self.sink.deliver(&device, job.frame.clone()).await {
                Ok(report) => {
                    self.health.frame_stored(&report);
                    return true;
                }
                Err(SinkError::Refused { code, reason }) => {
                    self.health.frame_refused(Some(&job.device), &code, &reason);
                    return true;
                }
                Err(SinkError::Unavailable { reason, retry_after }) => {
                    self.health.error(Some(&job.device), "sink-unavailable", &reason);
                    tokio::select! {
                        () = tokio::time::sleep(retry_after) => {}
                        _ = self.stop.wait_for(|stop| *stop) => return false,
                    }
                }
            }
        }
    }
}

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
