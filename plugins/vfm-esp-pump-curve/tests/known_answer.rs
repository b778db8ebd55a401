//! The known answer of issue #14 through [`meter`]: 300 stages at 55 Hz
//! with a pressure rise of 2600 psi of a 0.40 psi/ft liquid, on the
//! documented curve `h₆₀(Q) = 30·(1.35 − 0.35·(Q/1500)²)` ft/stage.
//!
//! By hand: h = 2600/(0.40·300) = 21.667 ft/stage at 55 Hz, so
//! h₆₀(x) = 21.667/(55/60)² = 25.785 ft at x = q·60/55;
//! (x/1500)² = (1.35 − 25.785/30)/0.35 = 1.40143, x = 1775.72 bbl/d,
//! q = 1775.72·55/60 = 1627.7 bbl/d — inside 800–2000·55/60 = 733–1833 bbl/d.

use serde_json::json;
use vfm_esp_pump_curve::{Config, MeterData, Sample, meter};

fn static_data(extra: serde_json::Value) -> MeterData {
    let mut data = json!({
        "pump": {"base_frequency_hz": 60, "head_ft": {"polynomial": [40.5, 0.0, -10.5 / (1500.0 * 1500.0)]}, "stages": 300},
        "fluid": {"water_cut": 0.6, "gradient_psi_per_ft": 0.40},
        "limits": {"recommended_range_bpd": [800, 2000], "max_step_hz": 1.0},
        "pump_depth_ft": 7000
    });
    if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        data.extend(extra.clone());
    }
    MeterData::parse(&data.to_string()).expect("valid")
}

fn samples(ts: i64, f: f64, intake: f64, discharge: f64) -> Vec<Sample> {
    [("frequency", f), ("intake_pressure", intake), ("discharge_pressure", discharge)]
        .into_iter()
        .map(|(key, value)| Sample { key: key.into(), ts, value })
        .collect()
}

#[test]
fn three_hundred_stages_at_55_hz_and_2600_psi_meter_1627_7_bpd() {
    let pump = static_data(json!({})).pump().expect("pump");
    let out = meter(&Config::default(), &pump, &samples(1_000, 55.0, 400.0, 3000.0));
    assert_eq!(out.readings.len(), 1, "{out:?}");
    let r = &out.readings[0];
    assert_eq!((r.key.as_str(), r.ts), ("vfm_liquid_rate", 1_000));
    assert!((r.value - 1627.7).abs() <= 0.01 * 1627.7, "{}", r.value);
    assert!((r.value - 1627.72).abs() < 0.1, "{}", r.value);
    assert_eq!(r.class, nexus_physics::vfm::VfmQuality::Good);
    assert_eq!(r.quality, 1.0);
}

#[test]
fn a_well_test_with_a_discharge_pressure_calibrates_the_head() {
    // The same pump worn to 90 %: the test point (55 Hz, 1627.72 bbl/d) now
    // shows 0.9·2600 = 2340 psi; calibrated, 2340 psi meters 1627.7 again.
    let test = json!({"well_test": {"date": "2024-05-01", "frequency_hz": 55, "rate_bpd": 1627.72,
                                    "intake_pressure_psi": 400, "discharge_pressure_psi": 2740}});
    let pump = static_data(test).pump().expect("pump");
    assert!(pump.calibrated && (pump.pump.head_factor - 0.9).abs() < 1e-4, "{}", pump.pump.head_factor);
    let out = meter(&Config::default(), &pump, &samples(0, 55.0, 400.0, 2740.0));
    assert!((out.readings[0].value - 1627.72).abs() < 0.2, "{:?}", out.readings);
}

#[test]
fn pairing_stops_and_impossible_rises_are_skipped_with_a_reason() {
    let pump = static_data(json!({})).pump().expect("pump");
    let mut batch = samples(0, 55.0, 400.0, 3000.0);
    // 90 s later only an intake reading: nothing to pair within 60 s.
    batch.push(Sample { key: "intake_pressure".into(), ts: 90_000, value: 410.0 });
    // Stopped.
    batch.extend(samples(200_000, 0.0, 900.0, 2900.0));
    // A rise above the shut-in head (40.5·(55/60)²·300·0.4 = 4083.7 psi).
    batch.extend(samples(300_000, 55.0, 100.0, 4500.0));
    let out = meter(&Config::default(), &pump, &batch);
    assert_eq!(out.readings.len(), 1);
    let skipped: Vec<i64> = out.skipped.iter().map(|s| s.0).collect();
    assert_eq!(skipped, [90_000, 200_000, 300_000], "{:?}", out.skipped);
    assert!(out.skipped[1].1.contains("stopped"));
}

#[test]
fn bad_static_data_and_configuration_are_errors() {
    assert!(MeterData::parse(r#"{"pump": {}}"#).is_err());
    let no_stages = json!({"pump": {"base_frequency_hz": 60, "head_ft": {"polynomial": [40.5, 0.0, -4.6e-6]}}});
    assert!(static_data(no_stages).pump().is_err(), "no stages and no test");
    assert!(Config::parse(r#"{"output_key": ""}"#).is_err());
    assert!(Config::parse(r#"{"unknown": 1}"#).is_err());
    assert_eq!(Config::parse("").expect("defaults"), Config::default());
}

/// The component's glue on a columnar batch: the same known answer, as one
/// series of `vfm_liquid_rate` whose quality is the estimate's confidence;
/// without `well` in the configuration it is a configuration error.
#[test]
fn the_transform_meters_a_batch_of_series() {
    use nexus_plugin_sdk::{Series, SeriesBuilder, Value};
    let well = json!({
        "pump": {"base_frequency_hz": 60, "head_ft": {"polynomial": [40.5, 0.0, -10.5 / (1500.0 * 1500.0)]}, "stages": 300},
        "fluid": {"water_cut": 0.6, "gradient_psi_per_ft": 0.40},
        "limits": {"recommended_range_bpd": [800, 2000]}
    });
    let config = Config::parse(&json!({ "well": well }).to_string()).expect("valid");
    let mut batch = SeriesBuilder::new();
    for (key, value) in [("frequency", 55.0), ("intake_pressure", 400.0), ("discharge_pressure", 3000.0)] {
        batch.push(key, 1_000, Value::Number(value), 1.0);
    }
    batch.push("motor_current", 1_000, Value::Number(40.0), 1.0);
    let out: Vec<Series> = vfm_esp_pump_curve::transform_batch(&config, &batch.build()).expect("meters");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].key.as_str(), out[0].ts.as_slice()), ("vfm_liquid_rate", &[1_000][..]));
    let (_, q, quality) = out[0].numbers_with_quality().next().expect("one sample");
    assert!((q - 1627.7).abs() <= 0.01 * 1627.7, "{q}");
    assert!(quality > 0.0 && quality <= 1.0, "{quality}");
    let without_well = vfm_esp_pump_curve::transform_batch(&Config::default(), &[]);
    assert!(without_well.is_err());
    let schema: serde_json::Value = serde_json::from_str(vfm_esp_pump_curve::CONFIG_SCHEMA).expect("schema is JSON");
    assert_eq!(schema["required"][0], "well");
}
