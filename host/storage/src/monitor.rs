//! What the host observes of its store: whether the database answers, its
//! connection pools, and the tenant gauges `/metrics` reports (wells that
//! report, open alarms by severity) and a well's last report. Reads only;
//! every tenant read takes the tenant.

use async_trait::async_trait;
use nexus_model::{DeviceId, Severity, TenantId, TimestampMs, WellId};

use crate::Result;

/// One connection pool of the backend, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool, e.g. `read` or `write`.
    pub pool: &'static str,
    /// Connections open and idle.
    pub idle: u32,
    /// Connections open and lent out.
    pub in_use: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

/// The store as the host's monitoring sees it.
#[async_trait]
pub trait MonitorStore: Send + Sync {
    /// Whether the database answers: `Ok` when a trivial read succeeds on
    /// the backend's own connections and the database can be opened and
    /// read afresh (a database file gone, or a server gone, shows here even
    /// while open connections still answer from what they hold).
    async fn ping(&self) -> Result<()>;

    /// The backend's connection pools (an embedded backend with one
    /// connection reports that one).
    fn pools(&self) -> Vec<PoolStats>;

    /// How many of the tenant's wells have a device whose newest stored
    /// reading of some key is stamped at or after `since`.
    async fn wells_reporting(&self, tenant: &TenantId, since: TimestampMs) -> Result<u64>;

    /// A well's last report: the newest latest value of any of its devices
    /// (when, and which device; the lowest device id on a tie), `None`
    /// before the first, or when the well is not the tenant's.
    async fn well_last_report(&self, tenant: &TenantId, well: &WellId) -> Result<Option<(TimestampMs, DeviceId)>>;

    /// The tenant's open alarms (`ACTIVE_UNACK`, `ACTIVE_ACK`) per severity;
    /// severities without one are left out.
    async fn open_alarms_by_severity(&self, tenant: &TenantId) -> Result<Vec<(Severity, u64)>>;
}
