//! The hot-state cache: a copy of what storage already holds (each device's
//! latest values, each well's last report, the tenant's active alarms), kept
//! where reads are cheap (Redis, in `nexus-cache-redis`). It never holds
//! truth that exists nowhere else:
//!
//! - latest values are written after their commit, asynchronously (a
//!   bounded queue to one writer task, so ingest never waits on the cache;
//!   when the queue is full or the cache is down the write is skipped, with
//!   a warning at most every 10 s, and counted), only samples the storage
//!   would make "latest" (not ahead of the clock-skew bound), and never over
//!   a newer value (the implementation compares timestamps);
//! - the active alarms follow the outbox's alarm events (a subscriber that
//!   keeps no cursor: it replays the outbox on every start, so the set is
//!   rebuilt from the database whenever the host starts);
//! - reads try the cache for at most [`READ_TIMEOUT`] and fall back to
//!   storage on a miss or an error, then fill the cache with what storage
//!   answered.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexus_model::{AlarmId, DeviceId, Event, EventBody, Reading, TenantId, TimestampMs, WellId};
use nexus_storage::Effects;

use crate::{Inner, StartFrom, Subscriber, Subscription};

/// How long a read waits for the cache before it asks storage.
pub const READ_TIMEOUT: Duration = Duration::from_millis(50);
/// Device updates that may wait for the writer; past it they are skipped.
const QUEUE: usize = 4096;
/// At most one warning about skipped cache writes this often.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Devices whose well the writer remembers; past it the map is emptied.
const MAX_WELLS: usize = 100_000;

/// A cache failure (unreachable, timed out, a malformed entry).
#[derive(Debug, Clone, thiserror::Error)]
#[error("hot cache: {0}")]
pub struct CacheError(pub String);

/// A device's latest values to store.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestUpdate {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The device.
    pub device_id: DeviceId,
    /// The well the device instruments, if any (its status and latest
    /// values are updated too).
    pub well_id: Option<WellId>,
    /// At most one reading per key.
    pub readings: Vec<Reading>,
    /// Whether a value of the same timestamp is replaced (a commit: the
    /// last written wins, as in storage) or kept (a fill from storage,
    /// which may be older than a commit the writer just cached).
    pub replace_equal: bool,
}

/// An alarm entering or leaving a tenant's active set.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmUpdate {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The alarm.
    pub alarm_id: AlarmId,
    /// When it started (the set's score).
    pub start_ts: TimestampMs,
    /// Whether it is active now.
    pub active: bool,
}

/// The hot-state cache port. Implementations only copy; every call may
/// fail, and the services then use storage.
#[async_trait]
pub trait HotCache: Send + Sync + 'static {
    /// Stores latest values, each only if it is not older than the cached
    /// one of its key (see [`LatestUpdate::replace_equal`]).
    async fn put_latest(&self, updates: &[LatestUpdate]) -> Result<(), CacheError>;

    /// The cached latest values of a device's `keys`, in any order; keys
    /// the cache does not hold are missing.
    async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>, CacheError>;

    /// Deletes the cached latest values of devices (and of their wells,
    /// and the wells' status) whose writes were skipped, so the cache holds
    /// no value older than storage's.
    async fn forget_latest(&self, devices: &[(TenantId, DeviceId, Option<WellId>)]) -> Result<(), CacheError>;

    /// Adds alarms to or removes them from their tenant's active set, in
    /// order.
    async fn update_alarms(&self, updates: &[AlarmUpdate]) -> Result<(), CacheError>;

    /// A well's cached status: its last report's time and device (the
    /// newest latest value written for any of its devices); `None` when
    /// the cache holds none.
    async fn well_status(
        &self,
        tenant: &TenantId,
        well: &WellId,
    ) -> Result<Option<(TimestampMs, DeviceId)>, CacheError>;
}

/// The attached cache and its writer's queue.
pub(crate) struct Hot {
    cache: Arc<dyn HotCache>,
    queue: tokio::sync::mpsc::Sender<LatestUpdate>,
    skipped: Arc<Skipped>,
}

/// Writes skipped (queue full or cache down), when that was last said, and
/// the devices whose cached values they leave stale until forgotten.
#[derive(Default)]
struct Skipped {
    count: AtomicU64,
    warned: Mutex<Option<Instant>>,
    dirty: Mutex<HashSet<(TenantId, DeviceId)>>,
}

impl Skipped {
    fn add<'a>(&self, updates: impl IntoIterator<Item = &'a LatestUpdate>, why: &str) {
        let mut n = 0;
        {
            let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
            for update in updates {
                n += 1;
                dirty.insert((update.tenant_id.clone(), update.device_id.clone()));
            }
        }
        let total = self.count.fetch_add(n, Ordering::Relaxed) + n;
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            tracing::warn!(
                skipped_total = total,
                reason = why,
                "Hot-cache writes skipped; reads fall back to storage."
            );
        }
    }
}

impl Hot {
    /// Writes skipped so far.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.count.load(Ordering::Relaxed)
    }

    /// Queues the latest values a successful commit wrote; never waits.
    pub(crate) fn offer(&self, updates: Vec<LatestUpdate>) {
        for update in updates {
            if let Err(error) = self.queue.try_send(update) {
                let update = match error {
                    tokio::sync::mpsc::error::TrySendError::Full(u)
                    | tokio::sync::mpsc::error::TrySendError::Closed(u) => u,
                };
                self.skipped.add([&update], "queue full");
            }
        }
    }
}

/// The latest value per key of each device of committed units of work:
/// the newest sample not after the device's `latest_until` (later ones are
/// stored, but do not become latest).
pub(crate) fn latest_of(batch: &[Effects]) -> Vec<LatestUpdate> {
    let mut out = Vec::new();
    for effects in batch {
        for device in &effects.telemetry {
            // Per key, the newest sample's (ts, series, index); a later
            // sample of the same time wins, as in storage.
            let mut newest: HashMap<&str, (TimestampMs, usize, usize)> = HashMap::new();
            for (s, series) in device.series.iter().enumerate() {
                for (i, &ts) in series.ts.iter().enumerate() {
                    if device.latest_until.is_some_and(|until| ts > until) {
                        continue;
                    }
                    match newest.get(series.key.as_str()) {
                        Some(&(kept, _, _)) if kept > ts => {}
                        _ => {
                            newest.insert(series.key.as_str(), (ts, s, i));
                        }
                    }
                }
            }
            let readings: Vec<Reading> = newest
                .into_values()
                .filter_map(|(ts, s, i)| {
                    let series = &device.series[s];
                    Some(Reading {
                        device_id: device.device_id.clone(),
                        key: series.key.clone(),
                        ts,
                        value: series.values.get(i)?,
                        quality: series.quality_at(i),
                    })
                })
                .collect();
            if !readings.is_empty() {
                out.push(LatestUpdate {
                    tenant_id: effects.tenant_id.clone(),
                    device_id: device.device_id.clone(),
                    well_id: None,
                    readings,
                    replace_equal: true,
                });
            }
        }
    }
    out
}

/// Takes queued updates in batches, adds each device's well (looked up once
/// per device), and writes them.
async fn write_forever(
    inner: std::sync::Weak<Inner>,
    cache: Arc<dyn HotCache>,
    mut queue: tokio::sync::mpsc::Receiver<LatestUpdate>,
    skipped: Arc<Skipped>,
) {
    let mut wells: HashMap<(TenantId, DeviceId), Option<WellId>> = HashMap::new();
    let mut batch = Vec::with_capacity(256);
    while queue.recv_many(&mut batch, 256).await > 0 {
        let Some(inner) = inner.upgrade() else { return };
        if wells.len() > MAX_WELLS {
            wells.clear();
        }
        for update in &mut batch {
            let id = (update.tenant_id.clone(), update.device_id.clone());
            update.well_id = match wells.get(&id) {
                Some(well) => well.clone(),
                None => match inner.store.device(&update.tenant_id, &update.device_id).await {
                    Ok(device) => wells.entry(id).or_insert(device.well_id).clone(),
                    Err(_) => None,
                },
            };
        }
        drop(inner);
        // Values whose writes were skipped go first: a stale one is deleted
        // before anything new is written.
        let dirty: Vec<(TenantId, DeviceId)> =
            skipped.dirty.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let forgotten = if dirty.is_empty() {
            Ok(())
        } else {
            let devices: Vec<_> = dirty
                .iter()
                .map(|(t, d)| (t.clone(), d.clone(), wells.get(&(t.clone(), d.clone())).cloned().flatten()))
                .collect();
            cache.forget_latest(&devices).await.map(|()| {
                let mut set = skipped.dirty.lock().unwrap_or_else(|e| e.into_inner());
                for device in &dirty {
                    set.remove(device);
                }
            })
        };
        let written = match forgotten {
            Ok(()) => cache.put_latest(&batch).await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            tracing::debug!(%error, "Hot-cache write failed.");
            skipped.add(&batch, "cache unavailable");
        }
        batch.clear();
    }
}

/// Keeps the tenants' active-alarm sets from the outbox's alarm events.
struct ActiveAlarms(Arc<dyn HotCache>);

#[async_trait]
impl Subscriber for ActiveAlarms {
    fn name(&self) -> &str {
        "hot-cache-alarms"
    }

    fn start_from(&self) -> StartFrom {
        StartFrom::Beginning
    }

    /// No cursor: every start replays the outbox, which rebuilds the sets
    /// from the database even when the cache lost them meanwhile.
    fn keeps_cursor(&self) -> bool {
        false
    }

    async fn deliver(&self, events: &[Event]) -> std::result::Result<(), String> {
        let updates = alarm_updates(events);
        if updates.is_empty() {
            return Ok(());
        }
        self.0.update_alarms(&updates).await.map_err(|e| e.to_string())
    }
}

/// What alarm events do to the active sets.
fn alarm_updates(events: &[Event]) -> Vec<AlarmUpdate> {
    events
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::Alarm(t) => Some(AlarmUpdate {
                tenant_id: event.tenant_id.clone(),
                alarm_id: t.alarm.id.clone(),
                start_ts: t.alarm.start_ts,
                active: t.alarm.status.is_active(),
            }),
            _ => None,
        })
        .collect()
}

impl crate::Services {
    /// Attaches a hot-state cache: starts its writer and the subscriber of
    /// its active alarms (stopped when the returned subscription drops),
    /// and lets latest-value reads try it first. At most once; a second
    /// cache is refused (`None`).
    pub fn attach_hot_cache(&self, cache: Arc<dyn HotCache>) -> Option<Subscription> {
        let (queue, receiver) = tokio::sync::mpsc::channel(QUEUE);
        let skipped = Arc::new(Skipped::default());
        let hot = Hot { cache: cache.clone(), queue, skipped: skipped.clone() };
        self.inner.hot.set(hot).ok()?;
        tokio::spawn(write_forever(Arc::downgrade(&self.inner), cache.clone(), receiver, skipped));
        Some(self.outbox().subscribe(Arc::new(ActiveAlarms(cache))))
    }

    /// Latest-value writes the hot cache skipped (queue full or cache down).
    pub fn hot_cache_skipped(&self) -> u64 {
        self.inner.hot.get().map_or(0, Hot::skipped)
    }
}

impl Inner {
    /// The latest values of `keys` from the hot cache, when it holds every
    /// one of them (in key order, like storage); `None` otherwise.
    pub(crate) async fn cached_latest(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        keys: &[String],
    ) -> Option<Vec<Reading>> {
        let hot = self.hot.get()?;
        if keys.is_empty() {
            return None;
        }
        let mut wanted: Vec<&String> = keys.iter().collect();
        wanted.sort();
        wanted.dedup();
        let found = match tokio::time::timeout(READ_TIMEOUT, hot.cache.latest(tenant, device, keys)).await {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => {
                tracing::debug!(%error, "Hot-cache read failed; asking storage.");
                return None;
            }
            Err(_) => return None,
        };
        let mut by_key: HashMap<String, Reading> = found.into_iter().map(|r| (r.key.clone(), r)).collect();
        let readings: Option<Vec<Reading>> = wanted.into_iter().map(|k| by_key.remove(k.as_str())).collect();
        readings.filter(|r| r.iter().all(|r| &r.device_id == device))
    }

    /// A well's last report from the hot cache; `None` when there is no
    /// cache, it holds none, or it does not answer in time.
    pub(crate) async fn cached_well_status(&self, tenant: &TenantId, well: &WellId) -> Option<(TimestampMs, DeviceId)> {
        let hot = self.hot.get()?;
        match tokio::time::timeout(READ_TIMEOUT, hot.cache.well_status(tenant, well)).await {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => {
                tracing::debug!(%error, "Hot-cache read failed; asking storage.");
                None
            }
            Err(_) => None,
        }
    }

    /// Fills the hot cache with latest values read from storage.
    pub(crate) fn fill_latest(&self, tenant: &TenantId, device: &DeviceId, readings: &[Reading]) {
        let Some(hot) = self.hot.get() else { return };
        if readings.is_empty() {
            return;
        }
        hot.offer(vec![LatestUpdate {
            tenant_id: tenant.clone(),
            device_id: device.clone(),
            well_id: None,
            readings: readings.to_vec(),
            replace_equal: false,
        }]);
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::Series;
    use nexus_storage::DeviceSeries;

    use super::*;

    fn effects(series: Vec<Series>, latest_until: Option<TimestampMs>) -> Effects {
        Effects {
            tenant_id: TenantId::from("t1"),
            telemetry: vec![DeviceSeries { device_id: DeviceId::from("d1"), series, latest_until }],
            ..Effects::default()
        }
    }

    #[test]
    fn the_latest_is_the_newest_sample_within_the_skew_bound() {
        let batch = [effects(
            vec![
                Series::numbers("p", vec![30, 10, 20], vec![3.0, 1.0, 2.0]),
                Series::numbers("q", vec![10, 900], vec![1.0, 9.0]),
                Series::numbers("ahead", vec![900], vec![9.0]),
            ],
            Some(100),
        )];
        let updates = latest_of(&batch);
        assert_eq!(updates.len(), 1);
        let mut readings = updates[0].readings.clone();
        readings.sort_by(|a, b| a.key.cmp(&b.key));
        let got: Vec<(&str, TimestampMs)> = readings.iter().map(|r| (r.key.as_str(), r.ts)).collect();
        // `ahead` has no sample that may become latest; `q`'s 900 is ahead too.
        assert_eq!(got, vec![("p", 30), ("q", 10)]);
        assert!(updates[0].replace_equal);
    }

    #[test]
    fn a_batch_without_latest_candidates_writes_nothing() {
        let batch = [effects(vec![Series::numbers("p", vec![900], vec![9.0])], Some(100))];
        assert!(latest_of(&batch).is_empty());
        assert!(latest_of(&[effects(Vec::new(), None)]).is_empty());
    }
}
