//! The pump-off controller on synthetic cards: pump-off lengthens the idle
//! time (or slows a VFD) within the setpoint's limits, filled strokes
//! shorten it, and the holds: open recommendation, rod part, load limits,
//! in band, minimum interval, at the limit.

use nexus_physics::card::CardClass;
use nexus_physics::card::synthetic::{Params, synthetic};
use nexus_physics::sim::SplitMix64;
use nexus_plugin_sdk::testing::batch;
use nexus_plugin_sdk::{OpenRecommendation, Setpoint, SetpointSource, WellContext};
use optimizer_rod_pump_poc::{Config, Decision, HoldReason, Mode, decide, parse_config};
use serde_json::json;

const NOW: i64 = 1_717_200_000_000;
const MINUTE: i64 = 60_000;

/// A downhole card of `class` (fillage `fillage` for pound/gas) as JSON text.
fn card(class: CardClass, fillage: Option<f64>, seed: u64) -> String {
    let mut rng = SplitMix64::new(seed);
    let s = synthetic(class, &Params { fillage, fluid_load_lbf: 5000.0, ..Params::default() }, &mut rng);
    json!({"position": s.card.position, "load": s.card.load, "kind": "downhole"}).to_string()
}

fn setpoint(parameter: &str, value: f64, unit: &str, min: f64, max: f64, max_step: f64) -> Setpoint {
    Setpoint {
        parameter: parameter.into(),
        value,
        unit: unit.into(),
        min: Some(min),
        max: Some(max),
        max_step: Some(max_step),
        min_interval_ms: None,
        source: SetpointSource::Device,
        updated_at: NOW - 24 * 60 * MINUTE,
    }
}

/// A well whose cards are `cards`, one a minute up to `NOW`, with `setpoints`.
fn context(cards: &[String], setpoints: Vec<Setpoint>) -> WellContext {
    let n = cards.len() as i64;
    let rows = cards.iter().enumerate().map(|(i, c)| (NOW - (n - i as i64) * MINUTE, "card", c.as_str()));
    WellContext {
        well_id: "well-7".into(),
        device_id: "rp-7".into(),
        readings: batch(rows),
        setpoints,
        static_data: "{}".into(),
        open_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        well_tests: Vec::new(),
    }
}

fn idle(value: f64) -> Vec<Setpoint> {
    vec![setpoint("idle_time_min", value, "min", 15.0, 60.0, 10.0)]
}

fn pounding(n: u64) -> Vec<String> {
    (0..n).map(|i| card(CardClass::FluidPound, Some(0.55 + 0.05 * (i % 3) as f64), 100 + i)).collect()
}

fn full(n: u64) -> Vec<String> {
    (0..n).map(|i| card(CardClass::FullPump, None, 200 + i)).collect()
}

fn held(decision: &Decision) -> HoldReason {
    match decision {
        Decision::Hold { reason, .. } => *reason,
        Decision::Recommend(r) => panic!("expected a hold, got {r:?}"),
    }
}

#[test]
fn three_pumped_off_strokes_lengthen_the_idle_time_within_its_limits() {
    let mut cards = full(4);
    cards.extend(pounding(3));
    let out = decide(&Config::default(), &context(&cards, idle(30.0)), NOW);
    let Decision::Recommend(r) = &out.decision else { panic!("expected a recommendation: {:?}", out.decision) };
    assert_eq!(
        (r.parameter.as_str(), r.current_value, r.proposed_value, r.unit.as_str()),
        ("idle_time_min", 30.0, 35.0, "min")
    );
    assert_eq!(r.device_id, "rp-7");
    assert!(r.rationale.contains("pumped off") && r.rationale.contains("FluidPound"), "{}", r.rationale);
    let details: serde_json::Value = serde_json::from_str(&r.details).expect("details JSON");
    assert_eq!(details["direction"], "pumped-off");
    assert_eq!(details["strokes"].as_array().expect("strokes").len(), 3);
    for s in details["strokes"].as_array().expect("strokes") {
        let f = s["fillage"].as_f64().expect("fillage");
        assert!((0.5..0.7).contains(&f), "{f}");
    }
    assert_eq!(details["interlocks"]["setpoint_range"], json!([15.0, 60.0]));
    assert_eq!(details["interlocks"]["rod_part"], false);
    assert!((0.5..=1.0).contains(&r.confidence));
    // The setpoint's max step (2 min) caps the step; its max (31 min) caps the value.
    let capped = vec![setpoint("idle_time_min", 30.0, "min", 15.0, 60.0, 2.0)];
    let Decision::Recommend(r) = decide(&Config::default(), &context(&cards, capped), NOW).decision else { panic!() };
    assert_eq!(r.proposed_value, 32.0);
    let near_max = vec![setpoint("idle_time_min", 30.0, "min", 15.0, 31.0, 10.0)];
    let Decision::Recommend(r) = decide(&Config::default(), &context(&cards, near_max), NOW).decision else { panic!() };
    assert_eq!(r.proposed_value, 31.0);
    // At its max: nothing.
    assert_eq!(held(&decide(&Config::default(), &context(&cards, idle(60.0)), NOW).decision), HoldReason::AtLimit);
}

#[test]
fn well_filled_strokes_shorten_the_idle_time_and_mixed_ones_hold() {
    let out = decide(&Config::default(), &context(&full(5), idle(30.0)), NOW);
    let Decision::Recommend(r) = out.decision else { panic!("{:?}", out.decision) };
    assert_eq!(r.proposed_value, 25.0);
    assert!(r.rationale.contains("well filled"), "{}", r.rationale);
    assert_eq!(held(&decide(&Config::default(), &context(&full(5), idle(15.0)), NOW).decision), HoldReason::AtLimit);
    // Two pumped-off strokes are not three; four full ones are not five.
    let mut mixed = full(3);
    mixed.extend(pounding(2));
    assert_eq!(held(&decide(&Config::default(), &context(&mixed, idle(30.0)), NOW).decision), HoldReason::InBand);
    assert_eq!(held(&decide(&Config::default(), &context(&full(4), idle(30.0)), NOW).decision), HoldReason::InBand);
}

#[test]
fn on_a_vfd_pump_off_slows_the_pump_one_step() {
    let config = parse_config(r#"{"mode": "vfd"}"#).expect("config");
    assert_eq!(config.mode, Mode::Vfd);
    let spm = vec![setpoint("spm", 8.0, "1/min", 4.0, 10.0, 0.3)];
    let Decision::Recommend(r) = decide(&config, &context(&pounding(3), spm.clone()), NOW).decision else { panic!() };
    assert_eq!((r.parameter.as_str(), r.proposed_value), ("spm", 7.7));
    let Decision::Recommend(r) = decide(&config, &context(&full(5), spm), NOW).decision else { panic!() };
    assert_eq!(r.proposed_value, 8.3);
    // No spm setpoint: nothing.
    assert_eq!(held(&decide(&config, &context(&pounding(3), idle(30.0)), NOW).decision), HoldReason::MissingSetpoint);
}

#[test]
fn an_open_recommendation_holds_until_it_expires() {
    let mut ctx = context(&pounding(3), idle(30.0));
    ctx.open_recommendations = vec![OpenRecommendation {
        parameter: "idle_time_min".into(),
        proposed_value: 35.0,
        created_at: NOW - 30 * MINUTE,
    }];
    assert_eq!(held(&decide(&Config::default(), &ctx, NOW).decision), HoldReason::OpenRecommendation);
    // One of another setpoint does not hold; an expired one does not either.
    ctx.open_recommendations[0].parameter = "spm".into();
    assert!(matches!(decide(&Config::default(), &ctx, NOW).decision, Decision::Recommend(_)));
    ctx.open_recommendations[0].parameter = "idle_time_min".into();
    ctx.open_recommendations[0].created_at = NOW - 25 * 60 * MINUTE;
    assert!(matches!(decide(&Config::default(), &ctx, NOW).decision, Decision::Recommend(_)));
}

#[test]
fn a_rod_part_or_a_load_beyond_its_limit_stops_the_optimizer() {
    let mut cards = pounding(2);
    cards.push(card(CardClass::RodPart, None, 300));
    let ctx = context(&cards, idle(30.0));
    // By the span rule.
    let config = parse_config(r#"{"rod_part_span_lbf": 1250}"#).expect("config");
    let out = decide(&config, &ctx, NOW);
    assert_eq!(held(&out.decision), HoldReason::Safety);
    assert_eq!(out.strokes.last().map(|s| s.class), Some(CardClass::RodPart));
    // By the peak polished-rod load (4000 lbf of rods, peak under 5000 lbf).
    let config = parse_config(r#"{"buoyant_rod_weight_lbf": 4000, "min_peak_load_lbf": 5000}"#).expect("config");
    assert_eq!(held(&decide(&config, &ctx, NOW).decision), HoldReason::Safety);
    // Without a rod-part reference (span or peak load) the shape alone does not call it a rod part.
    let plain = decide(&Config::default(), &ctx, NOW);
    assert_ne!(plain.strokes.last().map(|s| s.class), Some(CardClass::RodPart));
    // Loads of healthy cards beyond the limits: the pump-off cards peak near 5000 lbf + 4000 lbf of rods.
    let pounding_ctx = context(&pounding(3), idle(30.0));
    let over = parse_config(r#"{"buoyant_rod_weight_lbf": 4000, "max_peak_load_lbf": 8500}"#).expect("config");
    let out = decide(&over, &pounding_ctx, NOW);
    assert_eq!(held(&out.decision), HoldReason::Safety);
    let Decision::Hold { message, .. } = out.decision else { panic!() };
    assert!(message.contains("above 8500 lbf"), "{message}");
    let under = parse_config(r#"{"buoyant_rod_weight_lbf": 4000, "min_load_lbf": 4100}"#).expect("config");
    assert_eq!(held(&decide(&under, &pounding_ctx, NOW).decision), HoldReason::Safety);
    let fine = parse_config(r#"{"buoyant_rod_weight_lbf": 4000, "max_peak_load_lbf": 12000, "min_load_lbf": 3000}"#)
        .expect("config");
    assert!(matches!(decide(&fine, &pounding_ctx, NOW).decision, Decision::Recommend(_)));
}

#[test]
fn malformed_cards_are_skipped_and_the_minimum_interval_is_kept() {
    let mut cards = pounding(3);
    cards.insert(1, "{\"position\": [1, 2], \"load\": [3, 4]}".into());
    cards.push("nonsense".into());
    let out = decide(&Config::default(), &context(&cards, idle(30.0)), NOW);
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("at least 20 points"), "{}", out.warnings[0]);
    assert!(out.warnings[1].contains("not a card"), "{}", out.warnings[1]);
    assert!(matches!(out.decision, Decision::Recommend(_)));
    let mut recent = idle(30.0);
    recent[0].min_interval_ms = Some(60 * MINUTE);
    recent[0].updated_at = NOW - 10 * MINUTE;
    assert_eq!(
        held(&decide(&Config::default(), &context(&pounding(3), recent), NOW).decision),
        HoldReason::MinInterval
    );
    assert_eq!(held(&decide(&Config::default(), &context(&[], idle(30.0)), NOW).decision), HoldReason::NoCards);
}

#[test]
fn bad_configurations_are_refused_with_the_field() {
    for (text, needle) in [
        (r#"{"fillage_setpoint": 1.5}"#, "fillage_setpoint"),
        (r#"{"fillage_setpoint": 0.9, "high_fillage": 0.85}"#, "high_fillage"),
        (r#"{"strokes_below": 0}"#, "strokes_below"),
        (r#"{"idle_range_min": [60, 15]}"#, "idle_range_min"),
        (r#"{"mode": "stop"}"#, "unknown variant"),
        (r#"{"idle_step_min": 0}"#, "idle_step_min"),
    ] {
        let e = parse_config(text).expect_err(text);
        assert_eq!(e.code, "invalid-config");
        assert!(e.message.contains(needle), "{text}: {}", e.message);
    }
    let schema = optimizer_rod_pump_poc::schema();
    assert_eq!(schema["properties"]["fillage_setpoint"]["default"], 0.8);
}
