//! The benchmark-2 selection on the real 3W files in `../shared/data/3w`
//! (Petrobras 3W dataset, CC BY 4.0).

use nexus_eval::{bench2, dataset};

#[test]
fn benchmark_two_scores_36_of_the_52_real_instances() {
    let files =
        dataset::list(&dataset::default_dir(), &bench2::CLASSES, true).expect("3W data under ../shared/data/3w");
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
