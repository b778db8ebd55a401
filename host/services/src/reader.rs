//! Telemetry that plugins may read, confined to the calling tenant.

use std::sync::Arc;

use nexus_model::{DeviceId, Forecast, Reading, TenantId, TimestampMs};
use nexus_runtime::{TelemetryError, TelemetryReader};
use nexus_storage::{StorageError, Store};

/// Reads storage from inside a plugin call (which runs on a blocking
/// thread, so it may block on the async store).
pub(crate) struct StoreReader {
    store: Arc<dyn Store>,
    handle: tokio::runtime::Handle,
}

impl StoreReader {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store, handle: tokio::runtime::Handle::current() }
    }

    fn visible(&self, tenant: &TenantId, device: &DeviceId) -> Result<(), TelemetryError> {
        match self.handle.block_on(self.store.device(tenant, device)) {
            Ok(_) => Ok(()),
            Err(StorageError::NotFound { .. }) => {
                Err(TelemetryError::Denied(format!("device `{device}` is not visible to this tenant")))
            }
            Err(e) => Err(TelemetryError::Unavailable(e.to_string())),
        }
    }

    /// A read of one of the tenant's devices: refused unless the device is
    /// the tenant's, storage failures as `Unavailable`.
    fn read<T>(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        read: impl std::future::Future<Output = nexus_storage::Result<T>>,
    ) -> Result<T, TelemetryError> {
        self.visible(tenant, device)?;
        self.handle.block_on(read).map_err(|e| TelemetryError::Unavailable(e.to_string()))
    }

    /// The newest forecast of a device's key issued by `by` (ms).
    fn forecast_by(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: &str,
        by: TimestampMs,
    ) -> Result<Option<Forecast>, TelemetryError> {
        let all = self.read(tenant, device, self.store.forecasts(tenant, device))?;
        Ok(all.into_iter().find(|f| f.forecast.key == key && f.issued_at <= by).map(|f| f.forecast))
    }
}

impl TelemetryReader for StoreReader {
    fn latest(&self, tenant: &TenantId, device: &DeviceId, key: &str) -> Result<Option<Reading>, TelemetryError> {
        let keys = [key.to_string()];
        Ok(self.read(tenant, device, self.store.latest(tenant, device, &keys))?.pop())
    }

    fn history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: &str,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>, TelemetryError> {
        self.read(tenant, device, self.store.history(tenant, device, Some(key), start, end, limit))
    }

    fn forecast(&self, tenant: &TenantId, device: &DeviceId, key: &str) -> Result<Option<Forecast>, TelemetryError> {
        self.forecast_by(tenant, device, key, TimestampMs::MAX)
    }
}

/// A [`StoreReader`] as of a moment of virtual time (a backtest's call):
/// nothing stamped after `now` is visible — no later reading, no forecast
/// issued later.
pub(crate) struct AsOf {
    reader: Arc<StoreReader>,
    now: TimestampMs,
}

impl AsOf {
    pub(crate) fn new(reader: Arc<StoreReader>, now: TimestampMs) -> Self {
        Self { reader, now }
    }
}

impl TelemetryReader for AsOf {
    fn latest(&self, tenant: &TenantId, device: &DeviceId, key: &str) -> Result<Option<Reading>, TelemetryError> {
        let (r, end) = (&self.reader, self.now.saturating_add(1));
        Ok(r.read(tenant, device, r.store.history_newest(tenant, device, Some(key), TimestampMs::MIN, end, 1))?.pop())
    }

    fn history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: &str,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>, TelemetryError> {
        self.reader.history(tenant, device, key, start, end.min(self.now.saturating_add(1)), limit)
    }

    fn forecast(&self, tenant: &TenantId, device: &DeviceId, key: &str) -> Result<Option<Forecast>, TelemetryError> {
        self.reader.forecast_by(tenant, device, key, self.now)
    }
}
