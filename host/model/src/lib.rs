//! # nexus-model
//!
//! The domain vocabulary every Nexus crate shares: readings, frames, alarm
//! signals and alarms, recommendations, plugin kinds and per-call limits.
//! It has no I/O and no heavy dependencies, so the runtime, storage, pipeline
//! and API can all speak it without knowing each other.

mod alarm;
mod limits;
mod plan;
mod plugin;
mod telemetry;

pub use alarm::{Alarm, AlarmAction, AlarmSignal, AlarmStatus, Severity};
pub use limits::Limits;
pub use plan::{TenantPlan, Usage, month_of};
pub use plugin::{PluginError, PluginInfo, PluginKind, PluginRef, Recommendation, Setpoint, WellContext};
pub use telemetry::{Frame, Reading, SourceKind, Value};

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// The current wall-clock time in ms since the Unix epoch.
pub fn now_ms() -> TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
