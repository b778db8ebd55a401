//! Acceptance tests: one table of cases covering each ThingsBoard condition
//! type, each operator family, schedules in a time zone and each of the five
//! extensions; every case runs as a sequence of calls under the SDK's test
//! harness, which carries the state between calls as JSON bytes as the host
//! does (so every call starts as after a host restart).

use alarm_rule_conditions::tz::{DAY_MS, days_from_civil};
use alarm_rule_conditions::{ConditionsRule, RuleState, evaluate_batch, parse_config};
use nexus_plugin_sdk::testing::Harness;
use nexus_plugin_sdk::{AlarmAction, AlarmSignal, Series, SeriesBuilder, Severity, Value};

const DEVICE: &str = "well-7";
const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
/// Largest state value the host accepts comfortably (the brief's budget).
const STATE_BUDGET: usize = 48 * 1024;

fn n(v: f64) -> Value {
    Value::Number(v)
}

fn b(v: bool) -> Value {
    Value::Boolean(v)
}

fn s(v: &str) -> Value {
    Value::Text(v.into())
}

/// One simulated `evaluate` call: samples `(ts, key, value)` and the host's time.
struct Call {
    now: i64,
    data: Vec<(i64, &'static str, Value)>,
}

/// A call whose host time is the latest sample's time (no evaluation after the data).
fn data(data: Vec<(i64, &'static str, Value)>) -> Call {
    let now = data.iter().map(|d| d.0).max().unwrap_or(0);
    Call { now, data }
}

/// A call at host time `now` with some samples.
fn at(now: i64, data: Vec<(i64, &'static str, Value)>) -> Call {
    Call { now, data }
}

/// A call at host time `now` with no samples of the rule's keys.
fn tick(now: i64) -> Call {
    Call { now, data: Vec::new() }
}

struct Case {
    name: &'static str,
    config: String,
    calls: Vec<Call>,
    expect: Vec<&'static str>,
}

fn case(name: &'static str, config: &str, calls: Vec<Call>, expect: &[&'static str]) -> Case {
    Case { name, config: config.to_string(), calls, expect: expect.to_vec() }
}

/// UTC ms of a civil date and time.
fn utc(year: i64, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
    days_from_civil(year, month, day) * DAY_MS + hour * 3_600_000 + minute * MIN
}

/// A batch as the host builds it: one series per key and value type,
/// samples in `ts` order.
fn batch(data: &[(i64, &'static str, Value)], quality: f32) -> Vec<Series> {
    let mut builder = SeriesBuilder::new();
    for (ts, key, value) in data {
        builder.push(key, *ts, value.clone(), quality);
    }
    builder.build()
}

fn describe(signal: &AlarmSignal) -> String {
    let severity = match signal.severity {
        Severity::Critical => "critical",
        Severity::Major => "major",
        Severity::Minor => "minor",
        Severity::Warning => "warning",
        Severity::Indeterminate => "indeterminate",
    };
    match signal.action {
        AlarmAction::Raise => format!("raise {severity} @{}", signal.ts),
        AlarmAction::Clear => format!("clear @{}", signal.ts),
    }
}

/// Runs the calls of a case through the harness (state carried as JSON
/// bytes between calls) and returns the signals.
fn run(config_json: &str, calls: &[Call], quality: f32) -> Vec<AlarmSignal> {
    let mut rule = Harness::<ConditionsRule>::from_json(config_json).expect("valid config").with_device(DEVICE);
    let mut signals = Vec::new();
    for call in calls {
        let out = rule.evaluate(call.now, &batch(&call.data, quality)).expect("the rule runs");
        for signal in &out {
            assert_eq!(signal.device_id, DEVICE);
            assert!(serde_json::from_str::<serde_json::Value>(&signal.details).expect("details").is_object());
        }
        signals.extend(out);
    }
    assert!(rule.store().largest() < STATE_BUDGET, "state of {} bytes", rule.store().largest());
    signals
}

fn cases() -> Vec<Case> {
    let major_gt_100 = r#"{"alarm_type": "High", "severities": [{"severity": "major", "create": {"key": "p", "op": ">", "value": 100}}]}"#;
    let mon = |h, m| utc(2025, 6, 2, h, m);
    let sat = |h, m| utc(2025, 6, 7, h, m);
    let jan_mon = |h, m| utc(2026, 1, 5, h, m);
    vec![
        // ---- ThingsBoard condition types -------------------------------------------------------
        case(
            "simple: raise while true, auto-clear without a clear rule",
            major_gt_100,
            vec![
                data(vec![(1000, "p", n(50.0)), (2000, "p", n(150.0)), (3000, "p", n(160.0))]),
                data(vec![(4000, "p", n(90.0))]),
            ],
            &["raise major @2000", "clear @4000"],
        ),
        case(
            "duration: true continuously for 60 s, fired by the host time; a gap resets it",
            r#"{"alarm_type": "High", "severities": [{"severity": "major", "create": {"key": "p", "op": ">", "value": 100, "duration_ms": 60000}}]}"#,
            vec![
                data(vec![(0, "p", n(150.0)), (30 * SEC, "p", n(150.0))]),
                data(vec![(59_999, "p", n(150.0))]),
                tick(60 * SEC),
                data(vec![(70 * SEC, "p", n(90.0))]),
                data(vec![(80 * SEC, "p", n(150.0)), (100 * SEC, "p", n(50.0)), (130 * SEC, "p", n(150.0))]),
                tick(150 * SEC),
            ],
            &["raise major @60000", "clear @70000"],
        ),
        case(
            "repeating: 3 consecutive evaluations with data; host-time evaluations do not count",
            r#"{"alarm_type": "Trip", "severities": [{"severity": "minor", "create": {"key": "trip", "op": "==", "value": true, "repeat": 3}}]}"#,
            vec![
                data(vec![(1, "trip", b(true)), (2, "trip", b(true)), (3, "trip", b(false)), (4, "trip", b(true))]),
                at(5, vec![(5, "trip", b(true))]),
                tick(100),
                tick(200),
                data(vec![(300, "trip", b(true))]),
                data(vec![(400, "trip", b(false))]),
            ],
            &["raise minor @300", "clear @400"],
        ),
        case(
            "missing for: no heartbeat for 60 s, checked at the host time of each call",
            r#"{"alarm_type": "NoData", "severities": [{"severity": "warning", "create": {"key": "heartbeat", "missing_for_ms": 60000}}]}"#,
            vec![
                data(vec![(0, "heartbeat", n(1.0))]),
                at(30 * SEC, vec![(30 * SEC, "unrelated", n(5.0))]),
                tick(59_999),
                tick(60 * SEC),
                data(vec![(65 * SEC, "heartbeat", n(1.0))]),
            ],
            &["raise warning @60000", "clear @65000"],
        ),
        case(
            "numeric operators == != > < >= <= (ThingsBoard names too)",
            r#"{"alarm_type": "Num", "severities": [{"severity": "major", "create": {"all": [
                {"key": "a", "op": "==", "value": 5}, {"key": "b", "op": "NOT_EQUAL", "value": 5},
                {"key": "c", "op": "GREATER", "value": 5}, {"key": "d", "op": "<", "value": 5},
                {"key": "e", "op": ">=", "value": 5}, {"key": "f", "op": "LESS_OR_EQUAL", "value": 5}]}}]}"#,
            vec![
                data(vec![
                    (1, "a", n(5.0)),
                    (1, "b", n(4.0)),
                    (1, "c", n(6.0)),
                    (1, "d", n(4.0)),
                    (1, "e", n(5.0)),
                    (1, "f", n(5.0)),
                ]),
                data(vec![(2, "e", n(4.9))]),
                data(vec![(3, "e", Value::Integer(5))]),
                data(vec![(4, "f", n(5.1))]),
                data(vec![(5, "f", n(5.0)), (6, "b", n(5.0))]),
                data(vec![(7, "b", n(6.0)), (8, "c", n(5.0))]),
                data(vec![(9, "c", n(7.0)), (10, "d", n(5.0))]),
                data(vec![(11, "d", n(1.0)), (12, "a", n(5.5))]),
            ],
            &[
                "raise major @1",
                "clear @2",
                "raise major @3",
                "clear @4",
                "raise major @5",
                "clear @6",
                "raise major @7",
                "clear @8",
                "raise major @9",
                "clear @10",
                "raise major @11",
                "clear @12",
            ],
        ),
        case(
            "boolean operators == and != (numbers and \"true\"/\"false\" text read as booleans)",
            r#"{"alarm_type": "Stopped", "severities": [{"severity": "major", "create": {"all": [
                {"key": "running", "op": "==", "value": false}, {"key": "maintenance", "op": "!=", "value": true}]}}]}"#,
            vec![
                data(vec![(1, "running", b(true)), (1, "maintenance", b(false))]),
                data(vec![(2, "running", b(false))]),
                data(vec![(3, "maintenance", s("TRUE"))]),
                data(vec![(4, "maintenance", n(0.0))]),
                data(vec![(5, "running", n(1.0))]),
            ],
            &["raise major @2", "clear @3", "raise major @4", "clear @5"],
        ),
        case(
            "text operators: == != starts_with ends_with contains not_contains, ignore_case",
            r#"{"alarm_type": "DriveFault", "severities": [{"severity": "critical", "create": {"all": [
                {"any": [{"key": "status", "op": "starts_with", "value": "E-"}, {"key": "status", "op": "ends_with", "value": "TRIP"},
                         {"key": "status", "op": "contains", "value": "gas", "ignore_case": true}, {"key": "status", "op": "==", "value": "FAULT"}]},
                {"key": "mode", "op": "!=", "value": "maintenance"},
                {"key": "note", "op": "not_contains", "value": "test"}]}}]}"#,
            vec![
                data(vec![(1, "status", s("RUN")), (1, "mode", s("auto")), (1, "note", s(""))]),
                data(vec![(2, "status", s("E-42"))]),
                data(vec![(3, "status", s("RUN"))]),
                data(vec![(4, "status", s("UL TRIP"))]),
                data(vec![(5, "note", s("bench test"))]),
                data(vec![(6, "note", s("")), (6, "status", s("GAS lock"))]),
                data(vec![(7, "mode", s("maintenance"))]),
                data(vec![(8, "mode", s("auto")), (8, "status", s("FAULT"))]),
                data(vec![(9, "status", s("fault"))]),
            ],
            &[
                "raise critical @2",
                "clear @3",
                "raise critical @4",
                "clear @5",
                "raise critical @6",
                "clear @7",
                "raise critical @8",
                "clear @9",
            ],
        ),
        case(
            "in / not_in lists of numbers and strings",
            r#"{"alarm_type": "Code", "severities": [{"severity": "minor", "create": {"all": [
                {"key": "code", "op": "in", "value": [3, 7, 11]}, {"key": "site", "op": "not_in", "value": ["lab", "yard"], "ignore_case": true}]}}]}"#,
            vec![
                data(vec![(1, "code", Value::Integer(7)), (1, "site", s("North"))]),
                data(vec![(2, "code", n(8.0))]),
                data(vec![(3, "code", n(11.0))]),
                data(vec![(4, "site", s("LAB"))]),
            ],
            &["raise minor @1", "clear @2", "raise minor @3", "clear @4"],
        ),
        case(
            "schedule: weekdays 08:00-18:00 America/Chicago (CDT in June, CST in January)",
            r#"{"alarm_type": "High", "severities": [{"severity": "major", "create": {"key": "p", "op": ">", "value": 100,
                "schedule": {"timezone": "America/Chicago", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}}}]}"#,
            vec![
                data(vec![(mon(12, 59), "p", n(150.0))]),
                data(vec![(mon(13, 0), "p", n(150.0))]),
                data(vec![(mon(22, 59), "p", n(150.0))]),
                tick(mon(23, 0)),
                data(vec![(sat(15, 0), "p", n(150.0))]),
                data(vec![(jan_mon(13, 30), "p", n(150.0))]),
                tick(jan_mon(14, 0)),
            ],
            &["raise major @1748869200000", "clear @1748905200000", "raise major @1767621600000"],
        ),
        case(
            "ThingsBoard clear rule: alarm stays open until the clear condition holds",
            r#"{"alarm_type": "High", "severities": [{"severity": "major", "create": {"key": "p", "op": ">", "value": 100}}],
                "clear": {"key": "p", "op": "<", "value": 50, "duration_ms": 10000}}"#,
            vec![
                data(vec![(0, "p", n(150.0)), (1000, "p", n(80.0)), (2000, "p", n(40.0))]),
                data(vec![(5000, "p", n(45.0))]),
                tick(12 * SEC),
            ],
            &["raise major @0", "clear @12000"],
        ),
        case(
            "highest satisfied severity wins; levels without closing rules follow their conditions",
            r#"{"alarm_type": "Pressure", "severities": [
                {"severity": "minor", "create": {"key": "p", "op": ">", "value": 1000}},
                {"severity": "critical", "create": {"key": "p", "op": ">", "value": 1500}},
                {"severity": "major", "create": {"key": "p", "op": ">", "value": 1200}}]}"#,
            vec![
                data(vec![(1, "p", n(1100.0)), (2, "p", n(1600.0)), (3, "p", n(1300.0))]),
                data(vec![(4, "p", n(1050.0)), (5, "p", n(900.0))]),
            ],
            &["raise minor @1", "raise critical @2", "raise major @3", "raise minor @4", "clear @5"],
        ),
        case(
            "ThingsBoard #5508: with a clear rule the severity does not go down by default",
            r#"{"alarm_type": "Temp", "severities": [
                {"severity": "critical", "create": {"key": "t", "op": ">", "value": 4}},
                {"severity": "major", "create": {"key": "t", "op": ">", "value": 0}}],
                "clear": {"key": "t", "op": "<", "value": 0}}"#,
            vec![
                data(vec![(1, "t", n(2.0)), (2, "t", n(5.0)), (3, "t", n(2.0))]),
                data(vec![(4, "t", n(0.0)), (5, "t", n(-1.0))]),
            ],
            &["raise major @1", "raise critical @2", "clear @5"],
        ),
        // ---- Extensions ------------------------------------------------------------------------
        case(
            "extension hysteresis: separate clear threshold (deadband) per severity, no chatter",
            r#"{"alarm_type": "HighCasingPressure", "severities": [
                {"severity": "critical", "create": {"key": "p", "op": ">", "value": 1500}, "clear": {"key": "p", "op": "<", "value": 1400}},
                {"severity": "major", "create": {"key": "p", "op": ">", "value": 1200}, "clear": {"key": "p", "op": "<", "value": 1100}}]}"#,
            vec![
                data(vec![
                    (1, "p", n(1000.0)),
                    (2, "p", n(1250.0)),
                    (3, "p", n(1150.0)),
                    (4, "p", n(1210.0)),
                    (5, "p", n(1190.0)),
                ]),
                data(vec![(6, "p", n(1510.0)), (7, "p", n(1450.0)), (8, "p", n(1501.0)), (9, "p", n(1350.0))]),
                data(vec![(10, "p", n(1150.0)), (11, "p", n(1201.0)), (12, "p", n(1090.0))]),
                data(vec![(13, "p", n(1700.0)), (14, "p", n(1000.0))]),
            ],
            &["raise major @2", "raise critical @6", "raise major @9", "clear @12", "raise critical @13", "clear @14"],
        ),
        case(
            "extension de-escalation (#5508 with de_escalate): MAJOR falls back when only it holds",
            r#"{"alarm_type": "Temp", "de_escalate": true, "severities": [
                {"severity": "critical", "create": {"key": "t", "op": ">", "value": 4}},
                {"severity": "major", "create": {"key": "t", "op": ">", "value": 0}}],
                "clear": {"key": "t", "op": "<", "value": 0}}"#,
            vec![data(vec![(1, "t", n(2.0)), (2, "t", n(5.0)), (3, "t", n(2.0)), (4, "t", n(0.0)), (5, "t", n(-1.0))])],
            &["raise major @1", "raise critical @2", "raise major @3", "clear @5"],
        ),
        case(
            "extension per-severity clear (#11803): critical steps down after 2 min, alarm clears after 5 min",
            r#"{"alarm_type": "Door", "severities": [
                {"severity": "warning", "create": {"key": "open", "op": "==", "value": 1}},
                {"severity": "critical", "create": {"key": "open", "op": "==", "value": 1, "duration_ms": 60000},
                 "clear": {"key": "open", "op": "==", "value": 0, "duration_ms": 120000}}],
                "clear": {"key": "open", "op": "==", "value": 0, "duration_ms": 300000}}"#,
            vec![
                data(vec![(0, "open", n(1.0)), (30 * SEC, "open", n(1.0))]),
                data(vec![(60 * SEC, "open", n(1.0)), (100 * SEC, "open", n(0.0))]),
                tick(219 * SEC),
                tick(220 * SEC),
                tick(399 * SEC),
                tick(400 * SEC),
            ],
            &["raise warning @0", "raise critical @60000", "raise warning @220000", "clear @400000"],
        ),
        case(
            "extension per-severity clear (#12560): warning clears by itself, critical never auto-clears",
            r#"{"alarm_type": "Level", "severities": [
                {"severity": "warning", "create": {"key": "high", "op": "==", "value": true, "duration_ms": 600000},
                 "clear": {"key": "high", "op": "==", "value": false}},
                {"severity": "critical", "create": {"key": "high", "op": "==", "value": true, "duration_ms": 3000000}, "clear": "never"}]}"#,
            vec![
                data(vec![(0, "high", b(true)), (10 * MIN, "high", b(true))]),
                data(vec![(15 * MIN, "high", b(false))]),
                data(vec![(20 * MIN, "high", b(true)), (30 * MIN, "high", b(true)), (70 * MIN, "high", b(true))]),
                data(vec![(90 * MIN, "high", b(false))]),
                tick(600 * MIN),
            ],
            &["raise warning @600000", "clear @900000", "raise warning @1800000", "raise critical @4200000"],
        ),
        case(
            "extension clear-if-not-recurring (#10979): clear 10 min after the last occurrence",
            r#"{"alarm_type": "Intrusion", "severities": [{"severity": "major", "create": {"key": "animal", "op": "==", "value": true}}],
                "clear_if_not_recurring_ms": 600000}"#,
            vec![
                data(vec![(0, "animal", b(true)), (MIN, "animal", b(false))]),
                data(vec![(5 * MIN, "animal", b(true)), (6 * MIN, "animal", b(false))]),
                tick(14 * MIN),
                tick(15 * MIN),
                tick(16 * MIN),
            ],
            &["raise major @0", "clear @900000"],
        ),
        case(
            "extension clear-if-not-recurring with event-style data: only `true` events ever arrive",
            r#"{"alarm_type": "Intrusion", "severities": [{"severity": "major", "create": {"key": "animal", "op": "==", "value": true}}],
                "clear_if_not_recurring_ms": 600000}"#,
            vec![
                data(vec![(0, "animal", b(true))]),
                data(vec![(5 * MIN, "animal", b(true))]),
                at(9 * MIN, vec![(9 * MIN, "camera_ok", b(true))]),
                tick(14 * MIN),
                tick(15 * MIN),
                tick(16 * MIN),
                data(vec![(20 * MIN, "animal", b(true))]),
                tick(31 * MIN),
                tick(45 * MIN),
            ],
            &["raise major @0", "clear @900000", "raise major @1200000", "clear @1860000"],
        ),
        case(
            "extension OR: any-of groups nested in all-of",
            r#"{"alarm_type": "Leak", "severities": [{"severity": "major", "create": {"all": [
                {"key": "pumping", "op": "==", "value": true},
                {"any": [{"key": "casing_pressure", "op": ">", "value": 1200}, {"key": "alarm_flag", "op": "==", "value": true}]}]}}]}"#,
            vec![
                data(vec![(1, "pumping", b(true)), (1, "casing_pressure", n(1000.0)), (1, "alarm_flag", b(false))]),
                data(vec![(2, "alarm_flag", b(true))]),
                data(vec![(3, "alarm_flag", b(false))]),
                data(vec![(4, "casing_pressure", n(1300.0))]),
                data(vec![(5, "pumping", b(false))]),
            ],
            &["raise major @2", "clear @3", "raise major @4", "clear @5"],
        ),
        case(
            "extension restart-safe state: 10 min duration and a repeat counter restart mid-way",
            r#"{"alarm_type": "High", "severities": [
                {"severity": "critical", "create": {"key": "p", "op": ">", "value": 100, "duration_ms": 600000}},
                {"severity": "minor", "create": {"key": "q", "op": ">", "value": 5, "repeat": 4}}]}"#,
            vec![
                data(vec![(0, "p", n(150.0)), (0, "q", n(6.0)), (2 * MIN, "q", n(6.0))]),
                data(vec![(4 * MIN, "p", n(160.0)), (5 * MIN, "q", n(7.0))]),
                data(vec![(6 * MIN, "q", n(8.0))]),
                tick(9 * MIN),
                tick(10 * MIN),
            ],
            &["raise minor @360000", "raise critical @600000"],
        ),
        // ---- Batch semantics -------------------------------------------------------------------
        case(
            "several samples per key: sample by sample with the latest value of the other keys",
            r#"{"alarm_type": "Run", "severities": [{"severity": "major", "create": {"all": [
                {"key": "p", "op": ">", "value": 100}, {"key": "running", "op": "==", "value": true}]}}]}"#,
            vec![data(vec![
                (1, "running", b(true)),
                (2, "p", n(150.0)),
                (3, "running", b(false)),
                (4, "p", n(160.0)),
                (5, "running", b(true)),
                (6, "p", n(50.0)),
                (7, "p", n(150.0)),
                (7, "running", b(false)),
            ])],
            &["raise major @2", "clear @3", "raise major @5", "clear @6"],
        ),
        case(
            "late samples (older than the last evaluated ones) are skipped",
            major_gt_100,
            vec![
                data(vec![(1000, "p", n(50.0))]),
                at(1000, vec![(500, "p", n(150.0))]),
                data(vec![(1000, "p", n(150.0))]),
            ],
            &["raise major @1000"],
        ),
    ]
}

#[test]
fn table_of_conditions_and_extensions() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let got: Vec<String> = run(&case.config, &case.calls, 1.0).iter().map(describe).collect();
        if got != case.expect {
            failures.push(format!("{}:\n  expected {:?}\n  got      {:?}", case.name, case.expect, got));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn ten_minute_duration_survives_a_restart_in_the_middle() {
    let config_json = r#"{"alarm_type": "HighCasingPressure", "severities": [
        {"severity": "critical", "create": {"key": "casing_pressure", "op": ">", "value": 1500, "duration_ms": 600000}}]}"#;
    let samples = |from: i64, to: i64| -> Vec<Series> {
        batch(&(from..=to).step_by(10).map(|s| (s * SEC, "casing_pressure", n(1600.0))).collect::<Vec<_>>(), 1.0)
    };

    // Before the restart: 0–5 min above the limit, nothing yet.
    let config = parse_config(config_json).expect("valid");
    let mut state = RuleState::default();
    assert!(evaluate_batch(&config, &mut state, DEVICE, &samples(0, 300), 300 * SEC).is_empty());
    let persisted = serde_json::to_string(&state).expect("encode");
    drop((config, state));

    // After the restart: a new process, the configuration and the persisted state.
    let config = parse_config(config_json).expect("valid");
    let mut state: RuleState = serde_json::from_str(&persisted).expect("decode");
    let signals = evaluate_batch(&config, &mut state, DEVICE, &samples(310, 960), 960 * SEC);
    let got: Vec<String> = signals.iter().map(describe).collect();
    assert_eq!(got, ["raise critical @600000"], "raised exactly 10 min after the condition started");
    let details: serde_json::Value = serde_json::from_str(&signals[0].details).expect("json");
    assert_eq!(details["since"], 0);
    assert_eq!(details["values"]["casing_pressure"], 1600.0);

    // Had the state been lost, the alarm would have come 5 min late.
    let mut lost = RuleState::default();
    let late = evaluate_batch(&config, &mut lost, DEVICE, &samples(310, 960), 960 * SEC);
    assert_eq!(late.iter().map(describe).collect::<Vec<_>>(), ["raise critical @910000"]);
}

#[test]
fn min_quality_skips_bad_samples() {
    let config_json = r#"{"alarm_type": "High", "min_quality": 0.5,
        "severities": [{"severity": "major", "create": {"key": "p", "op": ">", "value": 100}}]}"#;
    assert!(run(config_json, &[data(vec![(1, "p", n(150.0))])], 0.2).is_empty());
    assert_eq!(run(config_json, &[data(vec![(1, "p", n(150.0))])], 0.9).len(), 1);
}

#[test]
fn signals_carry_explanations() {
    let config_json = r#"{"alarm_type": "Pressure", "severities": [
        {"severity": "critical", "create": {"key": "p", "op": ">", "value": 1500}},
        {"severity": "major", "create": {"key": "p", "op": ">", "value": 1200}}],
        "clear_if_not_recurring_ms": 1000}"#;
    let signals =
        run(config_json, &[data(vec![(1, "p", n(1300.0)), (2, "p", n(1600.0)), (3, "p", n(1000.0))]), tick(5000)], 1.0);
    let details: Vec<serde_json::Value> =
        signals.iter().map(|s| serde_json::from_str(&s.details).expect("json")).collect();
    assert_eq!(signals.len(), 3);
    assert_eq!(signals[0].alarm_type, "Pressure");
    assert_eq!(details[0]["reason"], "create");
    assert_eq!(details[0]["values"]["p"], 1300.0);
    assert_eq!(details[1]["reason"], "escalate");
    assert_eq!(details[1]["previous"], "major");
    assert_eq!(details[2]["reason"], "not-recurring");
    assert_eq!(details[2]["last_fired"], 2);
}

#[test]
fn state_stays_small_with_many_long_text_keys() {
    let predicates: Vec<String> =
        (0..64).map(|i| format!(r#"{{"key": "{}{i}", "op": "contains", "value": "x"}}"#, "k".repeat(200))).collect();
    let config_json = format!(
        r#"{{"alarm_type": "Big", "severities": [{{"severity": "minor", "create": {{"any": [{}]}}}}]}}"#,
        predicates.join(",")
    );
    let config = parse_config(&config_json).expect("valid");
    let long = "y".repeat(10_000);
    let series: Vec<Series> =
        config.keys.iter().map(|k| Series::from_samples(k, [nexus_plugin_sdk::Sample::new(1, s(&long))])).collect();
    let mut state = RuleState::default();
    evaluate_batch(&config, &mut state, DEVICE, &series, 1);
    let size = serde_json::to_string(&state).expect("encode").len();
    assert!(size < STATE_BUDGET, "state of {size} bytes");
}
