//! Per-call limits. Wasmtime limits nothing by default; every bound a plugin
//! call runs under is set here, stored with each binding and overridable.

use serde::{Deserialize, Serialize};

use crate::PluginKind;

/// The bounds of one plugin call. Defaults depend on the plugin kind
/// ([`Limits::for_kind`]); this is the one place they are documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory per instance, bytes (decoders and rules 16 MiB, optimizers 128 MiB).
    pub memory_bytes: u64,
    /// Table elements per table (10 000).
    pub table_elements: u32,
    /// Component and core instances per store (16).
    pub instances: u32,
    /// Tables per store (8).
    pub tables: u32,
    /// Memories per store (4).
    pub memories: u32,
    /// Wall-clock deadline of one call, ms (decoders and rules 50 ms, optimizers 5 s).
    pub deadline_ms: u64,
    /// Fuel budget of one call (`None`: unmetered beyond the deadline).
    pub fuel: Option<u64>,
    /// Bytes a plugin may pass to or ask from one host call (64 KiB).
    pub host_call_bytes: u32,
    /// Items one call may return: readings, alarm signals or recommendations (10 000).
    pub max_output: u32,
    /// Log lines per call; more are dropped (100).
    pub log_lines: u32,
}

impl Limits {
    /// The defaults of a plugin kind.
    pub fn for_kind(kind: PluginKind) -> Self {
        let base = Self {
            memory_bytes: 16 << 20,
            table_elements: 10_000,
            instances: 16,
            tables: 8,
            memories: 4,
            deadline_ms: 50,
            fuel: None,
            host_call_bytes: 64 << 10,
            max_output: 10_000,
            log_lines: 100,
        };
        match kind {
            PluginKind::Decoder | PluginKind::AlarmRule | PluginKind::Transform => base,
            PluginKind::Optimizer | PluginKind::FieldOptimizer | PluginKind::Forecaster => {
                Self { memory_bytes: 128 << 20, deadline_ms: 5_000, ..base }
            }
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::for_kind(PluginKind::AlarmRule)
    }
}
