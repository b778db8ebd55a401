//! What the host records besides telemetry and alarms: recommendations,
//! failed plugin calls and input it could not process.

use serde::{Deserialize, Serialize};

use crate::{BindingId, DeviceId, Recommendation, RecommendationId, TenantId, TimestampMs, WellId};

/// Where in the pipeline something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A decoder turning a frame into readings.
    Decode,
    /// Checking decoded readings.
    Validate,
    /// A transform deriving telemetry.
    Transform,
    /// An alarm rule evaluating readings.
    Evaluate,
    /// An optimizer run.
    Optimize,
}

impl Stage {
    /// The stable lower-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Validate => "validate",
            Stage::Transform => "transform",
            Stage::Evaluate => "evaluate",
            Stage::Optimize => "optimize",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Stage::Decode, Stage::Validate, Stage::Transform, Stage::Evaluate, Stage::Optimize]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Where a recommendation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecommendationStatus {
    /// Waiting for an operator.
    Pending,
}

impl RecommendationStatus {
    /// The stable upper-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendationStatus::Pending => "PENDING",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        (name == "PENDING").then_some(RecommendationStatus::Pending)
    }
}

/// A stored recommendation (po.recommendations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecommendation {
    /// Id.
    pub id: RecommendationId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The optimizer binding that produced it.
    pub binding_id: BindingId,
    /// The well, if the device has one.
    pub well_id: Option<WellId>,
    /// What was recommended.
    #[serde(flatten)]
    pub recommendation: Recommendation,
    /// Where it is in its life.
    pub status: RecommendationStatus,
    /// When, ms.
    pub created_ts: TimestampMs,
}

/// A failed plugin call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginRun {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The binding, if the call ran one.
    pub binding_id: Option<BindingId>,
    /// The device the call was about, if any.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// Stable error code.
    pub error_code: String,
    /// Error message.
    pub error: String,
    /// Wall time, µs.
    pub duration_us: i64,
    /// Fuel used.
    pub fuel_used: i64,
    /// When, ms.
    pub ts: TimestampMs,
}

/// Something that could not be processed, kept with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The binding, if a plugin failed.
    pub binding_id: Option<BindingId>,
    /// The device, if known.
    pub device_id: Option<DeviceId>,
    /// Where it failed.
    pub stage: Stage,
    /// Stable error code.
    pub error_code: String,
    /// The reason.
    pub error: String,
    /// The frame or batch as received.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// When, ms.
    pub ts: TimestampMs,
}
