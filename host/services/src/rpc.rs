//! Server-side RPC of the ThingsBoard device API, for devices on HTTP: a
//! setpoint write for a device no connector serves waits here until the
//! device long-polls `GET /api/v1/{token}/rpc` and gets
//! `{"id", "method": parameter, "params": value}`, and is answered when the
//! device posts to `/api/v1/{token}/rpc/{id}` — the same request and answer
//! as the MQTT connector's RPC. A device is listening while a poll of its
//! is open or it polled within the last [`LISTENING_FOR`]; a write for a
//! device that is not is `not-writable`, one it does not answer in time
//! `write-timeout`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nexus_model::{ConnectorId, DeviceId, SetpointWrite, TenantId, WriteOutcome};
use serde::Serialize;
use tokio::sync::{Notify, oneshot};

use crate::WriteError;

/// How long after its last poll a device still counts as listening.
pub const LISTENING_FOR: Duration = Duration::from_secs(60);
/// Most requests waiting for one device.
pub const MAX_WAITING: usize = 16;
/// The writer named in the outcome of a write through the device API.
pub const HTTP_RPC: &str = "http-rpc";

/// A request as the device gets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpcRequest {
    /// Its number; the device answers on `/rpc/{id}`.
    pub id: u64,
    /// The setpoint's name.
    pub method: String,
    /// The value to set.
    pub params: serde_json::Value,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<RpcRequest>,
    replies: HashMap<u64, oneshot::Sender<Vec<u8>>>,
    wake: Arc<Notify>,
    polling: usize,
    last_poll: Option<Instant>,
}

/// The requests waiting for HTTP devices, and the answers awaited.
#[derive(Default)]
pub struct DeviceRpc {
    devices: Mutex<HashMap<(TenantId, DeviceId), Queue>>,
    next: AtomicU64,
}

impl DeviceRpc {
    fn with<T>(&self, tenant: &TenantId, device: &DeviceId, f: impl FnOnce(&mut Queue) -> T) -> T {
        let mut devices = self.devices.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(devices.entry((tenant.clone(), device.clone())).or_default())
    }

    /// The device's next request, waiting up to `wait` for one.
    pub async fn poll(&self, tenant: &TenantId, device: &DeviceId, wait: Duration) -> Option<RpcRequest> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let wake = self.with(tenant, device, |q| {
                q.last_poll = Some(Instant::now());
                match q.waiting.pop_front() {
                    Some(request) => Err(request),
                    None => {
                        q.polling += 1;
                        Ok(q.wake.clone())
                    }
                }
            });
            let wake = match wake {
                Err(request) => return Some(request),
                Ok(wake) => wake,
            };
            let woken = tokio::time::timeout_at(deadline, wake.notified()).await.is_ok();
            self.with(tenant, device, |q| {
                q.polling -= 1;
                q.last_poll = Some(Instant::now());
            });
            if !woken {
                return self.with(tenant, device, |q| q.waiting.pop_front());
            }
        }
    }

    /// The device's answer to request `id`; `false` when none waits for it
    /// (late, unknown, or another device's).
    pub fn reply(&self, tenant: &TenantId, device: &DeviceId, id: u64, answer: Vec<u8>) -> bool {
        match self.with(tenant, device, |q| q.replies.remove(&id)) {
            Some(tx) => tx.send(answer).is_ok(),
            None => false,
        }
    }

    /// Whether the device polls for requests (a poll is open, or it polled
    /// within [`LISTENING_FOR`]).
    pub fn listening(&self, tenant: &TenantId, device: &DeviceId) -> bool {
        self.with(tenant, device, |q| q.polling > 0 || q.last_poll.is_some_and(|t| t.elapsed() < LISTENING_FOR))
    }

    /// Sends a setpoint write to the device and waits up to `timeout` for
    /// its answer.
    pub(crate) async fn call(
        &self,
        tenant: &TenantId,
        write: &SetpointWrite,
        timeout: Duration,
    ) -> Result<WriteOutcome, WriteError> {
        let device = &write.device_id;
        if !self.listening(tenant, device) {
            return Err(WriteError::NotWritable { device: device.clone(), parameter: write.parameter.clone() });
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        let request = RpcRequest { id, method: write.parameter.clone(), params: serde_json::json!(write.value) };
        let queued = self.with(tenant, device, |q| {
            if q.waiting.len() >= MAX_WAITING {
                return false;
            }
            q.waiting.push_back(request);
            q.replies.insert(id, tx);
            q.wake.notify_one();
            true
        });
        if !queued {
            return Err(WriteError::Unreachable(format!("{MAX_WAITING} requests already wait for the device")));
        }
        let started = Instant::now();
        let answer = tokio::time::timeout(timeout, rx).await;
        self.with(tenant, device, |q| {
            q.waiting.retain(|r| r.id != id);
            q.replies.remove(&id);
        });
        match answer {
            Ok(Ok(bytes)) => rpc_answer(&bytes).map(|read_back| WriteOutcome {
                connector_id: ConnectorId::new(HTTP_RPC),
                confirmed: true,
                read_back,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }),
            Ok(Err(_)) => Err(WriteError::Unreachable("the request was dropped".into())),
            Err(_) => Err(WriteError::Timeout(timeout.as_millis() as u64)),
        }
    }
}

/// A device's answer to a setpoint RPC (HTTP or MQTT): a number, or
/// `{"value": n}`, is the value read back; `{"error": …}` is a refusal; any
/// other answer confirms without a read-back.
pub fn rpc_answer(payload: &[u8]) -> Result<Option<f64>, WriteError> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else { return Ok(None) };
    if let Some(error) = value.get("error") {
        let reason = error.as_str().map_or_else(|| error.to_string(), str::to_string);
        return Err(WriteError::Refused(reason));
    }
    Ok(value.as_f64().or_else(|| value.get("value").and_then(serde_json::Value::as_f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_back_refuse_or_confirm() {
        assert_eq!(rpc_answer(b"52.5"), Ok(Some(52.5)));
        assert_eq!(rpc_answer(br#"{"value": 7}"#), Ok(Some(7.0)));
        assert_eq!(rpc_answer(br#"{"ok": true}"#), Ok(None));
        assert_eq!(rpc_answer(b"done"), Ok(None));
        assert_eq!(rpc_answer(br#"{"error": "locked"}"#), Err(WriteError::Refused("locked".into())));
    }

    fn write(value: f64) -> SetpointWrite {
        SetpointWrite { device_id: DeviceId::new("d"), parameter: "frequency_hz".into(), value }
    }

    #[tokio::test]
    async fn a_polling_device_gets_the_request_and_its_answer_confirms() {
        let rpc = Arc::new(DeviceRpc::default());
        let (tenant, device) = (TenantId::new("t"), DeviceId::new("d"));
        let silent = rpc.call(&tenant, &write(51.0), Duration::from_millis(50)).await;
        assert!(matches!(silent, Err(WriteError::NotWritable { .. })), "never polled: {silent:?}");
        assert_eq!(rpc.poll(&tenant, &device, Duration::from_millis(10)).await, None);
        let device_side = {
            let rpc = rpc.clone();
            let (tenant, device) = (tenant.clone(), device.clone());
            tokio::spawn(async move {
                let request = rpc.poll(&tenant, &device, Duration::from_secs(5)).await.expect("a request");
                assert_eq!(
                    (request.method.as_str(), request.params.clone()),
                    ("frequency_hz", serde_json::json!(51.0))
                );
                assert!(!rpc.reply(&tenant, &DeviceId::new("other"), request.id, b"1".to_vec()), "not its request");
                assert!(rpc.reply(&tenant, &device, request.id, br#"{"value": 51.0}"#.to_vec()));
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let outcome = rpc.call(&tenant, &write(51.0), Duration::from_secs(5)).await.expect("confirmed");
        assert_eq!((outcome.confirmed, outcome.read_back), (true, Some(51.0)));
        device_side.await.expect("device");
        // Polled, not answered: a timeout, and nothing left waiting.
        let ignored = {
            let rpc = rpc.clone();
            let (tenant, device) = (tenant.clone(), device.clone());
            tokio::spawn(async move { rpc.poll(&tenant, &device, Duration::from_secs(5)).await })
        };
        let timed_out = rpc.call(&tenant, &write(52.0), Duration::from_millis(100)).await;
        assert_eq!(timed_out, Err(WriteError::Timeout(100)));
        assert!(ignored.await.expect("poll").is_some());
        assert_eq!(rpc.poll(&tenant, &device, Duration::from_millis(10)).await, None);
    }
}
