//! # alarm-rule-dhsv-closure
//!
//! An alarm rule for a spurious closure of the downhole safety valve (DHSV,
//! 3W event class 2). When the valve shuts, flow stops: the subsea tree cools
//! (T-TPT falls), the pressure above the valve bleeds off (P-TPT falls) and
//! the gauge below the valve builds up (P-PDG flat or rising). The rule
//! raises `DhsvClosure` (critical) when, against the last lookback Δt, T-TPT
//! has fallen by more than 20 % or 10 °C, P-TPT by more than 15 %, and P-PDG
//! has not fallen by more than 1 % (ignored when P-PDG is missing or 0). It
//! clears once those conditions, measured against the pre-event levels
//! latched at the raise, have failed for `clear_after_s`.
//!
//! The logic is the pure function [`evaluate_batch`] over a [`DhsvConfig`]
//! (from [`parse_config`]) and a [`DhsvState`], so it runs natively too (unit
//! tests, the 3W replay in `tests/three_w.rs`). The component only loads the
//! configuration and the per-device state from the host around it.

pub mod config;
pub mod rule;
pub mod window;

pub use config::{DhsvConfig, config_from_value, config_schema, parse_config};
pub use rule::{DhsvState, Latched, STATE_KEY, evaluate_batch, is_relevant};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, host};

/// The component: loads config and state from the host around [`evaluate_batch`].
pub struct DhsvClosureRule;

impl nexus_plugin_sdk::AlarmRule for DhsvClosureRule {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-dhsv-closure".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Raises DhsvClosure (spurious downhole safety valve closure) when T-TPT and P-TPT \
                          fall sharply over the lookback while P-PDG stays flat or rises."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config = config_from_value(host::config()?)?;
        if !is_relevant(&config, &batch) {
            // Nothing to look at: spare the state round trip.
            return Ok(Vec::new());
        }
        let before: DhsvState = host::state_get(STATE_KEY).unwrap_or_default();
        let mut state = before.clone();
        let signals = evaluate_batch(&config, &mut state, &device_id, &batch);
        if state != before {
            host::state_set(STATE_KEY, &state)?;
        }
        Ok(signals)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(DhsvClosureRule);
