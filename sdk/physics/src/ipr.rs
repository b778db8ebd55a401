//! Inflow performance relationships (IPR): the liquid rate a reservoir gives
//! at a flowing bottom-hole pressure `p_wf` (psi, at the perforations).
//!
//! * **Straight line**: `q = J·(p_r − p_wf)`, with the productivity index `J`
//!   in bbl/d/psi.
//! * **Composite Vogel** (Vogel 1968, JPT 20(1):83–92, with the usual
//!   straight-line part above the bubble point `p_b`): above `p_b`,
//!   `q = J·(p_r − p_wf)`; below it, with `q_b = J·(p_r − p_b)` and
//!   `x = p_wf/p_b`, `q = q_b + (J·p_b/1.8)·(1 − 0.2·x − 0.8·x²)`. The slope is
//!   continuous at `p_b`. When `p_r ≤ p_b` (saturated reservoir) `p_b` is
//!   taken as `p_r` and the curve is pure Vogel with `q_max = J·p_r/1.8`.

use serde::{Deserialize, Serialize};

use crate::{PhysicsError, Result, non_negative, positive};

/// An inflow performance relationship.
///
/// In JSON: `{"model": "linear", "reservoir_pressure_psi": 1500,
/// "productivity_index_bpd_per_psi": 1.2}`, or `"model": "vogel"` with
/// `bubble_point_psi` as well.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Ipr {
    /// Straight-line productivity index.
    Linear {
        /// Static reservoir pressure at the perforations, psi.
        reservoir_pressure_psi: f64,
        /// Productivity index, bbl/d per psi of drawdown.
        productivity_index_bpd_per_psi: f64,
    },
    /// Straight line above the bubble point, Vogel below it.
    Vogel {
        /// Static reservoir pressure at the perforations, psi.
        reservoir_pressure_psi: f64,
        /// Productivity index above the bubble point, bbl/d/psi.
        productivity_index_bpd_per_psi: f64,
        /// Bubble-point pressure, psi.
        bubble_point_psi: f64,
    },
}

/// Vogel's dimensionless curve `1 − 0.2·x − 0.8·x²`.
fn vogel(x: f64) -> f64 {
    1.0 - 0.2 * x - 0.8 * x * x
}

impl Ipr {
    /// Static reservoir pressure, psi.
    pub fn reservoir_pressure_psi(&self) -> f64 {
        match *self {
            Self::Linear { reservoir_pressure_psi, .. } | Self::Vogel { reservoir_pressure_psi, .. } => {
                reservoir_pressure_psi
            }
        }
    }

    /// Productivity index (above the bubble point), bbl/d/psi.
    pub fn productivity_index(&self) -> f64 {
        match *self {
            Self::Linear { productivity_index_bpd_per_psi, .. }
            | Self::Vogel { productivity_index_bpd_per_psi, .. } => productivity_index_bpd_per_psi,
        }
    }

    /// The bubble point in effect, `min(p_b, p_r)`; 0 for a straight line.
    fn bubble_point(&self) -> f64 {
        match *self {
            Self::Linear { .. } => 0.0,
            Self::Vogel { reservoir_pressure_psi, bubble_point_psi, .. } => {
                bubble_point_psi.min(reservoir_pressure_psi)
            }
        }
    }

    /// Checks that the pressures are ≥ 0 (reservoir > 0) and the index > 0.
    pub fn validate(&self) -> Result<()> {
        positive("reservoir_pressure_psi", self.reservoir_pressure_psi())?;
        positive("productivity_index_bpd_per_psi", self.productivity_index())?;
        if let Self::Vogel { bubble_point_psi, .. } = *self {
            non_negative("bubble_point_psi", bubble_point_psi)?;
        }
        Ok(())
    }

    /// Liquid rate, bbl/d, at flowing bottom-hole pressure `pwf_psi`.
    /// Negative above the reservoir pressure (the well would take liquid);
    /// below 0 psi the rate at 0 psi (the absolute open flow).
    pub fn rate(&self, pwf_psi: f64) -> f64 {
        let (pr, j, pb) = (self.reservoir_pressure_psi(), self.productivity_index(), self.bubble_point());
        let p = pwf_psi.max(0.0);
        if p >= pb || pb <= 0.0 { j * (pr - p) } else { j * (pr - pb) + j * pb / 1.8 * vogel(p / pb) }
    }

    /// `dq/dp_wf`, bbl/d per psi (negative).
    pub fn slope(&self, pwf_psi: f64) -> f64 {
        let (j, pb) = (self.productivity_index(), self.bubble_point());
        let p = pwf_psi.max(0.0);
        if p >= pb || pb <= 0.0 { -j } else { -j * (0.2 + 1.6 * p / pb) / 1.8 }
    }

    /// Absolute open flow: the rate at `p_wf = 0`, bbl/d.
    pub fn absolute_open_flow(&self) -> f64 {
        self.rate(0.0)
    }

    /// The flowing bottom-hole pressure, psi, that gives `rate_bpd`: the
    /// inverse of [`Ipr::rate`]. Errors above the absolute open flow.
    pub fn pwf(&self, rate_bpd: f64) -> Result<f64> {
        let (pr, j, pb) = (self.reservoir_pressure_psi(), self.productivity_index(), self.bubble_point());
        let aof = self.absolute_open_flow();
        if !rate_bpd.is_finite() || rate_bpd > aof * (1.0 + 1e-12) {
            return Err(PhysicsError::no_solution(format!(
                "{rate_bpd} bbl/d is above the absolute open flow {aof:.1} bbl/d"
            )));
        }
        let q_b = j * (pr - pb);
        if rate_bpd <= q_b || pb <= 0.0 {
            return Ok(pr - rate_bpd / j);
        }
        // 0.8·x² + 0.2·x − (1 − y) = 0 with y = (q − q_b)·1.8/(J·p_b).
        let y = ((rate_bpd - q_b) * 1.8 / (j * pb)).min(1.0);
        let x = (-0.2 + (0.04 + 3.2 * (1.0 - y)).sqrt()) / 1.6;
        Ok(x * pb)
    }

    /// The same model with the productivity index changed so that it passes
    /// through `(pwf_psi, rate_bpd)`, keeping the reservoir pressure (a well
    /// test with a known static pressure).
    pub fn through_point_keeping_pressure(&self, rate_bpd: f64, pwf_psi: f64) -> Result<Self> {
        positive("rate_bpd", rate_bpd)?;
        non_negative("pwf_psi", pwf_psi)?;
        let pr = self.reservoir_pressure_psi();
        if pwf_psi >= pr {
            return Err(PhysicsError::invalid(
                "pwf_psi",
                format!("{pwf_psi} psi is not below the reservoir pressure {pr} psi"),
            ));
        }
        // The rate is proportional to J for a fixed p_r, so rescale J.
        let unit = self.with(pr, 1.0).rate(pwf_psi);
        Ok(self.with(pr, rate_bpd / unit))
    }

    /// The same model with the reservoir pressure changed so that it passes
    /// through `(pwf_psi, rate_bpd)`, keeping the productivity index.
    pub fn through_point_keeping_pi(&self, rate_bpd: f64, pwf_psi: f64) -> Result<Self> {
        non_negative("rate_bpd", rate_bpd)?;
        non_negative("pwf_psi", pwf_psi)?;
        let j = self.productivity_index();
        let pr = match *self {
            Self::Linear { .. } => pwf_psi + rate_bpd / j,
            Self::Vogel { bubble_point_psi: pb, .. } if pwf_psi >= pb => pwf_psi + rate_bpd / j,
            Self::Vogel { bubble_point_psi: pb, .. } => {
                let undersaturated = pb + rate_bpd / j - pb / 1.8 * vogel(pwf_psi / pb);
                if undersaturated >= pb {
                    undersaturated
                } else {
                    // Saturated (p_b = p_r): p_r² − (0.2·p + 1.8·q/J)·p_r − 0.8·p² = 0.
                    let b = 0.2 * pwf_psi + 1.8 * rate_bpd / j;
                    0.5 * (b + (b * b + 3.2 * pwf_psi * pwf_psi).sqrt())
                }
            }
        };
        Ok(self.with(pr, j))
    }

    /// The same model kind and bubble point with another `p_r` and `J`.
    fn with(&self, reservoir_pressure_psi: f64, productivity_index_bpd_per_psi: f64) -> Self {
        match *self {
            Self::Linear { .. } => Self::Linear { reservoir_pressure_psi, productivity_index_bpd_per_psi },
            Self::Vogel { bubble_point_psi, .. } => {
                Self::Vogel { reservoir_pressure_psi, productivity_index_bpd_per_psi, bubble_point_psi }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vogel_well() -> Ipr {
        Ipr::Vogel { reservoir_pressure_psi: 2500.0, productivity_index_bpd_per_psi: 1.0, bubble_point_psi: 1800.0 }
    }

    #[test]
    fn straight_line() {
        let ipr = Ipr::Linear { reservoir_pressure_psi: 1500.0, productivity_index_bpd_per_psi: 1.2 };
        assert!((ipr.rate(420.0) - 1296.0).abs() < 1e-9);
        assert!((ipr.pwf(1296.0).unwrap() - 420.0).abs() < 1e-9);
        assert!((ipr.absolute_open_flow() - 1800.0).abs() < 1e-9);
        assert!(ipr.pwf(1800.1).is_err());
    }

    #[test]
    fn composite_vogel_by_hand() {
        // q_b = 1·(2500 − 1800) = 700; at p_wf = 900, x = 0.5:
        // q = 700 + 1800/1.8·(1 − 0.1 − 0.2) = 700 + 1000·0.7 = 1400.
        let ipr = vogel_well();
        assert!((ipr.rate(2000.0) - 500.0).abs() < 1e-9);
        assert!((ipr.rate(900.0) - 1400.0).abs() < 1e-9);
        assert!((ipr.absolute_open_flow() - 1700.0).abs() < 1e-9);
        // Slope continuous at the bubble point: −J on both sides.
        assert!((ipr.slope(1800.0 - 1e-9) - (-1.0)).abs() < 1e-6);
    }

    #[test]
    fn inverse_round_trips_and_slope_matches_differences() {
        for ipr in [vogel_well(), Ipr::Linear { reservoir_pressure_psi: 900.0, productivity_index_bpd_per_psi: 0.4 }] {
            for i in 1..40 {
                let p = ipr.reservoir_pressure_psi() * f64::from(i) / 40.0;
                let q = ipr.rate(p);
                assert!((ipr.pwf(q).unwrap() - p).abs() < 1e-7, "{ipr:?} at {p}");
                let numeric = (ipr.rate(p + 1e-4) - ipr.rate(p - 1e-4)) / 2e-4;
                assert!((ipr.slope(p) - numeric).abs() < 1e-5, "{ipr:?} at {p}");
            }
        }
    }

    #[test]
    fn calibration_through_a_test_point() {
        let ipr = vogel_well();
        // Keep p_r: J doubles when the rate at the same p_wf doubles.
        let j2 = ipr.through_point_keeping_pressure(2.0 * ipr.rate(900.0), 900.0).unwrap();
        assert!((j2.productivity_index() - 2.0).abs() < 1e-12);
        // Keep J: undersaturated, Vogel part, and saturated cases all pass through the point.
        for (q, p) in [(300.0, 2000.0), (1000.0, 900.0), (600.0, 200.0)] {
            let fitted = ipr.through_point_keeping_pi(q, p).unwrap();
            assert!((fitted.rate(p) - q).abs() < 1e-8, "{fitted:?} at ({q}, {p})");
            assert_eq!(fitted.productivity_index(), 1.0);
        }
        // 600 bbl/d at 200 psi needs p_r below the 1800 psi bubble point.
        assert!(ipr.through_point_keeping_pi(600.0, 200.0).unwrap().reservoir_pressure_psi() < 1800.0);
        assert!(ipr.through_point_keeping_pressure(100.0, 2600.0).is_err());
    }
}
