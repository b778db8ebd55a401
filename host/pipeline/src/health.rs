//! Metering and the circuit breaker: counters per binding, and quarantine
//! of a binding whose plugin keeps failing.
//!
//! A binding is quarantined after [`CONSECUTIVE_FAULTS`] faults in a row, or
//! when more than half of at least [`WINDOW_MIN_CALLS`] calls in the last
//! [`WINDOW_MS`] were faults. Rejected input (a plugin's own error) is not a
//! fault. An admin re-enables a quarantined binding.

use std::collections::VecDeque;
use std::time::Duration;

use nexus_model::TimestampMs;
use nexus_runtime::CallError;
use nexus_storage::Binding;
use serde::Serialize;

use crate::{Pipeline, Result};

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

impl Pipeline {
    /// Meters a call of a binding and trips the breaker when it must.
    pub(crate) async fn observe(
        &self,
        binding: &Binding,
        elapsed: Duration,
        fuel: u64,
        error: Option<&CallError>,
    ) -> Result<()> {
        let trip = {
            let mut meters = self.inner.meters.lock().unwrap_or_else(|e| e.into_inner());
            let meter = meters.entry(binding.id.clone()).or_insert_with(|| BindingMetrics {
                binding_id: binding.id.clone(),
                tenant_id: binding.tenant_id.clone(),
                ..BindingMetrics::default()
            });
            meter.record(nexus_model::now_ms(), elapsed, fuel, error)
        };
        self.meter_usage(&binding.tenant_id, fuel).await?;
        if let Some(reason) = trip {
            tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, %reason, "Binding quarantined by the circuit breaker.");
            self.inner.storage.quarantine_binding(&binding.tenant_id, &binding.id, &reason).await?;
        }
        Ok(())
    }

    /// The tenant's per-binding counters.
    pub fn metrics(&self, tenant_id: &str) -> Vec<BindingMetrics> {
        let meters = self.inner.meters.lock().unwrap_or_else(|e| e.into_inner());
        let mut metrics: Vec<_> = meters.values().filter(|m| m.tenant_id == tenant_id).cloned().collect();
        metrics.sort_by(|a, b| a.binding_id.cmp(&b.binding_id));
        metrics
    }

    /// Re-enables a binding (after quarantine) and resets its breaker.
    pub async fn enable_binding(&self, tenant_id: &str, binding_id: &str) -> Result<Binding> {
        let binding = self.inner.storage.enable_binding(tenant_id, binding_id).await?;
        if let Some(meter) = self.inner.meters.lock().unwrap_or_else(|e| e.into_inner()).get_mut(binding_id) {
            meter.consecutive_faults = 0;
            meter.window.clear();
        }
        tracing::info!(tenant = tenant_id, binding = binding_id, "Binding re-enabled.");
        Ok(binding)
    }

    /// Points a binding at another version of its plugin (hot swap).
    pub async fn swap_binding_plugin(&self, tenant_id: &str, binding_id: &str, plugin_id: &str) -> Result<Binding> {
        // Load (compile) the new version before the switch, so the next
        // batch does not wait for it.
        self.loaded(tenant_id, plugin_id).await?;
        let binding = self.inner.storage.swap_binding_plugin(tenant_id, binding_id, plugin_id).await?;
        tracing::info!(
            tenant = tenant_id,
            binding = binding_id,
            plugin = plugin_id,
            "Binding switched to another plugin version."
        );
        Ok(binding)
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
