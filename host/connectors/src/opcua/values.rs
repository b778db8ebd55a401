//! The connector's nodes and the frames their values become: the
//! configured node ids, parsed once, with the device each belongs to; a
//! batch of values (a subscription's data changes, or one poll's reads)
//! becomes one frame per device in the format of the decoder
//! `decoder-opcua-nodes` (`{node, value, source_ts, status}` items).

use std::collections::BTreeMap;
use std::str::FromStr;

use nexus_model::{DeviceId, Frame, OpcUaSettings, SourceKind, TimestampMs};
use opcua::types::{DataValue, NodeId, StatusCode, Variant};
use serde_json::{Value, json};

use crate::ConnectorError;

/// The content type of value frames (what `decoder-opcua-nodes` reads).
pub(crate) const CONTENT_TYPE: &str = "application/vnd.nexus.opcua-values+json";

/// One configured node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// As configured (and as the decoder's node map names it).
    pub(crate) text: String,
    /// Parsed.
    pub(crate) id: NodeId,
    /// Index into [`Nodes::devices`].
    pub(crate) device: usize,
}

/// Every configured node; a node's index + 1 is its monitored item's
/// client handle.
#[derive(Debug, Clone)]
pub(crate) struct Nodes {
    pub(crate) nodes: Vec<Node>,
    pub(crate) devices: Vec<DeviceId>,
}

impl Nodes {
    /// The settings' nodes, parsed.
    pub(crate) fn new(settings: &OpcUaSettings) -> Result<Self, ConnectorError> {
        let mut nodes = Vec::new();
        let mut devices = Vec::new();
        for (index, device) in settings.devices.iter().enumerate() {
            devices.push(device.device_id.clone());
            for text in &device.nodes {
                let id = parse(text)?;
                nodes.push(Node { text: text.clone(), id, device: index });
            }
        }
        Ok(Self { nodes, devices })
    }

    /// The node of a monitored item's client handle.
    pub(crate) fn by_handle(&self, handle: u32) -> Option<&Node> {
        (handle as usize).checked_sub(1).and_then(|index| self.nodes.get(index))
    }
}

/// A node id from its text form.
pub(crate) fn parse(text: &str) -> Result<NodeId, ConnectorError> {
    NodeId::from_str(text).map_err(|_| ConnectorError::Settings(format!("`{text}` is not an OPC UA node id")))
}

/// A value whose status is Bad: what the health report says about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadValue {
    /// The device.
    pub(crate) device: DeviceId,
    /// Why, e.g. `ns=2;s=X: BadSensorFailure (0x808B0000)`.
    pub(crate) reason: String,
}

/// Frames of one batch, one per device, with the Bad values among them.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) frames: Vec<(DeviceId, Frame)>,
    pub(crate) bad: Vec<BadValue>,
}

/// Builds the frames of `values` (node, value) received at `received_at`.
pub(crate) fn frames<'a>(
    nodes: &Nodes,
    values: impl IntoIterator<Item = (&'a Node, &'a DataValue)>,
    received_at: TimestampMs,
) -> Batch {
    let mut per_device: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    let mut bad = Vec::new();
    for (node, value) in values {
        let status = value.status.unwrap_or(StatusCode::Good);
        if status.is_bad() {
            bad.push(BadValue {
                device: nodes.devices[node.device].clone(),
                reason: format!("{}: {} (0x{:08X})", node.text, status, status.bits()),
            });
        }
        let source_ts =
            value.source_timestamp.as_ref().filter(|t| !t.is_null()).map(|t| t.as_chrono().timestamp_millis());
        per_device.entry(node.device).or_default().push(json!({
            "node": node.text,
            "value": value.value.as_ref().map_or(Value::Null, json_value),
            "source_ts": source_ts,
            "status": status.bits(),
        }));
    }
    let frames = per_device
        .into_iter()
        .map(|(device, items)| {
            let device = nodes.devices[device].clone();
            let frame = Frame {
                source: SourceKind::Opcua,
                device_id: Default::default(),
                topic: format!("opcua:{device}"),
                content_type: CONTENT_TYPE.to_string(),
                payload: serde_json::to_vec(&items).unwrap_or_default(),
                received_at,
                metadata: vec![("items".into(), items.len().to_string())],
            };
            (device, frame)
        })
        .collect();
    Batch { frames, bad }
}

/// A value as JSON: numbers, booleans and strings as themselves, text-like
/// values (localized text, dates, ids) as their text, nothing as `null`.
/// Arrays and structures are not read by the decoder: their text form.
fn json_value(variant: &Variant) -> Value {
    match variant {
        Variant::Empty => Value::Null,
        Variant::Boolean(v) => json!(v),
        Variant::SByte(v) => json!(v),
        Variant::Byte(v) => json!(v),
        Variant::Int16(v) => json!(v),
        Variant::UInt16(v) => json!(v),
        Variant::Int32(v) => json!(v),
        Variant::UInt32(v) => json!(v),
        Variant::Int64(v) => json!(v),
        Variant::UInt64(v) => json!(v),
        Variant::Float(v) => finite(f64::from(*v)),
        Variant::Double(v) => finite(*v),
        Variant::String(v) => v.value().as_ref().map_or(Value::Null, |s| json!(s)),
        Variant::LocalizedText(v) => v.text.value().as_ref().map_or(Value::Null, |s| json!(s)),
        Variant::StatusCode(v) => json!(v.bits()),
        other => json!(other.to_string()),
    }
}

/// A float as a JSON number; NaN and infinities (no JSON form) as `null`.
fn finite(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_model::OpcUaDevice;
    use opcua::types::DateTime;

    fn nodes() -> Nodes {
        let settings: OpcUaSettings = serde_json::from_value(json!({
            "url": "opc.tcp://h:4840",
            "devices": [
                {"device_id": "w1", "nodes": ["ns=2;s=Well.W1.Frequency", "ns=2;s=Well.W1.Intake"]},
                {"device_id": "w2", "nodes": ["ns=2;i=7"]},
            ]
        }))
        .expect("settings");
        let _: &OpcUaDevice = &settings.devices[0];
        Nodes::new(&settings).expect("nodes")
    }

    #[test]
    fn a_batch_is_one_frame_per_device_in_the_decoders_format() {
        let nodes = nodes();
        let at = DateTime::from(1_700_000_000_000_i64 * 10_000 + 116_444_736_000_000_000);
        let good = DataValue { value: Some(Variant::Double(52.5)), source_timestamp: Some(at), ..Default::default() };
        let bad = DataValue { value: None, status: Some(StatusCode::BadSensorFailure), ..Default::default() };
        let int = DataValue { value: Some(Variant::Int32(7)), ..Default::default() };
        let values = [(&nodes.nodes[0], &good), (&nodes.nodes[1], &bad), (&nodes.nodes[2], &int)];
        let batch = frames(&nodes, values, 1_700_000_999_000);
        assert_eq!(batch.frames.len(), 2);
        let (device, frame) = &batch.frames[0];
        assert_eq!(device.as_str(), "w1");
        assert_eq!(frame.content_type, CONTENT_TYPE);
        assert_eq!(frame.source, SourceKind::Opcua);
        let items: Value = serde_json::from_slice(&frame.payload).expect("json");
        assert_eq!(
            items,
            json!([
                {"node": "ns=2;s=Well.W1.Frequency", "value": 52.5, "source_ts": 1_700_000_000_000_i64, "status": 0},
                {"node": "ns=2;s=Well.W1.Intake", "value": null, "source_ts": null, "status": 0x808C_0000_u32},
            ])
        );
        let items: Value = serde_json::from_slice(&batch.frames[1].1.payload).expect("json");
        assert_eq!(items, json!([{"node": "ns=2;i=7", "value": 7, "source_ts": null, "status": 0}]));
        assert_eq!(batch.bad.len(), 1);
        assert_eq!(batch.bad[0].device.as_str(), "w1");
        assert!(batch.bad[0].reason.starts_with("ns=2;s=Well.W1.Intake: BadSensorFailure"), "{:?}", batch.bad);
        assert!(nodes.by_handle(0).is_none());
        assert_eq!(nodes.by_handle(3).map(|n| n.text.as_str()), Some("ns=2;i=7"));
    }
}
