//! The binding configuration: telemetry keys, thresholds and timings, with
//! the defaults of the 3W signature (domain reference §1.6), validated once
//! per call.

use std::ops::Bound::Excluded;

use nexus_plugin_sdk::config::{
    distinct_keys, in_range, non_empty, positive, seconds_ms, severity_or, severity_schema,
};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::Deserialize;
use serde_json::json;

/// Most completed buckets one variable may keep (`lookback_s / bucket_s`):
/// keeps the state of three variables well under the host's 48 KiB per value.
pub const MAX_BUCKETS: u64 = 300;

/// The binding configuration as written in JSON, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_t_tpt_key")]
    t_tpt_key: String,
    #[serde(default = "default_p_tpt_key")]
    p_tpt_key: String,
    #[serde(default = "default_p_pdg_key")]
    p_pdg_key: Option<String>,
    #[serde(default = "default_lookback_s")]
    lookback_s: u64,
    #[serde(default = "default_bucket_s")]
    bucket_s: u64,
    #[serde(default = "default_t_drop_pct")]
    t_drop_pct: f64,
    #[serde(default = "default_t_drop_c")]
    t_drop_c: f64,
    #[serde(default = "default_p_drop_pct")]
    p_drop_pct: f64,
    #[serde(default = "default_pdg_max_drop_pct")]
    pdg_max_drop_pct: f64,
    #[serde(default = "default_min_pressure_pa")]
    min_pressure_pa: f64,
    #[serde(default = "default_stale_s")]
    stale_s: u64,
    #[serde(default)]
    confirm_s: u64,
    #[serde(default = "default_clear_after_s")]
    clear_after_s: u64,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default = "default_alarm_type")]
    alarm_type: String,
}

fn default_t_tpt_key() -> String {
    "T-TPT".into()
}
fn default_p_tpt_key() -> String {
    "P-TPT".into()
}
fn default_p_pdg_key() -> Option<String> {
    Some("P-PDG".into())
}
fn default_lookback_s() -> u64 {
    600
}
fn default_bucket_s() -> u64 {
    10
}
fn default_t_drop_pct() -> f64 {
    20.0
}
fn default_t_drop_c() -> f64 {
    10.0
}
fn default_p_drop_pct() -> f64 {
    15.0
}
fn default_pdg_max_drop_pct() -> f64 {
    1.0
}
fn default_min_pressure_pa() -> f64 {
    1e5
}
fn default_stale_s() -> u64 {
    60
}
fn default_clear_after_s() -> u64 {
    300
}
fn default_alarm_type() -> String {
    "DhsvClosure".into()
}

/// A validated configuration (see the crate README for the JSON form).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct DhsvConfig {
    /// Key of the subsea-tree temperature (°C), default `T-TPT`.
    pub t_tpt_key: String,
    /// Key of the subsea-tree pressure (Pa), default `P-TPT`.
    pub p_tpt_key: String,
    /// Key of the downhole-gauge pressure (Pa), default `P-PDG`; `None`
    /// disables the P-PDG condition.
    pub p_pdg_key: Option<String>,
    /// Lookback Δt in ms: drops are measured from the highest bucket mean of
    /// the last Δt, P-PDG against its level Δt ago.
    pub lookback_ms: i64,
    /// Width of the averaging buckets in ms.
    pub bucket_ms: i64,
    /// T-TPT must fall by more than this percentage of its reference ...
    pub t_drop_pct: f64,
    /// ... or by more than this many °C.
    pub t_drop_c: f64,
    /// P-TPT must fall by more than this percentage of its reference.
    pub p_drop_pct: f64,
    /// P-PDG must not fall by more than this percentage (flat or rising).
    pub pdg_max_drop_pct: f64,
    /// A pressure reference below this (Pa) is not trusted: P-TPT cannot
    /// raise and the P-PDG condition is ignored.
    pub min_pressure_pa: f64,
    /// A variable whose newest sample is older than this (ms) is unavailable.
    pub stale_ms: i64,
    /// The conditions must hold this long (ms) before the raise.
    pub confirm_ms: i64,
    /// The alarm clears once the conditions have failed this long (ms).
    pub clear_after_ms: i64,
    /// Severity of the raised alarm.
    pub severity: Severity,
    /// Alarm type of the signals.
    pub alarm_type: String,
}

impl Default for DhsvConfig {
    fn default() -> Self {
        let secs = |s: u64| i64::try_from(s * 1000).unwrap_or(i64::MAX);
        Self {
            t_tpt_key: default_t_tpt_key(),
            p_tpt_key: default_p_tpt_key(),
            p_pdg_key: default_p_pdg_key(),
            lookback_ms: secs(default_lookback_s()),
            bucket_ms: secs(default_bucket_s()),
            t_drop_pct: default_t_drop_pct(),
            t_drop_c: default_t_drop_c(),
            p_drop_pct: default_p_drop_pct(),
            pdg_max_drop_pct: default_pdg_max_drop_pct(),
            min_pressure_pa: default_min_pressure_pa(),
            stale_ms: secs(default_stale_s()),
            confirm_ms: 0,
            clear_after_ms: secs(default_clear_after_s()),
            severity: Severity::Critical,
            alarm_type: default_alarm_type(),
        }
    }
}

/// A percentage strictly between 0 and 100.
fn percentage(name: &str, value: f64) -> Result<f64, String> {
    in_range(name, value, (Excluded(0.0), Excluded(100.0)))
}

impl TryFrom<RawConfig> for DhsvConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        let pdg = raw.p_pdg_key.as_deref().map(|key| ("p_pdg_key", key));
        distinct_keys([("t_tpt_key", raw.t_tpt_key.as_str()), ("p_tpt_key", &raw.p_tpt_key)].into_iter().chain(pdg))?;
        if raw.bucket_s == 0 {
            return Err("`bucket_s` must be at least 1".into());
        }
        if raw.lookback_s < 2 * raw.bucket_s || raw.lookback_s / raw.bucket_s > MAX_BUCKETS {
            return Err(format!(
                "`lookback_s` ({}) must span 2 to {MAX_BUCKETS} buckets of `bucket_s` ({})",
                raw.lookback_s, raw.bucket_s
            ));
        }
        Ok(Self {
            lookback_ms: seconds_ms("lookback_s", raw.lookback_s)?,
            bucket_ms: seconds_ms("bucket_s", raw.bucket_s)?,
            t_drop_pct: percentage("t_drop_pct", raw.t_drop_pct)?,
            t_drop_c: positive("t_drop_c", raw.t_drop_c)?,
            p_drop_pct: percentage("p_drop_pct", raw.p_drop_pct)?,
            pdg_max_drop_pct: percentage("pdg_max_drop_pct", raw.pdg_max_drop_pct)?,
            min_pressure_pa: positive("min_pressure_pa", raw.min_pressure_pa)?,
            stale_ms: seconds_ms("stale_s", raw.stale_s)?,
            confirm_ms: seconds_ms("confirm_s", raw.confirm_s)?,
            clear_after_ms: seconds_ms("clear_after_s", raw.clear_after_s)?,
            severity: severity_or("severity", raw.severity.as_deref(), Severity::Critical)?,
            alarm_type: non_empty("alarm_type", raw.alarm_type)?,
            t_tpt_key: raw.t_tpt_key,
            p_tpt_key: raw.p_tpt_key,
            p_pdg_key: raw.p_pdg_key,
        })
    }
}

/// Parses and validates a binding configuration (empty text means all
/// defaults); any problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<DhsvConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> serde_json::Value {
    let pct = |default: f64, description: &str| {
        json!({ "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100, "default": default,
                "description": description })
    };
    let secs = |default: u64, description: &str| json!({ "type": "integer", "minimum": 0, "default": default, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-dhsv-closure configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "t_tpt_key": { "type": "string", "minLength": 1, "default": "T-TPT",
                           "description": "Key of the subsea-tree temperature (°C)." },
            "p_tpt_key": { "type": "string", "minLength": 1, "default": "P-TPT",
                           "description": "Key of the subsea-tree pressure (Pa)." },
            "p_pdg_key": { "type": ["string", "null"], "minLength": 1, "default": "P-PDG",
                           "description": "Key of the downhole-gauge pressure (Pa); null disables that condition." },
            "lookback_s": secs(600, "Lookback Δt: drops are measured from the highest bucket mean of the last Δt."),
            "bucket_s": { "type": "integer", "minimum": 1, "default": 10,
                          "description": "Averaging bucket width; lookback_s / bucket_s must be 2..300." },
            "t_drop_pct": pct(20.0, "T-TPT must fall by more than this percentage ..."),
            "t_drop_c": { "type": "number", "exclusiveMinimum": 0, "default": 10.0,
                          "description": "... or by more than this many °C." },
            "p_drop_pct": pct(15.0, "P-TPT must fall by more than this percentage."),
            "pdg_max_drop_pct": pct(1.0, "P-PDG must not fall by more than this percentage."),
            "min_pressure_pa": { "type": "number", "exclusiveMinimum": 0, "default": 100000.0,
                                 "description": "Pressure references below this are not trusted." },
            "stale_s": secs(60, "A variable silent for longer than this is unavailable."),
            "confirm_s": secs(0, "The conditions must hold this long before the raise."),
            "clear_after_s": secs(300, "Clear once the conditions (against the pre-event levels) have failed this long."),
            "severity": severity_schema("critical", "Severity of the raised alarm (case-insensitive)."),
            "alarm_type": { "type": "string", "minLength": 1, "default": "DhsvClosure",
                            "description": "Alarm type of the signals." }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_signature() {
        let cfg = parse_config("").expect("defaults");
        assert_eq!(cfg, DhsvConfig::default());
        assert_eq!((cfg.t_tpt_key.as_str(), cfg.p_tpt_key.as_str()), ("T-TPT", "P-TPT"));
        assert_eq!(cfg.p_pdg_key.as_deref(), Some("P-PDG"));
        assert_eq!((cfg.lookback_ms, cfg.bucket_ms), (600_000, 10_000));
        assert_eq!((cfg.t_drop_pct, cfg.t_drop_c, cfg.p_drop_pct, cfg.pdg_max_drop_pct), (20.0, 10.0, 15.0, 1.0));
        assert_eq!((cfg.confirm_ms, cfg.clear_after_ms, cfg.stale_ms), (0, 300_000, 60_000));
        assert_eq!(cfg.severity, Severity::Critical);
        assert_eq!(cfg.alarm_type, "DhsvClosure");
    }

    #[test]
    fn everything_can_be_set() {
        let cfg = parse_config(
            r#"{"t_tpt_key": "tt", "p_tpt_key": "pt", "p_pdg_key": null, "lookback_s": 300, "bucket_s": 5,
                "t_drop_pct": 25, "t_drop_c": 8, "p_drop_pct": 10, "pdg_max_drop_pct": 2,
                "min_pressure_pa": 1000, "stale_s": 30, "confirm_s": 20, "clear_after_s": 60,
                "severity": "MAJOR", "alarm_type": "Dhsv"}"#,
        )
        .expect("valid");
        assert_eq!(cfg.p_pdg_key, None);
        assert_eq!((cfg.lookback_ms, cfg.bucket_ms, cfg.confirm_ms), (300_000, 5_000, 20_000));
        assert_eq!((cfg.severity, cfg.alarm_type.as_str()), (Severity::Major, "Dhsv"));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{"unknown": 1}"#,
            r#"{"t_tpt_key": ""}"#,
            r#"{"p_pdg_key": "T-TPT"}"#,
            r#"{"bucket_s": 0}"#,
            r#"{"lookback_s": 10}"#,
            r#"{"lookback_s": 3010}"#,
            r#"{"t_drop_pct": 0}"#,
            r#"{"p_drop_pct": 100}"#,
            r#"{"t_drop_c": -1}"#,
            r#"{"min_pressure_pa": 0}"#,
            r#"{"severity": "fatal"}"#,
            r#"{"alarm_type": ""}"#,
            r#"{"confirm_s": -1}"#,
            "[]",
            "nope",
        ] {
            let err = parse_config(bad).expect_err(bad);
            assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
        }
    }

    #[test]
    fn schema_is_draft_2020_12() {
        let schema = config_schema();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["properties"]["lookback_s"]["default"], 600);
    }
}
