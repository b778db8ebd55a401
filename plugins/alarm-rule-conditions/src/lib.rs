//! # alarm-rule-conditions
//!
//! A declarative alarm rule configured by JSON that covers ThingsBoard's
//! device-profile alarm rules and the extensions its users ask for:
//!
//! * per severity a *create* rule, optional per-severity and global *clear*
//!   rules, highest severity wins;
//! * rule triggers SIMPLE, DURATION (`duration_ms`) and REPEATING (`repeat`);
//! * predicates on numeric, boolean and text keys with ThingsBoard's
//!   operators (plus `in` / `not_in`), "missing for" predicates, and
//!   `all` / `any` / `not` groups (OR across conditions, thingsboard#7227);
//! * schedules (any time, days and a time window, custom per-day intervals)
//!   in a time zone with optional daylight saving ([`tz`]);
//! * hysteresis through separate clear thresholds (#7943), per-severity clear
//!   and de-escalation (#12560, #11803), clear-if-not-recurring (#10979);
//! * all progress (durations, counters, latest values) kept in host state,
//!   so it survives a host restart.
//!
//! The logic is the pure function [`evaluate_batch`] over a [`RuleConfig`]
//! (from [`parse_config`]), a [`RuleState`], a batch and the host's time, so
//! it runs natively (tests). The component export only loads the
//! configuration and state from the host, calls it and saves the state.
//!
//! Modules: [`config`] (JSON form and validation), [`condition`]
//! (predicates) and [`compile`] (their JSON form), [`schedule`] and [`tz`] (time windows), [`engine`] (the
//! evaluation and its state), [`schema`] (the JSON Schema for `describe`).

pub mod compile;
pub mod condition;
pub mod config;
pub mod engine;
pub mod schedule;
pub mod schema;
pub mod tz;

pub use config::{RuleConfig, Sev, config_from_value, parse_config};
pub use engine::{RuleState, STATE_KEY, evaluate_batch};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, host};

/// The component: loads configuration and state from the host around [`evaluate_batch`].
pub struct ConditionsRule;

impl nexus_plugin_sdk::AlarmRule for ConditionsRule {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-conditions".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Declarative alarm rule: per-severity create and clear conditions (simple, duration, \
                          repeating), numeric/boolean/text predicates, missing-for, AND/OR groups, schedules in a \
                          time zone, hysteresis, de-escalation and clear-if-not-recurring, with restart-safe state."
                .into(),
            config_schema: schema::CONFIG_SCHEMA.into(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config = config_from_value(host::config()?)?;
        let before: RuleState = host::state_get(STATE_KEY).unwrap_or_default();
        let mut state = before.clone();
        let signals = evaluate_batch(&config, &mut state, &device_id, &batch, host::now());
        if state != before {
            host::state_set(STATE_KEY, &state)?;
        }
        Ok(signals)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(ConditionsRule);
