//! The meter against simulated wells (`nexus_physics::sim::WellSim`): the
//! four wells of the demo field (`WellSim::demo` with the demo's seeds),
//! a day each at one sample a minute, the drive moved every 4 hours in 1 Hz
//! steps (the optimizer's largest) between −1 and +2 Hz of the start, where
//! the rate stays inside the recommended range (as the optimizer keeps it), gauge
//! noise on the pressures and current. The reference is the simulator's
//! rate through the pump (its flow channel with the flow noise turned off).
//! The static data is what a calibrated well would carry: the catalogue
//! stage, the stage count, the gradient, and a well test at the starting
//! point that read the discharge pressure (which calibrates the head factor).
//!
//! `cargo test --release -p vfm-esp-pump-curve --test tracks_sim -- --nocapture` prints the errors.

use nexus_physics::sim::{SimConfig, SplitMix64, WellSim, demo_well};
use serde_json::json;
use vfm_esp_pump_curve::{Config, MeterData, Sample, meter};

/// The seeds the demo field draws its wells from (`host/nexus/src/sim.rs`).
const DEMO_SEEDS: [u64; 4] = [0x5eed_0001, 0x5eed_0002, 0x5eed_0003, 0x5eed_0004];

#[test]
fn the_meter_tracks_simulated_wells_within_5_percent_over_a_day() {
    for seed in DEMO_SEEDS {
        let mut rng = SplitMix64::new(seed);
        let (well, start_hz) = demo_well(&mut rng).expect("a demo well");
        let mut config = SimConfig::demo(&well);
        config.noise.flow_rate_fraction = 0.0;
        let test = well.operating_point(start_hz).expect("solves");
        let data = json!({
            "pump": {"base_frequency_hz": well.pump.stage.base_frequency_hz, "head_ft": well.pump.stage.head_ft,
                     "stages": well.pump.stages},
            "fluid": {"water_cut": well.fluid.water_cut, "gradient_psi_per_ft": well.fluid.gradient_psi_per_ft},
            "limits": {"recommended_range_bpd": [well.pump.stage.min_flow_bpd, well.pump.stage.max_flow_bpd]},
            "well_test": {"date": "2024-05-01", "frequency_hz": start_hz, "rate_bpd": test.rate_bpd,
                          "intake_pressure_psi": test.intake_pressure_psi, "discharge_pressure_psi": test.discharge_pressure_psi}
        });
        let pump = MeterData::parse(&data.to_string()).expect("valid").pump().expect("pump");
        let mut sim = WellSim::new(well, config, start_hz, rng.next_u64()).expect("sim");
        let (mut worst, mut sum, mut n, mut low_quality, mut changes) = (0.0f64, 0.0, 0, 0, 0);
        for minute in 1..=24 * 60i64 {
            if minute % 240 == 0 {
                // 1 Hz steps (the optimizer's largest) around the start, where
                // the rate stays inside the recommended range (as the optimizer keeps it).
                let offsets = [-1.0, 0.0, 1.0, 2.0, 1.0, 0.0];
                let f = start_hz + offsets[(minute / 240 - 1) as usize % offsets.len()];
                let point = sim.well().operating_point(f).expect("solves");
                let (lo, hi) = point.operating_range_bpd;
                if (lo..=hi).contains(&point.rate_bpd) && point.intake_pressure_psi > 50.0 {
                    sim.set_frequency(f);
                    changes += 1;
                }
            }
            let m = sim.step(60.0).expect("steps");
            let ts = minute * 60_000;
            let batch: Vec<Sample> = [
                ("frequency", m.frequency_hz),
                ("intake_pressure", m.intake_pressure_psi),
                ("discharge_pressure", m.discharge_pressure_psi),
            ]
            .into_iter()
            .map(|(key, value)| Sample { key: key.into(), ts, value })
            .collect();
            let out = meter(&Config::default(), &pump, &batch);
            assert!(out.skipped.is_empty(), "seed {seed:#x} minute {minute}: {:?}", out.skipped);
            let estimate = &out.readings[0];
            let error = (estimate.value - m.flow_rate_bbl_d) / m.flow_rate_bbl_d;
            assert!(error.abs() < 0.05, "seed {seed:#x} minute {minute}: {} vs {}", estimate.value, m.flow_rate_bbl_d);
            worst = worst.max(error.abs());
            sum += error.abs();
            n += 1;
            low_quality += usize::from(estimate.quality < 0.5);
        }
        assert!(changes >= 3, "seed {seed:#x}: only {changes} frequency changes");
        println!(
            "seed {seed:#x}: starts at {start_hz:.2} Hz, {changes} frequency changes; {n} estimates, mean |error| {:.2} %, worst {:.2} %, {low_quality} with quality < 0.5",
            100.0 * sum / n as f64,
            100.0 * worst
        );
    }
}
