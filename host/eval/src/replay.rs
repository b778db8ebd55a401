//! Driving a rule in virtual time, as the live pipeline does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nexus_model::{AlarmAction, AlarmSignal, Limits, PluginKind, PluginRef, Reading, TimestampMs, Value};
use nexus_runtime::{CallContext, NoTelemetry, Plugin, Runtime, RuntimeConfig};

use crate::dataset::Instance;

/// The device id used for replayed data.
pub const DEVICE: &str = "well";

/// Something that turns batches of one device's readings into signals.
pub trait Rule {
    /// Evaluates a batch at virtual time `now`.
    fn evaluate(&mut self, now: TimestampMs, readings: &[Reading]) -> Result<Vec<AlarmSignal>, String>;
    /// Forgets all state (before the next instance).
    fn reset(&mut self);
}

/// An alarm-rule component run through the plugin runtime, with its state
/// carried between calls exactly as the pipeline carries it.
pub struct WasmRule {
    runtime: Runtime,
    plugin: Arc<Plugin>,
    plugin_ref: PluginRef,
    config: String,
    limits: Limits,
    state: BTreeMap<String, Vec<u8>>,
}

impl WasmRule {
    /// Loads a component from a file with a binding configuration.
    pub fn load(path: &Path, config: &serde_json::Value, limits: Limits) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let runtime = Runtime::new(RuntimeConfig::default()).map_err(|e| e.to_string())?;
        let plugin = runtime.load(PluginKind::AlarmRule, &bytes).map_err(|e| e.to_string())?;
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or("plugin").replace('_', "-");
        Ok(Self {
            runtime,
            plugin,
            plugin_ref: PluginRef { tenant_id: "eval".into(), name, version: "local".into() },
            config: config.to_string(),
            limits,
            state: BTreeMap::new(),
        })
    }
}

impl Rule for WasmRule {
    fn evaluate(&mut self, now: TimestampMs, readings: &[Reading]) -> Result<Vec<AlarmSignal>, String> {
        let ctx = CallContext {
            plugin: self.plugin_ref.clone(),
            binding_id: "eval".into(),
            device_id: DEVICE.into(),
            now,
            config: self.config.clone(),
            state: self.state.clone(),
            limits: self.limits,
            telemetry: Arc::new(NoTelemetry),
        };
        let outcome = self.runtime.evaluate(&self.plugin, ctx, readings).map_err(|e| e.to_string())?;
        if let Some(state) = outcome.state {
            self.state = state;
        }
        Ok(outcome.output)
    }

    fn reset(&mut self) {
        self.state.clear();
    }
}

/// The readings of rows `range` of an instance; missing values are left out,
/// or replaced by `fill` when it is given.
pub fn rows(instance: &Instance, range: std::ops::Range<usize>, fill: Option<f64>) -> Vec<Reading> {
    let mut readings = Vec::with_capacity(range.len() * instance.variables.len());
    for row in range {
        for (column, variable) in instance.variables.iter().enumerate() {
            let value = instance.values[row][column];
            let value = if value.is_nan() {
                match fill {
                    Some(fill) => fill,
                    None => continue,
                }
            } else {
                value
            };
            readings.push(Reading {
                device_id: DEVICE.into(),
                key: variable.clone(),
                ts: instance.ts[row],
                value: Value::Number(value),
                quality: 1.0,
            });
        }
    }
    readings
}

/// Whether an alarm is open after a call's signals, given it was `open` before.
pub fn open_after(open: bool, signals: &[AlarmSignal]) -> bool {
    signals.iter().fold(open, |_, s| s.action == AlarmAction::Raise)
}
