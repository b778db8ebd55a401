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

/// Where a recommendation is in its life:
/// `PROPOSED → APPROVED | REJECTED | EXPIRED | SUPERSEDED`, then
/// `APPROVED → SENT | FAILED` (an interlock at send), then
/// `SENT → CONFIRMED | FAILED | TIMED_OUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecommendationStatus {
    /// Made by an optimizer, waiting for an operator.
    Proposed,
    /// Approved by an operator; being sent.
    Approved,
    /// Rejected by an operator.
    Rejected,
    /// Not decided within its time to live.
    Expired,
    /// A newer recommendation of the same binding, device and parameter
    /// replaced it before it was decided.
    Superseded,
    /// Handed to the device's transport.
    Sent,
    /// The device confirmed the value.
    Confirmed,
    /// Refused by an interlock at send, by the device, or not writable.
    Failed,
    /// The device did not confirm in time.
    TimedOut,
}

impl RecommendationStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RecommendationStatus; 9] = [
        RecommendationStatus::Proposed,
        RecommendationStatus::Approved,
        RecommendationStatus::Rejected,
        RecommendationStatus::Expired,
        RecommendationStatus::Superseded,
        RecommendationStatus::Sent,
        RecommendationStatus::Confirmed,
        RecommendationStatus::Failed,
        RecommendationStatus::TimedOut,
    ];

    /// The stable upper-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendationStatus::Proposed => "PROPOSED",
            RecommendationStatus::Approved => "APPROVED",
            RecommendationStatus::Rejected => "REJECTED",
            RecommendationStatus::Expired => "EXPIRED",
            RecommendationStatus::Superseded => "SUPERSEDED",
            RecommendationStatus::Sent => "SENT",
            RecommendationStatus::Confirmed => "CONFIRMED",
            RecommendationStatus::Failed => "FAILED",
            RecommendationStatus::TimedOut => "TIMED_OUT",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether it is still in progress (proposed, approved or sent): an
    /// optimizer does not repeat it.
    pub fn is_open(self) -> bool {
        matches!(self, RecommendationStatus::Proposed | RecommendationStatus::Approved | RecommendationStatus::Sent)
    }

    /// Whether `self → to` is a step of the lifecycle.
    pub fn can_become(self, to: RecommendationStatus) -> bool {
        use RecommendationStatus::*;
        matches!(
            (self, to),
            (Proposed, Approved | Rejected | Expired | Superseded)
                | (Approved, Sent | Failed)
                | (Sent, Confirmed | Failed | TimedOut)
        )
    }
}

/// One step of a recommendation's life, with who took it and why
/// (po.recommendation_transition; an outbox event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendationTransition {
    /// The recommendation.
    pub recommendation_id: RecommendationId,
    /// Its device (the event's key).
    pub device_id: DeviceId,
    /// The status it left.
    pub from: RecommendationStatus,
    /// The status it reached.
    pub to: RecommendationStatus,
    /// Who: the operator, or the host (`system:setpoint-writer`, ...).
    pub actor: crate::Actor,
    /// Why (an operator's reason, an interlock, the device's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When, ms.
    pub ts: TimestampMs,
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
