//! `nexus plugin test`: an alarm-rule component run here on recorded
//! readings — a CSV of `ts,key,value` rows or a JSON array of readings —
//! one call per timestamp, its state carried from call to call as the
//! host carries it; the signals it returns are printed.

use std::path::Path;
use std::sync::Arc;

use nexus_model::{AlarmSignal, BindingId, DeviceId, Limits, PluginInfo, PluginKind, PluginRef, Reading, Value};
use nexus_runtime::{CallContext, NoTelemetry, Runtime, RuntimeConfig};

use super::{AuthorError, io};

/// The device the readings are attributed to.
pub const DEVICE: &str = "device-under-test";

fn runtime() -> Result<Runtime, AuthorError> {
    Runtime::new(RuntimeConfig::default()).map_err(|e| AuthorError::Check(e.to_string()))
}

/// Compiles `bytes` as a `kind` component (type-checking its world) and
/// calls its `describe`.
pub fn describe(kind: PluginKind, bytes: &[u8]) -> Result<PluginInfo, AuthorError> {
    let runtime = runtime()?;
    let plugin = runtime.load(kind, bytes).map_err(|e| AuthorError::Check(e.to_string()))?;
    let ctx = context("{}".into(), Default::default(), kind, 0);
    let outcome = runtime.describe(&plugin, ctx).map_err(|f| AuthorError::Check(f.error.to_string()))?;
    Ok(outcome.output)
}

fn context(
    config: String,
    state: std::collections::BTreeMap<String, Vec<u8>>,
    kind: PluginKind,
    now: i64,
) -> CallContext {
    CallContext {
        plugin: PluginRef { tenant_id: "local".into(), name: "plugin".into(), version: "local".into() },
        binding_id: BindingId::from("local"),
        device_id: DeviceId::from(DEVICE),
        now,
        config,
        state,
        limits: Limits::for_kind(kind),
        telemetry: Arc::new(NoTelemetry),
    }
}

/// Readings from a CSV (`ts,key,value`, a header line) or a JSON array of
/// `{"ts", "key", "value"}`.
pub fn read_readings(path: &Path) -> Result<Vec<Reading>, AuthorError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bad = |line: usize, why: &str| AuthorError::Invalid(format!("{}:{line}: {why}", path.display()));
    if text.trim_start().starts_with('[') {
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| bad(0, &e.to_string()))?;
        return rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let ts = row["ts"].as_i64().ok_or_else(|| bad(i + 1, "no integer ts"))?;
                let key = row["key"].as_str().ok_or_else(|| bad(i + 1, "no key"))?;
                let value = match &row["value"] {
                    serde_json::Value::Number(n) => {
                        n.as_i64().map_or(Value::Number(n.as_f64().unwrap_or(f64::NAN)), Value::Integer)
                    }
                    serde_json::Value::Bool(b) => Value::Boolean(*b),
                    serde_json::Value::String(s) => Value::Text(s.clone()),
                    _ => return Err(bad(i + 1, "value must be a number, a boolean or text")),
                };
                Ok(reading(ts, key, value))
            })
            .collect();
    }
    let mut readings = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [ts, key, value] = fields[..] else { return Err(bad(i + 1, "expected ts,key,value")) };
        let ts = ts.parse().map_err(|_| bad(i + 1, "ts must be integer ms"))?;
        let value = value.parse().map(Value::Number).unwrap_or_else(|_| Value::Text(value.to_string()));
        readings.push(reading(ts, key, value));
    }
    Ok(readings)
}

fn reading(ts: i64, key: &str, value: Value) -> Reading {
    Reading { device_id: DEVICE.into(), key: key.into(), ts, value, quality: 1.0 }
}

/// Runs an alarm-rule component on `readings` with `config`, one call per
/// timestamp in time order; returns every signal, in order.
pub fn run_rule(
    component: &Path,
    config: &serde_json::Value,
    readings: &[Reading],
) -> Result<Vec<AlarmSignal>, AuthorError> {
    let bytes = std::fs::read(component).map_err(io(component))?;
    let runtime = runtime()?;
    let plugin = runtime.load(PluginKind::AlarmRule, &bytes).map_err(|e| AuthorError::Check(e.to_string()))?;
    let mut sorted = readings.to_vec();
    sorted.sort_by_key(|r| r.ts);
    let mut state: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut signals = Vec::new();
    for batch in sorted.chunk_by(|a, b| a.ts == b.ts) {
        let ctx = context(config.to_string(), state.clone(), PluginKind::AlarmRule, batch[0].ts);
        let outcome = runtime
            .evaluate(&plugin, ctx, &nexus_model::series_of(batch))
            .map_err(|f| AuthorError::Check(format!("at ts {}: {}", batch[0].ts, f.error)))?;
        // `None`: the call left the state as it was.
        if let Some(changed) = outcome.state {
            state = changed;
        }
        signals.extend(outcome.output);
    }
    Ok(signals)
}
