//! # alarm-rule-pck-restriction
//!
//! An alarm rule for a quick restriction in the production choke (PCK, 3W
//! event class 6): the pressure upstream of the choke (P-MON-CKP) steps up.
//! With the defaults — the 3W paper's definition — it raises
//! `PckRestriction` (major) when P-MON-CKP rises at least 5 % above its
//! pre-step level within 10 s and is still at least 5 % above it throughout
//! the next 60 s; it clears once the level has been back within 2.5 % of the
//! pre-step level for 2 min.
//!
//! The logic is the pure function [`evaluate_batch`] over a [`PckConfig`]
//! (from [`parse_config`]) and a [`PckState`], so it runs natively too (unit
//! tests, the 3W replay in `tests/three_w.rs`). The component only picks the
//! key's series and loads the configuration and the per-device state from
//! the host around it.

pub mod config;
pub mod rule;

pub use config::{PckConfig, config_from_value, config_schema, parse_config};
pub use rule::{PckState, Raised, STATE_KEY, Step, evaluate_batch};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Sample, Series, host};

/// The samples of `config.key` in a batch, if there are any.
pub fn watched_samples<'a>(config: &PckConfig, batch: &'a [Series]) -> Option<&'a [Sample]> {
    nexus_plugin_sdk::series(batch, &config.key).map(|s| s.samples.as_slice()).filter(|samples| !samples.is_empty())
}

/// The component: loads config and state from the host around [`evaluate_batch`].
pub struct PckRestrictionRule;

impl nexus_plugin_sdk::AlarmRule for PckRestrictionRule {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-pck-restriction".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Raises PckRestriction when the pressure upstream of the production choke steps up \
                          by rise_pct within rise_window_s and stays up for confirm_s."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config = config_from_value(host::config()?)?;
        let Some(samples) = watched_samples(&config, &batch) else {
            // Nothing to look at: spare the state round trip.
            return Ok(Vec::new());
        };
        let before: PckState = host::state_get(STATE_KEY).unwrap_or_default();
        let mut state = before.clone();
        let signals = evaluate_batch(&config, &mut state, &device_id, samples);
        if state != before {
            host::state_set(STATE_KEY, &state)?;
        }
        Ok(signals)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(PckRestrictionRule);
