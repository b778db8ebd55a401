//! Connectors: a tenant's configured link to its field (an MQTT broker,
//! Modbus TCP slaves, ...). The host runs each enabled connector; the
//! connector hands the raw frames it receives to the ingest path (the
//! device's decoder binding decodes them) and writes setpoints back.
//! Everything device-specific — payload formats, register maps, scaling —
//! belongs to the tenant's decoder, so the settings here say only *where*
//! and *when*, never *what the bytes mean*.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ConnectorId, DeviceId, TenantId, TimestampMs};

/// Which protocol a connector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    /// An MQTT 3.1.1 broker: ThingsBoard's device and gateway topics.
    Mqtt,
    /// Modbus TCP slaves, polled.
    Modbus,
    /// A Kafka topic, consumed in a consumer group.
    Kafka,
    /// An OPC UA server: a subscription (or polling) of its nodes.
    #[serde(rename = "opcua")]
    OpcUa,
}

impl ConnectorKind {
    /// Its name in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mqtt => "mqtt",
            Self::Modbus => "modbus",
            Self::Kafka => "kafka",
            Self::OpcUa => "opcua",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "mqtt" => Some(Self::Mqtt),
            "modbus" => Some(Self::Modbus),
            "kafka" => Some(Self::Kafka),
            "opcua" => Some(Self::OpcUa),
            _ => None,
        }
    }
}

/// A tenant's connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    /// Id.
    pub id: ConnectorId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Name, unique per tenant.
    pub name: String,
    /// Whether the host runs it.
    pub enabled: bool,
    /// Where it connects and what it reads.
    pub settings: ConnectorSettings,
    /// Creation time, ms.
    pub created_time: TimestampMs,
    /// Last change, ms.
    pub updated_time: TimestampMs,
}

/// A connector's settings, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorSettings {
    /// MQTT.
    Mqtt(MqttSettings),
    /// Modbus TCP.
    Modbus(ModbusSettings),
    /// Kafka.
    Kafka(KafkaSettings),
    /// OPC UA.
    #[serde(rename = "opcua")]
    OpcUa(OpcUaSettings),
}

impl ConnectorSettings {
    /// The kind.
    pub fn kind(&self) -> ConnectorKind {
        match self {
            Self::Mqtt(_) => ConnectorKind::Mqtt,
            Self::Modbus(_) => ConnectorKind::Modbus,
            Self::Kafka(_) => ConnectorKind::Kafka,
            Self::OpcUa(_) => ConnectorKind::OpcUa,
        }
    }

    /// The settings with secrets replaced by `"********"`, for views and
    /// events.
    pub fn redacted(&self) -> Self {
        match self {
            Self::Mqtt(mqtt) => Self::Mqtt(MqttSettings {
                password: mqtt.password.as_ref().map(|_| REDACTED.to_string()),
                ..mqtt.clone()
            }),
            Self::Modbus(modbus) => Self::Modbus(modbus.clone()),
            Self::Kafka(kafka) => Self::Kafka(kafka.clone()),
            Self::OpcUa(opcua) => Self::OpcUa(opcua.clone()),
        }
    }
}

/// What a redacted secret reads as.
pub const REDACTED: &str = "********";

/// An MQTT connector: one client session on a broker, subscribed to the
/// device topics (`v1/devices/{device}/telemetry`, `…/attributes`, where
/// `{device}` is the device's id or name) and ThingsBoard's gateway topics
/// (`v1/gateway/telemetry`, `v1/gateway/attributes`: one message carries
/// several devices, by name). QoS 1 with a persistent session; a message is
/// acknowledged only once its frame is durable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSettings {
    /// `mqtt://host:port` (1883 when no port is given).
    pub url: String,
    /// The MQTT client id; the default is `nexus-{connector id}`. The
    /// broker keeps the persistent session under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// User name, if the broker asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (never shown back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Topic filters to subscribe to; the default is the four device and
    /// gateway topics.
    #[serde(default = "default_topics")]
    pub topics: Vec<String>,
    /// Largest payload accepted, bytes; a larger message is counted,
    /// reported and dropped (acknowledged: it can never succeed).
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: u32,
    /// The MIME type frames get (what the decoder is told).
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// How long a setpoint write waits for the device's RPC response, ms.
    #[serde(default = "default_rpc_timeout")]
    pub rpc_timeout_ms: u32,
}

/// The default MQTT topics: the seed's device topics and ThingsBoard's
/// gateway topics.
pub fn default_topics() -> Vec<String> {
    ["v1/devices/+/telemetry", "v1/devices/+/attributes", "v1/gateway/telemetry", "v1/gateway/attributes"]
        .map(String::from)
        .to_vec()
}

/// A Kafka connector: a consumer in a consumer group on one topic (the
/// seed's `pf.telemetry.raw`). A record's key names its device (id or
/// name), its value is one raw frame for that device's decoder. Offsets are
/// committed only once the record's frame is durable or refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    pub brokers: String,
    /// The topic consumed.
    #[serde(default = "default_kafka_topic")]
    pub topic: String,
    /// The consumer group (its committed offsets are where a restart
    /// resumes).
    #[serde(default = "default_kafka_group")]
    pub group_id: String,
    /// Largest record value accepted, bytes; a larger record is counted,
    /// reported and skipped (committed: it can never succeed).
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: u32,
    /// The MIME type frames get (what the decoder is told).
    #[serde(default = "default_content_type")]
    pub content_type: String,
}

/// The seed's raw telemetry topic.
pub fn default_kafka_topic() -> String {
    "pf.telemetry.raw".into()
}

/// The seed's consumer group.
pub fn default_kafka_group() -> String {
    "nexus-pf-consumer".into()
}

fn default_max_payload() -> u32 {
    256 * 1024
}

fn default_content_type() -> String {
    "application/json".into()
}

fn default_rpc_timeout() -> u32 {
    10_000
}

/// A Modbus TCP connector: polls register blocks of each listed slave on
/// its own schedule (one slave's silence never delays another) and hands the
/// raw register words to the device's decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusSettings {
    /// The slaves polled.
    pub devices: Vec<ModbusDevice>,
}

/// One Modbus slave and what is read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusDevice {
    /// The Nexus device whose frames these are.
    pub device_id: DeviceId,
    /// `host:port` of the Modbus TCP server (or gateway).
    pub address: String,
    /// Unit (slave) id.
    #[serde(default = "default_unit")]
    pub unit: u8,
    /// Poll period, ms.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u32,
    /// How long one request may take, ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    /// The register blocks read each cycle, each one frame.
    pub blocks: Vec<RegisterBlock>,
    /// Setpoints that may be written, by parameter name.
    #[serde(default)]
    pub setpoints: Vec<ModbusSetpoint>,
}

fn default_unit() -> u8 {
    1
}

fn default_poll_ms() -> u32 {
    1_000
}

fn default_timeout_ms() -> u32 {
    500
}

/// Which Modbus register table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterTable {
    /// Holding registers (read with FC03, written with FC06/FC16).
    Holding,
    /// Input registers (read with FC04).
    Input,
}

impl RegisterTable {
    /// Its name in frames (`holding`, `input`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holding => "holding",
            Self::Input => "input",
        }
    }
}

/// A contiguous block of registers read in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBlock {
    /// Holding (default) or input registers.
    #[serde(default = "default_table")]
    pub table: RegisterTable,
    /// First register address (0-based, as on the wire).
    pub start: u16,
    /// Registers, 1 to 125 (the protocol's limit for one read).
    pub count: u16,
}

fn default_table() -> RegisterTable {
    RegisterTable::Holding
}

/// How a setpoint is written to holding registers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusSetpoint {
    /// The setpoint's name (e.g. `frequency_hz`).
    pub parameter: String,
    /// First holding register.
    pub address: u16,
    /// The register encoding.
    #[serde(rename = "type", default = "default_word_type")]
    pub word_type: WordType,
    /// Register value = (value − offset) / scale.
    #[serde(default = "one")]
    pub scale: f64,
    /// See `scale`.
    #[serde(default)]
    pub offset: f64,
    /// For 32-bit types: the high word first (`big`, default) or last.
    #[serde(default)]
    pub word_order: WordOrder,
}

fn one() -> f64 {
    1.0
}

fn default_word_type() -> WordType {
    WordType::U16
}

/// A register value's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordType {
    /// One register, unsigned (FC06).
    U16,
    /// One register, two's complement (FC06).
    I16,
    /// Two registers, unsigned (FC16).
    U32,
    /// Two registers, two's complement (FC16).
    I32,
    /// Two registers, IEEE 754 (FC16).
    F32,
}

/// Which register of a 32-bit value comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordOrder {
    /// The high word first.
    #[default]
    Big,
    /// The low word first.
    Little,
}

/// An OPC UA connector: one session (no security, anonymous) on a server;
/// the listed nodes of each device are monitored in one subscription (or
/// read every `poll_ms`), and each batch of values becomes one frame per
/// device for its decoder (`application/vnd.nexus.opcua-values+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaSettings {
    /// `opc.tcp://host:port[/path]` (4840 when no port is given).
    pub url: String,
    /// Subscribe (default) or poll.
    #[serde(default)]
    pub mode: OpcUaMode,
    /// How often the server samples each monitored node, ms.
    #[serde(default = "default_sampling_ms")]
    pub sampling_interval_ms: u32,
    /// How often the server sends the subscription's changes, ms.
    #[serde(default = "default_publishing_ms")]
    pub publishing_interval_ms: u32,
    /// In `poll` mode: how often every node is read, ms.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u32,
    /// How long one request (connect, read, write) may take, ms.
    #[serde(default = "default_opcua_timeout_ms")]
    pub timeout_ms: u32,
    /// The devices and their nodes.
    pub devices: Vec<OpcUaDevice>,
}

fn default_sampling_ms() -> u32 {
    500
}

fn default_publishing_ms() -> u32 {
    1_000
}

fn default_opcua_timeout_ms() -> u32 {
    5_000
}

/// How an OPC UA connector learns values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpcUaMode {
    /// One subscription, a monitored item per node: the server sends
    /// changes.
    #[default]
    Subscribe,
    /// Every node is read each `poll_ms` (servers without subscriptions).
    Poll,
}

/// One device's nodes on an OPC UA server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaDevice {
    /// The Nexus device whose frames these are.
    pub device_id: DeviceId,
    /// Node ids (`ns=2;s=Well.W1.Frequency`, `ns=3;i=1001`), as the
    /// decoder's node map names them.
    pub nodes: Vec<String>,
    /// Setpoints that may be written, by parameter name.
    #[serde(default)]
    pub setpoints: Vec<OpcUaSetpoint>,
}

/// A setpoint written to a node's Value attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaSetpoint {
    /// The setpoint's name (e.g. `frequency_hz`).
    pub parameter: String,
    /// The node id written (its value keeps the node's data type).
    pub node: String,
}

/// A setpoint to write to a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetpointWrite {
    /// The device.
    pub device_id: DeviceId,
    /// The setpoint's name.
    pub parameter: String,
    /// The value to write.
    pub value: f64,
}

/// A setpoint write as recorded (an outbox event, published to
/// `po.setpoint-changes`): what was asked and how it ended — the device's
/// confirmation, or the stable error code and reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetpointWriteRecord {
    /// What was asked.
    #[serde(flatten)]
    pub write: SetpointWrite,
    /// How it ended, when it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<WriteOutcome>,
    /// The stable error code, when it failed (`write-timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The reason, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How a setpoint write ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteOutcome {
    /// The connector that wrote it.
    pub connector_id: ConnectorId,
    /// Whether the device confirmed the value (read back, or answered the
    /// RPC).
    pub confirmed: bool,
    /// What the device reported back, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_back: Option<f64>,
    /// From the request to the confirmation, ms.
    pub elapsed_ms: u64,
}

/// Where a connector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    /// Connecting.
    Starting,
    /// Connected and working.
    Running,
    /// Failed; waiting before the next start.
    Backoff,
    /// Not running (disabled, deleted or the host is stopping).
    Stopped,
}

/// One problem: a refused frame, a device error, a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorProblem {
    /// When, ms.
    pub at: TimestampMs,
    /// Stable code.
    pub code: String,
    /// Why, in words.
    pub reason: String,
    /// The device (as the wire named it), when one is concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// How far a consumer connector is behind on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records past the connector's committed position (not yet durable in
    /// Nexus, or not yet consumed).
    pub records: i64,
}

/// A snapshot of a connector's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    /// The connector.
    pub connector_id: ConnectorId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its kind.
    pub kind: ConnectorKind,
    /// Where it is.
    pub state: ConnectorState,
    /// Since when, ms.
    pub since: TimestampMs,
    /// Restarts after a fault since the host started.
    pub restarts: u64,
    /// Frames stored.
    pub frames: u64,
    /// Readings stored from them.
    pub readings: u64,
    /// Frames refused (each with a reason among `problems`).
    pub refused: u64,
    /// Protocol and device errors (timeouts, exceptions, bad replies).
    pub errors: u64,
    /// Setpoint writes confirmed.
    pub writes_ok: u64,
    /// Setpoint writes that failed.
    pub writes_failed: u64,
    /// When the last frame was stored, ms.
    pub last_frame_time: Option<TimestampMs>,
    /// Errors per device, for devices that had any.
    pub device_errors: BTreeMap<String, u64>,
    /// The most recent problems, newest last.
    pub problems: Vec<ConnectorProblem>,
    /// A consumer's lag per assigned partition, as its client last reported
    /// it (Kafka; empty for the other kinds, or before the first report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lag: Vec<PartitionLag>,
}
