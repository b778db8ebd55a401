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
//! - [`detector`]: buffering, training and scoring over a
//!   `nexus_plugin_sdk::StateStore` — the whole rule as the function
//!   [`evaluate`].
//!
//! [`IsolationForestRule`] is it as a `StoreAlarmRule` (its state spans many
//! keys: metadata, buffer chunks, training windows): the SDK's export macro
//! turns it into the component (host state), and its test harness runs it
//! natively. The host replays the built component on the 3W benchmark
//! (`host/eval/tests/three_w.rs`).

pub mod config;
pub mod detector;
pub mod features;
pub mod forest;

pub use config::{ForestConfig, config_schema, parse_config};
pub use detector::{Model, evaluate};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, StateStore, StoreAlarmRule};

/// The rule: [`evaluate`] on the binding's state.
pub struct IsolationForestRule;

impl StoreAlarmRule for IsolationForestRule {
    type Config = ForestConfig;

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

    fn evaluate<S: StateStore>(
        config: &ForestConfig,
        store: &mut S,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        detector::evaluate(config, store, device_id, batch)
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(IsolationForestRule);
