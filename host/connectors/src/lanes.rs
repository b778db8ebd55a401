//! Delivery with order and throughput, for the connectors that read a
//! stream of frames for many devices (MQTT, Kafka): each device has a lane
//! (a task delivering its frames one after another, in arrival order),
//! lanes run concurrently, and at most [`IN_FLIGHT`] frames are queued or
//! under way at once (past that, [`Lanes::dispatch`] waits, so the
//! connector stops reading until a frame is done).
//!
//! A frame that is stored or refused is *done*: its [`Done`] token is
//! spent, which is how the connector learns it may acknowledge (MQTT) or
//! commit (Kafka) what carried it. A frame the sink cannot take now
//! (`Unavailable`) is retried after the sink's `retry_after`; when the
//! connector stops meanwhile, its token is dropped unspent, so what carried
//! it is never acknowledged and comes again. Dropping the lanes aborts
//! them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nexus_model::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::{DeviceRef, FrameSink, Health, SinkError};

/// Frames queued or being delivered at once, over all devices.
pub(crate) const IN_FLIGHT: usize = 512;
/// Idle lanes are dropped when there are more lanes than this.
const LANES_KEPT: usize = 1024;

/// What a frame's delivery settles once the frame is stored or refused.
pub(crate) trait Done: Send + 'static {
    /// The frame is stored or refused.
    fn done(self);
}

struct Job<D> {
    device: String,
    frame: Frame,
    done: D,
    _permit: OwnedSemaphorePermit,
}

struct Lane<D> {
    jobs: mpsc::UnboundedSender<Job<D>>,
    pending: Arc<AtomicUsize>,
}

/// The lanes of one run.
pub(crate) struct Lanes<D> {
    sink: Arc<dyn FrameSink>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
    permits: Arc<Semaphore>,
    lanes: HashMap<String, Lane<D>>,
    tasks: JoinSet<()>,
}

impl<D: Done> Lanes<D> {
    /// Lanes delivering into `sink`.
    pub(crate) fn new(sink: Arc<dyn FrameSink>, health: Arc<Health>, stop: watch::Receiver<bool>) -> Self {
        Self {
            sink,
            health,
            stop,
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
            lanes: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Queues a frame on its device's lane (the device as the wire named
    /// it: id or name), waiting for room when [`IN_FLIGHT`] frames are
    /// under way.
    pub(crate) async fn dispatch(&mut self, device: String, frame: Frame, done: D) {
        let Ok(permit) = self.permits.clone().acquire_owned().await else { return };
        let job = Job { device, frame, done, _permit: permit };
        self.lane(&job.device).pending.fetch_add(1, Ordering::AcqRel);
        if let Some(lane) = self.lanes.get(&job.device) {
            // The lane's task lives as long as its sender (here).
            let _ = lane.jobs.send(job);
        }
    }

    /// Lets the lanes finish what they hold, for at most `grace`; past it
    /// (or when the sink is unavailable and the connector stops) the rest
    /// is not done.
    pub(crate) async fn finish(mut self, grace: Duration) {
        self.lanes.clear();
        let _ = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
    }

    fn lane(&mut self, device: &str) -> &Lane<D> {
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
    async fn run<D: Done>(mut self, mut jobs: mpsc::UnboundedReceiver<Job<D>>) {
        while let Some(job) = jobs.recv().await {
            if !self.deliver(&job.device, &job.frame).await {
                return;
            }
            job.done.done();
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Delivers until the frame is stored or refused (`true`), or the
    /// connector stops while the sink is unavailable (`false`: not done).
    async fn deliver(&mut self, wire: &str, frame: &Frame) -> bool {
        let device = DeviceRef::IdOrName(wire.to_string());
        loop {
            match self.sink.deliver(&device, frame.clone()).await {
                Ok(report) => {
                    self.health.frame_stored(&report);
                    return true;
                }
                Err(SinkError::Refused { code, reason }) => {
                    self.health.frame_refused(Some(wire), &code, &reason);
                    return true;
                }
                Err(SinkError::Unavailable { reason, retry_after }) => {
                    self.health.error(Some(wire), "sink-unavailable", &reason);
                    tokio::select! {
                        () = tokio::time::sleep(retry_after) => {}
                        _ = self.stop.wait_for(|stop| *stop) => return false,
                    }
                }
            }
        }
    }
}
