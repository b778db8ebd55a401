//! Statistical checks of the three detectors on seeded Gaussian noise
//! (xorshift64* + Box–Muller): run lengths against the textbook values
//! (CUSUM k = 0.5, h = 5: ARL₀ ≈ 465 and ARL₁ ≈ 10.4 for a 1σ shift; EWMA
//! λ = 0.2, L = 3 with exact limits: ARL₀ ≈ 530, ≈ 10 for 1σ, ≈ 3 for 2σ),
//! the robust z-score's false-alarm rate against `P(|Z| > 3.5)`, and the
//! whole rule on steps under the SDK's test harness.

use std::collections::BTreeMap;

use alarm_rule_streaming_detectors::StreamingDetectors;
use alarm_rule_streaming_detectors::stats::{Cusum, Ewma, RollingWindow};
use nexus_plugin_sdk::testing::Harness;
use nexus_plugin_sdk::{AlarmAction, AlarmSignal, Sample, Series};

/// xorshift64* with Box–Muller: reproducible N(0, 1) draws.
struct Gaussian {
    state: u64,
    spare: Option<f64>,
}

impl Gaussian {
    fn new(seed: u64) -> Self {
        Self { state: seed.max(1), spare: None }
    }

    fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let bits = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }
}

/// Mean run length (samples up to and including the first signal) over `runs` runs.
fn average_run_length(runs: u32, seed: u64, mut run: impl FnMut(&mut Gaussian) -> u32) -> f64 {
    let mut rng = Gaussian::new(seed);
    (0..runs).map(|_| f64::from(run(&mut rng))).sum::<f64>() / f64::from(runs)
}

fn cusum_run(rng: &mut Gaussian, shift: f64) -> u32 {
    let mut cusum = Cusum::default();
    for t in 1..=100_000 {
        if cusum.update(i64::from(t), rng.next() + shift, 0.0, 1.0, 0.5, 5.0).signal.is_some() {
            return t;
        }
    }
    100_000
}

fn ewma_run(rng: &mut Gaussian, shift: f64) -> u32 {
    let mut ewma = Ewma::default();
    for t in 1..=100_000 {
        if ewma.update(rng.next() + shift, 0.0, 1.0, 0.2, 3.0).out_of_control(0.0) {
            return t;
        }
    }
    100_000
}

#[test]
fn cusum_in_control_arl_is_near_465() {
    // 3000 runs: the standard error of the mean is about 465/√3000 ≈ 8.5.
    let arl0 = average_run_length(3000, 0x5eed_0001, |rng| cusum_run(rng, 0.0));
    println!("CUSUM k=0.5 h=5: ARL0 = {arl0:.1} (tabulated ≈ 465)");
    assert!((425.0..=505.0).contains(&arl0), "ARL0 = {arl0}");
}

#[test]
fn cusum_detects_a_one_sigma_shift_in_about_ten_samples() {
    let arl1 = average_run_length(5000, 0x5eed_0002, |rng| cusum_run(rng, 1.0));
    println!("CUSUM k=0.5 h=5: ARL1(1σ) = {arl1:.2} (tabulated ≈ 10.4)");
    assert!((9.4..=11.4).contains(&arl1), "ARL1 = {arl1}");
    let down = average_run_length(5000, 0x5eed_0003, |rng| cusum_run(rng, -1.0));
    assert!((9.4..=11.4).contains(&down), "ARL1 downward = {down}");
}

#[test]
fn ewma_run_lengths_match_the_exact_limit_chart() {
    let arl0 = average_run_length(2000, 0x5eed_0004, |rng| ewma_run(rng, 0.0));
    let arl1 = average_run_length(5000, 0x5eed_0005, |rng| ewma_run(rng, 1.0));
    let arl2 = average_run_length(5000, 0x5eed_0006, |rng| ewma_run(rng, 2.0));
    println!("EWMA λ=0.2 L=3: ARL0 = {arl0:.0}, ARL1(1σ) = {arl1:.2}, ARL1(2σ) = {arl2:.2}");
    assert!((470.0..=600.0).contains(&arl0), "ARL0 = {arl0}");
    assert!((9.0..=11.0).contains(&arl1), "ARL1(1σ) = {arl1}");
    assert!((2.6..=3.3).contains(&arl2), "ARL1(2σ) = {arl2}");
}

#[test]
fn robust_z_fires_on_noise_at_about_the_nominal_rate() {
    // Two-sided P(|Z| > 3.5) for N(0, 1).
    let nominal = 4.6525e-4;
    let mut rng = Gaussian::new(0x5eed_0007);
    let mut window = RollingWindow::default();
    let (mut scored, mut out) = (0u32, 0u32);
    for _ in 0..300_000 {
        let x = rng.next();
        if let Some(s) = window.score(x, 60, 0.0) {
            scored += 1;
            out += u32::from(s.z.abs() > 3.5);
        }
        window.push(x, 600);
    }
    let rate = f64::from(out) / f64::from(scored);
    println!("robust z (window 600, 3.5): {out} of {scored} = {rate:.2e} (nominal {nominal:.2e})");
    assert!((0.6 * nominal..=2.0 * nominal).contains(&rate), "rate {rate}");
}

/// 1 Hz samples of `values` from t = 0 s.
fn series(key: &str, values: &[f64]) -> Vec<Series> {
    let samples = values.iter().enumerate().map(|(t, &v)| Sample::new(t as i64 * 1000, v));
    vec![Series::from_samples(key, samples)]
}

/// Replays 60-sample batches through the harness (the states carried
/// between calls as JSON bytes, as on the host), each call at the time of its
/// last sample.
fn replay(config_json: &str, key: &str, values: &[f64]) -> Vec<AlarmSignal> {
    let mut rule = Harness::<StreamingDetectors>::from_json(config_json).expect("valid config");
    let mut signals = Vec::new();
    let all = series(key, values);
    for chunk in all[0].samples().chunks(60) {
        let batch = vec![Series::from_samples(key, chunk.to_vec())];
        let now = chunk.last().map_or(0, |s| s.ts);
        signals.extend(rule.evaluate(now, &batch).expect("the rule runs"));
    }
    let detectors = rule.config().detectors.len();
    assert!(rule.store().values().len() <= detectors, "one state value per detector");
    assert!(rule.store().largest() < 48 * 1024, "a state value of {} bytes", rule.store().largest());
    signals
}

/// Noise N(10, 1), then from `at` on a shift of `shift`.
fn noise_with_step(seed: u64, len: usize, at: usize, shift: f64) -> Vec<f64> {
    let mut rng = Gaussian::new(seed);
    (0..len).map(|i| 10.0 + rng.next() + if i >= at { shift } else { 0.0 }).collect()
}

fn raises(signals: &[AlarmSignal], alarm_type: &str) -> Vec<i64> {
    signals
        .iter()
        .filter(|s| s.alarm_type == alarm_type && s.action == AlarmAction::Raise)
        .map(|s| s.ts / 1000)
        .collect()
}

/// Whether the alarm is open at second `t` after the signals up to it.
fn open_at(signals: &[AlarmSignal], alarm_type: &str, t: i64) -> bool {
    signals
        .iter()
        .filter(|s| s.alarm_type == alarm_type && s.ts / 1000 <= t)
        .fold(false, |_, s| s.action == AlarmAction::Raise)
}

#[test]
fn every_detector_catches_a_step_within_ten_samples() {
    let config = r#"{"detectors": [
        {"kind": "robust_z", "key": "p", "window": 300},
        {"kind": "ewma", "key": "p", "mean": 10, "std": 1},
        {"kind": "ewma", "key": "p", "alarm_type": "ewma-estimated"},
        {"kind": "cusum", "key": "p", "mean": 10, "std": 1},
        {"kind": "cusum", "key": "p", "alarm_type": "cusum-estimated", "warmup": 200}
    ]}"#;
    // A 3σ step at t = 500 s: every detector's alarm is open 10 s after it
    // (raised by the step, or still open from an earlier false alarm; the
    // false-alarm rates are checked by `in_control_noise_raises_rarely`).
    for seed in 1..=5 {
        let signals = replay(config, "p", &noise_with_step(seed, 700, 500, 3.0));
        for alarm in ["robust_z:p", "ewma:p", "ewma-estimated", "cusum:p", "cusum-estimated"] {
            let got = raises(&signals, alarm);
            assert!(open_at(&signals, alarm, 509), "seed {seed} {alarm}: {got:?}");
        }
    }
}

#[test]
fn in_control_noise_raises_rarely() {
    // One hour of in-control noise per detector, five seeds: with ARL0 ≈ 465–530
    // (CUSUM, EWMA) and clear_after = 60, a handful of raises per hour at most.
    let config = r#"{"detectors": [
        {"kind": "robust_z", "key": "p", "window": 600},
        {"kind": "ewma", "key": "p", "mean": 10, "std": 1},
        {"kind": "cusum", "key": "p", "mean": 10, "std": 1}
    ]}"#;
    let mut counts = BTreeMap::new();
    for seed in 11..=15 {
        let signals = replay(config, "p", &noise_with_step(seed, 3600, usize::MAX, 0.0));
        for alarm in ["robust_z:p", "ewma:p", "cusum:p"] {
            *counts.entry(alarm).or_insert(0) += raises(&signals, alarm).len();
        }
    }
    println!("raises in 5 h of in-control noise: {counts:?}");
    // Expected about 5 h · 3600 / ARL0 ≈ 34–39 signals for CUSUM/EWMA (fewer raises: a
    // signal within the clear window of the last one does not raise again) and
    // ≈ 8 for robust z (rate ≈ 4.7e-4 per sample).
    for (alarm, count) in counts {
        assert!(count <= 60, "{alarm}: {count} raises");
    }
}
