//! Closed loop on simulated wells (`nexus_physics::sim::WellSim`, with
//! sensor noise): every 15 minutes the decision function looks at the last
//! hour of readings; an operator applies each recommendation 5 minutes
//! later. The frequency must move monotonically to the highest frequency at
//! which the *true* well (the simulator's, with its nameplate motor) meets
//! every limit, and then stay quiet.
//!
//! `cargo test --release -p optimizer-esp-frequency --test convergence -- --nocapture` prints the trend.

use nexus_physics::esp::EspWell;
use nexus_physics::esp::envelope::Limits;
use nexus_physics::sim::WellSim;
use nexus_plugin_sdk::{Reading, Value};
use optimizer_esp_frequency::{Config, Decision, Input, decide};
use serde_json::json;

const MINUTE: i64 = 60_000;
const T0: i64 = 1_717_200_000_000;

fn limits() -> Limits {
    Limits {
        min_frequency_hz: 40.0,
        max_frequency_hz: 62.0,
        target_intake_pressure_psi: 300.0,
        min_intake_pressure_psi: 150.0,
        max_motor_load: 1.0,
        min_cooling_velocity_ft_s: 1.0,
    }
}

/// The static data an engineer would enter for a simulated well: its
/// catalogue pump and stage count, depths, PI and bubble point (not the
/// reservoir pressure: calibrated), fluid, tubing, motor nameplate, casing,
/// limits, and a well test at its starting point.
fn static_data(well: &EspWell, start_hz: f64) -> serde_json::Value {
    let nexus_physics::esp::Motor::Nameplate { horsepower, current_a, base_frequency_hz, .. } = well.motor else {
        panic!("a demo well has a nameplate motor")
    };
    let test = well.operating_point(start_hz).expect("solves");
    let l = limits();
    json!({
        "pump": {"base_frequency_hz": well.pump.stage.base_frequency_hz, "head_ft": well.pump.stage.head_ft,
                 "brake_horsepower": well.pump.stage.brake_horsepower, "stages": well.pump.stages},
        "pump_depth_ft": well.pump_depth_ft,
        "perforation_depth_ft": well.perforation_depth_ft,
        "inflow": {"model": "vogel", "productivity_index_bpd_per_psi": well.ipr.productivity_index(),
                   "bubble_point_psi": match well.ipr { nexus_physics::ipr::Ipr::Vogel { bubble_point_psi, .. } => bubble_point_psi, _ => 0.0 }},
        "fluid": {"water_cut": well.fluid.water_cut, "gradient_psi_per_ft": well.fluid.gradient_psi_per_ft},
        "tubing_head_pressure_psi": well.tubing_head_pressure_psi,
        "tubing_friction": well.friction,
        "motor": {"nameplate_current_a": current_a, "nameplate_hp": horsepower, "base_frequency_hz": base_frequency_hz},
        "casing_id_in": well.casing_id_in,
        "motor_od_in": well.motor_od_in,
        "tubing_od_in": 2.875,
        "limits": {"min_frequency_hz": l.min_frequency_hz, "max_frequency_hz": l.max_frequency_hz, "max_step_hz": 1.0,
                   "min_intake_pressure_psi": l.min_intake_pressure_psi, "target_intake_pressure_psi": l.target_intake_pressure_psi,
                   "recommended_range_bpd": [well.pump.stage.min_flow_bpd, well.pump.stage.max_flow_bpd]},
        "well_test": {"date": "2024-05-20", "frequency_hz": start_hz, "rate_bpd": test.rate_bpd,
                      "intake_pressure_psi": test.intake_pressure_psi, "discharge_pressure_psi": test.discharge_pressure_psi}
    })
}

fn reading(key: &str, ts: i64, value: f64) -> Reading {
    Reading { device_id: "esp".into(), key: key.into(), ts, value: Value::Number(value), quality: 1.0 }
}

/// One closed-loop run; returns the frequency after each hour and the time of each recommendation.
fn run(seed: u64, hours: i64, print: bool) -> (f64, Vec<f64>, Vec<(i64, f64)>, f64) {
    let mut sim = WellSim::demo(seed).expect("a demo well");
    let start_hz = sim.frequency();
    let truth = sim.well().best_frequency(start_hz, &limits()).expect("solves").expect("a feasible frequency");
    let data = serde_json::from_value(static_data(sim.well(), start_hz)).expect("valid static data");
    let mut input = Input {
        device_id: "esp".into(),
        readings: Vec::new(),
        setpoints: Vec::new(),
        static_data: data,
        active_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        now_ms: T0,
    };
    let config = Config::default();
    let (mut hourly, mut recommended, mut pending) = (Vec::new(), Vec::new(), None);
    if print {
        println!(
            "\nseed {seed}: starts at {start_hz:.2} Hz; the true well's best frequency is {:.2} Hz ({:?})",
            truth.frequency_hz, truth.binding
        );
        println!(
            "| hour | frequency (Hz) | PIP (psi) | rate (bbl/d) | current (A) | recommended |\n|---|---|---|---|---|---|"
        );
    }
    for minute in 1..=hours * 60 {
        let ts = T0 + minute * MINUTE;
        let m = sim.step(60.0).expect("steps");
        for (key, value) in [
            ("frequency", m.frequency_hz),
            ("intake_pressure", m.intake_pressure_psi),
            ("discharge_pressure", m.discharge_pressure_psi),
            ("motor_current", m.motor_current_a),
            ("flow_rate", m.flow_rate_bbl_d),
        ] {
            input.readings.push(reading(key, ts, value));
        }
        input.readings.retain(|r| r.ts > ts - 60 * MINUTE);
        if let Some((at, f)) = pending
            && ts >= at
        {
            sim.set_frequency(f);
            pending = None;
        }
        if minute % 15 == 0 && pending.is_none() {
            input.now_ms = ts;
            if let Decision::Recommend(plan) = decide(&config, &input) {
                recommended.push((minute, plan.proposed_hz));
                pending = Some((ts + 5 * MINUTE, plan.proposed_hz));
            }
        }
        if minute % 60 == 0 {
            hourly.push(sim.frequency());
            if print && (minute / 60 <= 12 || minute % 360 == 0) {
                let last = recommended
                    .last()
                    .filter(|(at, _)| *at > minute - 60)
                    .map_or(String::new(), |(_, f)| format!("{f:.2} Hz"));
                println!(
                    "| {} | {:.2} | {:.0} | {:.0} | {:.1} | {last} |",
                    minute / 60,
                    m.frequency_hz,
                    m.intake_pressure_psi,
                    m.flow_rate_bbl_d,
                    m.motor_current_a
                );
            }
        }
    }
    (start_hz, hourly, recommended, truth.frequency_hz)
}

#[test]
fn the_loop_converges_to_the_binding_limit_without_oscillating() {
    for seed in 1..=4 {
        let (start, hourly, recommended, best) = run(seed, 36, seed == 1);
        let last = *hourly.last().expect("hours");
        assert!((last - best).abs() < 0.3, "seed {seed}: ends at {last:.2} Hz, best {best:.2} Hz");
        // Monotone: every recommendation moves the same way.
        let mut path = vec![start];
        path.extend(recommended.iter().map(|r| r.1));
        let steps: Vec<f64> = path.windows(2).map(|w| w[1] - w[0]).collect();
        let up = steps.iter().filter(|s| **s > 0.0).count();
        assert!(up == 0 || up == steps.len(), "seed {seed}: the frequency reversed: {recommended:?}");
        // Quiet once there: nothing in the last 12 hours.
        let late = recommended.iter().filter(|(m, _)| *m > 24 * 60).count();
        assert_eq!(late, 0, "seed {seed}: still recommending after 24 h: {recommended:?}");
        println!("seed {seed}: {} recommendations, ends at {last:.2} Hz (best {best:.2} Hz)", recommended.len());
    }
}
