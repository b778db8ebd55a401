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
//! (from [`parse_config`]) and a [`DhsvState`]. [`DhsvClosureRule`] is it as a
//! `StatefulAlarmRule`: the SDK's export macro turns it into the component
//! (configuration and per-device state from the host), and its test harness
//! runs it natively. The host replays the built component over the real 3W
//! instances (`host/eval/tests/three_w.rs`).

pub mod config;
pub mod rule;
pub mod window;

pub use config::{DhsvConfig, config_schema, parse_config};
pub use rule::{DhsvState, Latched, STATE_KEY, evaluate_batch, is_relevant};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, StatefulAlarmRule};

/// The rule: [`evaluate_batch`] with [`DhsvState`] kept per (binding,
/// device); a batch without the three keys leaves the state alone.
pub struct DhsvClosureRule;

impl StatefulAlarmRule for DhsvClosureRule {
    type Config = DhsvConfig;
    type State = DhsvState;
    const STATE_KEY: &'static str = STATE_KEY;

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

    fn evaluate(
        config: &DhsvConfig,
        state: &mut DhsvState,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        Ok(evaluate_batch(config, state, device_id, batch))
    }

    fn is_relevant(config: &DhsvConfig, batch: &[Series]) -> bool {
        rule::is_relevant(config, batch)
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(DhsvClosureRule);
