//! # test-huge-output
//!
//! A misbehaving alarm rule for the host's sandbox tests: `describe` answers
//! normally, `evaluate` returns [`SIGNALS`] (1,000,000) raise signals, to
//! exercise the host's limit on the size of a plugin's result. Building and
//! lowering the list needs roughly 100–150 MiB of guest memory, so a lower
//! memory limit stops it first, as an out-of-memory trap.

use nexus_plugin_sdk::{AlarmAction, AlarmSignal, PluginError, PluginInfo, Series, Severity};

/// How many signals `evaluate` returns.
pub const SIGNALS: usize = 1_000_000;

/// `count` raise signals for `device_id`, one per millisecond from `ts`.
pub fn flood(device_id: &str, ts: i64, count: usize) -> Vec<AlarmSignal> {
    let mut signals = Vec::with_capacity(count);
    for i in 0..count {
        signals.push(AlarmSignal {
            action: AlarmAction::Raise,
            device_id: device_id.to_string(),
            alarm_type: "huge_output".into(),
            severity: Severity::Warning,
            ts: ts.saturating_add(i64::try_from(i).unwrap_or(i64::MAX)),
            details: "{}".into(),
        });
    }
    signals
}

/// The component.
pub struct HugeOutput;

impl nexus_plugin_sdk::AlarmRule for HugeOutput {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-huge-output".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: evaluate returns 1,000,000 alarm signals.".into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let ts = batch.first().and_then(|s| s.ts.first().copied()).unwrap_or(0);
        Ok(flood(&device_id, ts, SIGNALS))
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(HugeOutput);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floods_with_the_requested_count() {
        let signals = flood("dev", 10, 1000);
        assert_eq!(signals.len(), 1000);
        assert_eq!(signals[999].ts, 1009);
        assert_eq!(signals[0].device_id, "dev");
        assert_eq!(signals[0].action, AlarmAction::Raise);
    }
}
