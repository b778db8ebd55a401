//! OpenAPI descriptions of what the API sends and takes that is typed by
//! the model or the services (which know no HTTP crate): the same wire
//! shape, described here. `openapi::tests` checks each against a real
//! value's serialization so the two cannot drift apart silently.
//!
//! Nothing here is constructed at run time; the types exist for their
//! schemas only.

#![allow(dead_code)]

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

mod connectors;

pub(crate) use connectors::ConnectorSettings;

/// An `application/problem+json` document (RFC 9457). Every error of the
/// API is one, with a stable machine-readable `code`. Some carry more
/// members (e.g. `allowed`, `limit`, `maximum`, `note`, `decoder_code`,
/// `binding_id`, `device_id`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Problem {
    /// `https://nexus.invalid/problems/{code}`.
    #[serde(rename = "type")]
    #[schema(example = "https://nexus.invalid/problems/not-found")]
    type_: String,
    /// The status's reason phrase.
    #[schema(example = "Not Found")]
    title: String,
    /// The HTTP status.
    #[schema(example = 404)]
    status: u16,
    /// Stable machine-readable code, e.g. `invalid-request`, `not-found`,
    /// `payload-too-large`, `unauthenticated`.
    #[schema(example = "not-found")]
    code: String,
    /// What went wrong, for a person.
    detail: String,
    /// Allowed values (an unknown plugin kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<Vec<String>>,
    /// What the caller should know besides (e.g. that the input was kept as
    /// a dead letter).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// The decoder's own code, when it rejected a frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    decoder_code: Option<String>,
    /// The binding concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    binding_id: Option<String>,
    /// The device concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<String>,
    /// The name of the plugin limit a request went over its ceiling
    /// (`limit-above-ceiling`).
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
    /// The largest value allowed (a page size over it).
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<u64>,
    /// Every readiness check (`not-ready`).
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Vec<crate::ready::CheckView>>,
}

/// The kinds of plugin (each a WIT world).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PluginKind {
    Decoder,
    AlarmRule,
    Optimizer,
    Transform,
    FieldOptimizer,
    Forecaster,
}

/// Alarm severities, most severe first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Severity {
    Critical,
    Major,
    Minor,
    Warning,
    Indeterminate,
}

/// ThingsBoard's four alarm states.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum AlarmStatus {
    ActiveUnack,
    ActiveAck,
    ClearedUnack,
    ClearedAck,
}

/// What an alarm transition did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TransitionKind {
    Raised,
    Escalated,
    DeEscalated,
    Updated,
    Cleared,
    Acknowledged,
    Assigned,
    Unassigned,
    Commented,
}

/// Where a notification delivery is: to be sent (again) at its
/// `next_attempt_time`, taken by the receiver, or given up on.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeliveryStatus {
    Pending,
    Sent,
    Dead,
}

/// Kinds of notification channel.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChannelKind {
    Webhook,
    Email,
}

/// Where a recommendation is in its life: `PROPOSED → APPROVED | REJECTED |
/// EXPIRED | SUPERSEDED`, `APPROVED → SENT | FAILED`, `SENT → CONFIRMED |
/// FAILED | TIMED_OUT`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RecommendationStatus {
    Proposed,
    Approved,
    Rejected,
    Expired,
    Superseded,
    Sent,
    Confirmed,
    Failed,
    TimedOut,
}

/// Where in the pipeline something happened.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Stage {
    Decode,
    Validate,
    Transform,
    Evaluate,
    Optimize,
}

/// What a plugin says about itself (its `describe` export).
#[derive(Serialize, ToSchema)]
pub(crate) struct PluginInfo {
    name: String,
    version: String,
    description: String,
    /// JSON Schema of its binding configuration.
    config_schema: serde_json::Value,
}

/// An optimizer binding's auto-approve policy: its recommendations inside
/// this band are approved by the host (actor `system:auto-approve`), still
/// through every interlock; others wait for an operator.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoApprove {
    /// Parameters it covers (default empty: every one the binding recommends).
    #[serde(default)]
    parameters: Vec<String>,
    /// Lowest proposed value it approves.
    #[serde(default)]
    min: Option<f64>,
    /// Highest proposed value it approves.
    #[serde(default)]
    max: Option<f64>,
    /// Largest change from the current value it approves (above 0).
    max_step: f64,
    /// Lowest confidence it approves (0 to 1, default 0).
    #[serde(default)]
    min_confidence: f32,
}

/// The bounds of one plugin call.
#[derive(Serialize, ToSchema)]
pub(crate) struct Limits {
    /// Linear memory per instance, bytes.
    memory_bytes: u64,
    /// Table elements per table.
    table_elements: u32,
    /// Component and core instances per store.
    instances: u32,
    /// Tables per store.
    tables: u32,
    /// Memories per store.
    memories: u32,
    /// Wall-clock deadline of one call, ms.
    deadline_ms: u64,
    /// Fuel budget of one call (`null`: unmetered beyond the deadline).
    fuel: Option<u64>,
    /// Bytes a plugin may pass to or ask from one host call.
    host_call_bytes: u32,
    /// Items one call may return.
    max_output: u32,
    /// Log lines per call.
    log_lines: u32,
}

/// A telemetry value: a whole number, a number, a boolean or text.
pub(crate) struct TelemetryValue;

impl PartialSchema for TelemetryValue {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Number, Type::Boolean, Type::String]))
            .description(Some("A whole number, a number, a boolean, or text (JSON text for structured values)."))
            .into()
    }
}

impl ToSchema for TelemetryValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TelemetryValue")
    }
}

/// Raw bytes.
pub(crate) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Binary")
    }
}

/// An event of the tenant's outbox: the members below, plus those of its
/// `type` (an alarm transition, a recommendation, a step of a
/// recommendation's life, a plugin fault, a dead letter summary, a
/// quarantine, an entity change, a dead notification or a setpoint write).
#[derive(Serialize, ToSchema)]
pub(crate) struct Event {
    /// Position in the outbox; page with `after` = the last one seen.
    seq: i64,
    tenant_id: String,
    /// When the change happened, ms.
    ts: i64,
    /// Events of one key are in commit order.
    key: String,
    /// What happened.
    #[serde(rename = "type")]
    type_: EventType,
}

/// What an event is about.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EventType {
    Alarm,
    Recommendation,
    RecommendationChanged,
    PluginFault,
    DeadLetter,
    BindingQuarantined,
    Entity,
    NotificationDead,
    SetpointWrite,
}

/// A binding's counters since the host started.
#[derive(Serialize, ToSchema)]
pub(crate) struct BindingMetrics {
    binding_id: String,
    tenant_id: String,
    /// Calls made.
    calls: u64,
    /// Calls failed by their input.
    rejections: u64,
    /// Calls that faulted.
    faults: u64,
    /// Calls the host had no capacity for.
    host_refusals: u64,
    /// Wall time of all calls, µs.
    wall_us: u64,
    /// Fuel used by successful calls.
    fuel: u64,
    /// Faults since the last call that did not fault.
    consecutive_faults: u32,
    /// Times the breaker opened since the binding last succeeded.
    trips: u32,
}

/// What happened to a telemetry frame.
#[derive(Serialize, ToSchema)]
pub(crate) struct IngestReport {
    /// Readings stored.
    accepted: u64,
    /// Readings refused by validation, each with its reason.
    rejected: Vec<RejectedReading>,
    /// Alarm transitions caused by the frame's readings.
    alarm_transitions: u64,
    /// Readings stored but stamped too far ahead of the host's clock.
    ahead_of_clock: u64,
}

/// A reading refused by validation.
#[derive(Serialize, ToSchema)]
pub(crate) struct RejectedReading {
    key: String,
    ts: i64,
    reason: String,
}

/// What a tenant may use and how fast (its profile). Windows are
/// ThingsBoard's `N:seconds`, comma-separated (`"20:1,600:60"`); `""` is
/// no limit.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantProfile {
    /// Plugin calls per calendar month (UTC); `null` is unlimited.
    #[serde(default)]
    max_executions_per_month: Option<u64>,
    /// Fuel per calendar month (UTC); `null` is unlimited.
    #[serde(default)]
    max_fuel_per_month: Option<u64>,
    /// Overrides of the kind defaults (fields of `Limits`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    limits: Option<serde_json::Map<String, serde_json::Value>>,
    /// Plugin calls the tenant may have running at once; `null`: the host's default.
    #[serde(default)]
    max_concurrent_calls: Option<u32>,
    /// Distinct telemetry keys one device may have; `null`: the host's default.
    #[serde(default)]
    max_keys_per_device: Option<u32>,
    /// Days the tenant's telemetry is kept (1 to 36 500); `null`: kept
    /// until deleted. Latest values stay.
    #[serde(default)]
    telemetry_retention_days: Option<u32>,
    /// Largest component the tenant may upload, bytes (1 to 67 108 864); `null`: 10 MiB.
    #[serde(default)]
    max_component_bytes: Option<u64>,
    /// REST API rate limits.
    #[serde(default)]
    rate_limits: RateLimits,
    /// Device API limits.
    #[serde(default)]
    ingest_limits: IngestLimits,
    /// Entity quotas.
    #[serde(default)]
    quotas: Quotas,
}

/// REST API rate limits of a tenant.
#[derive(Serialize, ToSchema, Default)]
pub(crate) struct RateLimits {
    /// Per user or API key (default `"100:60"`).
    per_user: String,
    /// All of the tenant's principals together (default none).
    per_tenant: String,
}

/// Device API limits of a tenant (default none).
#[derive(Serialize, ToSchema, Default)]
pub(crate) struct IngestLimits {
    /// Messages per device.
    device_messages: String,
    /// Data points per device.
    device_points: String,
    /// Messages over the tenant's devices.
    tenant_messages: String,
    /// Data points over the tenant's devices.
    tenant_points: String,
}

/// Entity quotas of a tenant (`null`: unlimited).
#[derive(Serialize, ToSchema, Default)]
pub(crate) struct Quotas {
    max_devices: Option<u64>,
    max_wells: Option<u64>,
    max_plugins: Option<u64>,
    max_bindings: Option<u64>,
    max_api_keys: Option<u64>,
}

/// What a principal may do.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Role {
    SysAdmin,
    TenantAdmin,
    Operator,
    Viewer,
    VendorDeveloper,
}

/// A tenant's metered use in one month.
#[derive(Serialize, ToSchema)]
pub(crate) struct Usage {
    /// `YYYY-MM` (UTC).
    month: String,
    /// Plugin calls.
    executions: u64,
    /// Fuel used.
    fuel: u64,
}

/// A request to bind a plugin version to devices.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BindingRequest {
    /// The plugin version to run.
    plugin_id: String,
    /// Devices it applies to.
    device_ids: Vec<String>,
    /// Configuration JSON handed to the plugin (default `{}`).
    #[serde(default)]
    config: serde_json::Value,
    /// Overrides of the kind's default limits, e.g. `{"deadline_ms": 20}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    limits: Option<serde_json::Value>,
    /// Optimizers and forecasters: run every `schedule_ms` (default 60 000;
    /// a forecaster 3 600 000; at least 100).
    #[serde(default)]
    schedule_ms: Option<i64>,
    /// Optimizers and forecasters: run at the times of this cron expression
    /// instead of an interval — five fields (minute hour day-of-month month
    /// day-of-week), e.g. `0 6 * * 1-5`.
    #[serde(default)]
    schedule_cron: Option<String>,
    /// The IANA time zone `schedule_cron` is read in (default `UTC`), e.g.
    /// `America/Chicago`.
    #[serde(default)]
    schedule_tz: Option<String>,
    /// Optimizers and field optimizers: an auto-approve policy (default
    /// none: an operator decides every recommendation).
    #[serde(default)]
    auto_approve: Option<AutoApprove>,
    /// Alarm rules: show their alarms on the device's well and wellpad too.
    #[serde(default)]
    #[schema(default = true)]
    propagate: bool,
}

#[cfg(test)]
mod tests {
    //! Each description against real values of the type it describes: the
    //! same member names, and every enum value the model can send.

    use std::collections::BTreeSet;

    use nexus_model as model;
    use serde_json::Value;

    use super::*;

    fn schema_json<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).expect("schema")
    }

    fn properties<T: PartialSchema>() -> BTreeSet<String> {
        schema_json::<T>()["properties"].as_object().expect("an object schema").keys().cloned().collect()
    }

    fn members(value: impl Serialize) -> BTreeSet<String> {
        serde_json::to_value(value).expect("json").as_object().expect("an object").keys().cloned().collect()
    }

    fn enum_values<T: PartialSchema>() -> BTreeSet<String> {
        let schema = schema_json::<T>();
        let values = schema["enum"].as_array().unwrap_or_else(|| panic!("an enum: {schema}"));
        values.iter().map(|v| v.as_str().expect("text").to_string()).collect()
    }

    fn names<T: Serialize>(values: impl IntoIterator<Item = T>) -> BTreeSet<String> {
        values.into_iter().map(|v| serde_json::to_value(v).expect("json").as_str().expect("text").to_string()).collect()
    }

    #[test]
    fn objects_have_the_members_of_what_they_describe() {
        assert_eq!(properties::<Limits>(), members(model::Limits::default()));
        assert_eq!(properties::<TenantProfile>(), members(model::TenantProfile::default()));
        let profile = serde_json::to_value(model::TenantProfile::default()).expect("json");
        let of =
            |value: &serde_json::Value| value.as_object().expect("object").keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(properties::<RateLimits>(), of(&profile["rate_limits"]));
        assert_eq!(properties::<IngestLimits>(), of(&profile["ingest_limits"]));
        assert_eq!(properties::<Quotas>(), of(&profile["quotas"]));
        assert_eq!(properties::<Usage>(), members(model::Usage::default()));
        assert_eq!(properties::<BindingMetrics>(), members(nexus_services::BindingMetrics::default()));
        let report = nexus_services::IngestReport {
            accepted: 1,
            rejected: vec![nexus_services::RejectedReading { key: "k".into(), ts: 1, reason: "r".into() }],
            alarm_transitions: 0,
            ahead_of_clock: 0,
        };
        assert_eq!(properties::<IngestReport>(), members(&report));
        assert_eq!(properties::<RejectedReading>(), members(&report.rejected[0]));
        let info = model::PluginInfo {
            name: "n".into(),
            version: "v".into(),
            description: "d".into(),
            config_schema: serde_json::json!({}),
        };
        assert_eq!(properties::<PluginInfo>(), members(info));
    }

    #[test]
    fn enums_have_every_value_the_model_sends() {
        use model::{AlarmStatus as A, PluginKind as K, Severity as S, Stage as G, TransitionKind as T};
        let kinds = [K::Decoder, K::AlarmRule, K::Optimizer, K::Transform, K::FieldOptimizer, K::Forecaster];
        assert_eq!(enum_values::<PluginKind>(), names(kinds));
        assert_eq!(enum_values::<Role>(), names(model::Role::ALL));
        let severities = [S::Critical, S::Major, S::Minor, S::Warning, S::Indeterminate];
        assert_eq!(enum_values::<Severity>(), names(severities));
        assert_eq!(enum_values::<AlarmStatus>(), names([A::ActiveUnack, A::ActiveAck, A::ClearedUnack, A::ClearedAck]));
        let transitions = [
            T::Raised,
            T::Escalated,
            T::DeEscalated,
            T::Updated,
            T::Cleared,
            T::Acknowledged,
            T::Assigned,
            T::Unassigned,
            T::Commented,
        ];
        assert_eq!(enum_values::<TransitionKind>(), names(transitions));
        assert_eq!(enum_values::<Stage>(), names([G::Decode, G::Validate, G::Transform, G::Evaluate, G::Optimize]));
        assert_eq!(enum_values::<RecommendationStatus>(), names(model::RecommendationStatus::ALL));
        let statuses = [model::DeliveryStatus::Pending, model::DeliveryStatus::Sent, model::DeliveryStatus::Dead];
        assert_eq!(enum_values::<DeliveryStatus>(), names(statuses));
        assert_eq!(enum_values::<ChannelKind>(), names([model::ChannelKind::Webhook, model::ChannelKind::Email]));
    }
}
