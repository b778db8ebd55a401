//! Reads: telemetry of a device, recommendations, failed runs and dead letters.

use std::sync::Arc;

use nexus_model::{DeadLetter, DeviceId, PluginRun, Reading, StoredRecommendation, TenantId, TimestampMs};

use crate::{Inner, Result};

/// Most rows one read returns.
pub const MAX_PAGE: u32 = 10_000;

/// Reads of telemetry and records. Cheap to clone.
#[derive(Clone)]
pub struct RecordService(pub(crate) Arc<Inner>);

impl RecordService {
    /// The latest reading per key of a device of the tenant (all keys when
    /// `keys` is empty).
    pub async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>> {
        self.0.store.device(tenant, device).await?;
        Ok(self.0.store.latest(tenant, device, keys).await?)
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
}
