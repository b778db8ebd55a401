//! The per-device cap on distinct telemetry keys: each device's keys are
//! loaded from storage once and kept in memory, so checking a reading
//! costs a set lookup. A key enters the set when a reading of it is
//! accepted (before its commit: a failed commit leaves a key counted that
//! is not stored, which only errs on the strict side).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use nexus_model::{DeviceId, Series, TenantId};

use crate::validate::{self, RejectedReading};
use crate::{Inner, Result};

/// Known keys per device.
#[derive(Default)]
pub(crate) struct DeviceKeys(Mutex<HashMap<DeviceId, HashSet<String>>>);

impl Inner {
    /// The device's cap: its tenant's profile, else the host default.
    async fn key_cap(&self, tenant: &TenantId) -> Result<usize> {
        let profile = self.profile(tenant).await?;
        Ok(profile.max_keys_per_device.unwrap_or(self.config.max_keys_per_device) as usize)
    }

    /// Refuses the samples of keys a device may not add (it has as many
    /// keys as its cap), with a reason; readings of known keys pass.
    pub(crate) async fn cap_keys(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        batch: &mut Vec<Series>,
    ) -> Result<Vec<RejectedReading>> {
        let cap = self.key_cap(tenant).await?;
        let loaded = self.device_keys.0.lock().unwrap_or_else(|e| e.into_inner()).contains_key(device);
        if !loaded {
            let stored: HashSet<String> = self.store.device_keys(tenant, device).await?.into_iter().collect();
            self.device_keys.0.lock().unwrap_or_else(|e| e.into_inner()).entry(device.clone()).or_insert(stored);
        }
        let mut all = self.device_keys.0.lock().unwrap_or_else(|e| e.into_inner());
        let known = all.entry(device.clone()).or_default();
        Ok(validate::key_cap(batch, known, cap))
    }
}
