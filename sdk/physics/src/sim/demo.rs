//! Demo wells: a catalogue-like stage and wells drawn from a seed.
//!
//! Each draw takes a reservoir pressure, a productivity index, a bubble
//! point, depths, water cut and surface pressure from the generator, picks
//! a design frequency and intake pressure, and sizes the pump to them: the
//! stage count is the nearest whole number to the calibrated one and the
//! remainder is a head-degradation factor, like a pump that has worn a
//! little. Draws whose design rate falls outside the recommended range are
//! redrawn. All ranges are engineering judgement.

use super::{NoiseConfig, SimConfig, SplitMix64};
use crate::curve::Curve;
use crate::esp::calibrate::{PumpFit, WellTest};
use crate::esp::{EspWell, Fluid, Motor, TubingFriction};
use crate::ipr::Ipr;
use crate::pump::{Pump, StageCurve};
use crate::{PhysicsError, Result};

/// Attempts before [`demo_well`] gives up.
const ATTEMPTS: usize = 1000;

/// A 60 Hz stage: head `30·(1.35 − 0.35·(Q/1500)²)` ft (the curve of issue
/// #14), brake horsepower `0.28 + 1.55e-4·Q` hp (about 65 % efficient near
/// 1500 bbl/d), recommended range 800–2000 bbl/d.
pub fn demo_stage() -> StageCurve {
    StageCurve {
        base_frequency_hz: 60.0,
        head_ft: Curve::polynomial([40.5, 0.0, -10.5 / (1500.0 * 1500.0)]),
        brake_horsepower: Some(Curve::polynomial([0.28, 1.55e-4])),
        min_flow_bpd: 800.0,
        max_flow_bpd: 2000.0,
    }
}

/// A well drawn from `rng`, sized to produce inside its recommended range at
/// its design frequency; returns the well and that frequency, Hz.
pub fn demo_well(rng: &mut SplitMix64) -> Result<(EspWell, f64)> {
    for _ in 0..ATTEMPTS {
        let reservoir = rng.range(1500.0, 2600.0);
        let pump_depth = rng.range(5000.0, 7500.0);
        let mut well = EspWell {
            pump: Pump::new(demo_stage(), 300.0),
            ipr: Ipr::Vogel {
                reservoir_pressure_psi: reservoir,
                productivity_index_bpd_per_psi: rng.range(0.6, 2.0),
                bubble_point_psi: rng.range(0.2, 0.6) * reservoir,
            },
            pump_depth_ft: pump_depth,
            perforation_depth_ft: pump_depth + rng.range(100.0, 500.0),
            fluid: Fluid::from_specific_gravities(rng.range(0.3, 0.9), 0.85, 1.05),
            tubing_head_pressure_psi: rng.range(100.0, 250.0),
            friction: TubingFriction { loss_psi: rng.range(40.0, 80.0), at_rate_bpd: 1300.0 },
            motor: Motor::Nameplate {
                horsepower: 150.0,
                base_frequency_hz: 60.0,
                current_a: 50.0,
                no_load_current_fraction: 0.3,
            },
            casing_id_in: 6.276,
            motor_od_in: 5.62,
        };
        let frequency = rng.range(48.0, 56.0);
        let intake = rng.range(250.0, 700.0);
        let rate = well.inflow_at_intake(intake);
        let (lo, hi) = well.pump.stage.operating_range(frequency);
        if !(1.1 * lo..=0.9 * hi).contains(&rate) {
            continue;
        }
        let effective = well.calibrate_pump(&WellTest::new(frequency, rate, intake), PumpFit::Stages)?;
        well.pump.stages = effective.round().max(1.0);
        well.pump.head_factor = effective / well.pump.stages;
        let bhp = well.pump.brake_horsepower(rate, frequency, well.fluid.gradient_psi_per_ft).unwrap_or(1.0);
        let load = rng.range(0.65, 0.85);
        well.motor = Motor::Nameplate {
            horsepower: (bhp / (load * frequency / 60.0)).ceil(),
            base_frequency_hz: 60.0,
            current_a: rng.range(40.0, 60.0).round(),
            no_load_current_fraction: 0.3,
        };
        well.validate()?;
        return Ok((well, frequency));
    }
    Err(PhysicsError::no_solution("no demo well inside its operating range after 1000 draws"))
}

impl SimConfig {
    /// Demo settings for `well` (engineering judgement): annulus of 7 in 26 lb/ft casing
    /// (6.276 in ID) around 2⅞ in tubing, 20 min thermal time constant,
    /// fluid at 190 °F, 90 °F rise at nameplate current and 1 ft/s, 0.12 g
    /// base vibration, default sensor noise, no underload trip.
    pub fn demo(well: &EspWell) -> Self {
        Self {
            annulus_capacity_bbl_per_psi: Self::annulus_capacity(6.276, 2.875, well.fluid.gradient_psi_per_ft),
            thermal_time_constant_min: 20.0,
            fluid_temperature_f: 190.0,
            rated_temperature_rise_f: 90.0,
            reference_cooling_velocity_ft_s: 1.0,
            base_vibration_g: 0.12,
            noise: NoiseConfig::default(),
            underload_trip: None,
        }
    }
}

impl super::WellSim {
    /// A demo well drawn from `seed`, with [`SimConfig::demo`] settings,
    /// running at its design frequency.
    pub fn demo(seed: u64) -> Result<Self> {
        let mut rng = SplitMix64::new(seed);
        let (well, frequency) = demo_well(&mut rng)?;
        let config = SimConfig::demo(&well);
        Self::new(well, config, frequency, rng.next_u64())
    }
}
