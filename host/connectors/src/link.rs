//! What a connector runs against: the [`Link`] the supervisor hands it —
//! where frames go ([`FrameSink`]), where setpoint writes come from, where
//! health is recorded, and when to stop — and the [`Connector`] trait
//! itself.

use std::sync::Arc;

use async_trait::async_trait;
use nexus_model::{Clock, ConnectorId, DeviceId, Frame, SetpointWrite, TenantId, WriteOutcome};
use nexus_services::{IngestReport, WriteError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::Health;

/// One protocol's connector. The supervisor calls [`Connector::run`] and,
/// when it fails, calls it again after a backoff, with the same link.
#[async_trait]
pub trait Connector: Send {
    /// Connects and runs until the link says stop (`Ok`), or until a fault
    /// it cannot ride out (`Err`: the supervisor records it and restarts
    /// the connector after a backoff). It must answer every setpoint write
    /// it takes from [`Link::writes`].
    async fn run(&mut self, link: &mut Link) -> Result<(), ConnectorError>;
}

/// Why a connector's run ended in a fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// The peer (broker, server, slave) could not be reached.
    #[error("cannot connect to {peer}: {reason}")]
    Connect {
        /// Where.
        peer: String,
        /// Why.
        reason: String,
    },
    /// The connection broke or the peer broke the protocol.
    #[error("{0}")]
    Protocol(String),
    /// The host's network policy forbids the address.
    #[error("{0}")]
    NotAllowed(String),
    /// The settings cannot work (checked when saved; this is the rest).
    #[error("invalid settings: {0}")]
    Settings(String),
}

impl ConnectorError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect-failed",
            Self::Protocol(_) => "protocol-error",
            Self::NotAllowed(_) => "address-not-allowed",
            Self::Settings(_) => "invalid-settings",
        }
    }
}

/// Which device a frame belongs to, as the wire names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceRef {
    /// A Nexus device id (configured, e.g. a Modbus slave's device).
    Id(DeviceId),
    /// The id, or else the name, of a device of the tenant (an MQTT topic's
    /// `{device}`, a gateway message's device name).
    IdOrName(String),
}

impl std::fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => f.write_str(id.as_str()),
            Self::IdOrName(name) => f.write_str(name),
        }
    }
}

/// Why a frame was not stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SinkError {
    /// It can never be stored as it is (unknown device, no decoder, the
    /// decoder refused it, the binding is quarantined): count and report
    /// it, and acknowledge it to the peer.
    #[error("{code}: {reason}")]
    Refused {
        /// Stable code (the service's).
        code: String,
        /// Why.
        reason: String,
    },
    /// Not now (the tenant's queue is full, storage is down): do not
    /// acknowledge; the peer or the next poll brings it again.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
        /// How long to wait before trying again.
        retry_after: std::time::Duration,
    },
}

/// Where a connector's frames go: the ingest path, in production.
#[async_trait]
pub trait FrameSink: Send + Sync {
    /// Stores one frame of `device` (its decoder decodes it) and returns
    /// only once the result is durable. The frame's `device_id` is set by
    /// the sink.
    async fn deliver(&self, device: &DeviceRef, frame: Frame) -> Result<IngestReport, SinkError>;
}

/// A setpoint write a connector must carry out and answer.
#[derive(Debug)]
pub struct WriteRequest {
    /// What to write.
    pub write: SetpointWrite,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<WriteOutcome, WriteError>>,
}

/// A running connector's link to the host. The supervisor keeps one per
/// connector across restarts.
pub struct Link {
    /// The connector's tenant.
    pub tenant: TenantId,
    /// The connector.
    pub connector: ConnectorId,
    /// Where frames go.
    pub sink: Arc<dyn FrameSink>,
    /// Its health and counters.
    pub health: Arc<Health>,
    /// The host's clock (`received_at` of frames).
    pub clock: Clock,
    /// Set to `true` when the connector must stop.
    pub stop: watch::Receiver<bool>,
    /// Setpoint writes routed to this connector.
    pub writes: mpsc::Receiver<WriteRequest>,
    /// Which addresses it may connect to.
    pub policy: Arc<crate::NetworkPolicy>,
}

impl Link {
    /// Whether the connector must stop now.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves when the connector must stop. It borrows nothing, so it
    /// can sit in a `select!` beside `self.writes.recv()`.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stop = self.stop.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    }
}

/// Answers a write request with `outcome` and records it in `health`.
pub fn run_write(health: &Health, request: WriteRequest, outcome: Result<WriteOutcome, WriteError>) {
    health.write_done(&request.write, &outcome);
    let _ = request.reply.send(outcome);
}
