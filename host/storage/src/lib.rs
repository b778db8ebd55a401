//! # nexus-storage
//!
//! The storage ports, and nothing that knows SQL: narrow async traits per
//! aggregate ([`EntityStore`], [`PluginStore`], [`StateStore`],
//! [`TelemetryStore`], [`AlarmStore`], [`RecordStore`], [`OutboxStore`],
//! [`IdentityStore`], [`MonitorStore`], [`NotificationStore`],
//! [`ReleaseStore`]),
//! the one write path of the telemetry plane ([`UnitOfWork::commit`] of
//! [`Effects`]), and [`Store`], all of them, which the services are given.
//!
//! Domain decisions are not here: the alarm lifecycle is
//! `nexus_model::lifecycle`, and which changes become events is
//! [`outbox_events`]. A backend persists what those return.
//!
//! [`conformance`] is the shared suite every backend must pass (SQLite and
//! PostgreSQL); it is the only storage test a new backend needs.

pub mod conformance;
mod connectors;
mod effects;
mod error;
mod identity;
mod monitor;
mod notifications;
mod ports;
mod releases;
mod rollouts;
mod signals;

pub use connectors::{ConnectorStore, connector_event, connector_settings};
pub use effects::{
    Committed, DeviceSeries, Effects, ForecastWrite, NewBinding, NewDevice, NewPlugin, NewRecommendation, NewWell,
    OperatorOutcome, Quarantine, SignalWrite, StateWrite, UsageDelta, entity_event, last_state_writes, outbox_events,
};
pub use error::StorageError;
pub use identity::{AuditQuery, IdentityStore, NewApiKey, NewAuditEntry, NewUser, Refreshed};
pub use monitor::{MonitorStore, PoolStats};
pub use notifications::{NewDelivery, NotificationStore};
pub use ports::{
    AlarmStore, EntityStore, Expired, ForecastStore, OutboxStore, PluginStore, RecommendationStore, RecordStore,
    SetpointStore, StateStore, Store, TelemetryStore, UnitOfWork, WellTestStore,
};
pub use releases::{BindingMove, Installed, ReleaseStore, Retirement, retirement_events, revoked_reason};
pub use rollouts::RolloutChange;
pub use signals::{AlarmRows, Homes, apply_signals, propagating_devices, signalled_pairs};

/// Storage results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
