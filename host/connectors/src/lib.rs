//! # nexus-connectors
//!
//! The field connectors: trusted native code that speaks a field protocol
//! (MQTT, Modbus TCP, OPC UA, Kafka), hands each raw frame to the ingest path — where the
//! device's decoder binding, an untrusted component, decodes it — and writes
//! setpoints back to devices.
//!
//! - [`Connector`]: one protocol's run loop over a [`Link`]: frames out
//!   through its [`FrameSink`], setpoint writes in, health and counters in
//!   its [`Health`].
//! - [`Supervisor`]: runs each tenant's enabled connectors, restarts a
//!   failing one with capped, jittered backoff, applies a changed
//!   configuration at run time, and reports status; it is the services'
//!   `ConnectorRuntime` port.
//! - [`NetworkPolicy`]: which addresses connectors may reach, checked on
//!   every connection after name resolution.
//! - [`ServicesSink`]: the production sink, resolving the wire's device
//!   (id or name, within the connector's tenant) and calling the ingest
//!   service; a frame is stored (durable) before its sink call returns.
//!
//! - `lanes`: delivery for the connectors that read a stream for many
//!   devices (MQTT, Kafka): a lane per device, in order, a bound on frames
//!   under way, and a token per frame spent once it is stored or refused.
//! - [`kafka::KafkaPublisher`]: the outbox subscriber that publishes events
//!   to Kafka (alarms, recommendations, setpoint writes, the rest) and the
//!   telemetry tap that publishes committed telemetry, started by the host
//!   when Kafka is configured.
//!
//! A connector never interprets a payload: payload formats, register maps,
//! scaling and byte order belong to the tenant's decoder.

mod backoff;
mod health;
pub mod kafka;
mod lanes;
mod link;
pub mod modbus;
pub mod mqtt;
pub mod opcua;
mod policy;
mod sink;
mod supervisor;

pub use backoff::Backoff;
pub use health::Health;
pub use link::{Connector, ConnectorError, DeviceRef, FrameSink, Link, SinkError, WriteRequest, run_write};
pub use policy::NetworkPolicy;
pub use sink::ServicesSink;
pub use supervisor::Supervisor;
