//! # alarm-rule-rod-pump-card
//!
//! Dynamometer-card classification of sucker-rod pumps as an alarm-rule
//! component. Each card of the batch (key `card`, one JSON text value per
//! stroke, see the README) is classified by `nexus_physics::card` and raises
//! an alarm named after its fault class — `FluidPound`, `GasInterference`,
//! `GasLock`, `TravelingValveLeak`, `StandingValveLeak`, `TubingMovement`,
//! `PumpTagging`, `RodPart` — with the severity configured for the class
//! (`RodPart` critical by default). A card of another class clears it; a
//! full-pump card raises nothing. A malformed card is skipped with a warning.
//!
//! The logic is the pure [`evaluate_batch`] over a [`Config`] and a
//! [`CardState`]; [`RodPumpCardRule`] is it as a `StatefulAlarmRule`.
//! Modules: [`config`], [`engine`].

pub mod config;
pub mod engine;

pub use config::{Config, parse_config, schema};
pub use engine::{CardState, Outcome, STATE_KEY, evaluate_batch, read_card};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, StatefulAlarmRule};

/// The rule: [`evaluate_batch`] with [`CardState`] kept per (binding, device).
pub struct RodPumpCardRule;

/// Writes a skipped card's warning to the host log (standard error natively).
fn warn(line: &str) {
    #[cfg(target_arch = "wasm32")]
    nexus_plugin_sdk::host::warn(line);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("warn: {line}");
}

impl StatefulAlarmRule for RodPumpCardRule {
    type Config = Config;
    type State = CardState;
    const STATE_KEY: &'static str = STATE_KEY;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-rod-pump-card".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Classifies sucker-rod pump dynamometer cards (downhole, or surface minus the buoyant rod \
                          weight) by transparent shape rules and raises FluidPound, GasInterference, GasLock, \
                          TravelingValveLeak, StandingValveLeak, TubingMovement, PumpTagging or RodPart, with the \
                          fillage, class, confidence and features; a full-pump card clears."
                .into(),
            config_schema: schema().to_string(),
        }
    }

    fn evaluate(
        config: &Config,
        state: &mut CardState,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        let outcome = evaluate_batch(config, state, device_id, batch);
        outcome.warnings.iter().for_each(|line| warn(line));
        Ok(outcome.signals)
    }

    fn is_relevant(config: &Config, batch: &[Series]) -> bool {
        batch.iter().any(|s| s.key == config.key)
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(RodPumpCardRule);
