//! # alarm-rule-isolation-forest
//!
//! An alarm rule that learns what a device's normal operation looks like
//! from its first windows of telemetry and then flags every window that an
//! Isolation Forest finds more anomalous than all of them. It follows the
//! anomaly-detection benchmark of the Petrobras 3W dataset (benchmark 2 of
//! Vargas et al. 2019): 180-row windows, nine training windows, six
//! statistics per variable on z-scored values, variables with a standard
//! deviation ≤ 0.01 over the training rows dropped, 100 trees, and the
//! highest training score as the threshold (scikit-learn's `contamination=0`).
//!
//! - [`config`]: the binding configuration;
//! - [`features`]: the window statistics and the scaler;
//! - [`forest`]: the Isolation Forest and its seeded generator;
//! - [`detector`]: buffering, training and scoring over a state store —
//!   the whole rule as the pure function [`evaluate`], usable natively with a
//!   [`MemoryStore`].
//!
//! The component export only reads the configuration, wraps the host state in
//! a [`StateStore`] and calls [`evaluate`].

pub mod config;
pub mod detector;
pub mod features;
pub mod forest;

pub use config::{ForestConfig, config_from_value, config_schema, parse_config};
pub use detector::{MemoryStore, Model, StateStore, evaluate};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, host};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The host state of the calling binding and device, as a [`StateStore`].
struct HostStore;

impl StateStore for HostStore {
    fn load<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        host::state_get(key)
    }

    fn save<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), PluginError> {
        host::state_set(key, value)
    }

    fn delete(&mut self, key: &str) {
        host::state_delete(key);
    }
}

/// The component: reads the configuration and runs [`evaluate`] on host state.
pub struct IsolationForestRule;

impl nexus_plugin_sdk::AlarmRule for IsolationForestRule {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-isolation-forest".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Windowed Isolation Forest: trains on a device's first `train_windows` windows of \
                          `window` rows, then raises an alarm for each window scored above every training \
                          window and clears it otherwise (3W benchmark-2 protocol)."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config = config_from_value(host::config()?)?;
        evaluate(&config, &mut HostStore, &device_id, &batch)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(IsolationForestRule);
