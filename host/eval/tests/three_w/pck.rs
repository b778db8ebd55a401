//! The PCK-restriction component (`alarm-rule-pck-restriction`) on the real
//! 3W instances. The subset holds all six real class-6 (quick restriction
//! in PCK) instances, so detection runs on it; false alarms are counted over
//! the labelled-normal rows of every real instance of every class
//! (`nexus_eval::specificity`): the subset's, and the full dataset's when
//! `NEXUS_3W_DIR` is set.
//!
//! * The pressure-based reading of the paper's definition (P-MON-CKP up 5 %
//!   within 10 s) detects none of the six: P-MON-CKP rises by at most about
//!   1 % per 10 s in all of them.
//! * The default profile (3 % within 5 min, confirmed over 60 s, with the
//!   discriminators) detects four.

use std::path::Path;

use nexus_eval::dataset::{self, Instance};
use nexus_eval::detect::{self, Summary};
use nexus_eval::replay::WasmRule;
use nexus_eval::specificity::{self, ClassRow};
use serde_json::json;

use super::{component, full, load_class, subset};

/// The pressure-based reading of the paper's definition.
fn paper_reading() -> serde_json::Value {
    json!({ "rise_pct": 5, "rise_window_s": 10, "baseline_s": 60, "discriminators": { "enabled": false } })
}

fn rule(config: &serde_json::Value) -> WasmRule {
    component("alarm-rule-pck-restriction", config)
}

/// Detection on class 6, whole instances in one-minute batches.
fn on_class_6(rule: &mut WasmRule, events: &[Instance], title: &str) -> Summary {
    detect::print_outcomes(title, &detect::detect_all(rule, events).expect("the component runs"))
}

/// The cross-class totals of `rule` over every real instance under `root`.
fn over_all_classes(rule: &mut WasmRule, root: &Path) -> ClassRow {
    let classes: Vec<u32> = specificity::CLASSES.collect();
    let mut outcomes = Vec::new();
    for path in dataset::list(root, &classes, true).expect("class folders") {
        let instance = dataset::read(&path).expect("readable");
        outcomes.push(specificity::replay(&instance, rule).expect("the component runs"));
    }
    specificity::table(&outcomes).1
}

#[test]
fn the_paper_reading_detects_no_real_restriction() {
    let events = load_class(&subset(), 6);
    assert_eq!(events.len(), 6, "the subset holds all six real class-6 instances");
    let on_events = on_class_6(&mut rule(&paper_reading()), &events, "PCK, paper reading: class 6");
    assert_eq!(on_events.detected, 0, "a real restriction met the paper's definition: update the README");
}

#[test]
fn the_default_profile_detects_four_of_six_with_few_false_alarms() {
    let events = load_class(&subset(), 6);
    let mut rule = rule(&json!({}));
    let on_events = on_class_6(&mut rule, &events, "PCK, defaults: class 6");
    assert!(on_events.detected >= 4, "detected {}/{}", on_events.detected, on_events.instances);
    assert!(on_events.median_delay_s.is_some_and(|d| d <= 400.0), "median delay {:?}", on_events.median_delay_s);
    // The subset holds all six class-6 files but only 4 of the 8 normal
    // wells, so its normal hours over-weight the class-6 pre-event ramps:
    // the rate over all labelled-normal data is a full-dataset figure. On
    // the subset, the normal wells stay quiet.
    let normal = load_class(&subset(), 0);
    let on_normal = detect::detect_all(&mut rule, &normal).expect("runs");
    assert!(on_normal.iter().all(|o| o.raises == 0), "a raise on a normal well");
    let Some(root) = full("PCK false alarms over all labelled-normal data") else { return };
    let total = over_all_classes(&mut rule, &root);
    println!(
        "full dataset: {} false alarms in {:.1} h of labelled-normal rows",
        total.false_alarms, total.normal_hours
    );
    assert!(total.false_alarms_per_day() < 1.0, "{:.2} per 24 h", total.false_alarms_per_day());
}

/// How the step and the discriminators trade detections for false alarms
/// over all labelled-normal data of the full dataset. The discriminators
/// only block confirmations; the test checks that no profile gains false
/// alarms from them.
#[test]
fn step_size_and_discriminator_trade_offs() {
    let Some(root) = full("PCK trade-offs") else { return };
    let events = load_class(&root, 6);
    let base = rule(&json!({}));
    println!(
        "\n| rise_pct | rise_window_s | baseline_s | discriminators | class 6 detected | median delay (s) | false alarms (all normal rows) | per 24 h |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (rise, window, baseline) in [(5, 10, 60), (2, 120, 300), (3, 300, 300), (4, 600, 300)] {
        let mut false_alarms = Vec::new();
        for (label, discriminators) in [("off", json!({ "enabled": false })), ("on", json!({}))] {
            let config = json!({ "rise_pct": rise, "rise_window_s": window, "baseline_s": baseline, "discriminators": discriminators });
            let mut rule = base.with_config(&config);
            let on_events =
                Summary::of(detect::detect_all(&mut rule, &events).expect("runs").iter().map(|o| &o.detection));
            let total = over_all_classes(&mut rule, &root);
            let median = on_events.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
            println!(
                "| {rise} | {window} | {baseline} | {label} | {}/{} | {median} | {} in {:.1} h | {:.2} |",
                on_events.detected,
                on_events.instances,
                total.false_alarms,
                total.normal_hours,
                total.false_alarms_per_day()
            );
            false_alarms.push(total.false_alarms);
        }
        assert!(false_alarms[1] <= false_alarms[0], "{rise} % in {window} s: the discriminators added false alarms");
    }
}
