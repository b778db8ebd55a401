//! # test-carryover
//!
//! An alarm rule that tries to carry data from one call to the next in its
//! own globals, for the host's tests of warm instances: whatever it can
//! remember shows which calls shared an instance.
//!
//! `evaluate` counts its calls and the devices it served in globals, and
//! returns one `carryover` signal whose details hold the count (this call
//! included) and the devices of the calls before it. If the first series'
//! key is `trap` it traps instead; if it is `fail` it returns its own error;
//! if it is `hoard` it also keeps 6 MiB in a global.

use std::sync::Mutex;

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, Severity};

/// Devices of the calls this instance served, oldest first.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Memory kept on purpose (`hoard`).
static HOARD: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The component.
pub struct Carryover;

impl nexus_plugin_sdk::AlarmRule for Carryover {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-carryover".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Host test: reports what its globals remember of earlier calls.".into(),
            config_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        match batch.first().map(|s| s.key.as_str()) {
            Some("trap") => panic!("test-carryover: asked to trap"),
            Some("fail") => return Err(PluginError::new("asked-to-fail", "the batch asked for an error")),
            Some("hoard") => HOARD.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).resize(6 << 20, 1),
            _ => {}
        }
        let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let details = serde_json::json!({ "calls": seen.len() + 1, "seen": *seen });
        seen.push(device_id.clone());
        Ok(vec![AlarmSignal::raise_at(&device_id, 0, "carryover", Severity::Warning, details)])
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(Carryover);
