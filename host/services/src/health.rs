//! Metering and the circuit breakers: counters per binding, and quarantine
//! of whoever keeps making calls fail — blamed on the right party.
//!
//! A failure is blamed on the **plugin** (trap, timeout, fuel, memory,
//! stack, table, a refused host call) or on the **input** (the plugin
//! rejected it, or its output for it exceeded a cap); see
//! [`nexus_runtime::Blame`]. A host condition (capacity exhausted, storage
//! down) is neither and never reaches a breaker. Each breaker trips after
//! [`CONSECUTIVE_FAULTS`] failures in a row, or when more than half of at
//! least [`WINDOW_MIN_CALLS`] calls in the last [`WINDOW_MS`] failed:
//!
//! * plugin faults count per **binding**: a tripped binding is quarantined;
//! * input failures count per **(binding, device)**: a tripped pair stops
//!   that device's input to the binding only, and the binding keeps serving
//!   every other device.
//!
//! An admin re-enables a binding (which also lifts its devices'
//! quarantines) or releases one device; the breaker is then half-open: the
//! first failure before a success trips it again at once, so a re-enabled
//! spinning guest costs one deadline, not ten.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use nexus_model::{Binding, BindingId, DeviceId, TenantId, TimestampMs};
use nexus_runtime::{Blame, CallError};
use serde::Serialize;

/// Failures in a row that trip a breaker.
pub const CONSECUTIVE_FAULTS: u32 = 10;
/// The sliding window of the failure ratio.
pub const WINDOW_MS: i64 = 60_000;
/// Calls in the window before the ratio counts.
pub const WINDOW_MIN_CALLS: usize = 20;
/// Most (binding, device) breakers kept; past it they start afresh.
const MAX_DEVICE_BREAKERS: usize = 200_000;

/// Consecutive failures and a sliding window of outcomes.
#[derive(Debug, Clone, Default)]
struct Breaker {
    consecutive: u32,
    window: VecDeque<(TimestampMs, bool)>,
    /// Half-open: re-enabled by an admin and not yet succeeded; the first
    /// failure trips it again at once.
    probation: bool,
}

impl Breaker {
    /// Records an outcome; returns why to trip, when it does.
    fn record(&mut self, now: TimestampMs, failed: bool, what: &str, last: &dyn std::fmt::Display) -> Option<String> {
        self.consecutive = if failed { self.consecutive + 1 } else { 0 };
        if std::mem::take(&mut self.probation) && failed {
            return Some(format!("{what} again right after being re-enabled; last: {last}"));
        }
        self.window.push_back((now, failed));
        while self.window.front().is_some_and(|(ts, _)| now - ts > WINDOW_MS) {
            self.window.pop_front();
        }
        if !failed {
            return None;
        }
        if self.consecutive >= CONSECUTIVE_FAULTS {
            return Some(format!("{} {what} in a row; last: {last}", self.consecutive));
        }
        let failures = self.window.iter().filter(|(_, f)| *f).count();
        if self.window.len() >= WINDOW_MIN_CALLS && failures * 2 > self.window.len() {
            return Some(format!(
                "{failures} of {} calls in the last minute were {what}; last: {last}",
                self.window.len()
            ));
        }
        None
    }

    /// Closes the breaker half-open: the next failure trips it again.
    fn reset(&mut self) {
        self.consecutive = 0;
        self.window.clear();
        self.probation = true;
    }
}

/// Counters of one binding since the host started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BindingMetrics {
    /// The binding.
    pub binding_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Calls made.
    pub calls: u64,
    /// Calls failed by their input (rejected, or output over a cap).
    pub rejections: u64,
    /// Calls that faulted (timeout, memory, trap, ...).
    pub faults: u64,
    /// Calls the host had no capacity for (blamed on nobody's plugin).
    pub host_refusals: u64,
    /// Wall time of all calls, µs.
    pub wall_us: u64,
    /// Fuel used by successful calls.
    pub fuel: u64,
    /// Faults since the last call that did not fault.
    pub consecutive_faults: u32,
    /// Times the breaker opened since the binding last succeeded.
    pub trips: u32,
    #[serde(skip)]
    last_trip: TimestampMs,
    #[serde(skip)]
    breaker: Breaker,
}

impl BindingMetrics {
    /// Records a call; returns the reason to quarantine the binding, if its
    /// plugin faults trip it.
    fn record(&mut self, now: TimestampMs, elapsed: Duration, fuel: u64, error: Option<&CallError>) -> Option<String> {
        self.calls += 1;
        self.wall_us += elapsed.as_micros() as u64;
        self.fuel += fuel;
        let blame = error.map(CallError::blame);
        match blame {
            Some(Blame::Plugin) => self.faults += 1,
            Some(Blame::Input) => self.rejections += 1,
            Some(Blame::Host) => {
                // The host's condition: no breaker hears of it.
                self.host_refusals += 1;
                return None;
            }
            None => {}
        }
        let fault = blame == Some(Blame::Plugin);
        let trip = match error {
            Some(e) => self.breaker.record(now, fault, "faults", e),
            None => self.breaker.record(now, false, "faults", &""),
        };
        self.consecutive_faults = self.breaker.consecutive;
        if trip.is_some() {
            self.trips += 1;
            self.last_trip = now;
        } else if error.is_none() {
            self.trips = 0;
        }
        trip
    }

    /// How long re-enabling must wait after the last trip: 1 s after the
    /// first, doubling with each trip since the last success, at most
    /// [`MAX_BACKOFF_MS`] (as Kubernetes backs off a crash loop).
    fn backoff_left(&self, now: TimestampMs) -> Option<TimestampMs> {
        if self.trips == 0 {
            return None;
        }
        let backoff = (1_000i64 << (self.trips - 1).min(20)).min(MAX_BACKOFF_MS);
        let left = self.last_trip + backoff - now;
        (left > 0).then_some(left)
    }
}

/// The longest wait before a tripped binding may be re-enabled.
pub const MAX_BACKOFF_MS: i64 = 300_000;

/// What a breaker stops.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trip {
    /// The device whose input is stopped; none: the whole binding.
    pub(crate) device: Option<DeviceId>,
    /// Why.
    pub(crate) reason: String,
}

/// The meters of every binding since the host started.
#[derive(Default)]
pub(crate) struct Meters {
    by_binding: Mutex<HashMap<BindingId, BindingMetrics>>,
    by_device: Mutex<HashMap<(BindingId, DeviceId), Breaker>>,
}

impl Meters {
    /// Meters a call of a binding about a device; returns what to
    /// quarantine when a breaker trips: the binding for plugin faults, the
    /// (binding, device) pair for input failures.
    pub(crate) fn observe(
        &self,
        binding: &Binding,
        device: &DeviceId,
        now: TimestampMs,
        elapsed: Duration,
        fuel: u64,
        error: Option<&CallError>,
    ) -> Option<Trip> {
        let binding_trip = {
            let mut meters = self.by_binding.lock().unwrap_or_else(|e| e.into_inner());
            let meter = meters.entry(binding.id.clone()).or_insert_with(|| BindingMetrics {
                binding_id: binding.id.to_string(),
                tenant_id: binding.tenant_id.to_string(),
                ..BindingMetrics::default()
            });
            meter.record(now, elapsed, fuel, error)
        };
        if let Some(reason) = binding_trip {
            return Some(Trip { device: None, reason });
        }
        let input_failed = error.is_some_and(|e| e.blame() == Blame::Input);
        let mut devices = self.by_device.lock().unwrap_or_else(|e| e.into_inner());
        let key = (binding.id.clone(), device.clone());
        if !input_failed && !devices.contains_key(&key) {
            return None;
        }
        if devices.len() >= MAX_DEVICE_BREAKERS && !devices.contains_key(&key) {
            devices.clear();
        }
        let breaker = devices.entry(key).or_default();
        let reason = match error {
            Some(e) => breaker.record(now, input_failed, "rejected inputs", e),
            None => breaker.record(now, false, "rejected inputs", &""),
        }?;
        Some(Trip { device: Some(device.clone()), reason })
    }

    /// The tenant's per-binding counters, by binding id.
    pub(crate) fn of_tenant(&self, tenant: &TenantId) -> Vec<BindingMetrics> {
        let meters = self.by_binding.lock().unwrap_or_else(|e| e.into_inner());
        let mut metrics: Vec<_> = meters.values().filter(|m| m.tenant_id == tenant.as_str()).cloned().collect();
        metrics.sort_by(|a, b| a.binding_id.cmp(&b.binding_id));
        metrics
    }

    /// Closes a binding's breaker and its devices' (it was re-enabled).
    pub(crate) fn reset(&self, binding: &BindingId) {
        if let Some(meter) = self.by_binding.lock().unwrap_or_else(|e| e.into_inner()).get_mut(binding) {
            meter.breaker.reset();
            meter.consecutive_faults = 0;
        }
        let mut devices = self.by_device.lock().unwrap_or_else(|e| e.into_inner());
        devices.retain(|(b, _), _| b != binding);
    }

    /// Milliseconds before a tripped binding may be re-enabled, if any.
    pub(crate) fn backoff_left(&self, binding: &BindingId, now: TimestampMs) -> Option<TimestampMs> {
        self.by_binding.lock().unwrap_or_else(|e| e.into_inner()).get(binding)?.backoff_left(now)
    }

    /// Closes one (binding, device) breaker (the device was released).
    pub(crate) fn reset_device(&self, binding: &BindingId, device: &DeviceId) {
        let mut devices = self.by_device.lock().unwrap_or_else(|e| e.into_inner());
        devices.entry((binding.clone(), device.clone())).or_default().reset();
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

    fn rejection() -> CallError {
        CallError::Plugin {
            plugin: PluginRef { tenant_id: "t".into(), name: "p".into(), version: "1.0.0".into() },
            error: nexus_model::PluginError { code: "bad-frame".into(), message: "no".into() },
        }
    }

    fn binding() -> Binding {
        serde_json::from_value(serde_json::json!({
            "id": "b", "tenant_id": "t", "plugin_id": "p", "kind": "decoder", "config": {},
            "limits": nexus_model::Limits::for_kind(nexus_model::PluginKind::Decoder),
            "schedule_ms": null, "enabled": true, "propagate": false, "quarantine_reason": null,
            "device_ids": [], "created_time": 0
        }))
        .expect("a binding")
    }

    #[test]
    fn rejected_input_trips_the_device_breaker_not_the_bindings() {
        let meters = Meters::default();
        let (b, d) = (binding(), Duration::from_micros(10));
        let (one, two) = (DeviceId::new("one"), DeviceId::new("two"));
        for i in 0..9 {
            assert_eq!(meters.observe(&b, &one, i, d, 0, Some(&rejection())), None);
            assert_eq!(meters.observe(&b, &two, i, d, 0, None), None);
        }
        let trip = meters.observe(&b, &one, 9, d, 0, Some(&rejection())).expect("trips");
        assert_eq!(trip.device, Some(one.clone()));
        assert!(trip.reason.starts_with("10 rejected inputs in a row"), "{}", trip.reason);
        let metrics = meters.of_tenant(&TenantId::new("t"));
        assert_eq!((metrics[0].faults, metrics[0].rejections, metrics[0].consecutive_faults), (0, 10, 0));
        // Faults trip the binding, whichever device's call faulted.
        for i in 0..9 {
            assert_eq!(meters.observe(&b, &DeviceId::new(format!("d{i}")), 20 + i, d, 0, Some(&fault())), None);
        }
        let trip = meters.observe(&b, &two, 30, d, 0, Some(&fault())).expect("trips");
        assert_eq!(trip.device, None);
        meters.reset(&b.id);
        assert_eq!(meters.observe(&b, &one, 40, d, 0, Some(&rejection())), None, "reset closes the device breakers");
        assert_eq!(meters.backoff_left(&b.id, 30), Some(1_000), "a first trip waits a second");
        assert_eq!(meters.backoff_left(&b.id, 1_030), None);
        // Re-enabled, the binding is half-open: one more fault trips it.
        meters.reset(&b.id);
        let trip = meters.observe(&b, &two, 50, d, 0, Some(&fault())).expect("half-open trips at once");
        assert!(trip.reason.starts_with("faults again right after being re-enabled"), "{}", trip.reason);
        assert_eq!(meters.backoff_left(&b.id, 50), Some(2_000), "the second trip waits twice as long");
        meters.reset(&b.id);
        assert_eq!(meters.observe(&b, &two, 60, d, 0, None), None);
        assert_eq!(meters.observe(&b, &two, 61, d, 0, Some(&fault())), None, "a success closes it fully");
        assert_eq!(meters.backoff_left(&b.id, 61), None, "and forgets the trips");
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
