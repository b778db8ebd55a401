//! Replays the real 3W instances (`../shared/data/3w`, Petrobras 3W dataset,
//! CC BY 4.0) through the DHSV-closure rule with its default configuration,
//! as `nexus eval detect` does (`nexus_eval::detect`): every class-2
//! (spurious DHSV closure) instance must be detected and the class-0 (normal)
//! instances must give fewer than one false alarm per 24 h. Prints a
//! per-instance table (`cargo test --release -p alarm-rule-dhsv-closure
//! --test three_w -- --nocapture`).

use std::path::{Path, PathBuf};

use alarm_rule_dhsv_closure::{DhsvConfig, DhsvState, STATE_KEY, evaluate_batch, parse_config};
use nexus_eval::dataset::{self, Instance};
use nexus_eval::detect::{self, Detection};
use nexus_eval::native::{JsonState, Logic, NativeRule};
use nexus_plugin_sdk::Series;

/// The host's cap on one state value, with the 64 KiB call cap in mind.
const STATE_LIMIT_BYTES: usize = 48 * 1024;

/// `shared/data/3w` beside the repository, or `$NEXUS_3W_DIR`; `None` (and a
/// note) when it is not there, so the harness skips on machines without it.
fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("NEXUS_3W_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/3w"));
    if dir.join("0").is_dir() {
        Some(dir)
    } else {
        println!("3W data not found at {}: harness skipped", dir.display());
        None
    }
}

/// The real (`WELL-*`) instances of a class, sorted by name.
fn load_class(root: &Path, class: u32) -> Vec<Instance> {
    let files = dataset::list(root, &[class], true).expect("class folder");
    files.iter().map(|f| dataset::read(f).expect("readable instance")).collect()
}

/// The rule's pure logic behind `nexus_eval::replay::Rule`
/// ([`NativeRule`]: batches grouped into series as the runtime does, the
/// state kept as JSON bytes only when a call succeeds). The rule counts the
/// raises and clears since the last reset, which [`Detection`] leaves out.
fn native_rule(config: &DhsvConfig) -> NativeRule<impl Logic> {
    let config = config.clone();
    NativeRule::new(move |device: &str, _now, batch: &[Series], state: &mut JsonState| {
        let mut rule_state: DhsvState = state.load(STATE_KEY)?.unwrap_or_default();
        let signals = evaluate_batch(&config, &mut rule_state, device, batch);
        state.save(STATE_KEY, &rule_state)?;
        Ok(signals)
    })
}

/// What the rule did on one instance: the detection report and the counts.
struct Outcome {
    detection: Detection,
    raises: usize,
    clears: usize,
    max_state_bytes: usize,
}

fn run(config: &DhsvConfig, instances: &[Instance]) -> Vec<Outcome> {
    let mut rule = native_rule(config);
    instances
        .iter()
        .map(|instance| {
            let detection = detect::run(instance, &mut rule).expect("the rule runs");
            let (raises, clears, max_state_bytes) = (rule.raises(), rule.clears(), rule.state().largest());
            Outcome { detection, raises, clears, max_state_bytes }
        })
        .collect()
}

/// Totals over a set of outcomes.
struct Summary {
    instances: usize,
    detected: usize,
    /// Median delay as `nexus eval` prints it (the upper median).
    median_delay_s: Option<f64>,
    false_alarms: usize,
    normal_hours: f64,
}

impl Summary {
    fn of(outcomes: &[Outcome]) -> Self {
        let mut delays: Vec<f64> = outcomes.iter().filter_map(|o| o.detection.delay_s).collect();
        delays.sort_by(f64::total_cmp);
        Self {
            instances: outcomes.len(),
            detected: outcomes.iter().filter(|o| o.detection.detected).count(),
            median_delay_s: delays.get(delays.len() / 2).copied(),
            false_alarms: outcomes.iter().map(|o| o.detection.false_alarms).sum(),
            normal_hours: outcomes.iter().map(|o| o.detection.normal_hours).sum(),
        }
    }

    /// False alarms per 24 h of normal data.
    fn false_alarms_per_day(&self) -> f64 {
        if self.normal_hours > 0.0 { self.false_alarms as f64 / self.normal_hours * 24.0 } else { 0.0 }
    }
}

/// Prints a per-instance table and the totals.
fn print_table(title: &str, outcomes: &[Outcome]) -> Summary {
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
    let s = Summary::of(outcomes);
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

#[test]
fn detects_every_real_dhsv_closure_without_false_alarms_on_normal_wells() {
    let Some(root) = data_dir() else { return };
    let config = DhsvConfig::default();
    let events = load_class(&root, 2);
    let normal = load_class(&root, 0);
    assert_eq!((events.len(), normal.len()), (22, 8), "expected the 22 real class-2 and 8 class-0 instances");

    let event_outcomes = run(&config, &events);
    let normal_outcomes = run(&config, &normal);
    let on_events = print_table("DHSV closure: class 2 (spurious DHSV closure)", &event_outcomes);
    let on_normal = print_table("DHSV closure: class 0 (normal)", &normal_outcomes);

    assert_eq!(on_events.detected, on_events.instances, "every real DHSV closure is detected");
    assert_eq!(on_events.false_alarms, 0, "no raise before the event in class-2 files");
    assert!(on_normal.false_alarms_per_day() < 1.0, "false alarms per 24 h: {}", on_normal.false_alarms_per_day());
    let median = on_events.median_delay_s.unwrap_or(f64::INFINITY);
    assert!(median <= 300.0, "median delay {median} s");
    let largest = event_outcomes.iter().chain(&normal_outcomes).map(|o| o.max_state_bytes).max().unwrap_or(0);
    assert!(largest < STATE_LIMIT_BYTES, "state grew to {largest} bytes");
    println!("\nlargest state: {largest} B");
}

/// How the lookback and a confirmation time trade detections for delay (the
/// §1.6 suggestion is Δt = 5 min; the default is 10 min). Informational,
/// apart from the default row, which the test above checks in detail.
#[test]
fn lookback_and_confirmation_trade_offs() {
    let Some(root) = data_dir() else { return };
    let events = load_class(&root, 2);
    let normal = load_class(&root, 0);
    println!("\n| lookback_s | confirm_s | detected | median delay (s) | false alarms / 24 h (class 0) |");
    println!("|---|---|---|---|---|");
    for (lookback, confirm) in [(300, 0), (600, 0), (600, 30), (900, 0), (1200, 0)] {
        let json = format!(r#"{{"lookback_s": {lookback}, "confirm_s": {confirm}}}"#);
        let config = parse_config(&json).expect("valid config");
        let on_events = Summary::of(&run(&config, &events));
        let on_normal = Summary::of(&run(&config, &normal));
        let median = on_events.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
        println!(
            "| {lookback} | {confirm} | {}/{} | {median} | {:.2} |",
            on_events.detected,
            on_events.instances,
            on_normal.false_alarms_per_day()
        );
        assert!(on_normal.false_alarms_per_day() < 1.0, "{json}");
    }
}

/// The other 3W events (BSW increase, slugging, instability, productivity
/// loss, PCK restriction, scaling, hydrate) must not look like a DHSV closure.
#[test]
fn other_events_do_not_raise() {
    let Some(root) = data_dir() else { return };
    let config = DhsvConfig::default();
    println!("\n| class | instances | with a raise | raises |\n|---|---|---|---|");
    for class in [1, 3, 4, 5, 6, 7, 8] {
        let outcomes = run(&config, &load_class(&root, class));
        let with = outcomes.iter().filter(|o| o.raises > 0).map(|o| o.detection.instance.as_str()).collect::<Vec<_>>();
        let raises: usize = outcomes.iter().map(|o| o.raises).sum();
        println!("| {class} | {} | {} {with:?} | {raises} |", outcomes.len(), with.len());
        assert!(with.is_empty(), "class {class}: {with:?}");
    }
}
