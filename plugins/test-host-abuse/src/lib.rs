//! # test-host-abuse
//!
//! A misbehaving alarm rule for the host's sandbox tests: `describe` answers
//! normally, `evaluate` asks the host for too much. It writes a
//! [`STATE_BYTES`] (64 MiB) state value through the raw `state-set` import,
//! then logs a [`LOG_BYTES`] (16 MiB) line through `log`, and returns the
//! error `state-set` gave as a `PluginError` (codes as the SDK's:
//! `host-limit-exceeded`, `host-denied`, `host-unavailable`), or `Ok([])` if
//! the host accepted everything. The guest needs about 64 MiB of linear
//! memory to build the value; a lower memory limit stops it first.
//!
//! Configured with `{"log": "<text>"}` it only logs that text (a guest
//! trying to forge log lines with newlines and escape sequences) and returns
//! `Ok([])`.

use nexus_plugin_sdk::decoder::nexus::plugin::host as raw;
use nexus_plugin_sdk::host::HostError;
use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series};

/// Size of the state value written.
pub const STATE_BYTES: usize = 64 << 20;
/// Size of the log line written.
pub const LOG_BYTES: usize = 16 << 20;
/// State key written.
pub const STATE_KEY: &str = "host-abuse";

/// The `PluginError` for a refusal of the host (same codes as the SDK).
pub fn to_plugin_error(error: HostError) -> PluginError {
    match error {
        HostError::LimitExceeded(m) => PluginError::new("host-limit-exceeded", m),
        HostError::Denied(m) => PluginError::new("host-denied", m),
        HostError::Unavailable(m) => PluginError::new("host-unavailable", m),
    }
}

/// The component.
pub struct HostAbuse;

impl nexus_plugin_sdk::AlarmRule for HostAbuse {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-host-abuse".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: evaluate writes a 64 MiB state value and a 16 MiB log line.".into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, _batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config: serde_json::Value = nexus_plugin_sdk::host::config()?;
        if let Some(text) = config.get("log").and_then(serde_json::Value::as_str) {
            nexus_plugin_sdk::host::info(text);
            return Ok(Vec::new());
        }
        let value = vec![0xA5u8; STATE_BYTES];
        let stored = raw::state_set(STATE_KEY, &value);
        drop(value);
        let line = "x".repeat(LOG_BYTES);
        nexus_plugin_sdk::host::info(&line);
        drop(line);
        stored.map_err(to_plugin_error)?;
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(HostAbuse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_errors_keep_their_message() {
        let e = to_plugin_error(HostError::LimitExceeded("state value over 64 KiB".into()));
        assert_eq!(e.code, "host-limit-exceeded");
        assert_eq!(e.message, "state value over 64 KiB");
        assert_eq!(to_plugin_error(HostError::Denied(String::new())).code, "host-denied");
        assert_eq!(to_plugin_error(HostError::Unavailable(String::new())).code, "host-unavailable");
    }
}
