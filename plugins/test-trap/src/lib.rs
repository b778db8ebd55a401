//! # test-trap
//!
//! A misbehaving alarm rule for the host's sandbox tests: `describe` answers
//! normally, `evaluate` traps.
//!
//! * If the first series' key is `divide`, it divides two integers that
//!   [`core::hint::black_box`] hides from the optimizer, the divisor being
//!   zero. Rust checks integer division, so in wasm this is a panic, which
//!   under `panic = "abort"` (the plugin profile) ends in an `unreachable`
//!   trap after std prints "attempt to divide by zero" to stderr.
//! * Otherwise it executes the wasm `unreachable` instruction directly
//!   (natively, where there is no such instruction, it panics).

use core::hint::black_box;

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series};

/// Divides `numerator` by `denominator`, opaque to the optimizer, so a zero
/// divisor fails at run time rather than at compile time.
pub fn opaque_divide(numerator: i64, denominator: i64) -> i64 {
    black_box(black_box(numerator) / black_box(denominator))
}

/// Traps: the wasm `unreachable` instruction (a panic natively).
pub fn trap_unreachable() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("test-trap: unreachable");
}

/// The component.
pub struct Trap;

impl nexus_plugin_sdk::AlarmRule for Trap {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-trap".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: evaluate traps (division by zero if the first series' \
                          key is `divide`, else `unreachable`)."
                .into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        if batch.first().map(|s| s.key.as_str()) == Some("divide") {
            let quotient = opaque_divide(1, 0);
            // Not reached: the division traps.
            return Err(PluginError::new("not-trapped", format!("1 / 0 = {quotient}")));
        }
        trap_unreachable()
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(Trap);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "divide by zero")]
    fn division_by_zero_is_not_folded_away() {
        opaque_divide(1, black_box(0));
    }

    #[test]
    fn division_works_otherwise() {
        assert_eq!(opaque_divide(7, 2), 3);
    }

    #[test]
    #[should_panic(expected = "unreachable")]
    fn unreachable_panics_natively() {
        trap_unreachable();
    }
}
