//! Delivery with order and throughput: each device has a lane (a task
//! delivering its frames one after another, in arrival order), lanes run
//! concurrently, and at most [`IN_FLIGHT`] frames are queued or being
//! delivered at once (past that, the session stops reading from the broker
//! until a frame is done). A message is acknowledged to the broker once
//! every frame made from it was stored or refused; a frame the sink cannot
//! take now (`Unavailable`) is retried after the sink's `retry_after` and
//! its message is never acknowledged before that.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nexus_model::Frame;
use rumqttc::{AsyncClient, Publish};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::{DeviceRef, FrameSink, Health, SinkError};

/// Frames queued or being delivered at once, over all devices.
pub(super) const IN_FLIGHT: usize = 512;
/// Idle lanes are dropped when there are more lanes than this.
const LANES_KEPT: usize = 1024;

/// A message's acknowledgement, sent once its last frame is done.
pub(super) struct AckWhenDone {
    remaining: AtomicUsize,
    publish: Publish,
    client: AsyncClient,
}

impl AckWhenDone {
    /// Never waits for the session's request queue: a lane blocked on it
    /// would hold its permit, the run loop would wait for permits, the
    /// event loop for the run loop, and nobody would drain the queue.
    fn part_done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 && self.client.try_ack(&self.publish).is_err() {
            // Full (or gone: then the broker redelivers anyway).
            let (client, publish) = (self.client.clone(), self.publish.clone());
            tokio::spawn(async move {
                let _ = client.ack(&publish).await;
            });
        }
    }
}

struct Job {
    device: String,
    frame: Frame,
    ack: Arc<AckWhenDone>,
    _permit: OwnedSemaphorePermit,
}

struct Lane {
    jobs: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
}

/// The lanes of one session. Dropping it aborts them (their messages,
/// unacknowledged, come again in the next session).
pub(super) struct Dispatcher {
    sink: Arc<dyn FrameSink>,
    health: Arc<Health>,
    client: AsyncClient,
    stop: watch::Receiver<bool>,
    permits: Arc<Semaphore>,
    lanes: HashMap<String, Lane>,
    tasks: JoinSet<()>,
}

impl Dispatcher {
    /// Lanes delivering into `sink`.
    pub(super) fn new(
        sink: Arc<dyn FrameSink>,
        health: Arc<Health>,
        client: AsyncClient,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            sink,
            health,
            client,
            stop,
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
            lanes: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Queues the frames of `publish` on their devices' lanes (waiting for
    /// room when [`IN_FLIGHT`] frames are under way).
    pub(super) async fn dispatch(&mut self, publish: Publish, frames: Vec<(String, Frame)>) {
        if frames.is_empty() {
            return;
        }
        let ack =
            Arc::new(AckWhenDone { remaining: AtomicUsize::new(frames.len()), publish, client: self.client.clone() });
        for (device, frame) in frames {
            let Ok(permit) = self.permits.clone().acquire_owned().await else { return };
            let job = Job { device, frame, ack: ack.clone(), _permit: permit };
            self.lane(&job.device).pending.fetch_add(1, Ordering::AcqRel);
            if let Some(lane) = self.lanes.get(&job.device) {
                // The lane's task lives as long as its sender (here).
                let _ = lane.jobs.send(job);
            }
        }
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
    pending: Arc<AtomicUsize>,
}

impl Worker {
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = jobs.recv().await {
            if !self.deliver(&job).await {
                return;
            }
            job.ack.part_done();
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
