//! Virtual flow metering from the pump (Camilleri & Zhou 2011, SPE-145542):
//! the pump's head curve is a flow meter. From the measured pressure rise
//! `ΔP = P_discharge − PIP` (psi), the liquid gradient `G` (psi/ft) and the
//! effective stage count `N·k`, one stage makes `h = ΔP/(G·N·k)` ft; the
//! rate is the `q` on the falling part of the stage curve at the drive
//! frequency `f` where `h_f(q) = h`, `h_f(q) = (f/f₀)²·h₀(q·f₀/f)`.
//!
//! The estimate is only as good as the curve is steep: its sensitivity is
//! `|d ln q / d ln ΔP| = h/(q·|dh/dq|)`, the percent rate error per percent
//! of pressure error. Near shut-in a flat curve makes it large.
//!
//! Quality (engineering judgement): `Good` on the falling branch inside the recommended range;
//! `OutsideOperatingRange` outside it (the catalogue curve is least certain
//! there, and a pump in thrust wears); `Ambiguous` when the head is also
//! made at a lower rate on the rising part of a humped curve. The
//! confidence is 1.0, 0.7 and 0.3 for these, divided by the sensitivity when
//! it exceeds 1.

use serde::{Deserialize, Serialize};

use crate::pump::Pump;
use crate::{Result, positive};

/// How far an estimate can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VfmQuality {
    /// On the falling part of the curve, inside the recommended range.
    Good,
    /// On the falling part of the curve, outside the recommended range.
    OutsideOperatingRange,
    /// The head is also made at a lower rate (a humped curve): two answers.
    Ambiguous,
}

/// A metered rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VfmEstimate {
    /// Liquid rate through the pump, bbl/d.
    pub rate_bpd: f64,
    /// Head per stage the pressure rise implies, ft.
    pub head_per_stage_ft: f64,
    /// Quality class.
    pub quality: VfmQuality,
    /// Percent rate error per percent pressure-rise error, `|d ln q / d ln ΔP|`.
    pub sensitivity: f64,
    /// Confidence, 0–1.
    pub confidence: f64,
}

/// The liquid rate through `pump` at `frequency_hz` from the measured
/// pressure rise `pressure_rise_psi` of a liquid of gradient
/// `gradient_psi_per_ft`. Errors when the implied head is not positive or
/// is above the highest head the pump makes at that frequency.
pub fn rate_from_pressure_rise(
    pump: &Pump,
    frequency_hz: f64,
    pressure_rise_psi: f64,
    gradient_psi_per_ft: f64,
) -> Result<VfmEstimate> {
    pump.validate()?;
    positive("frequency_hz", frequency_hz)?;
    positive("gradient_psi_per_ft", gradient_psi_per_ft)?;
    positive("pressure_rise_psi", pressure_rise_psi)?;
    let stage = &pump.stage;
    let head = pressure_rise_psi / (gradient_psi_per_ft * pump.effective_stages());
    let q = stage.rate_for_head(head, frequency_hz)?;
    let slope = stage.head_slope(q, frequency_hz);
    let sensitivity = if slope < 0.0 { head / (q * -slope) } else { f64::INFINITY };
    let (lo, hi) = stage.operating_range(frequency_hz);
    let peak = stage.peak_head_flow(frequency_hz)?;
    let quality = if peak > 0.0 && head > stage.head(0.0, frequency_hz) {
        VfmQuality::Ambiguous
    } else if q < lo || q > hi {
        VfmQuality::OutsideOperatingRange
    } else {
        VfmQuality::Good
    };
    let base = match quality {
        VfmQuality::Good => 1.0,
        VfmQuality::OutsideOperatingRange => 0.7,
        VfmQuality::Ambiguous => 0.3,
    };
    Ok(VfmEstimate {
        rate_bpd: q,
        head_per_stage_ft: head,
        quality,
        sensitivity,
        confidence: base / sensitivity.max(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::Curve;
    use crate::pump::StageCurve;

    fn pump(head_ft: Curve) -> Pump {
        let stage = StageCurve {
            base_frequency_hz: 60.0,
            head_ft,
            brake_horsepower: None,
            min_flow_bpd: 800.0,
            max_flow_bpd: 2000.0,
        };
        Pump::new(stage, 100.0)
    }

    #[test]
    fn round_trip_on_a_table_curve() {
        let p = pump(Curve::table([(0.0, 40.0), (1000.0, 36.0), (2000.0, 24.0), (3000.0, 0.0)]));
        // 1500 bbl/d at 60 Hz makes 30 ft/stage: ΔP = 30·100·0.4 = 1200 psi.
        let e = rate_from_pressure_rise(&p, 60.0, 1200.0, 0.4).unwrap();
        assert!((e.rate_bpd - 1500.0).abs() < 1e-6, "{e:?}");
        assert_eq!(e.quality, VfmQuality::Good);
        // Slope −0.012 ft per bbl/d: sensitivity 30/(1500·0.012) = 1.667.
        assert!((e.sensitivity - 30.0 / 18.0).abs() < 1e-6);
        assert!((e.confidence - 0.6).abs() < 1e-6);
    }

    #[test]
    fn flat_top_of_the_curve_is_outside_the_range_and_uncertain() {
        let p = pump(Curve::table([(0.0, 40.0), (1000.0, 36.0), (2000.0, 24.0), (3000.0, 0.0)]));
        // 38 ft/stage at 60 Hz: 500 bbl/d, below Q_min = 800.
        let e = rate_from_pressure_rise(&p, 60.0, 38.0 * 100.0 * 0.4, 0.4).unwrap();
        assert!((e.rate_bpd - 500.0).abs() < 1e-6);
        assert_eq!(e.quality, VfmQuality::OutsideOperatingRange);
        // Slope −0.004: sensitivity 38/(500·0.004) = 19.
        assert!((e.sensitivity - 19.0).abs() < 1e-6);
        assert!(e.confidence < 0.05);
    }

    #[test]
    fn humped_curve_is_ambiguous_and_impossible_heads_fail() {
        let p = pump(Curve::table([(0.0, 30.0), (500.0, 34.0), (1500.0, 26.0), (2500.0, 0.0)]));
        let e = rate_from_pressure_rise(&p, 60.0, 32.0 * 40.0, 0.4).unwrap();
        assert!((e.rate_bpd - 750.0).abs() < 1e-6);
        assert_eq!(e.quality, VfmQuality::Ambiguous);
        assert!(rate_from_pressure_rise(&p, 60.0, 35.0 * 40.0, 0.4).is_err(), "above the peak");
        assert!(rate_from_pressure_rise(&p, 60.0, 0.0, 0.4).is_err());
        assert!(rate_from_pressure_rise(&p, 60.0, 100.0, 0.0).is_err());
    }
}
