//! The must-show answers of issue #14, through the optimizer's decision
//! function (`decide`), not the physics library's own policy.
//!
//! Well (see `common::issue_well_json`): the measured point 50 Hz, 1300
//! bbl/d (metered), PIP 420 psi; stages calibrated to it; PI 1.2 (or 0.3)
//! kept and the reservoir pressure fitted through it.
//!
//! Expected values, derived independently of this crate and of
//! `nexus-physics` with a pure-Python bisection of the same equations
//! (re-run for this crate; the script is the derivation quoted in
//! `sdk/physics/tests/known_answers.rs`):
//!
//! * discharge(q) = 150 + 0.38·7000 + 60·(q/1300)²; N = (2870 − 420)/(0.38·h₅₀(1300)) = 318.572 stages;
//!   p_r = 420 + 1300/PI (1503.333 psi at PI 1.2, 4753.333 psi at PI 0.3);
//! * PIP 350 psi: q = 1.2·(1503.333 − 350) = 1384.0 bbl/d at f = 51.48591 Hz;
//! * 50.7 Hz: q = 1339.697 (PI 1.2, +39.697), 1319.567 (PI 0.3, +19.567);
//! * 35 Hz: q = 347.153 bbl/d < Q_min(35) = 466.67, 0.5301 ft/s past the motor < 1 ft/s;
//!   the PIP there is 1503.333 − 347.153/1.2 = 1214.039 psi;
//! * 49 A at 50 Hz on a 50 A motor: I(f) = 49·(f/50)², the limit is
//!   f = 50·√(50/49) = 50.50763 Hz (51 Hz would draw 50.98 A).

mod common;

use common::*;
use nexus_physics::esp::envelope::Constraint;
use optimizer_esp_frequency::calibrate::calibrate;
use optimizer_esp_frequency::decide::step_violations;
use optimizer_esp_frequency::observe::observe;
use optimizer_esp_frequency::{Decision, HoldReason, OpenRecommendation, Plan, decide, run};

fn plan(decision: Decision) -> Plan {
    match decision {
        Decision::Recommend(plan) => *plan,
        Decision::Hold { reason, message } => panic!("held ({reason:?}): {message}"),
    }
}

fn held(decision: Decision) -> (HoldReason, String) {
    match decision {
        Decision::Hold { reason, message } => (reason, message),
        Decision::Recommend(plan) => panic!("recommended {:?}", plan.recommendation),
    }
}

#[test]
fn the_frequency_for_350_psi_is_51_49_hz_at_1384_bpd() {
    // A step limit wide enough to go there at once.
    let p = plan(decide(&config(), &input(well(issue_well_json(1.2, 2.0)), issue_readings(40.0))));
    assert!(within(p.target_hz, 51.49, 0.02) && (p.target_hz - 51.48591).abs() < 1e-3, "{}", p.target_hz);
    assert_eq!(p.binding, [Constraint::IntakePressure]);
    assert!(within(p.at_target.rate_bpd, 1384.0, 0.02) && (p.at_target.rate_bpd - 1384.0).abs() < 0.05);
    // The proposal is the target rounded to 0.01 Hz towards the current frequency.
    assert!((p.proposed_hz - 51.48).abs() < 1e-9, "{}", p.proposed_hz);
    assert!(within(p.after.rate_bpd, 1384.0, 0.02));
    assert_eq!(p.recommendation.parameter, "frequency_hz");
    assert_eq!((p.recommendation.current_value, p.recommendation.unit.as_str()), (50.0, "Hz"));
    // Expected gain is the oil: half of the liquid at 50 % water cut.
    assert!((p.recommendation.expected_gain - p.delta_liquid_bpd / 2.0).abs() < 1e-9);
    assert_eq!(p.recommendation.gain_unit, "bbl/d oil");
    let r = &p.recommendation.rationale;
    assert!(r.contains("Binding constraint: intake pressure"), "{r}");
    assert!(r.contains("oil +") && r.contains("water +") && r.contains(" kW"), "{r}");

    // With the default 1 Hz step the same target is approached one step at a time.
    let p = plan(decide(&config(), &input(well(issue_well_json(1.2, 1.0)), issue_readings(40.0))));
    assert!((p.target_hz - 51.48591).abs() < 1e-3);
    assert!((p.proposed_hz - 51.0).abs() < 1e-9);
    assert!(
        p.recommendation.rationale.contains("binding limit is reached at 51.49 Hz"),
        "{}",
        p.recommendation.rationale
    );
    println!("{}", p.recommendation.rationale);
}

#[test]
fn a_0_7_hz_step_gains_39_7_bpd_at_pi_1_2_and_19_6_at_pi_0_3() {
    for (pi, issue, derived) in [(1.2, 39.7, 39.697), (0.3, 19.6, 19.567)] {
        let p = plan(decide(&config(), &input(well(issue_well_json(pi, 0.7)), issue_readings(40.0))));
        assert!((p.proposed_hz - 50.7).abs() < 1e-9, "PI {pi}: {}", p.proposed_hz);
        assert!(within(p.delta_liquid_bpd, issue, 0.02), "PI {pi}: {}", p.delta_liquid_bpd);
        assert!((p.delta_liquid_bpd - derived).abs() < 1e-2, "PI {pi}: {}", p.delta_liquid_bpd);
        assert!((p.delta_oil_bpd - derived / 2.0).abs() < 1e-2 && (p.delta_water_bpd - derived / 2.0).abs() < 1e-2);
        assert!(p.target_hz > 50.7, "PI {pi}: the target {} is beyond the step", p.target_hz);
    }
}

#[test]
fn a_proposed_35_hz_is_refused_for_downthrust_and_cooling() {
    // The PIP target that only 35 Hz would reach (1214.039 psi, derived above),
    // with the frequency floor out of the way: no frequency is feasible, and
    // the hold names what breaks at 35 Hz.
    let data = with_limit(
        with_limit(issue_well_json(1.2, 15.0), "target_intake_pressure_psi", 1214.039),
        "min_frequency_hz",
        30.0,
    );
    let (reason, message) = held(decide(&config(), &input(well(data), issue_readings(40.0))));
    let HoldReason::Infeasible(violations) = reason else { panic!("{reason:?}: {message}") };
    let broken: Vec<Constraint> = violations.iter().map(|v| v.constraint).collect();
    assert_eq!(broken, [Constraint::Downthrust, Constraint::CoolingVelocity], "{message}");
    assert!(message.contains("needs 35.00 Hz"), "{message}");
    let downthrust = violations[0];
    assert!((downthrust.value - 347.153).abs() < 0.01 && (downthrust.limit - 466.667).abs() < 0.01);
    assert!((violations[1].value - 0.5301).abs() < 1e-3);

    // The optimizer's step check refuses 50 → 35 Hz on the calibrated model:
    // both limits hold at 50 Hz and break at 35 Hz.
    let data = well(issue_well_json(1.2, 15.0));
    let model = data.model().expect("valid");
    let seen = observe(&config(), &issue_readings(40.0), &[], NOW, false).expect("steady");
    let calibrated = calibrate(&config(), &model, &seen, NOW).expect("calibrates");
    let before = calibrated.well.assess(50.0, &model.limits).expect("assess");
    let after = calibrated.well.assess(35.0, &model.limits).expect("assess");
    let refused: Vec<Constraint> = step_violations(&before, &after).iter().map(|v| v.constraint).collect();
    assert!(refused.contains(&Constraint::Downthrust) && refused.contains(&Constraint::CoolingVelocity), "{refused:?}");
}

#[test]
fn forty_nine_amps_at_50_hz_block_a_step_to_51_hz() {
    let p = plan(decide(&config(), &input(well(issue_well_json(1.2, 1.0)), issue_readings(49.0))));
    assert_eq!(p.binding, [Constraint::MotorLoad]);
    assert!((p.target_hz - 50.50763).abs() < 1e-4, "{}", p.target_hz);
    assert!((p.proposed_hz - 50.50).abs() < 1e-9, "{}", p.proposed_hz);
    assert!(p.after.motor_load <= 1.0);
    // 51 Hz itself breaks the motor load, and the step check says so.
    let model = well(issue_well_json(1.2, 1.0)).model().expect("valid");
    let seen = observe(&config(), &issue_readings(49.0), &[], NOW, false).expect("steady");
    let calibrated = calibrate(&config(), &model, &seen, NOW).expect("calibrates");
    let at_51 = calibrated.well.assess(51.0, &model.limits).expect("assess");
    assert!((at_51.point.motor_current_a - 50.9796).abs() < 1e-3);
    let before = calibrated.well.assess(50.0, &model.limits).expect("assess");
    let refused: Vec<Constraint> = step_violations(&before, &at_51).iter().map(|v| v.constraint).collect();
    assert_eq!(refused, [Constraint::MotorLoad]);
}

#[test]
fn a_protection_alarm_suppresses_recommendations() {
    let mut i = input(well(issue_well_json(1.2, 1.0)), issue_readings(40.0));
    i.active_alarms = vec!["HighPressure".into()];
    plan(decide(&config(), &i)); // not a protection alarm
    for alarm in ["Underload", "GasLock", "HighMotorTemperature"] {
        i.active_alarms = vec!["HighPressure".into(), alarm.into()];
        let (reason, message) = held(decide(&config(), &i));
        assert_eq!(reason, HoldReason::ProtectionAlarm, "{message}");
        assert!(message.contains(alarm));
    }
}

#[test]
fn a_repeat_run_does_not_duplicate_an_open_recommendation() {
    let mut i = input(well(issue_well_json(1.2, 1.0)), issue_readings(40.0));
    let first = plan(decide(&config(), &i));
    i.open_recommendations = vec![OpenRecommendation {
        parameter: "frequency_hz".into(),
        proposed_value: first.proposed_hz,
        created_ms: NOW - 15 * MINUTE,
    }];
    assert_eq!(held(decide(&config(), &i)).0, HoldReason::OpenRecommendation);
    // Once it is older than the time-to-live it no longer silences.
    i.open_recommendations[0].created_ms = NOW - config().open_recommendation_ttl_ms;
    plan(decide(&config(), &i));

    // The component's glue: the same well context twice, the second time
    // with the first recommendation open (the host supplies it).
    let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
    for r in issue_readings(40.0) {
        builder.push(&r.key, r.ts, r.value, r.quality);
    }
    let mut context = nexus_plugin_sdk::WellContext {
        well_id: "w-1".into(),
        device_id: "esp-1".into(),
        readings: builder.build(),
        setpoints: Vec::new(),
        static_data: issue_well_json(1.2, 1.0).to_string(),
        open_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        well_tests: Vec::new(),
    };
    let (once, _) = run(&config(), &context, NOW, None);
    assert_eq!(once.len(), 1);
    context.open_recommendations = vec![nexus_plugin_sdk::OpenRecommendation {
        parameter: once[0].parameter.clone(),
        proposed_value: once[0].proposed_value,
        created_at: NOW,
    }];
    let (again, hold) = run(&config(), &context, NOW + 15 * MINUTE, None);
    assert!(again.is_empty());
    assert!(matches!(hold, Some(Decision::Hold { reason: HoldReason::OpenRecommendation, .. })), "{hold:?}");
    // An open recommendation the frequency has already reached was carried out.
    context.open_recommendations[0].proposed_value = 50.0;
    let (after, hold) = run(&config(), &context, NOW + 15 * MINUTE, None);
    assert!(!matches!(hold, Some(Decision::Hold { reason: HoldReason::OpenRecommendation, .. })), "{hold:?} {after:?}");
}

/// With a stored exponential decline forecast the expected gain is today's
/// Δoil times the forecast's mean over the horizon over its value now,
/// which for q = q₀·e^(−D·t) is Σ_{d=1..30} e^(−D·d) / 30; without one the
/// gain is today's Δoil and the details say the baseline is the current rate.
#[test]
fn the_expected_gain_rides_on_the_stored_forecast() {
    let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
    for r in issue_readings(40.0) {
        builder.push(&r.key, r.ts, r.value, r.quality);
    }
    let context = nexus_plugin_sdk::WellContext {
        well_id: "w-1".into(),
        device_id: "esp-1".into(),
        readings: builder.build(),
        setpoints: Vec::new(),
        static_data: issue_well_json(1.2, 1.0).to_string(),
        open_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        well_tests: Vec::new(),
    };
    let (plain, _) = run(&config(), &context, NOW, None);
    assert_eq!(plain.len(), 1);
    let plain_details: serde_json::Value = serde_json::from_str(&plain[0].details).expect("json");
    assert_eq!(plain_details["baseline"]["source"], "current rate");

    let decline = 0.004_f64;
    let day = 86_400_000_i64;
    let forecast = nexus_plugin_sdk::Forecast {
        device_id: "esp-1".into(),
        key: "oil_rate".into(),
        unit: "bbl/d".into(),
        points: (0..=12)
            .map(|k| {
                let value = 900.0 * (-decline * 30.0 * f64::from(k)).exp();
                nexus_plugin_sdk::ForecastPoint {
                    ts: NOW - 15 * day + i64::from(k) * 30 * day,
                    value,
                    low: value * 0.9,
                    high: value * 1.1,
                }
            })
            .collect(),
        model: r#"{"family":"exponential"}"#.into(),
    };
    let (on_forecast, _) = run(&config(), &context, NOW, Some(&forecast));
    assert_eq!(on_forecast.len(), 1);
    let factor = (1..=30).map(|d| (-decline * f64::from(d)).exp()).sum::<f64>() / 30.0;
    let want = plain[0].expected_gain * factor;
    assert!(
        (on_forecast[0].expected_gain - want).abs() <= 1e-9 * want.abs().max(1.0),
        "gain {} against {want} (factor {factor})",
        on_forecast[0].expected_gain
    );
    assert!(factor < 0.95 && on_forecast[0].expected_gain.abs() < plain[0].expected_gain.abs());
    let details: serde_json::Value = serde_json::from_str(&on_forecast[0].details).expect("json");
    assert_eq!(details["baseline"]["source"], "forecast");
    assert_eq!(details["baseline"]["model"]["family"], "exponential");
    assert!((details["baseline"]["factor"].as_f64().expect("factor") - factor).abs() < 1e-12);
    assert!(on_forecast[0].rationale.contains("Baseline: the `oil_rate` forecast"), "{}", on_forecast[0].rationale);
    assert_eq!(on_forecast[0].proposed_value, plain[0].proposed_value, "the baseline changes the gain, not the step");
}
