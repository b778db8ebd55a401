//! Benchmark 2 of the 3W dataset (Vargas et al. 2019, anomaly detection),
//! run through the Isolation Forest component (`alarm-rule-isolation-forest`)
//! with its state carried between calls as the pipeline carries it (`nexus
//! eval bench2`).
//!
//! On the full dataset (36 scored real instances): the published Isolation
//! Forest baseline is 0.727 ± 0.182 (scikit-learn, random_state=1); a Python
//! re-run on these files gave 0.674–0.745 over 30 seeds. The acceptance is a
//! mean ≥ 0.67 over seeds 1..=5. On the subset (13 scored instances) the
//! acceptance is only better than chance: the test sets are balanced, so a
//! coin scores 0.5.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nexus_eval::bench2::{self, InstanceScore};
use nexus_eval::dataset::{self, Instance};
use nexus_eval::replay::{self, Rule, WasmRule};
use nexus_model::{AlarmSignal, Reading, TimestampMs};
use serde_json::json;

use std::path::Path;

use super::{component, full, subset};

/// The acceptance threshold on the mean score over seeds.
const ACCEPT: f64 = 0.67;
/// Chance on the balanced test sets.
const CHANCE: f64 = 0.5;
/// Seeds the acceptance averages over.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=5;
/// The host's cap on one state value, with the 64 KiB call cap in mind.
const STATE_LIMIT_BYTES: usize = 48 << 10;

/// The real instances of the benchmark's classes under `root`, read in parallel.
fn instances(root: &Path) -> Vec<Instance> {
    let files = dataset::list(root, &bench2::CLASSES, true).expect("the 3W class folders");
    std::thread::scope(|scope| {
        let chunks: Vec<_> = files
            .chunks(files.len().div_ceil(8))
            .map(|chunk| {
                scope.spawn(move || chunk.iter().map(|p| dataset::read(p).expect("readable")).collect::<Vec<_>>())
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().expect("reader thread")).collect()
    })
}

/// The component, its calls timed.
struct Timed {
    inner: WasmRule,
    calls: Vec<Duration>,
}

impl Timed {
    fn new(seed: u64) -> Self {
        Self { inner: component("alarm-rule-isolation-forest", &json!({ "seed": seed })), calls: Vec::new() }
    }
}

impl Rule for Timed {
    fn evaluate(&mut self, now: TimestampMs, readings: &[Reading]) -> Result<Vec<AlarmSignal>, String> {
        let start = Instant::now();
        let signals = self.inner.evaluate(now, readings);
        self.calls.push(start.elapsed());
        signals
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// The scores of every scored instance, and the largest state value the
/// component kept on any of them.
fn run(instances: &[Instance], rule: &mut Timed) -> (Vec<InstanceScore>, usize) {
    let mut largest = 0;
    let mut scores = Vec::new();
    for instance in instances {
        scores.extend(bench2::score(instance, rule).expect("the component runs"));
        largest = largest.max(rule.inner.largest_state_value());
    }
    (scores, largest)
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values.into_iter().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// Scores seeds 1..=5 on `instances` (`scored` of them are scored) and
/// returns the mean over seeds.
fn benchmark(instances: &[Instance], scored: usize) -> f64 {
    let started = Instant::now();
    let mut per_seed = Vec::new();
    let mut by_class: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let (mut largest, mut calls) = (0, Vec::new());
    for seed in SEEDS {
        let mut rule = Timed::new(seed);
        let (scores, seed_largest) = run(instances, &mut rule);
        largest = largest.max(seed_largest);
        calls.append(&mut rule.calls);
        assert_eq!(scores.len(), scored, "seed {seed}: scored instances");
        for s in &scores {
            by_class.entry(s.class).or_default().push(s.score);
        }
        let seed_mean = mean(scores.iter().map(|s| s.score));
        let std = mean(scores.iter().map(|s| (s.score - seed_mean).powi(2))).sqrt();
        let (tp, tn, tests): (usize, usize, usize) =
            scores.iter().fold((0, 0, 0), |(tp, tn, n), s| (tp + s.true_positives, tn + s.true_negatives, n + s.tests));
        println!("seed {seed}: mean {seed_mean:.3} (std {std:.3}; {tp} TP + {tn} TN of {tests} test windows)");
        per_seed.push(seed_mean);
    }
    println!("\nclass  instances  mean score (over seeds {}..={})", SEEDS.start(), SEEDS.end());
    for (class, scores) in &by_class {
        println!("{class:>5}  {:>9}  {:.3}", scores.len() / per_seed.len(), mean(scores.iter().copied()));
    }
    let overall = mean(per_seed.iter().copied());
    println!("\nmean over seeds: {overall:.3} (published on 36 instances: 0.727 ± 0.182)");
    calls.sort();
    let median = calls.get(calls.len() / 2).copied().unwrap_or_default();
    let p99 = calls.get(calls.len() * 99 / 100).copied().unwrap_or_default();
    let slowest = calls.last().copied().unwrap_or_default();
    println!("largest state value: {largest} bytes");
    println!("{} component calls (one window each): median {median:?}, p99 {p99:?}, longest {slowest:?}", calls.len());
    println!("total time: {:?}", started.elapsed());
    assert!(largest > 0, "the component keeps state");
    assert!(largest < STATE_LIMIT_BYTES, "a state value of {largest} bytes");
    overall
}

#[test]
fn benchmark_two_on_the_subset_beats_chance() {
    let overall = benchmark(&instances(&subset()), 13);
    assert!(overall > CHANCE, "mean over seeds {overall:.3} ≤ {CHANCE}");
}

#[test]
fn benchmark_two_mean_score_is_in_the_published_band() {
    let Some(root) = full("benchmark 2 on the 36 scored instances") else { return };
    let instances = instances(&root);
    assert_eq!(instances.len(), 52);
    let overall = benchmark(&instances, 36);
    assert!(overall >= ACCEPT, "mean over seeds {overall:.3} < {ACCEPT}");
}

/// Live-style: the windows of one instance fed one row per call give the
/// same signals as whole windows, one per call: the state carried across
/// 180 calls per window (a buffer in chunks) loses nothing.
#[test]
fn one_row_frames_flag_the_same_windows_as_whole_windows() {
    let instances = instances(&subset());
    let instance = instances.iter().find(|i| bench2::windows(i).is_some()).expect("a scored instance");
    let windows = bench2::windows(instance).expect("scored");
    let starts: Vec<usize> =
        [&windows.train, &windows.normal, &windows.transient, &windows.steady].into_iter().flatten().copied().collect();
    let mut frames = Timed::new(1);
    let mut whole = frames.inner.with_config(&json!({ "seed": 1 }));
    let mut scored = 0;
    for &start in &starts {
        let end = start + bench2::WINDOW;
        let mut last = Vec::new();
        for row in start..end {
            last = frames.evaluate(instance.ts[row], &replay::rows(instance, row..row + 1, Some(0.0))).expect("frame");
        }
        let signals =
            whole.evaluate(instance.ts[end - 1], &replay::rows(instance, start..end, Some(0.0))).expect("window");
        assert_eq!(last, signals, "{} window at row {start}", instance.name);
        scored += signals.len();
    }
    assert_eq!(scored, starts.len() - windows.train.len(), "one signal per scored window");
    let longest = frames.calls.iter().max().copied().unwrap_or_default();
    let largest = frames.inner.largest_state_value();
    println!(
        "{}: {} one-row calls, longest {longest:?}, largest state value {largest} B",
        instance.name,
        frames.calls.len()
    );
    assert!(largest < STATE_LIMIT_BYTES, "a state value of {largest} bytes");
}
