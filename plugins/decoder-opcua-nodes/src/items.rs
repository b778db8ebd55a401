//! The frame the host's OPC UA connector produces: a JSON array of the
//! values it read or was notified of, each with its node, source timestamp
//! and status code.

use nexus_plugin_sdk::PluginError;
use serde_json::{Map, Value as Json};

use crate::config::kind;

/// The content type of a frame of values.
pub const CONTENT_TYPE: &str = "application/vnd.nexus.opcua-values+json";
/// Error code of a payload that is not UTF-8 JSON.
pub const MALFORMED_JSON: &str = "malformed-json";
/// Error code of JSON that is not an array of values.
pub const MALFORMED_FRAME: &str = "malformed-frame";
/// Error code of a frame of another content type.
pub const UNSUPPORTED_CONTENT_TYPE: &str = "unsupported-content-type";

/// A value as the connector sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemValue {
    /// A JSON number.
    Number(f64),
    /// `true` / `false`.
    Boolean(bool),
    /// A string.
    Text(String),
    /// `null` (an empty variant, usual with a Bad status).
    Null,
}

/// One value of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Node id, e.g. `ns=2;s=Well.W1.Frequency`.
    pub node: String,
    /// The value.
    pub value: ItemValue,
    /// The source timestamp, ms since the Unix epoch, if the server gave one.
    pub source_ts: Option<i64>,
    /// The OPC UA status code.
    pub status: u32,
}

/// OPC UA's severity of a status code: its top two bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// 0b00.
    Good,
    /// 0b01.
    Uncertain,
    /// 0b10 or 0b11.
    Bad,
}

impl Severity {
    /// The severity of `status`.
    pub fn of(status: u32) -> Self {
        match status >> 30 {
            0 => Self::Good,
            1 => Self::Uncertain,
            _ => Self::Bad,
        }
    }
}

/// Checks the content type, then reads the payload's items.
pub fn parse(content_type: &str, payload: &[u8]) -> Result<Vec<Item>, PluginError> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(CONTENT_TYPE) {
        return Err(PluginError::new(
            UNSUPPORTED_CONTENT_TYPE,
            format!("content type {content_type:?} is not {CONTENT_TYPE}"),
        ));
    }
    parse_items(payload)
}

/// Reads a payload's items; unknown fields of an item are ignored.
pub fn parse_items(payload: &[u8]) -> Result<Vec<Item>, PluginError> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| PluginError::new(MALFORMED_JSON, format!("payload is not valid UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document: Json = serde_json::from_str(text).map_err(|e| PluginError::new(MALFORMED_JSON, e.to_string()))?;
    let Json::Array(items) = document else {
        return Err(malformed(format!("the payload must be a JSON array of values, found {}", kind(&document))));
    };
    items.into_iter().enumerate().map(|(i, item)| parse_item(i, item)).collect()
}

fn parse_item(i: usize, item: Json) -> Result<Item, PluginError> {
    let Json::Object(mut item) = item else {
        return Err(malformed(format!("[{i}]: expected an object, found {}", kind(&item))));
    };
    let node = match item.remove("node") {
        Some(Json::String(node)) if !node.is_empty() => node,
        Some(Json::String(_)) => return Err(malformed(format!("[{i}].node: must not be empty"))),
        Some(other) => return Err(malformed(format!("[{i}].node: must be a string, found {}", kind(&other)))),
        None => return Err(malformed(format!("[{i}].node: missing"))),
    };
    let value = match item.remove("value") {
        None | Some(Json::Null) => ItemValue::Null,
        Some(Json::Bool(b)) => ItemValue::Boolean(b),
        Some(Json::String(s)) => ItemValue::Text(s),
        Some(Json::Number(n)) => ItemValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Some(other) => {
            return Err(malformed(format!(
                "[{i}].value ({node}): must be a number, boolean, string or null, found {}",
                kind(&other)
            )));
        }
    };
    let source_ts = match item.remove("source_ts") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(other) => {
            return Err(malformed(format!(
                "[{i}].source_ts ({node}): must be integer milliseconds or null, found {other}"
            )));
        }
    };
    let status = status(&mut item)
        .ok_or_else(|| malformed(format!("[{i}].status ({node}): must be an integer in [0, 4294967295]")))?;
    Ok(Item { node, value, source_ts, status })
}

/// The `status` field as a u32, if it is one.
fn status(item: &mut Map<String, Json>) -> Option<u32> {
    item.remove("status")?.as_u64().and_then(|s| u32::try_from(s).ok())
}

fn malformed(message: String) -> PluginError {
    PluginError::new(MALFORMED_FRAME, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Result<Vec<Item>, PluginError> {
        parse(CONTENT_TYPE, text.as_bytes())
    }

    #[test]
    fn items_are_read_with_their_fields() {
        let got = items(
            r#"[{"node": "ns=2;s=A", "value": 1.5, "source_ts": 1700000000000, "status": 0},
                {"node": "ns=2;s=B", "value": true, "source_ts": null, "status": 1073741824, "server_ts": 5},
                {"node": "ns=2;s=C", "value": "run", "status": 2150891520},
                {"node": "ns=2;s=D", "value": null, "status": 0}]"#,
        )
        .expect("valid");
        assert_eq!(
            got,
            [
                Item {
                    node: "ns=2;s=A".into(),
                    value: ItemValue::Number(1.5),
                    source_ts: Some(1_700_000_000_000),
                    status: 0
                },
                Item { node: "ns=2;s=B".into(), value: ItemValue::Boolean(true), source_ts: None, status: 0x4000_0000 },
                Item {
                    node: "ns=2;s=C".into(),
                    value: ItemValue::Text("run".into()),
                    source_ts: None,
                    status: 0x8034_0000
                },
                Item { node: "ns=2;s=D".into(), value: ItemValue::Null, source_ts: None, status: 0 },
            ]
        );
        assert!(items("[]").expect("empty").is_empty());
    }

    #[test]
    fn severity_is_the_top_two_bits() {
        assert_eq!(Severity::of(0), Severity::Good);
        assert_eq!(Severity::of(0x00A0_0000), Severity::Good, "GoodLocalOverride");
        assert_eq!(Severity::of(0x4000_0000), Severity::Uncertain);
        assert_eq!(Severity::of(0x408F_0000), Severity::Uncertain, "UncertainEngineeringUnitsExceeded");
        assert_eq!(Severity::of(0x8000_0000), Severity::Bad);
        assert_eq!(Severity::of(0x8034_0000), Severity::Bad, "BadNodeIdUnknown");
        assert_eq!(Severity::of(0xC000_0000), Severity::Bad, "0b11 is Bad too");
    }

    #[test]
    fn malformed_json_says_where() {
        let e = items("[{\"node\": \"a\",\n \"value\": }]").expect_err("syntax");
        assert_eq!(e.code, MALFORMED_JSON);
        assert!(e.message.contains("line 2 column"), "{}", e.message);
        assert_eq!(items("").expect_err("empty").code, MALFORMED_JSON);
        let e = parse(CONTENT_TYPE, b"[\"\xff\"]").expect_err("utf-8");
        assert_eq!(e.code, MALFORMED_JSON);
        assert!(items("\u{feff}[]").is_ok(), "a BOM is ignored");
    }

    #[test]
    fn wrong_shapes_are_malformed_frames() {
        let cases = [
            (r#"{"node": "a", "value": 1, "status": 0}"#, "JSON array"),
            (r#"[5]"#, "[0]: expected an object, found a number"),
            (r#"[{"value": 1, "status": 0}]"#, "[0].node: missing"),
            (r#"[{"node": "", "value": 1, "status": 0}]"#, "[0].node: must not be empty"),
            (r#"[{"node": 7, "value": 1, "status": 0}]"#, "[0].node: must be a string"),
            (
                r#"[{"node": "a", "value": [1], "status": 0}]"#,
                "[0].value (a): must be a number, boolean, string or null",
            ),
            (
                r#"[{"node": "a", "value": 1, "source_ts": 1.5, "status": 0}]"#,
                "[0].source_ts (a): must be integer milliseconds or null, found 1.5",
            ),
            (r#"[{"node": "a", "value": 1, "source_ts": "1", "status": 0}]"#, "[0].source_ts (a)"),
            (r#"[{"node": "a", "value": 1}]"#, "[0].status (a)"),
            (r#"[{"node": "a", "value": 1, "status": -1}]"#, "[0].status (a)"),
            (r#"[{"node": "a", "value": 1, "status": 4294967296}]"#, "[0].status (a)"),
            (r#"[{"node": "a", "value": 1, "status": "Good"}]"#, "[0].status (a)"),
        ];
        for (text, message) in cases {
            let e = items(text).expect_err(text);
            assert_eq!(e.code, MALFORMED_FRAME, "{text}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
        }
    }

    #[test]
    fn other_content_types_are_refused() {
        let e = parse("application/json", b"[]").expect_err("json");
        assert_eq!(e.code, UNSUPPORTED_CONTENT_TYPE);
        assert!(parse("application/vnd.nexus.opcua-values+json; charset=utf-8", b"[]").is_ok());
    }
}
