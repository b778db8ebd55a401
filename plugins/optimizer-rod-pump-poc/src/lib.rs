//! # optimizer-rod-pump-poc
//!
//! Pump-off control of a sucker-rod pump from its dynamometer cards: the
//! fillage of each recent stroke (`nexus_physics::card`) against a setpoint
//! (80 % by default). When the newest `strokes_below` strokes (3) are all
//! below it, the well pumps off: one step longer idle time (mode
//! `idle-time`) or one step slower (mode `vfd`); when the newest
//! `strokes_above` strokes (5) are all well filled, one step shorter idle
//! time or faster. Steps and values keep the setpoint's limits; a rod part
//! or a load beyond its limit stops the optimizer with a warning; an open
//! recommendation of the setpoint holds it.
//!
//! The logic is the pure [`decide()`] over a [`Config`] and the well
//! context; [`RodPumpPoc`] is the component.

pub mod config;
pub mod decide;

pub use config::{Config, Mode, schema};
pub use decide::{Decision, HoldReason, Outcome, Stroke, decide};

use nexus_plugin_sdk::{PluginError, PluginInfo, Recommendation, WellContext};

/// Parses and validates a binding configuration (empty text = defaults); a
/// problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<Config, PluginError> {
    let config: Config = nexus_plugin_sdk::config::parse(json)?;
    config.validate().map_err(nexus_plugin_sdk::config::invalid)?;
    Ok(config)
}

/// Writes a line to the host log at `warn` (`info` when `warn` is false);
/// natively to standard error.
fn log(warn: bool, line: &str) {
    #[cfg(target_arch = "wasm32")]
    if warn {
        nexus_plugin_sdk::host::warn(line);
    } else {
        nexus_plugin_sdk::host::info(line);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{}: {line}", if warn { "warn" } else { "info" });
}

/// The component.
pub struct RodPumpPoc;

impl nexus_plugin_sdk::Optimizer for RodPumpPoc {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "optimizer-rod-pump-poc".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Pump-off control of sucker-rod pumps from dynamometer cards: the fillage of the newest \
                          strokes against a setpoint; recommends one step longer or shorter idle time (or slower \
                          or faster on a VFD) within the setpoint's limits; none on a rod part or a load beyond \
                          its limit, none while its recommendation is open."
                .into(),
            config_schema: schema().to_string(),
        }
    }

    fn optimize(context: WellContext) -> Result<Vec<Recommendation>, PluginError> {
        let config: Config = nexus_plugin_sdk::host::config()?;
        config.validate().map_err(nexus_plugin_sdk::config::invalid)?;
        let outcome = decide(&config, &context, nexus_plugin_sdk::host::now());
        outcome.warnings.iter().for_each(|w| log(true, &format!("well {}: {w}", context.well_id)));
        match outcome.decision {
            Decision::Recommend(r) => Ok(vec![*r]),
            Decision::Hold { reason, message } => {
                log(reason == HoldReason::Safety, &format!("well {}: {message}", context.well_id));
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_optimizer!(RodPumpPoc);
