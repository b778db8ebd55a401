//! # decoder-thingsboard-json
//!
//! Decodes ThingsBoard's device telemetry JSON into readings. Accepted
//! payloads (as in ThingsBoard's device API):
//!
//! * key/value: `{"temperature": 42, "running": true}`, time-stamped with the
//!   frame's `received_at`;
//! * time-stamped: `{"ts": 1700000000000, "values": {"temperature": 42}}`
//!   (an object with exactly the two keys `ts` and `values`);
//! * a JSON array whose elements are either of the above.
//!
//! Values map as ThingsBoard stores them: JSON integers to `Value::Integer`,
//! other numbers to `Value::Number`, booleans to `Value::Boolean`, strings to
//! `Value::Text`, and nested objects/arrays to `Value::Text` holding their
//! compact JSON text. Readings have quality 1.0 and an empty `device_id` (the
//! host fills in the frame's device).
//!
//! The logic is the pure function [`decode_payload`]; the component export
//! only passes the frame's payload and `received_at` to it.

use nexus_plugin_sdk::{Frame, PluginError, PluginInfo, Reading, Series, SeriesBuilder, Value};
use serde_json::{Map, Value as Json};

/// Error code for a payload that is not UTF-8 JSON.
pub const MALFORMED_JSON: &str = "malformed-json";
/// Error code for JSON that is not a ThingsBoard telemetry shape.
pub const UNSUPPORTED_FORMAT: &str = "unsupported-format";

/// Decodes one ThingsBoard telemetry payload; readings without a `ts` take
/// `received_at`. Readings come out in document order of the array and, in
/// each object, in key order (serde_json sorts object keys).
pub fn decode_payload(payload: &[u8], received_at: i64) -> Result<Vec<Reading>, PluginError> {
    let mut readings = Vec::new();
    decode_into(payload, received_at, &mut |key, ts, value| {
        readings.push(Reading { device_id: String::new(), key, ts, value, quality: 1.0 });
    })?;
    Ok(readings)
}

/// Decodes one payload into series (one per key and value type), as the
/// component returns it: no per-reading key or device strings.
pub fn decode_series(payload: &[u8], received_at: i64) -> Result<Vec<Series>, PluginError> {
    let mut builder = SeriesBuilder::new();
    decode_into(payload, received_at, &mut |key, ts, value| builder.push(&key, ts, value, 1.0))?;
    Ok(builder.build())
}

/// Where decoded `(key, ts, value)` triples go.
type Sink<'a> = dyn FnMut(String, i64, Value) + 'a;

fn decode_into(payload: &[u8], received_at: i64, out: &mut Sink<'_>) -> Result<(), PluginError> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| PluginError::new(MALFORMED_JSON, format!("payload is not valid UTF-8: {e}")))?;
    // Tolerate a UTF-8 byte-order mark, which some device stacks send.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document: Json = serde_json::from_str(text).map_err(|e| PluginError::new(MALFORMED_JSON, e.to_string()))?;

    match document {
        Json::Object(object) => decode_object(object, "", received_at, out)?,
        Json::Array(items) => {
            for (index, item) in items.into_iter().enumerate() {
                let path = format!("[{index}]");
                match item {
                    Json::Object(object) => {
                        decode_object(object, &path, received_at, out)?;
                    }
                    other => {
                        return Err(unsupported(format!("{path}: expected an object, found {}", kind(&other))));
                    }
                }
            }
        }
        other => {
            return Err(unsupported(format!("top-level value must be an object or an array, found {}", kind(&other))));
        }
    }
    Ok(())
}

/// Decodes one object, either `{"ts": .., "values": {..}}` or key/value.
/// `path` locates the object in the payload for error messages.
fn decode_object(
    mut object: Map<String, Json>,
    path: &str,
    received_at: i64,
    out: &mut Sink<'_>,
) -> Result<(), PluginError> {
    if !(object.contains_key("ts") && object.contains_key("values")) {
        return decode_values(object, path, received_at, out);
    }
    if let Some(extra) = object.keys().find(|k| *k != "ts" && *k != "values") {
        return Err(unsupported(format!("{}: unexpected key {extra:?} next to \"ts\" and \"values\"", at(path))));
    }
    let ts_path = format!("{path}.ts");
    let ts = match object.remove("ts") {
        Some(Json::Number(n)) => n
            .as_i64()
            .ok_or_else(|| unsupported(format!("{ts_path}: must be an integer of milliseconds, found {n}")))?,
        Some(other) => {
            return Err(unsupported(format!("{ts_path}: must be an integer of milliseconds, found {}", kind(&other))));
        }
        None => received_at,
    };
    let values_path = format!("{path}.values");
    match object.remove("values") {
        Some(Json::Object(values)) => decode_values(values, &values_path, ts, out),
        Some(other) => Err(unsupported(format!("{values_path}: must be an object, found {}", kind(&other)))),
        None => Ok(()),
    }
}

/// Turns each `key: value` pair of `values` into a reading at `ts`.
fn decode_values(values: Map<String, Json>, path: &str, ts: i64, out: &mut Sink<'_>) -> Result<(), PluginError> {
    for (key, json) in values {
        if key.is_empty() {
            return Err(unsupported(format!("{}: empty key", at(path))));
        }
        let value = match json {
            Json::Null => {
                return Err(unsupported(format!("{}: null value of key {key:?}", at(path))));
            }
            Json::Bool(b) => Value::Boolean(b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                // Floats, and integers beyond i64 (as ThingsBoard, a double).
                None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::Text(s),
            nested @ (Json::Array(_) | Json::Object(_)) => Value::Text(nested.to_string()),
        };
        out(key, ts, value);
    }
    Ok(())
}

fn unsupported(message: String) -> PluginError {
    PluginError::new(UNSUPPORTED_FORMAT, message)
}

/// `path` for a message, or "top-level object" for the root.
fn at(path: &str) -> &str {
    if path.is_empty() { "top-level object" } else { path }
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The component: decodes a frame's payload with [`decode_payload`].
pub struct ThingsboardJson;

impl nexus_plugin_sdk::Decoder for ThingsboardJson {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "decoder-thingsboard-json".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Decodes ThingsBoard device telemetry JSON: {\"k\": v}, \
                          {\"ts\": ms, \"values\": {..}} and arrays of either."
                .into(),
            config_schema: serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "decoder-thingsboard-json configuration",
                "description": "This decoder takes no configuration.",
                "type": "object",
                "additionalProperties": false
            })
            .to_string(),
        }
    }

    fn decode(frame: Frame) -> Result<Vec<Series>, PluginError> {
        decode_series(&frame.payload, frame.received_at)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_decoder!(ThingsboardJson);

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: i64 = 1_700_000_999_000;

    fn decode(text: &str) -> Result<Vec<Reading>, PluginError> {
        decode_payload(text.as_bytes(), RECEIVED)
    }

    fn ok(text: &str) -> Vec<Reading> {
        decode(text).expect("decodes")
    }

    fn err(text: &str) -> PluginError {
        decode(text).expect_err("fails")
    }

    /// (key, ts, value) of each reading.
    fn triples(readings: &[Reading]) -> Vec<(String, i64, Value)> {
        readings.iter().map(|r| (r.key.clone(), r.ts, r.value.clone())).collect()
    }

    fn value_eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x == y,
            (Value::Integer(x), Value::Integer(y)) => x == y,
            (Value::Boolean(x), Value::Boolean(y)) => x == y,
            (Value::Text(x), Value::Text(y)) => x == y,
            _ => false,
        }
    }

    fn assert_readings(readings: &[Reading], expected: &[(&str, i64, Value)]) {
        let got = triples(readings);
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for ((key, ts, value), (ekey, ets, evalue)) in got.iter().zip(expected) {
            assert_eq!(key, ekey);
            assert_eq!(ts, ets, "{key}");
            assert!(value_eq(value, evalue), "{key}: {value:?} != {evalue:?}");
        }
        for r in readings {
            assert_eq!(r.device_id, "");
            assert_eq!(r.quality, 1.0);
        }
    }

    #[test]
    fn the_component_returns_one_series_per_key_and_type() {
        let text = r#"[{"ts": 2, "values": {"a": 1, "b": 1.5}}, {"ts": 1, "values": {"a": 2, "b": true}}]"#;
        let series = decode_series(text.as_bytes(), RECEIVED).expect("decodes");
        let shape: Vec<(&str, Vec<i64>)> = series.iter().map(|s| (s.key.as_str(), s.ts.clone())).collect();
        assert_eq!(shape, [("a", vec![1, 2]), ("b", vec![2]), ("b", vec![1])]);
        assert_eq!(series[0].values, nexus_plugin_sdk::Column::Integer(vec![2, 1]));
        // The same readings as the row form.
        let rows = nexus_plugin_sdk::readings("", &series);
        assert_eq!(rows.len(), ok(text).len());
    }

    #[test]
    fn key_value_object_uses_received_at() {
        let readings = ok(r#"{"temperature": 42, "pressure": 101.5, "running": true, "mode": "auto"}"#);
        assert_readings(
            &readings,
            &[
                ("mode", RECEIVED, Value::Text("auto".into())),
                ("pressure", RECEIVED, Value::Number(101.5)),
                ("running", RECEIVED, Value::Boolean(true)),
                ("temperature", RECEIVED, Value::Integer(42)),
            ],
        );
    }

    #[test]
    fn timestamped_object() {
        let readings = ok(r#"{"ts": 1700000000000, "values": {"frequency": 55.5, "alarms": 3}}"#);
        assert_readings(
            &readings,
            &[("alarms", 1_700_000_000_000, Value::Integer(3)), ("frequency", 1_700_000_000_000, Value::Number(55.5))],
        );
    }

    #[test]
    fn array_of_both_forms_keeps_element_order() {
        let readings = ok(r#"[
            {"ts": 2000, "values": {"a": 1}},
            {"b": false},
            {"ts": 1000, "values": {"a": 2.0}}
        ]"#);
        assert_readings(
            &readings,
            &[("a", 2000, Value::Integer(1)), ("b", RECEIVED, Value::Boolean(false)), ("a", 1000, Value::Number(2.0))],
        );
    }

    #[test]
    fn nested_values_become_json_text() {
        let readings = ok(r#"{"ts": 5, "values": {"cfg": {"x": [1, 2], "y": "z"}, "list": [1, "a", null]}}"#);
        assert_readings(
            &readings,
            &[
                ("cfg", 5, Value::Text(r#"{"x":[1,2],"y":"z"}"#.into())),
                ("list", 5, Value::Text(r#"[1,"a",null]"#.into())),
            ],
        );
    }

    #[test]
    fn number_forms() {
        let readings = ok(r#"{"a": -7, "b": 1e3, "c": 18446744073709551615, "d": 0.0}"#);
        assert_readings(
            &readings,
            &[
                ("a", RECEIVED, Value::Integer(-7)),
                ("b", RECEIVED, Value::Number(1000.0)),
                ("c", RECEIVED, Value::Number(18_446_744_073_709_551_615.0)),
                ("d", RECEIVED, Value::Number(0.0)),
            ],
        );
    }

    #[test]
    fn object_with_only_ts_or_only_values_is_key_value() {
        // As ThingsBoard: the time-stamped form needs both keys.
        let readings = ok(r#"{"ts": 123}"#);
        assert_readings(&readings, &[("ts", RECEIVED, Value::Integer(123))]);
        let readings = ok(r#"{"values": {"a": 1}}"#);
        assert_readings(&readings, &[("values", RECEIVED, Value::Text(r#"{"a":1}"#.into()))]);
    }

    #[test]
    fn empty_payloads_decode_to_nothing() {
        assert!(ok("{}").is_empty());
        assert!(ok("[]").is_empty());
        assert!(ok(r#"{"ts": 1, "values": {}}"#).is_empty());
        assert!(ok("[{}, {}]").is_empty());
    }

    #[test]
    fn byte_order_mark_is_tolerated() {
        let readings = decode_payload("\u{feff}{\"a\": 1}".as_bytes(), RECEIVED).expect("decodes");
        assert_eq!(readings.len(), 1);
    }

    #[test]
    fn invalid_utf8_is_malformed_json() {
        let e = decode_payload(b"{\"a\": \"\xff\"}", RECEIVED).expect_err("fails");
        assert_eq!(e.code, MALFORMED_JSON);
        assert!(e.message.contains("UTF-8"), "{}", e.message);
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let e = err("{\"a\": 1,\n \"b\": }");
        assert_eq!(e.code, MALFORMED_JSON);
        assert!(e.message.contains("line 2 column"), "{}", e.message);
        assert_eq!(err("").code, MALFORMED_JSON);
        assert_eq!(err("{\"a\": 1} trailing").code, MALFORMED_JSON);
    }

    #[test]
    fn scalar_top_level_is_unsupported() {
        for text in ["42", "\"x\"", "true", "null"] {
            let e = err(text);
            assert_eq!(e.code, UNSUPPORTED_FORMAT, "{text}");
            assert!(e.message.contains("top-level"), "{}", e.message);
        }
    }

    #[test]
    fn non_object_array_element_is_unsupported() {
        let e = err(r#"[{"a": 1}, 5]"#);
        assert_eq!(e.code, UNSUPPORTED_FORMAT);
        assert!(e.message.contains("[1]"), "{}", e.message);
    }

    #[test]
    fn non_integer_ts_is_unsupported() {
        for text in [
            r#"{"ts": 1.5, "values": {"a": 1}}"#,
            r#"{"ts": "1700000000000", "values": {"a": 1}}"#,
            r#"{"ts": null, "values": {"a": 1}}"#,
            r#"{"ts": 18446744073709551615, "values": {"a": 1}}"#,
        ] {
            let e = err(text);
            assert_eq!(e.code, UNSUPPORTED_FORMAT, "{text}");
            assert!(e.message.contains("ts"), "{}", e.message);
        }
        let e = err(r#"[{"a": 1}, {"ts": 1.5, "values": {}}]"#);
        assert!(e.message.contains("[1].ts"), "{}", e.message);
    }

    #[test]
    fn non_object_values_is_unsupported() {
        let e = err(r#"{"ts": 1, "values": [1, 2]}"#);
        assert_eq!(e.code, UNSUPPORTED_FORMAT);
        assert!(e.message.contains(".values"), "{}", e.message);
        let e = err(r#"[{"ts": 1, "values": 3}]"#);
        assert!(e.message.contains("[0].values"), "{}", e.message);
    }

    #[test]
    fn null_value_is_unsupported_and_named() {
        let e = err(r#"{"a": 1, "broken": null}"#);
        assert_eq!(e.code, UNSUPPORTED_FORMAT);
        assert!(e.message.contains("\"broken\""), "{}", e.message);
        let e = err(r#"[{"ts": 1, "values": {"x": null}}]"#);
        assert!(e.message.contains("[0].values") && e.message.contains("\"x\""), "{}", e.message);
    }

    #[test]
    fn extra_key_next_to_ts_and_values_is_unsupported() {
        let e = err(r#"{"ts": 1, "values": {"a": 1}, "b": 2}"#);
        assert_eq!(e.code, UNSUPPORTED_FORMAT);
        assert!(e.message.contains("\"b\""), "{}", e.message);
    }

    #[test]
    fn empty_key_is_unsupported() {
        assert_eq!(err(r#"{"": 1}"#).code, UNSUPPORTED_FORMAT);
    }
}
