//! The MQTT connector: one persistent session (QoS 1, manual
//! acknowledgements) on a broker, subscribed to the settings' topics and to
//! the devices' RPC responses.
//!
//! - A device topic (`v1/devices/{device}/telemetry|attributes`) is one
//!   frame of that device (id or name); a ThingsBoard gateway message
//!   (`v1/gateway/telemetry|attributes`) is one frame per device it names.
//! - Frames are delivered concurrently across devices and in order per
//!   device ([`deliver`]); a message is acknowledged only once every frame
//!   made from it is durable or refused. Refused messages (unknown topic,
//!   malformed gateway JSON, too large, unknown device, decoder refusal)
//!   are counted, reported and acknowledged: they can never succeed.
//! - Setpoint writes are RPC requests ([`rpc`]).
//! - A lost connection ends the run with an error: the supervisor restarts
//!   it after its backoff, the broker resumes the session and redelivers
//!   every message not yet acknowledged (storage replaces a re-delivered
//!   reading, so nothing is stored twice).
//!
//! PUBACKs go out as frames finish, so across devices they can leave in
//! another order than the messages came; MQTT 3.1.1 (§4.6) asks for
//! in-order acknowledgements only of a client that promises ordered
//! delivery, which a broker does not rely on: it matches each PUBACK to its
//! packet id (rumqttc and mosquitto do).

mod deliver;
mod options;
mod route;
mod rpc;

use std::sync::Arc;

use async_trait::async_trait;
use nexus_model::{Clock, ConnectorId, ConnectorState, DeviceId, Frame, MqttSettings, SourceKind, default_topics};
use rumqttc::{AsyncClient, ConnectionError, Event, Packet, Publish, QoS, SubscribeFilter, SubscribeReasonCode};
use tokio::sync::mpsc;

use crate::{Connector, ConnectorError, Health, Link};
use deliver::Dispatcher;
use route::Route;
use rpc::Rpc;

/// Requests (acknowledgements, RPC publishes) waiting for the session.
const REQUESTS: usize = 4096;
/// Events read ahead of the run loop.
const EVENTS: usize = 64;
/// The devices' RPC responses.
const RPC_RESPONSES: &str = "v1/devices/+/rpc/response/+";

/// An MQTT connector.
pub struct MqttConnector {
    id: ConnectorId,
    settings: MqttSettings,
}

impl MqttConnector {
    /// A connector with these settings.
    pub fn new(id: ConnectorId, settings: MqttSettings) -> Self {
        Self { id, settings }
    }
}

#[async_trait]
impl Connector for MqttConnector {
    async fn run(&mut self, link: &mut Link) -> Result<(), ConnectorError> {
        let peer = options::peer(&self.settings)?;
        let target = link.policy.resolve(&peer).await.map_err(|e| match e {
            crate::policy::Unreachable::Forbidden(reason) => ConnectorError::NotAllowed(reason),
            crate::policy::Unreachable::Unresolved(reason) => ConnectorError::Connect { peer: peer.clone(), reason },
        })?;
        let (options, peer) = options::options(&self.id, &self.settings, target)?;
        let (client, mut eventloop) = AsyncClient::new(options, REQUESTS);
        // The event loop is polled in a task of its own, so that nothing in
        // the run loop cancels a half-read packet.
        let (events_tx, mut events) = mpsc::channel(EVENTS);
        let poller = AbortOnDrop(tokio::spawn(async move {
            loop {
                let event = eventloop.poll().await;
                let failed = event.is_err();
                if events_tx.send(event).await.is_err() || failed {
                    return;
                }
            }
        }));
        let mut session = Session {
            settings: &self.settings,
            health: link.health.clone(),
            clock: link.clock.clone(),
            dispatcher: Dispatcher::new(link.sink.clone(), link.health.clone(), client.clone(), link.stop.clone()),
            rpc: Rpc::new(
                client.clone(),
                self.id.clone(),
                self.settings.rpc_timeout_ms,
                link.clock.now().max(0) as u64,
            ),
            client,
            connected: false,
        };
        let stopped = link.stopped();
        tokio::pin!(stopped);
        let result = loop {
            tokio::select! {
                () = &mut stopped => {
                    let _ = session.client.try_disconnect();
                    break Ok(());
                }
                Some(request) = link.writes.recv() => session.rpc.start(request, session.health.clone()),
                event = events.recv() => match event {
                    Some(Ok(event)) => session.event(event).await,
                    Some(Err(error)) => break Err(session.failed(&peer, &error)),
                    None => break Err(ConnectorError::Protocol(format!("the session with {peer} ended"))),
                },
            }
        };
        drop(poller);
        result
    }
}

struct Session<'a> {
    settings: &'a MqttSettings,
    health: Arc<Health>,
    clock: Clock,
    dispatcher: Dispatcher,
    rpc: Rpc,
    client: AsyncClient,
    connected: bool,
}

impl Session<'_> {
    async fn event(&mut self, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.connected = true;
                let filters = self
                    .settings
                    .topics
                    .iter()
                    .map(String::as_str)
                    .chain([RPC_RESPONSES])
                    .map(|topic| SubscribeFilter::new(topic.to_string(), QoS::AtLeastOnce));
                if let Err(error) = self.client.try_subscribe_many(filters.collect::<Vec<_>>()) {
                    self.health.error(None, "subscribe-failed", &error.to_string());
                }
                // A persistent session keeps the subscriptions of earlier
                // settings: drop the default topics these settings left out
                // (messages on any other stale filter are refused by topic).
                for stale in default_topics().into_iter().filter(|topic| !self.settings.topics.contains(topic)) {
                    if let Err(error) = self.client.try_unsubscribe(stale) {
                        self.health.error(None, "subscribe-failed", &error.to_string());
                    }
                }
                self.health.set_state(ConnectorState::Running);
            }
            Event::Incoming(Packet::SubAck(ack))
                if ack.return_codes.iter().any(|code| matches!(code, SubscribeReasonCode::Failure)) =>
            {
                let reason = format!("the broker refused a subscription: {:?}", ack.return_codes);
                self.health.error(None, "subscribe-refused", &reason);
            }
            Event::Incoming(Packet::Publish(publish)) => self.message(publish).await,
            _ => {}
        }
    }

    async fn message(&mut self, publish: Publish) {
        let max = self.settings.max_payload_bytes as usize;
        match route::route(&publish.topic, &publish.payload, max, &self.settings.topics) {
            Route::Frames(parts) => {
                let metadata = vec![
                    ("qos".to_string(), (publish.qos as u8).to_string()),
                    ("retain".to_string(), publish.retain.to_string()),
                ];
                let frames = parts
                    .into_iter()
                    .map(|(device, payload)| {
                        let frame = Frame {
                            source: SourceKind::Mqtt,
                            device_id: DeviceId::default(),
                            topic: publish.topic.clone(),
                            content_type: self.settings.content_type.clone(),
                            payload,
                            received_at: self.clock.now(),
                            metadata: metadata.clone(),
                        };
                        (device, frame)
                    })
                    .collect();
                self.dispatcher.dispatch(publish, frames).await;
            }
            Route::RpcResponse { device, id } => {
                if !self.rpc.answer(&device, id, &publish.payload) {
                    tracing::debug!(device, id, "an RPC response no request waits for");
                }
                self.ack(publish);
            }
            Route::Refused { device, code, reason } => {
                self.health.frame_refused(device.as_deref(), code, &reason);
                self.ack(publish);
            }
        }
    }

    /// Acknowledges without blocking the run loop (the request queue is
    /// drained by the event loop, which this loop feeds).
    fn ack(&self, publish: Publish) {
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = client.ack(&publish).await;
        });
    }

    fn failed(&self, peer: &str, error: &ConnectionError) -> ConnectorError {
        if self.connected {
            ConnectorError::Protocol(format!("the connection to {peer} broke: {error}"))
        } else {
            ConnectorError::Connect { peer: peer.to_string(), reason: error.to_string() }
        }
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
