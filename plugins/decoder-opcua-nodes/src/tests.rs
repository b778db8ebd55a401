//! Frames through the node map: what the component does with each frame.

use nexus_plugin_sdk::{Decoder, Frame, Reading, SourceKind, Value, readings};

use super::*;

const RECEIVED: i64 = 1_700_000_999_000;
const SOURCE: i64 = 1_700_000_000_000;

const WELL: &str = r#"{"nodes": [
    {"node": "ns=2;s=Well.W1.Frequency", "key": "frequency_hz"},
    {"node": "ns=2;s=Well.W1.Intake", "key": "intake_pressure_kpa", "unit_from": "psi", "unit_to": "kPa"},
    {"node": "ns=2;s=Well.W1.MotorTemp", "key": "motor_temp_c", "unit_from": "degF", "unit_to": "degC"},
    {"node": "ns=2;s=Well.W1.Rate", "key": "liquid_rate_m3d", "unit_from": "bbl/d", "unit_to": "m3/d"},
    {"node": "ns=2;s=Well.W1.Current", "key": "motor_current_a", "scale": 0.1, "offset": -1},
    {"node": "ns=2;s=Well.W1.Running", "key": "running"},
    {"node": "ns=2;s=Well.W1.Mode", "key": "mode"}
]}"#;

fn frame(payload: &str) -> Frame {
    Frame {
        source: SourceKind::Opcua,
        device_id: "esp-1".into(),
        topic: "opc.tcp://plc:4840".into(),
        content_type: CONTENT_TYPE.into(),
        payload: payload.as_bytes().to_vec(),
        received_at: RECEIVED,
        metadata: Vec::new(),
    }
}

fn run(payload: &str) -> Result<Vec<Reading>, PluginError> {
    let config = parse_config(WELL).expect("valid config");
    decode_frame(&config, &frame(payload)).map(|series| readings("", &series))
}

fn number(reading: &Reading) -> f64 {
    match reading.value {
        Value::Number(n) => n,
        ref other => panic!("{}: {other:?} is not a number", reading.key),
    }
}

fn near(got: f64, expected: f64) {
    assert!((got - expected).abs() < 1e-9, "{got} != {expected}");
}

#[test]
fn good_values_convert_and_keep_their_source_time() {
    let readings = run(r#"[
        {"node": "ns=2;s=Well.W1.Frequency", "value": 52, "source_ts": 1700000000000, "status": 0},
        {"node": "ns=2;s=Well.W1.Intake", "value": 350, "source_ts": 1700000000000, "status": 0},
        {"node": "ns=2;s=Well.W1.MotorTemp", "value": 212, "source_ts": 1700000000000, "status": 0},
        {"node": "ns=2;s=Well.W1.Rate", "value": 1000, "source_ts": 1700000000000, "status": 0},
        {"node": "ns=2;s=Well.W1.Current", "value": 455, "source_ts": 1700000000000, "status": 0}
    ]"#)
    .expect("decodes");
    let keys: Vec<&str> = readings.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["frequency_hz", "intake_pressure_kpa", "motor_temp_c", "liquid_rate_m3d", "motor_current_a"]);
    // Numbers are always numbers, even when the JSON is a whole number.
    assert_eq!(readings[0].value, Value::Number(52.0));
    near(number(&readings[1]), 350.0 * 6.894_757_293_168_361);
    near(number(&readings[2]), 100.0);
    near(number(&readings[3]), 158.987_294_928);
    near(number(&readings[4]), 44.5);
    for r in &readings {
        assert_eq!((r.ts, r.quality), (SOURCE, 1.0), "{}", r.key);
    }
}

#[test]
fn without_a_source_time_the_frame_time_is_used() {
    let readings = run(r#"[
        {"node": "ns=2;s=Well.W1.Frequency", "value": 50.5, "source_ts": null, "status": 0},
        {"node": "ns=2;s=Well.W1.Frequency", "value": 51.0, "status": 0},
        {"node": "ns=2;s=Well.W1.Frequency", "value": 51.5, "source_ts": 1700000000000, "status": 0}
    ]"#)
    .expect("decodes");
    // A series is sorted by time (stably): the source-stamped value first.
    let got: Vec<(i64, f64)> = readings.iter().map(|r| (r.ts, number(r))).collect();
    assert_eq!(got, [(SOURCE, 51.5), (RECEIVED, 50.5), (RECEIVED, 51.0)]);
}

#[test]
fn uncertain_is_half_quality_and_bad_is_left_out() {
    let readings = run(r#"[
        {"node": "ns=2;s=Well.W1.Frequency", "value": 50, "status": 1083113472},
        {"node": "ns=2;s=Well.W1.Intake", "value": null, "status": 2150891520},
        {"node": "ns=2;s=Well.W1.MotorTemp", "value": 150, "status": 0},
        {"node": "ns=2;s=Well.W1.Rate", "value": 1, "status": 3221225472}
    ]"#)
    .expect("decodes");
    let got: Vec<(&str, f32)> = readings.iter().map(|r| (r.key.as_str(), r.quality)).collect();
    assert_eq!(got, [("frequency_hz", UNCERTAIN_QUALITY), ("motor_temp_c", 1.0)]);
}

#[test]
fn a_frame_of_only_bad_mapped_values_is_a_bad_status_error() {
    let e = run(r#"[
        {"node": "ns=2;s=Other", "value": 1, "status": 0},
        {"node": "ns=2;s=Well.W1.Intake", "value": null, "status": 2150891520},
        {"node": "ns=2;s=Well.W1.Rate", "value": 1, "status": 2147483648}
    ]"#)
    .expect_err("all bad");
    assert_eq!(e.code, BAD_STATUS);
    assert_eq!(
        e.message,
        "every mapped value of the frame (2) has a Bad status; the first, node ns=2;s=Well.W1.Intake, has status 0x80340000"
    );
}

#[test]
fn unmapped_nodes_are_ignored() {
    // Bad or not, an unmapped node neither gives a reading nor an error.
    let readings = run(r#"[
        {"node": "ns=2;s=Other", "value": 1, "status": 2147483648},
        {"node": "ns=2;s=well.w1.frequency", "value": 1, "status": 0},
        {"node": "ns=2;s=Well.W1.Frequency", "value": 49.5, "status": 0}
    ]"#)
    .expect("decodes");
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].key, "frequency_hz");
    assert!(run(r#"[{"node": "ns=2;s=Other", "value": 1, "status": 2147483648}]"#).expect("decodes").is_empty());
    assert!(run("[]").expect("decodes").is_empty());
}

#[test]
fn booleans_and_text_pass_through_unconverted_entries() {
    let readings = run(r#"[
        {"node": "ns=2;s=Well.W1.Running", "value": true, "status": 0},
        {"node": "ns=2;s=Well.W1.Mode", "value": "auto", "status": 0}
    ]"#)
    .expect("decodes");
    assert_eq!(readings[0].value, Value::Boolean(true));
    assert_eq!(readings[1].value, Value::Text("auto".into()));
}

#[test]
fn values_an_entry_cannot_take_are_errors() {
    let e = run(r#"[{"node": "ns=2;s=Well.W1.Intake", "value": "350", "status": 0}]"#).expect_err("text to convert");
    assert_eq!(e.code, UNSUPPORTED_VALUE);
    assert!(e.message.contains("ns=2;s=Well.W1.Intake (key intake_pressure_kpa)"), "{}", e.message);
    let e = run(r#"[{"node": "ns=2;s=Well.W1.Frequency", "value": null, "status": 1073741824}]"#).expect_err("null");
    assert_eq!(e.code, UNSUPPORTED_VALUE);
    assert!(e.message.contains("a null value with status 0x40000000"), "{}", e.message);
}

#[test]
fn malformed_json_and_frames_are_errors() {
    assert_eq!(run("[{\"node\": ").expect_err("json").code, MALFORMED_JSON);
    assert_eq!(run("not json").expect_err("json").code, MALFORMED_JSON);
    assert_eq!(run(r#"{"node": "a"}"#).expect_err("object").code, MALFORMED_FRAME);
    let mut wrong = frame("[]");
    wrong.content_type = "application/json".into();
    let config = parse_config(WELL).expect("valid config");
    assert_eq!(decode_frame(&config, &wrong).expect_err("type").code, UNSUPPORTED_CONTENT_TYPE);
}

#[test]
fn describe_names_the_plugin_and_its_schema() {
    let info = OpcuaNodes::describe();
    assert_eq!(info.name, "decoder-opcua-nodes");
    let schema: serde_json::Value = serde_json::from_str(&info.config_schema).expect("schema is JSON");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["required"][0], "nodes");
    assert_eq!(schema["properties"]["nodes"]["items"]["required"], serde_json::json!(["node", "key"]));
}
