//! Native tests of an alarm rule's logic, with the host's call and state
//! semantics (compiled for non-wasm targets only).
//!
//! - [`batch`] builds the columnar batch the host would pass from simple
//!   `(ts, key, value)` rows;
//! - [`MemoryStore`] holds state as the host does: JSON bytes by key, with the
//!   host's default caps;
//! - [`Harness`] runs a [`StatefulAlarmRule`] (or any [`StoreAlarmRule`])
//!   call after call: each call works on a copy of the state that replaces
//!   it only when the call succeeds, and the raises and clears are counted.
//!
//! ```
//! use nexus_plugin_sdk::testing::{Harness, batch};
//! use nexus_plugin_sdk::{AlarmAction, AlarmSignal, PluginError, PluginInfo, Series, Severity, StatefulAlarmRule, Value};
//!
//! /// Raises `High` when `p` goes above the configured limit, clears below it.
//! struct High;
//!
//! impl StatefulAlarmRule for High {
//!     type Config = f64;
//!     type State = bool; // raised
//!     const STATE_KEY: &'static str = "raised";
//!
//!     fn describe() -> PluginInfo {
//!         PluginInfo { name: "high".into(), version: "0".into(), description: String::new(), config_schema: "{}".into() }
//!     }
//!
//!     fn evaluate(limit: &f64, raised: &mut bool, device: &str, _now: i64, batch: &[Series]) -> Result<Vec<AlarmSignal>, PluginError> {
//!         let mut signals = Vec::new();
//!         for sample in batch.iter().filter(|s| s.key == "p").flat_map(|s| s.samples()) {
//!             let above = sample.as_f64().ok_or_else(|| PluginError::new("not-a-number", "p"))? > *limit;
//!             if above != *raised {
//!                 *raised = above;
//!                 let details = serde_json::json!({});
//!                 signals.push(if above {
//!                     AlarmSignal::raise_at(device, sample.ts, "High", Severity::Major, details)
//!                 } else {
//!                     AlarmSignal::clear_at(device, sample.ts, "High", details)
//!                 });
//!             }
//!         }
//!         Ok(signals)
//!     }
//! }
//!
//! let mut rule = Harness::<High>::new(10.0);
//! let raised = rule.evaluate(2, &batch([(1, "p", 5.0), (2, "p", 12.0)])).expect("runs");
//! assert_eq!(raised.iter().map(|s| (s.action, s.ts)).collect::<Vec<_>>(), [(AlarmAction::Raise, 2)]);
//! assert!(rule.state());
//!
//! // A failing call changes nothing, as on the host.
//! assert!(rule.evaluate(3, &batch([(3, "p", Value::from(1.0)), (3, "p", Value::from("hot"))])).is_err());
//! assert!(rule.state());
//!
//! rule.evaluate(4, &batch([(4, "p", 1.0)])).expect("runs");
//! assert_eq!((rule.raises(), rule.clears(), rule.state()), (1, 1, false));
//! ```

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::rule::{StatefulAlarmRule, StoreAlarmRule};
use crate::state::{StateStore, encode};
use crate::{AlarmAction, AlarmSignal, PluginError, Series, SeriesBuilder, Value};

/// The host's default cap on one state value: key and JSON bytes together
/// (`host_call_bytes`, 64 KiB).
pub const VALUE_CAP: usize = 64 << 10;
/// Most keys the host keeps for one (binding, device).
pub const MAX_KEYS: usize = 256;
/// The device id [`Harness`] calls a rule with unless told otherwise.
pub const DEVICE: &str = "device";

/// A batch as the host passes it to an alarm rule, from `(ts, key, value)`
/// rows of one device: one series per key (and value type), sorted by key,
/// each sorted by `ts` (rows with the same `ts` keep their order); quality 1.
pub fn batch<'a, V: Into<Value>>(rows: impl IntoIterator<Item = (i64, &'a str, V)>) -> Vec<Series> {
    let mut builder = SeriesBuilder::new();
    for (ts, key, value) in rows {
        builder.push(key, ts, value.into(), 1.0);
    }
    let mut series = builder.build();
    series.sort_by(|a, b| a.key.cmp(&b.key));
    series
}

/// State held as the host holds it: JSON bytes by key, at most
/// [`VALUE_CAP`] bytes a value (with its key) and [`MAX_KEYS`] keys; a write
/// over either cap is refused with code `host-limit-exceeded`. Remembers the
/// largest value saved since it was created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryStore {
    values: BTreeMap<String, Vec<u8>>,
    largest: usize,
}

impl MemoryStore {
    /// The stored bytes of `key`.
    pub fn bytes(&self, key: &str) -> Option<&[u8]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// The value of `key` decoded as `T`, if it is there and decodes.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.bytes(key).and_then(|bytes| serde_json::from_slice(bytes).ok())
    }

    /// Every value, by key.
    pub fn values(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.values
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The largest value (JSON bytes) saved since the store was created.
    pub fn largest(&self) -> usize {
        self.largest
    }
}

impl StateStore for MemoryStore {
    fn load<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        self.get(key)
    }

    fn save<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), PluginError> {
        let bytes = encode(key, value)?;
        if key.len() + bytes.len() > VALUE_CAP {
            let size = key.len() + bytes.len();
            return Err(PluginError::new("host-limit-exceeded", format!("state value of {size} bytes")));
        }
        if !self.values.contains_key(key) && self.values.len() >= MAX_KEYS {
            return Err(PluginError::new("host-limit-exceeded", format!("{MAX_KEYS} state keys")));
        }
        self.largest = self.largest.max(bytes.len());
        self.values.insert(key.to_string(), bytes);
        Ok(())
    }

    fn delete(&mut self, key: &str) {
        self.values.remove(key);
    }
}

/// A rule's logic run natively call after call, as the host runs its
/// component: each call gets the configuration, the device, the call's time
/// and a copy of the state, which replaces the state only if the call
/// succeeds. Counts the raises and clears since the last reset.
pub struct Harness<R: StoreAlarmRule> {
    config: R::Config,
    device_id: String,
    store: MemoryStore,
    raises: usize,
    clears: usize,
}

impl<R: StoreAlarmRule> Harness<R> {
    /// A rule with this configuration, an empty state and device [`DEVICE`].
    pub fn new(config: R::Config) -> Self {
        Self { config, device_id: DEVICE.to_string(), store: MemoryStore::default(), raises: 0, clears: 0 }
    }

    /// A rule with a configuration parsed from JSON text as the component
    /// parses the binding's (see [`crate::config::parse`]).
    pub fn from_json(config: &str) -> Result<Self, PluginError> {
        crate::config::parse(config).map(Self::new)
    }

    /// The same, calling the rule with another device id.
    pub fn with_device(mut self, device_id: &str) -> Self {
        self.device_id = device_id.to_string();
        self
    }

    /// The configuration.
    pub fn config(&self) -> &R::Config {
        &self.config
    }

    /// Changes the configuration for the next calls and keeps the state, as
    /// editing a binding's configuration does on the host.
    pub fn set_config(&mut self, config: R::Config) {
        self.config = config;
    }

    /// One call: the batch at time `now`.
    pub fn evaluate(&mut self, now: i64, batch: &[Series]) -> Result<Vec<AlarmSignal>, PluginError> {
        let mut store = self.store.clone();
        let signals = R::evaluate(&self.config, &mut store, &self.device_id, now, batch)?;
        self.store = store;
        self.raises += signals.iter().filter(|s| s.action == AlarmAction::Raise).count();
        self.clears += signals.iter().filter(|s| s.action == AlarmAction::Clear).count();
        Ok(signals)
    }

    /// The state after the last successful call.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// The state, to change between calls (a lost or tampered value).
    pub fn store_mut(&mut self) -> &mut MemoryStore {
        &mut self.store
    }

    /// Raises since the last reset.
    pub fn raises(&self) -> usize {
        self.raises
    }

    /// Clears since the last reset.
    pub fn clears(&self) -> usize {
        self.clears
    }

    /// Forgets the state and the counts.
    pub fn reset(&mut self) {
        self.store = MemoryStore::default();
        self.raises = 0;
        self.clears = 0;
    }
}

impl<R: StatefulAlarmRule> Harness<R> {
    /// The rule's state as the next call would load it (`Default` when
    /// missing or unreadable).
    pub fn state(&self) -> R::State {
        self.store.get(R::STATE_KEY).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
