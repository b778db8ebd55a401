//! The demo field against the built components (`.ci/build-plugins` first):
//! the optimizer closes the loop on a demo well, and the protection rule
//! recognises the injected events. The host builds no plugin crate, so both
//! run as components through `nexus_runtime`, as the server runs them, in
//! the demo's time (frames one demo second apart).

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_eval::replay::{self, Rule, WasmRule};
use nexus_model::{AlarmAction, Limits, OpenRecommendation, PluginKind, PluginRef, Reading, Value, WellContext};
use nexus_physics::esp::envelope::Limits as Envelope;
use nexus_runtime::{CallContext, NoTelemetry, Runtime, RuntimeConfig};

use super::*;
use crate::plugin_files;

/// Demo time of the first frame, ms (2024-06-01T00:00:00Z).
const T0: i64 = 1_717_200_000_000;

fn component(name: &str) -> Vec<u8> {
    plugin_files::read(&plugin_files::default_dir(), name).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn the_wells_differ() {
    let wells: Vec<DemoWell> = (0..4).map(|i| DemoWell::new(i).expect("a demo well")).collect();
    for (i, a) in wells.iter().enumerate() {
        for b in &wells[i + 1..] {
            let (a, b) = (a.sim().well(), b.sim().well());
            let dp = (a.ipr.reservoir_pressure_psi() - b.ipr.reservoir_pressure_psi()).abs();
            let dj = (a.ipr.productivity_index() - b.ipr.productivity_index()).abs();
            assert!(dp > 1.0 && dj > 0.001, "two demo wells alike: {dp} psi, {dj} bbl/d/psi apart");
        }
    }
}

/// The optimizer component on the demo's schedule.
struct Optimizer {
    runtime: Runtime,
    plugin: Arc<nexus_runtime::Plugin>,
    config: String,
    state: BTreeMap<String, Vec<u8>>,
    /// The well's recorded tests, as the optimizer service passes them.
    well_tests: Vec<nexus_model::WellTest>,
}

impl Optimizer {
    fn new() -> Self {
        let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
        let plugin = runtime.load(PluginKind::Optimizer, &component("optimizer-esp-frequency")).expect("loads");
        Self { runtime, plugin, config: optimizer_config().to_string(), state: BTreeMap::new(), well_tests: Vec::new() }
    }

    /// One run on the well's last 500 readings (as the optimizer service
    /// passes them), with the recommendation not yet carried out, if any.
    fn run(
        &mut self,
        readings: &[Reading],
        static_data: &str,
        now: i64,
        open: Option<(i64, f64)>,
    ) -> Vec<nexus_model::Recommendation> {
        let ctx = CallContext {
            plugin: PluginRef {
                tenant_id: "demo".into(),
                name: "optimizer-esp-frequency".into(),
                version: "local".into(),
            },
            binding_id: "demo".into(),
            device_id: "esp-01".into(),
            now,
            config: self.config.clone(),
            state: self.state.clone(),
            limits: Limits::for_kind(PluginKind::Optimizer),
            telemetry: Arc::new(NoTelemetry),
        };
        let context = WellContext {
            well_id: Some("well-01".into()),
            device_id: "esp-01".into(),
            readings: nexus_model::series_of(&readings[readings.len().saturating_sub(500)..]),
            setpoints: Vec::new(),
            static_data: static_data.to_string(),
            open_alarms: Vec::new(),
            open_recommendations: open
                .map(|(created_at, proposed_value)| OpenRecommendation {
                    parameter: "frequency_hz".into(),
                    proposed_value,
                    created_at,
                })
                .into_iter()
                .collect(),
            well_tests: self.well_tests.clone(),
            now,
        };
        let outcome =
            self.runtime.optimize(&self.plugin, ctx, &context).unwrap_or_else(|e| panic!("optimizer failed: {e}"));
        if let Some(state) = outcome.state {
            self.state = state;
        }
        outcome.output
    }
}

fn readings(device: &str, ts: i64, values: &[(&str, f64)]) -> Vec<Reading> {
    values
        .iter()
        .map(|(key, value)| Reading {
            device_id: device.into(),
            key: (*key).into(),
            ts,
            value: Value::Number(*value),
            quality: 1.0,
        })
        .collect()
}

/// An hour of demo time (60 h of well time) on demo well 1: the optimizer
/// runs every 15 demo seconds, an operator applies each recommendation 5
/// demo seconds later. The frequency must move monotonically to the highest
/// frequency at which the *true* well (the simulator's) meets the static
/// data's limits, and then stay there.
#[test]
fn the_optimizer_converges_on_a_demo_well_without_oscillating() {
    let mut well = DemoWell::new(0).expect("a demo well");
    let static_data = well.static_data().expect("static data").to_string();
    let start = well.sim().frequency();
    let limits = Envelope {
        min_frequency_hz: 40.0,
        max_frequency_hz: 62.0,
        target_intake_pressure_psi: 300.0,
        min_intake_pressure_psi: 150.0,
        max_motor_load: 1.0,
        min_cooling_velocity_ft_s: 1.0,
    };
    let truth = well.sim().well().best_frequency(start, &limits).expect("solves").expect("feasible");
    let mut optimizer = Optimizer::new();
    // The well test of the day before, recorded as data (as the demo does).
    optimizer.well_tests = vec![well.well_test(T0 - 86_400_000).expect("well test")];
    let mut history: Vec<Reading> = Vec::new();
    let mut recommended: Vec<(i64, f64)> = Vec::new();
    // (demo second it is applied, frequency, ts it was made)
    let mut pending: Option<(i64, f64, i64)> = None;
    println!(
        "\ndemo well 1 starts at {start:.2} Hz; the true well's best frequency is {:.2} Hz (binding {:?})",
        truth.frequency_hz, truth.binding
    );
    println!("| demo min | well h | frequency (Hz) | PIP (psi) | rate (bbl/d) | current (A) | recommendations |");
    println!("|---|---|---|---|---|---|---|");
    for second in 1..=3600i64 {
        let ts = T0 + second * 1000;
        let values = well.step(WELL_SECONDS_PER_DEMO_SECOND).expect("steps");
        history.extend(readings("esp-01", ts, &values));
        if let Some((at, hz, _)) = pending
            && second >= at
        {
            well.set_frequency(hz);
            pending = None;
        }
        if second % 15 == 0 {
            let open = pending.map(|(_, hz, made)| (made, hz));
            for r in optimizer.run(&history, &static_data, ts, open) {
                assert_eq!(r.parameter, "frequency_hz");
                assert!(pending.is_none(), "a second recommendation while one is open: {r:?}");
                recommended.push((second, r.proposed_value));
                pending = Some((second + 5, r.proposed_value, ts));
            }
        }
        if second % 300 == 0 {
            let get = |key: &str| values.iter().find(|(k, _)| *k == key).map_or(f64::NAN, |(_, v)| *v);
            let made = recommended
                .iter()
                .filter(|(s, _)| *s > second - 300)
                .map(|(_, f)| format!("{f:.2}"))
                .collect::<Vec<_>>();
            println!(
                "| {} | {} | {:.2} | {:.0} | {:.0} | {:.1} | {} |",
                second / 60,
                second / 60,
                get("frequency"),
                get("intake_pressure"),
                get("flow_rate"),
                get("motor_current"),
                made.join(", ")
            );
        }
        history.retain(|r| r.ts > ts - 600_000);
    }
    let end = well.sim().frequency();
    println!("{} recommendations; ends at {end:.2} Hz", recommended.len());
    assert!((end - truth.frequency_hz).abs() < 0.3, "ends at {end:.2} Hz, best {:.2} Hz", truth.frequency_hz);
    let mut path = vec![start];
    path.extend(recommended.iter().map(|r| r.1));
    let ups = path.windows(2).filter(|w| w[1] > w[0]).count();
    assert!(ups == 0 || ups == path.len() - 1, "the frequency reversed: {recommended:?}");
    assert!(recommended.iter().all(|(s, _)| *s <= 2400), "still recommending in the last 20 minutes: {recommended:?}");
}

/// The injected events raise the alarms of `alarm-rule-esp-protection`,
/// bound with the demo's configuration for the well, and nothing is raised
/// before them.
#[test]
fn the_protection_rule_recognises_pump_off_and_gas_lock() {
    for (event, expected) in [(Event::PumpOff, "Underload"), (Event::GasLock, "GasLock")] {
        let mut well = DemoWell::new(1).expect("a demo well");
        let path = plugin_files::path(&plugin_files::default_dir(), "alarm-rule-esp-protection");
        let mut rule = WasmRule::load(&path, &well.protection_config(), Limits::default()).expect("loads");
        let mut raised: Vec<(i64, String)> = Vec::new();
        for second in 1..=900i64 {
            if second == 300 {
                well.inject(event, 300.0);
            }
            let ts = T0 + second * 1000;
            let values = well.step(WELL_SECONDS_PER_DEMO_SECOND).expect("steps");
            let signals = rule.evaluate(ts, &readings(replay::DEVICE, ts, &values)).expect("the rule runs");
            raised.extend(
                signals.iter().filter(|s| s.action == AlarmAction::Raise).map(|s| (second, s.alarm_type.clone())),
            );
        }
        println!("{event:?} from demo second 300 to 600: raises {raised:?}");
        assert!(raised.iter().all(|(s, _)| *s > 300), "{event:?}: raised before the event: {raised:?}");
        let first = raised.iter().find(|(_, t)| t == expected).map(|(s, _)| *s);
        assert!(first.is_some_and(|s| s <= 600), "{event:?}: no {expected} during the event: {raised:?}");
    }
}
