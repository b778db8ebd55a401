//! # nexus-physics
//!
//! Production-engineering models for Nexus, in pure Rust with no platform
//! code, so the same functions run inside WebAssembly plugins
//! (`wasm32-wasip2`) and in the host's demo simulator.
//!
//! | module | model |
//! |---|---|
//! | [`card`] | sucker-rod pump dynamometer cards: fillage, shape features, a rule-based classifier of nine card classes, synthetic cards |
//! | [`ipr`] | inflow performance: straight-line productivity index, Vogel (1968) below the bubble point (composite IPR), and its inverse |
//! | [`curve`] | a curve given as a polynomial or as a table, linearly interpolated |
//! | [`pump`] | ESP stage curves at base frequency (head, brake horsepower, efficiency), the affinity laws, the recommended operating range, head degradation |
//! | [`esp`] | the nodal ESP well: operating point, frequency for a target intake pressure, calibration from a well test, the operating-envelope check and the best feasible frequency |
//! | [`vfm`] | virtual flow metering: liquid rate from the pressure rise across the pump |
//! | [`sim`] | a transient ESP well (annulus storage, motor heating, pump-off, gas lock, correlated sensor noise) for the demo field |
//!
//! ## Units
//!
//! Oilfield units throughout, named in every field: rates in bbl/d (stock-tank
//! liquid, no formation volume factor), pressures in psi (gauge), depths in
//! ft (true vertical), pressure gradients in psi/ft, frequency in Hz, current
//! in A, power in hp (brake and hydraulic) with kW only in reported power
//! changes, temperature in °F, velocity in ft/s, diameters in inches,
//! durations in seconds or minutes as named.
//!
//! ## Model and assumptions
//!
//! A single-phase liquid of constant gradient fills the tubing and the casing
//! below the pump; there is no free gas at the intake (gas lock is only a
//! scenario of the simulator). The pump-intake pressure (PIP) is at pump
//! depth; the flowing bottom-hole pressure at the perforations is
//! `p_wf = PIP + gradient·(perforation depth − pump depth)`. The discharge
//! pressure is `THP + gradient·pump depth + friction`, the friction loss
//! growing with the square of the rate from a reference point. The pump
//! follows the affinity laws (Q ∝ f, H ∝ f², BHP ∝ f³) applied point by point
//! to the catalogue stage curve.
//!
//! ## Example
//!
//! Calibrate a well to a test, then ask for the frequency that draws the
//! intake down to 350 psi without breaking a limit:
//!
//! ```
//! use nexus_physics::curve::Curve;
//! use nexus_physics::esp::calibrate::{IprFit, PumpFit, WellTest};
//! use nexus_physics::esp::envelope::Limits;
//! use nexus_physics::esp::{EspWell, Fluid, Motor, TubingFriction};
//! use nexus_physics::ipr::Ipr;
//! use nexus_physics::pump::{Pump, StageCurve};
//!
//! let stage = StageCurve {
//!     base_frequency_hz: 60.0,
//!     head_ft: Curve::polynomial([40.5, 0.0, -10.5 / (1500.0 * 1500.0)]),
//!     brake_horsepower: None,
//!     min_flow_bpd: 800.0,
//!     max_flow_bpd: 2000.0,
//! };
//! let well = EspWell {
//!     pump: Pump::new(stage, 300.0),
//!     ipr: Ipr::Linear { reservoir_pressure_psi: 1500.0, productivity_index_bpd_per_psi: 1.2 },
//!     pump_depth_ft: 7000.0,
//!     perforation_depth_ft: 7000.0,
//!     fluid: Fluid { gradient_psi_per_ft: 0.38, water_cut: 0.5 },
//!     tubing_head_pressure_psi: 150.0,
//!     friction: TubingFriction { loss_psi: 60.0, at_rate_bpd: 1300.0 },
//!     motor: Motor::MeasuredCurrent { current_a: 40.0, frequency_hz: 50.0, nameplate_current_a: 50.0 },
//!     casing_id_in: 6.276,
//!     motor_od_in: 5.62,
//! };
//! let test = WellTest::new(50.0, 1300.0, 420.0);
//! let well = well.calibrated(&test, PumpFit::Stages, IprFit::KeepProductivityIndex)?;
//! let limits = Limits {
//!     min_frequency_hz: 35.0,
//!     max_frequency_hz: 65.0,
//!     target_intake_pressure_psi: 350.0,
//!     min_intake_pressure_psi: 100.0,
//!     max_motor_load: 1.0,
//!     min_cooling_velocity_ft_s: 1.0,
//! };
//! let best = well.best_frequency(50.0, &limits)?.expect("a feasible frequency");
//! assert!((best.frequency_hz - 51.49).abs() < 0.01);
//! assert!((best.delta_rate_bpd - 84.0).abs() < 0.01);
//! # Ok::<(), nexus_physics::PhysicsError>(())
//! ```
//!
//! ## Sources
//!
//! * Vogel, J. V. (1968), *Inflow performance relationships for solution-gas
//!   drive wells*, JPT 20(1):83–92 — the Vogel IPR and, with a bubble point,
//!   the usual composite form.
//! * The pump affinity laws and the speed-scaled recommended operating range
//!   (SPE 14349 discusses the range; ANSI/HI 9.6.3 for rotodynamic pumps in
//!   general); motor cooling at 1 ft/s past the motor is the common rule.
//! * Camilleri, L. A. P. and Zhou, W. (2011), *Obtaining real-time flow rate,
//!   water cut, and reservoir diagnostics from ESP gauge data*, SPE-145542 —
//!   calibrating the pump model from gauge data and metering the flow from the
//!   pressure rise across the pump.
#![forbid(unsafe_code)]

pub mod card;
pub mod curve;
pub mod esp;
pub mod ipr;
mod numeric;
pub mod pump;
pub mod sim;
pub mod units;
pub mod vfm;

use std::fmt;

/// Why a model could not be built or solved.
#[derive(Debug, Clone, PartialEq)]
pub enum PhysicsError {
    /// A parameter is out of its domain (not finite, not positive, wrongly
    /// ordered...). `name` is the parameter, `reason` what is wrong.
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A solver found no solution in the range it searched.
    NoSolution {
        /// What was being solved and why it failed.
        reason: String,
    },
}

impl PhysicsError {
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter { name, reason: reason.into() }
    }

    pub(crate) fn no_solution(reason: impl Into<String>) -> Self {
        Self::NoSolution { reason: reason.into() }
    }
}

impl fmt::Display for PhysicsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter { name, reason } => write!(f, "invalid `{name}`: {reason}"),
            Self::NoSolution { reason } => write!(f, "no solution: {reason}"),
        }
    }
}

impl std::error::Error for PhysicsError {}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, PhysicsError>;

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PhysicsError::invalid(name, format!("must be a finite number > 0, got {value}")))
    }
}

/// Checks that `value` is finite and not negative.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(PhysicsError::invalid(name, format!("must be a finite number ≥ 0, got {value}")))
    }
}
