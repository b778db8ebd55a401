//! The OPC UA connector: one session on a server (no security, anonymous),
//! one subscription with a monitored item per configured node — or, in
//! `poll` mode, a Read of every node each `poll_ms` — and each batch of
//! values becomes one frame per device (value, source timestamp, status
//! code) for the device's decoder. A value with a Bad status is still
//! handed to the decoder (it leaves the value out) and is counted and
//! reported with its node and status. Setpoint writes go through the
//! Write service and are read back. A lost connection ends the run: the
//! supervisor makes a new session and subscription after its backoff.
//!
//! - [`session`]: the policy check of the endpoint and the session.
//! - [`feed`]: the subscription (or the poll) that brings values.
//! - [`values`]: the configured nodes and the frames of a batch.
//! - [`setpoint`]: a setpoint's write and read-back.

mod feed;
mod session;
mod setpoint;
mod values;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexus_model::{ConnectorId, ConnectorState, OpcUaMode, OpcUaSettings, WriteOutcome};
use nexus_services::WriteError;
use opcua::client::Session;
use tokio::time::MissedTickBehavior;

use crate::{Connector, ConnectorError, DeviceRef, Link, SinkError, WriteRequest, run_write};
use values::Nodes;

/// How long a session may take to close when the connector stops.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// An OPC UA connector.
pub struct OpcUaConnector {
    id: ConnectorId,
    settings: OpcUaSettings,
}

impl OpcUaConnector {
    /// A connector with these settings.
    pub fn new(id: ConnectorId, settings: OpcUaSettings) -> Self {
        Self { id, settings }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms.into())
    }
}

#[async_trait]
impl Connector for OpcUaConnector {
    async fn run(&mut self, link: &mut Link) -> Result<(), ConnectorError> {
        let nodes = Nodes::new(&self.settings)?;
        let connect = session::connect(&self.settings.url, &link.policy, self.timeout());
        let connected = tokio::select! {
            connected = connect => connected?,
            () = link.stopped() => return Ok(()),
        };
        let session = connected.session;
        let mut events = connected.events;
        let result = self.serve(link, &session, &nodes, &mut events).await;
        let _ = tokio::time::timeout(CLOSE_GRACE, session.disconnect()).await;
        events.abort();
        result
    }
}

impl OpcUaConnector {
    /// Feeds values and carries out writes until the connector stops
    /// (`Ok`) or the connection is lost (`Err`).
    async fn serve(
        &self,
        link: &mut Link,
        session: &Session,
        nodes: &Nodes,
        events: &mut tokio::task::JoinHandle<opcua::types::StatusCode>,
    ) -> Result<(), ConnectorError> {
        let subscribe = self.settings.mode == OpcUaMode::Subscribe;
        let mut subscribed =
            if subscribe { Some(feed::subscribe(session, &self.settings, nodes, &link.health).await?) } else { None };
        let period = Duration::from_millis(self.settings.poll_ms.into());
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        link.health.set_state(ConnectorState::Running);
        let stopped = link.stopped();
        tokio::pin!(stopped);
        let mut reported_drops = 0;
        let silence = feed::silence_limit(&self.settings);
        let mut watchdog = tokio::time::interval_at(tokio::time::Instant::now() + silence, silence);
        loop {
            tokio::select! {
                () = &mut stopped => return Ok(()),
                _ = watchdog.tick(), if subscribe => {
                    // Nothing published — not even a keep-alive — for a
                    // whole period: the subscription is gone or stuck on
                    // the server, whatever the session says.
                    if !subscribed.as_ref().is_some_and(|s| s.heard.swap(false, Relaxed)) {
                        return Err(ConnectorError::Protocol(format!(
                            "the subscription on {} published nothing, not even a keep-alive, for {} ms",
                            self.settings.url, silence.as_millis()
                        )));
                    }
                }
                ended = &mut *events => {
                    let code = ended.unwrap_or(opcua::types::StatusCode::BadUnexpectedError);
                    return Err(ConnectorError::Protocol(format!(
                        "the connection to {} was lost: {}", self.settings.url, setpoint::described(code)
                    )));
                }
                Some(request) = link.writes.recv() => self.write(link, session, request).await,
                Some(batch) = async { subscribed.as_mut()?.batches.recv().await } => {
                    self.deliver(link, nodes, &batch).await;
                    let dropped = subscribed.as_ref().map_or(0, |s| s.dropped.load(Relaxed));
                    if dropped > reported_drops {
                        let reason = format!(
                            "{} batches of data changes were dropped: ingest is behind the subscription",
                            dropped - reported_drops
                        );
                        link.health.error(None, "opcua-overrun", &reason);
                        reported_drops = dropped;
                    }
                }
                _ = interval.tick(), if !subscribe => {
                    let started = Instant::now();
                    let batch = feed::poll(session, nodes, self.timeout()).await?;
                    self.deliver(link, nodes, &batch).await;
                    if started.elapsed() > period {
                        let reason = format!(
                            "a poll took {} ms, over the period of {} ms: the ticks it overran are skipped",
                            started.elapsed().as_millis(), period.as_millis()
                        );
                        link.health.error(None, "opcua-missed-cycle", &reason);
                    }
                }
            }
        }
    }

    /// One frame per device of `batch` into the sink; Bad values reported.
    async fn deliver(&self, link: &Link, nodes: &Nodes, batch: &feed::Values) {
        let known = batch.iter().filter_map(|(handle, value)| nodes.by_handle(*handle).map(|node| (node, value)));
        let batch = values::frames(nodes, known, link.clock.now());
        for bad in &batch.bad {
            link.health.error(Some(bad.device.as_str()), "opcua-bad-status", &bad.reason);
        }
        for (device, frame) in batch.frames {
            match link.sink.deliver(&DeviceRef::Id(device.clone()), frame).await {
                Ok(report) => link.health.frame_stored(&report),
                Err(SinkError::Refused { code, reason }) => {
                    link.health.frame_refused(Some(device.as_str()), &code, &reason)
                }
                // Not stored now: the next change or poll brings fresh values.
                Err(SinkError::Unavailable { reason, .. }) => {
                    let reason = format!("a frame of {device} was dropped: {reason}");
                    link.health.error(None, "ingest-unavailable", &reason);
                }
            }
        }
    }

    /// Carries out one setpoint write and answers it.
    async fn write(&self, link: &Link, session: &Session, request: WriteRequest) {
        let taken = Instant::now();
        let wanted = &request.write;
        let node = self
            .settings
            .devices
            .iter()
            .filter(|d| d.device_id == wanted.device_id)
            .flat_map(|d| &d.setpoints)
            .find(|s| s.parameter == wanted.parameter)
            .map(|s| s.node.clone());
        let Some(node) = node else {
            let error =
                WriteError::NotWritable { device: wanted.device_id.clone(), parameter: wanted.parameter.clone() };
            return run_write(&link.health, request, Err(error));
        };
        let outcome = match values::parse(&node) {
            Err(error) => Err(WriteError::Refused(error.to_string())),
            Ok(id) => {
                setpoint::write(session, &id, wanted.value, self.timeout()).await.map(|(confirmed, read_back)| {
                    WriteOutcome {
                        connector_id: self.id.clone(),
                        confirmed,
                        read_back: Some(read_back),
                        elapsed_ms: taken.elapsed().as_millis() as u64,
                    }
                })
            }
        };
        run_write(&link.health, request, outcome);
    }
}
