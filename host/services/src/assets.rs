//! Tenants, wellpads, wells and devices, and devices' access tokens: a
//! token is generated (or chosen), returned once, and only its hash is
//! stored; rotating it makes the old one useless.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use nexus_model::{
    Actor, Device, DeviceId, Page, QuotaKind, TenantId, Well, WellId, Wellpad, WellpadId, new_access_token, token_hash,
};
use nexus_storage::{NewDevice, NewWell};
use serde::Serialize;

use crate::{Inner, Result, ServiceError};

/// An access token, shown once: at creation or rotation.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// The device.
    #[serde(flatten)]
    pub device: Device,
    /// The token; only its hash is kept.
    pub access_token: String,
}

/// Tenants, wells and devices. Cheap to clone.
#[derive(Clone)]
pub struct AssetService(pub(crate) Arc<Inner>, pub(crate) Arc<Mutex<HashSet<TenantId>>>);

/// Longest name of a wellpad, well or device, in characters.
pub const MAX_NAME_CHARS: usize = 200;

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::Invalid(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters, not blank (got {})",
            name.chars().count()
        )));
    }
    Ok(())
}

impl AssetService {
    /// Makes sure a tenant exists (creating it on first use).
    pub async fn ensure_tenant(&self, tenant: &TenantId) -> Result<()> {
        if self.1.lock().unwrap_or_else(|e| e.into_inner()).contains(tenant) {
            return Ok(());
        }
        self.0.store.ensure_tenant(tenant, tenant.as_str(), self.0.now()).await?;
        self.1.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant.clone());
        Ok(())
    }

    /// Creates a wellpad.
    pub async fn create_wellpad(&self, tenant: &TenantId, name: &str, by: &Actor) -> Result<Wellpad> {
        check_name(name)?;
        let created = self.0.store.create_wellpad(tenant, name, by, self.0.now()).await?;
        self.0.wake_outbox();
        Ok(created)
    }

    /// Creates a well; `static_data` must be a JSON object.
    pub async fn create_well(
        &self,
        tenant: &TenantId,
        name: &str,
        wellpad_id: Option<WellpadId>,
        static_data: serde_json::Value,
        by: &Actor,
    ) -> Result<Well> {
        check_name(name)?;
        if !static_data.is_object() {
            return Err(ServiceError::Invalid("static_data must be a JSON object".into()));
        }
        let new = NewWell { name: name.into(), wellpad_id, static_data };
        let turn = self.0.quota_turn(tenant, QuotaKind::Wells).await?;
        let created = self.0.store.create_well(tenant, &new, by, self.0.now()).await?;
        drop(turn);
        self.0.wake_outbox();
        Ok(created)
    }

    /// A page of the tenant's wells, by name.
    pub async fn wells(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Well>> {
        Ok(self.0.store.wells(tenant, page).await?)
    }

    /// A well of the tenant.
    pub async fn well(&self, tenant: &TenantId, id: &WellId) -> Result<Well> {
        Ok(self.0.store.well(tenant, id).await?)
    }

    /// Creates a device with a new random access token (or the given one),
    /// returned once.
    pub async fn create_device(
        &self,
        tenant: &TenantId,
        name: &str,
        well_id: Option<WellId>,
        chosen_token: Option<String>,
        by: &Actor,
    ) -> Result<IssuedToken> {
        check_name(name)?;
        if let Some(token) = &chosen_token {
            nexus_model::check_chosen_token(token).map_err(ServiceError::Invalid)?;
        }
        let access_token = chosen_token.unwrap_or_else(new_access_token);
        let new = NewDevice { name: name.into(), well_id, token_hash: token_hash(&access_token) };
        let turn = self.0.quota_turn(tenant, QuotaKind::Devices).await?;
        let device = self.0.store.create_device(tenant, &new, by, self.0.now()).await?;
        drop(turn);
        self.0.wake_outbox();
        Ok(IssuedToken { device, access_token })
    }

    /// Issues a new random access token for a device; the old one stops
    /// working at once.
    pub async fn rotate_token(&self, tenant: &TenantId, id: &DeviceId, by: &Actor) -> Result<IssuedToken> {
        let access_token = new_access_token();
        let device = self.0.store.rotate_device_token(tenant, id, &token_hash(&access_token), by, self.0.now()).await?;
        self.0.caches.forget_device(id);
        self.0.wake_outbox();
        Ok(IssuedToken { device, access_token })
    }

    /// A page of the tenant's devices, by name (never their tokens).
    pub async fn devices(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Device>> {
        Ok(self.0.store.devices(tenant, page).await?)
    }

    /// A device of the tenant.
    pub async fn device(&self, tenant: &TenantId, id: &DeviceId) -> Result<Device> {
        Ok(self.0.store.device(tenant, id).await?)
    }

    /// The device an access token belongs to.
    pub async fn authenticate_device(&self, access_token: &str) -> Result<Device> {
        let hash = token_hash(access_token);
        if let Some(device) = self.0.caches.device(&hash) {
            return Ok(device);
        }
        let device = self.0.store.device_by_token_hash(&hash).await?.ok_or(ServiceError::UnknownToken)?;
        self.0.caches.remember_device(hash, device.clone());
        Ok(device)
    }
}
