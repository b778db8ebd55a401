//! What the API answers: its own response types, built from the model, so
//! the wire format changes only when this file does.

use nexus_model as model;
use serde::Serialize;
use utoipa::ToSchema;

use crate::schema;

/// A wellpad.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WellpadView {
    id: String,
    tenant_id: String,
    name: String,
    /// What its wells share (the constraints of its field optimizers).
    constraints: crate::wellpads::Constraints,
    created_time: i64,
}

impl From<model::Wellpad> for WellpadView {
    fn from(p: model::Wellpad) -> Self {
        Self {
            id: p.id.into(),
            tenant_id: p.tenant_id.into(),
            name: p.name,
            constraints: p.constraints.into(),
            created_time: p.created_time,
        }
    }
}

/// A well's status (`GET /api/wells/{id}/status`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WellStatusView {
    well_id: String,
    /// The newest latest value of any of the well's devices, ms; null
    /// before the first.
    last_report_ts: Option<i64>,
    /// The device that reported it.
    last_device: Option<String>,
    /// Whether it reported within the last 15 minutes (the wells
    /// `/metrics` counts as monitored).
    monitored: bool,
    /// `cache` (the hot cache's `well:{id}:status`) or `store`.
    #[schema(example = "store")]
    source: String,
}

impl From<nexus_services::WellStatus> for WellStatusView {
    fn from(s: nexus_services::WellStatus) -> Self {
        Self {
            well_id: s.well_id.into(),
            last_report_ts: s.last_report_ts,
            last_device: s.last_device.map(Into::into),
            monitored: s.monitored,
            source: match s.source {
                nexus_services::StatusSource::Cache => "cache",
                nexus_services::StatusSource::Store => "store",
            }
            .into(),
        }
    }
}

/// A well.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WellView {
    id: String,
    tenant_id: String,
    name: String,
    wellpad_id: Option<String>,
    status: String,
    static_data: serde_json::Value,
    created_time: i64,
}

impl From<model::Well> for WellView {
    fn from(w: model::Well) -> Self {
        Self {
            id: w.id.into(),
            tenant_id: w.tenant_id.into(),
            name: w.name,
            wellpad_id: w.wellpad_id.map(Into::into),
            status: w.status,
            static_data: w.static_data,
            created_time: w.created_time,
        }
    }
}

/// A device, never with its access token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeviceView {
    id: String,
    tenant_id: String,
    name: String,
    well_id: Option<String>,
    created_time: i64,
    token_issued_time: i64,
}

impl From<model::Device> for DeviceView {
    fn from(d: model::Device) -> Self {
        Self {
            id: d.id.into(),
            tenant_id: d.tenant_id.into(),
            name: d.name,
            well_id: d.well_id.map(Into::into),
            created_time: d.created_time,
            token_issued_time: d.token_issued_time,
        }
    }
}

/// A device with the access token just issued (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssuedTokenView {
    #[serde(flatten)]
    device: DeviceView,
    access_token: String,
}

impl From<nexus_services::IssuedToken> for IssuedTokenView {
    fn from(t: nexus_services::IssuedToken) -> Self {
        Self { device: t.device.into(), access_token: t.access_token }
    }
}

/// A plugin version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PluginView {
    id: String,
    tenant_id: String,
    #[schema(value_type = schema::PluginKind)]
    kind: model::PluginKind,
    name: String,
    version: String,
    hash: String,
    size_bytes: i64,
    #[schema(value_type = schema::PluginInfo)]
    info: model::PluginInfo,
    created_time: i64,
    /// The contract version the component targets (`0.1.0` runs through the adapter).
    contract: String,
    /// The vendor release it was approved from (signed); absent for the tenant's own upload (unsigned).
    #[serde(skip_serializing_if = "Option::is_none")]
    release_id: Option<String>,
}

impl From<model::PluginVersion> for PluginView {
    fn from(p: model::PluginVersion) -> Self {
        Self {
            id: p.id.into(),
            tenant_id: p.tenant_id.into(),
            kind: p.kind,
            name: p.name,
            version: p.version,
            hash: p.hash,
            size_bytes: p.size_bytes,
            info: p.info,
            created_time: p.created_time,
            contract: p.contract,
            release_id: p.release_id.map(Into::into),
        }
    }
}

/// A binding.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BindingView {
    id: String,
    tenant_id: String,
    plugin_id: String,
    /// The version it ran before its last switch: what `rollback` returns to.
    previous_plugin_id: Option<String>,
    #[schema(value_type = schema::PluginKind)]
    kind: model::PluginKind,
    config: serde_json::Value,
    #[schema(value_type = schema::Limits)]
    limits: model::Limits,
    schedule_ms: Option<i64>,
    /// A cron schedule instead of `schedule_ms`, with its time zone.
    schedule_cron: Option<String>,
    schedule_tz: Option<String>,
    /// The auto-approve policy, if any.
    #[schema(value_type = Option<schema::AutoApprove>)]
    auto_approve: Option<model::AutoApprove>,
    enabled: bool,
    propagate: bool,
    quarantine_reason: Option<String>,
    device_ids: Vec<String>,
    /// Devices whose input the breaker stopped, with why.
    quarantined_devices: std::collections::BTreeMap<String, String>,
    /// The rollout of another version in progress, if any (its tally:
    /// `GET /api/bindings/{id}/rollout`).
    #[schema(value_type = Option<Object>)]
    rollout: Option<model::Rollout>,
    created_time: i64,
}

impl From<model::Binding> for BindingView {
    fn from(b: model::Binding) -> Self {
        Self {
            id: b.id.into(),
            tenant_id: b.tenant_id.into(),
            plugin_id: b.plugin_id.into(),
            previous_plugin_id: b.previous_plugin_id.map(Into::into),
            kind: b.kind,
            config: b.config,
            limits: b.limits,
            schedule_ms: b.schedule_ms,
            schedule_cron: b.schedule_cron.as_ref().map(|c| c.expression.clone()),
            schedule_tz: b.schedule_cron.map(|c| c.time_zone),
            auto_approve: b.auto_approve,
            enabled: b.enabled,
            propagate: b.propagate,
            quarantine_reason: b.quarantine_reason,
            device_ids: b.device_ids.into_iter().map(Into::into).collect(),
            quarantined_devices: b.quarantined_devices.into_iter().map(|(d, r)| (d.into(), r)).collect(),
            rollout: b.rollout,
            created_time: b.created_time,
        }
    }
}

/// An alarm.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlarmView {
    id: String,
    tenant_id: String,
    device_id: String,
    alarm_type: String,
    #[schema(value_type = schema::Severity)]
    severity: model::Severity,
    #[schema(value_type = schema::AlarmStatus)]
    status: model::AlarmStatus,
    start_ts: i64,
    end_ts: i64,
    ack_ts: Option<i64>,
    clear_ts: Option<i64>,
    binding_id: Option<String>,
    details: serde_json::Value,
    assignee: Option<String>,
    well_id: Option<String>,
    wellpad_id: Option<String>,
}

impl From<model::Alarm> for AlarmView {
    fn from(a: model::Alarm) -> Self {
        Self {
            id: a.id.into(),
            tenant_id: a.tenant_id.into(),
            device_id: a.device_id.into(),
            alarm_type: a.alarm_type,
            severity: a.severity,
            status: a.status,
            start_ts: a.start_ts,
            end_ts: a.end_ts,
            ack_ts: a.ack_ts,
            clear_ts: a.clear_ts,
            binding_id: a.binding_id.map(Into::into),
            details: a.details,
            assignee: a.assignee,
            well_id: a.well_id.map(Into::into),
            wellpad_id: a.wellpad_id.map(Into::into),
        }
    }
}

/// What a person's action on an alarm did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlarmChangeView {
    /// What happened; `null` when the action was already done.
    #[schema(value_type = Option<schema::TransitionKind>)]
    action: Option<model::TransitionKind>,
    changed: bool,
    alarm: AlarmView,
}

impl From<nexus_services::AlarmChange> for AlarmChangeView {
    fn from(c: nexus_services::AlarmChange) -> Self {
        Self { action: c.action, changed: c.changed, alarm: c.alarm.into() }
    }
}

/// One transition of an alarm.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlarmEventView {
    ts: i64,
    #[schema(value_type = schema::TransitionKind)]
    action: model::TransitionKind,
    #[schema(value_type = schema::AlarmStatus)]
    status: model::AlarmStatus,
    #[schema(value_type = schema::Severity)]
    severity: model::Severity,
    actor: String,
    details: serde_json::Value,
}

impl From<model::AlarmEvent> for AlarmEventView {
    fn from(e: model::AlarmEvent) -> Self {
        Self {
            ts: e.ts,
            action: e.action,
            status: e.status,
            severity: e.severity,
            actor: e.actor.to_string(),
            details: e.details,
        }
    }
}

/// A comment on an alarm.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CommentView {
    ts: i64,
    actor: String,
    text: String,
}

impl From<model::AlarmComment> for CommentView {
    fn from(c: model::AlarmComment) -> Self {
        Self { ts: c.ts, actor: c.actor.to_string(), text: c.text }
    }
}

/// A reading.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadingView {
    device_id: String,
    key: String,
    ts: i64,
    #[schema(value_type = schema::TelemetryValue)]
    value: model::Value,
    quality: f32,
}

impl From<model::Reading> for ReadingView {
    fn from(r: model::Reading) -> Self {
        Self { device_id: r.device_id.into(), key: r.key, ts: r.ts, value: r.value, quality: r.quality }
    }
}

/// A recommendation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecommendationView {
    id: String,
    tenant_id: String,
    binding_id: String,
    well_id: Option<String>,
    device_id: String,
    parameter: String,
    current_value: f64,
    proposed_value: f64,
    unit: String,
    expected_gain: f64,
    gain_unit: String,
    confidence: f32,
    rationale: String,
    details: serde_json::Value,
    #[schema(value_type = schema::RecommendationStatus)]
    status: model::RecommendationStatus,
    created_ts: i64,
}

impl From<model::StoredRecommendation> for RecommendationView {
    fn from(s: model::StoredRecommendation) -> Self {
        let r = s.recommendation;
        Self {
            id: s.id.into(),
            tenant_id: s.tenant_id.into(),
            binding_id: s.binding_id.into(),
            well_id: s.well_id.map(Into::into),
            device_id: r.device_id.into(),
            parameter: r.parameter,
            current_value: r.current_value,
            proposed_value: r.proposed_value,
            unit: r.unit,
            expected_gain: r.expected_gain,
            gain_unit: r.gain_unit,
            confidence: r.confidence,
            rationale: r.rationale,
            details: r.details,
            status: s.status,
            created_ts: s.created_ts,
        }
    }
}

/// A failed plugin call.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PluginRunView {
    tenant_id: String,
    binding_id: Option<String>,
    device_id: Option<String>,
    plugin: String,
    version: String,
    error_code: String,
    error: String,
    duration_us: i64,
    fuel_used: i64,
    ts: i64,
}

impl From<model::PluginRun> for PluginRunView {
    fn from(r: model::PluginRun) -> Self {
        Self {
            tenant_id: r.tenant_id.into(),
            binding_id: r.binding_id.map(Into::into),
            device_id: r.device_id.map(Into::into),
            plugin: r.plugin,
            version: r.version,
            error_code: r.error_code,
            error: r.error,
            duration_us: r.duration_us,
            fuel_used: r.fuel_used,
            ts: r.ts,
        }
    }
}

/// A dead letter, without its payload (its size instead).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterView {
    tenant_id: String,
    binding_id: Option<String>,
    device_id: Option<String>,
    #[schema(value_type = schema::Stage)]
    stage: model::Stage,
    error_code: String,
    error: String,
    payload_bytes: usize,
    ts: i64,
}

impl From<model::DeadLetter> for DeadLetterView {
    fn from(d: model::DeadLetter) -> Self {
        Self {
            tenant_id: d.tenant_id.into(),
            binding_id: d.binding_id.map(Into::into),
            device_id: d.device_id.map(Into::into),
            stage: d.stage,
            error_code: d.error_code,
            error: d.error,
            payload_bytes: d.payload.len(),
            ts: d.ts,
        }
    }
}

/// Maps a list into views.
pub(crate) fn all<T, V: From<T>>(items: Vec<T>) -> Vec<V> {
    items.into_iter().map(V::from).collect()
}

/// A page of views: `X-Next-After` names the last item when the page is
/// full (more may follow).
pub(crate) fn with_next<V: serde::Serialize>(views: Vec<V>, next: Option<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = axum::Json(views).into_response();
    if let Some(value) = next.and_then(|next| axum::http::HeaderValue::from_str(&next).ok()) {
        response.headers_mut().insert("x-next-after", value);
    }
    response
}
