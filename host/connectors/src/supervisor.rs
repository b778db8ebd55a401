//! The supervisor: runs each enabled connector in its own task, restarts
//! one that fails after a capped, jittered backoff, applies changed
//! settings at run time (stop, then start with the new ones), routes
//! setpoint writes to the connector that serves the device, and keeps each
//! connector's health. It is the services' `ConnectorRuntime` port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nexus_model::{
    Clock, Connector as Config, ConnectorId, ConnectorSettings, ConnectorState, ConnectorStatus, SetpointWrite,
    TenantId, WriteOutcome,
};
use nexus_services::{ConnectorRuntime, Services, WriteError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::backoff::HEALTHY_RUN;
use crate::{Backoff, Connector, Health, Link, NetworkPolicy, ServicesSink, WriteRequest, kafka, modbus, mqtt, opcua};

/// Setpoint writes that may wait for one connector.
const WRITE_QUEUE: usize = 64;
/// How long a stopping connector may take before its task is aborted.
const STOP_GRACE: Duration = Duration::from_secs(5);

type Key = (TenantId, ConnectorId);

/// Runs connectors.
pub struct Supervisor {
    services: Services,
    clock: Clock,
    policy: Arc<NetworkPolicy>,
    running: Mutex<HashMap<Key, Running>>,
}

struct Running {
    config: Config,
    health: Arc<Health>,
    control: Option<Control>,
}

/// A started connector's handles.
struct Control {
    stop: watch::Sender<bool>,
    writes: mpsc::Sender<WriteRequest>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervisor {
    /// A supervisor whose connectors deliver into `services` and reach only
    /// what `policy` allows.
    pub fn new(services: Services, clock: Clock, policy: NetworkPolicy) -> Arc<Self> {
        Arc::new(Self { services, clock, policy: Arc::new(policy), running: Mutex::default() })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Running>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn start(&self, config: &Config) -> Running {
        let health = Arc::new(Health::new(
            config.id.clone(),
            config.tenant_id.clone(),
            config.settings.kind(),
            self.clock.clone(),
        ));
        if !config.enabled {
            health.set_state(ConnectorState::Stopped);
            return Running { config: config.clone(), health, control: None };
        }
        let (stop, stop_rx) = watch::channel(false);
        let (writes, writes_rx) = mpsc::channel(WRITE_QUEUE);
        let link = Link {
            tenant: config.tenant_id.clone(),
            connector: config.id.clone(),
            sink: Arc::new(ServicesSink::new(self.services.clone(), config.tenant_id.clone())),
            health: health.clone(),
            clock: self.clock.clone(),
            stop: stop_rx,
            writes: writes_rx,
            policy: self.policy.clone(),
        };
        let connector = build(config);
        let task = tokio::spawn(supervise(connector, link));
        Running { config: config.clone(), health, control: Some(Control { stop, writes, task }) }
    }

    /// Stops every connector (the host is shutting down), waiting up to a
    /// grace period for each.
    pub async fn stop_all(&self) {
        let stopping: Vec<Running> = self.running().drain().map(|(_, running)| running).collect();
        for running in stopping {
            stop(running).await;
        }
    }
}

impl Drop for Supervisor {
    /// A supervisor dropped without `stop_all` (a server task aborted)
    /// still stops its connectors: their tasks hold the services.
    fn drop(&mut self) {
        for (_, running) in self.running().drain() {
            if let Some(control) = running.control {
                let _ = control.stop.send(true);
                control.task.abort();
            }
        }
    }
}

/// Builds the connector its settings describe.
fn build(config: &Config) -> Box<dyn Connector> {
    match &config.settings {
        ConnectorSettings::Mqtt(settings) => Box::new(mqtt::MqttConnector::new(config.id.clone(), settings.clone())),
        ConnectorSettings::Modbus(settings) => Box::new(modbus::ModbusConnector::new(settings.clone())),
        ConnectorSettings::Kafka(settings) => Box::new(kafka::KafkaConnector::new(config.id.clone(), settings.clone())),
        ConnectorSettings::OpcUa(settings) => Box::new(opcua::OpcUaConnector::new(config.id.clone(), settings.clone())),
    }
}

/// Whether a connector with these settings can write `parameter` of the
/// device: Modbus and OPC UA where the device lists the setpoint; MQTT for
/// any device (an RPC request on its topic); Kafka for none (it only
/// consumes).
fn serves(settings: &ConnectorSettings, write: &SetpointWrite) -> Option<u8> {
    match settings {
        ConnectorSettings::Modbus(modbus) => modbus
            .devices
            .iter()
            .any(|d| d.device_id == write.device_id && d.setpoints.iter().any(|s| s.parameter == write.parameter))
            .then_some(0),
        ConnectorSettings::OpcUa(opcua) => opcua
            .devices
            .iter()
            .any(|d| d.device_id == write.device_id && d.setpoints.iter().any(|s| s.parameter == write.parameter))
            .then_some(0),
        ConnectorSettings::Mqtt(_) => Some(1),
        ConnectorSettings::Kafka(_) => None,
    }
}

async fn stop(running: Running) {
    if let Some(control) = running.control {
        let _ = control.stop.send(true);
        let mut task = control.task;
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
    running.health.set_state(ConnectorState::Stopped);
}

/// Runs a connector until it is stopped: each failure is recorded and
/// followed by a backoff; writes that arrive meanwhile are answered at
/// once (the device cannot be reached now).
async fn supervise(mut connector: Box<dyn Connector>, mut link: Link) {
    let mut backoff = Backoff::new();
    while !link.stopping() {
        link.health.set_state(ConnectorState::Starting);
        let started = Instant::now();
        let Err(error) = connector.run(&mut link).await else { break };
        link.health.fault(error.code(), &error.to_string());
        link.health.restarted();
        link.health.set_state(ConnectorState::Backoff);
        if started.elapsed() >= HEALTHY_RUN {
            backoff.reset();
        }
        let wake = tokio::time::sleep(backoff.next_delay());
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                () = link.stopped() => break,
                Some(request) = link.writes.recv() => {
                    let outcome = Err(WriteError::Unreachable(format!("the connector is restarting after: {error}")));
                    crate::run_write(&link.health, request, outcome);
                }
            }
        }
    }
    link.health.set_state(ConnectorState::Stopped);
    link.writes.close();
    while let Some(request) = link.writes.recv().await {
        crate::run_write(&link.health, request, Err(WriteError::Unreachable("the connector stopped".into())));
    }
}

#[async_trait]
impl ConnectorRuntime for Supervisor {
    fn apply(&self, config: &Config) {
        let key = (config.tenant_id.clone(), config.id.clone());
        let mut running = self.running();
        if let Some(current) = running.get_mut(&key)
            && current.config.enabled == config.enabled
            && current.config.settings == config.settings
        {
            current.config = config.clone();
            return;
        }
        let old = running.remove(&key);
        let started = self.start(config);
        if let Some(old) = old {
            tokio::spawn(stop(old));
        }
        running.insert(key, started);
    }

    fn remove(&self, tenant: &TenantId, id: &ConnectorId) {
        if let Some(old) = self.running().remove(&(tenant.clone(), id.clone())) {
            tokio::spawn(stop(old));
        }
    }

    fn status(&self, tenant: &TenantId, id: &ConnectorId) -> Option<ConnectorStatus> {
        self.running().get(&(tenant.clone(), id.clone())).map(|running| running.health.status())
    }

    fn statuses(&self, tenant: Option<&TenantId>) -> Vec<ConnectorStatus> {
        let mut statuses: Vec<ConnectorStatus> = self
            .running()
            .iter()
            .filter(|((owner, _), _)| tenant.is_none_or(|t| t == owner))
            .map(|(_, running)| running.health.status())
            .collect();
        statuses.sort_by(|a, b| (&a.tenant_id, &a.connector_id).cmp(&(&b.tenant_id, &b.connector_id)));
        statuses
    }

    async fn write(&self, tenant: &TenantId, write: SetpointWrite) -> Result<WriteOutcome, WriteError> {
        let target = {
            let running = self.running();
            running
                .iter()
                .filter(|((owner, _), r)| owner == tenant && r.control.is_some())
                .filter_map(|(_, r)| serves(&r.config.settings, &write).map(|rank| (rank, r)))
                .min_by_key(|(rank, _)| *rank)
                .and_then(|(_, r)| r.control.as_ref().map(|c| c.writes.clone()))
        };
        let not_writable =
            || WriteError::NotWritable { device: write.device_id.clone(), parameter: write.parameter.clone() };
        let Some(writes) = target else { return Err(not_writable()) };
        let (reply, answer) = oneshot::channel();
        writes
            .send(WriteRequest { write: write.clone(), reply })
            .await
            .map_err(|_| WriteError::Unreachable("the connector stopped".into()))?;
        answer.await.map_err(|_| WriteError::Unreachable("the connector stopped before answering".into()))?
    }
}
