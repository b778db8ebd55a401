//! # test-noop
//!
//! The cheapest alarm rule: `evaluate` returns no signals without reading
//! its batch, configuration or state. The runtime benchmark uses it to
//! measure the floor of a call: a fresh store, instantiation and the
//! boundary crossing.

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series};

/// The component.
pub struct Noop;

impl nexus_plugin_sdk::AlarmRule for Noop {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-noop".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Benchmark: evaluates nothing.".into(),
            config_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, _batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(Noop);
