//! Running one configured detector over its key: optional bucket
//! aggregation, the in-control baseline (configured or estimated), the
//! statistic, and the alarm logic (raise on `m` of the last `n` values out of
//! control, clear after `clear_after` in-control values in a row).

use nexus_plugin_sdk::{AlarmSignal, Sample};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Baseline, Detector, Kind};
use crate::stats::{Cusum, Ewma, RollingWindow, Running};

/// What one detector remembers per (binding, device), kept in host state
/// under [`state_key`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// `kind:key` of the detector that wrote it: a state written by another
    /// detector (the configuration changed) is discarded.
    #[serde(default)]
    pub id: String,
    /// The open aggregation bucket: (start ms, sum, count, newest ts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<(i64, f64, u32, i64)>,
    /// Running estimate of the in-control mean and σ (while warming up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Running>,
    /// The estimated in-control (mean, σ), once warmed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<(f64, f64)>,
    /// Robust z: the reference window.
    #[serde(default, skip_serializing_if = "RollingWindow::is_empty")]
    pub window: RollingWindow,
    /// EWMA statistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ewma: Option<Ewma>,
    /// CUSUM sums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cusum: Option<Cusum>,
    /// Out-of-control flags of the last scored values, newest in bit 0.
    #[serde(default)]
    pub flags: u64,
    /// Whether the alarm is raised.
    #[serde(default)]
    pub active: bool,
    /// In-control values in a row while raised.
    #[serde(default)]
    pub calm: u32,
}

/// The host-state key of a detector's state.
pub fn state_key(detector: &Detector) -> String {
    format!("det:{}", detector.alarm_type)
}

/// The identity a state must carry to belong to `detector`.
pub fn detector_id(detector: &Detector) -> String {
    format!("{}:{}", detector.kind.name(), detector.key)
}

/// One value scored: whether it is out of control, and why.
struct Scored {
    out: bool,
    details: serde_json::Value,
}

/// Runs `detector` over the samples of its key, updating `state`, and
/// returns its signals for `device_id`. Non-numeric and non-finite samples
/// are skipped; samples are expected sorted by `ts` (sorted here if not).
pub fn run_detector(
    detector: &Detector,
    state: &mut DetectorState,
    device_id: &str,
    samples: &[Sample],
) -> Vec<AlarmSignal> {
    let id = detector_id(detector);
    if state.id != id {
        *state = DetectorState { id, ..DetectorState::default() };
    }
    let mut points: Vec<(i64, f64)> =
        samples.iter().filter_map(|s| s.as_f64().filter(|v| v.is_finite()).map(|v| (s.ts, v))).collect();
    if !points.is_sorted_by_key(|&(ts, _)| ts) {
        points.sort_by_key(|&(ts, _)| ts);
    }
    let mut signals = Vec::new();
    for (ts, x) in points {
        if detector.aggregate_ms <= 0 {
            take(detector, state, device_id, ts, x, &mut signals);
            continue;
        }
        let start = ts.div_euclid(detector.aggregate_ms) * detector.aggregate_ms;
        match state.bucket {
            Some((open, ref mut sum, ref mut count, ref mut newest)) if open == start => {
                *sum += x;
                *count += 1;
                *newest = ts;
            }
            Some((open, _, _, _)) if open > start => {} // late sample: ignored
            Some((_, sum, count, newest)) => {
                state.bucket = Some((start, x, 1, ts));
                take(detector, state, device_id, newest, sum / f64::from(count.max(1)), &mut signals);
            }
            None => state.bucket = Some((start, x, 1, ts)),
        }
    }
    signals
}

/// Scores one (possibly aggregated) value and applies the alarm logic.
fn take(
    detector: &Detector,
    state: &mut DetectorState,
    device_id: &str,
    ts: i64,
    x: f64,
    signals: &mut Vec<AlarmSignal>,
) {
    let Some(scored) = score(detector, state, ts, x) else { return };
    let mask = if detector.n >= 64 { u64::MAX } else { (1u64 << detector.n) - 1 };
    state.flags = ((state.flags << 1) | u64::from(scored.out)) & mask;
    if state.active {
        state.calm = if scored.out { 0 } else { state.calm.saturating_add(1) };
        if state.calm >= detector.clear_after {
            signals.push(AlarmSignal::clear_at(device_id, ts, &detector.alarm_type, scored.details));
            state.active = false;
            state.calm = 0;
            state.flags = 0;
        }
    } else if state.flags.count_ones() >= detector.m {
        signals.push(AlarmSignal::raise_at(device_id, ts, &detector.alarm_type, detector.severity, scored.details));
        state.active = true;
        state.calm = 0;
    }
}

/// The in-control mean and σ, estimating them from the first values when
/// not configured (`None` while warming up; a σ of 0 restarts the warm-up).
fn baseline(detector: &Detector, state: &mut DetectorState, x: f64) -> Option<(f64, f64)> {
    match detector.baseline? {
        Baseline::Fixed { mean, std } => Some((mean, std.max(detector.min_sigma))),
        Baseline::Estimated { warmup } => {
            if let Some(estimate) = state.estimate {
                return Some(estimate);
            }
            let running = state.warmup.get_or_insert_with(Running::default);
            running.push(x);
            if running.n >= warmup {
                let sigma = running.std().unwrap_or(0.0).max(detector.min_sigma);
                let mean = running.mean;
                state.warmup = None;
                if sigma > 0.0 && sigma.is_finite() {
                    state.estimate = Some((mean, sigma));
                }
            }
            None
        }
    }
}

fn score(detector: &Detector, state: &mut DetectorState, ts: i64, x: f64) -> Option<Scored> {
    let key = &detector.key;
    match detector.kind {
        Kind::RobustZ { window, min_window, threshold } => {
            let scored = state.window.score(x, min_window, detector.min_sigma);
            state.window.push(x, window);
            let s = scored?;
            Some(Scored {
                out: s.z.abs() > threshold,
                details: json!({ "key": key, "value": x, "median": s.median, "sigma": s.sigma, "z": s.z,
                                 "threshold": threshold, "window": state.window.len() }),
            })
        }
        Kind::Ewma { lambda, l } => {
            let (mean, sigma) = baseline(detector, state, x)?;
            let s = state.ewma.get_or_insert_with(Ewma::default).update(x, mean, sigma, lambda, l);
            Some(Scored {
                out: s.out_of_control(mean),
                details: json!({ "key": key, "value": x, "ewma": s.z, "mean": mean, "sigma": sigma,
                                 "ucl": mean + s.half_width, "lcl": mean - s.half_width, "lambda": lambda, "l": l }),
            })
        }
        Kind::Cusum { k, h } => {
            let (mean, sigma) = baseline(detector, state, x)?;
            let s = state.cusum.get_or_insert_with(Cusum::default).update(ts, x, mean, sigma, k, h);
            let direction = s.signal.map(|d| if d > 0 { "up" } else { "down" });
            Some(Scored {
                out: s.signal.is_some(),
                details: json!({ "key": key, "value": x, "c_plus": s.hi, "c_minus": s.lo, "h": h * sigma,
                                 "k": k * sigma, "mean": mean, "sigma": sigma, "direction": direction,
                                 "change_ts": s.change_ts }),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use nexus_plugin_sdk::{AlarmAction, Value};

    fn detector(json: &str) -> Detector {
        parse_config(&format!(r#"{{"detectors": [{json}]}}"#)).expect("valid").detectors.remove(0)
    }

    fn samples(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(t, &v)| Sample { ts: t as i64 * 1000, value: Value::Number(v), quality: 1.0 })
            .collect()
    }

    fn summary(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64)> {
        signals.iter().map(|s| (s.action, s.ts / 1000)).collect()
    }

    #[test]
    fn m_of_n_raises_and_clear_after_clears() {
        let d = detector(
            r#"{"kind": "cusum", "key": "p", "mean": 0, "std": 1, "h": 0.9, "k": 0, "m": 2, "n": 3, "clear_after": 3}"#,
        );
        let mut state = DetectorState::default();
        // Each 1.0 signals (C⁺ = 1 > 0.9, then reset): two within three values raise.
        let values = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let signals = run_detector(&d, &mut state, "dev", &samples(&values));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 5), (AlarmAction::Clear, 8)]);
        assert_eq!(signals[0].alarm_type, "cusum:p");
        let details: serde_json::Value = serde_json::from_str(&signals[0].details).expect("json");
        assert_eq!(details["direction"], "up");
        assert!(!state.active);
    }

    #[test]
    fn aggregation_scores_bucket_means_when_the_bucket_closes() {
        let d = detector(r#"{"kind": "ewma", "key": "p", "mean": 0, "std": 1, "lambda": 1, "aggregate_s": 10}"#);
        let mut state = DetectorState::default();
        // 10 s buckets: mean 0, then mean 5 (> 3σ) is scored when t = 20 s arrives.
        let mut values = vec![0.0; 10];
        values.extend([5.0; 10]);
        values.push(0.0);
        let signals = run_detector(&d, &mut state, "dev", &samples(&values));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 19)]);
        let details: serde_json::Value = serde_json::from_str(&signals[0].details).expect("json");
        assert_eq!(details["value"], 5.0);
        assert_eq!(state.bucket, Some((20_000, 0.0, 1, 20_000)));
    }

    #[test]
    fn warmup_estimates_the_baseline_and_restarts_on_a_flat_signal() {
        let d = detector(r#"{"kind": "cusum", "key": "p", "warmup": 4}"#);
        let mut state = DetectorState::default();
        assert!(run_detector(&d, &mut state, "dev", &samples(&[3.0; 4])).is_empty());
        assert_eq!((state.estimate, state.warmup), (None, None), "σ = 0: estimate again");
        run_detector(&d, &mut state, "dev", &samples(&[1.0, 3.0, 1.0, 3.0]));
        let (mean, sigma) = state.estimate.expect("estimated");
        assert_eq!(mean, 2.0);
        assert!((sigma - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let signals = run_detector(&d, &mut state, "dev", &samples(&[20.0]));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 0)]);
    }

    #[test]
    fn a_state_of_another_detector_is_discarded() {
        let d = detector(r#"{"kind": "robust_z", "key": "p", "window": 5, "min_window": 3}"#);
        let mut state = DetectorState { id: "ewma:p".into(), active: true, ..DetectorState::default() };
        run_detector(&d, &mut state, "dev", &samples(&[1.0, 2.0]));
        assert_eq!((state.id.as_str(), state.active, state.window.len()), ("robust_z:p", false, 2));
    }

    #[test]
    fn robust_z_raises_on_an_outlier_and_skips_text_and_nan() {
        let d = detector(r#"{"kind": "robust_z", "key": "p", "window": 50, "min_window": 10, "clear_after": 2}"#);
        let mut state = DetectorState::default();
        let mut batch = samples(&[1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 30.0, 2.0, 2.0]);
        batch.insert(3, Sample { ts: 2500, value: Value::Text("x".into()), quality: 0.0 });
        batch.insert(4, Sample { ts: 2600, value: Value::Number(f64::NAN), quality: 0.0 });
        let signals = run_detector(&d, &mut state, "dev", &batch);
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 10), (AlarmAction::Clear, 12)]);
        let details: serde_json::Value = serde_json::from_str(&signals[0].details).expect("json");
        assert_eq!((details["median"].as_f64(), details["window"].as_u64()), (Some(2.0), Some(11)));
        assert_eq!(state_key(&d), "det:robust_z:p");
    }
}
