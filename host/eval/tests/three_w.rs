//! The real 3W instances (Petrobras 3W dataset, CC BY 4.0) replayed through
//! the built alarm-rule components, as `nexus eval` replays them.
//!
//! Two data sets:
//!
//! * the **subset** in `host/eval/data/3w` (21 real instances, shipped with
//!   the repository): every test runs on it;
//! * the **full dataset**, wherever `NEXUS_3W_DIR` points: the full
//!   benchmarks (benchmark 2's 36 instances, the 22 DHSV closures, the
//!   cross-class tables over all 64 real instances) run on it and print
//!   that they did, or print why not.
//!
//! A component that was not built (`.ci/build-plugins`) fails the test.
//! Tables are printed (`cargo test --release -p nexus-eval --test three_w -- --nocapture`).

// One module per rule, in `three_w/` (a test crate's root looks for
// modules beside itself).
#[path = "three_w/dhsv.rs"]
mod dhsv;
#[path = "three_w/isolation_forest.rs"]
mod isolation_forest;
#[path = "three_w/pck.rs"]
mod pck;
#[path = "three_w/specificity.rs"]
mod specificity;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nexus_eval::dataset::{self, Instance};
use nexus_eval::replay::WasmRule;
use nexus_eval::{bench2, plugins};
use nexus_model::Limits;

/// The subset shipped with the repository.
pub fn subset() -> PathBuf {
    let dir = dataset::bundled_dir();
    assert!(dir.join("0").is_dir(), "the 3W subset is missing from {}", dir.display());
    dir
}

/// The full 3W dataset, or `None` (and a note saying why) when
/// `NEXUS_3W_DIR` does not point at one.
pub fn full(test: &str) -> Option<PathBuf> {
    match dataset::full_dir() {
        Some(dir) => {
            println!("{test}: running on the full 3W dataset at {}", dir.display());
            Some(dir)
        }
        None => {
            println!(
                "{test}: skipped — set {} to the full 3W dataset (https://github.com/petrobras/3W, \
                 laid out as <class>/<instance>.csv.gz) to run it",
                dataset::FULL_DATA_VAR
            );
            None
        }
    }
}

/// The real (`WELL-*`) instances of a class, sorted by name.
pub fn load_class(root: &Path, class: u32) -> Vec<Instance> {
    dataset::read_classes(root, &[class], true).expect("readable class folder")
}

/// A plugin's built component with a binding configuration, under the
/// production limits but `nexus eval`'s 1 s deadline: the deadline is wall
/// time, and these tests share two cores with the others.
pub fn component(plugin: &str, config: &serde_json::Value) -> WasmRule {
    let path = plugins::component(plugin).unwrap_or_else(|error| panic!("{error}"));
    let limits = Limits { deadline_ms: 1_000, ..Limits::default() };
    WasmRule::load(&path, config, limits).unwrap_or_else(|error| panic!("{plugin}: {error}"))
}

/// The subset's `MANIFEST.csv` as `path → (column → value)`.
pub fn manifest() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(subset().join("MANIFEST.csv")).expect("MANIFEST.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|line| {
            let row: BTreeMap<String, String> =
                header.iter().zip(line.split(',')).map(|(h, v)| (h.to_string(), v.to_string())).collect();
            (row["path"].clone(), row)
        })
        .collect()
}

/// Benchmark 2 scores exactly the instances the published notebook scores:
/// the subset's manifest records the notebook's choice (`vargas2019_bench2`),
/// and the full dataset has 36 of 52 (Vargas et al. 2019, demo-2 notebook).
#[test]
fn benchmark_two_scores_the_instances_the_notebook_scores() {
    let manifest = manifest();
    let files = dataset::list(&subset(), &bench2::CLASSES, true).expect("the subset's class folders");
    assert_eq!(files.len(), 13 + 2, "13 scored and 2 ignored real instances of the benchmark's classes");
    for path in &files {
        let instance = dataset::read(path).expect("readable");
        let key = format!("{}/{}.csv.gz", instance.class, instance.name);
        let used = manifest[&key]["vargas2019_bench2"] == "used";
        assert_eq!(bench2::windows(&instance).is_some(), used, "{key}");
    }
    let Some(root) = full("benchmark 2 on 52 instances") else { return };
    let files = dataset::list(&root, &bench2::CLASSES, true).expect("the 3W class folders");
    assert_eq!(files.len(), 52);
    let mut scored = 0;
    for path in &files {
        let instance = dataset::read(path).expect("readable");
        if let Some(windows) = bench2::windows(&instance) {
            scored += 1;
            assert_eq!(windows.train.len(), 9, "{}", instance.name);
            assert_eq!(windows.normal.len(), 6, "{}", instance.name);
            let tests = windows.normal.len() + windows.transient.len() + windows.steady.len();
            assert!(tests <= 12, "{}", instance.name);
            let last = instance.ts.len();
            for start in windows.train.iter().chain(&windows.normal).chain(&windows.transient).chain(&windows.steady) {
                assert!(start + bench2::WINDOW <= last, "{}: window past the end", instance.name);
            }
        }
    }
    assert_eq!(scored, 36);
}
