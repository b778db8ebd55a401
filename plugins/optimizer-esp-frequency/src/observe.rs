//! From recent readings to the current state of the well, and whether it is
//! steady.
//!
//! **Steady** (all over the window of `steady_window_ms` that ends at the
//! newest reading):
//!
//! * the frequency readings in the window are all within 0.05 Hz of the
//!   current frequency (no change inside the window);
//! * the intake pressure has at least `min_steady_samples` samples spanning
//!   at least 80 % of the window, and its trend (the least-squares slope
//!   over the window) is at most `steady_pip_psi_per_h` when the annulus
//!   storage is known (calibration then corrects the inflow for the rest of
//!   the transient), else `steady_pip_psi_per_h_uncorrected`: after a
//!   change the annulus takes hours to settle;
//! * the motor current's coefficient of variation over the window is at most
//!   `steady_current_cv` (gas interference makes it erratic).
//!
//! The state used for calibration is the mean of each key over the whole
//! window (steady: nothing drifts in it), which averages the sensor noise.

use nexus_plugin_sdk::{Reading, Setpoint};

use crate::config::Config;

/// The setpoint parameter this optimizer reads and proposes.
pub const FREQUENCY_PARAMETER: &str = "frequency_hz";

/// Frequency readings further than this from the current one mean a change, Hz.
const FREQUENCY_TOLERANCE_HZ: f64 = 0.05;

/// The observed state of the well.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Time of the newest reading, ms.
    pub newest_ts: i64,
    /// Drive frequency, Hz (the `frequency_hz` setpoint if there is one, else the latest reading).
    pub frequency_hz: f64,
    /// Intake pressure, psi (the window's mean).
    pub intake_psi: f64,
    /// Trend of the intake pressure over the window, psi/h.
    pub intake_trend_psi_per_h: f64,
    /// Discharge pressure, psi, if read in the window.
    pub discharge_psi: Option<f64>,
    /// Motor current, A, if read in the window.
    pub current_a: Option<f64>,
    /// Metered liquid rate, bbl/d, if read in the window.
    pub flow_bpd: Option<f64>,
}

/// Why the well cannot be judged from its readings.
#[derive(Debug, Clone, PartialEq)]
pub enum NotReady {
    /// A required input is missing.
    Missing(String),
    /// The newest reading is too old.
    Stale(String),
    /// The pump is stopped.
    NotRunning(String),
    /// The well is still moving (or too little data to tell).
    NotSteady(String),
}

/// `(ts, value)` of the finite numeric readings of `key`, oldest first.
fn series(readings: &[Reading], key: &str) -> Vec<(i64, f64)> {
    let mut points: Vec<(i64, f64)> = readings
        .iter()
        .filter(|r| r.key == key)
        .filter_map(|r| r.value.as_f64().filter(|v| v.is_finite()).map(|v| (r.ts, v)))
        .collect();
    points.sort_by_key(|p| p.0);
    points
}

fn mean(points: &[(i64, f64)]) -> Option<f64> {
    (!points.is_empty()).then(|| points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64)
}

/// The points with `from ≤ ts ≤ to`.
fn between(points: &[(i64, f64)], from: i64, to: i64) -> Vec<(i64, f64)> {
    points.iter().copied().filter(|p| p.0 >= from && p.0 <= to).collect()
}

/// Least-squares slope of `points`, per hour.
fn slope_per_hour(points: &[(i64, f64)]) -> f64 {
    let n = points.len() as f64;
    let t0 = points.first().map_or(0, |p| p.0);
    let xs: Vec<f64> = points.iter().map(|p| (p.0 - t0) as f64 / 3_600_000.0).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(points).map(|(x, p)| (x - mx) * (p.1 - my)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// Reads the state of the well at `now_ms`, or says why it cannot be judged.
/// `storage_known`: whether calibration can correct the inflow for the
/// annulus storage (it picks the steadiness threshold).
pub fn observe(
    config: &Config,
    readings: &[Reading],
    setpoints: &[Setpoint],
    now_ms: i64,
    storage_known: bool,
) -> Result<Observed, NotReady> {
    let keys = &config.keys;
    let newest_ts = readings.iter().map(|r| r.ts).max().ok_or_else(|| NotReady::Missing("no readings".into()))?;
    let age = now_ms - newest_ts;
    if age > config.max_reading_age_ms {
        return Err(NotReady::Stale(format!(
            "the newest reading is {:.1} min old (limit {:.1} min)",
            age as f64 / 60_000.0,
            config.max_reading_age_ms as f64 / 60_000.0
        )));
    }
    let frequencies = series(readings, &keys.frequency);
    let setpoint = setpoints.iter().rev().find(|s| s.parameter == FREQUENCY_PARAMETER && s.value.is_finite());
    let frequency_hz = match (setpoint, frequencies.last()) {
        (Some(s), _) => s.value,
        (None, Some(&(_, f))) => f,
        (None, None) => {
            return Err(NotReady::Missing(format!(
                "no `{FREQUENCY_PARAMETER}` setpoint and no `{}` reading",
                keys.frequency
            )));
        }
    };
    if frequency_hz <= 0.0 {
        return Err(NotReady::NotRunning(format!("the pump is stopped ({frequency_hz} Hz)")));
    }
    let window = config.steady_window_ms;
    let start = newest_ts - window;
    let third = window / 3;
    let whole = |points: &[(i64, f64)]| mean(&between(points, start, newest_ts));
    let intake = series(readings, &keys.intake_pressure);
    let in_window = between(&intake, start, newest_ts);
    if in_window.last().is_none_or(|l| l.0 < newest_ts - third) {
        return Err(NotReady::Missing(format!(
            "no `{}` reading in the last {:.0} min",
            keys.intake_pressure,
            third as f64 / 60_000.0
        )));
    }
    let span = in_window.last().map_or(0, |l| l.0) - in_window.first().map_or(0, |f| f.0);
    if in_window.len() < config.min_steady_samples || (span as f64) < 0.8 * window as f64 {
        return Err(NotReady::NotSteady(format!(
            "{} `{}` samples over {:.0} of the {:.0} min window: too little to tell whether the well is steady",
            in_window.len(),
            keys.intake_pressure,
            span as f64 / 60_000.0,
            window as f64 / 60_000.0
        )));
    }
    if let Some(&(ts, f)) =
        between(&frequencies, start, newest_ts).iter().find(|p| (p.1 - frequency_hz).abs() > FREQUENCY_TOLERANCE_HZ)
    {
        return Err(NotReady::NotSteady(format!(
            "the frequency was {f:.2} Hz {:.0} min ago (now {frequency_hz:.2} Hz): the well is still settling",
            (newest_ts - ts) as f64 / 60_000.0
        )));
    }
    let Some(intake_psi) = mean(&in_window) else {
        return Err(NotReady::Missing(format!("no `{}` reading in the window", keys.intake_pressure)));
    };
    let trend = slope_per_hour(&in_window);
    let limit = if storage_known { config.steady_pip_psi_per_h } else { config.steady_pip_psi_per_h_uncorrected };
    if trend.abs() > limit {
        return Err(NotReady::NotSteady(format!(
            "the intake pressure is moving {trend:+.1} psi/h over the last {:.0} min (steady: within ±{limit:.1} psi/h)",
            window as f64 / 60_000.0,
        )));
    }
    let currents = between(&series(readings, &keys.motor_current), start, newest_ts);
    if let Some(mu) = mean(&currents).filter(|m| *m > 0.0) {
        let var = currents.iter().map(|p| (p.1 - mu).powi(2)).sum::<f64>() / currents.len() as f64;
        let cv = var.sqrt() / mu;
        if cv > config.steady_current_cv {
            return Err(NotReady::NotSteady(format!(
                "the motor current varies by {:.1} % (CV; steady: at most {:.1} %)",
                100.0 * cv,
                100.0 * config.steady_current_cv
            )));
        }
    }
    Ok(Observed {
        newest_ts,
        frequency_hz,
        intake_psi,
        intake_trend_psi_per_h: trend,
        discharge_psi: whole(&series(readings, &keys.discharge_pressure)),
        current_a: mean(&currents),
        flow_bpd: whole(&series(readings, &keys.flow_rate)).filter(|q| *q > 0.0),
    })
}
