//! # test-memory-hog
//!
//! A misbehaving alarm rule for the host's sandbox tests: `describe` answers
//! normally, `evaluate` allocates 1 MiB blocks forever, writing into every
//! page of each and keeping them all, so linear memory grows without bound
//! until the host's memory limit refuses `memory.grow` (the allocator then
//! aborts, which traps) or traps the growth itself.

use core::hint::black_box;

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series};

/// Size of each block.
pub const BLOCK: usize = 1 << 20;

/// Allocates one block and writes one byte in every 4 KiB of it (and the last
/// byte), so the memory is really touched.
pub fn touched_block(seed: usize) -> Vec<u8> {
    let mut block = vec![0u8; BLOCK];
    for offset in (0..BLOCK).step_by(4096) {
        block[offset] = black_box((seed ^ offset) as u8);
    }
    block[BLOCK - 1] = black_box(seed as u8);
    black_box(block)
}

/// Keeps allocating blocks until allocation fails (which aborts).
pub fn hog_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let block = touched_block(hoard.len());
        hoard.push(block);
        black_box(&mut hoard);
    }
}

/// The component.
pub struct MemoryHog;

impl nexus_plugin_sdk::AlarmRule for MemoryHog {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-memory-hog".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: evaluate allocates 1 MiB blocks forever.".into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(_device_id: String, _batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        hog_forever()
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(MemoryHog);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_is_one_mebibyte_and_touched() {
        let block = touched_block(3);
        assert_eq!(block.len(), BLOCK);
        assert_eq!(block[4096], ((3 ^ 4096) as u8));
        assert_eq!(block[BLOCK - 1], 3);
    }
}
