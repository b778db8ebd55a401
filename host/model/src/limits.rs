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

/// One limit's name and value, for comparing limits field by field.
pub type LimitValue = (&'static str, Option<u64>);

impl Limits {
    /// The system maxima: no profile may set, and no binding may ask for, more
    /// than this. A deployment may lower (or raise) them in its configuration.
    pub fn system_ceilings() -> Self {
        Self {
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            instances: 32,
            tables: 16,
            memories: 8,
            deadline_ms: 30_000,
            fuel: None,
            host_call_bytes: 1 << 20,
            max_output: 100_000,
            log_lines: 1_000,
        }
    }

    /// Every limit by name; `None` is unbounded (only `fuel` can be).
    pub fn values(&self) -> [LimitValue; 10] {
        [
            ("memory_bytes", Some(self.memory_bytes)),
            ("table_elements", Some(u64::from(self.table_elements))),
            ("instances", Some(u64::from(self.instances))),
            ("tables", Some(u64::from(self.tables))),
            ("memories", Some(u64::from(self.memories))),
            ("deadline_ms", Some(self.deadline_ms)),
            ("fuel", self.fuel),
            ("host_call_bytes", Some(u64::from(self.host_call_bytes))),
            ("max_output", Some(u64::from(self.max_output))),
            ("log_lines", Some(u64::from(self.log_lines))),
        ]
    }

    /// The first limit of `self` above `cap`: its name, what is asked and
    /// the cap (`None`: unbounded).
    pub fn first_above(&self, cap: &Limits) -> Option<(&'static str, Option<u64>, Option<u64>)> {
        self.values().into_iter().zip(cap.values()).find_map(|((name, asked), (_, cap))| match (asked, cap) {
            (_, None) => None,
            (None, Some(cap)) => Some((name, None, Some(cap))),
            (Some(asked), Some(cap)) if asked > cap => Some((name, Some(asked), Some(cap))),
            _ => None,
        })
    }

    /// `self` with every limit above `cap` lowered to it.
    pub fn clamped_to(&self, cap: &Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.min(cap.memory_bytes),
            table_elements: self.table_elements.min(cap.table_elements),
            instances: self.instances.min(cap.instances),
            tables: self.tables.min(cap.tables),
            memories: self.memories.min(cap.memories),
            deadline_ms: self.deadline_ms.min(cap.deadline_ms),
            fuel: match (self.fuel, cap.fuel) {
                (Some(asked), Some(cap)) => Some(asked.min(cap)),
                (None, cap) => cap,
                (asked, None) => asked,
            },
            host_call_bytes: self.host_call_bytes.min(cap.host_call_bytes),
            max_output: self.max_output.min(cap.max_output),
            log_lines: self.log_lines.min(cap.log_lines),
        }
    }
}

#[cfg(test)]
mod ceiling_tests {
    use super::*;

    #[test]
    fn limits_compare_and_clamp_field_by_field() {
        let kind = Limits::for_kind(PluginKind::Decoder);
        assert_eq!(kind.first_above(&Limits::system_ceilings()), None);
        let raised = Limits { deadline_ms: 600_000, host_call_bytes: u32::MAX, ..kind };
        assert_eq!(raised.first_above(&kind), Some(("deadline_ms", Some(600_000), Some(50))));
        let clamped = raised.clamped_to(&kind);
        assert_eq!(clamped, kind);
        let metered = Limits { fuel: Some(10), ..kind };
        assert_eq!(kind.first_above(&metered), Some(("fuel", None, Some(10))), "unmetered is above a fuel cap");
        assert_eq!(metered.first_above(&kind), None);
        assert_eq!(kind.clamped_to(&metered).fuel, Some(10));
    }
}
