//! Benchmark: the threshold rule on a batch of 1024 readings, native Rust vs
//! the wasm component — on the binding's warm instance, as the hot path runs
//! it, and on a fresh instance per call — plus instantiation with and
//! without the pooling allocator and the overhead of the limits (none,
//! epoch, fuel) on warm instances.
//!
//! The native figure is [`reference`], the rule's algorithm written in the
//! bench (the host does not depend on the plugin); before timing, the bench
//! checks that it gives the component's signals and state on the batch.
//!
//! Run: `cargo bench -p nexus-runtime --bench threshold` after
//! `.ci/build-plugins`. Every figure is measured in the same run; the ratios
//! are what to compare across machines.

#[path = "threshold/reference.rs"]
mod reference;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_model::{Limits, PluginKind, PluginRef, Reading, Series, Value};
use nexus_runtime::{CallContext, NoTelemetry, Plugin, Runtime, RuntimeConfig};

const BATCH: usize = 1024;
const CONFIG: &str = r#"{"key":"motor_temperature","high":120.0,"deadband":5.0,"severity":"major"}"#;

fn plugin_dir() -> std::path::PathBuf {
    std::env::var_os("NEXUS_PLUGIN_DIR").map(Into::into).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
        target.join("wasm32-wasip2/plugin")
    })
}

/// A temperature trace that crosses the limit a few times.
fn readings() -> Vec<Reading> {
    (0..BATCH)
        .map(|i| Reading {
            device_id: "dev-1".into(),
            key: "motor_temperature".into(),
            ts: 1_700_000_000_000 + i as i64 * 1000,
            value: Value::Number(100.0 + 30.0 * ((i as f64) / 40.0).sin()),
            quality: 1.0,
        })
        .collect()
}

fn ctx() -> CallContext {
    CallContext {
        plugin: PluginRef { tenant_id: "bench".into(), name: "alarm-rule-threshold".into(), version: "0.1.0".into() },
        binding_id: "bench".into(),
        device_id: "dev-1".into(),
        now: 1_700_000_000_000,
        config: CONFIG.into(),
        state: BTreeMap::new(),
        limits: Limits { deadline_ms: 1_000, ..Limits::default() },
        telemetry: Arc::new(NoTelemetry),
    }
}

/// Median time per iteration over `rounds` rounds of `iterations`.
fn measure(rounds: usize, iterations: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations.min(50) {
        f();
    }
    let mut per_round: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            started.elapsed() / iterations as u32
        })
        .collect();
    per_round.sort();
    per_round[rounds / 2]
}

fn load(config: RuntimeConfig, bytes: &[u8]) -> (Runtime, Arc<Plugin>) {
    let runtime = Runtime::new(config).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, bytes).expect("load");
    (runtime, plugin)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let bytes = std::fs::read(plugin_dir().join("alarm_rule_threshold.wasm"))
        .expect("alarm_rule_threshold.wasm: run .ci/build-plugins first");
    let batch = readings();
    // The component gets the batch as the host passes it: columns.
    let series = nexus_model::series_of(&batch);
    let profiling = std::env::var("NEXUS_BENCH_PROFILE").is_ok();
    // Every call on a fresh instance (no warm instances kept).
    let fresh = RuntimeConfig { warm_instances: 0, perf_map: profiling, ..RuntimeConfig::default() };
    let (pooled, plugin) = load(fresh.clone(), &bytes);
    // As the host runs it: the binding's instance kept between calls.
    let (warm, warm_plugin) = load(RuntimeConfig { perf_map: profiling, ..RuntimeConfig::default() }, &bytes);

    // `NEXUS_BENCH_PROFILE=call|empty|warm|warm-empty` loops one kind of
    // call for 10 s (run it under `perf record` to see where a call's time
    // goes): on the batch or on none, on fresh instances or a warm one.
    if let Ok(what) = std::env::var("NEXUS_BENCH_PROFILE") {
        let input: &[Series] = if what.ends_with("empty") { &[] } else { &series };
        let (runtime, plugin) = if what.starts_with("warm") { (&warm, &warm_plugin) } else { (&pooled, &plugin) };
        let until = Instant::now() + Duration::from_secs(10);
        let mut calls = 0u64;
        while Instant::now() < until {
            black_box(runtime.evaluate(plugin, ctx(), black_box(input)).expect("evaluate"));
            calls += 1;
        }
        println!("{calls} {what} calls in 10 s");
        return;
    }

    // The native reference must agree with the component before it is timed.
    let outcome = pooled.evaluate(&plugin, ctx(), &series).expect("evaluate");
    let saved = outcome.state.as_ref().and_then(|state| state.get("threshold")).map(Vec::as_slice);
    reference::check_against(CONFIG, "dev-1", &batch, &outcome.output, saved);
    println!("native reference = component on the batch: {} signals, same state", outcome.output.len());

    // Native: the same algorithm compiled for the host, on the watched key's
    // column (what the component's series holds), configuration parsed as
    // the component parses it on every call.
    let native_column = reference::column(&reference::Config::parse(CONFIG), &batch);
    let native_logic = measure(15, 200, || {
        let config = reference::Config::parse(CONFIG);
        let mut state = reference::State::default();
        black_box(reference::evaluate(&config, &mut state, "dev-1", black_box(&native_column)));
    });

    // Wasm as the host runs it: the binding's warm instance, copy 1024
    // readings in + evaluate (configuration and state through the host
    // interface) + copy out.
    let wasm_warm = measure(15, 200, || {
        black_box(warm.evaluate(&warm_plugin, ctx(), black_box(&series)).expect("evaluate"));
    });
    let empty: [Series; 0] = [];
    let empty_warm = measure(15, 500, || {
        black_box(warm.evaluate(&warm_plugin, ctx(), &empty).expect("evaluate"));
    });
    // Wasm on a fresh instance: store + instantiate + the same call.
    let wasm = measure(15, 100, || {
        black_box(pooled.evaluate(&plugin, ctx(), black_box(&series)).expect("evaluate"));
    });
    // The same batch under a key the rule ignores: instantiation + copying
    // the batch in, with the rule returning at once.
    let other_key: Vec<Series> = series.iter().map(|s| Series { key: "other".into(), ..s.clone() }).collect();
    let copy_in = measure(15, 100, || {
        black_box(pooled.evaluate(&plugin, ctx(), black_box(&other_key)).expect("evaluate"));
    });
    let instantiate_pooled = measure(15, 500, || {
        black_box(pooled.evaluate(&plugin, ctx(), &empty).expect("evaluate"));
    });
    // The floor: a rule that reads nothing (plugins/test-noop).
    let noop_bytes = std::fs::read(plugin_dir().join("test_noop.wasm")).expect("test_noop.wasm: run .ci/build-plugins");
    let noop = pooled.load(PluginKind::AlarmRule, &noop_bytes).expect("loads");
    let instantiate_noop = measure(15, 500, || {
        black_box(pooled.evaluate(&noop, ctx(), &empty).expect("evaluate"));
    });
    let (on_demand, plugin_on_demand) = load(RuntimeConfig { pooling: false, ..fresh.clone() }, &bytes);
    let instantiate_on_demand = measure(15, 500, || {
        black_box(on_demand.evaluate(&plugin_on_demand, ctx(), &empty).expect("evaluate"));
    });

    // Limits overhead on the same batch, on warm instances as the host
    // runs them.
    let kept = RuntimeConfig { perf_map: profiling, ..RuntimeConfig::default() };
    let configs = [
        ("no epoch, no fuel", RuntimeConfig { epoch_interruption: false, fuel_metering: false, ..kept.clone() }),
        ("epoch deadline", RuntimeConfig { epoch_interruption: true, fuel_metering: false, ..kept.clone() }),
        ("fuel metering", RuntimeConfig { epoch_interruption: false, fuel_metering: true, ..kept.clone() }),
        ("epoch + fuel (default)", kept),
    ];
    let limits: Vec<(&str, Duration)> = configs
        .into_iter()
        .map(|(name, config)| {
            let (runtime, plugin) = load(config, &bytes);
            (
                name,
                measure(15, 200, || {
                    black_box(runtime.evaluate(&plugin, ctx(), &series).expect("call"));
                }),
            )
        })
        .collect();

    println!("threshold rule, batch of {BATCH} readings (median of 15 rounds)");
    println!(
        "  native logic                       {:>9.1} µs/batch  {:>7.1} ns/reading",
        us(native_logic),
        us(native_logic) * 1e3 / BATCH as f64
    );
    println!(
        "  wasm component, warm instance      {:>9.1} µs/batch  {:>7.1} ns/reading",
        us(wasm_warm),
        us(wasm_warm) * 1e3 / BATCH as f64
    );
    println!("  ratio warm wasm / native           {:>9.2}x", wasm_warm.as_secs_f64() / native_logic.as_secs_f64());
    println!("  of which the empty call            {:>9.1} µs", us(empty_warm));
    println!(
        "  wasm component, fresh instance     {:>9.1} µs/batch  {:>7.1} ns/reading",
        us(wasm),
        us(wasm) * 1e3 / BATCH as f64
    );
    println!("  ratio fresh wasm / native          {:>9.2}x", wasm.as_secs_f64() / native_logic.as_secs_f64());
    println!("  of which instantiate + copy-in     {:>9.1} µs/batch", us(copy_in));
    println!("instantiation + empty call (fresh instances)");
    println!("  pooling allocator                  {:>9.1} µs", us(instantiate_pooled));
    println!("  pooling, a rule that reads nothing {:>9.1} µs", us(instantiate_noop));
    println!("  on-demand allocator                {:>9.1} µs", us(instantiate_on_demand));
    println!("limits overhead on the batch (warm instances)");
    let base = limits[0].1.as_secs_f64();
    for (name, d) in &limits {
        println!("  {name:<33}  {:>9.1} µs/batch  {:>5.2}x", us(*d), d.as_secs_f64() / base);
    }
}
