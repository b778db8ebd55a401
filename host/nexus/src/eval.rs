//! `nexus eval`: replays recorded well data through an alarm-rule component
//! in virtual time, exactly as the live pipeline runs it, and reports.
//!
//! - `bench2`: the 3W anomaly-detection benchmark (score per instance, per
//!   class, per seed);
//! - `detect`: whole instances in one-minute batches: detection, delay and
//!   false alarms per hour;
//! - `specificity`: every real instance of every class in one-minute
//!   batches: raises per class, false alarms per 24 h over all
//!   labelled-normal rows.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nexus_eval::bench2::{self, InstanceScore};
use nexus_eval::dataset;
use nexus_eval::detect::{self, Detection, Summary};
use nexus_eval::replay::WasmRule;
use nexus_eval::specificity;
use nexus_model::Limits;

/// Where the 3W data is by default: `$NEXUS_3W_DIR` (the full dataset),
/// else the subset shipped in `host/eval/data/3w`.
pub fn default_data_dir() -> PathBuf {
    dataset::default_dir()
}

/// Progress on stderr: one updating line on a terminal, a line per step otherwise.
struct Progress {
    total: usize,
    done: usize,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self { total, done: 0, tty: std::io::stderr().is_terminal() }
    }

    fn step(&mut self, label: &str) {
        self.done += 1;
        let width = 30;
        let filled = width * self.done / self.total.max(1);
        let bar =
            format!("[{}{}] {}/{} {label}", "#".repeat(filled), " ".repeat(width - filled), self.done, self.total);
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{bar}");
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{bar}");
        }
    }
}

fn limits(deadline_ms: u64) -> Limits {
    Limits { deadline_ms, ..Limits::default() }
}

fn with_seed(config: &serde_json::Value, seed: u64) -> serde_json::Value {
    let mut config = config.clone();
    if let Some(map) = config.as_object_mut() {
        map.insert("seed".into(), seed.into());
    }
    config
}

/// Runs benchmark 2 for each seed and prints per-instance, per-class and per-seed tables.
pub fn bench2(
    plugin: &Path,
    config: &serde_json::Value,
    data: &Path,
    seeds: &[u64],
    deadline_ms: u64,
) -> anyhow::Result<f64> {
    let files = dataset::list(data, &bench2::CLASSES, true).context("listing the 3W instances")?;
    let instances: Vec<_> = files.iter().map(|f| dataset::read(f)).collect::<Result<_, _>>()?;
    let mut progress = Progress::new(instances.len() * seeds.len());
    let mut per_seed: Vec<(u64, Vec<InstanceScore>)> = Vec::new();
    for &seed in seeds {
        let mut rule =
            WasmRule::load(plugin, &with_seed(config, seed), limits(deadline_ms)).map_err(anyhow::Error::msg)?;
        let mut scores = Vec::new();
        for instance in &instances {
            if let Some(score) = bench2::score(instance, &mut rule)? {
                scores.push(score);
            }
            progress.step(&format!("seed {seed} {}", instance.name));
        }
        per_seed.push((seed, scores));
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let std = |xs: &[f64]| {
        let m = mean(xs);
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len().max(1) as f64).sqrt()
    };
    println!("## Benchmark 2 (3W anomaly detection), {}\n", plugin.display());
    println!(
        "| class | instances | {} | mean |",
        seeds.iter().map(|s| format!("seed {s}")).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|---|{}---|", "---|".repeat(seeds.len()));
    for class in bench2::CLASSES {
        let cells: Vec<f64> = per_seed
            .iter()
            .map(|(_, scores)| mean(&scores.iter().filter(|s| s.class == class).map(|s| s.score).collect::<Vec<_>>()))
            .collect();
        let count = per_seed.first().map_or(0, |(_, s)| s.iter().filter(|s| s.class == class).count());
        let row: Vec<String> = cells.iter().map(|c| format!("{c:.3}")).collect();
        println!("| {class} | {count} | {} | {:.3} |", row.join(" | "), mean(&cells));
    }
    let seed_means: Vec<f64> =
        per_seed.iter().map(|(_, s)| mean(&s.iter().map(|x| x.score).collect::<Vec<_>>())).collect();
    let seed_stds: Vec<String> =
        per_seed.iter().map(|(_, s)| format!("{:.3}", std(&s.iter().map(|x| x.score).collect::<Vec<_>>()))).collect();
    let count = per_seed.first().map_or(0, |(_, s)| s.len());
    let row: Vec<String> = seed_means.iter().map(|m| format!("**{m:.3}**")).collect();
    println!("| all | {count} | {} | **{:.3}** |", row.join(" | "), mean(&seed_means));
    println!("| std | | {} | |", seed_stds.join(" | "));
    println!("\nPer instance (seed {}):\n", seeds[0]);
    println!("| instance | class | score | abnormal flagged | normal passed | tests |\n|---|---|---|---|---|---|");
    if let Some((_, scores)) = per_seed.first() {
        for s in scores {
            let abnormal = s.tests - s.tests / 2;
            println!(
                "| {} | {} | {:.3} | {}/{} | {}/{} | {} |",
                s.instance,
                s.class,
                s.score,
                s.true_positives,
                abnormal,
                s.true_negatives,
                s.tests / 2,
                s.tests
            );
        }
    }
    Ok(mean(&seed_means))
}

/// Replays whole instances of `classes` (events) and `normal_classes`
/// (false alarms) and prints detection, delay and false-alarm rate.
pub fn detect(
    plugin: &Path,
    config: &serde_json::Value,
    data: &Path,
    classes: &[u32],
    normal_classes: &[u32],
    deadline_ms: u64,
) -> anyhow::Result<()> {
    let all: Vec<u32> = classes.iter().chain(normal_classes).copied().collect();
    let files = dataset::list(data, &all, true).context("listing the 3W instances")?;
    let mut rule = WasmRule::load(plugin, config, limits(deadline_ms)).map_err(anyhow::Error::msg)?;
    let mut progress = Progress::new(files.len());
    let mut results: Vec<Detection> = Vec::new();
    for file in &files {
        let instance = dataset::read(file)?;
        results.push(detect::run(&instance, &mut rule)?);
        progress.step(&instance.name);
    }
    println!("## Detection replay, {}\n", plugin.display());
    println!("| instance | class | hours | detected | delay (s) | false alarms |\n|---|---|---|---|---|---|");
    for r in &results {
        let delay = r.delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
        let detected = if r.class == 0 {
            "–"
        } else if r.detected {
            "yes"
        } else {
            "no"
        };
        println!("| {} | {} | {:.1} | {detected} | {delay} | {} |", r.instance, r.class, r.hours, r.false_alarms);
    }
    println!(
        "\n| class | instances | detected | median delay (s) | false alarms / 24 h of normal data |\n|---|---|---|---|---|"
    );
    for class in classes.iter().chain(normal_classes) {
        let s = Summary::of(results.iter().filter(|r| r.class == *class));
        let median = s.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
        let detected = if *class == 0 { "–".to_string() } else { format!("{}/{}", s.detected, s.instances) };
        println!(
            "| {class} | {} | {detected} | {median} | {:.2} ({} in {:.1} h) |",
            s.instances,
            s.false_alarms_per_day(),
            s.false_alarms,
            s.normal_hours
        );
    }
    Ok(())
}

/// Replays every real instance of every class under `data` and prints the
/// cross-class table: raises per class, false alarms per 24 h over all
/// labelled-normal rows.
pub fn specificity(plugin: &Path, config: &serde_json::Value, data: &Path, deadline_ms: u64) -> anyhow::Result<()> {
    let classes: Vec<u32> = specificity::CLASSES.collect();
    let files = dataset::list(data, &classes, true).context("listing the 3W instances")?;
    let mut rule = WasmRule::load(plugin, config, limits(deadline_ms)).map_err(anyhow::Error::msg)?;
    let mut progress = Progress::new(files.len());
    let mut outcomes = Vec::new();
    for file in &files {
        let instance = dataset::read(file)?;
        outcomes.push(specificity::replay(&instance, &mut rule)?);
        progress.step(&instance.name);
    }
    let title = format!(
        "Specificity, {} with {config}, {} real instances in {}",
        plugin.display(),
        files.len(),
        data.display()
    );
    specificity::print(&title, &outcomes);
    Ok(())
}
