//! The binding configuration: the watched key, the limits, the deadband and
//! the minimum duration, validated when it is deserialized.

use nexus_plugin_sdk::config::{finite, non_empty, non_negative, severity_or, severity_schema};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::Deserialize;
use serde_json::json;

/// The binding configuration as written in JSON, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    key: String,
    #[serde(default)]
    high: Option<f64>,
    #[serde(default)]
    low: Option<f64>,
    #[serde(default)]
    deadband: f64,
    #[serde(default)]
    min_duration_ms: u64,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    alarm_type: Option<String>,
}

/// A validated threshold configuration.
///
/// Deserialize it with [`parse_config`] (or `serde_json`): the JSON form is
/// `{"key": "motor_temperature", "high": 150.0, "low": null, "deadband": 5.0,
/// "min_duration_ms": 0, "severity": "major", "alarm_type": "HighMotorTemperature"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct ThresholdConfig {
    /// Telemetry key watched, e.g. `motor_temperature`.
    pub key: String,
    /// Upper limit: a value above it violates.
    pub high: Option<f64>,
    /// Lower limit: a value below it violates.
    pub low: Option<f64>,
    /// How far back inside the limits a value must be to clear (≥ 0).
    pub deadband: f64,
    /// How long a violation must last before the alarm is raised.
    pub min_duration_ms: u64,
    /// Severity of the raised alarm.
    pub severity: Severity,
    /// Alarm type; defaults to `{key}_out_of_range`.
    pub alarm_type: String,
}

impl TryFrom<RawConfig> for ThresholdConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        let key = non_empty("key", raw.key)?;
        if raw.high.is_none() && raw.low.is_none() {
            return Err("at least one of `high` and `low` must be set".into());
        }
        let high = raw.high.map(|v| finite("high", v)).transpose()?;
        let low = raw.low.map(|v| finite("low", v)).transpose()?;
        let deadband = non_negative("deadband", raw.deadband)?;
        if let (Some(high), Some(low)) = (high, low) {
            if low >= high {
                return Err(format!("`low` ({low}) must be below `high` ({high})"));
            }
            if high - deadband < low + deadband {
                return Err(format!(
                    "`deadband` ({deadband}) leaves no clear band between `low` ({low}) and `high` ({high})"
                ));
            }
        }
        let severity = severity_or("severity", raw.severity.as_deref(), Severity::Major)?;
        let alarm_type = match raw.alarm_type {
            Some(t) => non_empty("alarm_type", t)?,
            None => format!("{key}_out_of_range"),
        };
        Ok(Self { key, high, low, deadband, min_duration_ms: raw.min_duration_ms, severity, alarm_type })
    }
}

/// Parses and validates a binding configuration; any problem is a
/// `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<ThresholdConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-threshold configuration",
        "type": "object",
        "additionalProperties": false,
        "required": ["key"],
        "anyOf": [
            { "required": ["high"], "properties": { "high": { "type": "number" } } },
            { "required": ["low"], "properties": { "low": { "type": "number" } } }
        ],
        "properties": {
            "key": {
                "type": "string",
                "minLength": 1,
                "description": "Telemetry key to watch, e.g. motor_temperature."
            },
            "high": {
                "type": ["number", "null"],
                "description": "Raise when the value goes above this limit."
            },
            "low": {
                "type": ["number", "null"],
                "description": "Raise when the value goes below this limit."
            },
            "deadband": {
                "type": "number",
                "minimum": 0,
                "default": 0,
                "description": "Clear only when the value is back inside the limits by at least this much."
            },
            "min_duration_ms": {
                "type": "integer",
                "minimum": 0,
                "default": 0,
                "description": "Raise only after the violation has lasted this long."
            },
            "severity": severity_schema("major", "Severity of the raised alarm (case-insensitive)."),
            "alarm_type": {
                "type": "string",
                "minLength": 1,
                "description": "Alarm type; defaults to \"{key}_out_of_range\"."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ThresholdConfig {
        parse_config(json).expect("valid config")
    }

    #[test]
    fn defaults_are_applied() {
        let cfg = config(r#"{"key": "motor_temperature", "high": 150}"#);
        assert_eq!(cfg.deadband, 0.0);
        assert_eq!(cfg.min_duration_ms, 0);
        assert_eq!(cfg.severity, Severity::Major);
        assert_eq!(cfg.alarm_type, "motor_temperature_out_of_range");
        assert_eq!(cfg.low, None);
    }

    #[test]
    fn full_example_config_parses() {
        let cfg = config(
            r#"{"key": "motor_temperature", "high": 150.0, "low": null, "deadband": 5.0,
                "min_duration_ms": 0, "severity": "CRITICAL", "alarm_type": "HighMotorTemperature"}"#,
        );
        assert_eq!(cfg.severity, Severity::Critical);
        assert_eq!(cfg.alarm_type, "HighMotorTemperature");
        assert_eq!(cfg.high, Some(150.0));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{"high": 1}"#,
            r#"{"key": "t"}"#,
            r#"{"key": "", "high": 1}"#,
            r#"{"key": "t", "high": null, "low": null}"#,
            r#"{"key": "t", "high": 1, "severity": "catastrophic"}"#,
            r#"{"key": "t", "high": 1, "alarm_type": ""}"#,
            r#"{"key": "t", "high": 1, "unknown": true}"#,
            r#"{"key": "t", "high": 1, "deadband": -1}"#,
            r#"{"key": "t", "high": 1, "low": 2}"#,
            r#"{"key": "t", "high": 10, "low": 0, "deadband": 6}"#,
            r#"{"key": "t", "high": 1, "min_duration_ms": -5}"#,
            "",
            "not json",
            r#"["t", 1]"#,
            "null",
        ] {
            let err = parse_config(bad).expect_err(bad);
            assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
        }
    }

    #[test]
    fn schema_is_valid_json_with_draft_2020_12() {
        let schema = config_schema();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["required"][0], "key");
        assert_eq!(schema["properties"]["severity"]["default"], "major");
    }
}
