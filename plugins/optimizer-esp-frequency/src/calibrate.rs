//! Calibrating the nodal model to the well, after Camilleri & Zhou (2011,
//! SPE-145542): gauge data at a known rate fix the pump's effective head,
//! the pump then meters the rate, and the inflow is moved through the
//! current point.
//!
//! 1. **Motor**: the measured current at the current frequency (`I ∝ f²` at
//!    constant V/Hz); without a current reading, the nameplate power against
//!    the pump's brake horsepower; with neither, no recommendation.
//! 2. **Pump** (its head factor or stage count, as the static data says):
//!    from the latest well test if it is younger than
//!    `well_test_max_age_days`; else from the current point if a flow meter
//!    reads the rate; else the catalogue pump as given. The pressure rise is
//!    the measured discharge minus PIP when a discharge pressure is read (in
//!    the test, or now), else the tubing model's.
//! 3. **Current rate**: the flow meter; else the pump curve read as a meter
//!    from the measured pressure rise (virtual flow metering); else the rate
//!    the pump and tubing deliver at the measured PIP.
//! 4. **Inflow**: moved through (current inflow, PIP), fitting the
//!    reservoir pressure (default) or the productivity index. The inflow is
//!    the pump's rate plus what the annulus gives up or takes,
//!    `q_in = q_pump + C·dPIP/dt` (C the annulus capacity from the casing ID
//!    and tubing OD, dPIP/dt the window's trend), so that a transient not
//!    yet settled does not bias the reservoir; without the tubing OD, `C = 0`.
//! 5. **Residual**, from checks the calibration did not use: the pump's
//!    pressure rise at the metered rate against the measured one (when the
//!    pump came from the well test or the catalogue and a meter reads the
//!    rate), and the tubing model's discharge pressure against the gauge
//!    (when one reads it and the rate did not come from the tubing model).
//!    The residual is the larger relative error; `None` when nothing could
//!    be cross-checked.

use nexus_physics::esp::calibrate::{PumpFit, WellTest};
use nexus_physics::esp::{EspWell, Motor, Regime};
use nexus_physics::vfm::rate_from_pressure_rise;

use crate::config::Config;
use crate::observe::Observed;
use crate::static_data::Model;

/// Milliseconds per day.
const DAY_MS: f64 = 86_400_000.0;

/// Where the pump calibration came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PumpSource {
    /// The well test, this many days old.
    WellTest {
        /// Age of the test, days.
        age_days: f64,
    },
    /// The current point (metered rate).
    CurrentPoint,
    /// The catalogue pump and the static stage count and factor.
    Catalogue,
}

/// Where the current rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSource {
    /// A flow meter reading.
    Meter,
    /// The pump curve read as a meter from the measured pressure rise.
    PumpCurve,
    /// The pump and tubing model at the measured intake pressure.
    PumpAndTubing,
}

/// The calibrated well.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrated {
    /// The calibrated nodal model.
    pub well: EspWell,
    /// Where the pump calibration came from.
    pub pump_source: PumpSource,
    /// Where the current rate came from.
    pub rate_source: RateSource,
    /// The current liquid rate through the pump, bbl/d.
    pub rate_bpd: f64,
    /// The current inflow from the reservoir (the pump's rate corrected for
    /// the annulus storage), bbl/d.
    pub inflow_bpd: f64,
    /// Largest relative error of the independent checks, if any.
    pub residual: Option<f64>,
}

/// Calibrates `model` to the observed state at `now_ms`.
pub fn calibrate(config: &Config, model: &Model, seen: &Observed, now_ms: i64) -> Result<Calibrated, String> {
    let mut well = model.well.clone();
    let f = seen.frequency_hz;
    let pip = seen.intake_psi;
    well.motor = match seen.current_a {
        Some(current_a) => {
            Motor::MeasuredCurrent { current_a, frequency_hz: f, nameplate_current_a: model.nameplate_current_a }
        }
        None if model.nameplate_motor => well.motor,
        None => {
            return Err(format!(
                "no `{}` reading, and without the motor's nameplate hp and a brake-horsepower curve its load cannot be projected",
                config.keys.motor_current
            ));
        }
    };
    let test = model.test.filter(|(_, ts)| (now_ms - ts) as f64 <= config.well_test_max_age_days * DAY_MS);
    let fit = |well: &mut EspWell, point: &WellTest, fit: PumpFit| {
        well.calibrate_pump(point, fit).map(|_| ()).map_err(|e| format!("pump calibration: {e}"))
    };
    let pump_source = match (model.pump_fit, test, seen.flow_bpd) {
        (Some(pump_fit), Some((point, ts)), _) => {
            fit(&mut well, &point, pump_fit)?;
            PumpSource::WellTest { age_days: ((now_ms - ts) as f64 / DAY_MS).max(0.0) }
        }
        (Some(pump_fit), None, Some(q)) => {
            let point = WellTest { discharge_pressure_psi: seen.discharge_psi, ..WellTest::new(f, q, pip) };
            fit(&mut well, &point, pump_fit)?;
            PumpSource::CurrentPoint
        }
        _ if model.stages_known => PumpSource::Catalogue,
        _ => {
            return Err(format!(
                "the stage count is not given and there is neither a well test nor a `{}` reading to calibrate it",
                config.keys.flow_rate
            ));
        }
    };
    let gradient = well.fluid.gradient_psi_per_ft;
    let (rate_bpd, rate_source) = match (seen.flow_bpd, seen.discharge_psi) {
        (Some(q), _) => (q, RateSource::Meter),
        (None, Some(pd)) => {
            let estimate = rate_from_pressure_rise(&well.pump, f, pd - pip, gradient)
                .map_err(|e| format!("metering the rate from the pump: {e}"))?;
            (estimate.rate_bpd, RateSource::PumpCurve)
        }
        (None, None) => {
            let q = well.pump_rate_at_intake(f, pip).map_err(|e| format!("pump rate: {e}"))?;
            (q, RateSource::PumpAndTubing)
        }
    };
    if rate_bpd <= 0.0 {
        return Err(format!("by the model the pump lifts nothing at {f:.2} Hz and {pip:.0} psi intake"));
    }
    let mut checks = Vec::new();
    if rate_source == RateSource::Meter && pump_source != PumpSource::CurrentPoint {
        let needed = seen.discharge_psi.unwrap_or_else(|| well.discharge_pressure(rate_bpd)) - pip;
        if needed > 0.0 {
            checks.push((well.pump_pressure_rise(rate_bpd, f) - needed).abs() / needed);
        }
    }
    if let (Some(pd), true) = (seen.discharge_psi, rate_source != RateSource::PumpAndTubing) {
        checks.push((well.discharge_pressure(rate_bpd) - pd).abs() / pd.max(1.0));
    }
    let storage_bpd = model.annulus_bbl_per_psi.unwrap_or(0.0) * seen.intake_trend_psi_per_h * 24.0;
    let inflow_bpd = rate_bpd + storage_bpd;
    well.calibrate_ipr(&WellTest::new(f, inflow_bpd, pip), model.ipr_fit)
        .map_err(|e| format!("inflow calibration: {e}"))?;
    well.validate().map_err(|e| format!("calibrated model: {e}"))?;
    let point = well.operating_point(f).map_err(|e| format!("operating point: {e}"))?;
    if point.regime != Regime::Producing {
        return Err(format!("the calibrated model does not produce at {f:.2} Hz ({:?})", point.regime));
    }
    let residual = checks.into_iter().reduce(f64::max);
    Ok(Calibrated { well, pump_source, rate_source, rate_bpd, inflow_bpd, residual })
}
