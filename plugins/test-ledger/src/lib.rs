//! # test-ledger
//!
//! An alarm rule for the host's crash-consistency test: it raises nothing
//! and keeps, in its state (key `ledger`), the count, sum and sum of squares
//! of the `seq` samples it evaluated. Compared with the same figures over
//! the stored readings, it shows whether every stored reading was evaluated
//! exactly once.

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, host};
use serde::{Deserialize, Serialize};

/// The state key.
pub const STATE_KEY: &str = "ledger";

/// What has been evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// `seq` samples seen.
    pub count: u64,
    /// Their sum.
    pub sum: i64,
    /// Their sum of squares.
    pub sum_sq: i64,
}

impl Ledger {
    /// Adds the `seq` samples of a batch.
    pub fn add(&mut self, batch: &[Series]) {
        let Some(seq) = nexus_plugin_sdk::series(batch, "seq") else { return };
        for (_, value) in seq.numbers() {
            let v = value as i64;
            self.count += 1;
            self.sum += v;
            self.sum_sq += v * v;
        }
    }
}

/// The component.
pub struct LedgerRule;

impl nexus_plugin_sdk::AlarmRule for LedgerRule {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-ledger".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test: counts and sums the `seq` samples it evaluates, in its state.".into(),
            config_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let mut ledger: Ledger = host::state_get(STATE_KEY).unwrap_or_default();
        ledger.add(&batch);
        host::state_set(STATE_KEY, &ledger)?;
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(LedgerRule);

#[cfg(test)]
mod tests {
    use nexus_plugin_sdk::Sample;

    use super::*;

    #[test]
    fn the_ledger_counts_sums_and_squares_seq_only() {
        let sample = |ts, v: i64| Sample::new(ts, v);
        let batch = vec![
            Series::from_samples("seq", [sample(1, 3), sample(2, 4)]),
            Series::from_samples("v", [sample(1, 100)]),
        ];
        let mut ledger = Ledger::default();
        ledger.add(&batch);
        ledger.add(&batch[1..]);
        assert_eq!(ledger, Ledger { count: 2, sum: 7, sum_sq: 25 });
    }
}
