//! Specificity of a rule across every class: each real instance of every
//! class replayed whole in one-minute batches (as [`crate::detect`] does), each
//! raise classified by the label of the row it was raised at.
//!
//! * A raise on a row labelled `0` (normal) is a **false alarm**, whatever
//!   the instance's class: the rate is false alarms per 24 h of
//!   labelled-normal rows over all instances of all classes.
//! * A raise on a row labelled `k` or `100+k` is a raise **in an event** of
//!   class `k` (a detection for the rule's own class, a cross-class raise for
//!   the others).
//! * A raise on an unlabelled row is counted apart.

use serde::Serialize;

use crate::EvalError;
use crate::dataset::Instance;
use crate::detect::BATCH_ROWS;
use crate::replay::{self, Rule};

/// The 3W classes, 0 (normal) to 8.
pub const CLASSES: std::ops::RangeInclusive<u32> = 0..=8;

/// The name of a 3W class.
pub fn class_name(class: u32) -> &'static str {
    match class {
        0 => "normal",
        1 => "abrupt BSW increase",
        2 => "spurious DHSV closure",
        3 => "severe slugging",
        4 => "flow instability",
        5 => "rapid productivity loss",
        6 => "quick restriction in PCK",
        7 => "scaling in PCK",
        8 => "hydrate in production line",
        _ => "unknown",
    }
}

/// What a rule did on one instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRaises {
    /// Instance name.
    pub instance: String,
    /// Its class.
    pub class: u32,
    /// Rows labelled normal.
    pub normal_rows: usize,
    /// Rows labelled with an event (steady or transient).
    pub event_rows: usize,
    /// Raises on normal rows.
    pub false_alarms: usize,
    /// Raises on event rows.
    pub event_raises: usize,
    /// Raises on unlabelled rows.
    pub unlabelled_raises: usize,
}

/// Replays a whole instance and classifies every raise by its row's label.
pub fn replay(instance: &Instance, rule: &mut dyn Rule) -> Result<InstanceRaises, EvalError> {
    rule.reset();
    let n = instance.ts.len();
    let mut out = InstanceRaises {
        instance: instance.name.clone(),
        class: instance.class,
        normal_rows: instance.labels.iter().filter(|l| **l == Some(0)).count(),
        event_rows: instance.labels.iter().filter(|l| l.is_some_and(|l| l != 0)).count(),
        false_alarms: 0,
        event_raises: 0,
        unlabelled_raises: 0,
    };
    let mut start = 0;
    while start < n {
        let end = (start + BATCH_ROWS).min(n);
        let now = instance.ts[end - 1];
        let signals = rule
            .evaluate(now, &replay::rows(instance, start..end, None))
            .map_err(|reason| EvalError::Rule { instance: instance.name.clone(), ts: now, reason })?;
        for signal in signals.iter().filter(|s| s.action == nexus_model::AlarmAction::Raise) {
            // The row at the raise's time (the last row at or before it).
            let row = instance.ts.partition_point(|t| *t <= signal.ts).saturating_sub(1);
            match instance.labels[row] {
                Some(0) => out.false_alarms += 1,
                Some(_) => out.event_raises += 1,
                None => out.unlabelled_raises += 1,
            }
        }
        start = end;
    }
    Ok(out)
}

/// One class's row of the table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClassRow {
    /// The class.
    pub class: u32,
    /// Instances replayed.
    pub instances: usize,
    /// Instances with a raise in their event.
    pub with_event_raise: usize,
    /// Raises in events.
    pub event_raises: usize,
    /// Raises on normal rows.
    pub false_alarms: usize,
    /// Raises on unlabelled rows.
    pub unlabelled_raises: usize,
    /// Hours of labelled-normal rows.
    pub normal_hours: f64,
    /// Hours of event rows.
    pub event_hours: f64,
}

impl ClassRow {
    /// Sums the instances of `class`.
    pub fn of(class: u32, outcomes: &[InstanceRaises]) -> Self {
        let mut row = Self { class, ..Self::default() };
        for o in outcomes.iter().filter(|o| o.class == class) {
            row.instances += 1;
            row.with_event_raise += usize::from(o.event_raises > 0);
            row.event_raises += o.event_raises;
            row.false_alarms += o.false_alarms;
            row.unlabelled_raises += o.unlabelled_raises;
            row.normal_hours += o.normal_rows as f64 / 3600.0;
            row.event_hours += o.event_rows as f64 / 3600.0;
        }
        row
    }

    /// False alarms per 24 h of labelled-normal data.
    pub fn false_alarms_per_day(&self) -> f64 {
        if self.normal_hours > 0.0 { self.false_alarms as f64 * 24.0 / self.normal_hours } else { 0.0 }
    }
}

/// The cross-class table: a row per class and the total (class `u32::MAX`).
pub fn table(outcomes: &[InstanceRaises]) -> (Vec<ClassRow>, ClassRow) {
    let rows: Vec<ClassRow> = CLASSES.map(|c| ClassRow::of(c, outcomes)).filter(|r| r.instances > 0).collect();
    let mut total = ClassRow { class: u32::MAX, ..ClassRow::default() };
    for r in &rows {
        total.instances += r.instances;
        total.with_event_raise += r.with_event_raise;
        total.event_raises += r.event_raises;
        total.false_alarms += r.false_alarms;
        total.unlabelled_raises += r.unlabelled_raises;
        total.normal_hours += r.normal_hours;
        total.event_hours += r.event_hours;
    }
    (rows, total)
}

/// Prints the cross-class table as Markdown; returns the total row.
pub fn print(title: &str, outcomes: &[InstanceRaises]) -> ClassRow {
    let (rows, total) = table(outcomes);
    println!("\n## {title}\n");
    println!(
        "| class | event | instances | with a raise in the event | raises in events | false alarms (normal rows) | normal hours | false alarms / 24 h |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let with = if r.event_hours > 0.0 { format!("{}/{}", r.with_event_raise, r.instances) } else { "–".into() };
        println!(
            "| {} | {} | {} | {with} | {} | {} | {:.1} | {:.2} |",
            r.class,
            class_name(r.class),
            r.instances,
            r.event_raises,
            r.false_alarms,
            r.normal_hours,
            r.false_alarms_per_day()
        );
    }
    println!(
        "| all | | {} | | {} | **{}** | **{:.1}** | **{:.2}** |",
        total.instances,
        total.event_raises,
        total.false_alarms,
        total.normal_hours,
        total.false_alarms_per_day()
    );
    if total.unlabelled_raises > 0 {
        println!("\n({} raises on unlabelled rows are not counted above.)", total.unlabelled_raises);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        class: u32,
        normal_rows: usize,
        event_rows: usize,
        false_alarms: usize,
        event_raises: usize,
    ) -> InstanceRaises {
        InstanceRaises {
            instance: "x".into(),
            class,
            normal_rows,
            event_rows,
            false_alarms,
            event_raises,
            unlabelled_raises: 0,
        }
    }

    #[test]
    fn the_table_sums_per_class_and_rates_over_all_normal_rows() {
        let outcomes = [
            outcome(0, 36_000, 0, 1, 0),    // 10 h of normal data, one false alarm
            outcome(6, 7_200, 3_600, 1, 2), // 2 h normal, 1 h event
            outcome(6, 3_600, 3_600, 0, 0),
        ];
        let (rows, total) = table(&outcomes);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].instances, rows[1].with_event_raise, rows[1].event_raises), (2, 1, 2));
        assert!((rows[1].normal_hours - 3.0).abs() < 1e-12);
        // 2 false alarms in 10 + 2 + 1 = 13 h of normal rows: 48/13 per 24 h.
        assert_eq!(total.false_alarms, 2);
        assert!((total.false_alarms_per_day() - 48.0 / 13.0).abs() < 1e-12);
    }
}
