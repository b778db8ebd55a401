//! Metering and the circuit breaker: counters per binding, and quarantine
//! of a binding whose plugin keeps failing.
//!
//! A binding is quarantined after [`CONSECUTIVE_FAULTS`] faults in a row, or
//! when more than half of at least [`WINDOW_MIN_CALLS`] calls in the last
//! [`WINDOW_MS`] were faults. Rejected input (a plugin's own error) is not a
//! fault. An admin re-enables a quarantined binding.

use std::collections::VecDeque;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Mutex;

use nexus_model::{Binding, BindingId, TenantId, TimestampMs};
use nexus_runtime::CallError;
use serde::Serialize;

/// Faults in a row that quarantine a binding.
pub const CONSECUTIVE_FAULTS: u32 = 10;
/// The sliding window of the fault ratio.
pub const WINDOW_MS: i64 = 60_000;
/// Calls in the window before the ratio counts.
pub const WINDOW_MIN_CALLS: usize = 20;

/// Counters of one binding since the host started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BindingMetrics {
    /// The binding.
    pub binding_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Calls made.
    pub calls: u64,
    /// Calls whose plugin rejected its input.
    pub rejections: u64,
    /// Calls that faulted (timeout, memory, trap, ...).
    pub faults: u64,
    /// Wall time of all calls, µs.
    pub wall_us: u64,
    /// Fuel used by successful calls.
    pub fuel: u64,
    /// Faults since the last success.
    pub consecutive_faults: u32,
    #[serde(skip)]
    window: VecDeque<(TimestampMs, bool)>,
}

impl BindingMetrics {
    /// Records a call; returns the reason to quarantine, if it trips.
    fn record(&mut self, now: TimestampMs, elapsed: Duration, fuel: u64, error: Option<&CallError>) -> Option<String> {
        self.calls += 1;
        self.wall_us += elapsed.as_micros() as u64;
        self.fuel += fuel;
        let fault = error.is_some_and(CallError::is_fault);
        match error {
            Some(e) if e.is_fault() => {
                self.faults += 1;
                self.consecutive_faults += 1;
            }
            Some(_) => self.rejections += 1,
            None => self.consecutive_faults = 0,
        }
        self.window.push_back((now, fault));
        while self.window.front().is_some_and(|(ts, _)| now - ts > WINDOW_MS) {
            self.window.pop_front();
        }
        let error = error.filter(|e| e.is_fault())?;
        if self.consecutive_faults >= CONSECUTIVE_FAULTS {
            return Some(format!("{} faults in a row; last: {error}", self.consecutive_faults));
        }
        let faults = self.window.iter().filter(|(_, fault)| *fault).count();
        if self.window.len() >= WINDOW_MIN_CALLS && faults * 2 > self.window.len() {
            return Some(format!("{faults} of {} calls in the last minute faulted; last: {error}", self.window.len()));
        }
        None
    }
}

/// The meters of every binding since the host started.
#[derive(Default)]
pub(crate) struct Meters {
    by_binding: Mutex<HashMap<BindingId, BindingMetrics>>,
}

impl Meters {
    /// Meters a call of a binding; returns the reason to quarantine it when
    /// the breaker trips.
    pub(crate) fn observe(
        &self,
        binding: &Binding,
        now: TimestampMs,
        elapsed: Duration,
        fuel: u64,
        error: Option<&CallError>,
    ) -> Option<String> {
        let mut meters = self.by_binding.lock().unwrap_or_else(|e| e.into_inner());
        let meter = meters.entry(binding.id.clone()).or_insert_with(|| BindingMetrics {
            binding_id: binding.id.to_string(),
            tenant_id: binding.tenant_id.to_string(),
            ..BindingMetrics::default()
        });
        meter.record(now, elapsed, fuel, error)
    }

    /// The tenant's per-binding counters, by binding id.
    pub(crate) fn of_tenant(&self, tenant: &TenantId) -> Vec<BindingMetrics> {
        let meters = self.by_binding.lock().unwrap_or_else(|e| e.into_inner());
        let mut metrics: Vec<_> = meters.values().filter(|m| m.tenant_id == tenant.as_str()).cloned().collect();
        metrics.sort_by(|a, b| a.binding_id.cmp(&b.binding_id));
        metrics
    }

    /// Closes a binding's breaker (it was re-enabled).
    pub(crate) fn reset(&self, binding: &BindingId) {
        if let Some(meter) = self.by_binding.lock().unwrap_or_else(|e| e.into_inner()).get_mut(binding) {
            meter.consecutive_faults = 0;
            meter.window.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_model::PluginRef;

    fn fault() -> CallError {
        CallError::Trap {
            plugin: PluginRef { tenant_id: "t".into(), name: "p".into(), version: "1.0.0".into() },
            code: "unreachable".into(),
        }
    }

    #[test]
    fn ten_faults_in_a_row_trip_the_breaker_and_a_success_resets_the_count() {
        let mut meter = BindingMetrics::default();
        let d = Duration::from_micros(10);
        for _ in 0..9 {
            assert!(meter.record(0, d, 0, Some(&fault())).is_none());
        }
        assert!(meter.record(0, d, 0, None).is_none());
        for _ in 0..9 {
            assert!(meter.record(0, d, 0, Some(&fault())).is_none());
        }
        let reason = meter.record(0, d, 0, Some(&fault())).expect("trips");
        assert!(reason.starts_with("10 faults in a row"), "{reason}");
        assert_eq!((meter.calls, meter.faults), (20, 19));
    }

    #[test]
    fn more_than_half_faulting_in_a_minute_trips_the_breaker() {
        let mut meter = BindingMetrics::default();
        let d = Duration::from_micros(10);
        let mut tripped = None;
        for i in 0..40 {
            let error = (i % 3 != 0).then(fault);
            if i % 3 == 0 {
                assert!(meter.record(i, d, 0, None).is_none());
            } else if let Some(reason) = meter.record(i, d, 0, error.as_ref()) {
                tripped = Some((i, reason));
                break;
            }
        }
        let (at, reason) = tripped.expect("trips");
        assert!(at >= WINDOW_MIN_CALLS as i64 - 1, "tripped after {at} calls");
        assert!(reason.contains("in the last minute"), "{reason}");
    }
}
