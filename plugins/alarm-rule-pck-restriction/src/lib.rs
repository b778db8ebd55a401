//! # alarm-rule-pck-restriction
//!
//! An alarm rule for a restriction in the production choke (PCK, 3W event
//! class 6): the pressure upstream of the choke (P-MON-CKP) rises. With the
//! defaults it raises `PckRestriction` (major) when P-MON-CKP rises at least
//! 3 % above its pre-step level within 5 min and stays at least 3 % above it
//! for 60 s, and the discriminators ([`discriminate`]) agree: P-TPT rose
//! too, by less; T-JUS-CKP fell; QGL did not change. It clears once the
//! level has been back within 1.5 % of the pre-step level for 2 min.
//! [`PckConfig::paper_reading`] is a pressure-based reading of the 3W
//! paper's choke-closing definition (5 % within 10 s, no discriminators).
//!
//! The logic is the pure function [`evaluate_batch`] over a [`PckConfig`]
//! (from [`parse_config`]), a [`PckState`] and the watched key's samples.
//! [`PckRestrictionRule`] is it as a `StatefulAlarmRule`: the SDK's export
//! macro turns it into the component (configuration and per-device state
//! from the host), and its test harness runs it natively. The host replays
//! the built component over the real 3W instances
//! (`host/eval/tests/three_w.rs`).

pub mod config;
pub mod discriminate;
pub mod rule;

pub use config::{PckConfig, config_schema, parse_config};
pub use rule::{PckState, Raised, STATE_KEY, Step, evaluate_batch};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Sample, Series, StatefulAlarmRule};

/// The samples of `config.key` in a batch, if there are any.
pub fn watched_samples(config: &PckConfig, batch: &[Series]) -> Option<Vec<Sample>> {
    nexus_plugin_sdk::samples(batch, &config.key)
}

/// The rule: [`evaluate_batch`] on the watched key's samples, with
/// [`PckState`] kept per (binding, device); a batch without the key leaves
/// the state alone.
pub struct PckRestrictionRule;

impl StatefulAlarmRule for PckRestrictionRule {
    type Config = PckConfig;
    type State = PckState;
    const STATE_KEY: &'static str = STATE_KEY;

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

    fn evaluate(
        config: &PckConfig,
        state: &mut PckState,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        Ok(if watched_samples(config, batch).is_some() {
            evaluate_batch(config, state, device_id, batch)
        } else {
            Vec::new()
        })
    }

    fn is_relevant(config: &PckConfig, batch: &[Series]) -> bool {
        watched_samples(config, batch).is_some()
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(PckRestrictionRule);
