//! Known answers from issue #14, computed independently of this crate.
//!
//! The well: pump at 7000 ft, liquid gradient 0.38 psi/ft, THP 150 psi,
//! tubing friction 60 psi at 1300 bbl/d (∝ Q²), stage curve at 60 Hz
//! `h₆₀(Q) = 30·(1.35 − 0.35·(Q/1500)²)` ft, affinity laws
//! `h_f(Q) = (f/60)²·h₆₀(Q·60/f)`. Well test: 50 Hz, 1300 bbl/d, PIP 420 psi.
//!
//! Interpretation: the base frequency is 60 Hz (the curve is h₆₀) and the
//! test runs at 50 Hz. The IPR is a straight line with the stated PI and the
//! reservoir pressure re-derived so that the well makes 1300 bbl/d at PIP
//! 420 psi: p_r = 420 + 1300/PI at the intake (1503.33 psi for PI 1.2,
//! 4753.33 psi for PI 0.3). Perforations at the pump (p_wf = PIP) or deeper
//! (p_wf = PIP + G·ΔD) give the same answers for a straight-line IPR,
//! because calibrating p_r absorbs the constant G·ΔD; a test below checks it.
//!
//! Hand/Python derivation (pure Python, bisection, `python3`):
//!   discharge(q) = 150 + 0.38·7000 + 60·(q/1300)² = 2870 psi at 1300 bbl/d
//!   ΔP = 2870 − 420 = 2450 psi = 6447.4 ft of 0.38 psi/ft liquid
//!   h₅₀(1300) = (50/60)²·h₆₀(1560) = 0.69444·29.1432 = 20.2383 ft
//!   N = 6447.4/20.2383 = 318.572 effective stages
//!   PIP 350 psi → q = 1.2·(1503.33 − 350) = 1384.0 bbl/d; solve
//!     N·0.38·h_f(1384) = 2810 + 60·(1384/1300)² − 350 → f = 51.4859 Hz
//!   +0.7 Hz (50.7 Hz): q = 1339.697 (PI 1.2, +39.697), 1319.567 (PI 0.3, +19.567)
//!   35 Hz: q = 347.15 bbl/d < Q_min(35) = 800·35/60 = 466.7 bbl/d, and the
//!     velocity past a 5.62 in motor in 6.276 in casing is 0.530 ft/s < 1
//!   PIP 500 psi → q = 1204.0 bbl/d at f = 48.3247 Hz
//!   motor: 49·(51/50)² = 50.98 A > 50 A; the limit is f = 50·√(50/49) = 50.5076 Hz
//!   VFM: 2600/(0.40·300) = 21.667 ft/stage at 55 Hz → q = 1627.745 bbl/d
//!
//! The recommended range 800–2000 bbl/d at 60 Hz (the former optimizer's
//! default) and the casing and motor sizes (7 in 26 lb/ft casing, 562-series
//! motor) are assumptions of this test.

use nexus_physics::curve::Curve;
use nexus_physics::esp::calibrate::{IprFit, PumpFit, WellTest};
use nexus_physics::esp::envelope::{Constraint, Limits};
use nexus_physics::esp::{EspWell, Fluid, Motor, TubingFriction};
use nexus_physics::ipr::Ipr;
use nexus_physics::pump::{Pump, StageCurve};
use nexus_physics::vfm::{VfmQuality, rate_from_pressure_rise};

fn within(actual: f64, expected: f64, relative: f64) -> bool {
    (actual - expected).abs() <= relative * expected.abs()
}

fn stage() -> StageCurve {
    StageCurve {
        base_frequency_hz: 60.0,
        // 30·(1.35 − 0.35·(Q/1500)²) = 40.5 − (10.5/1500²)·Q².
        head_ft: Curve::polynomial([40.5, 0.0, -10.5 / (1500.0 * 1500.0)]),
        brake_horsepower: None,
        min_flow_bpd: 800.0,
        max_flow_bpd: 2000.0,
    }
}

/// The well before calibration (stage count and p_r are placeholders).
fn uncalibrated(pi: f64, perforation_depth_ft: f64) -> EspWell {
    EspWell {
        pump: Pump::new(stage(), 300.0),
        ipr: Ipr::Linear { reservoir_pressure_psi: 2000.0, productivity_index_bpd_per_psi: pi },
        pump_depth_ft: 7000.0,
        perforation_depth_ft,
        fluid: Fluid { gradient_psi_per_ft: 0.38, water_cut: 0.5 },
        tubing_head_pressure_psi: 150.0,
        friction: TubingFriction { loss_psi: 60.0, at_rate_bpd: 1300.0 },
        motor: Motor::MeasuredCurrent { current_a: 40.0, frequency_hz: 50.0, nameplate_current_a: 50.0 },
        casing_id_in: 6.276,
        motor_od_in: 5.62,
    }
}

fn test_point(current_a: f64) -> WellTest {
    WellTest { motor_current_a: Some(current_a), ..WellTest::new(50.0, 1300.0, 420.0) }
}

fn well(pi: f64) -> EspWell {
    uncalibrated(pi, 7000.0)
        .calibrated(&test_point(40.0), PumpFit::Stages, IprFit::KeepProductivityIndex)
        .expect("the issue's well calibrates")
}

fn limits() -> Limits {
    Limits {
        min_frequency_hz: 35.0,
        max_frequency_hz: 65.0,
        target_intake_pressure_psi: 350.0,
        min_intake_pressure_psi: 100.0,
        max_motor_load: 1.0,
        min_cooling_velocity_ft_s: 1.0,
    }
}

#[test]
fn calibration_reproduces_the_test_point() {
    let w = well(1.2);
    assert!(within(w.pump.stages, 318.572, 1e-5), "{}", w.pump.stages);
    assert!(within(w.ipr.reservoir_pressure_psi(), 1503.333, 1e-6));
    let p = w.operating_point(50.0).unwrap();
    assert!(within(p.rate_bpd, 1300.0, 1e-9) && within(p.intake_pressure_psi, 420.0, 1e-9), "{p:?}");
}

#[test]
fn frequency_for_350_psi_is_51_49_hz_at_1384_bpd() {
    let w = well(1.2);
    let f = w.frequency_for_intake_pressure(350.0, 30.0, 70.0).unwrap();
    assert!(within(f, 51.49, 0.02), "{f}");
    assert!((f - 51.4859).abs() < 1e-3, "{f}");
    let q = w.operating_point(f).unwrap().rate_bpd;
    assert!(within(q, 1384.0, 0.02) && within(q, 1384.0, 1e-6), "{q}");
}

#[test]
fn a_0_7_hz_step_gains_39_7_bpd_at_pi_1_2_and_19_6_at_pi_0_3() {
    for (pi, expected, derived) in [(1.2, 39.7, 39.697), (0.3, 19.6, 19.567)] {
        let w = well(pi);
        let gain = w.operating_point(50.7).unwrap().rate_bpd - w.operating_point(50.0).unwrap().rate_bpd;
        assert!(within(gain, expected, 0.02), "PI {pi}: {gain}");
        assert!((gain - derived).abs() < 1e-3, "PI {pi}: {gain}");
    }
}

#[test]
fn perforations_below_the_pump_do_not_change_the_answers_for_a_straight_line_ipr() {
    let fit = |perf| {
        uncalibrated(1.2, perf).calibrated(&test_point(40.0), PumpFit::Stages, IprFit::KeepProductivityIndex).unwrap()
    };
    let (at_pump, deeper) = (fit(7000.0), fit(7800.0));
    // p_r is 0.38·800 = 304 psi higher, and every rate is the same.
    let dp = deeper.ipr.reservoir_pressure_psi() - at_pump.ipr.reservoir_pressure_psi();
    assert!((dp - 304.0).abs() < 1e-9, "{dp}");
    for f in [40.0, 50.7, 58.0] {
        let (a, b) = (at_pump.operating_point(f).unwrap(), deeper.operating_point(f).unwrap());
        assert!(within(b.rate_bpd, a.rate_bpd, 1e-9) && within(b.intake_pressure_psi, a.intake_pressure_psi, 1e-9));
    }
}

#[test]
fn a_proposed_35_hz_is_refused_for_downthrust_and_cooling() {
    let a = well(1.2).assess(35.0, &limits()).unwrap();
    assert!(!a.is_feasible());
    assert!(a.violates(Constraint::Downthrust) && a.violates(Constraint::CoolingVelocity), "{a:?}");
    assert!(!a.violates(Constraint::IntakePressure) && !a.violates(Constraint::MinFrequency));
    assert!(within(a.point.rate_bpd, 347.15, 1e-4), "{}", a.point.rate_bpd);
    assert!(within(a.point.cooling_velocity_ft_s, 0.530, 2e-3));
}

#[test]
fn forty_nine_amps_at_50_hz_block_51_hz_on_a_50_amp_motor() {
    let w = uncalibrated(1.2, 7000.0)
        .calibrated(&test_point(49.0), PumpFit::Stages, IprFit::KeepProductivityIndex)
        .unwrap();
    let a = w.assess(51.0, &limits()).unwrap();
    // 49·(51/50)² = 50.9796 A = 101.96 % of 50 A; nothing else breaks at 51 Hz.
    assert!((a.point.motor_current_a - 50.9796).abs() < 1e-9);
    assert_eq!(a.violations.iter().map(|v| v.constraint).collect::<Vec<_>>(), [Constraint::MotorLoad]);
    let best = w.best_frequency(50.0, &limits()).unwrap().unwrap();
    assert!((best.frequency_hz - 50.507_627).abs() < 1e-5, "{}", best.frequency_hz);
    assert_eq!(best.binding, [Constraint::MotorLoad]);
}

#[test]
fn best_frequency_reaches_the_target_and_reports_the_gain() {
    let best = well(1.2).best_frequency(50.0, &limits()).unwrap().unwrap();
    assert!((best.frequency_hz - 51.4859).abs() < 1e-3, "{}", best.frequency_hz);
    assert_eq!(best.binding, [Constraint::IntakePressure]);
    // 1384 − 1300 = 84 bbl/d of liquid, half of it oil at 50 % water cut.
    assert!((best.delta_rate_bpd - 84.0).abs() < 1e-3);
    assert!((best.delta_oil_bpd - 42.0).abs() < 1e-3 && (best.delta_water_bpd - 42.0).abs() < 1e-3);
    assert!(best.delta_hydraulic_power_kw > 0.0);
    assert_eq!(best.delta_brake_power_kw, None, "no brake-horsepower curve in this well");
}

#[test]
fn an_over_drawn_well_is_slowed_down_to_its_target() {
    let limits = Limits { target_intake_pressure_psi: 500.0, ..limits() };
    let best = well(1.2).best_frequency(50.0, &limits).unwrap().unwrap();
    assert!((best.frequency_hz - 48.3247).abs() < 1e-3, "{}", best.frequency_hz);
    assert!((best.delta_rate_bpd - (1204.0 - 1300.0)).abs() < 1e-3);
    assert_eq!(best.binding, [Constraint::IntakePressure]);
}

#[test]
fn vfm_on_the_documented_curve_gives_1627_7_bpd() {
    let e = rate_from_pressure_rise(&Pump::new(stage(), 300.0), 55.0, 2600.0, 0.40).unwrap();
    assert!(within(e.rate_bpd, 1627.7, 0.01), "{e:?}");
    assert!((e.rate_bpd - 1627.745).abs() < 1e-2);
    // Inside 800–2000·55/60 = 733–1833 bbl/d, on a steep part of the curve.
    assert_eq!(e.quality, VfmQuality::Good);
    assert!(e.sensitivity < 1.0 && e.confidence == 1.0);
}
