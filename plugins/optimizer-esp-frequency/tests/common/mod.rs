//! Fixtures: the well of issue #14 as static data, steady readings, inputs.
#![allow(dead_code)]

use nexus_plugin_sdk::{Reading, Value};
use optimizer_esp_frequency::{Config, Input, WellData};
use serde_json::{Value as Json, json};

/// 2024-06-01T00:00:00Z, ms.
pub const NOW: i64 = 1_717_200_000_000;
pub const MINUTE: i64 = 60_000;

/// The well of issue #14 (pump at 7000 ft, 0.38 psi/ft, THP 150 psi,
/// friction 60 psi at 1300 bbl/d ∝ Q², h₆₀(Q) = 30·(1.35 − 0.35·(Q/1500)²)
/// ft/stage, stages calibrated to the point) with productivity index `pi`,
/// water cut 0.5, a 50 A motor, 7 in 26 lb/ft casing (6.276 in) around a
/// 5.62 in motor, and limits 35–65 Hz, PIP target 350 psi, minimum 100 psi.
pub fn issue_well_json(pi: f64, max_step_hz: f64) -> Json {
    json!({
        "pump": {"base_frequency_hz": 60, "head_ft": {"polynomial": [40.5, 0.0, -10.5 / (1500.0 * 1500.0)]}},
        "pump_depth_ft": 7000,
        "inflow": {"model": "linear", "productivity_index_bpd_per_psi": pi},
        "fluid": {"water_cut": 0.5, "gradient_psi_per_ft": 0.38},
        "tubing_head_pressure_psi": 150,
        "tubing_friction": {"loss_psi": 60, "at_rate_bpd": 1300},
        "motor": {"nameplate_current_a": 50},
        "casing_id_in": 6.276,
        "motor_od_in": 5.62,
        "limits": {"min_frequency_hz": 35, "max_frequency_hz": 65, "max_step_hz": max_step_hz,
                   "min_intake_pressure_psi": 100, "target_intake_pressure_psi": 350,
                   "recommended_range_bpd": [800, 2000]}
    })
}

pub fn well(json: Json) -> WellData {
    serde_json::from_value(json).expect("valid static data")
}

/// Sets `limits.<key>` of static data.
pub fn with_limit(mut json: Json, key: &str, value: f64) -> Json {
    json["limits"][key] = json!(value);
    json
}

/// One reading per minute of each `(key, value)` over the hour before `NOW`.
pub fn steady(values: &[(&str, f64)]) -> Vec<Reading> {
    let mut readings = Vec::new();
    for m in (0..=60).rev() {
        for (key, value) in values {
            readings.push(Reading {
                device_id: "esp-1".into(),
                key: (*key).into(),
                ts: NOW - m * MINUTE,
                value: Value::Number(*value),
                quality: 1.0,
            });
        }
    }
    readings
}

/// The issue's measured point: 50 Hz, PIP 420 psi, 1300 bbl/d metered, `current_a`.
pub fn issue_readings(current_a: f64) -> Vec<Reading> {
    steady(&[("frequency", 50.0), ("intake_pressure", 420.0), ("flow_rate", 1300.0), ("motor_current", current_a)])
}

pub fn input(static_data: WellData, readings: Vec<Reading>) -> Input {
    Input {
        device_id: "esp-1".into(),
        readings,
        setpoints: Vec::new(),
        static_data,
        active_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        now_ms: NOW,
    }
}

pub fn config() -> Config {
    Config::default()
}

pub fn within(actual: f64, expected: f64, relative: f64) -> bool {
    (actual - expected).abs() <= relative * expected.abs()
}
