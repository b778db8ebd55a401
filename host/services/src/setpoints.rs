//! Setpoints as data: each (device, parameter)'s current value, unit, the
//! limits every change must keep (range, largest step, shortest interval)
//! and where the value came from. Set by hand through the API, moved by
//! confirmed writes, checked before every write (the interlocks), and given
//! to optimizers in every well context.

use nexus_model::{Actor, DeviceId, Setpoint, SetpointSource, TenantId};

use crate::{AssetService, Result, ServiceError};

/// Longest unit, characters.
pub const MAX_UNIT_CHARS: usize = 16;
/// Longest read-back telemetry key, characters.
pub const MAX_READBACK_KEY_CHARS: usize = 255;
/// Longest shortest-interval between changes, ms (30 days).
pub const MAX_INTERVAL_MS: i64 = 30 * 86_400_000;

/// Checks a setpoint set by hand: a finite value inside its own range, a
/// sane range, step and interval. The reason names the field.
pub fn check_setpoint(setpoint: &Setpoint) -> std::result::Result<(), String> {
    let finite = |name: &str, v: Option<f64>| match v {
        Some(v) if !v.is_finite() => Err(format!("{name} {v} is not a finite number")),
        _ => Ok(()),
    };
    finite("value", Some(setpoint.value))?;
    finite("min", setpoint.min)?;
    finite("max", setpoint.max)?;
    finite("max_step", setpoint.max_step)?;
    if setpoint.unit.chars().count() > MAX_UNIT_CHARS {
        return Err(format!("unit must be at most {MAX_UNIT_CHARS} characters"));
    }
    if let (Some(min), Some(max)) = (setpoint.min, setpoint.max)
        && min > max
    {
        return Err(format!("min {min} is above max {max}"));
    }
    if setpoint.max_step.is_some_and(|s| s <= 0.0) {
        return Err("max_step must be above 0".into());
    }
    if setpoint.min_interval_ms.is_some_and(|i| !(0..=MAX_INTERVAL_MS).contains(&i)) {
        return Err(format!("min_interval_ms must be between 0 and {MAX_INTERVAL_MS}"));
    }
    if let Some(readback) = &setpoint.readback {
        let key = &readback.key;
        if key.is_empty() || key.chars().count() > MAX_READBACK_KEY_CHARS || key.chars().any(char::is_control) {
            return Err(format!(
                "readback.key must be 1 to {MAX_READBACK_KEY_CHARS} characters, no control characters"
            ));
        }
        if !(readback.tolerance.is_finite() && readback.tolerance >= 0.0) {
            return Err(format!("readback.tolerance {} must be a finite number, not negative", readback.tolerance));
        }
    }
    outside(setpoint, setpoint.value).map_or(Ok(()), |reason| Err(format!("value {reason}")))
}

fn outside(setpoint: &Setpoint, value: f64) -> Option<String> {
    let unit = &setpoint.unit;
    if let Some(min) = setpoint.min.filter(|min| value < *min) {
        return Some(format!("{value} {unit} is below the minimum {min} {unit}"));
    }
    if let Some(max) = setpoint.max.filter(|max| value > *max) {
        return Some(format!("{value} {unit} is above the maximum {max} {unit}"));
    }
    None
}

/// The interlocks of a change of `current` to `value` at `now` (ms): inside
/// the range, at most `max_step` from the current value, and at least
/// `min_interval_ms` since the value last changed. The reason says which
/// limit and by how much.
pub fn check_change(current: &Setpoint, value: f64, now: i64) -> std::result::Result<(), String> {
    let name = &current.parameter;
    if let Some(reason) = outside(current, value) {
        return Err(format!("{name}: {reason}"));
    }
    let step = (value - current.value).abs();
    if let Some(max_step) = current.max_step.filter(|max| step > *max + 1e-9) {
        let unit = &current.unit;
        return Err(format!(
            "{name}: a change of {step} {unit} from {} {unit} is over the largest step of {max_step} {unit}",
            current.value
        ));
    }
    if let Some(interval) = current.min_interval_ms {
        let since = now - current.updated_at;
        if since < interval {
            return Err(format!(
                "{name}: changed {} s ago; changes must be at least {} s apart",
                since / 1000,
                interval / 1000
            ));
        }
    }
    Ok(())
}

impl AssetService {
    /// Sets a device's setpoint by hand: its value (source `manual`), unit
    /// and limits, replacing what was there.
    pub async fn put_setpoint(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        mut setpoint: Setpoint,
        by: &Actor,
    ) -> Result<Setpoint> {
        // Another tenant's device is not found, whatever the body.
        self.0.store.device(tenant, device).await?;
        crate::connectors::parameter(&setpoint.parameter)?;
        check_setpoint(&setpoint).map_err(ServiceError::Invalid)?;
        let now = self.0.now();
        setpoint.source = SetpointSource::Manual;
        setpoint.updated_at = now;
        let stored = self.0.store.put_setpoint(tenant, device, &setpoint, by, now).await?;
        self.0.wake_outbox();
        Ok(stored)
    }

    /// A device's setpoints, by parameter.
    pub async fn setpoints(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<Setpoint>> {
        Ok(self.0.store.setpoints(tenant, device).await?)
    }

    /// A device's newest forecast of each key, by key.
    pub async fn forecasts(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<nexus_model::StoredForecast>> {
        Ok(self.0.store.forecasts(tenant, device).await?)
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::Readback;

    use super::*;

    fn frequency() -> Setpoint {
        Setpoint {
            parameter: "frequency_hz".into(),
            value: 50.0,
            unit: "Hz".into(),
            min: Some(35.0),
            max: Some(62.0),
            max_step: Some(1.0),
            min_interval_ms: Some(600_000),
            source: SetpointSource::Manual,
            updated_at: 1_000_000,
            readback: None,
        }
    }

    #[test]
    fn changes_inside_every_limit_pass() {
        let later = 1_000_000 + 600_000;
        assert_eq!(check_change(&frequency(), 51.0, later), Ok(()));
        assert_eq!(check_change(&frequency(), 49.0, later), Ok(()));
        let free = Setpoint { min: None, max: None, max_step: None, min_interval_ms: None, ..frequency() };
        assert_eq!(check_change(&free, 500.0, 0), Ok(()));
    }

    #[test]
    fn each_interlock_names_its_limit() {
        let later = 1_000_000 + 600_000;
        let below = Setpoint { value: 35.5, ..frequency() };
        assert!(check_change(&below, 34.9, later).is_err_and(|e| e.contains("below the minimum 35")));
        let above = Setpoint { value: 61.5, ..frequency() };
        assert!(check_change(&above, 62.5, later).is_err_and(|e| e.contains("above the maximum 62")));
        assert!(check_change(&frequency(), 51.5, later).is_err_and(|e| e.contains("largest step of 1")));
        assert!(check_change(&frequency(), 48.5, later).is_err_and(|e| e.contains("largest step")));
        assert!(check_change(&frequency(), 50.5, later - 1000).is_err_and(|e| e.contains("at least 600 s apart")));
    }

    #[test]
    fn a_setpoint_set_by_hand_must_make_sense() {
        assert_eq!(check_setpoint(&frequency()), Ok(()));
        let cases = [
            (Setpoint { value: f64::NAN, ..frequency() }, "value"),
            (Setpoint { min: Some(70.0), ..frequency() }, "min 70 is above max 62"),
            (Setpoint { max_step: Some(0.0), ..frequency() }, "max_step"),
            (Setpoint { min_interval_ms: Some(-1), ..frequency() }, "min_interval_ms"),
            (Setpoint { value: 30.0, ..frequency() }, "value 30 Hz is below the minimum"),
            (Setpoint { unit: "x".repeat(17), ..frequency() }, "unit"),
            (
                Setpoint { readback: Some(Readback { key: String::new(), tolerance: 0.1 }), ..frequency() },
                "readback.key",
            ),
            (
                Setpoint { readback: Some(Readback { key: "frequency".into(), tolerance: -1.0 }), ..frequency() },
                "readback.tolerance",
            ),
        ];
        for (setpoint, reason) in cases {
            let error = check_setpoint(&setpoint).expect_err(reason);
            assert!(error.contains(reason), "{reason}: {error}");
        }
    }
}
