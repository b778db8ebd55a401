//! The binding configuration: the watched key, the step size and timings
//! (defaults: the paper's "5 % within 10 s", confirmed over 60 s), validated
//! once per call.

use std::ops::Bound::{Excluded, Included};

use nexus_plugin_sdk::config::{in_range, non_empty, positive, seconds_ms, severity_or, severity_schema};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::Deserialize;
use serde_json::json;

/// Most buckets the trailing window may hold (`(rise_window_s + baseline_s) /
/// bucket_s`): keeps the state well under the host's 48 KiB per value.
pub const MAX_BUCKETS: u64 = 900;

/// The binding configuration as written in JSON, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_key")]
    key: String,
    #[serde(default = "default_rise_pct")]
    rise_pct: f64,
    #[serde(default = "default_rise_window_s")]
    rise_window_s: u64,
    #[serde(default = "default_baseline_s")]
    baseline_s: u64,
    #[serde(default = "default_confirm_s")]
    confirm_s: u64,
    #[serde(default)]
    confirm_pct: Option<f64>,
    #[serde(default)]
    clear_pct: Option<f64>,
    #[serde(default = "default_clear_after_s")]
    clear_after_s: u64,
    #[serde(default = "default_bucket_s")]
    bucket_s: u64,
    #[serde(default = "default_min_level_pa")]
    min_level_pa: f64,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default = "default_alarm_type")]
    alarm_type: String,
}

fn default_key() -> String {
    "P-MON-CKP".into()
}
fn default_rise_pct() -> f64 {
    5.0
}
fn default_rise_window_s() -> u64 {
    10
}
fn default_baseline_s() -> u64 {
    60
}
fn default_confirm_s() -> u64 {
    60
}
fn default_clear_after_s() -> u64 {
    120
}
fn default_bucket_s() -> u64 {
    1
}
fn default_min_level_pa() -> f64 {
    1e5
}
fn default_alarm_type() -> String {
    "PckRestriction".into()
}

/// A validated configuration (see the crate README for the JSON form).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct PckConfig {
    /// Key of the pressure upstream of the production choke (Pa), default `P-MON-CKP`.
    pub key: String,
    /// The step: the level must rise at least this percentage above the pre-step level ...
    pub rise_pct: f64,
    /// ... within this time (ms): the pre-step level is the highest bucket
    /// of the baseline window that ends `rise_window` before now.
    pub rise_window_ms: i64,
    /// Length of the baseline window (ms).
    pub baseline_ms: i64,
    /// The level must stay at least `confirm_pct` above the pre-step level
    /// for this long (ms) after the step before the raise.
    pub confirm_ms: i64,
    /// Confirmation margin in percent (default `rise_pct`).
    pub confirm_pct: f64,
    /// While raised, a level below `clear_pct` above the pre-step level ...
    pub clear_pct: f64,
    /// ... for this long (ms) clears the alarm.
    pub clear_after_ms: i64,
    /// Averaging bucket width (ms); 1 s keeps 1 Hz data as it is.
    pub bucket_ms: i64,
    /// A pre-step level below this (Pa) is not trusted (offsets, dead gauges).
    pub min_level_pa: f64,
    /// Severity of the raised alarm.
    pub severity: Severity,
    /// Alarm type of the signals.
    pub alarm_type: String,
}

impl Default for PckConfig {
    fn default() -> Self {
        let ms = |s: u64| i64::try_from(s * 1000).unwrap_or(i64::MAX);
        Self {
            key: default_key(),
            rise_pct: default_rise_pct(),
            rise_window_ms: ms(default_rise_window_s()),
            baseline_ms: ms(default_baseline_s()),
            confirm_ms: ms(default_confirm_s()),
            confirm_pct: default_rise_pct(),
            clear_pct: default_rise_pct() / 2.0,
            clear_after_ms: ms(default_clear_after_s()),
            bucket_ms: ms(default_bucket_s()),
            min_level_pa: default_min_level_pa(),
            severity: Severity::Major,
            alarm_type: default_alarm_type(),
        }
    }
}

/// A percentage in [0, 1000].
fn percentage(name: &str, value: f64) -> Result<f64, String> {
    in_range(name, value, 0.0..=1000.0)
}

impl TryFrom<RawConfig> for PckConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        let key = non_empty("key", raw.key)?;
        let rise_pct = in_range("rise_pct", raw.rise_pct, (Excluded(0.0), Included(1000.0)))?;
        let confirm_pct = percentage("confirm_pct", raw.confirm_pct.unwrap_or(rise_pct))?;
        let clear_pct = percentage("clear_pct", raw.clear_pct.unwrap_or(rise_pct / 2.0))?;
        if clear_pct > confirm_pct {
            return Err(format!("`clear_pct` ({clear_pct}) must not exceed `confirm_pct` ({confirm_pct})"));
        }
        if raw.bucket_s == 0 {
            return Err("`bucket_s` must be at least 1".into());
        }
        if raw.rise_window_s < raw.bucket_s || raw.baseline_s < raw.bucket_s {
            return Err("`rise_window_s` and `baseline_s` must be at least `bucket_s`".into());
        }
        if (raw.rise_window_s + raw.baseline_s) / raw.bucket_s > MAX_BUCKETS {
            return Err(format!(
                "`rise_window_s + baseline_s` ({}) must span at most {MAX_BUCKETS} buckets of `bucket_s` ({})",
                raw.rise_window_s + raw.baseline_s,
                raw.bucket_s
            ));
        }
        Ok(Self {
            key,
            rise_pct,
            rise_window_ms: seconds_ms("rise_window_s", raw.rise_window_s)?,
            baseline_ms: seconds_ms("baseline_s", raw.baseline_s)?,
            confirm_ms: seconds_ms("confirm_s", raw.confirm_s)?,
            confirm_pct,
            clear_pct,
            clear_after_ms: seconds_ms("clear_after_s", raw.clear_after_s)?,
            bucket_ms: seconds_ms("bucket_s", raw.bucket_s)?,
            min_level_pa: positive("min_level_pa", raw.min_level_pa)?,
            severity: severity_or("severity", raw.severity.as_deref(), Severity::Major)?,
            alarm_type: non_empty("alarm_type", raw.alarm_type)?,
        })
    }
}

/// Parses and validates a binding configuration (empty text means all
/// defaults); any problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<PckConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> serde_json::Value {
    let secs = |minimum: u64, default: u64, description: &str| json!({ "type": "integer", "minimum": minimum, "default": default, "description": description });
    let pct =
        |description: &str| json!({ "type": "number", "minimum": 0, "maximum": 1000, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-pck-restriction configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "key": { "type": "string", "minLength": 1, "default": "P-MON-CKP",
                     "description": "Key of the pressure upstream of the production choke (Pa)." },
            "rise_pct": { "type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 5.0,
                          "description": "Step size: rise above the pre-step level, in percent ..." },
            "rise_window_s": secs(1, 10, "... within this time."),
            "baseline_s": secs(1, 60, "Baseline window before the rise; its highest bucket is the pre-step level."),
            "confirm_s": secs(0, 60, "The level must stay confirm_pct above the pre-step level this long."),
            "confirm_pct": pct("Confirmation margin in percent (default rise_pct)."),
            "clear_pct": pct("While raised, a level below this percent above the pre-step level ... (default rise_pct / 2)"),
            "clear_after_s": secs(0, 120, "... for this long clears the alarm."),
            "bucket_s": secs(1, 1, "Averaging bucket width; (rise_window_s + baseline_s) / bucket_s ≤ 900."),
            "min_level_pa": { "type": "number", "exclusiveMinimum": 0, "default": 100000.0,
                              "description": "Pre-step levels below this are not trusted." },
            "severity": severity_schema("major", "Severity of the raised alarm (case-insensitive)."),
            "alarm_type": { "type": "string", "minLength": 1, "default": "PckRestriction",
                            "description": "Alarm type of the signals." }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_paper_definition() {
        let cfg = parse_config("").expect("defaults");
        assert_eq!(cfg, PckConfig::default());
        assert_eq!(cfg.key, "P-MON-CKP");
        assert_eq!((cfg.rise_pct, cfg.confirm_pct, cfg.clear_pct), (5.0, 5.0, 2.5));
        assert_eq!((cfg.rise_window_ms, cfg.baseline_ms, cfg.confirm_ms), (10_000, 60_000, 60_000));
        assert_eq!((cfg.clear_after_ms, cfg.bucket_ms), (120_000, 1_000));
        assert_eq!((cfg.severity, cfg.alarm_type.as_str()), (Severity::Major, "PckRestriction"));
    }

    #[test]
    fn everything_can_be_set() {
        let cfg = parse_config(
            r#"{"key": "pmon", "rise_pct": 3, "rise_window_s": 120, "baseline_s": 300, "confirm_s": 30,
                "confirm_pct": 2, "clear_pct": 1, "clear_after_s": 600, "bucket_s": 5,
                "min_level_pa": 1000, "severity": "critical", "alarm_type": "Pck"}"#,
        )
        .expect("valid");
        assert_eq!((cfg.rise_pct, cfg.confirm_pct, cfg.clear_pct), (3.0, 2.0, 1.0));
        assert_eq!((cfg.rise_window_ms, cfg.baseline_ms, cfg.bucket_ms), (120_000, 300_000, 5_000));
        assert_eq!((cfg.severity, cfg.alarm_type.as_str()), (Severity::Critical, "Pck"));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{"unknown": 1}"#,
            r#"{"key": ""}"#,
            r#"{"rise_pct": 0}"#,
            r#"{"rise_pct": -5}"#,
            r#"{"clear_pct": 6}"#,
            r#"{"bucket_s": 0}"#,
            r#"{"rise_window_s": 0}"#,
            r#"{"baseline_s": 900}"#,
            r#"{"min_level_pa": 0}"#,
            r#"{"severity": "fatal"}"#,
            r#"{"alarm_type": ""}"#,
            "[]",
            "nope",
        ] {
            let err = parse_config(bad).expect_err(bad);
            assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
        }
    }

    #[test]
    fn schema_is_draft_2020_12() {
        assert_eq!(config_schema()["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
}
