//! Telemetry taps: each device's committed readings, copied after their
//! commit to whoever forwards them (the Kafka producer's
//! `pf.telemetry.validated`).
//!
//! "Validated" means what storage holds: decoded by the tenant's decoder,
//! shaped, within the skew bound, and committed with the rules' effects. A
//! tap is a copy, not a log: the commit path only queues (a bounded queue to
//! one writer task per tap, so ingest never waits for a tap), a full queue
//! or a delivery that fails (after the tap's own retries, if it makes any)
//! skips that telemetry (counted, with a warning at
//! most every 10 s), and a crash between a commit and its delivery loses the
//! copy — storage keeps the readings, and `GET /api/devices/{id}/telemetry`
//! reads them back. Events that must never be missed go through the outbox.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexus_model::{DeviceId, Series, TenantId, TimestampMs};

/// Device commits that may wait for a tap's writer; past it they are
/// skipped.
const QUEUE: usize = 4096;
/// Device commits handed to a tap at once.
const BATCH: usize = 256;
/// At most one warning about skipped telemetry this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// One device's readings of one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct TappedTelemetry {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The device.
    pub device_id: DeviceId,
    /// When it was committed.
    pub committed_at: TimestampMs,
    /// One series per key and value type.
    pub series: Vec<Series>,
}

/// Where committed telemetry is copied to.
#[async_trait]
pub trait TelemetryTap: Send + Sync + 'static {
    /// The tap's name (in warnings).
    fn name(&self) -> &str;

    /// Delivers device commits, in commit order (retrying as it sees fit);
    /// an error skips them.
    async fn deliver(&self, batch: &[TappedTelemetry]) -> Result<(), String>;
}

/// The attached taps' queues and what they skipped.
#[derive(Default)]
pub(crate) struct Taps {
    queues: Mutex<Vec<tokio::sync::mpsc::Sender<TappedTelemetry>>>,
    skipped: Arc<Skipped>,
}

#[derive(Default)]
struct Skipped {
    count: AtomicU64,
    warned: Mutex<Option<Instant>>,
}

impl Skipped {
    fn add(&self, n: u64, tap: &str, why: &str) {
        let total = self.count.fetch_add(n, Ordering::Relaxed) + n;
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            tracing::warn!(tap, skipped_total = total, reason = why, "Committed telemetry not copied to a tap.");
        }
    }
}

impl Taps {
    /// Whether any tap is attached (the commit path copies telemetry only
    /// then).
    pub(crate) fn any(&self) -> bool {
        !self.queues.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// Device commits skipped so far.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.count.load(Ordering::Relaxed)
    }

    /// Queues a commit's telemetry for every tap; never waits.
    pub(crate) fn offer(
        &self,
        tenant: &TenantId,
        committed_at: TimestampMs,
        telemetry: &[nexus_storage::DeviceSeries],
    ) {
        let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        for queue in queues.iter() {
            for device in telemetry.iter().filter(|d| !d.series.is_empty()) {
                let item = TappedTelemetry {
                    tenant_id: tenant.clone(),
                    device_id: device.device_id.clone(),
                    committed_at,
                    series: device.series.clone(),
                };
                if queue.try_send(item).is_err() {
                    self.skipped.add(1, "any", "queue full");
                }
            }
        }
    }
}

impl crate::Services {
    /// Attaches a telemetry tap: every commit's telemetry is queued for it
    /// from now on, and a writer task delivers it (until the services are
    /// dropped).
    pub fn attach_telemetry_tap(&self, tap: Arc<dyn TelemetryTap>) {
        let (queue, mut receiver) = tokio::sync::mpsc::channel(QUEUE);
        let taps = &self.inner.taps;
        taps.queues.lock().unwrap_or_else(|e| e.into_inner()).push(queue);
        let skipped = taps.skipped.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(error) = tap.deliver(&batch).await {
                    tracing::debug!(tap = tap.name(), %error, "Telemetry tap delivery failed.");
                    skipped.add(batch.len() as u64, tap.name(), &error);
                }
                batch.clear();
            }
        });
    }

    /// Device commits the telemetry taps skipped (queue full or delivery
    /// failed).
    pub fn telemetry_tap_skipped(&self) -> u64 {
        self.inner.taps.skipped()
    }
}
