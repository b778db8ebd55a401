//! Connectors: the tenant's configured links to its field, stored through
//! the storage port and run by the [`ConnectorRuntime`] port (the
//! `nexus-connectors` supervisor, attached by the binary). A saved change
//! is applied at once: a new or re-enabled connector starts, a changed one
//! restarts with its new settings, a disabled or deleted one stops.
//!
//! Setpoint writes go out through the runtime too: the running connector
//! that serves the device writes and confirms the value.

use std::sync::Arc;

use async_trait::async_trait;
use nexus_model::{
    Actor, Connector, ConnectorId, ConnectorSettings, ConnectorStatus, Page, REDACTED, SetpointWrite,
    SetpointWriteRecord, TenantId, WriteOutcome,
};
use nexus_storage::Effects;

use crate::{Inner, Result, ServiceError};

mod settings;

pub(crate) use settings::parameter;

pub use settings::{
    MAX_MODBUS_DEVICES, MAX_OPCUA_DEVICES, MAX_OPCUA_NODES, MIN_POLL_MS, kafka_brokers, mqtt_peer, opcua_peer,
    valid_node_id,
};

/// What runs connectors: implemented by the `nexus-connectors` supervisor.
#[async_trait]
pub trait ConnectorRuntime: Send + Sync {
    /// Starts `connector` if it is enabled and not running, restarts it when
    /// its settings changed, stops it when it is disabled.
    fn apply(&self, connector: &Connector);
    /// Stops a connector and forgets it.
    fn remove(&self, tenant: &TenantId, id: &ConnectorId);
    /// The health of one connector, if it has run since the host started.
    fn status(&self, tenant: &TenantId, id: &ConnectorId) -> Option<ConnectorStatus>;
    /// The health of every connector the runtime knows, of one tenant or
    /// of all.
    fn statuses(&self, tenant: Option<&TenantId>) -> Vec<ConnectorStatus>;
    /// Writes a setpoint through the tenant's running connector that
    /// serves the device, and waits for the device to confirm it.
    async fn write(&self, tenant: &TenantId, write: SetpointWrite) -> std::result::Result<WriteOutcome, WriteError>;
}

/// Why a setpoint write failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// No running connector of the tenant can write this device's setpoint.
    #[error("no running connector can write `{parameter}` of device `{device}`")]
    NotWritable {
        /// The device.
        device: nexus_model::DeviceId,
        /// The setpoint.
        parameter: String,
    },
    /// The value does not fit the register type.
    #[error("{0}")]
    OutOfRange(String),
    /// The device refused it (a Modbus exception, an RPC error).
    #[error("the device refused the write: {0}")]
    Refused(String),
    /// The device did not answer or confirm in time.
    #[error("the device did not confirm within {0} ms")]
    Timeout(u64),
    /// The device could not be reached.
    #[error("the device is unreachable: {0}")]
    Unreachable(String),
    /// The change breaks a limit of the setpoint (range, step, interval);
    /// nothing was sent to the device.
    #[error("interlock: {0}")]
    Interlock(String),
}

impl WriteError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotWritable { .. } => "not-writable",
            Self::OutOfRange(_) => "out-of-range",
            Self::Refused(_) => "write-refused",
            Self::Timeout(_) => "write-timeout",
            Self::Unreachable(_) => "device-unreachable",
            Self::Interlock(_) => "setpoint-interlock",
        }
    }
}

/// A connector as asked for (create or replace).
#[derive(Debug, Clone)]
pub struct ConnectorRequest {
    /// A name, unique in the tenant.
    pub name: String,
    /// Whether the host runs it.
    pub enabled: bool,
    /// Where it connects and what it reads. On replace, a password of
    /// `"********"` keeps the stored one.
    pub settings: ConnectorSettings,
}

/// Connectors. Cheap to clone.
#[derive(Clone)]
pub struct ConnectorService(pub(crate) Arc<Inner>);

impl ConnectorService {
    /// Attaches the runtime that runs connectors (once; later calls are
    /// ignored) and starts every enabled connector of every tenant. The
    /// services keep only a weak reference: the caller owns the runtime
    /// (it holds the services, and a strong reference back would keep both
    /// alive forever).
    pub async fn attach(&self, runtime: Arc<dyn ConnectorRuntime>) -> Result<usize> {
        if self.0.connectors.set(Arc::downgrade(&runtime)).is_err() {
            return Ok(0);
        }
        let enabled = self.0.store.enabled_connectors().await?;
        for connector in &enabled {
            runtime.apply(connector);
        }
        Ok(enabled.len())
    }

    fn runtime(&self) -> Option<Arc<dyn ConnectorRuntime>> {
        self.0.connectors.get().and_then(std::sync::Weak::upgrade)
    }

    /// Creates a connector; an enabled one starts at once.
    pub async fn create(&self, tenant: &TenantId, request: ConnectorRequest, by: &Actor) -> Result<Connector> {
        let now = self.0.now();
        let connector = Connector {
            id: ConnectorId::random(),
            tenant_id: tenant.clone(),
            name: settings::name(&request.name)?,
            enabled: request.enabled,
            settings: settings::check(request.settings, None)?,
            created_time: now,
            updated_time: now,
        };
        let stored = self.0.store.insert_connector(&connector, by).await?;
        if let Some(runtime) = self.runtime() {
            runtime.apply(&stored);
        }
        Ok(stored)
    }

    /// Replaces a connector's name, enabled flag and settings; the running
    /// connector restarts with them (or stops, when disabled).
    pub async fn replace(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
        request: ConnectorRequest,
        by: &Actor,
    ) -> Result<Connector> {
        let current = self.0.store.connector(tenant, id).await?;
        let connector = Connector {
            name: settings::name(&request.name)?,
            enabled: request.enabled,
            settings: settings::check(request.settings, Some(&current.settings))?,
            updated_time: self.0.now(),
            ..current
        };
        let stored = self.0.store.update_connector(&connector, by).await?;
        if let Some(runtime) = self.runtime() {
            runtime.apply(&stored);
        }
        Ok(stored)
    }

    /// A connector of the tenant.
    pub async fn get(&self, tenant: &TenantId, id: &ConnectorId) -> Result<Connector> {
        Ok(self.0.store.connector(tenant, id).await?)
    }

    /// A page of the tenant's connectors, by name.
    pub async fn list(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Connector>> {
        Ok(self.0.store.connectors(tenant, page).await?)
    }

    /// Deletes a connector; it stops first.
    pub async fn delete(&self, tenant: &TenantId, id: &ConnectorId, by: &Actor) -> Result<()> {
        self.0.store.delete_connector(tenant, id, by, self.0.now()).await?;
        if let Some(runtime) = self.runtime() {
            runtime.remove(tenant, id);
        }
        Ok(())
    }

    /// A connector's health, if it has run since the host started.
    pub fn status(&self, tenant: &TenantId, id: &ConnectorId) -> Option<ConnectorStatus> {
        self.runtime().and_then(|runtime| runtime.status(tenant, id))
    }

    /// The health of the tenant's connectors (of every tenant's: `None`).
    pub fn statuses(&self, tenant: Option<&TenantId>) -> Vec<ConnectorStatus> {
        self.runtime().map(|runtime| runtime.statuses(tenant)).unwrap_or_default()
    }

    /// Writes a setpoint to a device of the tenant through the connector
    /// that serves it, and waits for the device to confirm it. A setpoint
    /// with limits is checked first (range, step from the current value,
    /// interval since it last changed): a change that breaks one is refused
    /// (`setpoint-interlock`) and recorded, and nothing reaches the device.
    /// A device no connector serves is written through the device API's RPC
    /// when it polls for requests ([`crate::DeviceRpc`]).
    /// A confirmed write sets the setpoint's value in the same commit as
    /// its record.
    pub async fn write_setpoint(&self, tenant: &TenantId, write: SetpointWrite) -> Result<WriteOutcome> {
        self.0.store.device(tenant, &write.device_id).await?;
        if !write.value.is_finite() {
            return Err(ServiceError::Invalid(format!("setpoint value {} is not a finite number", write.value)));
        }
        settings::parameter(&write.parameter)?;
        let turn = {
            let mut turns = self.0.setpoint_turns.lock().unwrap_or_else(|e| e.into_inner());
            turns.retain(|_, lock| Arc::strong_count(lock) > 1);
            turns.entry((tenant.clone(), write.device_id.clone())).or_default().clone()
        };
        let _turn = turn.lock().await;
        let now = self.0.now();
        let current = self.0.store.setpoints(tenant, &write.device_id).await?;
        let interlock = current
            .iter()
            .find(|s| s.parameter == write.parameter)
            .and_then(|s| crate::setpoints::check_change(s, write.value, now).err());
        let listening = self.0.rpc.listening(tenant, &write.device_id);
        let result = match (interlock, self.runtime()) {
            (Some(reason), _) => Err(WriteError::Interlock(reason)),
            (None, None) if !listening => {
                return Err(WriteError::NotWritable { device: write.device_id, parameter: write.parameter }.into());
            }
            (None, runtime) => {
                let by_connector = match runtime {
                    Some(runtime) => runtime.write(tenant, write.clone()).await,
                    None => Err(WriteError::NotWritable {
                        device: write.device_id.clone(),
                        parameter: write.parameter.clone(),
                    }),
                };
                // No connector serves it: the device API's RPC, if the
                // device polls for requests.
                match by_connector {
                    Err(WriteError::NotWritable { .. }) if listening => {
                        self.0.rpc.call(tenant, &write, self.0.config.approvals.rpc_timeout).await
                    }
                    other => other,
                }
            }
        };
        // Recorded with its outcome, whatever it was (an outbox event:
        // `/api/events`, the live stream, Kafka's `po.setpoint-changes`).
        let record = SetpointWriteRecord {
            write,
            outcome: result.as_ref().ok().cloned(),
            error_code: result.as_ref().err().map(|e| e.code().to_string()),
            error: result.as_ref().err().map(ToString::to_string),
        };
        let mut effects = Effects::new(tenant, self.0.now());
        effects.setpoint_writes.push(record);
        self.0.commit(effects).await?;
        Ok(result?)
    }
}

/// Whether `password` asks to keep the stored one.
pub(crate) fn keeps_secret(password: Option<&str>) -> bool {
    password == Some(REDACTED)
}
