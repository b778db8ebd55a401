//! # test-stack-bomb
//!
//! A misbehaving alarm rule for the host's sandbox tests: `describe` answers
//! normally, `evaluate` recurses without bound. The depth goes through
//! [`core::hint::black_box`] and each call uses the result of the next, so
//! the recursion cannot be turned into a loop or proven finite; only the
//! host's stack limit (or the guest's shadow stack running out of linear
//! memory) ends it, as a trap.

use core::hint::black_box;

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series};

/// Recurses until the stack runs out; returns only if `depth` reaches
/// `u64::MAX`, which the optimizer cannot rule out but never happens.
pub fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return depth;
    }
    let below = recurse(black_box(depth.wrapping_add(1)));
    // Work after the call: not a tail call.
    black_box(below ^ depth)
}

/// The component.
pub struct StackBomb;

impl nexus_plugin_sdk::AlarmRule for StackBomb {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-stack-bomb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: evaluate recurses without bound.".into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, _batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let depth = recurse(black_box(0));
        Err(PluginError::new("not-trapped", format!("recursion returned at depth {depth}")))
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(StackBomb);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminates_only_at_the_sentinel() {
        assert_eq!(recurse(u64::MAX), u64::MAX);
        assert_eq!(recurse(u64::MAX - 1), u64::MAX ^ (u64::MAX - 1));
    }
}
