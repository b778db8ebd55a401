//! The binding configuration: the card key, the mode (idle time or VFD
//! speed), the fillage setpoint and stroke counts, the step sizes and
//! default limits, and the load interlocks. Every field has a default.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// What the controller changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A pump-off controller that stops the unit: the idle (down) time, min.
    IdleTime,
    /// A variable-speed drive: the pumping speed, strokes per minute.
    Vfd,
}

/// The binding configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Telemetry key of the cards (text values, one JSON card each).
    pub card_key: String,
    /// `idle-time` or `vfd`.
    pub mode: Mode,
    /// Setpoint of the idle time, min.
    pub idle_parameter: String,
    /// Setpoint of the pumping speed, SPM.
    pub spm_parameter: String,
    /// Pump fillage below which a stroke is pumped off, 0–1.
    pub fillage_setpoint: f64,
    /// Consecutive newest strokes below the setpoint that mean pump-off.
    pub strokes_below: usize,
    /// Fillage at or above which a stroke is well filled, 0–1.
    pub high_fillage: f64,
    /// Consecutive newest well-filled strokes that mean the well is not pumping off.
    pub strokes_above: usize,
    /// Change of the idle time per recommendation, min (capped by the setpoint's `max_step`).
    pub idle_step_min: f64,
    /// Change of the speed per recommendation, SPM (capped by the setpoint's `max_step`).
    pub spm_step: f64,
    /// Idle-time range when the setpoint has no limits, min.
    pub idle_range_min: [f64; 2],
    /// Speed range when the setpoint has no limits, SPM.
    pub spm_range: [f64; 2],
    /// Buoyant rod weight added to downhole cards for the polished-rod load
    /// limits (and taken from surface cards that carry none), lbf.
    pub buoyant_rod_weight_lbf: f64,
    /// Peak polished-rod load above which nothing is recommended, lbf.
    pub max_peak_load_lbf: Option<f64>,
    /// Minimum polished-rod load below which nothing is recommended, lbf.
    pub min_load_lbf: Option<f64>,
    /// Peak polished-rod load below which the card is a rod part, lbf.
    pub min_peak_load_lbf: Option<f64>,
    /// Load span below which the card is a rod part, lbf.
    pub rod_part_span_lbf: Option<f64>,
    /// A recommendation older than this stops counting as open, ms.
    pub open_recommendation_ttl_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            card_key: "card".into(),
            mode: Mode::IdleTime,
            idle_parameter: "idle_time_min".into(),
            spm_parameter: "spm".into(),
            fillage_setpoint: 0.80,
            strokes_below: 3,
            high_fillage: 0.95,
            strokes_above: 5,
            idle_step_min: 5.0,
            spm_step: 0.5,
            idle_range_min: [15.0, 60.0],
            spm_range: [2.0, 12.0],
            buoyant_rod_weight_lbf: 0.0,
            max_peak_load_lbf: None,
            min_load_lbf: None,
            min_peak_load_lbf: None,
            rod_part_span_lbf: None,
            open_recommendation_ttl_ms: 24 * 3_600_000,
        }
    }
}

impl Config {
    /// Checks the values; a problem is a message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, key) in [
            ("card_key", &self.card_key),
            ("idle_parameter", &self.idle_parameter),
            ("spm_parameter", &self.spm_parameter),
        ] {
            if key.trim().is_empty() {
                return Err(format!("`{name}` must not be empty"));
            }
        }
        let fraction = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(format!("`{name}` must be in (0, 1], got {v}"))
            }
        };
        fraction("fillage_setpoint", self.fillage_setpoint)?;
        fraction("high_fillage", self.high_fillage)?;
        if self.high_fillage <= self.fillage_setpoint {
            return Err("`high_fillage` must be above `fillage_setpoint`".into());
        }
        if self.strokes_below == 0 || self.strokes_above == 0 {
            return Err("`strokes_below` and `strokes_above` must be at least 1".into());
        }
        for (name, v) in [("idle_step_min", self.idle_step_min), ("spm_step", self.spm_step)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("`{name}` must be a number > 0, got {v}"));
            }
        }
        for (name, [lo, hi]) in [("idle_range_min", self.idle_range_min), ("spm_range", self.spm_range)] {
            if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo < hi) {
                return Err(format!("`{name}` must be [min, max] with 0 ≤ min < max, got [{lo}, {hi}]"));
            }
        }
        if !self.buoyant_rod_weight_lbf.is_finite() {
            return Err("`buoyant_rod_weight_lbf` must be a finite number".into());
        }
        for (name, v) in [
            ("max_peak_load_lbf", self.max_peak_load_lbf),
            ("min_load_lbf", self.min_load_lbf),
            ("min_peak_load_lbf", self.min_peak_load_lbf),
            ("rod_part_span_lbf", self.rod_part_span_lbf),
        ] {
            if v.is_some_and(|v| !v.is_finite()) {
                return Err(format!("`{name}` must be a finite number"));
            }
        }
        if self.open_recommendation_ttl_ms < 0 {
            return Err("`open_recommendation_ttl_ms` must be ≥ 0".into());
        }
        Ok(())
    }

    /// The setpoint the mode changes.
    pub fn parameter(&self) -> &str {
        match self.mode {
            Mode::IdleTime => &self.idle_parameter,
            Mode::Vfd => &self.spm_parameter,
        }
    }
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn schema() -> serde_json::Value {
    let d = Config::default();
    let text = |v: &str, description: &str| json!({ "type": "string", "minLength": 1, "default": v, "description": description });
    let num = |v: f64, description: &str| json!({ "type": "number", "exclusiveMinimum": 0, "default": v, "description": description });
    let fraction = |v: f64, description: &str| json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": v, "description": description });
    let count = |v: usize, description: &str| json!({ "type": "integer", "minimum": 1, "default": v, "description": description });
    let range = |v: [f64; 2], description: &str| json!({ "type": "array", "items": { "type": "number", "minimum": 0 }, "minItems": 2, "maxItems": 2, "default": v, "description": description });
    let limit = |description: &str| json!({ "type": "number", "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "optimizer-rod-pump-poc configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "card_key": text(&d.card_key, "Telemetry key of the cards (JSON text, see the README)."),
            "mode": { "enum": ["idle-time", "vfd"], "default": "idle-time", "description": "Change the idle time (stop/start controller) or the speed (VFD)." },
            "idle_parameter": text(&d.idle_parameter, "Setpoint of the idle time, min."),
            "spm_parameter": text(&d.spm_parameter, "Setpoint of the pumping speed, SPM."),
            "fillage_setpoint": fraction(d.fillage_setpoint, "A stroke below this fillage is pumped off."),
            "strokes_below": count(d.strokes_below, "Consecutive newest strokes below the setpoint that mean pump-off."),
            "high_fillage": fraction(d.high_fillage, "A stroke at or above this fillage is well filled."),
            "strokes_above": count(d.strokes_above, "Consecutive newest well-filled strokes that mean no pump-off."),
            "idle_step_min": num(d.idle_step_min, "Idle-time change per recommendation, min."),
            "spm_step": num(d.spm_step, "Speed change per recommendation, SPM."),
            "idle_range_min": range(d.idle_range_min, "Idle-time range when the setpoint has no limits, min."),
            "spm_range": range(d.spm_range, "Speed range when the setpoint has no limits, SPM."),
            "buoyant_rod_weight_lbf": { "type": "number", "default": 0, "description": "Buoyant rod weight, lbf: added to downhole cards for the load limits, subtracted from surface cards that carry none." },
            "max_peak_load_lbf": limit("Peak polished-rod load above which nothing is recommended, lbf."),
            "min_load_lbf": limit("Minimum polished-rod load below which nothing is recommended, lbf."),
            "min_peak_load_lbf": limit("Peak polished-rod load below which the card is a rod part, lbf."),
            "rod_part_span_lbf": limit("Load span below which the card is a rod part, lbf."),
            "open_recommendation_ttl_ms": { "type": "integer", "minimum": 0, "default": d.open_recommendation_ttl_ms, "description": "An open recommendation older than this no longer holds the optimizer, ms." }
        }
    })
}
