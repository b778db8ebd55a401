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

/// A page of a list: at most `limit` items, after the item whose id is
/// `after` (the last id of the previous page), in the list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The id of the last item of the previous page.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
}

impl Page {
    /// Largest page the API serves.
    pub const MAX: u32 = 1000;
    /// Page size when none is asked for.
    pub const DEFAULT: u32 = 100;

    /// Everything (the host's own reads, e.g. counting for quotas).
    pub fn all() -> Self {
        Self { after: None, limit: u32::MAX }
    }

    /// The first `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}
