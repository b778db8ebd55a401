//! Replaying whole instances through a rule in one-minute batches:
//! detection, detection delay and false alarms per hour.

use serde::Serialize;

use crate::EvalError;
use crate::dataset::Instance;
use crate::replay::{self, Rule};

/// Rows per call: one minute of 1 Hz data, as a device batching its frames.
pub const BATCH_ROWS: usize = 60;

/// What a rule did on one instance.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// Instance name.
    pub instance: String,
    /// Event class (0 = normal).
    pub class: u32,
    /// Hours of data.
    pub hours: f64,
    /// Hours of normal data before the event (all of it for class 0).
    pub normal_hours: f64,
    /// Whether an alarm was raised at or after the first abnormal label.
    pub detected: bool,
    /// Seconds from the event start (first transient label, else first
    /// abnormal label) to the first raise at or after the first abnormal label.
    pub delay_s: Option<f64>,
    /// Raises before the first abnormal label (all raises for class 0).
    pub false_alarms: usize,
}

/// Replays an instance (missing values left out) and reports.
pub fn run(instance: &Instance, rule: &mut dyn Rule) -> Result<Detection, EvalError> {
    rule.reset();
    let n = instance.ts.len();
    let abnormal_ts = instance.first_abnormal().map(|i| instance.ts[i]);
    let event_ts = instance.event_start().map(|i| instance.ts[i]);
    let mut raises = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + BATCH_ROWS).min(n);
        let readings = replay::rows(instance, start..end, None);
        let now = instance.ts[end - 1];
        let signals = rule.evaluate(now, &readings).map_err(|reason| EvalError::Rule {
            instance: instance.name.clone(),
            ts: now,
            reason,
        })?;
        raises.extend(signals.iter().filter(|s| s.action == nexus_model::AlarmAction::Raise).map(|s| s.ts));
        start = end;
    }
    let first_detection = abnormal_ts.and_then(|t| raises.iter().copied().find(|r| *r >= t));
    let false_alarms = raises.iter().filter(|r| abnormal_ts.is_none_or(|t| **r < t)).count();
    let normal_rows = instance.first_abnormal().unwrap_or(n);
    Ok(Detection {
        instance: instance.name.clone(),
        class: instance.class,
        hours: instance.hours(),
        normal_hours: normal_rows as f64 / 3600.0,
        detected: first_detection.is_some(),
        delay_s: first_detection.zip(event_ts).map(|(d, e)| (d - e) as f64 / 1000.0),
        false_alarms,
    })
}
