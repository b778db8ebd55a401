//! The binding configuration: the watched key, the step size and timings,
//! and the discriminators, validated once per call. The defaults are the
//! restriction profile measured on the 3W data (a 3 % rise of P-MON-CKP
//! within 5 min, confirmed over 60 s, with the discriminators);
//! [`PckConfig::paper_reading`] is a pressure-based reading of the paper's
//! choke-opening definition (5 % within 10 s, no discriminators).

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
    #[serde(default)]
    discriminators: RawDiscriminators,
}

/// The discriminators as written in JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawDiscriminators {
    enabled: bool,
    required: bool,
    p_tpt_key: Option<String>,
    t_jus_ckp_key: Option<String>,
    qgl_key: Option<String>,
    tpt_min_rise_pct: f64,
    mon_over_tpt: f64,
    t_min_fall_c: f64,
    qgl_max_change_pct: f64,
    bucket_s: u64,
}

impl Default for RawDiscriminators {
    fn default() -> Self {
        let d = Discriminators::default();
        Self {
            enabled: d.enabled,
            required: d.required,
            p_tpt_key: d.p_tpt_key,
            t_jus_ckp_key: d.t_jus_ckp_key,
            qgl_key: d.qgl_key,
            tpt_min_rise_pct: d.tpt_min_rise_pct,
            mon_over_tpt: d.mon_over_tpt,
            t_min_fall_c: d.t_min_fall_c,
            qgl_max_change_pct: d.qgl_max_change_pct,
            bucket_s: (d.bucket_ms / 1000) as u64,
        }
    }
}

/// Other keys that must move as a restriction moves them (see
/// [`crate::discriminate`]). A key set to `null` is not used.
#[derive(Debug, Clone, PartialEq)]
pub struct Discriminators {
    /// Whether a failed discriminator blocks the raise (otherwise the
    /// values are only reported in the raise's details).
    pub enabled: bool,
    /// Whether a step whose P-TPT or T-JUS-CKP cannot be judged (no data) fails.
    pub required: bool,
    /// Tree pressure (Pa), default `P-TPT`.
    pub p_tpt_key: Option<String>,
    /// Temperature downstream of the choke (°C), default `T-JUS-CKP`.
    pub t_jus_ckp_key: Option<String>,
    /// Gas-lift flow, default `QGL`.
    pub qgl_key: Option<String>,
    /// P-TPT must rise by more than this, % ...
    pub tpt_min_rise_pct: f64,
    /// ... and P-MON-CKP's rise (%) must be at least this multiple of P-TPT's.
    pub mon_over_tpt: f64,
    /// T-JUS-CKP must fall by more than this, °C.
    pub t_min_fall_c: f64,
    /// QGL must change by at most this, %.
    pub qgl_max_change_pct: f64,
    /// Bucket width of the auxiliary keys, ms.
    pub bucket_ms: i64,
}

impl Default for Discriminators {
    fn default() -> Self {
        Self {
            enabled: true,
            required: true,
            p_tpt_key: Some("P-TPT".into()),
            t_jus_ckp_key: Some("T-JUS-CKP".into()),
            qgl_key: Some("QGL".into()),
            tpt_min_rise_pct: 0.0,
            mon_over_tpt: 1.0,
            t_min_fall_c: 0.0,
            qgl_max_change_pct: 5.0,
            bucket_ms: 10_000,
        }
    }
}

impl TryFrom<RawDiscriminators> for Discriminators {
    type Error = String;

    fn try_from(raw: RawDiscriminators) -> Result<Self, String> {
        let key = |name: &str, key: Option<String>| key.map(|k| non_empty(name, k)).transpose();
        if raw.bucket_s == 0 || raw.bucket_s > 60 {
            return Err("`discriminators.bucket_s` must be 1 to 60".into());
        }
        Ok(Self {
            enabled: raw.enabled,
            required: raw.required,
            p_tpt_key: key("discriminators.p_tpt_key", raw.p_tpt_key)?,
            t_jus_ckp_key: key("discriminators.t_jus_ckp_key", raw.t_jus_ckp_key)?,
            qgl_key: key("discriminators.qgl_key", raw.qgl_key)?,
            tpt_min_rise_pct: in_range("discriminators.tpt_min_rise_pct", raw.tpt_min_rise_pct, -100.0..=1000.0)?,
            mon_over_tpt: in_range("discriminators.mon_over_tpt", raw.mon_over_tpt, 0.0..=1000.0)?,
            t_min_fall_c: in_range("discriminators.t_min_fall_c", raw.t_min_fall_c, -100.0..=100.0)?,
            qgl_max_change_pct: percentage("discriminators.qgl_max_change_pct", raw.qgl_max_change_pct)?,
            bucket_ms: seconds_ms("discriminators.bucket_s", raw.bucket_s)?,
        })
    }
}

fn default_key() -> String {
    "P-MON-CKP".into()
}
fn default_rise_pct() -> f64 {
    3.0
}
fn default_rise_window_s() -> u64 {
    300
}
fn default_baseline_s() -> u64 {
    300
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
    /// The discriminators.
    pub discriminators: Discriminators,
}

impl PckConfig {
    /// A pressure-based reading of the 3W paper's definition of the event —
    /// the production choke closing by more than 5 % in under 10 s, read as
    /// P-MON-CKP rising at least 5 % within 10 s (3W has no choke position)
    /// — confirmed over 60 s, without discriminators. As JSON:
    /// `{"rise_pct": 5, "rise_window_s": 10, "baseline_s": 60, "discriminators": {"enabled": false}}`.
    pub fn paper_reading() -> Self {
        Self {
            rise_pct: 5.0,
            rise_window_ms: 10_000,
            baseline_ms: 60_000,
            confirm_pct: 5.0,
            clear_pct: 2.5,
            discriminators: Discriminators { enabled: false, ..Discriminators::default() },
            ..Self::default()
        }
    }
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
            discriminators: Discriminators::default(),
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
            discriminators: Discriminators::try_from(raw.discriminators)?,
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
            "rise_pct": { "type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 3.0,
                          "description": "Step size: rise above the pre-step level, in percent ..." },
            "rise_window_s": secs(1, 300, "... within this time."),
            "baseline_s": secs(1, 300, "Baseline window before the rise; its highest bucket is the pre-step level."),
            "confirm_s": secs(0, 60, "The level must stay confirm_pct above the pre-step level this long."),
            "confirm_pct": pct("Confirmation margin in percent (default rise_pct)."),
            "clear_pct": pct("While raised, a level below this percent above the pre-step level ... (default rise_pct / 2)"),
            "clear_after_s": secs(0, 120, "... for this long clears the alarm."),
            "bucket_s": secs(1, 1, "Averaging bucket width; (rise_window_s + baseline_s) / bucket_s ≤ 900."),
            "min_level_pa": { "type": "number", "exclusiveMinimum": 0, "default": 100000.0,
                              "description": "Pre-step levels below this are not trusted." },
            "severity": severity_schema("major", "Severity of the raised alarm (case-insensitive)."),
            "alarm_type": { "type": "string", "minLength": 1, "default": "PckRestriction",
                            "description": "Alarm type of the signals." },
            "discriminators": {
                "type": "object",
                "additionalProperties": false,
                "description": "Other keys that must move as a restriction moves them; a key set to null is not used.",
                "properties": {
                    "enabled": { "type": "boolean", "default": true, "description": "A failed discriminator blocks the raise (else the values are only reported)." },
                    "required": { "type": "boolean", "default": true, "description": "A step whose P-TPT or T-JUS-CKP cannot be judged is not raised." },
                    "p_tpt_key": { "type": ["string", "null"], "default": "P-TPT" },
                    "t_jus_ckp_key": { "type": ["string", "null"], "default": "T-JUS-CKP" },
                    "qgl_key": { "type": ["string", "null"], "default": "QGL" },
                    "tpt_min_rise_pct": { "type": "number", "default": 0.0, "description": "P-TPT must rise by more than this, %." },
                    "mon_over_tpt": { "type": "number", "minimum": 0, "default": 1.0, "description": "P-MON-CKP's rise must be at least this multiple of P-TPT's (%)." },
                    "t_min_fall_c": { "type": "number", "default": 0.0, "description": "T-JUS-CKP must fall by more than this, °C." },
                    "qgl_max_change_pct": { "type": "number", "minimum": 0, "default": 5.0, "description": "QGL must change by at most this, %." },
                    "bucket_s": { "type": "integer", "minimum": 1, "maximum": 60, "default": 10, "description": "Bucket width of these keys." }
                }
            }
        }
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
