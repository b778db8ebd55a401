//! Query shapes shared by the API, the services and storage.

use serde::Deserialize;

use crate::{AlarmStatus, DeviceId, Severity, TimestampMs, WellId, WellpadId};

/// Which alarms to list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmFilter {
    /// Only these states.
    pub status: Option<AlarmStatus>,
    /// Only open (`true`) or cleared (`false`) alarms.
    pub active: Option<bool>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this originator.
    pub device_id: Option<DeviceId>,
    /// Only alarms propagated to this well.
    pub well_id: Option<WellId>,
    /// Only alarms propagated to this wellpad.
    pub wellpad_id: Option<WellpadId>,
    /// Only alarms assigned to this user.
    pub assignee: Option<String>,
    /// Started at or after (ms).
    pub start_ts: Option<TimestampMs>,
    /// Started before (ms).
    pub end_ts: Option<TimestampMs>,
    /// At most this many (default 100, max 1000).
    pub limit: Option<u32>,
}

impl AlarmFilter {
    /// The page size asked for, within 1..=1000 (default 100).
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}
