//! Tests of the rule on synthetic traces.
use super::*;
use crate::PckRestrictionRule;
use crate::config::parse_config;
use nexus_plugin_sdk::testing::Harness;
use nexus_plugin_sdk::{AlarmAction, Sample, Series, Severity, Value};

const DEVICE: &str = "well-3";

/// 1 Hz samples `(second, value)`.
fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
    points.iter().map(|&(t, v)| Sample { ts: t * 1000, value: Value::Number(v), quality: 1.0 }).collect()
}

/// A level of 50 bar with a ±0.2 % wiggle, from `from` for `secs` seconds, scaled by `scale`.
fn steady(from: i64, secs: i64, scale: f64) -> Vec<(i64, f64)> {
    (from..from + secs).map(|t| (t, 5.0e6 * scale * (1.0 + 0.002 * ((t % 7) as f64 - 3.0) / 3.0))).collect()
}

/// Runs 60-sample batches of the watched key through the SDK harness
/// (the state carried between calls as JSON bytes, as on the host), each
/// call at the time of its last sample.
fn replay(config: &PckConfig, points: &[(i64, f64)]) -> Vec<AlarmSignal> {
    let mut rule = Harness::<PckRestrictionRule>::new(config.clone()).with_device(DEVICE);
    let mut signals = Vec::new();
    for chunk in points.chunks(60) {
        let now = chunk.last().map_or(0, |p| p.0 * 1000);
        let batch = [Series::from_samples(&config.key, samples(chunk))];
        signals.extend(rule.evaluate(now, &batch).expect("the rule runs"));
    }
    signals
}

fn summary(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64)> {
    signals.iter().map(|s| (s.action, s.ts / 1000)).collect()
}

#[test]
fn quick_step_raises_after_the_confirmation() {
    let mut points = steady(0, 300, 1.0);
    // 8 % up within 5 s at t = 300..305, then held.
    points.extend((300..305).map(|t| (t, 5.0e6 * (1.0 + 0.016 * (t - 299) as f64))));
    points.extend(steady(305, 300, 1.08));
    let signals = replay(&PckConfig::paper_reading(), &points);
    let got = summary(&signals);
    assert_eq!(got.len(), 1, "{got:?}");
    let raise = &signals[0];
    assert_eq!(
        (raise.action, raise.severity, raise.alarm_type.as_str()),
        (AlarmAction::Raise, Severity::Major, "PckRestriction")
    );
    let details: serde_json::Value = serde_json::from_str(&raise.details).expect("json");
    let step_at = details["step_at"].as_i64().expect("step_at") / 1000;
    assert!((302..=304).contains(&step_at), "step at {step_at}");
    assert_eq!(raise.ts / 1000, step_at + 60);
    assert!(details["pre_step_level"].as_f64().is_some_and(|p| (p / 5.0e6 - 1.0).abs() < 0.003));
    assert!(details["change_pct"].as_f64().is_some_and(|c| c > 7.0));
}

#[test]
fn slow_ramp_and_short_spike_do_not_raise() {
    // The same 8 % over 5 minutes: never 5 % within 10 s.
    let mut ramp = steady(0, 300, 1.0);
    ramp.extend((300..600).map(|t| (t, 5.0e6 * (1.0 + 0.08 * (t - 300) as f64 / 300.0))));
    ramp.extend(steady(600, 300, 1.08));
    assert!(replay(&PckConfig::paper_reading(), &ramp).is_empty());
    // A 30 s spike of +10 %, then back: not confirmed.
    let mut spike = steady(0, 300, 1.0);
    spike.extend(steady(300, 30, 1.10));
    spike.extend(steady(330, 300, 1.0));
    assert!(replay(&PckConfig::paper_reading(), &spike).is_empty());
    // An oscillation of ±10 % with a 40 s period: never confirmed.
    let wave: Vec<(i64, f64)> =
        (0..3600).map(|t| (t, 5.0e6 * (1.0 + 0.1 * (t as f64 * std::f64::consts::TAU / 40.0).sin()))).collect();
    assert!(replay(&PckConfig::paper_reading(), &wave).is_empty());
}

#[test]
fn the_default_profile_catches_a_slow_ramp() {
    let config = parse_config(r#"{"discriminators": {"enabled": false}}"#).expect("valid");
    let mut ramp = steady(0, 600, 1.0);
    ramp.extend((600..900).map(|t| (t, 5.0e6 * (1.0 + 0.08 * (t - 600) as f64 / 300.0))));
    ramp.extend(steady(900, 300, 1.08));
    let got = summary(&replay(&config, &ramp));
    assert_eq!(got.len(), 1, "{got:?}");
    // 3 % (+ the wiggle of the baseline's highest second) is reached ~120 s into the ramp, then 60 s confirmation.
    assert!((780..=800).contains(&got[0].1), "{got:?}");
}

#[test]
fn clears_after_the_level_returns() {
    let mut points = steady(0, 300, 1.0);
    points.extend(steady(300, 600, 1.10));
    points.extend(steady(900, 300, 1.0));
    let got = summary(&replay(&PckConfig::paper_reading(), &points));
    assert_eq!(got, vec![(AlarmAction::Raise, 360), (AlarmAction::Clear, 900 + 120)]);
}

#[test]
fn zero_negative_and_missing_levels_are_ignored() {
    // A dead gauge reading 0 that comes back, and an offset near 0 Pa that jumps.
    let mut points: Vec<(i64, f64)> = (0..300).map(|t| (t, 0.0)).collect();
    points.extend(steady(300, 300, 1.0));
    assert!(replay(&PckConfig::paper_reading(), &points).is_empty());
    let mut offset: Vec<(i64, f64)> = (0..300).map(|t| (t, -8000.0)).collect();
    offset.extend((300..600).map(|t| (t, 9000.0)));
    assert!(replay(&PckConfig::paper_reading(), &offset).is_empty());
    // After a 10-minute gap there is no baseline yet.
    let mut gap = steady(0, 300, 1.0);
    gap.extend(steady(900, 300, 1.10));
    assert!(replay(&PckConfig::paper_reading(), &gap).is_empty());
}

#[test]
fn a_gap_during_the_confirmation_drops_the_step() {
    let mut points = steady(0, 300, 1.0);
    points.extend(steady(300, 30, 1.10));
    // Silent for 60 s, then back at the high level: the step is not confirmed ...
    points.extend(steady(390, 20, 1.10));
    let got = summary(&replay(&PckConfig::paper_reading(), &points));
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn unsorted_text_and_non_finite_samples_are_handled() {
    let config = PckConfig::paper_reading();
    let mut state = PckState::default();
    let mut batch = samples(&steady(0, 120, 1.0));
    batch.reverse();
    batch.push(Sample { ts: 121_000, value: Value::Text("bad".into()), quality: 0.0 });
    batch.push(Sample { ts: 122_000, value: Value::Number(f64::NAN), quality: 0.0 });
    // Mixed value types make one series per type.
    let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
    for s in batch {
        builder.push(&config.key, s.ts, s.value, s.quality);
    }
    let batch = builder.build();
    assert_eq!(batch.len(), 2);
    assert!(evaluate_batch(&config, &mut state, DEVICE, &batch).is_empty());
    assert_eq!(state.last_ts, Some(119_000));
    assert!(evaluate_batch(&config, &mut state, DEVICE, &[]).is_empty());
}

#[test]
fn state_stays_small_with_the_largest_window() {
    let config = parse_config(r#"{"rise_window_s": 450, "baseline_s": 450}"#).expect("valid");
    let mut state = PckState::default();
    let hour = samples(&steady(0, 3600, 1.0));
    let batch: Vec<Series> = ["P-MON-CKP", "P-TPT", "T-JUS-CKP", "QGL"]
        .into_iter()
        .map(|key| Series::from_samples(key, hour.clone()))
        .collect();
    evaluate_batch(&config, &mut state, DEVICE, &batch);
    let bytes = serde_json::to_vec(&state).expect("encode").len();
    assert!(state.buckets.len() <= 902 && bytes < 40 * 1024, "{} buckets, {bytes} B", state.buckets.len());
    assert_eq!(state.aux.len(), 3, "the discriminators' keys are kept");
}
