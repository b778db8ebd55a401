use super::*;
use crate::esp::Regime;

/// A demo well without sensor noise, and its design frequency.
fn quiet(seed: u64) -> (WellSim, f64) {
    let mut rng = SplitMix64::new(seed);
    let (well, f) = demo_well(&mut rng).unwrap();
    let config = SimConfig { noise: NoiseConfig::none(), ..SimConfig::demo(&well) };
    (WellSim::new(well, config, f, 1).unwrap(), f)
}

fn run(sim: &mut WellSim, seconds: f64, dt: f64) -> Vec<Measurements> {
    (0..(seconds / dt).round() as usize).map(|_| sim.step(dt).unwrap()).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn mean_and_cv(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, sd / mean)
}

#[test]
fn demo_wells_produce_inside_their_range_at_design_frequency() {
    let mut rng = SplitMix64::new(2024);
    let mut reservoirs = Vec::new();
    for _ in 0..30 {
        let (well, f) = demo_well(&mut rng).unwrap();
        let p = well.operating_point(f).unwrap();
        assert_eq!(p.regime, Regime::Producing);
        assert_eq!(p.range_position, crate::esp::RangePosition::Inside, "{p:?}");
        assert!((250.0..=700.0).contains(&p.intake_pressure_psi), "{p:?}");
        assert!(p.motor_load > 0.6 && p.motor_load < 0.9, "{p:?}");
        reservoirs.push(well.ipr.reservoir_pressure_psi());
    }
    reservoirs.dedup();
    assert_eq!(reservoirs.len(), 30, "every draw differs");
}

#[test]
fn steady_state_is_the_nodal_solution() {
    let (mut sim, f) = quiet(11);
    let p = sim.well().operating_point(f).unwrap();
    let start_temperature = sim.motor_temperature();
    let last = *run(&mut sim, 3600.0, 10.0).last().unwrap();
    assert!(rel(last.intake_pressure_psi, p.intake_pressure_psi) < 1e-6, "{last:?} vs {p:?}");
    assert!(rel(last.flow_rate_bbl_d, p.rate_bpd) < 1e-6);
    assert!(rel(last.discharge_pressure_psi, p.discharge_pressure_psi) < 1e-6);
    assert!(rel(last.motor_current_a, p.motor_current_a) < 1e-6);
    assert!((last.motor_temperature_f - start_temperature).abs() < 1e-6);
    assert_eq!(last.frequency_hz, f);
}

#[test]
fn a_frequency_step_settles_with_the_annulus_time_constant() {
    let (mut sim, f) = quiet(12);
    let well = sim.well().clone();
    let (before, after) = (well.operating_point(f).unwrap(), well.operating_point(f + 2.0).unwrap());
    // Linearised at the new point: τ = C/(dq_pump/dP − dq_in/dP), by central differences.
    let p = after.intake_pressure_psi;
    let d = 0.5;
    let pump_slope = (well.pump_rate_at_intake(f + 2.0, p + d).unwrap()
        - well.pump_rate_at_intake(f + 2.0, p - d).unwrap())
        / (2.0 * d);
    let inflow_slope = (well.inflow_at_intake(p + d) - well.inflow_at_intake(p - d)) / (2.0 * d);
    let c = SimConfig::demo(&well).annulus_capacity_bbl_per_psi;
    let tau_s = c / (pump_slope - inflow_slope) * 86_400.0;
    assert!(tau_s > 300.0 && tau_s < 20_000.0, "τ = {tau_s} s");
    sim.set_frequency(f + 2.0);
    let gap0 = before.intake_pressure_psi - p;
    let trace = run(&mut sim, tau_s, tau_s / 200.0);
    assert!(trace.windows(2).all(|w| w[1].intake_pressure_psi <= w[0].intake_pressure_psi), "monotone, no overshoot");
    let ratio = (trace.last().unwrap().intake_pressure_psi - p) / gap0;
    assert!((ratio - (-1f64).exp()).abs() < 0.03, "gap after τ is {ratio} of the step, not 1/e");
    let settled = run(&mut sim, 20.0 * tau_s, 10.0);
    assert!((settled.last().unwrap().intake_pressure_psi - p).abs() < 1e-3);
    assert!(rel(settled.last().unwrap().flow_rate_bbl_d, after.rate_bpd) < 1e-6);
}

#[test]
fn pump_off_draws_the_intake_down_and_the_current_declines() {
    let (mut sim, _) = quiet(13);
    let normal = sim.step(10.0).unwrap();
    sim.set_condition(Condition::PumpOff { inflow_fraction: 0.1 });
    let trace = run(&mut sim, 4.0 * 3600.0, 10.0);
    assert!(trace.windows(2).all(|w| w[1].intake_pressure_psi <= w[0].intake_pressure_psi + 1e-9));
    let end = trace.last().unwrap();
    assert!(end.intake_pressure_psi < 1.0, "{end:?}");
    assert!(
        end.motor_current_a < 0.75 * normal.motor_current_a,
        "{} vs {}",
        end.motor_current_a,
        normal.motor_current_a
    );
    // The flow falls to what a tenth of the reservoir gives with the intake at 0 psi.
    let trickle = 0.1 * sim.well().inflow_at_intake(0.0);
    assert!(rel(end.flow_rate_bbl_d, trickle) < 1e-3, "{} vs {trickle}", end.flow_rate_bbl_d);
    // The current declines as the level falls, not in one jump.
    let halfway = trace[trace.len() / 8].motor_current_a;
    assert!(halfway < normal.motor_current_a && halfway > end.motor_current_a);
}

#[test]
fn underload_protection_trips_a_pumped_off_well_and_the_level_recovers() {
    let (sim, _) = quiet(14);
    // Normal running current is about 0.83 of nameplate (load 0.75, no-load 0.3);
    // the usual underload level is 0.8 of that (engineering judgement), about 0.66: use 0.7.
    let config = SimConfig {
        underload_trip: Some(UnderloadTrip { fraction: 0.7, delay_s: 30.0 }),
        ..SimConfig::demo(sim.well())
    };
    let config = SimConfig { noise: NoiseConfig::none(), ..config };
    let mut sim = WellSim::new(sim.well().clone(), config, sim.frequency(), 1).unwrap();
    sim.set_condition(Condition::PumpOff { inflow_fraction: 0.0 });
    let trace = run(&mut sim, 4.0 * 3600.0, 10.0);
    let trip = trace.iter().position(|m| m.tripped).expect("the drive trips on underload");
    let Motor::Nameplate { current_a: nameplate, .. } = sim.well().motor else { unreachable!() };
    // The trip follows 30 s (three 10 s samples) below the level, running.
    assert!(trace[trip - 2..=trip].iter().all(|m| m.frequency_hz > 0.0 && m.motor_current_a < 0.7 * nameplate));
    let stopped = &trace[trip + 1];
    assert!(stopped.tripped);
    assert_eq!((stopped.frequency_hz, stopped.flow_rate_bbl_d, stopped.motor_current_a), (0.0, 0.0, 0.0));
    sim.set_condition(Condition::Normal);
    let low = sim.intake_pressure();
    run(&mut sim, 1800.0, 10.0);
    assert!(sim.intake_pressure() > low + 50.0, "the annulus refills while stopped");
}

#[test]
fn gas_lock_heats_the_motor_raises_the_intake_and_makes_the_current_erratic() {
    let (well, f) = demo_well(&mut SplitMix64::new(15)).unwrap();
    let mut sim = WellSim::new(well.clone(), SimConfig::demo(&well), f, 99).unwrap();
    let normal = run(&mut sim, 1800.0, 1.0);
    sim.set_condition(Condition::GasLock { head_fraction: 0.3 });
    let locked = run(&mut sim, 2.0 * 3600.0, 1.0);
    let temperature = |m: &[Measurements]| m.iter().map(|x| x.motor_temperature_f).sum::<f64>() / m.len() as f64;
    let (t_normal, t_locked) = (temperature(&normal[1200..]), temperature(&locked[locked.len() - 600..]));
    assert!(t_locked > t_normal + 30.0, "{t_normal} → {t_locked} °F");
    // PIP rises, slowly: after a minute it has moved a little of what it moves in two hours.
    let pip = |m: &Measurements| m.intake_pressure_psi;
    let (p0, p1, p_end) = (pip(&normal[normal.len() - 1]), pip(&locked[59]), pip(&locked[locked.len() - 1]));
    assert!(p_end > p0 + 100.0, "{p0} → {p_end}");
    assert!(p1 - p0 < 0.1 * (p_end - p0), "{p0} → {p1} after a minute");
    let currents = |m: &[Measurements]| m.iter().map(|x| x.motor_current_a).collect::<Vec<_>>();
    let (i_normal, cv_normal) = mean_and_cv(&currents(&normal[600..]));
    let (i_locked, cv_locked) = mean_and_cv(&currents(&locked[600..]));
    assert!(i_locked < 0.9 * i_normal, "{i_normal} → {i_locked} A");
    assert!(cv_locked > 3.0 * cv_normal, "CV {cv_normal} → {cv_locked}");
}

#[test]
fn a_stopped_pump_lets_the_annulus_fill_towards_static() {
    let (mut sim, _) = quiet(16);
    sim.set_frequency(0.0);
    let trace = run(&mut sim, 12.0 * 3600.0, 60.0);
    let end = trace.last().unwrap();
    assert_eq!((end.motor_current_a, end.flow_rate_bbl_d), (0.0, 0.0));
    assert!(rel(end.intake_pressure_psi, sim.well().static_intake_pressure()) < 0.01, "{end:?}");
    assert!((end.motor_temperature_f - 190.0).abs() < 0.1, "the motor cools to the fluid");
}

#[test]
fn the_same_seed_gives_the_same_telemetry() {
    let trace = |seed| {
        let mut sim = WellSim::demo(seed).unwrap();
        run(&mut sim, 600.0, 1.0)
    };
    assert_eq!(trace(5), trace(5));
    assert_ne!(trace(5), trace(6));
    // The noise is correlated: successive PIP errors are close to each other.
    let (well, f) = demo_well(&mut SplitMix64::new(5)).unwrap();
    let mut sim = WellSim::new(well.clone(), SimConfig::demo(&well), f, 3).unwrap();
    let truth = well.operating_point(f).unwrap().intake_pressure_psi;
    let e: Vec<f64> = run(&mut sim, 3600.0, 1.0).iter().map(|m| m.intake_pressure_psi - truth).collect();
    let var = e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64;
    let lag1 = e.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (e.len() - 1) as f64 / var;
    assert!(lag1 > 0.9, "lag-1 correlation {lag1}");
}
