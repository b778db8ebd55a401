//! Events: every change of state a person or a subscriber cares about, as
//! written to the outbox in the same transaction as the change, and
//! delivered from there (the log, the live stream, Kafka, notifications).

use serde::{Deserialize, Serialize};

use crate::{
    Actor, AlarmTransition, BindingId, DeadLetter, DeadNotification, DeviceId, EventSeq, PluginRun,
    SetpointWriteRecord, Stage, StoredRecommendation, TenantId, TimestampMs,
};

/// An event as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the outbox (commit order).
    pub seq: EventSeq,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// When the change happened, ms.
    pub ts: TimestampMs,
    /// What events of one thing share, so they are delivered in order: the
    /// device for telemetry-plane events, else the changed entity's id.
    pub key: String,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// An alarm changed (a rule's signal or a person's action).
    Alarm(AlarmTransition),
    /// An optimizer recommended a setpoint.
    Recommendation(StoredRecommendation),
    /// A recommendation moved in its life (approved, sent, confirmed, ...).
    RecommendationChanged(crate::RecommendationTransition),
    /// A plugin call faulted (trap, timeout, memory, ...).
    PluginFault(PluginRun),
    /// Input was kept as a dead letter.
    DeadLetter(DeadLetterSummary),
    /// The circuit breaker stopped a binding, or one device's input to it.
    BindingQuarantined {
        /// The binding.
        binding_id: BindingId,
        /// The device whose input is stopped; none: the whole binding.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<DeviceId>,
        /// Why.
        reason: String,
    },
    /// An entity was created or changed through the API.
    Entity(EntityChange),
    /// A notification could not be delivered and was given up on.
    NotificationDead(DeadNotification),
    /// A setpoint was written to a device, or the write failed.
    SetpointWrite(SetpointWriteRecord),
    /// A forecaster issued a forecast (the newest of its device and key).
    Forecast(crate::StoredForecast),
    /// A binding's rollout took a step (started, a shadow disagreement,
    /// promoted, rolled back, aborted).
    Rollout(crate::RolloutEvent),
}

/// A dead letter without its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterSummary {
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
    /// Size of the kept payload.
    pub payload_bytes: usize,
}

impl From<&DeadLetter> for DeadLetterSummary {
    fn from(letter: &DeadLetter) -> Self {
        Self {
            binding_id: letter.binding_id.clone(),
            device_id: letter.device_id.clone(),
            stage: letter.stage,
            error_code: letter.error_code.clone(),
            error: letter.error.clone(),
            payload_bytes: letter.payload.len(),
        }
    }
}

/// Kinds of entity an [`EntityChange`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A tenant.
    Tenant,
    /// A wellpad.
    Wellpad,
    /// A well.
    Well,
    /// A device.
    Device,
    /// A plugin version.
    Plugin,
    /// A binding.
    Binding,
    /// A notification rule.
    NotificationRule,
    /// A connector.
    Connector,
    /// A well test.
    WellTest,
    /// A device's setpoint (its limits, or a value set by hand).
    Setpoint,
    /// A vendor the tenant trusts (its id is the vendor's).
    TrustedVendor,
}

/// What was done to an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityAction {
    /// Created.
    Created,
    /// Changed (e.g. a profile, a binding's plugin version).
    Updated,
    /// A device's access token was issued anew.
    TokenRotated,
    /// A quarantined binding was enabled again.
    Enabled,
    /// Deleted.
    Deleted,
}

/// A change of an entity through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityChange {
    /// What kind of entity.
    pub kind: EntityKind,
    /// Its id.
    pub id: String,
    /// What was done.
    pub action: EntityAction,
    /// Who did it.
    pub actor: Actor,
    /// A short summary of the change (names, versions; never a secret).
    pub summary: serde_json::Value,
}

impl EventBody {
    /// The ordering key of this event: events with one key are delivered
    /// in their commit order.
    pub fn key(&self) -> String {
        match self {
            EventBody::Alarm(t) => t.alarm.device_id.to_string(),
            EventBody::Recommendation(r) => r.recommendation.device_id.to_string(),
            EventBody::RecommendationChanged(t) => t.device_id.to_string(),
            EventBody::PluginFault(run) => run
                .device_id
                .as_ref()
                .map(|d| d.to_string())
                .or_else(|| run.binding_id.as_ref().map(|b| b.to_string()))
                .unwrap_or_default(),
            EventBody::DeadLetter(letter) => letter
                .device_id
                .as_ref()
                .map(|d| d.to_string())
                .or_else(|| letter.binding_id.as_ref().map(|b| b.to_string()))
                .unwrap_or_default(),
            EventBody::BindingQuarantined { binding_id, .. } => binding_id.to_string(),
            EventBody::Entity(change) => change.id.clone(),
            EventBody::NotificationDead(dead) => dead.rule_id.to_string(),
            EventBody::SetpointWrite(record) => record.write.device_id.to_string(),
            EventBody::Forecast(f) => f.forecast.device_id.to_string(),
            EventBody::Rollout(r) => r.binding_id.to_string(),
        }
    }

    /// The event's type name, as serialized (`alarm`, `recommendation`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::Alarm(_) => "alarm",
            EventBody::Recommendation(_) => "recommendation",
            EventBody::RecommendationChanged(_) => "recommendation_changed",
            EventBody::PluginFault(_) => "plugin_fault",
            EventBody::DeadLetter(_) => "dead_letter",
            EventBody::BindingQuarantined { .. } => "binding_quarantined",
            EventBody::Entity(_) => "entity",
            EventBody::NotificationDead(_) => "notification_dead",
            EventBody::SetpointWrite(_) => "setpoint_write",
            EventBody::Forecast(_) => "forecast",
            EventBody::Rollout(_) => "rollout",
        }
    }
}

/// An event not yet in the outbox: what a unit of work appends.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// When the change happened, ms.
    pub ts: TimestampMs,
    /// What happened.
    pub body: EventBody,
}

impl NewEvent {
    /// An event of a tenant at `ts`.
    pub fn new(tenant_id: &TenantId, ts: TimestampMs, body: EventBody) -> Self {
        Self { tenant_id: tenant_id.clone(), ts, body }
    }
}
