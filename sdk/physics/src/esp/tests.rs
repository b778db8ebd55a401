use super::calibrate::{IprFit, PumpFit, WellTest};
use super::*;
use crate::curve::Curve;
use crate::pump::StageCurve;

/// A 60 Hz stage with brake horsepower: 30·(1.35 − 0.35·(Q/1500)²) ft and
/// 0.28 + 1.55e-4·Q hp (about 65 % efficient at 1500 bbl/d).
fn stage() -> StageCurve {
    StageCurve {
        base_frequency_hz: 60.0,
        head_ft: Curve::polynomial([40.5, 0.0, -10.5 / (1500.0 * 1500.0)]),
        brake_horsepower: Some(Curve::polynomial([0.28, 1.55e-4])),
        min_flow_bpd: 800.0,
        max_flow_bpd: 2000.0,
    }
}

fn well() -> EspWell {
    EspWell {
        pump: Pump::new(stage(), 260.0),
        ipr: Ipr::Vogel {
            reservoir_pressure_psi: 2200.0,
            productivity_index_bpd_per_psi: 1.0,
            bubble_point_psi: 1200.0,
        },
        pump_depth_ft: 6500.0,
        perforation_depth_ft: 7000.0,
        fluid: Fluid::from_specific_gravities(0.6, 0.85, 1.05),
        tubing_head_pressure_psi: 120.0,
        friction: TubingFriction { loss_psi: 50.0, at_rate_bpd: 1500.0 },
        motor: Motor::Nameplate {
            horsepower: 150.0,
            base_frequency_hz: 60.0,
            current_a: 45.0,
            no_load_current_fraction: 0.3,
        },
        casing_id_in: 6.276,
        motor_od_in: 5.62,
    }
}

/// `|a − b|` relative to `b`.
fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn fluid_gradient_from_water_cut() {
    // 0.433·(0.6·1.05 + 0.4·0.85) = 0.433·0.97 = 0.42001 psi/ft; 35 °API oil has SG 0.8498.
    let f = Fluid::from_specific_gravities(0.6, 0.85, 1.05);
    assert!((f.gradient_psi_per_ft - 0.42001).abs() < 1e-12);
    assert!((Fluid::oil_specific_gravity(35.0) - 0.849_85).abs() < 1e-5);
}

#[test]
fn producing_point_balances_pump_tubing_and_inflow() {
    let w = well();
    let p = w.operating_point(55.0).unwrap();
    assert_eq!(p.regime, Regime::Producing);
    let g = w.fluid.gradient_psi_per_ft;
    // Independently: PIP from the IPR, discharge from the tubing, pump rise from the curve.
    let pwf = p.intake_pressure_psi + g * 500.0;
    assert!(rel(w.ipr.rate(pwf), p.rate_bpd) < 1e-9);
    let discharge = 120.0 + g * 6500.0 + 50.0 * (p.rate_bpd / 1500.0).powi(2);
    assert!(rel(p.discharge_pressure_psi, discharge) < 1e-12);
    let rise = 260.0 * stage().head(p.rate_bpd, 55.0) * g;
    assert!(rel(rise, discharge - p.intake_pressure_psi) < 1e-9);
    // The reported powers and load agree with their definitions.
    let bhp = 260.0 * stage().brake_horsepower(p.rate_bpd, 55.0).unwrap() * g / 0.433;
    assert!(rel(p.brake_horsepower.unwrap(), bhp) < 1e-12);
    let load = bhp / (150.0 * 55.0 / 60.0);
    assert!(rel(p.motor_load, load) < 1e-12);
    assert!(rel(p.motor_current_a, 45.0 * (0.3 + 0.7 * load)) < 1e-12);
    assert!(p.efficiency.unwrap() > 0.3 && p.efficiency.unwrap() < 0.8, "{p:?}");
}

#[test]
fn too_slow_a_pump_makes_no_flow() {
    let w = well();
    // Shut-in head at 20 Hz: 260·40.5·(1/3)² = 1170 ft = 491 psi, far below the column.
    let p = w.operating_point(20.0).unwrap();
    assert_eq!(p.regime, Regime::NoFlow);
    assert_eq!(p.rate_bpd, 0.0);
    assert!(rel(p.intake_pressure_psi, w.static_intake_pressure()) < 1e-12);
    assert!(p.cooling_velocity_ft_s == 0.0 && p.range_position == RangePosition::Downthrust);
}

#[test]
fn an_oversized_pump_pumps_off() {
    let mut w = well();
    w.pump.stages = 900.0;
    let p = w.operating_point(65.0).unwrap();
    assert_eq!(p.regime, Regime::PumpedOff);
    assert_eq!(p.intake_pressure_psi, 0.0);
    assert!(rel(p.rate_bpd, w.inflow_at_intake(0.0)) < 1e-12);
}

#[test]
fn pump_rate_at_intake_is_the_pump_side_of_the_balance() {
    let w = well();
    let p = w.operating_point(52.0).unwrap();
    let q = w.pump_rate_at_intake(52.0, p.intake_pressure_psi).unwrap();
    assert!(rel(q, p.rate_bpd) < 1e-9);
    // A higher intake pressure helps the pump: more rate.
    assert!(w.pump_rate_at_intake(52.0, p.intake_pressure_psi + 100.0).unwrap() > q);
}

#[test]
fn frequency_for_intake_pressure_and_its_failures() {
    let w = well();
    let f = w.frequency_for_intake_pressure(500.0, 30.0, 70.0).unwrap();
    assert!((w.operating_point(f).unwrap().intake_pressure_psi - 500.0).abs() < 1e-6);
    assert!(w.frequency_for_intake_pressure(w.static_intake_pressure() + 1.0, 30.0, 70.0).is_err());
    assert!(w.frequency_for_intake_pressure(500.0, 66.0, 70.0).is_err(), "not reached in range");
    assert!(w.frequency_for_intake_pressure(500.0, 70.0, 30.0).is_err());
}

#[test]
fn calibration_with_a_discharge_gauge_fits_the_head_factor() {
    let w = well();
    let truth = w.operating_point(54.0).unwrap();
    // The gauge reads 3 % less pressure rise than the model: factor 0.97.
    let rise = 0.97 * (truth.discharge_pressure_psi - truth.intake_pressure_psi);
    let test = WellTest {
        discharge_pressure_psi: Some(truth.intake_pressure_psi + rise),
        ..WellTest::new(54.0, truth.rate_bpd, truth.intake_pressure_psi)
    };
    let fitted = w.calibrated(&test, PumpFit::HeadFactor, IprFit::KeepReservoirPressure).unwrap();
    assert!((fitted.pump.head_factor - 0.97).abs() < 1e-9);
    assert_eq!(fitted.pump.stages, 260.0);
    // The IPR still passes through the measured point.
    let pwf = fitted.bottomhole_from_intake(truth.intake_pressure_psi);
    assert!(rel(fitted.ipr.rate(pwf), truth.rate_bpd) < 1e-9);
    assert!(w.clone().calibrate_pump(&WellTest::new(54.0, 1e6, 100.0), PumpFit::Stages).is_err(), "beyond open flow");
}

#[test]
fn invalid_wells_are_refused() {
    let shallow = EspWell { perforation_depth_ft: 6000.0, ..well() };
    assert!(shallow.operating_point(50.0).is_err());
    let tight = EspWell { casing_id_in: 5.0, ..well() };
    assert!(tight.validate().is_err());
    let mut no_bhp = well();
    no_bhp.pump.stage.brake_horsepower = None;
    assert!(no_bhp.validate().is_err(), "a nameplate motor needs brake horsepower");
    assert!(well().operating_point(0.0).is_err());
}
