//! The Modbus TCP connector: one task per slave, each with its own TCP
//! connection and its own poll schedule, so a slow or dead slave never
//! delays another. Each cycle reads the slave's register blocks (FC03 or
//! FC04), one frame per block, for the device's decoder; setpoint writes
//! (FC06/FC16 and a read-back) go to the slave's task and use its
//! connection between polls.
//!
//! - [`slave`]: a slave's task (connect, poll, reconnect with backoff).
//! - [`read`]: one block read and its frame; how errors are classified.
//! - [`setpoint`]: a setpoint's register encoding and its write.

mod read;
mod setpoint;
mod slave;

use std::collections::HashMap;
use std::time::Instant;

use async_trait::async_trait;
use nexus_model::{ConnectorState, DeviceId, ModbusSettings};
use nexus_services::WriteError;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::{Connector, ConnectorError, Link, WriteRequest, run_write};

/// Writes that may wait for one slave (between two of its polls).
const SLAVE_WRITE_QUEUE: usize = 16;

/// A write on its way to its slave's task, with when it was taken (its
/// `elapsed_ms` counts the wait for the slave's current cycle).
pub(crate) struct Routed {
    taken: Instant,
    request: WriteRequest,
}

/// A Modbus TCP connector.
pub struct ModbusConnector {
    settings: ModbusSettings,
}

impl ModbusConnector {
    /// A connector with these settings.
    pub fn new(settings: ModbusSettings) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl Connector for ModbusConnector {
    /// Starts one task per slave and routes setpoint writes to them until
    /// the link says stop. Per-slave problems (a refused connection, a
    /// timeout, an exception, a bad reply) are the slave's task's to report
    /// and ride out: this never returns `Err`.
    async fn run(&mut self, link: &mut Link) -> Result<(), ConnectorError> {
        let mut tasks = JoinSet::new();
        let mut routes: HashMap<DeviceId, mpsc::Sender<Routed>> = HashMap::new();
        for device in &self.settings.devices {
            let (writes, writes_rx) = mpsc::channel(SLAVE_WRITE_QUEUE);
            routes.insert(device.device_id.clone(), writes);
            let slave = slave::Slave {
                device: device.clone(),
                connector: link.connector.clone(),
                sink: link.sink.clone(),
                health: link.health.clone(),
                clock: link.clock.clone(),
                stop: link.stop.clone(),
                writes: writes_rx,
                policy: link.policy.clone(),
            };
            tasks.spawn(slave.run());
        }
        link.health.set_state(ConnectorState::Running);
        let stopped = link.stopped();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                () = &mut stopped => break,
                Some(request) = link.writes.recv() => route(link, &routes, request),
            }
        }
        // Each task sees the stop too and ends after its current request
        // (bounded by its timeout); the supervisor aborts past its grace.
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// Hands a write to its slave's task, or answers it at once when no slave
/// of this connector is that device or its queue is full.
fn route(link: &Link, routes: &HashMap<DeviceId, mpsc::Sender<Routed>>, request: WriteRequest) {
    let Some(writes) = routes.get(&request.write.device_id) else {
        let error = WriteError::NotWritable {
            device: request.write.device_id.clone(),
            parameter: request.write.parameter.clone(),
        };
        return run_write(&link.health, request, Err(error));
    };
    if let Err(error) = writes.try_send(Routed { taken: Instant::now(), request }) {
        let (Routed { request, .. }, why) = match error {
            mpsc::error::TrySendError::Full(routed) => (routed, "too many writes are waiting for this slave"),
            mpsc::error::TrySendError::Closed(routed) => (routed, "the slave's task has ended"),
        };
        run_write(&link.health, request, Err(WriteError::Unreachable(why.into())));
    }
}
