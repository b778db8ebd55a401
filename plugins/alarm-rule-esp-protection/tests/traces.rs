//! Synthetic ESP traces (simple formulas plus seeded Gaussian noise): each
//! alarm raises on its signature and nothing raises on normal operation.
//! Traces are fed in batches of one minute through the SDK's test harness,
//! which carries the state between calls as JSON bytes as the host does (so
//! every batch starts as after a host restart).

use alarm_rule_esp_protection::{EspProtectionRule, EspState, evaluate_batch, parse_config};
use nexus_plugin_sdk::testing::Harness;
use nexus_plugin_sdk::{AlarmAction, Column, Sample, Series};

const DEVICE: &str = "esp-12";
const MIN: i64 = 60;
const HOUR: i64 = 3600;
/// The state must stay well under the host's 64 KiB per call (budget: 48 KiB).
const STATE_BUDGET: usize = 48 * 1024;
const CONFIG: &str = r#"{"nameplate_current_a": 50, "motor_temp_rating_c": 150}"#;

/// SplitMix64: a small seeded PRNG, with Box–Muller normals.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal deviate.
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// One time step of the five channels.
#[derive(Clone, Copy)]
struct Point {
    current: f64,
    temperature: f64,
    vibration: f64,
    pressure: f64,
    frequency: f64,
}

/// Normal operation at `frequency` Hz: 40 A at 55 Hz (current ∝ f^1.8, while
/// the rule assumes f^2), 110 °C, 0.6 g, intake pressure falling 20 per Hz.
fn normal(rng: &mut Rng, frequency: f64) -> Point {
    Point {
        current: 40.0 * (frequency / 55.0).powf(1.8) * (1.0 + 0.01 * rng.normal()),
        temperature: 110.0 + 0.5 * rng.normal(),
        vibration: (0.6 + 0.05 * rng.normal()).abs(),
        pressure: 900.0 - 20.0 * (frequency - 55.0) + 3.0 * rng.normal(),
        frequency,
    }
}

/// A signal as (alarm type, raise?, ts in s, details).
type Event = (String, bool, i64, serde_json::Value);

/// Runs `seconds` of a trace sampled every `step` s through the rule, one
/// batch per minute at the time of its last sample; returns the signals and
/// the final state.
fn simulate(
    config: &str,
    seconds: i64,
    step: i64,
    seed: u64,
    mut model: impl FnMut(i64, &mut Rng) -> Point,
) -> (Vec<Event>, EspState) {
    let mut rule = Harness::<EspProtectionRule>::from_json(config).expect("valid config").with_device(DEVICE);
    let mut rng = Rng(seed);
    let mut events = Vec::new();
    let mut t = 0;
    while t < seconds {
        let keys = ["motor_current", "motor_temperature", "vibration", "intake_pressure", "frequency"];
        let mut batch: Vec<Series> = keys.iter().map(|k| Series::from_samples(k, [])).collect();
        let end = (t + MIN).min(seconds);
        while t < end {
            let p = model(t, &mut rng);
            let values = [p.current, p.temperature, p.vibration, p.pressure, p.frequency];
            for (series, v) in batch.iter_mut().zip(values) {
                series.ts.push(t * 1000);
                if let Column::Number(values) = &mut series.values {
                    values.push(v);
                }
            }
            t += step;
        }
        for signal in rule.evaluate((t - step) * 1000, &batch).expect("the rule runs") {
            assert_eq!(signal.device_id, DEVICE);
            let details = serde_json::from_str(&signal.details).expect("json details");
            events.push((signal.alarm_type, signal.action == AlarmAction::Raise, signal.ts / 1000, details));
        }
    }
    assert!(rule.store().largest() < STATE_BUDGET, "state of {} bytes", rule.store().largest());
    (events, rule.state())
}

/// The (type, raise?) pairs of the events.
fn kinds(events: &[Event]) -> Vec<(&str, bool)> {
    events.iter().map(|e| (e.0.as_str(), e.1)).collect()
}

/// The first event of an alarm type and direction.
fn first<'a>(events: &'a [Event], alarm_type: &str, raise: bool) -> &'a Event {
    events
        .iter()
        .find(|e| e.0 == alarm_type && e.1 == raise)
        .unwrap_or_else(|| panic!("no {alarm_type} {raise}: {events:?}"))
}

#[test]
fn normal_trace_with_frequency_changes_raises_nothing() {
    // 10 h at 2 s: 55 Hz, 60 Hz from 3 h, 50 Hz from 5 h, 58 Hz from 8 h.
    let frequency = |t: i64| match t {
        t if t < 3 * HOUR => 55.0,
        t if t < 5 * HOUR => 60.0,
        t if t < 8 * HOUR => 50.0,
        _ => 58.0,
    };
    let (events, state) = simulate(CONFIG, 10 * HOUR, 2, 1, |t, rng| normal(rng, frequency(t)));
    assert!(events.is_empty(), "{events:?}");
    let reference = state.reference.expect("tracked reference");
    assert!((reference - 40.0).abs() < 1.5, "reference {reference} A at 55 Hz");
    let cv = state.baseline_cv.expect("learned baseline CV");
    assert!(cv > 0.005 && cv < 0.02, "baseline CV {cv}");
    assert_eq!(state.reference_frequency, Some(55.0));
    assert!(state.vibration_baseline.buckets.len() >= 9);
}

#[test]
fn normal_traces_with_other_seeds_raise_nothing() {
    for seed in 2..6 {
        let (events, _) = simulate(CONFIG, 2 * HOUR, 1, seed, |_, rng| normal(rng, 55.0));
        assert!(events.is_empty(), "seed {seed}: {events:?}");
    }
}

#[test]
fn underload_raises_on_its_signature() {
    let (events, _) = simulate(CONFIG, 60 * MIN, 1, 7, |t, rng| {
        let mut p = normal(rng, 55.0);
        if (40 * MIN..43 * MIN).contains(&t) {
            p.current = 28.0 * (1.0 + 0.01 * rng.normal());
        }
        p
    });
    assert_eq!(kinds(&events), [("Underload", true), ("Underload", false)], "{events:?}");
    let raise = first(&events, "Underload", true);
    assert!((40 * MIN + 20..=40 * MIN + 21).contains(&raise.2), "raised at {} s", raise.2);
    assert_eq!(raise.3["reference"], "tracked");
    let reference = raise.3["reference_current_a"].as_f64().expect("number");
    assert!((reference - 40.0).abs() < 1.0, "reference {reference}");
    assert_eq!(first(&events, "Underload", false).2, 43 * MIN);
}

#[test]
fn underload_with_a_configured_reference_and_a_stop() {
    let config = r#"{"nameplate_current_a": 50, "motor_temp_rating_c": 150, "reference_current_a": 40,
                     "gas_lock": {"enabled": false}}"#;
    let (events, _) = simulate(config, 30 * MIN, 1, 8, |t, rng| {
        let mut p = normal(rng, 55.0);
        match t {
            t if (5 * MIN..8 * MIN).contains(&t) => p.current = 30.0 + 0.3 * rng.normal(),
            // Tripped: stopped motors are not underloaded; the alarm stays until running normally.
            t if (8 * MIN..20 * MIN).contains(&t) => p.current = 0.0,
            _ => {}
        }
        p
    });
    assert_eq!(kinds(&events), [("Underload", true), ("Underload", false)], "{events:?}");
    assert_eq!(first(&events, "Underload", true).2, 5 * MIN + 20);
    assert_eq!(first(&events, "Underload", false).2, 20 * MIN);
}

#[test]
fn overload_raises_on_its_signature() {
    let (events, _) = simulate(CONFIG, 30 * MIN, 1, 9, |t, rng| {
        let mut p = normal(rng, 55.0);
        if (20 * MIN..22 * MIN).contains(&t) {
            p.current = 60.0 * (1.0 + 0.01 * rng.normal());
        }
        p
    });
    assert_eq!(kinds(&events), [("Overload", true), ("Overload", false)], "{events:?}");
    let raise = first(&events, "Overload", true);
    assert_eq!(raise.2, 20 * MIN + 10);
    assert!(raise.3["load"].as_f64().expect("number") > 1.15);
    assert_eq!(first(&events, "Overload", false).2, 22 * MIN);
}

#[test]
fn motor_temperature_raises_on_its_signature_without_chatter() {
    // Heats 0.5 °C/min from 10 min to 146 °C, holds, cools 1 °C/min from 90 min.
    let (events, _) = simulate(CONFIG, 2 * HOUR, 1, 10, |t, rng| {
        let mut p = normal(rng, 55.0);
        let minutes = t as f64 / 60.0;
        let base = match minutes {
            m if m < 10.0 => 110.0,
            m if m < 82.0 => 110.0 + 0.5 * (m - 10.0),
            m if m < 90.0 => 146.0,
            m => (146.0 - (m - 90.0)).max(120.0),
        };
        p.temperature = base + 0.2 * rng.normal();
        p
    });
    assert_eq!(kinds(&events), [("HighMotorTemperature", true), ("HighMotorTemperature", false)], "{events:?}");
    // 140 °C is crossed at 70 min; 30 s more to raise. 135 °C is reached at 101 min.
    let raise = first(&events, "HighMotorTemperature", true).2;
    assert!((69 * MIN + 30..72 * MIN).contains(&raise), "raised at {raise} s");
    let clear = first(&events, "HighMotorTemperature", false).2;
    assert!((100 * MIN + 30..102 * MIN).contains(&clear), "cleared at {clear} s");
}

#[test]
fn vibration_raises_above_the_absolute_limit() {
    let (events, _) = simulate(CONFIG, 9 * HOUR, 10, 11, |t, rng| {
        let mut p = normal(rng, 55.0);
        if (8 * HOUR..8 * HOUR + 10 * MIN).contains(&t) {
            p.vibration = 2.5 + 0.05 * rng.normal();
        }
        p
    });
    assert_eq!(kinds(&events), [("HighVibration", true), ("HighVibration", false)], "{events:?}");
    let raise = first(&events, "HighVibration", true);
    assert_eq!(raise.2, 8 * HOUR + 30);
    assert_eq!(raise.3["threshold_g"], 2.0, "max(2.0 g, 2 × 0.6 g)");
    assert_eq!(first(&events, "HighVibration", false).2, 8 * HOUR + 10 * MIN);
}

#[test]
fn vibration_threshold_follows_twice_the_baseline_median() {
    // A rougher well: 1.5 g normally, so the threshold is max(2.0, 3.0) = 3.0 g
    // once 6 hourly buckets exist. 2.5 g then does not raise; 3.5 g does.
    let (events, state) = simulate(CONFIG, 9 * HOUR, 10, 12, |t, rng| {
        let mut p = normal(rng, 55.0);
        p.vibration = 1.5 + 0.05 * rng.normal();
        if (8 * HOUR..8 * HOUR + 10 * MIN).contains(&t) {
            p.vibration = 2.5 + 0.05 * rng.normal();
        }
        if (8 * HOUR + 20 * MIN..8 * HOUR + 25 * MIN).contains(&t) {
            p.vibration = 3.5 + 0.05 * rng.normal();
        }
        p
    });
    assert_eq!(kinds(&events), [("HighVibration", true), ("HighVibration", false)], "{events:?}");
    let raise = first(&events, "HighVibration", true);
    assert_eq!(raise.2, 8 * HOUR + 20 * MIN + 30);
    let median = raise.3["baseline_median_g"].as_f64().expect("number");
    assert!((median - 1.5).abs() < 0.02, "median {median}");
    // The 3.5 g samples (violating) stay out of the baseline; the 2.5 g ones
    // were normal for this well: that hour's mean is (10·2.5 + 45·1.5)/55.
    let highest = state.vibration_baseline.buckets.iter().map(|b| b.mean).fold(0.0, f64::max);
    assert!((highest - 1.68).abs() < 0.02, "highest bucket mean {highest}");
    // The same 2.5 g before the baseline exists raises on the absolute limit.
    let (early, _) = simulate(CONFIG, 2 * HOUR, 10, 13, |t, rng| {
        let mut p = normal(rng, 55.0);
        p.vibration = if (HOUR..HOUR + 10 * MIN).contains(&t) { 2.5 } else { 1.5 } + 0.05 * rng.normal();
        p
    });
    assert_eq!(kinds(&early), [("HighVibration", true), ("HighVibration", false)], "{early:?}");
}

#[test]
fn gas_lock_raises_on_its_signature() {
    // Normal for 40 min; then gas breaks out: current drops to about 0.75 of
    // normal and swings irregularly, intake pressure rises (nothing is drawn),
    // the motor heats up; at 75 min the drive trips on underload.
    let (events, _) = simulate(CONFIG, 80 * MIN, 1, 14, |t, rng| {
        let mut p = normal(rng, 55.0);
        if t >= 40 * MIN {
            let s = (t - 40 * MIN) as f64;
            let swing =
                0.12 * (std::f64::consts::TAU * s / 90.0).sin() + 0.06 * (std::f64::consts::TAU * s / 37.0 + 1.0).sin();
            p.current = 30.0 * (1.0 + swing + 0.03 * rng.normal());
            p.pressure = 900.0 + s / 60.0 + 3.0 * rng.normal();
            p.temperature = 110.0 + s / 240.0 + 0.5 * rng.normal();
        }
        if t >= 75 * MIN {
            p.current = 0.0;
        }
        p
    });
    let raise = first(&events, "GasLock", true);
    assert!((44 * MIN..56 * MIN).contains(&raise.2), "raised at {} s: {events:?}", raise.2);
    assert!(raise.3["cv"].as_f64().expect("cv") > 3.0 * raise.3["baseline_cv"].as_f64().expect("baseline"));
    assert!(raise.3["swings"].as_u64().expect("swings") >= 4);
    assert!(raise.3["mean_current_a"].as_f64().expect("mean") < 36.0);
    for (alarm_type, ..) in &events {
        assert!(matches!(alarm_type.as_str(), "GasLock" | "Underload"), "unexpected {alarm_type}: {events:?}");
    }
    assert!(!events.iter().any(|e| e.0 == "GasLock" && !e.1), "held while locked and after the trip: {events:?}");
}

#[test]
fn pump_off_is_underload_not_gas_lock() {
    // Fluid level drops: current declines steadily and PIP falls.
    let (events, _) = simulate(CONFIG, 80 * MIN, 1, 15, |t, rng| {
        let mut p = normal(rng, 55.0);
        if t >= 40 * MIN {
            let m = ((t - 40 * MIN) as f64 / 60.0).min(30.0);
            p.current = (40.0 - 13.0 * m / 30.0) * (1.0 + 0.01 * rng.normal());
            p.pressure = 900.0 - 10.0 * m + 3.0 * rng.normal();
        }
        p
    });
    assert_eq!(kinds(&events), [("Underload", true)], "{events:?}");
    // 32 A (0.8 × 40) is crossed at about 58.5 min; the reference drifts down
    // a little while the decline is within the tracking band.
    let raise = first(&events, "Underload", true).2;
    assert!((58 * MIN..62 * MIN).contains(&raise), "raised at {raise} s");
}

#[test]
fn gas_interference_at_normal_current_is_not_gas_lock() {
    let (events, _) = simulate(CONFIG, 90 * MIN, 1, 16, |t, rng| {
        let mut p = normal(rng, 55.0);
        if t >= 40 * MIN {
            let s = t as f64;
            let swing =
                0.06 * (std::f64::consts::TAU * s / 60.0).sin() + 0.03 * (std::f64::consts::TAU * s / 23.0).sin();
            p.current = 40.0 * (1.0 + swing + 0.01 * rng.normal());
        }
        p
    });
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn disabled_alarms_do_not_raise_and_raised_ones_are_cleared() {
    let trace = |t: i64, rng: &mut Rng| {
        let mut p = normal(rng, 55.0);
        p.temperature = 145.0;
        if t >= 5 * MIN {
            p.current = 60.0;
        }
        p
    };
    let config = r#"{"nameplate_current_a": 50, "motor_temp_rating_c": 150, "overload": {"enabled": false}}"#;
    let (events, _) = simulate(config, 10 * MIN, 1, 17, trace);
    assert_eq!(kinds(&events), [("HighMotorTemperature", true)], "{events:?}");
    // An alarm raised before it was disabled is cleared.
    let enabled = parse_config(CONFIG).expect("valid");
    let disabled = parse_config(
        r#"{"nameplate_current_a": 50, "motor_temp_rating_c": 150, "motor_temperature": {"enabled": false}}"#,
    )
    .expect("valid");
    let hot = |ts: i64| vec![Series::from_samples("motor_temperature", [Sample::new(ts, 145.0)])];
    let mut state = EspState::default();
    evaluate_batch(&enabled, &mut state, DEVICE, &hot(0));
    assert_eq!(evaluate_batch(&enabled, &mut state, DEVICE, &hot(30_000)).len(), 1);
    let cleared = evaluate_batch(&disabled, &mut state, DEVICE, &hot(60_000));
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0].action, AlarmAction::Clear);
    assert!(!state.alarms.motor_temperature.active);
}

#[test]
fn state_stays_small_over_more_than_a_week() {
    // 8 days at 30 s: the vibration baseline holds 7 days of hourly buckets.
    let (events, state) = simulate(CONFIG, 8 * 24 * HOUR, 30, 18, |_, rng| normal(rng, 55.0));
    assert!(events.is_empty(), "{events:?}");
    assert!(
        (168..=169).contains(&state.vibration_baseline.buckets.len()),
        "{}",
        state.vibration_baseline.buckets.len()
    );
    let size = serde_json::to_string(&state).expect("encode").len();
    assert!(size < 16 * 1024, "state of {size} bytes");
}
