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
//! (from [`parse_config`]), a [`RuleState`], a batch and the host's time.
//! [`ConditionsRule`] is it as a `StatefulAlarmRule`: the SDK's export macro
//! turns it into the component (configuration and state from the host), and
//! its test harness runs it natively.
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

pub use config::{RuleConfig, Sev, parse_config};
pub use engine::{RuleState, STATE_KEY, evaluate_batch};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, StatefulAlarmRule};

/// The rule: [`evaluate_batch`] with [`RuleState`] kept per (binding, device).
pub struct ConditionsRule;

impl StatefulAlarmRule for ConditionsRule {
    type Config = RuleConfig;
    type State = RuleState;
    const STATE_KEY: &'static str = STATE_KEY;

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

    fn evaluate(
        config: &RuleConfig,
        state: &mut RuleState,
        device_id: &str,
        now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        Ok(evaluate_batch(config, state, device_id, batch, now))
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(ConditionsRule);
