//! The binding configuration: parsing, validation and its JSON Schema.

use nexus_plugin_sdk::config::{distinct_keys, in_range, non_empty, non_negative, severity, severity_schema};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::Deserialize;
use serde_json::json;

/// Most rows in a window.
pub const MAX_WINDOW: usize = 3600;
/// Most training windows.
pub const MAX_TRAIN_WINDOWS: usize = 64;
/// Most trees.
pub const MAX_TREES: usize = 1000;
/// Largest sub-sample size.
pub const MAX_SAMPLE_SIZE: usize = 4096;
/// Most variables (telemetry keys) one device's model may use.
pub const MAX_KEYS: usize = 64;

/// The binding configuration as written in JSON, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    window: usize,
    train_windows: usize,
    trees: usize,
    sample_size: usize,
    seed: u64,
    keys: Option<Vec<String>>,
    min_std: f64,
    alarm_type: String,
    severity: String,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            window: 180,
            train_windows: 9,
            trees: 100,
            sample_size: 256,
            seed: 1,
            keys: None,
            min_std: 0.01,
            alarm_type: "Anomaly".into(),
            severity: "major".into(),
        }
    }
}

/// A validated configuration. The JSON form, with the defaults:
/// `{"window": 180, "train_windows": 9, "trees": 100, "sample_size": 256,
/// "seed": 1, "keys": null, "min_std": 0.01, "alarm_type": "Anomaly",
/// "severity": "major"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct ForestConfig {
    /// Rows per window (2..=3600).
    pub window: usize,
    /// Windows that train the model before any is scored (2..=64).
    pub train_windows: usize,
    /// Trees of the forest (1..=1000).
    pub trees: usize,
    /// Sub-sample size ψ before capping at the number of training windows (2..=4096).
    pub sample_size: usize,
    /// Seed of the forest's generator.
    pub seed: u64,
    /// The keys used as variables; `None`: every key seen during training.
    pub keys: Option<Vec<String>>,
    /// Variables whose standard deviation over the training rows is at most
    /// this are dropped (≥ 0).
    pub min_std: f64,
    /// Alarm type of the signals.
    pub alarm_type: String,
    /// Severity of raised alarms.
    pub severity: Severity,
}

impl Default for ForestConfig {
    fn default() -> Self {
        // The same values as `RawConfig::default()` (a test checks they agree).
        Self {
            window: 180,
            train_windows: 9,
            trees: 100,
            sample_size: 256,
            seed: 1,
            keys: None,
            min_std: 0.01,
            alarm_type: "Anomaly".into(),
            severity: Severity::Major,
        }
    }
}

impl TryFrom<RawConfig> for ForestConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if let Some(keys) = &raw.keys {
            in_range("number of keys", keys.len(), 1..=MAX_KEYS)?;
            distinct_keys(keys.iter().enumerate().map(|(i, key)| (format!("keys[{i}]"), key.as_str())))?;
        }
        Ok(Self {
            window: in_range("window", raw.window, 2..=MAX_WINDOW)?,
            train_windows: in_range("train_windows", raw.train_windows, 2..=MAX_TRAIN_WINDOWS)?,
            trees: in_range("trees", raw.trees, 1..=MAX_TREES)?,
            sample_size: in_range("sample_size", raw.sample_size, 2..=MAX_SAMPLE_SIZE)?,
            seed: raw.seed,
            keys: raw.keys,
            min_std: non_negative("min_std", raw.min_std)?,
            alarm_type: non_empty("alarm_type", raw.alarm_type)?,
            severity: severity("severity", &raw.severity)?,
        })
    }
}

/// Parses and validates a configuration (empty text means all defaults); any
/// problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<ForestConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// The JSON Schema (draft 2020-12) of the configuration.
pub fn config_schema() -> serde_json::Value {
    let int = |min: usize, max: usize, default: usize, description: &str| json!({ "type": "integer", "minimum": min, "maximum": max, "default": default, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-isolation-forest configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "window": int(2, MAX_WINDOW, 180, "Rows per window (one row per distinct timestamp)."),
            "train_windows": int(2, MAX_TRAIN_WINDOWS, 9, "Windows that train the model before any is scored."),
            "trees": int(1, MAX_TREES, 100, "Trees of the Isolation Forest."),
            "sample_size": int(2, MAX_SAMPLE_SIZE, 256, "Sub-sample size per tree, capped at train_windows."),
            "seed": {
                "type": "integer", "minimum": 0, "default": 1,
                "description": "Seed of the forest's random generator."
            },
            "keys": {
                "type": ["array", "null"], "items": { "type": "string", "minLength": 1 },
                "minItems": 1, "maxItems": MAX_KEYS, "uniqueItems": true, "default": null,
                "description": "Telemetry keys used as variables; null: every key seen during training."
            },
            "min_std": {
                "type": "number", "minimum": 0, "default": 0.01,
                "description": "Drop variables whose standard deviation over the training rows is at most this."
            },
            "alarm_type": { "type": "string", "minLength": 1, "default": "Anomaly", "description": "Alarm type." },
            "severity": severity_schema("major", "Severity of raised alarms (case-insensitive).")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_benchmark() {
        let cfg = parse_config("").expect("defaults");
        assert_eq!(cfg, ForestConfig::default());
        assert_eq!((cfg.window, cfg.train_windows, cfg.trees, cfg.sample_size, cfg.seed), (180, 9, 100, 256, 1));
        assert_eq!((cfg.keys, cfg.min_std), (None, 0.01));
        assert_eq!((cfg.alarm_type.as_str(), cfg.severity), ("Anomaly", Severity::Major));
    }

    #[test]
    fn a_full_config_parses() {
        let cfg = parse_config(
            r#"{"window": 60, "train_windows": 12, "trees": 50, "sample_size": 8, "seed": 42,
                "keys": ["P-TPT", "T-TPT"], "min_std": 0, "alarm_type": "WellAnomaly", "severity": "MINOR"}"#,
        )
        .expect("valid");
        assert_eq!(cfg.keys, Some(vec!["P-TPT".to_string(), "T-TPT".to_string()]));
        assert_eq!((cfg.window, cfg.seed, cfg.severity), (60, 42, Severity::Minor));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{"window": 1}"#,
            r#"{"window": 100000}"#,
            r#"{"train_windows": 1}"#,
            r#"{"trees": 0}"#,
            r#"{"sample_size": 1}"#,
            r#"{"seed": -1}"#,
            r#"{"keys": []}"#,
            r#"{"keys": ["a", "a"]}"#,
            r#"{"keys": [""]}"#,
            r#"{"min_std": -0.5}"#,
            r#"{"alarm_type": ""}"#,
            r#"{"severity": "catastrophic"}"#,
            r#"{"unknown": 1}"#,
            "[1]",
            "null",
            "not json",
        ] {
            let err = parse_config(bad).expect_err(bad);
            assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
        }
    }

    #[test]
    fn the_schema_lists_every_field() {
        let schema = config_schema();
        let properties = schema["properties"].as_object().expect("properties");
        for field in
            ["window", "train_windows", "trees", "sample_size", "seed", "keys", "min_std", "alarm_type", "severity"]
        {
            assert!(properties.contains_key(field), "{field}");
        }
    }
}
