//! The binding configuration: telemetry keys, what "steady" means, how
//! fresh data must be, the smallest change worth recommending, which alarm
//! types silence the optimizer and how long a recommendation stays open.
//! Every field has a default; the well itself is described by its static
//! data ([`crate::static_data`]).

use serde::{Deserialize, Serialize};
use serde_json::json;

/// Telemetry keys of the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keys {
    /// Drive output frequency, Hz.
    pub frequency: String,
    /// Pump-intake pressure, psi.
    pub intake_pressure: String,
    /// Pump discharge pressure, psi (optional input).
    pub discharge_pressure: String,
    /// Motor current, A.
    pub motor_current: String,
    /// Liquid rate from a meter, bbl/d (optional input).
    pub flow_rate: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            frequency: "frequency".into(),
            intake_pressure: "intake_pressure".into(),
            discharge_pressure: "discharge_pressure".into(),
            motor_current: "motor_current".into(),
            flow_rate: "flow_rate".into(),
        }
    }
}

/// The binding configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Telemetry keys.
    pub keys: Keys,
    /// The well is steady when, over this window ending at the newest
    /// reading, the frequency has not changed, ...
    pub steady_window_ms: i64,
    /// ... the intake pressure's trend (least-squares slope over the window)
    /// is at most this, psi/h, when the static data gives the tubing OD (the
    /// annulus storage then corrects the inflow for what is left of the
    /// transient), ...
    pub steady_pip_psi_per_h: f64,
    /// ... or at most this without the tubing OD (no correction: the well
    /// must have settled further), psi/h, ...
    pub steady_pip_psi_per_h_uncorrected: f64,
    /// ... the motor current's coefficient of variation is at most this, ...
    pub steady_current_cv: f64,
    /// ... and the intake pressure has at least this many samples spanning
    /// 80 % of the window.
    pub min_steady_samples: usize,
    /// The newest reading must be at most this old (against the host's time), ms.
    pub max_reading_age_ms: i64,
    /// Changes below this are not recommended (the well is at its target), Hz.
    pub min_step_hz: f64,
    /// When the intake pressure binds, a measured PIP within this of its
    /// target is at the target, psi (the measured PIP is far less noisy than
    /// the model's target frequency, which moves with the metered rate).
    pub pip_deadband_psi: f64,
    /// Alarm types that silence the optimizer while open on the well.
    pub protection_alarms: Vec<String>,
    /// A recommendation not applied within this long stops counting as open, ms.
    pub open_recommendation_ttl_ms: i64,
    /// A well test older than this many days is not used for calibration.
    pub well_test_max_age_days: f64,
    /// The forecast key whose stored forecast is the baseline of the
    /// expected gain ([`crate::baseline`]).
    pub baseline_key: String,
    /// Days over which the gain is averaged on the forecast baseline.
    pub gain_horizon_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            keys: Keys::default(),
            steady_window_ms: 60 * 60_000,
            steady_pip_psi_per_h: 10.0,
            steady_pip_psi_per_h_uncorrected: 2.0,
            steady_current_cv: 0.05,
            min_steady_samples: 5,
            max_reading_age_ms: 15 * 60_000,
            min_step_hz: 0.2,
            pip_deadband_psi: 5.0,
            protection_alarms: ["Underload", "Overload", "HighMotorTemperature", "HighVibration", "GasLock"]
                .map(String::from)
                .to_vec(),
            open_recommendation_ttl_ms: 24 * 3_600_000,
            well_test_max_age_days: 365.0,
            baseline_key: "oil_rate".into(),
            gain_horizon_days: 30,
        }
    }
}

impl Config {
    /// Checks the values; a problem is a message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let k = &self.keys;
        let keys = [&k.frequency, &k.intake_pressure, &k.discharge_pressure, &k.motor_current, &k.flow_rate];
        if keys.iter().any(|k| k.is_empty()) {
            return Err("`keys` must not be empty".into());
        }
        for (name, v) in [("steady_window_ms", self.steady_window_ms), ("max_reading_age_ms", self.max_reading_age_ms)]
        {
            if v <= 0 {
                return Err(format!("`{name}` must be > 0, got {v}"));
            }
        }
        if self.open_recommendation_ttl_ms < 0 {
            return Err("`open_recommendation_ttl_ms` must be ≥ 0".into());
        }
        for (name, v) in [
            ("steady_pip_psi_per_h", self.steady_pip_psi_per_h),
            ("steady_pip_psi_per_h_uncorrected", self.steady_pip_psi_per_h_uncorrected),
            ("steady_current_cv", self.steady_current_cv),
            ("min_step_hz", self.min_step_hz),
            ("pip_deadband_psi", self.pip_deadband_psi),
            ("well_test_max_age_days", self.well_test_max_age_days),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("`{name}` must be a number > 0, got {v}"));
            }
        }
        if self.baseline_key.is_empty() {
            return Err("`baseline_key` must not be empty".into());
        }
        if !(1..=3650).contains(&self.gain_horizon_days) {
            return Err(format!("`gain_horizon_days` must be 1 to 3650, got {}", self.gain_horizon_days));
        }
        if self.min_steady_samples < 2 {
            return Err("`min_steady_samples` must be at least 2".into());
        }
        Ok(())
    }
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn schema() -> serde_json::Value {
    let d = Config::default();
    let key = |default: &str| json!({ "type": "string", "minLength": 1, "default": default });
    let int = |default: i64, description: &str| json!({ "type": "integer", "minimum": 1, "default": default, "description": description });
    let num = |default: f64, description: &str| json!({ "type": "number", "exclusiveMinimum": 0, "default": default, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "optimizer-esp-frequency configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "keys": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "frequency": key(&d.keys.frequency),
                    "intake_pressure": key(&d.keys.intake_pressure),
                    "discharge_pressure": key(&d.keys.discharge_pressure),
                    "motor_current": key(&d.keys.motor_current),
                    "flow_rate": key(&d.keys.flow_rate)
                }
            },
            "steady_window_ms": int(d.steady_window_ms, "Window over which the well must be steady, ms."),
            "steady_pip_psi_per_h": num(d.steady_pip_psi_per_h, "Largest PIP trend over the window with the annulus storage known (tubing_od_in), psi/h."),
            "steady_pip_psi_per_h_uncorrected": num(d.steady_pip_psi_per_h_uncorrected, "Largest PIP trend without it, psi/h."),
            "steady_current_cv": num(d.steady_current_cv, "Largest coefficient of variation of the motor current."),
            "min_steady_samples": { "type": "integer", "minimum": 2, "default": d.min_steady_samples,
                                    "description": "Fewest PIP samples in the window (spanning 80 % of it)." },
            "max_reading_age_ms": int(d.max_reading_age_ms, "The newest reading must be at most this old, ms."),
            "min_step_hz": num(d.min_step_hz, "Smaller changes are not recommended, Hz."),
            "pip_deadband_psi": num(d.pip_deadband_psi, "With the intake pressure binding, a PIP this close to its target is at the target, psi."),
            "protection_alarms": { "type": "array", "items": { "type": "string" }, "default": d.protection_alarms,
                                   "description": "Alarm types that silence the optimizer while open." },
            "open_recommendation_ttl_ms": { "type": "integer", "minimum": 0, "default": d.open_recommendation_ttl_ms,
                                            "description": "An unapplied recommendation stops counting as open after this, ms." },
            "well_test_max_age_days": num(d.well_test_max_age_days, "Older well tests are not used."),
            "baseline_key": { "type": "string", "minLength": 1, "default": d.baseline_key,
                              "description": "Key whose stored forecast is the baseline of the expected gain." },
            "gain_horizon_days": { "type": "integer", "minimum": 1, "maximum": 3650, "default": d.gain_horizon_days,
                                   "description": "Days over which the gain is averaged on the forecast baseline." }
        }
    })
}
