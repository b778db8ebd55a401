//! The connector settings as the OpenAPI document describes them: an
//! API-local copy of `nexus_model::ConnectorSettings`, checked against the
//! model by the test below.

use serde::Serialize;
use utoipa::ToSchema;

/// A connector's settings, tagged by `kind` (docs/connectors.md). A copy of
/// `nexus_model::ConnectorSettings` for the OpenAPI document; the unit test
/// below checks that what it documents parses as the model.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ConnectorSettings {
    /// An MQTT broker.
    Mqtt(MqttSettings),
    /// Modbus TCP slaves, polled.
    Modbus(ModbusSettings),
    /// An OPC UA server's nodes, subscribed to or polled.
    #[serde(rename = "opcua")]
    OpcUa(OpcUaSettings),
    /// A Kafka topic, consumed in a consumer group.
    Kafka(KafkaSettings),
}

/// Kafka settings.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct KafkaSettings {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    brokers: String,
    /// Default `pf.telemetry.raw`.
    topic: Option<String>,
    /// Default `nexus-pf-consumer`.
    group_id: Option<String>,
    /// Default 262144.
    max_payload_bytes: Option<u32>,
    /// Default `application/json`.
    content_type: Option<String>,
}

/// MQTT settings.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct MqttSettings {
    /// `mqtt://host[:port]`.
    url: String,
    /// Default `nexus-{connector id}`.
    client_id: Option<String>,
    username: Option<String>,
    /// Write-only: shown as `********`; `********` on a replace keeps it.
    password: Option<String>,
    /// Topic filters (default: the device and gateway topics).
    topics: Option<Vec<String>>,
    /// Default 262144.
    max_payload_bytes: Option<u32>,
    /// Default `application/json`.
    content_type: Option<String>,
    /// Default 10000.
    rpc_timeout_ms: Option<u32>,
}

/// Modbus TCP settings.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct ModbusSettings {
    /// 1 to 1000 slaves.
    devices: Vec<ModbusDevice>,
}

/// One slave.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct ModbusDevice {
    device_id: String,
    /// `host:port`.
    address: String,
    /// Default 1.
    unit: Option<u8>,
    /// Default 1000, at least 100.
    poll_ms: Option<u32>,
    /// Default 500.
    timeout_ms: Option<u32>,
    /// 1 to 32 blocks.
    blocks: Vec<RegisterBlock>,
    setpoints: Option<Vec<ModbusSetpoint>>,
}

/// A block of registers read in one request.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct RegisterBlock {
    /// Default `holding`.
    table: Option<RegisterTable>,
    start: u16,
    /// 1 to 125.
    count: u16,
}

/// A register table.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RegisterTable {
    Holding,
    Input,
}

/// A writable setpoint.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct ModbusSetpoint {
    parameter: String,
    address: u16,
    /// Default `u16`.
    #[serde(rename = "type")]
    word_type: Option<WordType>,
    /// Default 1.
    scale: Option<f64>,
    /// Default 0.
    offset: Option<f64>,
    /// Default `big`.
    word_order: Option<WordOrder>,
}

/// A register value's type.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WordType {
    U16,
    I16,
    U32,
    I32,
    F32,
}

/// Which register of a 32-bit value comes first.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WordOrder {
    Big,
    Little,
}

/// OPC UA settings (no security, anonymous).
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct OpcUaSettings {
    /// `opc.tcp://host[:port][/path]` (port 4840 by default).
    url: String,
    /// Default `subscribe`.
    mode: Option<OpcUaMode>,
    /// Default 500, at least 100.
    sampling_interval_ms: Option<u32>,
    /// Default 1000, at least 100.
    publishing_interval_ms: Option<u32>,
    /// `poll` mode's period; default 1000, at least 100.
    poll_ms: Option<u32>,
    /// Default 5000.
    timeout_ms: Option<u32>,
    /// 1 to 1000 devices, at most 10000 nodes in all.
    devices: Vec<OpcUaDevice>,
}

/// How values are learnt.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OpcUaMode {
    Subscribe,
    Poll,
}

/// One device's nodes.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct OpcUaDevice {
    device_id: String,
    /// Node ids, e.g. `ns=2;s=Well.W1.Frequency`.
    nodes: Vec<String>,
    setpoints: Option<Vec<OpcUaSetpoint>>,
}

/// A writable setpoint: a node's Value.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub(crate) struct OpcUaSetpoint {
    parameter: String,
    node: String,
}

#[cfg(test)]
mod connector_schema_tests {
    /// The schema's shape parses as the model: the tag and every field name.
    #[test]
    fn documented_connector_settings_parse_as_the_model() {
        use utoipa::PartialSchema;
        let text = [
            serde_json::to_value(super::ConnectorSettings::schema()),
            serde_json::to_value(super::MqttSettings::schema()),
            serde_json::to_value(super::ModbusSettings::schema()),
            serde_json::to_value(super::KafkaSettings::schema()),
            serde_json::to_value(super::ModbusDevice::schema()),
            serde_json::to_value(super::ModbusSetpoint::schema()),
            serde_json::to_value(super::OpcUaSettings::schema()),
            serde_json::to_value(super::OpcUaDevice::schema()),
            serde_json::to_value(super::OpcUaSetpoint::schema()),
        ]
        .into_iter()
        .map(|schema| schema.expect("schema").to_string())
        .collect::<String>();
        for name in [
            "kind",
            "url",
            "client_id",
            "max_payload_bytes",
            "rpc_timeout_ms",
            "devices",
            "poll_ms",
            "word_order",
            "brokers",
            "group_id",
            "opcua",
            "sampling_interval_ms",
            "publishing_interval_ms",
            "nodes",
            "node",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        let mqtt = serde_json::json!({"kind": "mqtt", "url": "mqtt://b", "client_id": "c", "username": "u", "password": "p",
            "topics": ["a"], "max_payload_bytes": 1, "content_type": "t", "rpc_timeout_ms": 100});
        let modbus = serde_json::json!({"kind": "modbus", "devices": [{"device_id": "d", "address": "h:1", "unit": 1,
            "poll_ms": 100, "timeout_ms": 10, "blocks": [{"table": "input", "start": 0, "count": 1}],
            "setpoints": [{"parameter": "p", "address": 0, "type": "f32", "scale": 1.0, "offset": 0.0, "word_order": "little"}]}]});
        let kafka = serde_json::json!({"kind": "kafka", "brokers": "k:9092", "topic": "t", "group_id": "g",
            "max_payload_bytes": 1, "content_type": "t"});
        let opcua = serde_json::json!({"kind": "opcua", "url": "opc.tcp://h:4840", "mode": "poll",
            "sampling_interval_ms": 100, "publishing_interval_ms": 100, "poll_ms": 100, "timeout_ms": 100,
            "devices": [{"device_id": "d", "nodes": ["ns=2;s=a"], "setpoints": [{"parameter": "p", "node": "ns=2;s=a"}]}]});
        for value in [mqtt, modbus, kafka, opcua] {
            serde_json::from_value::<nexus_model::ConnectorSettings>(value.clone()).expect("the model parses it");
        }
    }
}
