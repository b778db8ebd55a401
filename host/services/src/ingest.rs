//! Frames in, with group commit. Each tenant has its own lane: a frame is
//! queued in its tenant's lane (a full queue is refused at once:
//! backpressure, not unbounded latency); the lane's batcher takes
//! everything queued, processes each device's frames in order — devices in
//! parallel — and commits the whole batch in **one** transaction; only then
//! is each frame answered. Where the store can run several writing
//! transactions at once (PostgreSQL; not SQLite's single writer), a lane
//! has several queues, each with its own batcher and committer, and a
//! device always goes to the same one: its frames keep their order while
//! the tenant's commits run side by side.
//!
//! Readings, rule state, alarm transitions and their events of a batch
//! commit together, so a crash leaves all of a batch or none of it: no
//! stored reading is ever unevaluated, and no rule's state runs ahead of its
//! alarms. Per-device order holds: batches commit in order, a device's
//! frames in arrival order within one. Processing of the next batch overlaps
//! the commit of the one before (see [`batcher`]): rules run before the
//! commit, so what a rule reads back through `host.latest`/`history` is what
//! was committed before — up to one batch behind — while its own plugin
//! state is always the latest.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use nexus_model::{Device, DeviceId, Frame, TenantId};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use nexus_storage::Effects;

use crate::frames::{self, DeviceWork};
use crate::ingest_stats::{TenantCounters, TenantIngest};
use crate::validate::RejectedReading as Rejected;
use crate::{Inner, Result, ServiceError};

pub use crate::validate::RejectedReading;

/// Most frames in one group commit.
const MAX_BATCH_FRAMES: usize = 512;
/// Most samples in one group commit (a batch stops growing past it).
const MAX_BATCH_SAMPLES: usize = 200_000;

/// What happened to a frame.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Readings stored.
    pub accepted: usize,
    /// Readings refused by validation, each with its reason.
    pub rejected: Vec<Rejected>,
    /// Alarm transitions caused by the frame's readings.
    pub alarm_transitions: usize,
    /// Readings stored (counted in `accepted`) but stamped further ahead of
    /// the host's clock than the allowed skew: "latest" ignores them.
    pub ahead_of_clock: usize,
}

/// Where a frame's answer goes.
type Reply = oneshot::Sender<Result<IngestReport>>;

/// A tenant's ingest lane: its queues (each drained by its own batcher and
/// committer; a device always uses the same one) and its counters.
pub(crate) struct Lane {
    queues: Vec<mpsc::Sender<Pending>>,
    counters: Arc<TenantCounters>,
}

/// A frame waiting for its batch.
pub(crate) struct Pending {
    device: Device,
    frame: Frame,
    reply: Reply,
}

/// Telemetry in. Cheap to clone.
#[derive(Clone)]
pub struct IngestService(pub(crate) Arc<Inner>);

/// Counters of the ingest path since the host started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Group commits.
    pub batches: u64,
    /// Frames answered (any outcome).
    pub frames: u64,
    /// Readings stored.
    pub points: u64,
    /// Frames refused because the queue was full.
    pub overloaded: u64,
    /// Time spent processing batches (decoders, transforms, rules), µs.
    pub process_us: u64,
    /// Time spent committing batches, µs.
    pub commit_us: u64,
}

/// The counters behind [`IngestStats`].
#[derive(Default)]
pub(crate) struct IngestCounters {
    batches: std::sync::atomic::AtomicU64,
    frames: std::sync::atomic::AtomicU64,
    points: std::sync::atomic::AtomicU64,
    overloaded: std::sync::atomic::AtomicU64,
    process_us: std::sync::atomic::AtomicU64,
    commit_us: std::sync::atomic::AtomicU64,
}

impl IngestService {
    /// Queues a device frame for the next group commit and returns once
    /// everything it caused is durable: its readings, the rules' state and
    /// alarm transitions, dead letters. A full queue is refused at once with
    /// [`ServiceError::Overloaded`].
    pub async fn ingest_frame(&self, device: &Device, frame: Frame) -> Result<IngestReport> {
        let (queue, counters) = self.0.lane(&device.tenant_id, &device.id);
        let (reply, answer) = oneshot::channel();
        let pending = Pending { device: device.clone(), frame, reply };
        queue
            .try_send(pending)
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.0.ingest_counters.overloaded.fetch_add(1, Relaxed);
                    ServiceError::Overloaded { queued: queue.max_capacity() - queue.capacity(), retry_after_s: 1 }
                }
                mpsc::error::TrySendError::Closed(_) => ServiceError::Internal("the ingest batcher stopped".into()),
            })
            .inspect_err(|error| counters.failed(error))?;
        answer.await.map_err(|_| ServiceError::Internal("the ingest batcher dropped a frame".into()))?
    }

    /// Counters since the host started.
    pub fn stats(&self) -> IngestStats {
        let c = &self.0.ingest_counters;
        IngestStats {
            batches: c.batches.load(Relaxed),
            frames: c.frames.load(Relaxed),
            points: c.points.load(Relaxed),
            overloaded: c.overloaded.load(Relaxed),
            process_us: c.process_us.load(Relaxed),
            commit_us: c.commit_us.load(Relaxed),
        }
    }

    /// Frames waiting for the batchers now, over every tenant's lane.
    pub fn queued(&self) -> usize {
        let lanes = self.0.ingest_lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes.values().flat_map(|lane| &lane.queues).map(|queue| queue.max_capacity() - queue.capacity()).sum()
    }

    /// A tenant's counters since the host started (zeros before its first
    /// frame).
    pub fn tenant_stats(&self, tenant: &TenantId) -> TenantIngest {
        let lanes = self.0.ingest_lanes.lock().unwrap_or_else(|e| e.into_inner());
        match lanes.get(tenant) {
            Some(lane) => lane.counters.snapshot(tenant),
            None => TenantCounters::default().snapshot(tenant),
        }
    }
}

impl Inner {
    /// The queue of the device in its tenant's ingest lane — the tenant's
    /// own queues, batchers and committers, started on first use — so one
    /// tenant's slow components or full queue never hold another's frames.
    fn lane(self: &Arc<Self>, tenant: &TenantId, device: &DeviceId) -> (mpsc::Sender<Pending>, Arc<TenantCounters>) {
        let mut lanes = self.ingest_lanes.lock().unwrap_or_else(|e| e.into_inner());
        let lane = lanes.entry(tenant.clone()).or_insert_with(|| {
            let counters = Arc::new(TenantCounters::default());
            let committers = self.config.ingest_committers.unwrap_or_else(|| self.store.concurrent_writers()).max(1);
            let queues = (0..committers)
                .map(|_| {
                    let (queue, rx) = mpsc::channel(self.config.ingest_queue_frames.max(1));
                    tokio::spawn(batcher(self.clone(), rx, counters.clone()));
                    queue
                })
                .collect();
            Lane { queues, counters }
        });
        // A fixed hash: a device's queue stays the same while the host runs.
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(device.as_str(), &mut hasher);
        let queue = &lane.queues[(std::hash::Hasher::finish(&hasher) % lane.queues.len() as u64) as usize];
        (queue.clone(), lane.counters.clone())
    }
}

/// Takes everything queued (up to a batch) and processes it, while the
/// committer commits the batch before: processing of batch *k + 1* overlaps
/// the commit of batch *k* (a pipeline of depth two). Batch *k + 1*'s rules
/// start from batch *k*'s plugin state, held in the cache until its commit
/// settles. If a commit fails, every batch processed on top of it is failed
/// as well (its frames answered with the error, nothing of it stored), and
/// the batcher waits for the committer to settle them before it processes
/// the next batch on the state storage really holds.
async fn batcher(inner: Arc<Inner>, mut queue: mpsc::Receiver<Pending>, counters: Arc<TenantCounters>) {
    let (to_commit, commits) = mpsc::channel::<Processed>(1);
    let (settled_tx, mut settled) = tokio::sync::watch::channel(0u64);
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    tokio::spawn(committer(inner.clone(), commits, settled_tx, failures.clone(), counters));
    let mut seq = 0u64;
    let mut failures_seen = 0u64;
    loop {
        // Wait until the committer has taken the batch before (the slot of
        // `to_commit` is free) before taking frames from the queue: so one
        // batch commits while the next is processed, and every frame that
        // arrived meanwhile joins the next — not a third batch held back
        // while it waits for the slot, which splits the same frames into
        // more, smaller commits and adds a commit's time to their latency.
        let Ok(slot) = to_commit.reserve().await else {
            tracing::error!("The ingest committer stopped.");
            return;
        };
        let Some(first) = queue.recv().await else { return };
        let mut samples = first.frame.payload.len() / 16;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_FRAMES && samples < MAX_BATCH_SAMPLES {
            match queue.try_recv() {
                Ok(pending) => {
                    samples += pending.frame.payload.len() / 16;
                    batch.push(pending);
                }
                Err(_) => break,
            }
        }
        seq += 1;
        if failures.load(Relaxed) != failures_seen {
            // A commit failed: let every batch before this one settle.
            let _ = settled.wait_for(|&done| done >= seq - 1).await;
            failures_seen = failures.load(Relaxed);
        }
        let started = std::time::Instant::now();
        let processed = process_batch(&inner, seq, failures_seen, batch).await;
        inner.ingest_counters.process_us.fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        slot.send(processed);
    }
}

/// A processed batch on its way to the committer.
struct Processed {
    seq: u64,
    /// Commit failures seen when its processing started.
    failures_seen: u64,
    /// Per device (batch order): its frames' replies.
    replies: Vec<Vec<Reply>>,
    /// Per device: its frames' outcomes, or why it failed.
    outcomes: Vec<Result<Vec<frames::FrameOutcome>>>,
    /// The devices whose effects are in `effects`, by index.
    committed_index: Vec<usize>,
    effects: Vec<Effects>,
}

/// Commits processed batches in order and answers their frames.
async fn committer(
    inner: Arc<Inner>,
    mut commits: mpsc::Receiver<Processed>,
    settled: tokio::sync::watch::Sender<u64>,
    failures: Arc<std::sync::atomic::AtomicU64>,
    counters: Arc<TenantCounters>,
) {
    while let Some(batch) = commits.recv().await {
        let seq = batch.seq;
        let started = std::time::Instant::now();
        commit_batch(&inner, batch, &failures, &counters).await;
        inner.ingest_counters.commit_us.fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        settled.send_replace(seq);
    }
}

/// Processes one batch: devices in parallel, their effects not yet committed.
async fn process_batch(inner: &Arc<Inner>, seq: u64, failures_seen: u64, batch: Vec<Pending>) -> Processed {
    inner.ingest_counters.batches.fetch_add(1, Relaxed);
    inner.ingest_counters.frames.fetch_add(batch.len() as u64, Relaxed);
    // Group by device, keeping each device's arrival order.
    let mut order: Vec<DeviceId> = Vec::new();
    let mut groups: HashMap<DeviceId, (Device, Vec<Frame>, Vec<Reply>)> = HashMap::new();
    for Pending { device, frame, reply } in batch {
        let group = groups.entry(device.id.clone()).or_insert_with(|| {
            order.push(device.id.clone());
            (device, Vec::new(), Vec::new())
        });
        group.1.push(frame);
        group.2.push(reply);
    }
    // Devices are dealt to one worker per core; each worker is a blocking
    // thread that runs its devices' plugin calls inline, one after another.
    let workers = std::thread::available_parallelism().map_or(2, usize::from).max(1);
    let mut replies = Vec::with_capacity(order.len());
    let mut shares: Vec<Vec<(usize, Device, Vec<Frame>)>> = (0..workers).map(|_| Vec::new()).collect();
    for (index, id) in order.iter().enumerate() {
        let Some((device, frames, device_replies)) = groups.remove(id) else { continue };
        replies.push(device_replies);
        shares[index % workers].push((index, device, frames));
    }
    let handle = tokio::runtime::Handle::current();
    let mut tasks = tokio::task::JoinSet::new();
    for share in shares.into_iter().filter(|s| !s.is_empty()) {
        let (inner, handle) = (inner.clone(), handle.clone());
        tasks.spawn_blocking(move || {
            crate::calls::with_inline_calls(|| {
                handle.block_on(async {
                    let mut done = Vec::with_capacity(share.len());
                    for (index, device, frames) in share {
                        done.push((index, frames::process(inner.clone(), device, frames).await));
                    }
                    done
                })
            })
        });
    }
    let mut works: Vec<Option<Result<DeviceWork>>> = (0..replies.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(done) => {
                for (index, work) in done {
                    works[index] = Some(work);
                }
            }
            Err(error) => tracing::error!(%error, "A share of the batch's devices could not be processed."),
        }
    }
    // A device whose processing failed (storage error, panic) gets its
    // error and commits nothing; the others' state is held for the next
    // batch until this one's commit settles.
    let mut committed_index = Vec::new();
    let mut effects = Vec::new();
    let mut outcomes = Vec::with_capacity(works.len());
    for (index, work) in works.into_iter().enumerate() {
        match work {
            Some(Ok(DeviceWork { effects: device_effects, outcomes: frame_outcomes })) => {
                for write in &device_effects.states {
                    inner.caches.hold_state(seq, &write.binding_id, &write.device_id, write.state.clone());
                }
                committed_index.push(index);
                effects.push(device_effects);
                outcomes.push(Ok(frame_outcomes));
            }
            Some(Err(error)) => outcomes.push(Err(error)),
            None => outcomes.push(Err(ServiceError::Internal("processing the frame panicked".into()))),
        }
    }
    Processed { seq, failures_seen, replies, outcomes, committed_index, effects }
}

/// Commits one processed batch and answers its frames. A batch processed
/// while an earlier commit failed may hold state derived from it: it is
/// failed without a commit.
async fn commit_batch(
    inner: &Arc<Inner>,
    batch: Processed,
    failures: &std::sync::atomic::AtomicU64,
    counters: &TenantCounters,
) {
    let Processed { seq, failures_seen, replies, outcomes, committed_index, effects } = batch;
    let committed = if failures.load(Relaxed) != failures_seen {
        let pairs = effects.iter().flat_map(|e| &e.states).map(|w| (&w.binding_id, &w.device_id));
        inner.caches.settle(seq, pairs, false);
        Err(ServiceError::Unavailable("an earlier group commit failed; retry the frame".into()))
    } else {
        let result = inner.commit_held(seq, effects).await;
        if result.is_err() {
            failures.fetch_add(1, Relaxed);
        }
        result
    };
    let mut transitions: HashMap<usize, Vec<nexus_model::AlarmTransition>> = HashMap::new();
    let commit_error = match committed {
        Ok(all) => {
            for (index, c) in committed_index.iter().zip(all) {
                transitions.insert(*index, c.transitions);
            }
            None
        }
        Err(error) => Some(error),
    };
    for (index, (device_replies, outcome)) in replies.into_iter().zip(outcomes).enumerate() {
        match (outcome, &commit_error) {
            (Err(error), _) => answer_all(device_replies, &error, counters),
            (Ok(_), Some(error)) => answer_all(device_replies, error, counters),
            (Ok(frame_outcomes), None) => {
                let device_transitions = transitions.remove(&index).unwrap_or_default();
                for (reply, outcome) in device_replies.into_iter().zip(frame_outcomes) {
                    let answer = match outcome.error {
                        Some(error) => {
                            counters.failed(&error);
                            Err(error)
                        }
                        None => {
                            let caused = outcome.span.map_or(0, |(lo, hi)| {
                                device_transitions
                                    .iter()
                                    .filter(|t| t.action.is_event() && t.ts >= lo && t.ts <= hi)
                                    .count()
                            });
                            inner.ingest_counters.points.fetch_add(outcome.accepted as u64, Relaxed);
                            counters.stored(outcome.accepted);
                            Ok(IngestReport {
                                accepted: outcome.accepted,
                                rejected: outcome.rejected,
                                alarm_transitions: caused,
                                ahead_of_clock: outcome.ahead_of_clock,
                            })
                        }
                    };
                    let _ = reply.send(answer);
                }
            }
        }
    }
}

fn answer_all(replies: Vec<Reply>, error: &ServiceError, counters: &TenantCounters) {
    for reply in replies {
        counters.failed(error);
        let _ = reply.send(Err(error.clone()));
    }
}
