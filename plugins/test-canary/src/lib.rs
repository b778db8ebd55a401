//! # test-canary
//!
//! An alarm rule for the host's sandbox tests that checks whether guest
//! memory leaks from one call (or tenant) to the next. `describe` answers
//! normally; `evaluate` looks at the first series' key:
//!
//! * `write`: fills a 4 MiB buffer with the byte pattern `C0 FF EE`
//!   repeated, then frees it (the bytes stay in linear memory) and returns
//!   `Ok([])`;
//! * `scan`: reads the whole linear memory, from address 8 to
//!   `memory.size`, and returns one raise signal (alarm type `canary`, for
//!   the given device, at the first sample's `ts` or 0) whose details are `{"found": true|false, "scanned_bytes": N}`: found means a
//!   run of at least [`MIN_RUN_BYTES`] bytes of the pattern, which nothing
//!   but an earlier `write` in the same memory leaves behind;
//! * any other key is a `PluginError` `unknown-command`; no series, `Ok([])`.
//!
//! A host that gives every call (or every tenant) a fresh instance must see
//! `found: false` after a `write` in another call (or tenant).

// Scanning linear memory needs raw pointer reads of addresses the program
// never allocated: this crate alone opts out of the workspace's
// `unsafe_code = "deny"`. The only unsafe block is in `scan_linear_memory`.
#![allow(unsafe_code)]

use core::hint::black_box;

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, Severity};
use serde_json::json;

/// The canary byte pattern, repeated.
pub const PATTERN: [u8; 3] = [0xC0, 0xFF, 0xEE];
/// Size of the buffer `write` fills.
pub const CANARY_BYTES: usize = 4 << 20;
/// Shortest run of the pattern that counts as found.
pub const MIN_RUN_BYTES: usize = 4096;

/// A buffer of `len` bytes of the pattern.
pub fn canary(len: usize) -> Vec<u8> {
    (0..len).map(|i| PATTERN[i % PATTERN.len()]).collect()
}

/// The 8-byte little-endian words of the pattern starting at each phase.
fn phase_words() -> [u64; 3] {
    let mut words = [0u64; 3];
    for (phase, word) in words.iter_mut().enumerate() {
        let mut bytes = [0u8; 8];
        for (j, byte) in bytes.iter_mut().enumerate() {
            *byte = PATTERN[(phase + j) % PATTERN.len()];
        }
        *word = u64::from_le_bytes(bytes);
    }
    words
}

/// Whether consecutive 8-byte words (read little-endian from consecutive
/// aligned addresses) contain a run of the pattern of at least
/// [`MIN_RUN_BYTES`], at any phase.
pub fn contains_canary(words: impl IntoIterator<Item = u64>) -> bool {
    let phases = phase_words();
    let needed = MIN_RUN_BYTES / 8;
    let mut run = 0usize;
    let mut previous: Option<usize> = None;
    for word in words {
        let phase = phases.iter().position(|&w| w == word);
        run = match (phase, previous) {
            // The next word starts 8 bytes on: the phase advances by 8 mod 3.
            (Some(p), Some(q)) if p == (q + 8) % PATTERN.len() => run + 1,
            (Some(_), _) => 1,
            (None, _) => 0,
        };
        if run >= needed {
            return true;
        }
        previous = phase;
    }
    false
}

/// Scans the whole linear memory; returns (found, bytes scanned).
#[cfg(target_arch = "wasm32")]
pub fn scan_linear_memory() -> (bool, usize) {
    const PAGE: usize = 65536;
    let size = core::arch::wasm32::memory_size(0).checked_mul(PAGE).unwrap_or(usize::MAX & !7);
    // Skip the null word; read every aligned 8-byte word up to the end.
    let words = (8..size.saturating_sub(7)).step_by(8).map(|address| {
        // SAFETY: `address..address + 8` lies inside linear memory (below
        // `memory.size` pages, which never shrinks), is 8-aligned and is not
        // null; every byte of wasm linear memory is readable. The volatile
        // read keeps the compiler from assuming anything about bytes it did
        // not write.
        unsafe { core::ptr::read_volatile(core::ptr::with_exposed_provenance::<u64>(address)) }
    });
    (contains_canary(words), size)
}

/// Scans the linear memory: (found, bytes scanned).
#[cfg(target_arch = "wasm32")]
fn scan() -> Result<(bool, usize), PluginError> {
    Ok(scan_linear_memory())
}

/// There is no linear memory to scan natively.
#[cfg(not(target_arch = "wasm32"))]
fn scan() -> Result<(bool, usize), PluginError> {
    Err(PluginError::new("unsupported-target", "scanning linear memory needs wasm32"))
}

/// The component.
pub struct Canary;

impl nexus_plugin_sdk::AlarmRule for Canary {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-canary".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Sandbox test: `write` leaves a 4 MiB C0FFEE pattern in memory, `scan` \
                          reports whether linear memory holds it."
                .into(),
            config_schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#.into(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        match first.key.as_str() {
            "write" => {
                let buffer = canary(CANARY_BYTES);
                black_box(&buffer);
                drop(buffer);
                Ok(Vec::new())
            }
            "scan" => {
                let (found, scanned) = scan()?;
                let ts = first.ts.first().copied().unwrap_or(0);
                Ok(vec![AlarmSignal::raise_at(
                    &device_id,
                    ts,
                    "canary",
                    Severity::Indeterminate,
                    json!({ "found": found, "scanned_bytes": scanned }),
                )])
            }
            other => Err(PluginError::new(
                "unknown-command",
                format!("first series' key must be `write` or `scan`, got {other:?}"),
            )),
        }
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(Canary);

#[cfg(test)]
mod tests {
    use super::*;

    fn words(bytes: &[u8]) -> Vec<u64> {
        bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
    }

    #[test]
    fn canary_has_the_pattern() {
        assert_eq!(&canary(7), &[0xC0, 0xFF, 0xEE, 0xC0, 0xFF, 0xEE, 0xC0]);
    }

    #[test]
    fn finds_a_run_at_any_phase() {
        for offset in 0..3 {
            let mut memory = vec![0u8; 64 * 1024];
            let pattern = canary(8 * 1024 + offset);
            memory[1000..1000 + pattern.len() - offset].copy_from_slice(&pattern[offset..]);
            assert!(contains_canary(words(&memory)), "offset {offset}");
        }
    }

    #[test]
    fn ignores_zeroes_and_short_runs() {
        assert!(!contains_canary(words(&vec![0u8; 64 * 1024])));
        let mut memory = vec![0u8; 64 * 1024];
        let short = canary(MIN_RUN_BYTES - 64);
        memory[0..short.len()].copy_from_slice(&short);
        assert!(!contains_canary(words(&memory)));
    }

    #[test]
    fn broken_phase_resets_the_run() {
        // Two half runs whose phases do not continue do not add up.
        let half = canary(MIN_RUN_BYTES / 2 + 8);
        let mut memory = half[..MIN_RUN_BYTES / 2].to_vec();
        memory.extend_from_slice(&half[1..MIN_RUN_BYTES / 2 + 1]);
        memory.resize(64 * 1024, 0);
        assert!(!contains_canary(words(&memory)));
    }
}
