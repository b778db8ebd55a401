//! Unit tests of the pure optimizer logic.
use super::*;
use nexus_plugin_sdk::{Setpoint, Value};

const NOW: i64 = 1_700_000_000_000;

fn reading(key: &str, age_ms: i64, value: f64) -> Reading {
    Reading { device_id: "esp-7".into(), key: key.into(), ts: NOW - age_ms, value: Value::Number(value), quality: 1.0 }
}

/// A well at `f` Hz with the given PIP, current and flow, all fresh.
/// A well's context with its readings as rows, turned into the host's
/// series by [`Ctx::context`].
struct Ctx {
    readings: Vec<Reading>,
    setpoints: Vec<Setpoint>,
}

impl Ctx {
    fn context(&self) -> WellContext {
        let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
        for r in &self.readings {
            builder.push(&r.key, r.ts, r.value.clone(), r.quality);
        }
        WellContext {
            well_id: "W-7".into(),
            device_id: "esp-7".into(),
            readings: builder.build(),
            setpoints: self.setpoints.clone(),
            static_data: String::new(),
            open_alarms: Vec::new(),
            open_recommendations: Vec::new(),
            well_tests: Vec::new(),
        }
    }
}

fn setpoint(parameter: &str, value: f64) -> Setpoint {
    Setpoint {
        parameter: parameter.into(),
        value,
        unit: "Hz".into(),
        min: None,
        max: None,
        max_step: None,
        min_interval_ms: None,
        source: nexus_plugin_sdk::SetpointSource::Device,
        updated_at: 0,
    }
}

fn well(f: f64, pip: f64, current: Option<f64>, flow: Option<f64>) -> Ctx {
    let mut readings = vec![
        reading("frequency", 60_000, f - 5.0), // older, superseded
        reading("frequency", 1_000, f),
        reading("intake_pressure", 1_000, pip),
    ];
    if let Some(c) = current {
        readings.push(reading("motor_current", 1_000, c));
    }
    if let Some(q) = flow {
        readings.push(reading("flow_rate", 1_000, q));
    }
    Ctx { readings, setpoints: Vec::new() }
}

fn run(config: &OptimizerConfig, ctx: &Ctx) -> Decision {
    decide(config, &WellData::default(), &ctx.context(), NOW)
}

fn recommended(decision: Decision) -> Recommendation {
    match decision {
        Decision::Recommend(r) => r,
        other => panic!("expected a recommendation, got {other:?}"),
    }
}

fn held(decision: Decision) -> HoldReason {
    match decision {
        Decision::Hold { reason, .. } => reason,
        other => panic!("expected a hold, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn increases_when_pip_above_target() {
    // e = 420 − 350 = 70 psi → kp·e = 0.7 Hz.
    let r = recommended(run(&OptimizerConfig::default(), &well(50.0, 420.0, Some(40.0), Some(1300.0))));
    assert_eq!(r.parameter, "frequency_hz");
    assert_eq!(r.unit, "Hz");
    assert_eq!(r.gain_unit, "bbl/d");
    assert_eq!(r.device_id, "esp-7");
    assert!(close(r.current_value, 50.0));
    assert!(close(r.proposed_value, 50.7), "{}", r.proposed_value);
    // Affinity law: 1300 · (50.7/50 − 1) = 18.2 bbl/d.
    assert!(close(r.expected_gain, 1300.0 * (50.7 / 50.0 - 1.0)), "{}", r.expected_gain);
    assert!((r.confidence - 1.0).abs() < 1e-6, "{}", r.confidence);
    assert!(r.rationale.contains("above"), "{}", r.rationale);
    assert!(r.rationale.contains("Motor load 80%"), "{}", r.rationale);
}

#[test]
fn decreases_when_pip_below_target() {
    // e = 300 − 350 = −50 psi → −0.5 Hz; a decrease is allowed even at full load.
    let r = recommended(run(&OptimizerConfig::default(), &well(55.0, 300.0, Some(60.0), Some(1400.0))));
    assert!(close(r.proposed_value, 54.5), "{}", r.proposed_value);
    assert!(r.expected_gain < 0.0);
    assert!(close(r.expected_gain, 1400.0 * (54.5 / 55.0 - 1.0)));
    assert!(r.rationale.contains("below"), "{}", r.rationale);
}

#[test]
fn deadband_gives_no_recommendation() {
    let config = OptimizerConfig::default();
    assert_eq!(held(run(&config, &well(50.0, 359.0, Some(40.0), Some(1300.0)))), HoldReason::Deadband);
    assert_eq!(held(run(&config, &well(50.0, 340.0, Some(40.0), Some(1300.0)))), HoldReason::Deadband);
    // Just outside the deadband a step is proposed.
    assert!(matches!(run(&config, &well(50.0, 361.0, Some(40.0), Some(1300.0))), Decision::Recommend(_)));
}

#[test]
fn step_is_rate_limited() {
    // e = 500 psi → kp·e = 5 Hz, limited to +1 Hz.
    let r = recommended(run(&OptimizerConfig::default(), &well(50.0, 850.0, Some(40.0), Some(1300.0))));
    assert!(close(r.proposed_value, 51.0), "{}", r.proposed_value);
    let r = recommended(run(&OptimizerConfig::default(), &well(50.0, 0.0, Some(40.0), Some(1300.0))));
    assert!(close(r.proposed_value, 49.0), "{}", r.proposed_value);
}

#[test]
fn clamped_to_frequency_range() {
    let config = OptimizerConfig::default();
    // 64.6 + 0.7 would pass 65 Hz.
    let r = recommended(run(&config, &well(64.6, 420.0, Some(40.0), Some(1600.0))));
    assert!(close(r.proposed_value, 65.0), "{}", r.proposed_value);
    // 35.3 − 0.5 would pass 35 Hz.
    let r = recommended(run(&config, &well(35.3, 300.0, Some(40.0), Some(1000.0))));
    assert!(close(r.proposed_value, 35.0), "{}", r.proposed_value);
    // Already at the limit: nothing to propose.
    assert_eq!(held(run(&config, &well(65.0, 420.0, Some(40.0), Some(1600.0)))), HoldReason::NoChange);
    assert_eq!(held(run(&config, &well(35.0, 300.0, Some(40.0), Some(1000.0)))), HoldReason::NoChange);
    // Below the range: moved back toward it by at most one step.
    let r = recommended(run(&config, &well(30.0, 300.0, Some(40.0), Some(900.0))));
    assert!(close(r.proposed_value, 31.0), "{}", r.proposed_value);
}

#[test]
fn motor_load_blocks_increase() {
    let config = OptimizerConfig::default();
    // 50 A of a 50 A nameplate = 100 % ≥ max_motor_load 1.0.
    assert_eq!(held(run(&config, &well(50.0, 420.0, Some(50.0), Some(1300.0)))), HoldReason::MotorLoad);
    let config = OptimizerConfig { max_motor_load: 1.1, ..OptimizerConfig::default() };
    assert!(matches!(run(&config, &well(50.0, 420.0, Some(50.0), Some(1300.0))), Decision::Recommend(_)));
}

#[test]
fn envelope_blocks_increase() {
    let config = OptimizerConfig::default();
    // At 50 → 50.7 Hz the range is 800·50.7/60 = 676 … 2000·50.7/60 = 1690 bbl/d.
    // 1700 bbl/d at 50 Hz predicts 1724 bbl/d: upthrust, blocked.
    assert_eq!(held(run(&config, &well(50.0, 420.0, Some(40.0), Some(1700.0)))), HoldReason::Envelope);
    // 600 bbl/d predicts 608.4 bbl/d: downthrust, blocked.
    assert_eq!(held(run(&config, &well(50.0, 420.0, Some(40.0), Some(600.0)))), HoldReason::Envelope);
    // A decrease is not blocked by the envelope.
    let r = recommended(run(&config, &well(50.0, 300.0, Some(40.0), Some(1700.0))));
    assert!(r.rationale.contains("OUTSIDE"), "{}", r.rationale);
}

#[test]
fn missing_required_inputs_are_not_errors() {
    let config = OptimizerConfig::default();
    let mut ctx = well(50.0, 420.0, Some(40.0), Some(1300.0));
    ctx.readings.retain(|r| r.key != "intake_pressure");
    assert!(matches!(run(&config, &ctx), Decision::MissingInput(m) if m.contains("intake_pressure")));
    let mut ctx = well(50.0, 420.0, Some(40.0), Some(1300.0));
    ctx.readings.retain(|r| r.key != "frequency");
    assert!(matches!(run(&config, &ctx), Decision::MissingInput(m) if m.contains("frequency")));
    // A text value does not count as a reading.
    ctx.readings.push(Reading { value: Value::Text("n/a".into()), ..reading("frequency", 0, 0.0) });
    assert!(matches!(run(&config, &ctx), Decision::MissingInput(_)));
}

#[test]
fn setpoint_takes_precedence_over_reading() {
    let mut ctx = well(50.0, 420.0, Some(40.0), Some(1300.0));
    ctx.setpoints.push(setpoint("frequency_hz", 52.0));
    let r = recommended(run(&OptimizerConfig::default(), &ctx));
    assert!(close(r.current_value, 52.0));
    assert!(close(r.proposed_value, 52.7));
}

#[test]
fn confidence_drops_for_missing_and_stale_inputs() {
    let config = OptimizerConfig::default();
    let r = recommended(run(&config, &well(50.0, 420.0, None, None)));
    assert!((r.confidence - 0.6).abs() < 1e-6, "{}", r.confidence);
    // Without flow the gain is estimated from the rated flow at 50 Hz: 1250 bbl/d.
    assert!(close(r.expected_gain, 1250.0 * (50.7 / 50.0 - 1.0)), "{}", r.expected_gain);
    assert!(r.rationale.contains("envelope not checked"), "{}", r.rationale);
    let mut ctx = well(50.0, 420.0, Some(40.0), Some(1300.0));
    for r in &mut ctx.readings {
        if r.key == "flow_rate" {
            r.ts = NOW - 3_600_000;
        }
    }
    let r = recommended(run(&config, &ctx));
    assert!((r.confidence - 0.9).abs() < 1e-6, "{}", r.confidence);
}

#[test]
fn not_running_is_held() {
    let mut ctx = well(50.0, 420.0, Some(0.0), Some(0.0));
    ctx.setpoints.push(setpoint("frequency_hz", 0.0));
    assert_eq!(held(run(&OptimizerConfig::default(), &ctx)), HoldReason::NotRunning);
}

#[test]
fn custom_keys_are_used() {
    let config = parse_config(r#"{"keys": {"intake_pressure": "pip"}}"#).expect("valid");
    let mut ctx = well(50.0, 420.0, Some(40.0), Some(1300.0));
    assert!(matches!(run(&config, &ctx), Decision::MissingInput(_)));
    ctx.readings.push(reading("pip", 500, 420.0));
    assert!(matches!(run(&config, &ctx), Decision::Recommend(_)));
}

#[test]
fn config_and_static_data_parsing() {
    assert_eq!(parse_config("").expect("defaults"), OptimizerConfig::default());
    let c = parse_config(r#"{"target_intake_pressure": 200, "kp": 0.02}"#).expect("valid");
    assert!(close(c.target_intake_pressure, 200.0));
    assert_eq!(c.keys, Keys::default());
    for bad in
        [r#"{"kp": 0}"#, r#"{"min_frequency_hz": 70}"#, r#"{"typo": 1}"#, r#"{"keys": {"frequency": ""}}"#, "[1]"]
    {
        assert_eq!(parse_config(bad).expect_err(bad).code, "invalid-config", "{bad}");
    }
    assert_eq!(parse_static_data("").expect("defaults"), WellData::default());
    assert_eq!(parse_static_data("null").expect("defaults"), WellData::default());
    let w = parse_static_data(r#"{"base_frequency_hz": 50, "pump_model": "X-400"}"#).expect("valid");
    assert!(close(w.base_frequency_hz, 50.0));
    for bad in [r#"{"nameplate_current_a": 0}"#, r#"{"min_flow_bpd_at_base": 3000}"#, "{"] {
        assert_eq!(parse_static_data(bad).expect_err(bad).code, "invalid-static-data", "{bad}");
    }
}

#[test]
fn schema_is_draft_2020_12() {
    let schema = config_schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["properties"]["kp"]["default"], 0.01);
}
