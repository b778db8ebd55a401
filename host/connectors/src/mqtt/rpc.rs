//! Setpoint writes as RPC: the request goes out QoS 1 on
//! `v1/devices/{device id}/rpc/request/{n}` as
//! `{"method": parameter, "params": value}`; the device answers on
//! `v1/devices/{device id}/rpc/response/{n}` within `rpc_timeout_ms`. A
//! number, or `{"value": n}`, is the value read back; `{"error": …}` is a
//! refusal; any other answer confirms without a read-back
//! ([`nexus_services::rpc_answer`], shared with the device API's RPC).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus_model::{ConnectorId, WriteOutcome};
use nexus_services::WriteError;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::oneshot;

use crate::{Health, WriteRequest, run_write};

type Waiting = Arc<Mutex<HashMap<(String, u64), oneshot::Sender<Vec<u8>>>>>;

/// The session's pending RPC requests.
pub(super) struct Rpc {
    client: AsyncClient,
    connector: ConnectorId,
    timeout: Duration,
    next: u64,
    waiting: Waiting,
}

impl Rpc {
    /// Requests are numbered from `first` (the clock: numbers stay unique
    /// across sessions).
    pub(super) fn new(client: AsyncClient, connector: ConnectorId, timeout_ms: u32, first: u64) -> Self {
        Self {
            client,
            connector,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            next: first,
            waiting: Arc::default(),
        }
    }

    /// Sends the request and answers the write in a task of its own.
    pub(super) fn start(&mut self, request: WriteRequest, health: Arc<Health>) {
        let id = self.next;
        self.next += 1;
        let device = request.write.device_id.to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert((device.clone(), id), tx);
        let (client, waiting, timeout, connector) =
            (self.client.clone(), self.waiting.clone(), self.timeout, self.connector.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let topic = format!("v1/devices/{device}/rpc/request/{id}");
            let body = serde_json::json!({"method": request.write.parameter, "params": request.write.value});
            let outcome = match client.publish(topic, QoS::AtLeastOnce, false, body.to_string()).await {
                Err(error) => Err(WriteError::Unreachable(format!("the MQTT session is closed: {error}"))),
                Ok(()) => match tokio::time::timeout(timeout, rx).await {
                    Ok(Ok(answer)) => nexus_services::rpc_answer(&answer).map(|read_back| WriteOutcome {
                        connector_id: connector,
                        confirmed: true,
                        read_back,
                        elapsed_ms: started.elapsed().as_millis() as u64,
                    }),
                    Ok(Err(_)) => Err(WriteError::Unreachable("the MQTT session ended".into())),
                    Err(_) => Err(WriteError::Timeout(timeout.as_millis() as u64)),
                },
            };
            lock(&waiting).remove(&(device, id));
            run_write(&health, request, outcome);
        });
    }

    /// A device's response; `false` when no request waits for it (late,
    /// or not ours).
    pub(super) fn answer(&self, device: &str, id: u64, payload: &[u8]) -> bool {
        match lock(&self.waiting).remove(&(device.to_string(), id)) {
            Some(tx) => tx.send(payload.to_vec()).is_ok(),
            None => false,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
