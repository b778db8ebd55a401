//! Telemetry: raw frames from devices and the readings decoded from them.

use serde::{Deserialize, Serialize};

use crate::{DeviceId, TimestampMs};

/// The value of one telemetry key (ThingsBoard's long/double/boolean/string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A whole number.
    Integer(i64),
    /// A floating-point number.
    Number(f64),
    /// A boolean.
    Boolean(bool),
    /// Text, or JSON text for structured values.
    Text(String),
}

impl Value {
    /// The value as a number, if numeric (booleans count as 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Integer(i) => Some(*i as f64),
            Value::Boolean(b) => Some(f64::from(u8::from(*b))),
            Value::Text(_) => None,
        }
    }
}

/// One time-stamped value of one key of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Device the reading belongs to.
    pub device_id: DeviceId,
    /// Telemetry key, e.g. `motor_current`.
    pub key: String,
    /// Time of measurement.
    pub ts: TimestampMs,
    /// The value.
    pub value: Value,
    /// Quality from 0 (bad) to 1 (good).
    pub quality: f32,
}

/// Where a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An MQTT publish.
    Mqtt,
    /// An HTTP request (ThingsBoard device API).
    Http,
    /// An OPC UA data change.
    Opcua,
    /// A Modbus register read.
    Modbus,
    /// A Kafka record.
    Kafka,
}

/// Raw bytes from a device with what the connector saw around them.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Connector kind.
    pub source: SourceKind,
    /// Device the frame came from.
    pub device_id: DeviceId,
    /// Topic, path, node id or register address.
    pub topic: String,
    /// MIME type of the payload.
    pub content_type: String,
    /// The bytes as received.
    pub payload: Vec<u8>,
    /// When the host received the frame.
    pub received_at: TimestampMs,
    /// Connector metadata (Modbus unit, OPC UA status code, Kafka offset...).
    pub metadata: Vec<(String, String)>,
}
