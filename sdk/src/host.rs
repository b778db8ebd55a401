//! Safe helpers over the host interface: logging, time, configuration,
//! state and telemetry. Everything here is scoped by the host to the
//! calling tenant, binding and device.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use serde::{Serialize, de::DeserializeOwned};

use crate::decoder::nexus::plugin::host as raw;
use crate::state::{StateStore, encode};
use crate::{Forecast, PluginError, Reading, Series};
pub use raw::{HostError, LogLevel};

/// Logs a line at `info` level.
pub fn info(message: &str) {
    raw::log(LogLevel::Info, message);
}

/// Logs a line at `warn` level.
pub fn warn(message: &str) {
    raw::log(LogLevel::Warn, message);
}

/// Logs a line at `debug` level.
pub fn debug(message: &str) {
    raw::log(LogLevel::Debug, message);
}

/// The time of this call in ms since the Unix epoch (virtual during replay).
pub fn now() -> i64 {
    raw::now()
}

/// The binding's configuration parsed into `T`; a bad configuration is a
/// `PluginError` with code `invalid-config`.
pub fn config<T: DeserializeOwned>() -> Result<T, PluginError> {
    crate::config::parse(&raw::config())
}

/// Runs `f` on the binding's configuration parsed into `T`. An instance
/// the host keeps warm for its binding parses a configuration text once:
/// its next calls with the same text reuse the parsed value (the host never
/// hands one instance to another binding).
pub fn with_config<T: DeserializeOwned + 'static, R>(
    f: impl FnOnce(&T) -> Result<R, PluginError>,
) -> Result<R, PluginError> {
    thread_local! {
        static PARSED: RefCell<Option<(String, Rc<dyn Any>)>> = const { RefCell::new(None) };
    }
    let text = raw::config();
    let cached = PARSED.with_borrow(|parsed| match parsed {
        Some((last, value)) if *last == text => value.clone().downcast::<T>().ok(),
        _ => None,
    });
    let config = match cached {
        Some(config) => config,
        None => {
            let config = Rc::new(crate::config::parse::<T>(&text)?);
            PARSED.set(Some((text, config.clone())));
            config
        }
    };
    f(&config)
}

/// Reads a JSON value of this binding's state for the current device.
/// A missing or unreadable value reads as `None`.
pub fn state_get<T: DeserializeOwned>(key: &str) -> Option<T> {
    raw::state_get(key).and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Writes a JSON value of this binding's state for the current device.
pub fn state_set<T: Serialize>(key: &str, value: &T) -> Result<(), PluginError> {
    raw::state_set(key, &encode(key, value)?).map_err(host_error)
}

/// Deletes a value of this binding's state for the current device.
pub fn state_delete(key: &str) {
    raw::state_delete(key);
}

/// This binding's state for the current device as a [`StateStore`]: what
/// [`crate::export_stateful_alarm_rule!`] hands a rule's logic in the component.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostStore;

impl StateStore for HostStore {
    fn load<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        state_get(key)
    }

    fn save<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), PluginError> {
        state_set(key, value)
    }

    fn delete(&mut self, key: &str) {
        state_delete(key);
    }
}

/// The latest stored reading of a device key (same tenant only).
pub fn latest(device_id: &str, key: &str) -> Result<Option<Reading>, PluginError> {
    raw::latest(device_id, key).map_err(host_error)
}

/// Stored readings of a device key in `[start, end)`, oldest first.
pub fn history(device_id: &str, key: &str, start: i64, end: i64, limit: u32) -> Result<Vec<Series>, PluginError> {
    raw::history(device_id, key, start, end, limit).map_err(host_error)
}

/// The newest stored forecast of a device key (same tenant only), as a
/// forecaster binding issued it; `None` when there is none.
pub fn latest_forecast(device_id: &str, key: &str) -> Result<Option<Forecast>, PluginError> {
    raw::latest_forecast(device_id, key).map_err(host_error)
}

fn host_error(error: HostError) -> PluginError {
    match error {
        HostError::LimitExceeded(m) => PluginError::new("host-limit-exceeded", m),
        HostError::Denied(m) => PluginError::new("host-denied", m),
        HostError::Unavailable(m) => PluginError::new("host-unavailable", m),
    }
}
