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

/// How history is summarized over time buckets (ThingsBoard's `agg`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Aggregation {
    /// The raw readings, no buckets.
    #[default]
    None,
    /// Mean of the numeric samples of a bucket.
    Avg,
    /// Smallest numeric sample of a bucket.
    Min,
    /// Largest numeric sample of a bucket.
    Max,
    /// Sum of the numeric samples of a bucket.
    Sum,
    /// Number of samples of a bucket, of any type.
    Count,
}

/// Which end of a time range a read starts from (ThingsBoard's `orderBy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SortOrder {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// One time bucket of one key: bucket `index` covers
/// `[start + index·interval, start + (index+1)·interval)` of the query's
/// `start` and `interval`. `count` counts every sample; the numeric
/// statistics cover the numeric (floating-point and integer) samples only
/// and are `None` when the bucket has none.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The telemetry key.
    pub key: String,
    /// The bucket's number from the query's start (0 is the first).
    pub index: i64,
    /// Mean of the numeric samples.
    pub avg: Option<f64>,
    /// Smallest numeric sample.
    pub min: Option<f64>,
    /// Largest numeric sample.
    pub max: Option<f64>,
    /// Sum of the numeric samples.
    pub sum: Option<f64>,
    /// Number of samples, of any type.
    pub count: i64,
}
