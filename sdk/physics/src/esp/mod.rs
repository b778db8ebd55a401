//! The nodal ESP well: where the pump curve meets the system curve and the
//! inflow (IPR).
//!
//! At a rate `q` (bbl/d) and a frequency `f`:
//!
//! * inflow: `p_wf(q)` from the [`Ipr`], and the pump-intake pressure
//!   `PIP = p_wf − G·(D_perf − D_pump)` with the liquid gradient `G` (psi/ft);
//! * system: the discharge pressure the tubing needs,
//!   `P_d(q) = THP + G·D_pump + ΔP_fric,ref·(q/q_ref)²`;
//! * pump: the pressure rise `ΔP_pump(q, f) = N·k·h_f(q)·G` ([`Pump`]).
//!
//! The operating point solves `ΔP_pump(q, f) = P_d(q) − PIP(q)` for
//! `0 ≤ q ≤ q_in(PIP = 0)`; when several rates do (a stage curve with a
//! hump) it is the largest, the stable one. Past the pump's open flow the
//! head curve is extended (negative head): a well that would flow faster
//! than that is restricted by the pump and shows as upthrust. No solution
//! means no flow ([`Regime::NoFlow`]); a pump that could take more than the
//! reservoir gives at 0 psi intake is pumped off ([`Regime::PumpedOff`]). [`calibrate`] fits the pump and the IPR to a well test; [`envelope`]
//! checks a frequency against every operating limit and finds the best one.

pub mod calibrate;
pub mod envelope;
mod motor;

pub use motor::Motor;

use serde::{Deserialize, Serialize};

use crate::ipr::Ipr;
use crate::numeric::{bisect, largest_root_below};
use crate::pump::Pump;
use crate::units::{WATER_GRADIENT_PSI_PER_FT, annular_velocity_ft_per_s, hydraulic_horsepower};
use crate::{PhysicsError, Result, non_negative, positive};

/// Grid of the scan for the largest root of the nodal balance.
const SCAN: usize = 400;

/// The produced liquid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fluid {
    /// Pressure gradient of the liquid column, psi/ft.
    pub gradient_psi_per_ft: f64,
    /// Water cut, fraction of the liquid (0–1); splits rate changes into oil and water.
    pub water_cut: f64,
}

impl Fluid {
    /// The mixture of oil and water of the given specific gravities (water
    /// = 1.0): gradient `0.433·(wc·SG_w + (1 − wc)·SG_o)` psi/ft.
    pub fn from_specific_gravities(water_cut: f64, oil_sg: f64, water_sg: f64) -> Self {
        let sg = water_cut * water_sg + (1.0 - water_cut) * oil_sg;
        Self { gradient_psi_per_ft: WATER_GRADIENT_PSI_PER_FT * sg, water_cut }
    }

    /// Specific gravity of an oil of the given API gravity: `141.5/(131.5 + °API)`.
    pub fn oil_specific_gravity(api_degrees: f64) -> f64 {
        141.5 / (131.5 + api_degrees)
    }
}

/// Tubing friction loss, growing with the square of the rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TubingFriction {
    /// Friction loss at the reference rate, psi.
    pub loss_psi: f64,
    /// The reference rate, bbl/d.
    pub at_rate_bpd: f64,
}

impl TubingFriction {
    /// Friction loss, psi, at `q_bpd`: `loss·(q/q_ref)²`.
    pub fn loss(&self, q_bpd: f64) -> f64 {
        self.loss_psi * (q_bpd / self.at_rate_bpd).powi(2)
    }
}

/// How the pump is running at an operating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Pump, tubing and inflow balance at a positive rate.
    Producing,
    /// The pump cannot lift the column: no flow, PIP at its static value.
    NoFlow,
    /// The pump could take more than the well gives even at 0 psi intake:
    /// the intake is pumped off (PIP 0) and the rate is the inflow at that pressure.
    PumpedOff,
}

/// Where the rate sits against the recommended operating range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangePosition {
    /// Below `Q_min(f)`: downthrust.
    Downthrust,
    /// Inside `[Q_min(f), Q_max(f)]`.
    Inside,
    /// Above `Q_max(f)`: upthrust.
    Upthrust,
}

/// The solved state of the well at one frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// Drive frequency, Hz.
    pub frequency_hz: f64,
    /// How the pump is running.
    pub regime: Regime,
    /// Liquid rate, bbl/d.
    pub rate_bpd: f64,
    /// Pump-intake pressure, psi.
    pub intake_pressure_psi: f64,
    /// Flowing bottom-hole pressure at the perforations, psi.
    pub bottomhole_pressure_psi: f64,
    /// Pump discharge pressure, psi.
    pub discharge_pressure_psi: f64,
    /// Head the pump makes, ft: its curve at this rate (the shut-in head with
    /// no flow; the lift the tubing needs when pumped off).
    pub pump_head_ft: f64,
    /// Hydraulic power given to the liquid, hp.
    pub hydraulic_horsepower: f64,
    /// Pump brake horsepower, hp, when the stage curve has one.
    pub brake_horsepower: Option<f64>,
    /// Pump efficiency (0–1), when the stage curve has brake horsepower.
    pub efficiency: Option<f64>,
    /// Motor load, fraction of nameplate.
    pub motor_load: f64,
    /// Motor current, A.
    pub motor_current_a: f64,
    /// Liquid velocity past the motor, ft/s.
    pub cooling_velocity_ft_s: f64,
    /// Recommended range at this frequency, bbl/d: `(Q_min(f), Q_max(f))`.
    pub operating_range_bpd: (f64, f64),
    /// Where the rate sits against that range.
    pub range_position: RangePosition,
    /// `(q − Q_min)/(Q_max − Q_min)`: 0 at `Q_min`, 1 at `Q_max`.
    pub range_fraction: f64,
}

/// An ESP well for nodal analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EspWell {
    /// The pump.
    pub pump: Pump,
    /// The reservoir inflow, at the perforations.
    pub ipr: Ipr,
    /// Pump (intake) depth, ft TVD.
    pub pump_depth_ft: f64,
    /// Mid-perforation depth, ft TVD; at or below the pump.
    pub perforation_depth_ft: f64,
    /// The liquid.
    pub fluid: Fluid,
    /// Tubing-head pressure, psi.
    pub tubing_head_pressure_psi: f64,
    /// Tubing friction.
    pub friction: TubingFriction,
    /// Motor load model.
    pub motor: Motor,
    /// Casing inner diameter at the motor, in.
    pub casing_id_in: f64,
    /// Motor outer diameter, in.
    pub motor_od_in: f64,
}

impl EspWell {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<()> {
        self.pump.validate()?;
        self.ipr.validate()?;
        positive("pump_depth_ft", self.pump_depth_ft)?;
        if !self.perforation_depth_ft.is_finite() || self.perforation_depth_ft < self.pump_depth_ft {
            return Err(PhysicsError::invalid("perforation_depth_ft", "must be finite and at or below the pump"));
        }
        positive("gradient_psi_per_ft", self.fluid.gradient_psi_per_ft)?;
        if !(0.0..=1.0).contains(&self.fluid.water_cut) {
            return Err(PhysicsError::invalid("water_cut", "must be within 0–1"));
        }
        non_negative("tubing_head_pressure_psi", self.tubing_head_pressure_psi)?;
        non_negative("friction.loss_psi", self.friction.loss_psi)?;
        positive("friction.at_rate_bpd", self.friction.at_rate_bpd)?;
        positive("motor_od_in", self.motor_od_in)?;
        if !self.casing_id_in.is_finite() || self.casing_id_in <= self.motor_od_in {
            return Err(PhysicsError::invalid("casing_id_in", "must be finite and larger than the motor OD"));
        }
        self.motor.validate()?;
        if matches!(self.motor, Motor::Nameplate { .. }) && self.pump.stage.brake_horsepower.is_none() {
            return Err(PhysicsError::invalid("motor", "a nameplate motor needs a brake-horsepower curve"));
        }
        Ok(())
    }

    /// Hydrostatic difference between the perforations and the intake, psi.
    fn sump_psi(&self) -> f64 {
        self.fluid.gradient_psi_per_ft * (self.perforation_depth_ft - self.pump_depth_ft)
    }

    /// Flowing bottom-hole pressure, psi, for an intake pressure.
    pub fn bottomhole_from_intake(&self, intake_psi: f64) -> f64 {
        intake_psi + self.sump_psi()
    }

    /// Intake pressure, psi, with the well shut in (no flow).
    pub fn static_intake_pressure(&self) -> f64 {
        self.ipr.reservoir_pressure_psi() - self.sump_psi()
    }

    /// Liquid inflow, bbl/d, at an intake pressure (the IPR seen from the pump).
    pub fn inflow_at_intake(&self, intake_psi: f64) -> f64 {
        self.ipr.rate(self.bottomhole_from_intake(intake_psi))
    }

    /// Discharge pressure, psi, the tubing needs to carry `q_bpd` to surface.
    pub fn discharge_pressure(&self, q_bpd: f64) -> f64 {
        self.tubing_head_pressure_psi + self.fluid.gradient_psi_per_ft * self.pump_depth_ft + self.friction.loss(q_bpd)
    }

    /// Pump pressure rise, psi, at `q_bpd` and `f_hz`.
    pub fn pump_pressure_rise(&self, q_bpd: f64, f_hz: f64) -> f64 {
        self.pump.pressure_rise(q_bpd, f_hz, self.fluid.gradient_psi_per_ft)
    }

    /// The rate, bbl/d, the pump delivers into the tubing at `f_hz` when its
    /// intake is held at `intake_psi` (the pump and tubing alone, no IPR); 0
    /// when it cannot lift the column.
    pub fn pump_rate_at_intake(&self, f_hz: f64, intake_psi: f64) -> Result<f64> {
        self.pump_rate_with_factor(f_hz, intake_psi, 1.0)
    }

    /// [`EspWell::pump_rate_at_intake`] with the head multiplied by `factor`.
    pub(crate) fn pump_rate_with_factor(&self, f_hz: f64, intake_psi: f64, factor: f64) -> Result<f64> {
        let balance = |q| factor * self.pump_pressure_rise(q, f_hz) - self.discharge_pressure(q) + intake_psi;
        // Past the open flow the head is negative; a high enough intake
        // pressure still pushes liquid through, so widen until the balance fails.
        let mut hi = self.pump.stage.open_flow(f_hz)?;
        while balance(hi) > 0.0 {
            hi *= 2.0;
            if hi > 1e8 {
                return Err(PhysicsError::no_solution(format!("no finite pump rate at {intake_psi} psi intake")));
            }
        }
        Ok(largest_root_below(balance, hi, SCAN).unwrap_or(0.0))
    }

    /// Solves the operating point at `f_hz`.
    pub fn operating_point(&self, f_hz: f64) -> Result<OperatingPoint> {
        self.validate()?;
        positive("frequency_hz", f_hz)?;
        let pumped_off_rate = self.inflow_at_intake(0.0);
        let intake = |q: f64| self.ipr.pwf(q).map_or(f64::NEG_INFINITY, |p| p - self.sump_psi());
        let balance = |q: f64| self.pump_pressure_rise(q, f_hz) - self.discharge_pressure(q) + intake(q);
        let hi = pumped_off_rate;
        if balance(hi) > 0.0 {
            return self.point(f_hz, Regime::PumpedOff, pumped_off_rate, 0.0);
        }
        match largest_root_below(balance, hi, SCAN) {
            Some(q) => self.point(f_hz, Regime::Producing, q, intake(q)),
            None => self.point(f_hz, Regime::NoFlow, 0.0, self.static_intake_pressure()),
        }
    }

    /// Builds the reported point from a rate and an intake pressure.
    fn point(&self, f_hz: f64, regime: Regime, q: f64, intake_psi: f64) -> Result<OperatingPoint> {
        let gradient = self.fluid.gradient_psi_per_ft;
        let discharge = self.discharge_pressure(q);
        let head = match regime {
            Regime::Producing | Regime::NoFlow => self.pump.head(q, f_hz),
            // Partly gas-filled: it lifts only what the tubing needs.
            Regime::PumpedOff => (discharge - intake_psi) / gradient,
        };
        let brake = self.pump.brake_horsepower(q, f_hz, gradient);
        let hydraulic = hydraulic_horsepower(q, discharge - intake_psi);
        let (motor_load, motor_current_a) = self.motor.load(f_hz, brake)?;
        let (lo, hi) = self.pump.stage.operating_range(f_hz);
        let range_position = if q < lo {
            RangePosition::Downthrust
        } else if q > hi {
            RangePosition::Upthrust
        } else {
            RangePosition::Inside
        };
        Ok(OperatingPoint {
            frequency_hz: f_hz,
            regime,
            rate_bpd: q,
            intake_pressure_psi: intake_psi,
            bottomhole_pressure_psi: self.bottomhole_from_intake(intake_psi),
            discharge_pressure_psi: discharge,
            pump_head_ft: head,
            hydraulic_horsepower: hydraulic,
            brake_horsepower: brake,
            efficiency: brake.map(|b| if b > 0.0 { hydraulic / b } else { 0.0 }),
            motor_load,
            motor_current_a,
            cooling_velocity_ft_s: annular_velocity_ft_per_s(q, self.casing_id_in, self.motor_od_in),
            operating_range_bpd: (lo, hi),
            range_position,
            range_fraction: (q - lo) / (hi - lo),
        })
    }

    /// The frequency, Hz, within `[f_lo, f_hi]`, at which the well settles at
    /// `target_intake_psi`. At the target the inflow fixes the rate and the
    /// tubing fixes the pressure rise the pump must make, so this solves
    /// `ΔP_pump(q_target, f) = P_d(q_target) − PIP_target` for `f`.
    pub fn frequency_for_intake_pressure(&self, target_intake_psi: f64, f_lo: f64, f_hi: f64) -> Result<f64> {
        self.validate()?;
        non_negative("target_intake_psi", target_intake_psi)?;
        positive("f_lo", f_lo)?;
        if !f_hi.is_finite() || f_hi <= f_lo {
            return Err(PhysicsError::invalid("f_hi", "must be finite and above `f_lo`"));
        }
        let q = self.inflow_at_intake(target_intake_psi);
        if q <= 0.0 {
            return Err(PhysicsError::no_solution(format!(
                "{target_intake_psi} psi is at or above the static intake pressure {:.1} psi",
                self.static_intake_pressure()
            )));
        }
        let needed = self.discharge_pressure(q) - target_intake_psi;
        let excess = |f: f64| self.pump_pressure_rise(q, f) - needed;
        if excess(f_lo) > 0.0 || excess(f_hi) < 0.0 {
            return Err(PhysicsError::no_solution(format!(
                "a PIP of {target_intake_psi} psi is not reached between {f_lo} and {f_hi} Hz"
            )));
        }
        let f = bisect(excess, f_lo, f_hi);
        let reached = self.operating_point(f)?.intake_pressure_psi;
        if (reached - target_intake_psi).abs() > 1e-6 * target_intake_psi.max(1.0) {
            return Err(PhysicsError::no_solution(format!(
                "the {target_intake_psi} psi point lies on the unstable (rising) side of the head curve at {f:.3} Hz"
            )));
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests;
