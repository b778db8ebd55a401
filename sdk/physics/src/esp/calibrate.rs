//! Calibrating the nodal model to a well test, after Camilleri & Zhou
//! (2011, SPE-145542): gauge data at a known rate fix the pump's effective
//! head (a stage count or a head-degradation factor) and the inflow.
//!
//! * Pump: at the test rate `q` and frequency `f` the pump makes
//!   `ΔP = P_d − PIP`, with `P_d` the measured discharge pressure when there
//!   is one, else the model's `THP + G·D_pump + friction(q)`. The effective
//!   stage count is `ΔP / (G·h_f(q))`; it is kept either as the stage count
//!   (factor unchanged) or as the factor (stage count unchanged).
//! * Inflow: the IPR is moved through `(q, p_wf)`, `p_wf = PIP + G·(D_perf −
//!   D_pump)`, keeping either the reservoir pressure (fit the index) or the
//!   index (fit the reservoir pressure).
//! * Motor: a [`Motor::MeasuredCurrent`] takes the test's current and frequency.

use serde::{Deserialize, Serialize};

use super::{EspWell, Motor};
use crate::{PhysicsError, Result, non_negative, positive};

/// A well test: a stable measured point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WellTest {
    /// Drive frequency, Hz.
    pub frequency_hz: f64,
    /// Liquid rate, bbl/d.
    pub rate_bpd: f64,
    /// Pump-intake pressure, psi.
    pub intake_pressure_psi: f64,
    /// Pump discharge pressure, psi, when a discharge gauge reads it.
    #[serde(default)]
    pub discharge_pressure_psi: Option<f64>,
    /// Motor current, A, when measured.
    #[serde(default)]
    pub motor_current_a: Option<f64>,
}

impl WellTest {
    /// A test of frequency, rate and intake pressure only.
    pub fn new(frequency_hz: f64, rate_bpd: f64, intake_pressure_psi: f64) -> Self {
        Self { frequency_hz, rate_bpd, intake_pressure_psi, discharge_pressure_psi: None, motor_current_a: None }
    }

    fn validate(&self) -> Result<()> {
        positive("frequency_hz", self.frequency_hz)?;
        positive("rate_bpd", self.rate_bpd)?;
        non_negative("intake_pressure_psi", self.intake_pressure_psi)?;
        if let Some(p) = self.discharge_pressure_psi {
            non_negative("discharge_pressure_psi", p)?;
        }
        if let Some(i) = self.motor_current_a {
            non_negative("motor_current_a", i)?;
        }
        Ok(())
    }
}

/// Which pump parameter absorbs the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PumpFit {
    /// Fit the (effective, possibly fractional) stage count.
    Stages,
    /// Fit the head-degradation factor, keeping the stage count.
    HeadFactor,
}

/// Which inflow parameter absorbs the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IprFit {
    /// Keep the reservoir pressure (e.g. from a build-up), fit the productivity index.
    KeepReservoirPressure,
    /// Keep the productivity index, fit the reservoir pressure.
    KeepProductivityIndex,
}

impl EspWell {
    /// Fits the pump to the test; returns the new stage count or factor.
    pub fn calibrate_pump(&mut self, test: &WellTest, fit: PumpFit) -> Result<f64> {
        test.validate()?;
        let q = test.rate_bpd;
        let discharge = test.discharge_pressure_psi.unwrap_or_else(|| self.discharge_pressure(q));
        let rise = discharge - test.intake_pressure_psi;
        let stage_head = self.pump.stage.head(q, test.frequency_hz);
        if rise <= 0.0 || stage_head <= 0.0 {
            return Err(PhysicsError::no_solution(format!(
                "the test needs a pressure rise of {rise:.1} psi from a stage head of {stage_head:.3} ft at \
                 {q} bbl/d and {} Hz; both must be positive",
                test.frequency_hz
            )));
        }
        let effective = rise / (self.fluid.gradient_psi_per_ft * stage_head);
        Ok(match fit {
            PumpFit::Stages => {
                self.pump.stages = effective / self.pump.head_factor;
                self.pump.stages
            }
            PumpFit::HeadFactor => {
                self.pump.head_factor = effective / self.pump.stages;
                self.pump.head_factor
            }
        })
    }

    /// Moves the IPR through the test point.
    pub fn calibrate_ipr(&mut self, test: &WellTest, fit: IprFit) -> Result<()> {
        test.validate()?;
        let pwf = self.bottomhole_from_intake(test.intake_pressure_psi);
        self.ipr = match fit {
            IprFit::KeepReservoirPressure => self.ipr.through_point_keeping_pressure(test.rate_bpd, pwf)?,
            IprFit::KeepProductivityIndex => self.ipr.through_point_keeping_pi(test.rate_bpd, pwf)?,
        };
        Ok(())
    }

    /// A copy of the well fitted to the test: pump, IPR, and the measured
    /// motor point when the motor model uses one and the test has a current.
    pub fn calibrated(&self, test: &WellTest, pump: PumpFit, ipr: IprFit) -> Result<Self> {
        let mut well = self.clone();
        well.calibrate_pump(test, pump)?;
        well.calibrate_ipr(test, ipr)?;
        if let (Motor::MeasuredCurrent { nameplate_current_a, .. }, Some(current_a)) =
            (well.motor, test.motor_current_a)
        {
            well.motor = Motor::MeasuredCurrent { current_a, frequency_hz: test.frequency_hz, nameplate_current_a };
        }
        well.validate()?;
        Ok(well)
    }
}
