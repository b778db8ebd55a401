//! Benchmark: cost per reading of the detector and rule components, run as
//! the pipeline runs them (a fresh store per call, state carried between
//! calls), on one-minute batches of 1 Hz data (60 rows × 8 keys = 480
//! readings per call).
//!
//! Run: `cargo bench -p nexus-eval --bench detectors` after `.ci/build-plugins`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nexus_eval::plugins;
use nexus_eval::replay::{Rule, WasmRule};
use nexus_model::{Limits, Reading, Value};

const ROWS: usize = 60;
const BATCHES: usize = 120;
const KEYS: [&str; 8] = ["P-PDG", "P-TPT", "T-TPT", "P-MON-CKP", "T-JUS-CKP", "P-JUS-CKGL", "T-JUS-CKGL", "QGL"];
const LEVELS: [f64; 8] = [2.8e7, 2.0e7, 124.0, 4.0e6, 90.0, 1.0e6, 40.0, 1.0];

/// Two hours of 3W-like 1 Hz data (a small random walk around typical
/// levels), cut into one-minute batches.
fn batches() -> Vec<(i64, Vec<Reading>)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut values = LEVELS;
    let t0 = 1_700_000_000_000i64;
    (0..BATCHES)
        .map(|b| {
            let mut readings = Vec::with_capacity(ROWS * KEYS.len());
            for r in 0..ROWS {
                let ts = t0 + ((b * ROWS + r) as i64) * 1000;
                for (k, key) in KEYS.iter().enumerate() {
                    values[k] += LEVELS[k] * 1e-4 * noise();
                    readings.push(Reading {
                        device_id: "well".into(),
                        key: (*key).into(),
                        ts,
                        value: Value::Number(values[k]),
                        quality: 1.0,
                    });
                }
            }
            (t0 + ((b + 1) * ROWS) as i64 * 1000 - 1000, readings)
        })
        .collect()
}

fn main() {
    let data = batches();
    let readings_per_call = ROWS * KEYS.len();
    let cases: [(&str, serde_json::Value); 6] = [
        ("alarm-rule-threshold", serde_json::json!({"key": "P-MON-CKP", "high": 5.0e6})),
        ("alarm-rule-dhsv-closure", serde_json::json!({})),
        ("alarm-rule-pck-restriction", serde_json::json!({})),
        (
            "alarm-rule-streaming-detectors",
            serde_json::json!({"detectors": [
                {"kind": "robust_z", "key": "P-TPT"}, {"kind": "ewma", "key": "T-TPT"}, {"kind": "cusum", "key": "P-MON-CKP"}
            ]}),
        ),
        ("alarm-rule-isolation-forest", serde_json::json!({"train_windows": 9})),
        (
            "alarm-rule-conditions",
            serde_json::json!({"alarm_type": "HighPressure", "severities": [
                {"severity": "major", "create": {"key": "P-MON-CKP", "op": ">", "value": 5.0e6, "duration_ms": 60000}}
            ]}),
        ),
    ];
    println!(
        "cost per reading, {readings_per_call} readings per call (60 rows × 8 keys), {BATCHES} calls per round, median of 5 rounds"
    );
    println!("  {:<34} {:>12} {:>14}", "component", "µs / call", "ns / reading");
    for (name, config) in cases {
        let path = plugins::component(name).unwrap_or_else(|error| panic!("{error}"));
        let limits = Limits { deadline_ms: 1_000, ..Limits::default() };
        let mut rule = WasmRule::load(&path, &config, limits).unwrap_or_else(|error| panic!("{name}: {error}"));
        let mut rounds: Vec<Duration> = (0..5)
            .map(|_| {
                rule.reset();
                let started = Instant::now();
                for (now, readings) in &data {
                    black_box(rule.evaluate(*now, readings).unwrap_or_else(|e| panic!("{name}: {e}")));
                }
                started.elapsed() / BATCHES as u32
            })
            .collect();
        rounds.sort();
        let per_call = rounds[2];
        println!(
            "  {name:<34} {:>12.1} {:>14.1}",
            per_call.as_secs_f64() * 1e6,
            per_call.as_secs_f64() * 1e9 / readings_per_call as f64
        );
    }
}
