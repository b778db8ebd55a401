//! The sandbox against misbehaving guests built from `plugins/test-*`:
//! each fault becomes its typed error, and a healthy plugin of another
//! tenant keeps working right after it.
//!
//! Needs the plugins built first: `.ci/build-plugins` (the test command
//! does it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nexus_model::{AlarmAction, Limits, PluginKind, PluginRef, Series};
use nexus_runtime::{CallContext, CallError, LoadError, NoTelemetry, Plugin, Runtime, RuntimeConfig};

fn plugin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXUS_PLUGIN_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("wasm32-wasip2/plugin")
}

fn component(name: &str) -> Vec<u8> {
    let path = plugin_dir().join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `.ci/build-plugins` first", path.display()))
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

fn load(name: &str) -> Arc<Plugin> {
    runtime().load(PluginKind::AlarmRule, &component(name)).expect("load")
}

fn ctx(tenant: &str, plugin: &str, config: &str, limits: Limits) -> CallContext {
    CallContext {
        plugin: PluginRef { tenant_id: tenant.into(), name: plugin.into(), version: "0.1.0".into() },
        binding_id: format!("{tenant}-binding").into(),
        device_id: "dev-1".into(),
        now: 1_700_000_000_000,
        config: config.into(),
        state: BTreeMap::new(),
        limits,
        telemetry: Arc::new(NoTelemetry),
    }
}

/// A batch of one sample of `key`.
fn reading(key: &str, value: f64) -> Series {
    Series::numbers(key, vec![1_700_000_000_000], vec![value])
}

/// A healthy threshold rule of another tenant still raises its alarm.
fn healthy_plugin_still_works() {
    let plugin = load("alarm-rule-threshold");
    let config = r#"{"key":"motor_temperature","high":100.0}"#;
    let outcome = runtime()
        .evaluate(
            &plugin,
            ctx("healthy-tenant", "alarm-rule-threshold", config, Limits::default()),
            &[reading("motor_temperature", 130.0)],
        )
        .expect("healthy plugin call");
    assert_eq!(outcome.output.len(), 1);
    assert_eq!(outcome.output[0].action, AlarmAction::Raise);
}

fn run(name: &str, limits: Limits, key: &str) -> Result<(), CallError> {
    let plugin = load(name);
    runtime()
        .evaluate(&plugin, ctx("bad-tenant", name, "{}", limits), &[reading(key, 1.0)])
        .map(|_| ())
        .map_err(|f| *f.error)
}

#[test]
fn infinite_loop_ends_with_a_timeout_within_twice_its_deadline() {
    let limits = Limits { deadline_ms: 50, ..Limits::default() };
    let started = Instant::now();
    let error = run("test-infinite-loop", limits, "x").expect_err("must not finish");
    let elapsed = started.elapsed();
    assert!(matches!(error, CallError::Timeout { deadline_ms: 50, .. }), "{error:?}");
    assert!(elapsed < Duration::from_millis(100), "took {elapsed:?}");
    assert!(error.to_string().contains("test-infinite-loop@0.1.0 (tenant bad-tenant)"), "{error}");
    healthy_plugin_still_works();
}

#[test]
fn fuel_budget_stops_an_infinite_loop_deterministically() {
    let limits = Limits { deadline_ms: 10_000, fuel: Some(5_000_000), ..Limits::default() };
    let plugin = load("test-infinite-loop");
    let failure = runtime()
        .evaluate(&plugin, ctx("bad-tenant", "test-infinite-loop", "{}", limits), &[reading("x", 1.0)])
        .expect_err("must not finish");
    assert!(matches!(*failure.error, CallError::OutOfFuel { fuel: 5_000_000, .. }), "{failure:?}");
    // The failure reports what it cost, for metering.
    assert!(failure.fuel_used >= 5_000_000, "{failure:?}");
    assert!(failure.duration > Duration::ZERO);
    healthy_plugin_still_works();
}

#[test]
fn memory_hog_is_stopped_by_the_memory_limit() {
    let limits = Limits { memory_bytes: 16 << 20, deadline_ms: 5_000, ..Limits::default() };
    let error = run("test-memory-hog", limits, "x").expect_err("must not finish");
    assert!(matches!(error, CallError::MemoryLimit { limit_bytes: 16_777_216, .. }), "{error:?}");
    healthy_plugin_still_works();
}

#[test]
fn trap_becomes_a_typed_error() {
    for key in ["unreachable", "divide"] {
        let error = run("test-trap", Limits::default(), key).expect_err("must trap");
        let CallError::Trap { code, .. } = &error else { panic!("{error:?}") };
        assert!(code.contains("unreachable"), "{code}");
        healthy_plugin_still_works();
    }
}

#[test]
fn stack_bomb_traps_and_the_process_survives() {
    let limits = Limits { deadline_ms: 5_000, ..Limits::default() };
    let error = run("test-stack-bomb", limits, "x").expect_err("must overflow");
    assert!(matches!(error, CallError::StackOverflow { .. }), "{error:?}");
    healthy_plugin_still_works();
}

#[test]
fn huge_output_is_refused() {
    // Enough memory to build a million signals, but only 1000 may be returned.
    let limits = Limits { memory_bytes: 256 << 20, deadline_ms: 20_000, max_output: 1000, ..Limits::default() };
    let error = run("test-huge-output", limits, "x").expect_err("must be refused");
    assert!(
        matches!(
            error,
            CallError::OutputTooLarge { count: 1_000_000, max: 1000, .. } | CallError::HostCallLimit { .. }
        ),
        "{error:?}"
    );
    // With the default 16 MiB the plugin cannot even build it.
    let error = run("test-huge-output", Limits { deadline_ms: 5_000, ..Limits::default() }, "x").expect_err("refused");
    assert!(matches!(error, CallError::MemoryLimit { .. }), "{error:?}");
    healthy_plugin_still_works();
}

#[test]
fn host_call_abuse_is_refused_by_the_host() {
    let limits = Limits { memory_bytes: 128 << 20, deadline_ms: 5_000, ..Limits::default() };
    let error = run("test-host-abuse", limits, "x").expect_err("must be refused");
    let CallError::HostCallLimit { reason, .. } = &error else { panic!("{error:?}") };
    assert!(reason.contains("cap"), "{reason}");
    healthy_plugin_still_works();
}

#[test]
fn reused_pool_slots_do_not_leak_memory_between_tenants() {
    let plugin = load("test-canary");
    let limits = Limits { memory_bytes: 32 << 20, deadline_ms: 5_000, ..Limits::default() };
    for _ in 0..8 {
        runtime()
            .evaluate(&plugin, ctx("tenant-a", "test-canary", "{}", limits), &[reading("write", 1.0)])
            .expect("write canary");
    }
    for _ in 0..8 {
        let outcome = runtime()
            .evaluate(&plugin, ctx("tenant-b", "test-canary", "{}", limits), &[reading("scan", 1.0)])
            .expect("scan");
        let details: serde_json::Value = serde_json::from_str(&outcome.output[0].details).expect("json");
        assert_eq!(details["found"], false, "tenant-b saw tenant-a's canary: {details}");
        assert!(details["scanned_bytes"].as_u64().unwrap_or(0) > 0);
    }
}

#[test]
fn state_changes_are_returned_only_on_success() {
    let plugin = load("alarm-rule-threshold");
    let config = r#"{"key":"t","high":10.0}"#;
    let outcome = runtime()
        .evaluate(&plugin, ctx("t1", "alarm-rule-threshold", config, Limits::default()), &[reading("t", 20.0)])
        .expect("call");
    let state = outcome.state.expect("state written");
    assert!(state.contains_key("threshold"));
    // Fed its own state back, the rule does not raise twice.
    let mut context = ctx("t1", "alarm-rule-threshold", config, Limits::default());
    context.state = state;
    let outcome = runtime().evaluate(&plugin, context, &[reading("t", 21.0)]).expect("call");
    assert!(outcome.output.is_empty());
}

#[test]
fn loading_checks_the_declared_world() {
    let threshold = component("alarm-rule-threshold");
    let error = runtime().load(PluginKind::Decoder, &threshold).err().expect("wrong world");
    assert!(matches!(error, LoadError::WrongWorld { kind: PluginKind::Decoder, .. }), "{error:?}");
    assert!(error.to_string().contains("decode"), "{error}");
    let error = runtime().load(PluginKind::AlarmRule, b"\0asm\x01\0\0\0").err().expect("core module");
    assert!(matches!(error, LoadError::NotAComponent(_)), "{error:?}");
}

/// A component whose `evaluate` grows its table until refused, then traps.
/// Stable Rust cannot emit `table.grow`, so this guest is written in WAT and
/// turned into an `alarm-rule` component with wit-component, against the
/// same `wit/` files.
fn table_bomb() -> Vec<u8> {
    let core = r#"
        (module
          (memory (export "memory") 1)
          (table 1 funcref)
          ;; plugin-info: four (ptr, len) strings at 16, their bytes at 100.
          (data (i32.const 16) "\64\00\00\00\0f\00\00\00\73\00\00\00\05\00\00\00\78\00\00\00\01\00\00\00\79\00\00\00\02\00\00\00")
          (data (i32.const 100) "test-table-bomb0.1.0x{}")
          (global $next (mut i32) (i32.const 4096))
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            ;; A bump allocator: align up, hand out, never free.
            (local $p i32)
            (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                                   (i32.sub (i32.const 0) (local.get 2))))
            (global.set $next (i32.add (local.get $p) (local.get 3)))
            (local.get $p))
          (func (export "describe") (result i32) (i32.const 16))
          (func (export "evaluate") (param i32 i32 i32 i32) (result i32)
            (loop $grow
              (br_if $grow (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))
            unreachable))
    "#;
    let wit = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(&wit).expect("wit");
    let world = resolve.select_world(&[package], Some("alarm-rule")).expect("world");
    let mut module = wat::parse_str(core).expect("wat");
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8, false)
        .expect("metadata");
    wit_component::ComponentEncoder::default().module(&module).expect("module").validate(true).encode().expect("encode")
}

#[test]
fn table_bomb_is_stopped_by_the_table_limit() {
    let plugin = runtime().load(PluginKind::AlarmRule, &table_bomb()).expect("load");
    let limits = Limits { table_elements: 5_000, deadline_ms: 5_000, ..Limits::default() };
    let error = runtime()
        .evaluate(&plugin, ctx("bad-tenant", "test-table-bomb", "{}", limits), &[reading("x", 1.0)])
        .expect_err("must be stopped")
        .error;
    let error = *error;
    assert!(matches!(error, CallError::TableLimit { limit: 5_000, .. }), "{error:?}");
    healthy_plugin_still_works();
}

/// Every `plugins/test-*` guest is run by a host test: here, or (for guests
/// that are not misbehaving, such as `test-ledger`) by an end-to-end test.
#[test]
fn every_test_plugin_has_a_test() {
    let mut tests = include_str!("sandbox.rs").to_string();
    let e2e = concat!(env!("CARGO_MANIFEST_DIR"), "/../nexus/tests/e2e");
    for entry in std::fs::read_dir(e2e).expect("e2e tests") {
        tests.push_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("readable"));
    }
    let plugins = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins")).expect("plugins dir");
    for entry in plugins {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.starts_with("test-") {
            assert!(tests.contains(&format!("\"{name}\"")), "plugins/{name} is run by no host test");
        }
    }
}

/// The benchmark's floor, `test-noop`, signals nothing and touches no state.
#[test]
fn the_noop_rule_returns_nothing_and_keeps_no_state() {
    let plugin = load("test-noop");
    let outcome = runtime()
        .evaluate(&plugin, ctx("t1", "test-noop", "{}", Limits::default()), &[reading("x", 1.0)])
        .expect("call");
    assert!(outcome.output.is_empty());
    assert!(outcome.state.is_none());
}

/// What `test-carryover`'s globals remembered: calls its instance served
/// (this one included) and the devices of the ones before.
fn carryover(
    runtime: &Runtime,
    plugin: &Plugin,
    context: CallContext,
    key: &str,
) -> Result<(u64, Vec<String>), CallError> {
    let outcome = runtime.evaluate(plugin, context, &[reading(key, 1.0)]).map_err(|f| *f.error)?;
    let details: serde_json::Value = serde_json::from_str(&outcome.output[0].details).expect("json");
    let seen = details["seen"].as_array().expect("seen").iter().map(|d| d.as_str().expect("str").to_string());
    Ok((details["calls"].as_u64().expect("calls"), seen.collect()))
}

fn on(tenant: &str, binding: &str, device: &str) -> CallContext {
    CallContext {
        binding_id: binding.into(),
        device_id: device.into(),
        ..ctx(tenant, "test-carryover", "{}", Limits::default())
    }
}

/// A binding's next call runs on the instance its last clean call left,
/// and no other binding, tenant, configuration or set of limits ever gets
/// that instance: a guest's globals reach only its own binding's calls.
#[test]
fn a_warm_instance_serves_only_the_binding_it_served() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, &component("test-carryover")).expect("load");
    let call = |context| carryover(&runtime, &plugin, context, "x").expect("call");
    assert_eq!(call(on("t1", "b1", "dev-1")), (1, vec![]));
    // The same binding's next call, for another of its devices, is warm.
    assert_eq!(call(on("t1", "b1", "dev-2")), (2, vec!["dev-1".to_string()]));
    // Another binding of the same tenant, a binding of the same id in
    // another tenant, the binding with another configuration or other
    // limits: each a fresh instance that remembers nothing.
    assert_eq!(call(on("t1", "b2", "dev-1")), (1, vec![]));
    assert_eq!(call(on("t2", "b1", "dev-1")), (1, vec![]));
    assert_eq!(call(CallContext { config: r#"{"other":1}"#.into(), ..on("t1", "b1", "dev-1") }), (1, vec![]));
    let limits = Limits { deadline_ms: 77, ..Limits::default() };
    assert_eq!(call(CallContext { limits, ..on("t1", "b1", "dev-1") }), (1, vec![]));
    // b1 under its first configuration and limits still has its instance.
    assert_eq!(call(on("t1", "b1", "dev-3")), (3, vec!["dev-1".to_string(), "dev-2".to_string()]));
    let stats = runtime.stats();
    assert_eq!((stats.instantiated, stats.reused), (5, 2), "{stats:?}");
}

/// A call that traps or returns the guest's error leaves no instance
/// behind: the binding's next call starts from a fresh one.
#[test]
fn a_failed_call_drops_its_instance() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, &component("test-carryover")).expect("load");
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "x").expect("call").0, 1);
    let error = carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "trap").expect_err("traps");
    assert!(matches!(error, CallError::Trap { .. }), "{error:?}");
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "x").expect("call").0, 1);
    let error = carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "fail").expect_err("fails");
    assert!(matches!(error, CallError::Plugin { .. }), "{error:?}");
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "x").expect("call").0, 1);
}

/// An instance that grew past the memory an idle instance may hold is not
/// kept: a guest cannot park memory in the host between calls.
#[test]
fn an_instance_holding_much_memory_is_not_kept() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, &component("test-carryover")).expect("load");
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "x").expect("call").0, 1);
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "hoard").expect("call").0, 2);
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "x").expect("call").0, 1);
}

/// The hot path's components stay under that memory: the ThingsBoard JSON
/// decoder on frames of 100 samples × 10 keys and the threshold rule on a
/// batch of 1 024 readings each run warm from their second call on.
#[test]
fn the_hot_paths_decoder_and_rule_run_warm() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let decoder = runtime.load(PluginKind::Decoder, &component("decoder-thingsboard-json")).expect("load");
    let samples: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let values: serde_json::Map<String, serde_json::Value> =
                (0..10).map(|k| (format!("key_{k}"), serde_json::json!(i * k))).collect();
            serde_json::json!({ "ts": 1_700_000_000_000_i64 + i * 1000, "values": values })
        })
        .collect();
    let frame = nexus_model::Frame {
        source: nexus_model::SourceKind::Http,
        device_id: "dev-1".into(),
        topic: String::new(),
        content_type: "application/json".into(),
        payload: serde_json::to_vec(&samples).expect("json"),
        received_at: 1_700_000_000_000,
        metadata: Vec::new(),
    };
    let limits = Limits::for_kind(PluginKind::Decoder);
    for _ in 0..3 {
        let context = ctx("t1", "decoder-thingsboard-json", "{}", limits);
        let decoded = runtime.decode(&decoder, context, &frame).expect("decodes");
        assert_eq!(decoded.output.series.iter().map(|s| s.ts.len()).sum::<usize>(), 1_000);
    }
    let rule = runtime.load(PluginKind::AlarmRule, &component("alarm-rule-threshold")).expect("load");
    let batch =
        [Series::numbers("t", (0..1024).map(|i| i * 1000).collect(), (0..1024).map(|i| f64::from(i % 50)).collect())];
    for _ in 0..3 {
        let context = ctx("t1", "alarm-rule-threshold", r#"{"key":"t","high":40.0}"#, Limits::default());
        runtime.evaluate(&rule, context, &batch).expect("evaluates");
    }
    let stats = runtime.stats();
    assert_eq!((stats.instantiated, stats.reused), (2, 4), "{stats:?}");
}

/// A kept instance holds nothing of its last call's context that could
/// keep the host alive: the telemetry reader (which reaches the services,
/// which hold the plugin, which holds the instance) is let go.
#[test]
fn a_kept_instance_lets_go_of_the_calls_telemetry_reader() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, &component("test-carryover")).expect("load");
    let reader: Arc<dyn nexus_runtime::TelemetryReader> = Arc::new(NoTelemetry);
    let weak = Arc::downgrade(&reader);
    let context = CallContext { telemetry: reader, ..on("t1", "b1", "dev-1") };
    assert_eq!(carryover(&runtime, &plugin, context, "x").expect("call").0, 1);
    assert!(weak.upgrade().is_none(), "the kept instance still holds the call's reader");
    assert_eq!(carryover(&runtime, &plugin, on("t1", "b1", "dev-1"), "x").expect("call").0, 2, "kept");
}

/// The deadline and the fuel budget are set again on every call of a warm
/// instance: calls after the first deadline has passed, and more calls than
/// one budget would pay for, still run.
#[test]
fn a_warm_instance_gets_every_limit_afresh() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, &component("test-carryover")).expect("load");
    let first = runtime.evaluate(&plugin, on("t1", "b1", "dev-1"), &[reading("x", 1.0)]).expect("call");
    // A budget for about three calls, and a deadline of 20 ms.
    let limits = Limits { deadline_ms: 20, fuel: Some(first.fuel_used * 3), ..Limits::default() };
    for calls in 1..=10 {
        std::thread::sleep(Duration::from_millis(30));
        let context = CallContext { limits, ..on("t1", "b9", "dev-1") };
        assert_eq!(carryover(&runtime, &plugin, context, "x").expect("call").0, calls);
    }
}

/// Idle instances are capped across the runtime, so with every binding
/// warm, calls of other bindings still find a slot of the pool.
#[test]
fn warm_instances_are_capped_and_fresh_calls_still_find_a_slot() {
    let config = RuntimeConfig { pool_instances: 8, warm_instances: 2, ..RuntimeConfig::default() };
    let runtime = Runtime::new(config).expect("runtime");
    let plugin = runtime.load(PluginKind::AlarmRule, &component("test-carryover")).expect("load");
    for _ in 0..2 {
        for binding in 0..20 {
            carryover(&runtime, &plugin, on("t1", &format!("b{binding}"), "dev-1"), "x").expect("a slot");
        }
    }
    // Only the first two bindings' instances were kept, and reused once.
    let stats = runtime.stats();
    assert_eq!((stats.instantiated, stats.reused), (38, 2), "{stats:?}");
}
