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
/// carried between calls exactly as the pipeline carries it. Also counts the
/// raises and clears and the largest state value since the last reset.
pub struct WasmRule {
    runtime: Runtime,
    plugin: Arc<Plugin>,
    plugin_ref: PluginRef,
    config: String,
    limits: Limits,
    state: BTreeMap<String, Vec<u8>>,
    raises: usize,
    clears: usize,
    largest_state: usize,
}

impl WasmRule {
    /// Loads a component from a file with a binding configuration.
    pub fn load(path: &Path, config: &serde_json::Value, limits: Limits) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let runtime = Runtime::new(RuntimeConfig::default()).map_err(|e| e.to_string())?;
        let plugin = runtime.load(PluginKind::AlarmRule, &bytes).map_err(|e| e.to_string())?;
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or("plugin").replace('_', "-");
        let plugin_ref = PluginRef { tenant_id: "eval".into(), name, version: "local".into() };
        Ok(Self::new(runtime, plugin, plugin_ref, config, limits))
    }

    fn new(
        runtime: Runtime,
        plugin: Arc<Plugin>,
        plugin_ref: PluginRef,
        config: &serde_json::Value,
        limits: Limits,
    ) -> Self {
        let config = config.to_string();
        Self {
            runtime,
            plugin,
            plugin_ref,
            config,
            limits,
            state: BTreeMap::new(),
            raises: 0,
            clears: 0,
            largest_state: 0,
        }
    }

    /// The same component (compiled once) with another binding
    /// configuration and an empty state.
    pub fn with_config(&self, config: &serde_json::Value) -> Self {
        Self::new(self.runtime.clone(), self.plugin.clone(), self.plugin_ref.clone(), config, self.limits)
    }

    /// The state after the last successful call, as the pipeline stores it.
    pub fn state(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.state
    }

    /// Raises since the last reset.
    pub fn raises(&self) -> usize {
        self.raises
    }

    /// Clears since the last reset.
    pub fn clears(&self) -> usize {
        self.clears
    }

    /// The largest state value (bytes) the component has kept after a call
    /// since the last reset. A value written and deleted within one call is
    /// not seen; a write over the host's cap is refused, failing the call.
    pub fn largest_state_value(&self) -> usize {
        self.largest_state
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
        let outcome =
            self.runtime.evaluate(&self.plugin, ctx, &nexus_model::series_of(readings)).map_err(|e| e.to_string())?;
        if let Some(state) = outcome.state {
            self.largest_state = state.values().map(Vec::len).fold(self.largest_state, usize::max);
            self.state = state;
        }
        self.raises += outcome.output.iter().filter(|s| s.action == AlarmAction::Raise).count();
        self.clears += outcome.output.iter().filter(|s| s.action == AlarmAction::Clear).count();
        Ok(outcome.output)
    }

    fn reset(&mut self) {
        self.state.clear();
        self.raises = 0;
        self.clears = 0;
        self.largest_state = 0;
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
