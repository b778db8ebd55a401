//! Plugins: kinds, identities, what they produce and what they report.

use serde::{Deserialize, Serialize};

use crate::{BindingId, DeviceId, Limits, PluginVersionId, ReleaseId, TenantId, TimestampMs, WellId};

/// The three kinds of plugin; each is a WIT world of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Frame → readings.
    Decoder,
    /// Readings → alarm signals.
    AlarmRule,
    /// Well context → recommendations.
    Optimizer,
    /// Telemetry → derived telemetry.
    Transform,
    /// A group of wells and what they share → recommendations for many wells.
    FieldOptimizer,
    /// A well's history → forecasts.
    Forecaster,
}

impl PluginKind {
    /// Whether bindings of this kind run on a schedule (optimizers, field
    /// optimizers and forecasters) rather than on arriving telemetry.
    pub fn is_scheduled(self) -> bool {
        matches!(self, PluginKind::Optimizer | PluginKind::FieldOptimizer | PluginKind::Forecaster)
    }

    /// Every kind.
    pub const ALL: [PluginKind; 6] = [
        PluginKind::Decoder,
        PluginKind::AlarmRule,
        PluginKind::Optimizer,
        PluginKind::Transform,
        PluginKind::FieldOptimizer,
        PluginKind::Forecaster,
    ];

    /// The WIT world name, also used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Decoder => "decoder",
            PluginKind::AlarmRule => "alarm-rule",
            PluginKind::Optimizer => "optimizer",
            PluginKind::Transform => "transform",
            PluginKind::FieldOptimizer => "field-optimizer",
            PluginKind::Forecaster => "forecaster",
        }
    }

    /// Parses a world name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a plugin version as seen by one tenant, for errors and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    /// The tenant that runs it.
    pub tenant_id: TenantId,
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} (tenant {})", self.name, self.version, self.tenant_id)
    }
}

/// What a plugin says about itself (its `describe` export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// JSON Schema of its binding configuration.
    pub config_schema: serde_json::Value,
}

/// An error a plugin reports for its input (not a crash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PluginError {
    /// Stable code chosen by the plugin.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

/// A setpoint an optimizer proposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Device whose setpoint it is.
    pub device_id: DeviceId,
    /// Setpoint name.
    pub parameter: String,
    /// Value now.
    pub current_value: f64,
    /// Proposed value.
    pub proposed_value: f64,
    /// Unit of both values.
    pub unit: String,
    /// Expected gain.
    pub expected_gain: f64,
    /// Unit of the gain.
    pub gain_unit: String,
    /// Confidence 0..1.
    pub confidence: f32,
    /// Why, for people.
    pub rationale: String,
    /// Machine-readable details: the binding constraint, the interlocks
    /// checked, expected changes (a JSON object; `{}` when none).
    #[serde(default = "empty_object")]
    pub details: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Where a setpoint's current value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetpointSource {
    /// Read from the device.
    Device,
    /// Written by Nexus after an approved change.
    Written,
    /// Set by hand.
    Manual,
}

/// A current setpoint of a well, with the limits every change must keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setpoint {
    /// Setpoint name.
    pub parameter: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// Lowest allowed value.
    pub min: Option<f64>,
    /// Highest allowed value.
    pub max: Option<f64>,
    /// Largest change in one step.
    pub max_step: Option<f64>,
    /// Shortest time between two changes, ms.
    pub min_interval_ms: Option<i64>,
    /// Where the value comes from.
    pub source: SetpointSource,
    /// When it last changed.
    pub updated_at: TimestampMs,
    /// The telemetry that shows the value: a write is confirmed only once
    /// it reads the written value (none: the device's answer confirms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readback: Option<Readback>,
}

/// How a setpoint's value shows in telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readback {
    /// The telemetry key, e.g. `frequency` for `frequency_hz`.
    pub key: String,
    /// How far the reading may be from the written value.
    pub tolerance: f64,
}

/// An alarm open on a well's device, as an optimizer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlarm {
    /// Alarm type.
    pub alarm_type: String,
    /// Severity.
    pub severity: crate::Severity,
    /// Raised at.
    pub since: TimestampMs,
}

/// A recommendation not yet decided or carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenRecommendation {
    /// Setpoint name.
    pub parameter: String,
    /// Proposed value.
    pub proposed_value: f64,
    /// When it was made.
    pub created_at: TimestampMs,
}

/// A well test: measured rates and the conditions they were taken at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WellTest {
    /// When.
    pub ts: TimestampMs,
    /// How long, hours.
    pub duration_h: f64,
    /// Oil rate, bbl/d.
    pub oil_bbl_d: f64,
    /// Water rate, bbl/d.
    pub water_bbl_d: f64,
    /// Gas rate, Mscf/d.
    pub gas_mscf_d: f64,
    /// Conditions during the test (frequency, pressures, ...).
    pub conditions: serde_json::Value,
}

/// What an optimizer sees of one well.
#[derive(Debug, Clone, PartialEq)]
pub struct WellContext {
    /// Well id, if the device has a well.
    pub well_id: Option<WellId>,
    /// Device carrying the well's telemetry.
    pub device_id: DeviceId,
    /// Recent telemetry, one series per key (and value type).
    pub readings: Vec<crate::Series>,
    /// Current setpoints.
    pub setpoints: Vec<Setpoint>,
    /// Static well data as JSON text.
    pub static_data: String,
    /// Alarms open on the device.
    pub open_alarms: Vec<OpenAlarm>,
    /// Recommendations of this binding not yet decided or carried out.
    pub open_recommendations: Vec<OpenRecommendation>,
    /// Well tests, newest first.
    pub well_tests: Vec<WellTest>,
    /// Time of the run.
    pub now: TimestampMs,
}

/// Per-well bounds on lift-gas injection, Mscf/d.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectionBounds {
    /// The well.
    pub well_id: WellId,
    /// Least injection.
    pub min: f64,
    /// Most injection.
    pub max: f64,
}

/// What a group of wells shares (`None`: no such limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldConstraints {
    /// Lift gas available to the group, Mscf/d.
    pub lift_gas_available: Option<f64>,
    /// Compressor capacity, Mscf/d.
    pub compressor_capacity: Option<f64>,
    /// Water the facility can handle, bbl/d.
    pub water_handling: Option<f64>,
    /// Liquid the separators can take, bbl/d.
    pub separator_liquid: Option<f64>,
    /// Bounds on each well's injection.
    pub injection_bounds: Vec<InjectionBounds>,
}

/// What a field optimizer sees.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldContext {
    /// The group (a binding runs over its devices' wells).
    pub group_id: String,
    /// One context per well.
    pub wells: Vec<WellContext>,
    /// What the wells share.
    pub constraints: FieldConstraints,
}

/// A field optimizer's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPlan {
    /// Setpoints for many wells.
    pub recommendations: Vec<Recommendation>,
    /// Why, for people.
    pub rationale: String,
    /// Machine-readable details.
    pub details: serde_json::Value,
}

/// One forecast point with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    /// When.
    pub ts: TimestampMs,
    /// Expected value.
    pub value: f64,
    /// Lower bound of the stated interval.
    pub low: f64,
    /// Upper bound of the stated interval.
    pub high: f64,
}

/// A forecast of one key of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The device.
    pub device_id: DeviceId,
    /// The key forecast.
    pub key: String,
    /// Unit of the values.
    pub unit: String,
    /// The points.
    pub points: Vec<ForecastPoint>,
    /// The fitted model and its uncertainty.
    pub model: serde_json::Value,
}

/// A forecast as stored: the newest one of each (device, key), with the
/// binding that issued it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredForecast {
    /// The forecaster binding that issued it.
    pub binding_id: BindingId,
    /// When it was issued (the host's clock), ms.
    pub issued_at: TimestampMs,
    /// The forecast.
    #[serde(flatten)]
    pub forecast: Forecast,
}

/// An uploaded plugin version (its bytes are stored apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginVersion {
    /// Id of this version.
    pub id: PluginVersionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Kind.
    pub kind: PluginKind,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// sha256 of the bytes, hex.
    pub hash: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// What `describe` returned.
    pub info: PluginInfo,
    /// Upload time, ms.
    pub created_time: TimestampMs,
    /// The contract version it was built against, e.g. `0.2.0` (`0.1.0`
    /// components run through the host's adapter).
    pub contract: String,
    /// The vendor release it was approved from; none for a tenant's own
    /// upload (unsigned). Its bytes are then the release's blob, verified
    /// with its signature whenever it is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_id: Option<ReleaseId>,
}

/// A binding's auto-approve policy (off unless set): a recommendation of
/// the binding inside this band — a narrower one than the setpoint's
/// limits — is approved by the host (actor `system:auto-approve`), still
/// through every interlock; any other waits for an operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoApprove {
    /// Parameters it covers (empty: every parameter the binding recommends).
    #[serde(default)]
    pub parameters: Vec<String>,
    /// Lowest proposed value it approves.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest proposed value it approves.
    #[serde(default)]
    pub max: Option<f64>,
    /// Largest change from the current value it approves (above 0).
    pub max_step: f64,
    /// Lowest confidence it approves (0 to 1; default 0).
    #[serde(default)]
    pub min_confidence: f32,
}

impl AutoApprove {
    /// Whether the policy itself is sound; the problem names the field.
    pub fn check(&self) -> Result<(), String> {
        if !(self.max_step.is_finite() && self.max_step > 0.0) {
            return Err(format!("auto_approve.max_step must be a number above 0, got {}", self.max_step));
        }
        if self.min.is_some_and(|v| !v.is_finite()) || self.max.is_some_and(|v| !v.is_finite()) {
            return Err("auto_approve.min and max must be finite numbers".into());
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max)
            && lo > hi
        {
            return Err(format!("auto_approve.min {lo} is above max {hi}"));
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(format!("auto_approve.min_confidence must be 0 to 1, got {}", self.min_confidence));
        }
        if self.parameters.iter().any(|p| p.is_empty() || p.len() > 64) {
            return Err("auto_approve.parameters must be names of 1 to 64 characters".into());
        }
        Ok(())
    }

    /// `Ok(why)` when the policy approves `r`, `Err(why not)` otherwise.
    pub fn covers(&self, r: &Recommendation) -> Result<String, String> {
        if !self.parameters.is_empty() && !self.parameters.contains(&r.parameter) {
            return Err(format!("the policy does not cover `{}`", r.parameter));
        }
        if !(r.proposed_value.is_finite() && r.current_value.is_finite()) {
            return Err("the recommendation's values are not finite".into());
        }
        let step = (r.proposed_value - r.current_value).abs();
        if step > self.max_step {
            return Err(format!("a step of {step} is over the policy's {}", self.max_step));
        }
        if self.min.is_some_and(|lo| r.proposed_value < lo) || self.max.is_some_and(|hi| r.proposed_value > hi) {
            return Err(format!(
                "{} is outside the policy's band {}..{}",
                r.proposed_value,
                self.min.map_or("".into(), |v| v.to_string()),
                self.max.map_or("".into(), |v| v.to_string())
            ));
        }
        if r.confidence < self.min_confidence {
            return Err(format!("confidence {} is under the policy's {}", r.confidence, self.min_confidence));
        }
        Ok(format!(
            "within the binding's auto-approve policy: a step of {step} (at most {}), {} in {}..{}",
            self.max_step,
            r.proposed_value,
            self.min.map_or("".into(), |v| v.to_string()),
            self.max.map_or("".into(), |v| v.to_string())
        ))
    }
}

/// A cron schedule: five fields (minute, hour, day of month, month, day of
/// week) read in an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronSchedule {
    /// E.g. `0 6 * * 1-5` (06:00 on weekdays).
    pub expression: String,
    /// E.g. `America/Chicago`; `UTC` by default.
    pub time_zone: String,
}

/// A plugin version bound to devices with a configuration and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// Id.
    pub id: BindingId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The plugin version it runs.
    pub plugin_id: PluginVersionId,
    /// The version it ran before its last switch (what a rollback returns
    /// to).
    #[serde(default)]
    pub previous_plugin_id: Option<PluginVersionId>,
    /// Kind of the plugin.
    pub kind: PluginKind,
    /// Configuration JSON.
    pub config: serde_json::Value,
    /// Limits of each call.
    pub limits: Limits,
    /// Optimizers and forecasters: interval in ms (or a cron schedule).
    pub schedule_ms: Option<i64>,
    /// Optimizers and forecasters: a cron schedule instead of an interval.
    #[serde(default)]
    pub schedule_cron: Option<CronSchedule>,
    /// Optimizers and field optimizers: the auto-approve policy, if any.
    #[serde(default)]
    pub auto_approve: Option<AutoApprove>,
    /// Whether it runs.
    pub enabled: bool,
    /// Alarm rules: whether alarms propagate to the well and wellpad.
    pub propagate: bool,
    /// Why the circuit breaker stopped it, if it did.
    pub quarantine_reason: Option<String>,
    /// Devices it applies to.
    pub device_ids: Vec<DeviceId>,
    /// Devices whose input the breaker stopped for this binding (their input
    /// kept failing it), with why; the binding runs for the others.
    #[serde(default)]
    pub quarantined_devices: std::collections::BTreeMap<DeviceId, String>,
    /// The rollout of a new version in progress, if any.
    #[serde(default)]
    pub rollout: Option<crate::Rollout>,
    /// Creation time, ms.
    pub created_time: TimestampMs,
}
