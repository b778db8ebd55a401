//! The real 3W instances (Petrobras 3W dataset, CC BY 4.0; found by
//! `nexus_eval::dataset::default_dir()`) replayed through the built alarm-rule
//! components, as `nexus eval` replays them: the benchmark-2 window
//! selection here, the physics rules in [`dhsv`] and [`pck`], the Isolation
//! Forest's benchmark-2 score in [`isolation_forest`]. Every test skips with a
//! note when the data is not there; a component that was not built
//! (`.ci/build-plugins`) fails the test. Tables are printed
//! (`cargo test --release -p nexus-eval --test three_w -- --nocapture`).

// One module per rule, in `three_w/` (a test crate's root looks for
// modules beside itself).
#[path = "three_w/dhsv.rs"]
mod dhsv;
#[path = "three_w/isolation_forest.rs"]
mod isolation_forest;
#[path = "three_w/pck.rs"]
mod pck;

use std::path::{Path, PathBuf};

use nexus_eval::dataset::{self, Instance};
use nexus_eval::replay::WasmRule;
use nexus_eval::{bench2, plugins};
use nexus_model::Limits;

/// The 3W data directory, or `None` (and a note) when it is not there, so the
/// tests skip on machines without it.
pub fn data_dir() -> Option<PathBuf> {
    let dir = dataset::default_dir();
    if dir.join("0").is_dir() {
        Some(dir)
    } else {
        println!("3W data not found at {} (set NEXUS_3W_DIR): test skipped", dir.display());
        None
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

#[test]
fn benchmark_two_scores_36_of_the_52_real_instances() {
    let Some(root) = data_dir() else { return };
    let files = dataset::list(&root, &bench2::CLASSES, true).expect("the 3W class folders");
    assert_eq!(files.len(), 52);
    let mut scored = 0;
    for path in &files {
        let instance = dataset::read(path).expect("readable");
        assert!(instance.is_real());
        if let Some(windows) = bench2::windows(&instance) {
            scored += 1;
            assert_eq!(windows.train.len(), 9, "{}", instance.name);
            let tests = windows.normal.len() + windows.transient.len() + windows.steady.len();
            assert_eq!(windows.normal.len(), 6, "{}", instance.name);
            assert!(tests <= 12, "{}", instance.name);
            let last = instance.ts.len();
            for start in windows.train.iter().chain(&windows.normal).chain(&windows.transient).chain(&windows.steady) {
                assert!(start + bench2::WINDOW <= last, "{}: window past the end", instance.name);
            }
        }
    }
    assert_eq!(scored, 36);
}
