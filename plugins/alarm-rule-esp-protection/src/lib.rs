//! # alarm-rule-esp-protection
//!
//! ESP (electric submersible pump) protection alarms as one alarm-rule
//! component, thresholds relative to the motor's nameplate as in domain
//! reference §2.3–2.4:
//!
//! | Alarm type | Raise | Clear |
//! |---|---|---|
//! | `Underload` | `I < k·I_ref` for `t_UL` while running | `I ≥ clear_k·I_ref` |
//! | `Overload` | `I > k·I_nameplate` for `t_OL` | `I ≤ clear_k·I_nameplate` |
//! | `HighMotorTemperature` | `T > rating − margin` | `T ≤ rating − margin − hysteresis` |
//! | `HighVibration` | `v > max(abs_limit, 2 × baseline median)` | `v ≤ clear_ratio × threshold` |
//! | `GasLock` | rolling CV of I > 3 × baseline CV (with swings), mean I < 0.9·I_ref, intake pressure not falling | CV ≤ 2 × baseline or mean I ≥ 0.95·I_ref |
//!
//! `I_ref` is the configured normal running current or the tracked one
//! (learned over the first minutes of running, then followed slowly over
//! healthy samples), scaled with the drive frequency as `(f/f_ref)^e`.
//!
//! The logic is the pure function [`evaluate_batch`] over an [`EspConfig`]
//! (from [`parse_config`]) and an [`EspState`]. [`EspProtectionRule`] is it
//! as a `StatefulAlarmRule`: the SDK's export macro turns it into the
//! component (configuration and state from the host), and its test harness
//! runs it natively.
//! Modules: [`config`], [`engine`], [`latch`] (raise/clear with hysteresis),
//! [`stats`] (bounded rolling statistics).

pub mod config;
pub mod engine;
pub mod latch;
pub mod stats;

pub use config::{EspConfig, parse_config};
pub use engine::{EspState, STATE_KEY, evaluate_batch};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, StatefulAlarmRule};

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub const CONFIG_SCHEMA: &str = include_str!("schema.json");

/// The rule: [`evaluate_batch`] with [`EspState`] kept per (binding, device).
pub struct EspProtectionRule;

impl StatefulAlarmRule for EspProtectionRule {
    type Config = EspConfig;
    type State = EspState;
    const STATE_KEY: &'static str = STATE_KEY;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-esp-protection".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "ESP protection: Underload, Overload, HighMotorTemperature, HighVibration and GasLock \
                          alarms relative to the motor nameplate and the tracked normal running current, with \
                          hysteresis and restart-safe state."
                .into(),
            config_schema: CONFIG_SCHEMA.into(),
        }
    }

    fn evaluate(
        config: &EspConfig,
        state: &mut EspState,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        Ok(evaluate_batch(config, state, device_id, batch))
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(EspProtectionRule);

#[cfg(test)]
mod tests {
    #[test]
    fn schema_is_valid_json() {
        let schema: serde_json::Value = serde_json::from_str(super::CONFIG_SCHEMA).expect("valid JSON");
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["required"], serde_json::json!(["nameplate_current_a", "motor_temp_rating_c"]));
    }
}
