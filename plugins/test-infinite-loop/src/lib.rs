//! # test-infinite-loop
//!
//! A misbehaving alarm rule for the host's sandbox tests: `describe` answers
//! normally, `evaluate` never returns. The loop counter goes through
//! [`core::hint::black_box`] so the optimizer cannot prove the loop has no
//! effect and remove it. Only the host's CPU limit (fuel or epoch deadline)
//! can end the call.

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series};

/// Spins forever.
pub fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = core::hint::black_box(counter.wrapping_add(1));
    }
}

/// The component.
pub struct InfiniteLoop;

impl nexus_plugin_sdk::AlarmRule for InfiniteLoop {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-infinite-loop".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: evaluate loops forever.".into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, _batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        spin_forever()
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(InfiniteLoop);
