//! Frames through the register map: what the component does with each frame.

use nexus_plugin_sdk::{Column, Decoder, Frame, Reading, SourceKind, Value, readings};

use super::*;

const RECEIVED: i64 = 1_700_000_000_000;

/// A block of `table` from `start`, as the connector sends it.
fn frame(table: &str, start: u16, words: &[u16]) -> Frame {
    let payload: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
    let metadata = [("unit", "1".to_string()), ("table", table.into()), ("start", start.to_string())]
        .into_iter()
        .chain([("count", words.len().to_string())])
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Frame {
        source: SourceKind::Modbus,
        device_id: "esp-1".into(),
        topic: format!("modbus:1/{table}/{start}"),
        content_type: CONTENT_TYPE.into(),
        payload,
        received_at: RECEIVED,
        metadata,
    }
}

fn run(config: &str, frame: &Frame) -> Result<Vec<Reading>, PluginError> {
    let config = parse_config(config).expect("valid config");
    decode_frame(&config, frame).map(|series| readings("", &series))
}

fn values(readings: &[Reading]) -> Vec<(&str, Value)> {
    readings.iter().map(|r| (r.key.as_str(), r.value.clone())).collect()
}

/// An ESP drive's map: frequency (0.01 Hz, u16), intake pressure (f32 in
/// CDAB), motor temperature (i16 tenths), run hours (u32), status word.
const DRIVE: &str = r#"{"registers": [
    {"key": "frequency_hz", "address": 0, "type": "u16", "scale": 0.01},
    {"key": "intake_pressure_psi", "address": 1, "type": "f32", "word_order": "little"},
    {"key": "motor_temp_c", "address": 3, "type": "i16", "scale": 0.1},
    {"key": "run_hours", "address": 4, "type": "u32"},
    {"key": "status", "address": 6, "type": "u16"},
    {"key": "vibration_g", "table": "input", "address": 0, "type": "f32"}
]}"#;

#[test]
fn a_drive_block_decodes_through_the_map() {
    // 123.456_f32 = 0x42F6_E979, low word first (CDAB).
    let words = [5_230, 0xE979, 0x42F6, (-125_i16) as u16, 0x0001, 0x86A0, 0b101];
    let readings = run(DRIVE, &frame("holding", 0, &words)).expect("decodes");
    let got = values(&readings);
    assert_eq!(got.len(), 5, "{got:?}");
    let Value::Number(f) = got[0].1 else { panic!("{got:?}") };
    assert!((f - 52.30).abs() < 1e-9, "{f}");
    assert_eq!(got[1], ("intake_pressure_psi", Value::Number(123.456)));
    let Value::Number(t) = got[2].1 else { panic!("{got:?}") };
    assert!((t + 12.5).abs() < 1e-9, "{t}");
    assert_eq!(got[3], ("run_hours", Value::Integer(100_000)));
    assert_eq!(got[4], ("status", Value::Integer(5)));
    for r in &readings {
        assert_eq!((r.ts, r.quality, r.device_id.as_str()), (RECEIVED, 1.0, ""));
    }
}

#[test]
fn registers_outside_the_block_are_skipped() {
    // A second read of the same device: holding 3..=5 only.
    let readings = run(DRIVE, &frame("holding", 3, &[10, 0, 7])).expect("decodes");
    // motor_temp_c (3) and run_hours (4..=5) are inside; frequency (0),
    // intake (1..=2), status (6) and the input register are not.
    assert_eq!(values(&readings).iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["motor_temp_c", "run_hours"]);
    // A block that cuts a 32-bit value in half skips it.
    let readings = run(DRIVE, &frame("holding", 0, &[1, 2])).expect("decodes");
    assert_eq!(values(&readings).iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["frequency_hz"]);
    // The input table holds only the vibration.
    let readings = run(DRIVE, &frame("input", 0, &[0x42F6, 0xE979, 0, 0])).expect("decodes");
    assert_eq!(values(&readings), [("vibration_g", Value::Number(123.456))]);
    // Nothing of the map: no readings, no error.
    assert!(run(DRIVE, &frame("input", 100, &[1])).expect("decodes").is_empty());
}

#[test]
fn a_bad_frame_is_an_error_whatever_the_map() {
    let mut odd = frame("holding", 0, &[1, 2]);
    odd.payload.pop();
    assert_eq!(run(DRIVE, &odd).expect_err("odd").code, MALFORMED_FRAME);
    let mut short = frame("holding", 0, &[1, 2]);
    short.metadata.retain(|(k, _)| k != "count");
    short.metadata.push(("count".into(), "3".into()));
    assert_eq!(run(DRIVE, &short).expect_err("count").code, MALFORMED_FRAME);
    let mut json = frame("holding", 0, &[1]);
    json.content_type = "application/json".into();
    assert_eq!(run(DRIVE, &json).expect_err("json").code, UNSUPPORTED_CONTENT_TYPE);
}

#[test]
fn non_finite_floats_are_returned_for_the_host_to_refuse() {
    let config =
        r#"{"registers": [{"key": "p", "address": 0, "type": "f32"}, {"key": "q", "address": 2, "type": "u16"}]}"#;
    let readings = run(config, &frame("holding", 0, &[0x7FC0, 0x0000, 9])).expect("decodes");
    assert!(matches!(readings[0].value, Value::Number(n) if n.is_nan()));
    assert_eq!(readings[1].value, Value::Integer(9));
}

#[test]
fn each_key_is_one_series() {
    let config = parse_config(DRIVE).expect("valid");
    let series = decode_frame(&config, &frame("holding", 0, &[1, 2, 3, 4, 5, 6, 7])).expect("decodes");
    assert_eq!(series.len(), 5);
    assert_eq!(series[4].key, "status");
    assert_eq!(series[4].values, Column::Integer(vec![7]));
    assert_eq!(series[4].ts, [RECEIVED]);
}

#[test]
fn describe_names_the_plugin_and_its_schema() {
    let info = ModbusRegisters::describe();
    assert_eq!(info.name, "decoder-modbus-registers");
    let schema: serde_json::Value = serde_json::from_str(&info.config_schema).expect("schema is JSON");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["required"][0], "registers");
    let entry = &schema["properties"]["registers"]["items"];
    assert_eq!(entry["properties"]["type"]["enum"].as_array().map(Vec::len), Some(5));
    assert_eq!(entry["properties"]["table"]["default"], "holding");
}
