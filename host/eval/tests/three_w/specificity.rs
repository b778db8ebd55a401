//! Specificity of every physics and detector component over every real
//! instance of every class (`nexus eval specificity` computes the same
//! tables): raises per class, and false alarms per 24 h over all
//! labelled-normal rows. On the full dataset when `NEXUS_3W_DIR` is set
//! (the README's tables), else on the subset, and the test says which.
//!
//! The tables' bookkeeping is checked against the data itself: every real
//! instance is replayed, and the hours of labelled-normal rows are those
//! the labels give (on the subset, also those its manifest records).

use std::path::PathBuf;

use nexus_eval::dataset::{self, Instance};
use nexus_eval::specificity::{self, ClassRow, InstanceRaises};
use serde_json::json;

use super::{component, full, manifest, subset};

/// The streaming detectors' configuration of the README's table: a robust z
/// on the one-minute means of three keys, a 4-hour reference window,
/// threshold 5, three of five.
pub fn streaming_config() -> serde_json::Value {
    let detector = |key: &str| json!({ "kind": "robust_z", "key": key, "window": 240, "aggregate_s": 60, "threshold": 5, "m": 3, "n": 5 });
    json!({ "detectors": [detector("P-TPT"), detector("T-TPT"), detector("P-MON-CKP")] })
}

/// The full dataset if there is one, else the subset; and which it is.
fn data(test: &str) -> (PathBuf, &'static str) {
    match full(test) {
        Some(root) => (root, "full dataset"),
        None => {
            println!("{test}: running on the subset in host/eval/data/3w instead");
            (subset(), "subset")
        }
    }
}

fn instances(root: &std::path::Path) -> Vec<Instance> {
    let classes: Vec<u32> = specificity::CLASSES.collect();
    dataset::read_classes(root, &classes, true).expect("class folders")
}

/// Replays `plugin` over every instance, prints its table, checks the
/// bookkeeping and returns the rows and the total.
fn table(plugin: &str, config: &serde_json::Value, instances: &[Instance], label: &str) -> (Vec<ClassRow>, ClassRow) {
    let mut rule = component(plugin, config);
    let outcomes: Vec<InstanceRaises> =
        instances.iter().map(|i| specificity::replay(i, &mut rule).expect("the component runs")).collect();
    specificity::print(
        &format!("Specificity of {plugin} with {config} ({label}, {} real instances)", instances.len()),
        &outcomes,
    );
    let (rows, total) = specificity::table(&outcomes);
    assert_eq!(total.instances, instances.len());
    let normal_rows: usize = instances.iter().map(|i| i.labels.iter().filter(|l| **l == Some(0)).count()).sum();
    assert!((total.normal_hours - normal_rows as f64 / 3600.0).abs() < 1e-9);
    (rows, total)
}

fn row(rows: &[ClassRow], class: u32) -> ClassRow {
    rows.iter().find(|r| r.class == class).cloned().unwrap_or_default()
}

#[test]
fn the_subset_tables_count_the_normal_hours_its_manifest_records() {
    let instances = instances(&subset());
    assert_eq!(instances.len(), 21);
    let recorded: f64 =
        manifest().values().map(|r| r["n_normal(0)"].parse::<f64>().expect("count")).sum::<f64>() / 3600.0;
    let (_, total) = table("alarm-rule-dhsv-closure", &json!({}), &instances, "subset");
    assert!((total.normal_hours - recorded).abs() < 1e-9, "{} h vs {recorded} h", total.normal_hours);
}

#[test]
fn dhsv_closure_raises_only_on_dhsv_closures() {
    let (root, label) = data("DHSV specificity");
    let (rows, total) = table("alarm-rule-dhsv-closure", &json!({}), &instances(&root), label);
    let closures = row(&rows, 2);
    assert_eq!(closures.with_event_raise, closures.instances, "every closure raises");
    for r in rows.iter().filter(|r| r.class != 2) {
        assert_eq!(r.event_raises, 0, "raised in class {} events", r.class);
    }
    assert!(total.false_alarms_per_day() < 1.0, "{:.2} false alarms per 24 h", total.false_alarms_per_day());
}

#[test]
fn pck_restriction_tables() {
    let (root, label) = data("PCK specificity");
    let instances = instances(&root);
    let (rows, total) = table("alarm-rule-pck-restriction", &json!({}), &instances, label);
    if label == "full dataset" {
        assert!(total.false_alarms_per_day() < 1.0, "{:.2} false alarms per 24 h", total.false_alarms_per_day());
    } else {
        // The subset over-weights the class-6 files' normal parts (see pck.rs):
        // outside them it must be quiet.
        assert_eq!(total.false_alarms, row(&rows, 6).false_alarms, "false alarms outside the class-6 files");
    }
    assert!(row(&rows, 6).with_event_raise >= 4);
    let paper = json!({ "rise_pct": 5, "rise_window_s": 10, "baseline_s": 60, "discriminators": { "enabled": false } });
    let (rows, _) = table("alarm-rule-pck-restriction", &paper, &instances, label);
    assert_eq!(row(&rows, 6).with_event_raise, 0, "the paper reading catches a real restriction");
}

/// Informational tables for the data-driven detectors; the bookkeeping is
/// checked in `table`.
#[test]
fn detector_tables() {
    let (root, label) = data("detector specificity");
    let instances = instances(&root);
    table("alarm-rule-isolation-forest", &json!({}), &instances, label);
    table("alarm-rule-streaming-detectors", &streaming_config(), &instances, label);
}
