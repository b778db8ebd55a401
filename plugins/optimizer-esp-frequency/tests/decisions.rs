//! The decision's other branches: decreases, steadiness, freshness,
//! calibration sources, confidence and the static-data schema.

mod common;

use common::*;
use nexus_physics::esp::envelope::Constraint;
use nexus_plugin_sdk::{Reading, Value};
use optimizer_esp_frequency::calibrate::{PumpSource, RateSource};
use optimizer_esp_frequency::observe::NotReady;
use optimizer_esp_frequency::{Decision, HoldReason, Plan, decide, parse_config};
use serde_json::json;

fn plan(decision: Decision) -> Plan {
    match decision {
        Decision::Recommend(plan) => *plan,
        Decision::Hold { reason, message } => panic!("held ({reason:?}): {message}"),
    }
}

fn reason(decision: Decision) -> HoldReason {
    match decision {
        Decision::Hold { reason, .. } => reason,
        Decision::Recommend(plan) => panic!("recommended {:?}", plan.recommendation),
    }
}

#[test]
fn an_over_drawn_well_is_slowed_down_and_the_decrease_is_checked() {
    // Target 500 psi: q = 1.2·(1503.333 − 500) = 1204.0 bbl/d at 48.3247 Hz
    // (pure-Python bisection, as in known_answers.rs).
    let data = with_limit(issue_well_json(1.2, 1.0), "target_intake_pressure_psi", 500.0);
    let p = plan(decide(&config(), &input(well(data), issue_readings(40.0))));
    assert!((p.target_hz - 48.3247).abs() < 1e-3, "{}", p.target_hz);
    assert!((p.proposed_hz - 49.0).abs() < 1e-9);
    assert_eq!(p.binding, [Constraint::IntakePressure]);
    assert!(p.delta_liquid_bpd < 0.0 && p.recommendation.expected_gain < 0.0);
    assert!(p.recommendation.rationale.starts_with("Lower 50.00 → 49.00 Hz"), "{}", p.recommendation.rationale);
}

#[test]
fn at_the_target_nothing_is_recommended() {
    // The PIP the model gives at 51.45 Hz is within 0.1 Hz of the 350 psi target's 51.486 Hz.
    let data = with_limit(issue_well_json(1.2, 1.0), "target_intake_pressure_psi", 350.0);
    let readings =
        steady(&[("frequency", 51.45), ("intake_pressure", 351.9), ("flow_rate", 1381.7), ("motor_current", 40.0)]);
    assert_eq!(reason(decide(&config(), &input(well(data), readings))), HoldReason::AtTarget);
}

#[test]
fn an_unsteady_or_stale_well_gets_no_recommendation() {
    let data = || well(issue_well_json(1.2, 1.0));
    let not_steady = |readings: Vec<Reading>| {
        matches!(reason(decide(&config(), &input(data(), readings))), HoldReason::NotReady(NotReady::NotSteady(_)))
    };
    // PIP still falling by 1 psi a minute after a change.
    let mut drifting = issue_readings(40.0);
    for r in drifting.iter_mut().filter(|r| r.key == "intake_pressure") {
        r.value = Value::Number(420.0 + (NOW - r.ts) as f64 / MINUTE as f64);
    }
    assert!(not_steady(drifting));
    // The frequency changed 10 minutes ago.
    let mut changed = issue_readings(40.0);
    for r in changed.iter_mut().filter(|r| r.key == "frequency" && r.ts < NOW - 10 * MINUTE) {
        r.value = Value::Number(49.0);
    }
    assert!(not_steady(changed));
    // An erratic current (gas interference): ±15 %.
    let mut erratic = issue_readings(40.0);
    for (i, r) in erratic.iter_mut().filter(|r| r.key == "motor_current").enumerate() {
        r.value = Value::Number(if i % 2 == 0 { 34.0 } else { 46.0 });
    }
    assert!(not_steady(erratic));
    // Only the last 10 minutes of data.
    let short: Vec<Reading> = issue_readings(40.0).into_iter().filter(|r| r.ts >= NOW - 10 * MINUTE).collect();
    assert!(not_steady(short));
    // The newest reading is 20 minutes old.
    let mut late = input(data(), issue_readings(40.0));
    late.now_ms = NOW + 20 * MINUTE;
    assert!(matches!(reason(decide(&config(), &late)), HoldReason::NotReady(NotReady::Stale(_))));
    // Stopped.
    let stopped = steady(&[("frequency", 0.0), ("intake_pressure", 900.0), ("motor_current", 0.0)]);
    assert!(matches!(
        reason(decide(&config(), &input(data(), stopped))),
        HoldReason::NotReady(NotReady::NotRunning(_))
    ));
}

#[test]
fn the_motor_must_be_projectable() {
    let readings = steady(&[("frequency", 50.0), ("intake_pressure", 420.0), ("flow_rate", 1300.0)]);
    assert_eq!(
        reason(decide(&config(), &input(well(issue_well_json(1.2, 1.0)), readings.clone()))),
        HoldReason::Calibration
    );
    // With nameplate power and a brake-horsepower curve it can be.
    let mut data = issue_well_json(1.2, 1.0);
    data["pump"]["brake_horsepower"] = json!({"polynomial": [0.28, 1.55e-4]});
    data["motor"]["nameplate_hp"] = json!(150);
    let p = plan(decide(&config(), &input(well(data), readings)));
    assert!(p.brake_power && p.delta_power_kw > 0.0);
}

#[test]
fn a_well_test_and_a_discharge_gauge_calibrate_the_pump_and_meter_the_rate() {
    // No flow meter: the test of 2024-05-02 (30 days before NOW) fixes the
    // pump; the measured pressure rise meters the rate. The discharge the
    // tubing needs at 1300 bbl/d is 2870 psi, so the rate is 1300 bbl/d and
    // the target is the same 51.486 Hz as with the meter.
    let mut data = issue_well_json(1.2, 2.0);
    data["well_test"] = json!({"date": "2024-05-02", "frequency_hz": 50, "rate_bpd": 1300, "intake_pressure_psi": 420, "discharge_pressure_psi": 2870});
    let readings = steady(&[
        ("frequency", 50.0),
        ("intake_pressure", 420.0),
        ("discharge_pressure", 2870.0),
        ("motor_current", 40.0),
    ]);
    let p = plan(decide(&config(), &input(well(data.clone()), readings)));
    assert_eq!(p.calibrated.rate_source, RateSource::PumpCurve);
    assert!(matches!(p.calibrated.pump_source, PumpSource::WellTest { age_days } if (age_days - 30.0).abs() < 1e-9));
    assert!((p.calibrated.rate_bpd - 1300.0).abs() < 1e-3);
    assert!((p.target_hz - 51.48591).abs() < 1e-3);
    assert!(p.calibrated.residual.is_some_and(|r| r < 1e-6), "tubing check: {:?}", p.calibrated.residual);
    let fresh = p.confidence;
    assert!(fresh > 0.95, "{fresh}");

    // A meter reading 10 % more than the test-calibrated pump explains: a
    // residual, a lower confidence.
    let readings =
        steady(&[("frequency", 50.0), ("intake_pressure", 420.0), ("flow_rate", 1430.0), ("motor_current", 40.0)]);
    let p = plan(decide(&config(), &input(well(data.clone()), readings.clone())));
    assert_eq!(p.calibrated.rate_source, RateSource::Meter);
    let residual = p.calibrated.residual.expect("cross-checked");
    assert!(residual > 0.05, "{residual}");
    assert!(p.confidence < fresh - 0.1, "{} vs {fresh}", p.confidence);

    // A test older than the limit is not used; a 300-day-old one lowers the confidence.
    data["well_test"]["date"] = json!("2023-05-01");
    let p = plan(decide(&config(), &input(well(data.clone()), readings.clone())));
    assert_eq!(p.calibrated.pump_source, PumpSource::CurrentPoint);
    data["well_test"]["date"] = json!("2023-08-06");
    let old = plan(decide(&config(), &input(well(data), readings)));
    assert!(matches!(old.calibrated.pump_source, PumpSource::WellTest { age_days } if age_days > 290.0));
}

#[test]
fn vogel_inflow_and_fluid_densities_are_accepted() {
    let mut data = issue_well_json(1.2, 1.0);
    data["inflow"] = json!({"model": "vogel", "productivity_index_bpd_per_psi": 1.2, "bubble_point_psi": 900});
    data["fluid"] = json!({"water_cut": 0.5, "oil_api": 30, "water_sg": 1.05});
    data["perforation_depth_ft"] = json!(7300);
    let p = plan(decide(&config(), &input(well(data), issue_readings(40.0))));
    assert!(p.proposed_hz > 50.0);
    // (0.5·1.05 + 0.5·141.5/161.5)·0.433 = 0.4170 psi/ft.
    assert!((p.calibrated.well.fluid.gradient_psi_per_ft - 0.41702).abs() < 1e-4);
}

#[test]
fn bad_static_data_and_configuration_are_named() {
    let bad = |edit: fn(&mut serde_json::Value)| {
        let mut data = issue_well_json(1.2, 1.0);
        edit(&mut data);
        match serde_json::from_value::<optimizer_esp_frequency::WellData>(data) {
            Err(e) => e.to_string(),
            Ok(w) => match decide(&config(), &input(w, issue_readings(40.0))) {
                Decision::Hold { reason: HoldReason::InvalidStaticData, message } => message,
                other => panic!("{other:?}"),
            },
        }
    };
    assert!(bad(|d| d["pump"]["stags"] = json!(300)).contains("stags"));
    assert!(bad(|d| d["inflow"]["model"] = json!("vogel")).contains("bubble_point_psi"));
    assert!(bad(|d| d["limits"]["recommended_range_bpd"] = json!([2000, 800])).contains("recommended_range_bpd"));
    assert!(bad(|d| d["fluid"] = json!({"water_cut": 0.5})).contains("gradient_psi_per_ft"));
    assert!(bad(|d| d["casing_id_in"] = json!(5.0)).contains("casing_id_in"));
    assert!(
        bad(|d| d["well_test"] =
            json!({"date": "May 2024", "frequency_hz": 50, "rate_bpd": 1300, "intake_pressure_psi": 420}))
        .contains("date")
    );
    assert!(parse_config(r#"{"target_intake_pressure": 350}"#).is_err(), "the target lives in the static data");
    assert!(parse_config(r#"{"min_step_hz": 0}"#).is_err());
    assert_eq!(parse_config("").expect("defaults"), config());
}

#[test]
fn a_well_test_recorded_by_the_host_calibrates_like_the_static_one_and_the_newer_wins() {
    // The host's recorded tests (`WellContext::well_tests`) instead of the
    // static data's: the test of 2024-05-02 again, as rates and conditions.
    let readings = steady(&[
        ("frequency", 50.0),
        ("intake_pressure", 420.0),
        ("discharge_pressure", 2870.0),
        ("motor_current", 40.0),
    ]);
    let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
    for r in &readings {
        builder.push(&r.key, r.ts, r.value.clone(), r.quality);
    }
    let thirty_days_ago = NOW - 30 * 86_400_000;
    let recorded = |ts: i64, conditions: serde_json::Value| nexus_plugin_sdk::WellTest {
        ts,
        duration_h: 24.0,
        oil_bbl_d: 390.0,
        water_bbl_d: 910.0,
        gas_mscf_d: 50.0,
        conditions: conditions.to_string(),
    };
    let full = json!({"frequency_hz": 50, "intake_pressure_psi": 420, "discharge_pressure_psi": 2870});
    let mut context = nexus_plugin_sdk::WellContext {
        well_id: "w-1".into(),
        device_id: "esp-1".into(),
        readings: builder.build(),
        setpoints: Vec::new(),
        static_data: issue_well_json(1.2, 2.0).to_string(),
        open_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        // Newest first is what the host sends; the order is not relied on.
        well_tests: vec![recorded(thirty_days_ago - 86_400_000, json!({})), recorded(thirty_days_ago, full.clone())],
    };
    let rationale = |context: &nexus_plugin_sdk::WellContext| {
        let (recommendations, hold) = optimizer_esp_frequency::run(&config(), context, NOW, None);
        assert_eq!(recommendations.len(), 1, "{hold:?}");
        let r = &recommendations[0];
        assert!((r.proposed_value - 50.0).abs() > 0.1, "{r:?}");
        r.rationale.clone()
    };
    let uncalibrated = |context: &nexus_plugin_sdk::WellContext| {
        let (recommendations, hold) = optimizer_esp_frequency::run(&config(), context, NOW, None);
        assert!(recommendations.is_empty(), "{recommendations:?}");
        matches!(hold, Some(Decision::Hold { reason: HoldReason::Calibration, .. }))
    };
    let from_recorded = rationale(&context);
    assert!(from_recorded.contains("well test of 30 days ago"), "{from_recorded}");

    // Without it (and without a flow meter) the stage count cannot be calibrated.
    context.well_tests.clear();
    assert!(uncalibrated(&context));

    // A recorded test lacking the intake pressure cannot calibrate: ignored.
    context.well_tests = vec![recorded(thirty_days_ago, json!({"frequency_hz": 50}))];
    assert!(uncalibrated(&context));

    // A static test newer than the recorded one wins; an older one does not.
    let mut data = issue_well_json(1.2, 2.0);
    data["well_test"] = json!({"date": "2024-05-22", "frequency_hz": 50, "rate_bpd": 1300, "intake_pressure_psi": 420, "discharge_pressure_psi": 2870});
    context.static_data = data.to_string();
    context.well_tests = vec![recorded(thirty_days_ago, full.clone())];
    assert!(rationale(&context).contains("well test of 10 days ago"));
    data["well_test"]["date"] = json!("2024-04-01");
    context.static_data = data.to_string();
    assert!(rationale(&context).contains("well test of 30 days ago"));
}

#[test]
fn the_hosts_frequency_setpoint_bounds_the_step_as_its_interlocks_will() {
    // 50 Hz towards 51.49 Hz, steps of up to 2 Hz: one step to the target.
    let base = input(well(issue_well_json(1.2, 2.0)), issue_readings(40.0));
    assert!((plan(decide(&config(), &base)).proposed_hz - 51.49).abs() < 0.011);
    let setpoint =
        |max_step: Option<f64>, max: Option<f64>, interval: Option<i64>, changed: i64| nexus_plugin_sdk::Setpoint {
            parameter: "frequency_hz".into(),
            value: 50.0,
            unit: "Hz".into(),
            min: Some(35.0),
            max,
            max_step,
            min_interval_ms: interval,
            source: nexus_plugin_sdk::SetpointSource::Written,
            updated_at: changed,
        };
    let with = |s: nexus_plugin_sdk::Setpoint| {
        let mut i = base.clone();
        i.setpoints = vec![s];
        decide(&config(), &i)
    };
    let long_ago = NOW - 24 * 60 * MINUTE;
    // A smaller largest step, then a lower maximum, bound the proposal.
    let p = plan(with(setpoint(Some(0.5), None, None, long_ago)));
    assert!((p.proposed_hz - 50.5).abs() < 1e-9, "{}", p.proposed_hz);
    let p = plan(with(setpoint(None, Some(50.7), None, long_ago)));
    assert!((p.proposed_hz - 50.7).abs() < 1e-9, "{}", p.proposed_hz);
    // At its maximum, or changed sooner than its interval: nothing.
    assert_eq!(reason(with(setpoint(None, Some(50.0), None, long_ago))), HoldReason::SetpointLimit);
    assert_eq!(reason(with(setpoint(None, None, Some(30 * MINUTE), NOW - 10 * MINUTE))), HoldReason::SetpointLimit);
    plan(with(setpoint(None, None, Some(30 * MINUTE), NOW - 31 * MINUTE)));
}
