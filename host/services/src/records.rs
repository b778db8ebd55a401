//! Reads: telemetry of a device, a well's status, recommendations, failed
//! runs and dead letters.

use std::sync::Arc;

use nexus_model::{
    Aggregation, DeadLetter, DeviceId, Page, PluginRun, Reading, SortOrder, StoredRecommendation, TenantId,
    TimestampMs, Value, WellId,
};
use serde::Serialize;

use crate::{Inner, Result, ServiceError};

/// Most rows one read returns.
pub const MAX_PAGE: u32 = 10_000;
/// Most bytes (keys and texts, and 32 a reading) of a page of latest values.
const MAX_PAGE_BYTES: usize = 4 << 20;

/// One day, ms.
const DAY_MS: i64 = 86_400_000;
/// Narrowest aggregation bucket, ms.
pub const MIN_INTERVAL_MS: i64 = 1000;
/// Most buckets (per key) one aggregated query may span.
pub const MAX_BUCKETS: i64 = 10_000;

/// A telemetry query with ThingsBoard's semantics. With `agg` other than
/// NONE, bucket `i` is `[start + i·interval, start + (i+1)·interval)`
/// clipped to `[start, end)` (aligned to `start`, as ThingsBoard does), a
/// bucket without samples (or, but for COUNT, without numeric samples) is
/// left out, and a bucket's reading is stamped at the middle of the bucket
/// (`from + (to - from) / 2`, as ThingsBoard stamps it), quality 1. AVG,
/// MIN, MAX and SUM take the numeric samples (numbers and integers) and
/// give a number; COUNT counts every sample and gives an integer.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryQuery {
    /// Only these keys; every key when empty.
    pub keys: Vec<String>,
    /// From (inclusive), ms.
    pub start: TimestampMs,
    /// To (exclusive), ms.
    pub end: TimestampMs,
    /// Bucket width, ms (required when `agg` is not NONE).
    pub interval: Option<i64>,
    /// The aggregation.
    pub agg: Aggregation,
    /// Oldest (ASC) or newest (DESC) first; with NONE, which end of the
    /// range `limit` keeps.
    pub order: SortOrder,
    /// At most this many readings (or buckets over all keys).
    pub limit: u32,
}

/// A well's status: when it last reported, and whether that is recent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WellStatus {
    /// The well.
    pub well_id: WellId,
    /// The newest latest value of any of its devices; `None` before the
    /// first.
    pub last_report_ts: Option<TimestampMs>,
    /// The device that reported it.
    pub last_device: Option<DeviceId>,
    /// Whether it reported within [`crate::MONITORED_WINDOW`] of now (the
    /// wells `/metrics` counts as monitored).
    pub monitored: bool,
    /// Where the answer came from.
    pub source: StatusSource,
}

/// Where a [`WellStatus`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSource {
    /// The hot cache (`well:{id}:status`, kept 5 min after a report).
    Cache,
    /// Storage: no cache, or it held nothing, or it did not answer.
    Store,
}

/// Reads of telemetry and records. Cheap to clone.
#[derive(Clone)]
pub struct RecordService(pub(crate) Arc<Inner>);

impl RecordService {
    /// The latest reading per key of a device of the tenant (all keys when
    /// `keys` is empty). With a hot cache attached, named keys are answered
    /// from it when it holds all of them, else from storage (which then
    /// fills it); every key (`keys` empty) is always storage's answer, as the
    /// cache cannot tell whether it holds all of them.
    pub async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>> {
        self.0.store.device(tenant, device).await?;
        if let Some(cached) = self.0.cached_latest(tenant, device, keys).await {
            return Ok(cached);
        }
        let readings = self.0.store.latest(tenant, device, keys).await?;
        self.0.fill_latest(tenant, device, &readings);
        Ok(readings)
    }

    /// A well's status: from the hot cache when it holds the well's, else
    /// from storage (the newest latest value over the well's devices).
    pub async fn well_status(&self, tenant: &TenantId, well: &WellId) -> Result<WellStatus> {
        self.0.store.well(tenant, well).await?;
        let (last, source) = match self.0.cached_well_status(tenant, well).await {
            Some(last) => (Some(last), StatusSource::Cache),
            None => (self.0.store.well_last_report(tenant, well).await?, StatusSource::Store),
        };
        let window = i64::try_from(crate::MONITORED_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let since = self.0.now().saturating_sub(window);
        Ok(WellStatus {
            well_id: well.clone(),
            monitored: last.as_ref().is_some_and(|(ts, _)| *ts >= since),
            last_report_ts: last.as_ref().map(|(ts, _)| *ts),
            last_device: last.map(|(_, device)| device),
            source,
        })
    }

    /// A page of a device's latest values: at most `limit` (1 to
    /// [`MAX_PAGE`]) keys after `after`, in key order, and about 4 MiB at
    /// most, and the cursor of the next page (`None` on the last).
    pub async fn latest_page(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Reading>, Option<String>)> {
        self.0.store.device(tenant, device).await?;
        let limit = limit.clamp(1, MAX_PAGE);
        // One more than asked tells whether another page follows.
        let mut page = self.0.store.latest_page(tenant, device, after, limit + 1).await?;
        // A page also ends before MAX_PAGE_BYTES (long text values), after
        // at least one reading.
        let mut bytes = 0;
        let fits = page
            .iter()
            .take(limit as usize)
            .take_while(|r| {
                bytes += 32 + r.key.len() + if let nexus_model::Value::Text(t) = &r.value { t.len() } else { 0 };
                bytes <= MAX_PAGE_BYTES
            })
            .count()
            .max(1);
        let next = if page.len() > fits {
            page.truncate(fits);
            page.last().map(|r| r.key.clone())
        } else {
            None
        };
        Ok((page, next))
    }

    /// A device's telemetry by ThingsBoard's query: the raw readings
    /// (`agg` NONE) or per key one value per time bucket (see
    /// [`TelemetryQuery`]), in `order`, at most `limit` (1 to [`MAX_PAGE`]).
    /// Refused as invalid: `end` not after `start`; an aggregation without
    /// an `interval`, with one under [`MIN_INTERVAL_MS`], or with more than
    /// [`MAX_BUCKETS`] buckets.
    pub async fn telemetry(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        query: &TelemetryQuery,
    ) -> Result<Vec<Reading>> {
        let TelemetryQuery { keys, start, end, interval, agg, order, limit } = query;
        let (start, end, limit) = (*start, *end, (*limit).clamp(1, MAX_PAGE));
        if end <= start {
            return Err(ServiceError::Invalid("end_ts must be after start_ts".into()));
        }
        if keys.len() > MAX_PAGE as usize {
            return Err(ServiceError::Invalid(format!("at most {MAX_PAGE} keys at once")));
        }
        self.0.store.device(tenant, device).await?;
        let store = &self.0.store;
        let mut readings = if *agg == Aggregation::None {
            let mut readings = Vec::new();
            let one: [Option<&str>; 1] = [None];
            let keys: Vec<Option<&str>> =
                if keys.is_empty() { one.to_vec() } else { keys.iter().map(|k| Some(k.as_str())).collect() };
            for key in keys {
                readings.extend(match order {
                    SortOrder::Asc => store.history(tenant, device, key, start, end, limit).await?,
                    SortOrder::Desc => store.history_newest(tenant, device, key, start, end, limit).await?,
                });
            }
            readings
        } else {
            let interval = interval
                .ok_or_else(|| ServiceError::Invalid("interval (ms) is required when agg is not NONE".into()))?;
            if interval < MIN_INTERVAL_MS {
                return Err(ServiceError::Invalid(format!("interval must be at least {MIN_INTERVAL_MS} ms")));
            }
            let buckets = (end.saturating_sub(start) - 1) / interval + 1;
            if buckets > MAX_BUCKETS {
                return Err(ServiceError::Invalid(format!(
                    "{buckets} buckets of {interval} ms in the range; at most {MAX_BUCKETS}: widen the interval"
                )));
            }
            store
                .aggregate(tenant, device, keys, start, end, interval)
                .await?
                .into_iter()
                .filter_map(|bucket| {
                    let from = start.saturating_add(bucket.index.saturating_mul(interval));
                    let to = from.saturating_add(interval).min(end);
                    let value = match agg {
                        Aggregation::Avg => Value::Number(bucket.avg?),
                        Aggregation::Min => Value::Number(bucket.min?),
                        Aggregation::Max => Value::Number(bucket.max?),
                        Aggregation::Sum => Value::Number(bucket.sum?),
                        Aggregation::Count | Aggregation::None => Value::Integer(bucket.count),
                    };
                    Some(Reading {
                        device_id: device.clone(),
                        key: bucket.key,
                        ts: from + (to - from) / 2,
                        value,
                        quality: 1.0,
                    })
                })
                .collect()
        };
        readings.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.key.cmp(&b.key)));
        if *order == SortOrder::Desc {
            readings.reverse();
        }
        readings.truncate(limit as usize);
        Ok(readings)
    }

    /// The tenant's recommendations, newest first.
    pub async fn recommendations(&self, tenant: &TenantId, limit: u32) -> Result<Vec<StoredRecommendation>> {
        Ok(self.0.store.recommendations(tenant, limit.clamp(1, 1000)).await?)
    }

    /// The tenant's failed plugin calls, newest first.
    pub async fn plugin_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<PluginRun>> {
        Ok(self.0.store.plugin_runs(tenant, limit.clamp(1, 1000)).await?)
    }

    /// The tenant's dead letters, newest first.
    pub async fn dead_letters(&self, tenant: &TenantId, limit: u32) -> Result<Vec<DeadLetter>> {
        Ok(self.0.store.dead_letters(tenant, limit.clamp(1, 1000)).await?)
    }

    /// Dead-letter retention, once: deletes letters older than
    /// `dead_letter_max_age` and each tenant's oldest past
    /// `dead_letter_max_bytes` of payload. Returns how many went.
    pub async fn sweep_dead_letters(&self) -> Result<u64> {
        let config = &self.0.config;
        let age = i64::try_from(config.dead_letter_max_age.as_millis()).unwrap_or(i64::MAX);
        let deleted =
            self.0.store.prune_dead_letters(self.0.now().saturating_sub(age), config.dead_letter_max_bytes).await?;
        if deleted > 0 {
            tracing::info!(deleted, "Dead-letter retention deleted old or oversized letters.");
        }
        Ok(deleted)
    }

    /// Telemetry retention, once: for every tenant whose profile sets
    /// `telemetry_retention_days`, deletes its readings stamped before now
    /// minus that many days (latest values stay). When every tenant sets
    /// one, what all of them have let go — readings before the earliest
    /// cut-off — goes first, wholesale
    /// ([`nexus_storage::TelemetryStore::expire_telemetry_before`]: on PostgreSQL whole day
    /// partitions are dropped); then each tenant's own rest, row by row. A
    /// tenant whose sweep fails is logged and skipped. Returns how many
    /// stored rows went one by one (a dropped partition's rows are not
    /// counted; the log says how many partitions went).
    pub async fn sweep_telemetry(&self) -> Result<u64> {
        let now = self.0.now();
        let mut cutoffs = Vec::new();
        for tenant in self.0.store.tenants(&Page::all()).await? {
            let days = self.0.store.tenant_profile(&tenant.id).await?.telemetry_retention_days;
            cutoffs.push((tenant.id, days.map(|days| now.saturating_sub(i64::from(days) * DAY_MS))));
        }
        let mut deleted = 0;
        if let Some(shared) = shared_cutoff(cutoffs.iter().map(|(_, before)| *before)) {
            match self.0.store.expire_telemetry_before(shared).await {
                Ok(expired) => {
                    if expired.partitions > 0 {
                        tracing::info!(
                            partitions = expired.partitions,
                            "Telemetry retention dropped whole partitions."
                        );
                    }
                    deleted += expired.rows;
                }
                // Each tenant's own sweep below still deletes its rows.
                Err(error) => tracing::warn!(%error, "Telemetry retention shared by every tenant failed."),
            }
        }
        for (tenant, before) in cutoffs {
            let Some(before) = before else { continue };
            match self.0.store.delete_telemetry_before(&tenant, before).await {
                Ok(n) => deleted += n,
                Err(error) => tracing::warn!(%error, %tenant, "Telemetry retention of a tenant failed."),
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "Telemetry retention deleted old readings.");
        }
        Ok(deleted)
    }

    /// Every retention sweep once, now: dead letters, then telemetry.
    /// Returns how many rows went.
    pub async fn sweep_now(&self) -> Result<u64> {
        Ok(self.sweep_dead_letters().await? + self.sweep_telemetry().await?)
    }

    /// Runs the retention sweeps (dead letters, telemetry) every `every`,
    /// forever; one failing does not stop the other.
    pub async fn run_retention(self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = self.sweep_dead_letters().await {
                tracing::warn!(%error, "Dead-letter retention failed; trying again later.");
            }
            if let Err(error) = self.sweep_telemetry().await {
                tracing::warn!(%error, "Telemetry retention failed; trying again later.");
            }
        }
    }
}

/// The cut-off every tenant's retention has passed — the earliest of them —
/// or none when some tenant keeps its telemetry for ever (or there is no
/// tenant).
fn shared_cutoff(cutoffs: impl IntoIterator<Item = Option<TimestampMs>>) -> Option<TimestampMs> {
    cutoffs.into_iter().try_fold(None, |earliest: Option<TimestampMs>, before| {
        let before = before?;
        Some(Some(earliest.map_or(before, |e| e.min(before))))
    })?
}

#[cfg(test)]
mod tests {
    use super::shared_cutoff;

    #[test]
    fn the_shared_cutoff_is_the_earliest_and_only_when_every_tenant_has_one() {
        assert_eq!(shared_cutoff([Some(30), Some(10), Some(20)]), Some(10));
        assert_eq!(shared_cutoff([Some(30), None, Some(20)]), None, "a tenant keeping everything");
        assert_eq!(shared_cutoff([]), None, "no tenant");
        assert_eq!(shared_cutoff([Some(5)]), Some(5));
    }
}
