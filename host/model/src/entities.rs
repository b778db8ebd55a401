//! The field as the host keeps it: tenants, wellpads, wells and devices.

use serde::{Deserialize, Serialize};

use crate::{DeviceId, FieldConstraints, TenantId, TimestampMs, WellId, WellTest, WellTestId, WellpadId};

/// A tenant: the unit of isolation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Creation time, ms.
    pub created_time: TimestampMs,
}

/// A wellpad (pf.wellpad): also the well group a field optimizer runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wellpad {
    /// Id.
    pub id: WellpadId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Name.
    pub name: String,
    /// What its wells share (lift gas, compression, water handling,
    /// per-well injection bounds); empty until set.
    pub constraints: FieldConstraints,
    /// Creation time, ms.
    pub created_time: TimestampMs,
}

/// A well (pf.well).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Well {
    /// Id.
    pub id: WellId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Name.
    pub name: String,
    /// Wellpad, if any.
    pub wellpad_id: Option<WellpadId>,
    /// Status, e.g. `PRODUCING`.
    pub status: String,
    /// Static data for optimizers (nameplate, depths, pump curve).
    pub static_data: serde_json::Value,
    /// Creation time, ms.
    pub created_time: TimestampMs,
}

/// A well test as the host keeps it (pf.well_test): the measured rates and
/// conditions of one test of one well, and when it was recorded. At most one
/// test per well and start time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedWellTest {
    /// Id.
    pub id: WellTestId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The well tested.
    pub well_id: WellId,
    /// The test.
    #[serde(flatten)]
    pub test: WellTest,
    /// When it was recorded, ms.
    pub created_time: TimestampMs,
}

/// A device: a telemetry source. Its access token is never kept: only its
/// hash is stored, and the token is shown once, when it is issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Id.
    pub id: DeviceId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Name, unique per tenant.
    pub name: String,
    /// The well it instruments, if any.
    pub well_id: Option<WellId>,
    /// Creation time, ms.
    pub created_time: TimestampMs,
    /// When its access token was last issued, ms.
    pub token_issued_time: TimestampMs,
}
