//! Checks on decoded readings and rules' signals before they are stored.

use nexus_model::{AlarmSignal, DeviceId, Reading, TimestampMs, Value};
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

/// Splits decoded readings into valid ones and rejected ones with reasons.
pub(crate) fn readings(
    device: &DeviceId,
    readings: Vec<Reading>,
    now: TimestampMs,
) -> (Vec<Reading>, Vec<RejectedReading>) {
    let mut valid = Vec::with_capacity(readings.len());
    let mut rejected = Vec::new();
    for reading in readings {
        let reason = if &reading.device_id != device {
            Some(format!("names device `{}`, but the frame came from `{device}`", reading.device_id))
        } else if reading.key.is_empty() || reading.key.len() > MAX_KEY_LEN {
            Some(format!("key must be 1 to {MAX_KEY_LEN} bytes"))
        } else if !(0.0..=1.0).contains(&reading.quality) {
            Some(format!("quality {} is outside 0..1", reading.quality))
        } else if reading.ts <= 0 {
            Some("timestamp must be positive ms since the Unix epoch".to_string())
        } else if reading.ts > now + MAX_FUTURE_MS {
            Some("timestamp is more than a day in the future".to_string())
        } else {
            match &reading.value {
                Value::Number(n) if !n.is_finite() => Some("value is not a finite number".to_string()),
                Value::Text(t) if t.len() > MAX_TEXT_LEN => Some(format!("text value over {MAX_TEXT_LEN} bytes")),
                _ => None,
            }
        };
        match reason {
            Some(reason) => rejected.push(RejectedReading { key: reading.key, ts: reading.ts, reason }),
            None => valid.push(reading),
        }
    }
    (valid, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(device: &str, key: &str, ts: i64, value: Value, quality: f32) -> Reading {
        Reading { device_id: device.into(), key: key.into(), ts, value, quality }
    }

    #[test]
    fn validation_gives_a_reason_for_every_rejected_reading() {
        let now = 1_700_000_000_000;
        let (valid, rejected) = readings(
            &DeviceId::new("d1"),
            vec![
                reading("d1", "ok", now, Value::Number(1.0), 1.0),
                reading("d2", "other", now, Value::Number(1.0), 1.0),
                reading("d1", "", now, Value::Number(1.0), 1.0),
                reading("d1", "q", now, Value::Number(1.0), 1.5),
                reading("d1", "nan", now, Value::Number(f64::NAN), 1.0),
                reading("d1", "future", now + 2 * MAX_FUTURE_MS, Value::Integer(1), 1.0),
                reading("d1", "zero", 0, Value::Boolean(true), 1.0),
            ],
            now,
        );
        assert_eq!(valid.len(), 1);
        assert_eq!(rejected.len(), 6);
        assert!(rejected.iter().all(|r| !r.reason.is_empty()));
    }
}
