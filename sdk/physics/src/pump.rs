//! ESP stage curves and the affinity laws.
//!
//! A catalogue gives, for one stage at a base frequency `f₀` (60 or 50 Hz)
//! and for water, the head `h₀(Q)` (ft), the brake horsepower `bhp₀(Q)` (hp)
//! and a recommended operating range `[Q_min, Q_max]` around the
//! best-efficiency point. At frequency `f`, point by point (affinity laws):
//!
//! * `Q = Q₀·f/f₀`, `H = H₀·(f/f₀)²`, `BHP = BHP₀·(f/f₀)³`, so
//!   `h_f(Q) = (f/f₀)²·h₀(Q·f₀/f)` and `bhp_f(Q) = (f/f₀)³·bhp₀(Q·f₀/f)`;
//! * the recommended range scales like the flow: `[Q_min, Q_max]·f/f₀`.
//!   SPE 14349 shows the thrust-safe range narrows above base speed, so the
//!   scaled range is optimistic there.
//!
//! A [`Pump`] is `stages` such stages with a head-degradation factor (1 for
//! a catalogue pump; below 1 for wear, viscosity or gas, as calibrated from
//! a well test). Brake horsepower scales with the liquid's specific gravity
//! and is not degraded. Efficiency is `η = q·H·SG·0.433/(58 775·BHP)`, the
//! hydraulic over the brake horsepower.

use serde::{Deserialize, Serialize};

use crate::curve::Curve;
use crate::numeric::bisect;
use crate::units::{WATER_GRADIENT_PSI_PER_FT, hydraulic_horsepower};
use crate::{PhysicsError, Result, positive};

/// Grid used to locate the open flow and the head peak of a stage curve.
const GRID: usize = 1000;

/// Highest rate searched for the open flow, bbl/d at base frequency.
const MAX_OPEN_FLOW_BPD: f64 = 1.0e7;

/// One stage of a pump model, at its base frequency and for water.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageCurve {
    /// Frequency of the catalogue curve, Hz.
    pub base_frequency_hz: f64,
    /// Head per stage at base frequency, ft, as a function of the rate in bbl/d.
    pub head_ft: Curve,
    /// Brake horsepower per stage at base frequency for water, hp; optional.
    #[serde(default)]
    pub brake_horsepower: Option<Curve>,
    /// Lower end of the recommended operating range at base frequency, bbl/d.
    pub min_flow_bpd: f64,
    /// Upper end of the recommended operating range at base frequency, bbl/d.
    pub max_flow_bpd: f64,
}

impl StageCurve {
    /// Checks the curve: positive frequency and range with `min < max`,
    /// valid curves, positive shut-in head, an open flow (head reaching 0)
    /// and a head that falls monotonically from its peak to the open flow.
    pub fn validate(&self) -> Result<()> {
        positive("base_frequency_hz", self.base_frequency_hz)?;
        positive("min_flow_bpd", self.min_flow_bpd)?;
        positive("max_flow_bpd", self.max_flow_bpd)?;
        if self.min_flow_bpd >= self.max_flow_bpd {
            return Err(PhysicsError::invalid("min_flow_bpd", "must be below `max_flow_bpd`"));
        }
        self.head_ft.validate("head_ft")?;
        if let Some(bhp) = &self.brake_horsepower {
            bhp.validate("brake_horsepower")?;
        }
        if self.head_ft.eval(0.0) <= 0.0 {
            return Err(PhysicsError::invalid("head_ft", "the shut-in head must be positive"));
        }
        let open = self.open_flow_base()?;
        let peak = self.peak_base(open);
        let step = (open - peak) / GRID as f64;
        let mut previous = self.head_ft.eval(peak);
        for i in 1..=GRID {
            let h = self.head_ft.eval(peak + step * i as f64);
            if h > previous + 1e-9 * previous.abs().max(1.0) {
                return Err(PhysicsError::invalid("head_ft", "the head must fall from its peak to the open flow"));
            }
            previous = h;
        }
        Ok(())
    }

    /// Head per stage, ft, at rate `q_bpd` and frequency `f_hz` (affinity laws).
    pub fn head(&self, q_bpd: f64, f_hz: f64) -> f64 {
        let r = f_hz / self.base_frequency_hz;
        r * r * self.head_ft.eval(q_bpd / r)
    }

    /// `d(head per stage)/dq` at `q_bpd`, `f_hz`, ft per bbl/d.
    pub fn head_slope(&self, q_bpd: f64, f_hz: f64) -> f64 {
        let r = f_hz / self.base_frequency_hz;
        r * self.head_ft.slope(q_bpd / r)
    }

    /// Brake horsepower per stage for water, hp, at `q_bpd` and `f_hz`, when
    /// the curve has one.
    pub fn brake_horsepower(&self, q_bpd: f64, f_hz: f64) -> Option<f64> {
        let r = f_hz / self.base_frequency_hz;
        self.brake_horsepower.as_ref().map(|c| r.powi(3) * c.eval(q_bpd / r))
    }

    /// Stage efficiency (0–1) at `q_bpd` and `f_hz`, when the curve has a
    /// brake-horsepower curve: hydraulic power of water lifted by one stage
    /// over its brake horsepower. The same at every frequency for
    /// affinity-related points.
    pub fn efficiency(&self, q_bpd: f64, f_hz: f64) -> Option<f64> {
        let hhp = hydraulic_horsepower(q_bpd, self.head(q_bpd, f_hz) * WATER_GRADIENT_PSI_PER_FT);
        self.brake_horsepower(q_bpd, f_hz).map(|bhp| hhp / bhp)
    }

    /// The recommended operating range at `f_hz`, bbl/d: `[Q_min, Q_max]·f/f₀`.
    pub fn operating_range(&self, f_hz: f64) -> (f64, f64) {
        let r = f_hz / self.base_frequency_hz;
        (self.min_flow_bpd * r, self.max_flow_bpd * r)
    }

    /// The open flow (head 0) at `f_hz`, bbl/d.
    pub fn open_flow(&self, f_hz: f64) -> Result<f64> {
        Ok(self.open_flow_base()? * f_hz / self.base_frequency_hz)
    }

    /// The rate of the highest head at `f_hz`, bbl/d: 0 for a curve that
    /// falls from shut-in, inside the curve for one with a hump. Between it
    /// and the open flow the head falls monotonically.
    pub fn peak_head_flow(&self, f_hz: f64) -> Result<f64> {
        Ok(self.peak_base(self.open_flow_base()?) * f_hz / self.base_frequency_hz)
    }

    /// The rate, bbl/d, at which one stage makes `head_ft` at `f_hz`, on the
    /// falling part of the curve (between the head peak and the open flow).
    /// Errors when the head is above the peak or not positive.
    pub fn rate_for_head(&self, head_ft: f64, f_hz: f64) -> Result<f64> {
        positive("frequency_hz", f_hz)?;
        let open = self.open_flow(f_hz)?;
        let peak = self.peak_head_flow(f_hz)?;
        let top = self.head(peak, f_hz);
        if !(head_ft > 0.0 && head_ft <= top) {
            return Err(PhysicsError::no_solution(format!(
                "a stage head of {head_ft:.3} ft is outside (0, {top:.3}] ft at {f_hz} Hz"
            )));
        }
        Ok(bisect(|q| self.head(q, f_hz) - head_ft, peak, open))
    }

    /// Open flow at base frequency: the first rate above the head peak where
    /// the head reaches 0.
    fn open_flow_base(&self) -> Result<f64> {
        let mut hi = self.max_flow_bpd.max(1.0);
        while self.head_ft.eval(hi) > 0.0 {
            hi *= 2.0;
            if hi > MAX_OPEN_FLOW_BPD {
                return Err(PhysicsError::invalid("head_ft", "the head never reaches 0 (no open flow)"));
            }
        }
        let step = hi / GRID as f64;
        let mut lower = 0.0;
        for i in 1..=GRID {
            let upper = step * i as f64;
            if self.head_ft.eval(upper) <= 0.0 {
                return Ok(bisect(|q| self.head_ft.eval(q), lower, upper));
            }
            lower = upper;
        }
        Ok(hi)
    }

    /// Rate of the highest head on `[0, open]` at base frequency: the best
    /// grid point, refined by golden-section search on its neighbours.
    fn peak_base(&self, open: f64) -> f64 {
        let step = open / GRID as f64;
        let best = (0..=GRID)
            .map(|i| step * i as f64)
            .max_by(|a, b| self.head_ft.eval(*a).total_cmp(&self.head_ft.eval(*b)))
            .unwrap_or(0.0);
        if best <= 0.0 {
            return 0.0;
        }
        let (mut a, mut b) = ((best - step).max(0.0), (best + step).min(open));
        let g = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..80 {
            let (c, d) = (b - g * (b - a), a + g * (b - a));
            if self.head_ft.eval(c) > self.head_ft.eval(d) {
                b = d;
            } else {
                a = c;
            }
        }
        0.5 * (a + b)
    }
}

/// A pump: a number of identical stages with a head-degradation factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pump {
    /// The stage model.
    pub stage: StageCurve,
    /// Number of stages; may be fractional after calibration ("effective stages").
    pub stages: f64,
    /// Head-degradation factor applied to the catalogue head, 1 when new.
    #[serde(default = "one")]
    pub head_factor: f64,
}

fn one() -> f64 {
    1.0
}

impl Pump {
    /// A new (undegraded) pump of `stages` stages.
    pub fn new(stage: StageCurve, stages: f64) -> Self {
        Self { stage, stages, head_factor: 1.0 }
    }

    /// Checks the stage curve, the stage count and the factor (both > 0).
    pub fn validate(&self) -> Result<()> {
        self.stage.validate()?;
        positive("stages", self.stages)?;
        positive("head_factor", self.head_factor)?;
        Ok(())
    }

    /// Effective number of stages, `stages·head_factor`.
    pub fn effective_stages(&self) -> f64 {
        self.stages * self.head_factor
    }

    /// Pump head, ft, at `q_bpd` and `f_hz`. Beyond the open flow it is the
    /// curve's extension (polynomial, or the last table segment), negative:
    /// a well that flows faster than the pump's open flow is restricted by it.
    pub fn head(&self, q_bpd: f64, f_hz: f64) -> f64 {
        self.effective_stages() * self.stage.head(q_bpd, f_hz)
    }

    /// Pressure rise across the pump, psi, for a liquid of the given gradient.
    pub fn pressure_rise(&self, q_bpd: f64, f_hz: f64, gradient_psi_per_ft: f64) -> f64 {
        self.head(q_bpd, f_hz) * gradient_psi_per_ft
    }

    /// Brake horsepower, hp, for a liquid of the given gradient, when the
    /// stage curve has a brake-horsepower curve.
    pub fn brake_horsepower(&self, q_bpd: f64, f_hz: f64, gradient_psi_per_ft: f64) -> Option<f64> {
        let sg = gradient_psi_per_ft / WATER_GRADIENT_PSI_PER_FT;
        self.stage.brake_horsepower(q_bpd, f_hz).map(|bhp| self.stages * bhp * sg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage of the known-answer well: 30·(1.35 − 0.35·(Q/1500)²) ft at 60 Hz.
    fn stage() -> StageCurve {
        StageCurve {
            base_frequency_hz: 60.0,
            head_ft: Curve::polynomial([40.5, 0.0, -10.5 / 1500.0 / 1500.0]),
            brake_horsepower: Some(Curve::polynomial([0.28, 0.000155])),
            min_flow_bpd: 800.0,
            max_flow_bpd: 2000.0,
        }
    }

    #[test]
    fn affinity_laws_map_points() {
        let s = stage();
        // The point (1500 bbl/d, 30 ft, 0.5125 hp) at 60 Hz moves to
        // (1250 bbl/d, 30·(50/60)² = 20.833 ft, 0.5125·(50/60)³ = 0.29659 hp) at 50 Hz.
        assert!((s.head(1250.0, 50.0) - 20.833_333).abs() < 1e-5);
        assert!((s.brake_horsepower(1250.0, 50.0).unwrap() - 0.296_586).abs() < 1e-5);
        assert!((s.efficiency(1250.0, 50.0).unwrap() - s.efficiency(1500.0, 60.0).unwrap()).abs() < 1e-12);
        let (lo, hi) = s.operating_range(45.0);
        assert!((lo - 600.0).abs() < 1e-9 && (hi - 1500.0).abs() < 1e-9);
    }

    #[test]
    fn open_flow_and_inverse() {
        let s = stage();
        s.validate().unwrap();
        // 1.35 = 0.35·(Q/1500)² → Q = 1500·√(1.35/0.35) = 2945.9 bbl/d at 60 Hz.
        let open = 1500.0 * (1.35f64 / 0.35).sqrt();
        assert!((s.open_flow(60.0).unwrap() - open).abs() < 1e-6);
        assert!((s.open_flow(30.0).unwrap() - open / 2.0).abs() < 1e-6);
        assert_eq!(s.peak_head_flow(60.0).unwrap(), 0.0);
        let q = s.rate_for_head(25.0, 55.0).unwrap();
        assert!((s.head(q, 55.0) - 25.0).abs() < 1e-9);
        assert!(s.rate_for_head(41.0, 60.0).is_err(), "above shut-in head");
        assert!(s.rate_for_head(0.0, 60.0).is_err());
    }

    #[test]
    fn humped_curve_inverts_on_the_falling_branch() {
        // Table with a hump: the head peaks at 500 bbl/d.
        let s = StageCurve {
            head_ft: Curve::table([(0.0, 30.0), (500.0, 34.0), (1500.0, 26.0), (2500.0, 0.0)]),
            ..stage()
        };
        s.validate().unwrap();
        assert!((s.peak_head_flow(60.0).unwrap() - 500.0).abs() < 1e-6);
        // 32 ft is made at 250 and 750 bbl/d; the falling branch gives 750.
        assert!((s.rate_for_head(32.0, 60.0).unwrap() - 750.0).abs() < 1e-6);
    }

    #[test]
    fn bad_curves_are_refused() {
        let rising = StageCurve { head_ft: Curve::polynomial([10.0, 0.01]), ..stage() };
        assert!(rising.validate().is_err(), "never reaches 0");
        let wavy = StageCurve {
            head_ft: Curve::table([(0.0, 30.0), (1000.0, 20.0), (1500.0, 25.0), (3000.0, 0.0)]),
            ..stage()
        };
        assert!(wavy.validate().is_err(), "not monotonic after the peak");
        assert!(StageCurve { min_flow_bpd: 2500.0, ..stage() }.validate().is_err());
    }

    #[test]
    fn pump_head_scales_with_stages_and_factor() {
        let mut p = Pump::new(stage(), 300.0);
        let h = p.head(1300.0, 50.0);
        p.head_factor = 0.9;
        assert!((p.head(1300.0, 50.0) - 0.9 * h).abs() < 1e-9);
        assert!((p.pressure_rise(1300.0, 50.0, 0.4) - 0.4 * 0.9 * h).abs() < 1e-9);
        // BHP ∝ SG and not degraded: 0.433 psi/ft is SG 1.
        let bhp = p.brake_horsepower(1300.0, 50.0, 0.433).unwrap();
        assert!((bhp - 300.0 * stage().brake_horsepower(1300.0, 50.0).unwrap()).abs() < 1e-9);
        assert!(p.head(10_000.0, 50.0) < 0.0, "negative beyond the open flow");
    }
}
