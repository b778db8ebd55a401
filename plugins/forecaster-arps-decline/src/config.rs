//! The binding configuration: which rate to forecast and from where, how
//! far ahead, at which interval level and down to which economic limit.
//! Every field has a default; the checks run in `Deserialize`, so the
//! component and the tests parse it the same way (errors are
//! `invalid-config`).

use nexus_plugin_sdk::config::{non_empty, non_negative};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Where the rate history comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Daily means of the telemetry key `key` read through `host.history`.
    Telemetry,
    /// The oil rates of the well's recorded tests.
    WellTests,
    /// Telemetry when it gives at least `min_points` days, else the tests.
    Auto,
}

/// The binding configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Raw")]
pub struct Config {
    /// Telemetry key of the rate (bbl/d); also the forecast's key.
    pub key: String,
    /// Where the history comes from.
    pub source: Source,
    /// Days of history read before now.
    pub window_days: u32,
    /// Fewest points (days or tests) to fit; fewer gives no forecast.
    pub min_points: usize,
    /// Days forecast after now.
    pub horizon_days: u32,
    /// Days between forecast points.
    pub step_days: u32,
    /// Two-sided prediction-interval level (0.8: P90 to P10).
    pub interval: f64,
    /// Rate at which the well is abandoned, bbl/d (0: EUR to the horizon).
    pub economic_limit_bbl_d: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            key: "oil_rate".into(),
            source: Source::Auto,
            window_days: 365,
            min_points: 6,
            horizon_days: 365,
            step_days: 30,
            interval: 0.8,
            economic_limit_bbl_d: 5.0,
        }
    }
}

/// The configuration as written, before its checks.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    key: String,
    source: Source,
    window_days: u32,
    min_points: usize,
    horizon_days: u32,
    step_days: u32,
    interval: f64,
    economic_limit_bbl_d: f64,
}

impl Default for Raw {
    fn default() -> Self {
        let d = Config::default();
        Self {
            key: d.key,
            source: d.source,
            window_days: d.window_days,
            min_points: d.min_points,
            horizon_days: d.horizon_days,
            step_days: d.step_days,
            interval: d.interval,
            economic_limit_bbl_d: d.economic_limit_bbl_d,
        }
    }
}

/// Longest history window and horizon, days (ten and a hundred years).
const MAX_WINDOW_DAYS: u32 = 3_660;
const MAX_HORIZON_DAYS: u32 = 36_525;
/// Most forecast points.
const MAX_POINTS: u32 = 3_660;

impl TryFrom<Raw> for Config {
    type Error = String;

    fn try_from(raw: Raw) -> Result<Self, String> {
        let days = |name: &str, v: u32, max: u32| {
            if (1..=max).contains(&v) { Ok(v) } else { Err(format!("`{name}` must be in [1, {max}] days, got {v}")) }
        };
        if raw.min_points < crate::fit::MIN_POINTS {
            return Err(format!("`min_points` must be at least {}, got {}", crate::fit::MIN_POINTS, raw.min_points));
        }
        if !(raw.interval > 0.0 && raw.interval < 1.0) {
            return Err(format!("`interval` must be in (0, 1), got {}", raw.interval));
        }
        let horizon_days = days("horizon_days", raw.horizon_days, MAX_HORIZON_DAYS)?;
        let step_days = days("step_days", raw.step_days, horizon_days)?;
        if horizon_days / step_days > MAX_POINTS {
            return Err(format!("`horizon_days`/`step_days` gives more than {MAX_POINTS} points"));
        }
        Ok(Self {
            key: non_empty("key", raw.key)?,
            source: raw.source,
            window_days: days("window_days", raw.window_days, MAX_WINDOW_DAYS)?,
            min_points: raw.min_points,
            horizon_days,
            step_days,
            interval: raw.interval,
            economic_limit_bbl_d: non_negative("economic_limit_bbl_d", raw.economic_limit_bbl_d)?,
        })
    }
}

/// Parses a binding configuration (empty text: all defaults).
pub fn parse(json: &str) -> Result<Config, nexus_plugin_sdk::PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// The JSON Schema of the configuration.
pub fn schema() -> serde_json::Value {
    let d = Config::default();
    let days = |default: u32, max: u32, description: &str| json!({ "type": "integer", "minimum": 1, "maximum": max, "default": default, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "forecaster-arps-decline configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "key": { "type": "string", "minLength": 1, "default": d.key,
                     "description": "Telemetry key of the rate, bbl/d; also the forecast's key." },
            "source": { "enum": ["telemetry", "well_tests", "auto"], "default": "auto",
                        "description": "History: daily means of `key`, the well tests' oil rates, or telemetry when it has `min_points` days, else the tests." },
            "window_days": days(d.window_days, MAX_WINDOW_DAYS, "Days of telemetry read before now."),
            "min_points": { "type": "integer", "minimum": crate::fit::MIN_POINTS, "default": d.min_points,
                            "description": "Fewest points (days or tests) to fit." },
            "horizon_days": days(d.horizon_days, MAX_HORIZON_DAYS, "Days forecast after now."),
            "step_days": days(d.step_days, MAX_HORIZON_DAYS, "Days between forecast points (at most `horizon_days`)."),
            "interval": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": d.interval,
                          "description": "Prediction-interval level (0.8: P90–P10)." },
            "economic_limit_bbl_d": { "type": "number", "minimum": 0, "default": d.economic_limit_bbl_d,
                                      "description": "Abandonment rate for the EUR, bbl/d (0: EUR to the horizon)." }
        }
    })
}
