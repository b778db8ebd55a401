//! Property tests over random wells, drawn from a fixed-seed generator so a
//! failure is repeatable (the seed and the case are in the message).
//!
//! * A producing operating point satisfies the pump = system balance and the
//!   IPR to 1e-6 relative, recomputed here from the formulas; "no flow" and
//!   "pumped off" are what they claim.
//! * The best feasible frequency breaks no limit (recomputed here), and a
//!   frequency just above it does break one.
//! * The envelope check flags exactly the limits a frequency breaks, for
//!   decreases as well as increases.

use std::f64::consts::PI;

use nexus_physics::curve::Curve;
use nexus_physics::esp::calibrate::{IprFit, PumpFit, WellTest};
use nexus_physics::esp::envelope::{Constraint, Limits};
use nexus_physics::esp::{EspWell, Fluid, Motor, OperatingPoint, Regime, TubingFriction};
use nexus_physics::ipr::Ipr;
use nexus_physics::pump::{Pump, StageCurve};

/// SplitMix64 (Steele, Lea & Flood 2014): a small, well-mixed generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// A random stage: a falling quadratic, a falling table, or a humped cubic.
fn random_stage(rng: &mut Rng) -> StageCurve {
    let shut_in = rng.range(15.0, 45.0);
    let scale = rng.range(400.0, 4000.0);
    let head_ft = match rng.next_u64() % 3 {
        0 => Curve::polynomial([shut_in, -rng.range(0.0, 0.3) * shut_in / scale, -shut_in / (scale * scale)]),
        1 => {
            // h = shut_in·(1 − x^p) at x = 0, 0.25, …, 1 of the open flow.
            let p = rng.range(1.2, 3.0);
            Curve::table((0..=4).map(|i| {
                let x = f64::from(i) / 4.0;
                (x * scale * 1.5, shut_in * (1.0 - x.powf(p)))
            }))
        }
        _ => {
            // h = shut_in·(1 + a·x − x² − 0.1·x³): peaks at x > 0 when a > 0.
            let a = rng.range(0.1, 0.8);
            let s2 = scale * scale;
            Curve::polynomial([shut_in, a * shut_in / scale, -shut_in / s2, -0.1 * shut_in / (s2 * scale)])
        }
    };
    StageCurve {
        base_frequency_hz: if rng.coin() { 60.0 } else { 50.0 },
        head_ft,
        brake_horsepower: Some(Curve::polynomial([rng.range(0.05, 0.3), rng.range(1e-5, 3e-4)])),
        min_flow_bpd: scale * rng.range(0.3, 0.6),
        max_flow_bpd: scale * rng.range(0.9, 1.3),
    }
}

/// A random well, mostly "designed": the reservoir pressure and the stage
/// count are fitted so that it makes a random rate near the recommended
/// range at a random intake pressure and design frequency. A few wells keep
/// their raw draws (flowing, pumped-off and dead wells).
fn random_well(rng: &mut Rng) -> Option<EspWell> {
    let pr = rng.range(800.0, 4500.0);
    let pi = rng.range(0.1, 3.0);
    let ipr = if rng.coin() {
        Ipr::Linear { reservoir_pressure_psi: pr, productivity_index_bpd_per_psi: pi }
    } else {
        Ipr::Vogel {
            reservoir_pressure_psi: pr,
            productivity_index_bpd_per_psi: pi,
            bubble_point_psi: rng.range(0.0, 1.2 * pr),
        }
    };
    let pump_depth = rng.range(2000.0, 10_000.0);
    let casing_id_in = rng.range(5.0, 8.8);
    let motor_od_in = rng.range(3.75, 5.4).min(casing_id_in - 0.3);
    let mut well = EspWell {
        pump: Pump { stage: random_stage(rng), stages: rng.range(40.0, 450.0), head_factor: rng.range(0.7, 1.0) },
        ipr,
        pump_depth_ft: pump_depth,
        perforation_depth_ft: pump_depth + rng.range(0.0, 1000.0),
        fluid: Fluid { gradient_psi_per_ft: rng.range(0.30, 0.46), water_cut: rng.range(0.0, 1.0) },
        tubing_head_pressure_psi: rng.range(30.0, 400.0),
        friction: TubingFriction { loss_psi: rng.range(0.0, 200.0), at_rate_bpd: rng.range(300.0, 3000.0) },
        motor: Motor::MeasuredCurrent { current_a: 40.0, frequency_hz: 50.0, nameplate_current_a: 60.0 },
        casing_id_in,
        motor_od_in,
    };
    well.pump.stage.validate().ok()?;
    let f_design = rng.range(42.0, 62.0);
    if rng.range(0.0, 1.0) < 0.85 {
        let (lo, hi) = well.pump.stage.operating_range(f_design);
        let q = rng.range(0.8 * lo, 1.1 * hi);
        let intake = rng.range(50.0, 1500.0);
        let test = WellTest::new(f_design, q, intake);
        well = well.calibrated(&test, PumpFit::Stages, IprFit::KeepProductivityIndex).ok()?;
    }
    let point = well.operating_point(f_design).ok()?;
    well.motor = if rng.coin() {
        let nameplate = rng.range(30.0, 90.0);
        Motor::MeasuredCurrent {
            current_a: nameplate * rng.range(0.5, 1.05),
            frequency_hz: f_design,
            nameplate_current_a: nameplate,
        }
    } else {
        let bhp = point.brake_horsepower?.max(1.0);
        Motor::Nameplate {
            horsepower: bhp / (rng.range(0.5, 1.05) * f_design / 60.0),
            base_frequency_hz: 60.0,
            current_a: rng.range(30.0, 90.0),
            no_load_current_fraction: rng.range(0.1, 0.4),
        }
    };
    Some(well)
}

/// `|a − b| ≤ tol·max(|a|, |b|, 1)`.
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// A random valid well (invalid draws are redrawn).
fn valid_well(rng: &mut Rng) -> EspWell {
    loop {
        if let Some(well) = random_well(rng).filter(|w| w.validate().is_ok()) {
            return well;
        }
    }
}

/// The discharge pressure the tubing needs, from the formula.
fn discharge(w: &EspWell, q: f64) -> f64 {
    w.tubing_head_pressure_psi
        + w.fluid.gradient_psi_per_ft * w.pump_depth_ft
        + w.friction.loss_psi * (q / w.friction.at_rate_bpd).powi(2)
}

/// The pump's pressure rise, from the stage curve and the affinity laws.
fn rise(w: &EspWell, q: f64, f: f64) -> f64 {
    let r = f / w.pump.stage.base_frequency_hz;
    // Negative past the open flow: the pump then restricts the flow.
    let stage_head = r * r * w.pump.stage.head_ft.eval(q / r);
    w.pump.stages * w.pump.head_factor * stage_head * w.fluid.gradient_psi_per_ft
}

fn pwf(w: &EspWell, intake: f64) -> f64 {
    intake + w.fluid.gradient_psi_per_ft * (w.perforation_depth_ft - w.pump_depth_ft)
}

#[test]
fn operating_points_balance_pump_system_and_inflow() {
    let mut rng = Rng(0x5EED_0001);
    let (mut producing, mut no_flow, mut pumped_off) = (0, 0, 0);
    for case in 0..400 {
        let w = valid_well(&mut rng);
        let f = rng.range(30.0, 70.0);
        let p = w.operating_point(f).unwrap();
        let q = p.rate_bpd;
        match p.regime {
            Regime::Producing => {
                producing += 1;
                let need = discharge(&w, q) - p.intake_pressure_psi;
                assert!(close(rise(&w, q, f), need, 1e-6), "case {case}: pump {} vs system {need}", rise(&w, q, f));
                let inflow = w.ipr.rate(pwf(&w, p.intake_pressure_psi));
                assert!(close(inflow, q, 1e-6), "case {case}: IPR {inflow} vs {q}");
                assert!(close(p.discharge_pressure_psi, discharge(&w, q), 1e-12), "case {case}");
            }
            Regime::NoFlow => {
                no_flow += 1;
                // The pump cannot make the column at any rate with the intake at its static pressure.
                let static_intake = w.ipr.reservoir_pressure_psi() - (pwf(&w, 0.0) - 0.0);
                assert!(close(p.intake_pressure_psi, static_intake, 1e-12), "case {case}");
                let open = w.pump.stage.open_flow(f).unwrap();
                for i in 0..=200 {
                    let q = open * f64::from(i) / 200.0;
                    let inflow_intake = w.ipr.pwf(q).map_or(f64::NEG_INFINITY, |p| p - pwf(&w, 0.0));
                    assert!(rise(&w, q, f) <= discharge(&w, q) - inflow_intake + 1e-9, "case {case}: flow at {q}");
                }
            }
            Regime::PumpedOff => {
                pumped_off += 1;
                assert_eq!(p.intake_pressure_psi, 0.0, "case {case}");
                assert!(close(q, w.ipr.rate(pwf(&w, 0.0)), 1e-12), "case {case}");
                assert!(rise(&w, q, f) >= discharge(&w, q), "case {case}: the pump could not take that rate");
            }
        }
    }
    assert!(
        producing > 100 && no_flow > 5 && pumped_off > 5,
        "{producing}/{no_flow}/{pumped_off} producing/no-flow/pumped-off cases: the generator does not exercise the solver"
    );
}

/// Limits around the well's state at a random frequency, so that some
/// frequencies pass and some do not.
fn random_limits(rng: &mut Rng, w: &EspWell) -> Limits {
    let f_min = rng.range(25.0, 45.0);
    let f_max = f_min + rng.range(10.0, 35.0);
    let reference = w.operating_point(rng.range(f_min, f_max)).expect("a valid well solves");
    Limits {
        min_frequency_hz: f_min,
        max_frequency_hz: f_max,
        target_intake_pressure_psi: rng.range(0.3, 1.5) * reference.intake_pressure_psi,
        min_intake_pressure_psi: rng.range(0.0, 300.0),
        max_motor_load: rng.range(0.9, 1.4) * reference.motor_load,
        min_cooling_velocity_ft_s: rng.range(0.2, 1.2) * reference.cooling_velocity_ft_s.max(0.5),
    }
}

/// The limits `p` breaks, recomputed from its rate, pressure and frequency.
fn broken(w: &EspWell, limits: &Limits, p: &OperatingPoint) -> Vec<Constraint> {
    let f = p.frequency_hz;
    let r = f / w.pump.stage.base_frequency_hz;
    let area_ft2 = PI / 4.0 * (w.casing_id_in.powi(2) - w.motor_od_in.powi(2)) / 144.0;
    let velocity = p.rate_bpd * 5.614_583 / 86_400.0 / area_ft2;
    let load = match w.motor {
        Motor::MeasuredCurrent { current_a, frequency_hz, nameplate_current_a } => {
            current_a * (f / frequency_hz).powi(2) / nameplate_current_a
        }
        Motor::Nameplate { horsepower, base_frequency_hz, .. } => {
            let bhp_stage = r.powi(3)
                * w.pump
                    .stage
                    .brake_horsepower
                    .as_ref()
                    .expect("random stages have brake horsepower")
                    .eval(p.rate_bpd / r);
            w.pump.stages * bhp_stage * w.fluid.gradient_psi_per_ft / 0.433 / (horsepower * f / base_frequency_hz)
        }
    };
    let floor = limits.target_intake_pressure_psi.max(limits.min_intake_pressure_psi);
    let mut out = Vec::new();
    let mut push = |c, broken: bool| {
        if broken {
            out.push(c);
        }
    };
    push(Constraint::MinFrequency, f < limits.min_frequency_hz);
    push(Constraint::MaxFrequency, f > limits.max_frequency_hz);
    push(Constraint::IntakePressure, p.intake_pressure_psi < floor * (1.0 - 1e-9) - 1e-9);
    push(Constraint::MotorLoad, load > limits.max_motor_load * (1.0 + 1e-12));
    push(Constraint::Downthrust, p.rate_bpd < w.pump.stage.min_flow_bpd * r);
    push(Constraint::Upthrust, p.rate_bpd > w.pump.stage.max_flow_bpd * r);
    push(Constraint::CoolingVelocity, velocity < limits.min_cooling_velocity_ft_s * (1.0 - 1e-12));
    out
}

#[test]
fn the_envelope_check_flags_exactly_the_broken_limits_up_and_down() {
    let mut rng = Rng(0x5EED_0002);
    let (mut refused_down, mut refused_up, mut allowed_down) = (0, 0, 0);
    for case in 0..300 {
        let w = valid_well(&mut rng);
        let limits = random_limits(&mut rng, &w);
        let from = rng.range(limits.min_frequency_hz, limits.max_frequency_hz);
        for to in [from - rng.range(0.2, 15.0), from + rng.range(0.2, 15.0)] {
            let a = w.assess(to, &limits).unwrap();
            let flagged: Vec<Constraint> = a.violations.iter().map(|v| v.constraint).collect();
            assert_eq!(flagged, broken(&w, &limits, &a.point), "case {case}: {from} → {to} Hz");
            match (to < from, a.is_feasible()) {
                (true, false) => refused_down += 1,
                (true, true) => allowed_down += 1,
                (false, false) => refused_up += 1,
                (false, true) => {}
            }
        }
    }
    assert!(refused_down > 20 && allowed_down > 20 && refused_up > 20, "{refused_down} {allowed_down} {refused_up}");
}

#[test]
fn the_best_frequency_never_breaks_a_limit() {
    let mut rng = Rng(0x5EED_0003);
    let (mut some, mut none, mut below_current) = (0, 0, 0);
    for case in 0..150 {
        let w = valid_well(&mut rng);
        let limits = random_limits(&mut rng, &w);
        let current = rng.range(limits.min_frequency_hz, limits.max_frequency_hz);
        match w.best_frequency(current, &limits).unwrap() {
            Some(choice) => {
                some += 1;
                let f = choice.frequency_hz;
                assert!(broken(&w, &limits, &choice.point).is_empty(), "case {case}: {f} Hz breaks a limit");
                assert!(!choice.binding.is_empty(), "case {case}: nothing binds at {f} Hz");
                if f < limits.max_frequency_hz {
                    let above = w.operating_point((f + 1e-5).min(limits.max_frequency_hz)).unwrap();
                    assert!(!broken(&w, &limits, &above).is_empty(), "case {case}: {f} Hz is not the highest");
                }
                let dq = choice.point.rate_bpd - choice.current.rate_bpd;
                assert!(close(choice.delta_rate_bpd, dq, 1e-12));
                assert!(close(choice.delta_oil_bpd + choice.delta_water_bpd, dq, 1e-9));
                if f < current {
                    below_current += 1;
                }
            }
            None => {
                none += 1;
                // No grid frequency is feasible either.
                let n = ((limits.max_frequency_hz - limits.min_frequency_hz) / 0.05) as usize;
                for i in 0..=n {
                    let f = (limits.min_frequency_hz + 0.05 * i as f64).min(limits.max_frequency_hz);
                    let p = w.operating_point(f).unwrap();
                    assert!(!broken(&w, &limits, &p).is_empty(), "case {case}: {f} Hz is feasible");
                }
            }
        }
    }
    assert!(some > 30 && none > 5 && below_current > 10, "{some} {none} {below_current}");
}
