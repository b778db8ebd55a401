//! Replays the real 3W instances (`../shared/data/3w`, Petrobras 3W dataset,
//! CC BY 4.0) through the PCK-restriction rule, as `nexus eval detect` does
//! (`nexus_eval::detect`): class 6 (quick restriction in PCK) for
//! detections, class 0 (normal) for false alarms. Prints per-instance tables
//! (`cargo test --release -p alarm-rule-pck-restriction --test three_w --
//! --nocapture`).
//!
//! The real class-6 restrictions are not "5 % within 10 s": P-MON-CKP rises
//! by at most about 1 % per 10 s in all six, so the paper's definition (the
//! default configuration) detects none of them. The slow-restriction
//! profile [`SLOW_PROFILE`] (3 % within 5 min) catches five of six.

use std::path::{Path, PathBuf};

use alarm_rule_pck_restriction::{PckConfig, PckState, STATE_KEY, evaluate_batch, parse_config, watched_samples};
use nexus_eval::dataset::{self, Instance};
use nexus_eval::detect::Summary;
use nexus_eval::native::{self, JsonState, Logic, NativeRule, Outcome};
use nexus_plugin_sdk::Series;

/// The profile documented in the README for the real, slower restrictions.
const SLOW_PROFILE: &str = r#"{"rise_pct": 3, "rise_window_s": 300, "baseline_s": 300, "confirm_s": 60}"#;

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
fn native_rule(config: &PckConfig) -> NativeRule<impl Logic> {
    let config = config.clone();
    NativeRule::new(move |device: &str, _now, batch: &[Series], state: &mut JsonState| {
        let mut rule_state: PckState = state.load(STATE_KEY)?.unwrap_or_default();
        let signals = match watched_samples(&config, batch) {
            Some(samples) => evaluate_batch(&config, &mut rule_state, device, samples),
            None => Vec::new(),
        };
        state.save(STATE_KEY, &rule_state)?;
        Ok(signals)
    })
}

fn run(config: &PckConfig, instances: &[Instance]) -> Vec<Outcome> {
    native::detect_all(&mut native_rule(config), instances).expect("the rule runs")
}

/// Totals over outcomes.
fn summary(outcomes: &[Outcome]) -> Summary {
    Summary::of(outcomes.iter().map(|o| &o.detection))
}

fn tables(title: &str, config: &PckConfig, events: &[Instance], normal: &[Instance]) -> (Summary, Summary) {
    let on_events =
        native::print_outcomes(&format!("{title}: class 6 (quick restriction in PCK)"), &run(config, events));
    let on_normal = native::print_outcomes(&format!("{title}: class 0 (normal)"), &run(config, normal));
    (on_events, on_normal)
}

fn load(root: &Path) -> (Vec<Instance>, Vec<Instance>) {
    let events = load_class(root, 6);
    let normal = load_class(root, 0);
    assert_eq!((events.len(), normal.len()), (6, 8), "expected the 6 real class-6 and 8 class-0 instances");
    (events, normal)
}

#[test]
fn paper_definition_is_quiet_on_normal_wells() {
    let Some(root) = data_dir() else { return };
    let (events, normal) = load(&root);
    let (on_events, on_normal) = tables("PCK, defaults (5 % within 10 s)", &PckConfig::default(), &events, &normal);
    assert_eq!(on_normal.false_alarms, 0);
    assert_eq!(on_events.false_alarms, 0);
    // No real restriction is that fast (see the module docs): nothing to detect.
    assert_eq!(on_events.detected, 0, "a real restriction met the paper's definition: update the README");
}

#[test]
fn slow_profile_detects_most_real_restrictions() {
    let Some(root) = data_dir() else { return };
    let (events, normal) = load(&root);
    let config = parse_config(SLOW_PROFILE).expect("valid profile");
    let (on_events, on_normal) = tables("PCK, slow-restriction profile", &config, &events, &normal);
    assert!(on_events.detected >= 5, "detected {}/{}", on_events.detected, on_events.instances);
    assert!(on_normal.false_alarms_per_day() < 1.0, "{} false alarms per 24 h", on_normal.false_alarms_per_day());
    assert!(on_events.median_delay_s.is_some_and(|d| d <= 400.0), "median delay {:?}", on_events.median_delay_s);
}

/// How the step size and windows trade detections, delay and false alarms
/// (informational).
#[test]
fn step_size_and_window_trade_offs() {
    let Some(root) = data_dir() else { return };
    let (events, normal) = load(&root);
    println!(
        "\n| rise_pct | rise_window_s | baseline_s | detected | median delay (s) | FA / 24 h class 0 | FA before the event (class 6) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (rise, window, baseline) in
        [(5, 10, 60), (5, 60, 60), (3, 60, 300), (2, 120, 300), (3, 300, 300), (4, 600, 300)]
    {
        let json = format!(r#"{{"rise_pct": {rise}, "rise_window_s": {window}, "baseline_s": {baseline}}}"#);
        let config = parse_config(&json).expect("valid config");
        let on_events = summary(&run(&config, &events));
        let on_normal = summary(&run(&config, &normal));
        let median = on_events.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
        println!(
            "| {rise} | {window} | {baseline} | {}/{} | {median} | {:.2} | {} |",
            on_events.detected,
            on_events.instances,
            on_normal.false_alarms_per_day(),
            on_events.false_alarms
        );
    }
}
