//! Checks on decoded readings and rules' signals before they are stored.

use nexus_model::{AlarmSignal, Column, DeviceId, Reading, Series, TimestampMs};
use serde::Serialize;

/// How far in the future a reading may be stamped.
pub(crate) const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;
/// Longest key and alarm type accepted.
pub(crate) const MAX_KEY_LEN: usize = 255;
/// Longest text value accepted.
const MAX_TEXT_LEN: usize = 64 << 10;

/// A reading refused by validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedReading {
    /// Its key.
    pub key: String,
    /// Its timestamp.
    pub ts: TimestampMs,
    /// Why.
    pub reason: String,
}

/// A rule may only signal about the device whose readings it was given.
pub(crate) fn signal_is_valid(signal: &AlarmSignal, device: &DeviceId) -> bool {
    &signal.device_id == device && !signal.alarm_type.is_empty() && signal.alarm_type.len() <= MAX_KEY_LEN
}

/// Keeps the valid samples of decoded series and gives a reason for every
/// sample refused; rows a 0.1.0 decoder addressed to another device are
/// refused too.
pub(crate) fn series(
    device: &DeviceId,
    mut batch: Vec<Series>,
    foreign: Vec<Reading>,
    now: TimestampMs,
) -> (Vec<Series>, Vec<RejectedReading>) {
    let mut rejected: Vec<RejectedReading> = foreign
        .into_iter()
        .map(|r| RejectedReading {
            reason: format!("names device `{}`, but the frame came from `{device}`", r.device_id),
            key: r.key,
            ts: r.ts,
        })
        .collect();
    batch.retain_mut(|series| {
        if let Err(error) = series.check_shape() {
            rejected.push(RejectedReading { key: series.key.clone(), ts: 0, reason: error.reason });
            return false;
        }
        if series.key.is_empty() || series.key.len() > MAX_KEY_LEN {
            let reason = format!("key must be 1 to {MAX_KEY_LEN} bytes");
            rejected.extend(series.ts.iter().map(|&ts| RejectedReading {
                key: series.key.clone(),
                ts,
                reason: reason.clone(),
            }));
            return false;
        }
        let keep: Vec<bool> = (0..series.len())
            .map(|i| match sample_problem(series, i, now) {
                None => true,
                Some(reason) => {
                    rejected.push(RejectedReading { key: series.key.clone(), ts: series.ts[i], reason });
                    false
                }
            })
            .collect();
        if keep.iter().any(|k| !k) {
            series.retain_indices(&keep);
        }
        !series.is_empty()
    });
    (batch, rejected)
}

/// Refuses every sample of a key not in `known` once `known` holds `cap`
/// keys; a new key under the cap joins `known`.
pub(crate) fn key_cap(
    batch: &mut Vec<Series>,
    known: &mut std::collections::HashSet<String>,
    cap: usize,
) -> Vec<RejectedReading> {
    let mut rejected = Vec::new();
    batch.retain(|series| {
        if known.contains(&series.key) {
            return true;
        }
        if known.len() < cap {
            known.insert(series.key.clone());
            return true;
        }
        let reason = format!(
            "the device has {cap} telemetry keys already (its profile's max_keys_per_device); a new key is refused"
        );
        rejected.extend(series.ts.iter().map(|&ts| RejectedReading {
            key: series.key.clone(),
            ts,
            reason: reason.clone(),
        }));
        false
    });
    rejected
}

fn sample_problem(series: &Series, i: usize, now: TimestampMs) -> Option<String> {
    let ts = series.ts[i];
    let quality = series.quality_at(i);
    if !(0.0..=1.0).contains(&quality) {
        return Some(format!("quality {quality} is outside 0..1"));
    }
    if ts <= 0 {
        return Some("timestamp must be positive ms since the Unix epoch".to_string());
    }
    if ts > now + MAX_FUTURE_MS {
        return Some("timestamp is more than a day in the future".to_string());
    }
    match &series.values {
        Column::Number(v) if !v[i].is_finite() => Some("value is not a finite number".to_string()),
        Column::Text(v) if v[i].len() > MAX_TEXT_LEN => Some(format!("text value over {MAX_TEXT_LEN} bytes")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::Value;

    use super::*;

    #[test]
    fn series_validation_keeps_good_samples_and_explains_the_rest() {
        let now = 1_700_000_000_000;
        let device = DeviceId::new("d1");
        let good = Series::numbers("p", vec![now - 1, now], vec![1.0, 2.0]);
        let mixed = Series {
            key: "q".into(),
            ts: vec![now, 0, now + 2 * MAX_FUTURE_MS, now + 1],
            values: Column::Number(vec![1.0, 2.0, 3.0, f64::NAN]),
            quality: vec![1.0, 1.0, 1.0, 1.0],
        };
        let bad_quality =
            Series { key: "r".into(), ts: vec![now], values: Column::Integer(vec![1]), quality: vec![1.5] };
        let misshapen =
            Series { key: "s".into(), ts: vec![now, now], values: Column::Integer(vec![1]), quality: vec![] };
        let no_key = Series::numbers("", vec![now], vec![1.0]);
        let foreign = vec![reading("d2", "x", now, Value::Integer(1), 1.0)];
        let (valid, rejected) =
            series(&device, vec![good.clone(), mixed, bad_quality, misshapen, no_key], foreign, now);
        assert_eq!(valid.len(), 2);
        assert_eq!(valid[0], good);
        assert_eq!((valid[1].ts.clone(), valid[1].quality.clone()), (vec![now], vec![1.0]));
        assert_eq!(rejected.len(), 7, "{rejected:?}");
        assert!(rejected.iter().all(|r| !r.reason.is_empty()));
        assert!(rejected[0].reason.contains("names device `d2`"));
    }

    #[test]
    fn keys_past_the_cap_are_refused_and_known_keys_pass() {
        let now = 1_700_000_000_000;
        let mut known: std::collections::HashSet<String> = ["a".to_string()].into();
        let mut batch: Vec<Series> =
            ["a", "b", "c", "a"].into_iter().map(|k| Series::numbers(k, vec![now, now + 1], vec![1.0, 2.0])).collect();
        let rejected = key_cap(&mut batch, &mut known, 2);
        assert_eq!(batch.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), ["a", "b", "a"]);
        assert_eq!(rejected.len(), 2);
        assert!(rejected.iter().all(|r| r.key == "c" && r.reason.contains("2 telemetry keys")), "{rejected:?}");
        assert_eq!(known.len(), 2);
    }

    fn reading(device: &str, key: &str, ts: i64, value: Value, quality: f32) -> Reading {
        Reading { device_id: device.into(), key: key.into(), ts, value, quality }
    }
}
