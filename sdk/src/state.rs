//! Plugin state as the host keeps it: JSON values by key, scoped to the
//! calling binding and device, kept only when the call succeeds.
//!
//! [`StateStore`] is that store as a trait, so a rule's logic runs the same
//! over the host's state in the component ([`crate::host::HostStore`]) and
//! over an in-memory copy in native tests (`testing::MemoryStore`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PluginError;

/// Key-value state with the host's semantics: values are JSON, a missing or
/// unreadable value reads as `None`, and a write may be refused (the host caps
/// the bytes of one value and the number of keys).
pub trait StateStore {
    /// The value of `key`; `None` when it is missing or does not decode as `T`.
    fn load<T: DeserializeOwned>(&mut self, key: &str) -> Option<T>;
    /// Writes `key` as JSON.
    fn save<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), PluginError>;
    /// Deletes `key` (nothing happens when it is missing).
    fn delete(&mut self, key: &str);

    /// Loads `key` (`Default` when missing or unreadable), lets `f` change
    /// it and, if `f` succeeds and the value changed, saves it; returns what
    /// `f` returns.
    fn update<T, R>(&mut self, key: &str, f: impl FnOnce(&mut T) -> Result<R, PluginError>) -> Result<R, PluginError>
    where
        T: Serialize + DeserializeOwned + Default + PartialEq + Clone,
    {
        let before: T = self.load(key).unwrap_or_default();
        let mut value = before.clone();
        let out = f(&mut value)?;
        if value != before {
            self.save(key, &value)?;
        }
        Ok(out)
    }
}

/// JSON bytes of a state value, or a `state-encode` error.
pub(crate) fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, PluginError> {
    serde_json::to_vec(value).map_err(|e| PluginError::new("state-encode", format!("{key}: {e}")))
}
