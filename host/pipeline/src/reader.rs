//! Telemetry that plugins may read, confined to the calling tenant.

use nexus_model::{Reading, TimestampMs};
use nexus_runtime::{TelemetryError, TelemetryReader};
use nexus_storage::{Storage, StorageError};

/// Reads storage from inside a plugin call (which runs on a blocking
/// thread, so it may block on the async storage).
pub(crate) struct StorageReader {
    storage: Storage,
    handle: tokio::runtime::Handle,
}

impl StorageReader {
    pub(crate) fn new(storage: Storage) -> Self {
        Self { storage, handle: tokio::runtime::Handle::current() }
    }

    fn visible(&self, tenant_id: &str, device_id: &str) -> Result<(), TelemetryError> {
        match self.handle.block_on(self.storage.device(tenant_id, device_id)) {
            Ok(_) => Ok(()),
            Err(StorageError::NotFound { .. }) => {
                Err(TelemetryError::Denied(format!("device `{device_id}` is not visible to this tenant")))
            }
            Err(e) => Err(TelemetryError::Unavailable(e.to_string())),
        }
    }
}

impl TelemetryReader for StorageReader {
    fn latest(&self, tenant_id: &str, device_id: &str, key: &str) -> Result<Option<Reading>, TelemetryError> {
        self.visible(tenant_id, device_id)?;
        let keys = [key.to_string()];
        self.handle
            .block_on(self.storage.latest(tenant_id, device_id, &keys))
            .map(|mut readings| readings.pop())
            .map_err(|e| TelemetryError::Unavailable(e.to_string()))
    }

    fn history(
        &self,
        tenant_id: &str,
        device_id: &str,
        key: &str,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>, TelemetryError> {
        self.visible(tenant_id, device_id)?;
        self.handle
            .block_on(self.storage.history(tenant_id, device_id, Some(key), start, end, limit))
            .map_err(|e| TelemetryError::Unavailable(e.to_string()))
    }
}
