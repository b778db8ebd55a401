//! Replaying whole instances through a rule in one-minute batches:
//! detection, detection delay and false alarms per hour.

use serde::Serialize;

use crate::EvalError;
use crate::dataset::Instance;
use crate::replay::{self, Rule, WasmRule};

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

/// Totals over a set of replayed instances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Instances replayed.
    pub instances: usize,
    /// Instances whose event was detected.
    pub detected: usize,
    /// The (upper) median detection delay, seconds.
    pub median_delay_s: Option<f64>,
    /// False alarms, all instances.
    pub false_alarms: usize,
    /// Hours of normal data, all instances.
    pub normal_hours: f64,
}

impl Summary {
    /// Sums up detections.
    pub fn of<'a>(detections: impl IntoIterator<Item = &'a Detection>) -> Self {
        let mut summary = Self { instances: 0, detected: 0, median_delay_s: None, false_alarms: 0, normal_hours: 0.0 };
        let mut delays = Vec::new();
        for d in detections {
            summary.instances += 1;
            summary.detected += usize::from(d.detected);
            summary.false_alarms += d.false_alarms;
            summary.normal_hours += d.normal_hours;
            delays.extend(d.delay_s);
        }
        delays.sort_by(f64::total_cmp);
        summary.median_delay_s = delays.get(delays.len() / 2).copied();
        summary
    }

    /// False alarms per 24 h of normal data.
    pub fn false_alarms_per_day(&self) -> f64 {
        if self.normal_hours > 0.0 { self.false_alarms as f64 / self.normal_hours * 24.0 } else { 0.0 }
    }
}

/// What a component did on one replayed instance.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The detection report.
    pub detection: Detection,
    /// Raises emitted on the instance.
    pub raises: usize,
    /// Clears emitted on the instance.
    pub clears: usize,
    /// The largest state value the component kept on the instance, bytes.
    pub max_state_bytes: usize,
}

/// Replays each instance through a component ([`run`]) and reports.
pub fn detect_all(rule: &mut WasmRule, instances: &[Instance]) -> Result<Vec<Outcome>, EvalError> {
    instances
        .iter()
        .map(|instance| {
            let detection = run(instance, rule)?;
            Ok(Outcome {
                detection,
                raises: rule.raises(),
                clears: rule.clears(),
                max_state_bytes: rule.largest_state_value(),
            })
        })
        .collect()
}

/// Prints a per-instance table of outcomes and their totals; returns the totals.
pub fn print_outcomes(title: &str, outcomes: &[Outcome]) -> Summary {
    println!("\n## {title}\n");
    println!("| instance | class | hours | detected | delay (s) | false alarms | raises | clears | max state (B) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let d = &o.detection;
        let detected = match (d.class, d.detected) {
            (0, _) => "–",
            (_, true) => "yes",
            (_, false) => "no",
        };
        let delay = d.delay_s.map_or("–".to_string(), |s| format!("{s:.0}"));
        println!(
            "| {} | {} | {:.1} | {detected} | {delay} | {} | {} | {} | {} |",
            d.instance, d.class, d.hours, d.false_alarms, o.raises, o.clears, o.max_state_bytes
        );
    }
    let s = Summary::of(outcomes.iter().map(|o| &o.detection));
    let median = s.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
    let detected = if outcomes.iter().all(|o| o.detection.class == 0) {
        String::new()
    } else {
        format!("detected {}/{}, median delay {median} s, ", s.detected, s.instances)
    };
    println!(
        "\n{detected}false alarms {} in {:.1} h of normal data ({:.2} / 24 h)",
        s.false_alarms,
        s.normal_hours,
        s.false_alarms_per_day()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(detected: bool, delay_s: Option<f64>, false_alarms: usize, normal_hours: f64) -> Detection {
        Detection { instance: "x".into(), class: 2, hours: 1.0, normal_hours, detected, delay_s, false_alarms }
    }

    #[test]
    fn summary_counts_the_upper_median_and_the_daily_rate() {
        let s = Summary::of(&[
            detection(true, Some(30.0), 0, 6.0),
            detection(true, Some(10.0), 1, 6.0),
            detection(false, None, 0, 0.0),
        ]);
        assert_eq!((s.instances, s.detected, s.false_alarms), (3, 2, 1));
        assert_eq!(s.median_delay_s, Some(30.0));
        assert!((s.false_alarms_per_day() - 2.0).abs() < 1e-9);
        assert_eq!(Summary::of(&[]).median_delay_s, None);
    }
}
