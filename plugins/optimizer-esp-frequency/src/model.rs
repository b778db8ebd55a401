//! The static data validated into the nodal model of `nexus-physics`, not
//! yet calibrated, with what calibration should fit.

use nexus_physics::esp::calibrate::{IprFit, PumpFit, WellTest};
use nexus_physics::esp::envelope::Limits;
use nexus_physics::esp::{EspWell, Fluid, Motor};
use nexus_physics::ipr::Ipr;
use nexus_physics::pump::{Pump, StageCurve};
use nexus_physics::sim::SimConfig;

use crate::static_data::{InflowFit, InflowModel, PumpCalibration, WellData, WellTestData};

/// Reservoir pressure put in an IPR whose pressure is fitted at calibration
/// (never used for a decision: calibration replaces it), psi.
const PLACEHOLDER_RESERVOIR_PSI: f64 = 5000.0;

/// The validated model: the well before calibration and how to calibrate it.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The nodal well, uncalibrated. Its IPR's reservoir pressure is a
    /// placeholder when `ipr_fit` fits it; its motor is the nameplate model
    /// (replaced by the measured current when there is one).
    pub well: EspWell,
    /// Whether the stage count is known (else calibration must fit it).
    pub stages_known: bool,
    /// What a calibration point fits in the pump, if anything.
    pub pump_fit: Option<PumpFit>,
    /// What a calibration point fits in the inflow.
    pub ipr_fit: IprFit,
    /// The envelope.
    pub limits: Limits,
    /// Largest change recommended at once, Hz.
    pub max_step_hz: f64,
    /// Motor nameplate current, A.
    pub nameplate_current_a: f64,
    /// Whether the motor load can be projected without a current reading.
    pub nameplate_motor: bool,
    /// The latest well test and its time (ms since the epoch).
    pub test: Option<(WellTest, i64)>,
    /// Annulus capacity between casing and tubing, bbl per psi of intake pressure.
    pub annulus_bbl_per_psi: Option<f64>,
}

/// Parses the static data text; a problem is a message naming the field.
pub fn parse(text: &str) -> Result<WellData, String> {
    serde_json::from_str(text).map_err(|e| format!("static data: {e}"))
}

fn check(name: &str, value: f64, ok: bool) -> Result<f64, String> {
    if value.is_finite() && ok { Ok(value) } else { Err(format!("static data: `{name}` is out of range ({value})")) }
}

fn positive(name: &str, value: f64) -> Result<f64, String> {
    check(name, value, value > 0.0)
}

impl WellData {
    /// Validates the data and builds the model.
    pub fn model(&self) -> Result<Model, String> {
        let p = &self.pump;
        let fluid = self.fluid()?;
        let [q_min, q_max] = self.limits.recommended_range_bpd;
        let stage = StageCurve {
            base_frequency_hz: positive("pump.base_frequency_hz", p.base_frequency_hz)?,
            head_ft: p.head_ft.clone(),
            brake_horsepower: p.brake_horsepower.clone(),
            min_flow_bpd: positive("limits.recommended_range_bpd[0]", q_min)?,
            max_flow_bpd: check("limits.recommended_range_bpd[1]", q_max, q_max > q_min)?,
        };
        let stages_known = p.stages.is_some();
        let pump = Pump {
            stage,
            stages: positive("pump.stages", p.stages.unwrap_or(1.0))?,
            head_factor: positive("pump.head_factor", p.head_factor.unwrap_or(1.0))?,
        };
        let pump_fit = match p.calibrate.unwrap_or(if stages_known {
            PumpCalibration::HeadFactor
        } else {
            PumpCalibration::Stages
        }) {
            PumpCalibration::HeadFactor => Some(PumpFit::HeadFactor),
            PumpCalibration::Stages => Some(PumpFit::Stages),
            PumpCalibration::None if stages_known => None,
            PumpCalibration::None => return Err("static data: `pump.calibrate: none` needs `pump.stages`".into()),
        };
        let (ipr, ipr_fit) = self.ipr()?;
        let m = &self.motor;
        let nameplate_current_a = positive("motor.nameplate_current_a", m.nameplate_current_a)?;
        let nameplate_motor = m.nameplate_hp.is_some() && p.brake_horsepower.is_some();
        let motor = Motor::Nameplate {
            horsepower: positive("motor.nameplate_hp", m.nameplate_hp.unwrap_or(1.0))?,
            base_frequency_hz: positive("motor.base_frequency_hz", m.base_frequency_hz.unwrap_or(p.base_frequency_hz))?,
            current_a: nameplate_current_a,
            no_load_current_fraction: m.no_load_current_fraction.unwrap_or(0.3),
        };
        let pump_depth_ft = positive("pump_depth_ft", self.pump_depth_ft)?;
        let well = EspWell {
            pump,
            ipr,
            pump_depth_ft,
            perforation_depth_ft: self.perforation_depth_ft.unwrap_or(pump_depth_ft),
            fluid,
            tubing_head_pressure_psi: self.tubing_head_pressure_psi,
            friction: self.tubing_friction,
            // The motor is checked here as the nameplate model; calibration
            // swaps in the measured current when there is one.
            motor,
            casing_id_in: self.casing_id_in,
            motor_od_in: self.motor_od_in,
        };
        // Without a BHP curve the nameplate model cannot be validated; check the rest.
        let mut checked = well.clone();
        checked.motor = Motor::MeasuredCurrent { current_a: 0.0, frequency_hz: 1.0, nameplate_current_a };
        checked.validate().map_err(|e| format!("static data: {e}"))?;
        let l = &self.limits;
        let limits = Limits {
            min_frequency_hz: l.min_frequency_hz,
            max_frequency_hz: l.max_frequency_hz,
            target_intake_pressure_psi: l.target_intake_pressure_psi,
            min_intake_pressure_psi: l.min_intake_pressure_psi,
            max_motor_load: l.max_motor_load,
            min_cooling_velocity_ft_s: l.min_cooling_velocity_ft_s,
        };
        limits.validate().map_err(|e| format!("static data: limits: {e}"))?;
        let test = self.well_test.as_ref().map(WellTestData::parse).transpose()?;
        let annulus_bbl_per_psi = match self.tubing_od_in {
            Some(od) => {
                let od = check("tubing_od_in", od, od > 0.0 && od < self.casing_id_in)?;
                Some(SimConfig::annulus_capacity(self.casing_id_in, od, fluid.gradient_psi_per_ft))
            }
            None => None,
        };
        Ok(Model {
            well,
            stages_known,
            pump_fit,
            ipr_fit,
            limits,
            max_step_hz: positive("limits.max_step_hz", l.max_step_hz)?,
            nameplate_current_a,
            nameplate_motor,
            test,
            annulus_bbl_per_psi,
        })
    }

    fn fluid(&self) -> Result<Fluid, String> {
        let f = &self.fluid;
        let water_cut = self.well_test.as_ref().and_then(|t| t.water_cut).unwrap_or(f.water_cut);
        let water_cut = check("fluid.water_cut", water_cut, (0.0..=1.0).contains(&water_cut))?;
        let oil_sg = match (f.oil_sg, f.oil_api) {
            (Some(sg), None) => Some(positive("fluid.oil_sg", sg)?),
            (None, Some(api)) => Some(Fluid::oil_specific_gravity(check("fluid.oil_api", api, api > -131.0)?)),
            (None, None) => None,
            (Some(_), Some(_)) => return Err("static data: give `fluid.oil_sg` or `fluid.oil_api`, not both".into()),
        };
        match (f.gradient_psi_per_ft, oil_sg) {
            (Some(g), None) => Ok(Fluid { gradient_psi_per_ft: positive("fluid.gradient_psi_per_ft", g)?, water_cut }),
            (None, Some(oil_sg)) => {
                let water_sg = positive("fluid.water_sg", f.water_sg.unwrap_or(1.0))?;
                Ok(Fluid::from_specific_gravities(water_cut, oil_sg, water_sg))
            }
            _ => Err("static data: give `fluid.gradient_psi_per_ft` or the oil density (`oil_sg` or `oil_api`)".into()),
        }
    }

    fn ipr(&self) -> Result<(Ipr, IprFit), String> {
        let i = &self.inflow;
        let pi = positive("inflow.productivity_index_bpd_per_psi", i.productivity_index_bpd_per_psi)?;
        let fit = match i.fit {
            InflowFit::ReservoirPressure => IprFit::KeepProductivityIndex,
            InflowFit::ProductivityIndex => IprFit::KeepReservoirPressure,
        };
        let p_r = match (i.reservoir_pressure_psi, fit) {
            (Some(p), _) => positive("inflow.reservoir_pressure_psi", p)?,
            (None, IprFit::KeepProductivityIndex) => PLACEHOLDER_RESERVOIR_PSI,
            (None, IprFit::KeepReservoirPressure) => {
                return Err(
                    "static data: `inflow.fit: productivity_index` needs `inflow.reservoir_pressure_psi`".into()
                );
            }
        };
        let ipr = match (i.model, i.bubble_point_psi) {
            (InflowModel::Linear, _) => Ipr::Linear { reservoir_pressure_psi: p_r, productivity_index_bpd_per_psi: pi },
            (InflowModel::Vogel, Some(p_b)) => Ipr::Vogel {
                reservoir_pressure_psi: p_r,
                productivity_index_bpd_per_psi: pi,
                bubble_point_psi: positive("inflow.bubble_point_psi", p_b)?,
            },
            (InflowModel::Vogel, None) => return Err("static data: a Vogel inflow needs `bubble_point_psi`".into()),
        };
        Ok((ipr, fit))
    }
}

impl WellTestData {
    fn parse(&self) -> Result<(WellTest, i64), String> {
        let ts = self
            .start_ms()
            .ok_or_else(|| format!("static data: `well_test.date` {:?} is not YYYY-MM-DD", self.date))?;
        let test = WellTest {
            frequency_hz: positive("well_test.frequency_hz", self.frequency_hz)?,
            rate_bpd: positive("well_test.rate_bpd", self.rate_bpd)?,
            intake_pressure_psi: check(
                "well_test.intake_pressure_psi",
                self.intake_pressure_psi,
                self.intake_pressure_psi >= 0.0,
            )?,
            discharge_pressure_psi: self.discharge_pressure_psi,
            motor_current_a: self.motor_current_a,
        };
        Ok((test, ts))
    }
}

/// ms since the epoch → its UTC date, `YYYY-MM-DD` (the inverse of [`parse_date`]
/// at midnight).
pub fn format_date(ms: i64) -> String {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD` (optionally followed by a time, ignored) → ms since the
/// Unix epoch at 00:00 UTC (H. Hinnant's days-from-civil).
pub fn parse_date(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}
