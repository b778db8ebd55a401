//! Reads: telemetry of a device, recommendations, failed runs and dead letters.

use std::sync::Arc;

use nexus_model::{DeadLetter, DeviceId, PluginRun, Reading, StoredRecommendation, TenantId, TimestampMs};

use crate::{Inner, Result};

/// Most rows one read returns.
pub const MAX_PAGE: u32 = 10_000;
/// Most bytes (keys and texts, and 32 a reading) of a page of latest values.
const MAX_PAGE_BYTES: usize = 4 << 20;

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

    /// Readings of a device in `[start, end)`, oldest first, at most `limit`.
    pub async fn history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: Option<&str>,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>> {
        self.0.store.device(tenant, device).await?;
        Ok(self.0.store.history(tenant, device, key, start, end, limit.clamp(1, MAX_PAGE)).await?)
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

    /// Runs [`RecordService::sweep_dead_letters`] every `every`, forever.
    pub async fn run_retention(self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = self.sweep_dead_letters().await {
                tracing::warn!(%error, "Dead-letter retention failed; trying again later.");
            }
        }
    }
}
