//! Where values come from: one subscription with a monitored item per
//! configured node (the server sends each batch of data changes), or a
//! Read of every node each `poll_ms`. Either way a batch goes on as
//! `(client handle, value)` pairs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use nexus_model::OpcUaSettings;
use opcua::client::{MonitoredItemMap, OnSubscriptionNotificationCore, Session};
use opcua::types::{
    DataChangeNotification, DataValue, ExtensionObject, MonitoredItemCreateRequest, MonitoringMode,
    MonitoringParameters, NotificationMessage, ReadValueId, TimestampsToReturn,
};
use tokio::sync::mpsc;

use super::setpoint::described;
use super::values::Nodes;
use crate::{ConnectorError, Health};

/// A batch of values by client handle.
pub(crate) type Values = Vec<(u32, DataValue)>;

/// Batches that may wait for the sink.
const BATCH_QUEUE: usize = 256;
/// Monitored items created, or nodes read, per request.
const CHUNK: usize = 1_000;
/// Notifications the server may put in one publish response (more go in
/// the next ones). The client decodes arrays of at most 1 000 elements: an
/// unbounded publish of more data changes than that never arrives, and the
/// subscription goes silent.
const MAX_NOTIFICATIONS: u32 = 1_000;
/// Values a node's monitored item keeps between two publishes.
const QUEUE_SIZE: u32 = 10;

/// Hands each data change notification to the connector's loop; a batch
/// that finds the queue full is counted (the loop reports it).
struct Notifications {
    batches: mpsc::Sender<Values>,
    dropped: Arc<AtomicU64>,
    heard: Arc<AtomicBool>,
}

impl OnSubscriptionNotificationCore for Notifications {
    fn on_subscription_notification(&mut self, notification: NotificationMessage, _items: MonitoredItemMap<'_>) {
        // Data or a keep-alive: the subscription is alive.
        self.heard.store(true, Relaxed);
        let mut values = Vec::new();
        for object in notification.notification_data.into_iter().flatten() {
            if let Some(change) = object_as::<DataChangeNotification>(object) {
                values.extend(change.monitored_items.into_iter().flatten().map(|n| (n.client_handle, n.value)));
            }
        }
        if !values.is_empty() && self.batches.try_send(values).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }
}

fn object_as<T: Send + Sync + 'static>(object: ExtensionObject) -> Option<T> {
    object.into_inner_as::<T>().map(|boxed| *boxed)
}

/// The subscription's batches, how many were dropped for want of room,
/// and whether the server published anything (data or a keep-alive) since
/// this was last reset.
pub(crate) struct Subscribed {
    pub(crate) batches: mpsc::Receiver<Values>,
    pub(crate) dropped: Arc<AtomicU64>,
    pub(crate) heard: Arc<AtomicBool>,
}

/// Publishing intervals without a data change after which the server
/// sends a keep-alive.
pub(crate) const KEEP_ALIVE_COUNT: u32 = 10;

/// How long a subscription may stay silent — no data and no keep-alive —
/// before the run ends (the supervisor makes a new session and
/// subscription): three keep-alive periods, at least 3 s.
pub(crate) fn silence_limit(settings: &OpcUaSettings) -> Duration {
    let keep_alive = u64::from(settings.publishing_interval_ms) * u64::from(KEEP_ALIVE_COUNT);
    Duration::from_millis((3 * keep_alive).max(3_000))
}

/// Creates the subscription and its monitored items. A node the server
/// refuses (unknown, not readable) is reported against its device; the
/// others go on.
pub(crate) async fn subscribe(
    session: &Session,
    settings: &OpcUaSettings,
    nodes: &Nodes,
    health: &Health,
) -> Result<Subscribed, ConnectorError> {
    let (sender, batches) = mpsc::channel(BATCH_QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let heard = Arc::new(AtomicBool::new(true));
    let callback = Notifications { batches: sender, dropped: dropped.clone(), heard: heard.clone() };
    let publishing = Duration::from_millis(settings.publishing_interval_ms.into());
    // Lifetime 60 publishes, a keep-alive every 10 when nothing changes.
    let id = session
        .create_subscription(publishing, 60, KEEP_ALIVE_COUNT, MAX_NOTIFICATIONS, 0, true, callback)
        .await
        .map_err(|e| ConnectorError::Protocol(format!("CreateSubscription: {e}")))?;
    let requests: Vec<MonitoredItemCreateRequest> = nodes
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let parameters = MonitoringParameters {
                client_handle: index as u32 + 1,
                sampling_interval: f64::from(settings.sampling_interval_ms),
                queue_size: QUEUE_SIZE,
                discard_oldest: true,
                ..Default::default()
            };
            MonitoredItemCreateRequest::new(
                ReadValueId::new_value(node.id.clone()),
                MonitoringMode::Reporting,
                parameters,
            )
        })
        .collect();
    for chunk in requests.chunks(CHUNK) {
        let created = session
            .create_monitored_items(id, TimestampsToReturn::Both, chunk.to_vec())
            .await
            .map_err(|e| ConnectorError::Protocol(format!("CreateMonitoredItems: {e}")))?;
        for item in created {
            let status = item.result.status_code;
            if status.is_bad()
                && let Some(node) = nodes.by_handle(item.requested_parameters.client_handle)
            {
                let reason = format!("{}: the server refused to monitor it: {}", node.text, described(status));
                health.error(Some(nodes.devices[node.device].as_str()), "opcua-bad-node", &reason);
            }
        }
    }
    Ok(Subscribed { batches, dropped, heard })
}

/// Reads every node's value once.
pub(crate) async fn poll(session: &Session, nodes: &Nodes, timeout: Duration) -> Result<Values, ConnectorError> {
    let mut values = Vec::with_capacity(nodes.nodes.len());
    for (chunk_index, chunk) in nodes.nodes.chunks(CHUNK).enumerate() {
        let requests: Vec<ReadValueId> = chunk.iter().map(|node| ReadValueId::new_value(node.id.clone())).collect();
        let read = tokio::time::timeout(timeout, session.read(&requests, TimestampsToReturn::Both, 0.0))
            .await
            .map_err(|_| ConnectorError::Protocol(format!("no answer to Read within {} ms", timeout.as_millis())))?
            .map_err(|e| ConnectorError::Protocol(format!("Read: {e}")))?;
        if read.len() != requests.len() {
            return Err(ConnectorError::Protocol(format!(
                "Read of {} nodes answered {} values",
                requests.len(),
                read.len()
            )));
        }
        let first = chunk_index * CHUNK;
        values.extend(read.into_iter().enumerate().map(|(i, value)| ((first + i) as u32 + 1, value)));
    }
    Ok(values)
}
