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
use nexus_eval::detect::Summary;
use nexus_eval::native::{self, JsonState, Logic, NativeRule, Outcome};
use nexus_plugin_sdk::Series;

/// The host's cap on one state value, with the 64 KiB call cap in mind.
const STATE_LIMIT_BYTES: usize = 48 * 1024;

/// `shared/data/3w` beside the repository, or `$NEXUS_3W_DIR`; `None` (and a
/// note) when it is not there, so the harness skips on machines without it.
fn data_dir() -> Option<PathBuf> {
    let dir = dataset::default_dir();
    if dir.join("0").is_dir() {
        Some(dir)
    } else {
        println!("3W data not found at {}: harness skipped", dir.display());
        None
    }
}

/// The real (`WELL-*`) instances of a class, sorted by name.
fn load_class(root: &Path, class: u32) -> Vec<Instance> {
    dataset::read_classes(root, &[class], true).expect("readable class folder")
}

/// The rule's pure logic behind `nexus_eval::replay::Rule`
/// ([`NativeRule`]: batches grouped into series as the runtime does, the
/// state kept as JSON bytes only when a call succeeds). The rule counts the
/// raises and clears since the last reset, which the detection report leaves out.
fn native_rule(config: &DhsvConfig) -> NativeRule<impl Logic> {
    let config = config.clone();
    NativeRule::new(move |device: &str, _now, batch: &[Series], state: &mut JsonState| {
        let mut rule_state: DhsvState = state.load(STATE_KEY)?.unwrap_or_default();
        let signals = evaluate_batch(&config, &mut rule_state, device, batch);
        state.save(STATE_KEY, &rule_state)?;
        Ok(signals)
    })
}

fn run(config: &DhsvConfig, instances: &[Instance]) -> Vec<Outcome> {
    native::detect_all(&mut native_rule(config), instances).expect("the rule runs")
}

/// Totals over outcomes.
fn summary(outcomes: &[Outcome]) -> Summary {
    Summary::of(outcomes.iter().map(|o| &o.detection))
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
    let on_events = native::print_outcomes("DHSV closure: class 2 (spurious DHSV closure)", &event_outcomes);
    let on_normal = native::print_outcomes("DHSV closure: class 0 (normal)", &normal_outcomes);

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
        let on_events = summary(&run(&config, &events));
        let on_normal = summary(&run(&config, &normal));
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
