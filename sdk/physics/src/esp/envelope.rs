//! The operating envelope: every limit a proposed frequency must respect,
//! and the best frequency inside it.
//!
//! A frequency `f` is feasible when, at the operating point the model solves
//! there (not an affinity-law extrapolation of today's rate):
//!
//! * `f_min ≤ f ≤ f_max`;
//! * `PIP ≥ max(PIP_target, PIP_min)`;
//! * the projected motor load ≤ its limit;
//! * `Q_min(f) ≤ q`: below it the pump runs in downthrust;
//! * `q ≤ Q_max(f)`: above it, upthrust;
//! * the liquid passes the motor at ≥ the minimum cooling velocity (1 ft/s).
//!
//! The check is the same for increases and decreases: a decrease can push
//! the pump into downthrust or starve the motor of cooling.
//!
//! Since the intake pressure falls as the frequency rises, the feasible
//! frequency closest to the target intake pressure is the highest feasible
//! one. [`EspWell::best_frequency`] scans down from `f_max` in 0.05 Hz steps
//! to the first feasible frequency, then bisects the boundary above it to
//! 1e-6 Hz; the constraints violated just above that frequency bind. A
//! feasible island narrower than the scan step can be missed.

use serde::{Deserialize, Serialize};

use super::{EspWell, OperatingPoint};
use crate::units::KW_PER_HP;
use crate::{PhysicsError, Result, non_negative, positive};

/// Scan step of [`EspWell::best_frequency`], Hz.
const SCAN_STEP_HZ: f64 = 0.05;

/// Frequency resolution of the boundary found by [`EspWell::best_frequency`], Hz.
const RESOLUTION_HZ: f64 = 1e-6;

/// The limits a frequency must respect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Lowest drive frequency, Hz.
    pub min_frequency_hz: f64,
    /// Highest drive frequency, Hz.
    pub max_frequency_hz: f64,
    /// The intake-pressure setpoint, psi: not drawn below.
    pub target_intake_pressure_psi: f64,
    /// Hard floor of the intake pressure (submergence, gas), psi.
    pub min_intake_pressure_psi: f64,
    /// Highest motor load, fraction of nameplate (1.0 = 100 %).
    pub max_motor_load: f64,
    /// Lowest liquid velocity past the motor, ft/s (1 ft/s is the usual rule).
    pub min_cooling_velocity_ft_s: f64,
}

impl Limits {
    /// Checks the limits: positive frequencies with `min < max`, the rest ≥ 0
    /// and a positive load limit.
    pub fn validate(&self) -> Result<()> {
        positive("min_frequency_hz", self.min_frequency_hz)?;
        positive("max_frequency_hz", self.max_frequency_hz)?;
        if self.min_frequency_hz >= self.max_frequency_hz {
            return Err(PhysicsError::invalid("min_frequency_hz", "must be below `max_frequency_hz`"));
        }
        non_negative("target_intake_pressure_psi", self.target_intake_pressure_psi)?;
        non_negative("min_intake_pressure_psi", self.min_intake_pressure_psi)?;
        positive("max_motor_load", self.max_motor_load)?;
        non_negative("min_cooling_velocity_ft_s", self.min_cooling_velocity_ft_s)?;
        Ok(())
    }
}

/// One operating limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// Frequency below `f_min`.
    MinFrequency,
    /// Frequency above `f_max`.
    MaxFrequency,
    /// Intake pressure below `max(target, minimum)`.
    IntakePressure,
    /// Motor load above its limit.
    MotorLoad,
    /// Rate below the recommended range: downthrust.
    Downthrust,
    /// Rate above the recommended range: upthrust.
    Upthrust,
    /// Liquid velocity past the motor too low to cool it.
    CoolingVelocity,
}

/// A limit a frequency breaks, with the value and the limit in the units of
/// the constraint (Hz, psi, load fraction, bbl/d, ft/s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Which limit.
    pub constraint: Constraint,
    /// The value at the frequency.
    pub value: f64,
    /// The limit it breaks.
    pub limit: f64,
}

/// A frequency checked against every limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The operating point at that frequency.
    pub point: OperatingPoint,
    /// Every limit it breaks; empty when feasible.
    pub violations: Vec<Violation>,
}

impl Assessment {
    /// No limit is broken.
    pub fn is_feasible(&self) -> bool {
        self.violations.is_empty()
    }

    /// Whether `constraint` is broken.
    pub fn violates(&self, constraint: Constraint) -> bool {
        self.violations.iter().any(|v| v.constraint == constraint)
    }
}

/// The best feasible frequency and what it changes against the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyChoice {
    /// The recommended frequency, Hz.
    pub frequency_hz: f64,
    /// The limits that stop a higher frequency (the intake-pressure target
    /// when it is reached; `MaxFrequency` at `f_max`).
    pub binding: Vec<Constraint>,
    /// The operating point at the recommended frequency.
    pub point: OperatingPoint,
    /// The operating point at the current frequency.
    pub current: OperatingPoint,
    /// Change of liquid rate, bbl/d.
    pub delta_rate_bpd: f64,
    /// Change of oil rate, bbl/d (`Δq·(1 − water cut)`).
    pub delta_oil_bpd: f64,
    /// Change of water rate, bbl/d (`Δq·water cut`).
    pub delta_water_bpd: f64,
    /// Change of hydraulic power given to the liquid, kW.
    pub delta_hydraulic_power_kw: f64,
    /// Change of pump brake power, kW, when the stage curve has brake horsepower.
    pub delta_brake_power_kw: Option<f64>,
}

impl EspWell {
    /// Checks `f_hz` against every limit.
    pub fn assess(&self, f_hz: f64, limits: &Limits) -> Result<Assessment> {
        limits.validate()?;
        let point = self.operating_point(f_hz)?;
        let mut violations = Vec::new();
        let mut check = |broken: bool, constraint, value, limit| {
            if broken {
                violations.push(Violation { constraint, value, limit });
            }
        };
        check(f_hz < limits.min_frequency_hz, Constraint::MinFrequency, f_hz, limits.min_frequency_hz);
        check(f_hz > limits.max_frequency_hz, Constraint::MaxFrequency, f_hz, limits.max_frequency_hz);
        let pip_floor = limits.target_intake_pressure_psi.max(limits.min_intake_pressure_psi);
        let pip = point.intake_pressure_psi;
        // A point solved for the target itself may sit a rounding error below it.
        check(pip < pip_floor - 1e-9 * pip_floor.max(1.0), Constraint::IntakePressure, pip, pip_floor);
        let load = point.motor_load;
        check(load > limits.max_motor_load, Constraint::MotorLoad, load, limits.max_motor_load);
        let (q, (q_min, q_max)) = (point.rate_bpd, point.operating_range_bpd);
        check(q < q_min, Constraint::Downthrust, q, q_min);
        check(q > q_max, Constraint::Upthrust, q, q_max);
        let v = point.cooling_velocity_ft_s;
        let v_min = limits.min_cooling_velocity_ft_s;
        check(v < v_min, Constraint::CoolingVelocity, v, v_min);
        Ok(Assessment { point, violations })
    }

    /// The feasible frequency closest to the target intake pressure (the
    /// highest feasible one), with the binding limits and the changes against
    /// `current_hz`. `None` when no frequency in `[f_min, f_max]` is feasible
    /// (e.g. the intake is below the target even at `f_min`).
    pub fn best_frequency(&self, current_hz: f64, limits: &Limits) -> Result<Option<FrequencyChoice>> {
        limits.validate()?;
        let current = self.operating_point(current_hz)?;
        let (f_min, f_max) = (limits.min_frequency_hz, limits.max_frequency_hz);
        let feasible = |f: f64| self.assess(f, limits).map(|a| a.is_feasible());
        let steps = ((f_max - f_min) / SCAN_STEP_HZ).ceil() as usize;
        let mut above = None;
        let mut found = None;
        for i in 0..=steps {
            let f = (f_max - SCAN_STEP_HZ * i as f64).max(f_min);
            if feasible(f)? {
                found = Some(f);
                break;
            }
            above = Some(f);
        }
        let Some(mut f) = found else { return Ok(None) };
        if let Some(mut hi) = above {
            // Bisect the boundary between feasible `f` and infeasible `hi`.
            while hi - f > RESOLUTION_HZ {
                let mid = 0.5 * (f + hi);
                if feasible(mid)? {
                    f = mid;
                } else {
                    hi = mid;
                }
            }
        }
        let binding = if f >= f_max {
            vec![Constraint::MaxFrequency]
        } else {
            let probe = (f + 2.0 * RESOLUTION_HZ).min(f_max);
            self.assess(probe, limits)?.violations.iter().map(|v| v.constraint).collect()
        };
        let point = self.operating_point(f)?;
        let delta = point.rate_bpd - current.rate_bpd;
        let water_cut = self.fluid.water_cut;
        Ok(Some(FrequencyChoice {
            frequency_hz: f,
            binding,
            delta_rate_bpd: delta,
            delta_oil_bpd: delta * (1.0 - water_cut),
            delta_water_bpd: delta * water_cut,
            delta_hydraulic_power_kw: (point.hydraulic_horsepower - current.hydraulic_horsepower) * KW_PER_HP,
            delta_brake_power_kw: point
                .brake_horsepower
                .zip(current.brake_horsepower)
                .map(|(a, b)| (a - b) * KW_PER_HP),
            point,
            current,
        }))
    }
}
