//! What operations see: readiness (is every dependency of serving usable
//! now?) and the monitoring snapshot `/metrics` renders — per tenant its
//! wells monitored, open alarms, ingest counters and plugin counters, and
//! for the whole host its connection pools, outbox lag and batch counters.

use std::sync::Arc;
use std::time::Duration;

use nexus_model::{Page, Severity, TenantId};
use nexus_storage::PoolStats;
use serde::Serialize;

use crate::{BindingMetrics, IngestStats, Inner, Result, TenantIngest, blocking};

/// A well is monitored while one of its devices has a stored reading
/// stamped within this long before now (the host's clock).
pub const MONITORED_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long one readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "error", rename_all = "kebab-case")]
pub enum CheckState {
    /// Usable.
    Ok,
    /// Nothing to check: the host is configured without it.
    NotConfigured,
    /// Not usable, and why.
    Failed(String),
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `database`, `compile-cache`, `broker`.
    pub name: &'static str,
    /// How it went.
    #[serde(flatten)]
    pub state: CheckState,
}

/// Every readiness check, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Readiness {
    /// Ready when no check failed.
    pub fn is_ready(&self) -> bool {
        !self.checks.iter().any(|c| matches!(c.state, CheckState::Failed(_)))
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| matches!(c.state, CheckState::Failed(_)))
    }
}

/// One tenant's gauges and counters.
#[derive(Debug, Clone)]
pub struct TenantGauges {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Wells with a device that reported within [`MONITORED_WINDOW`].
    pub wells_monitored: u64,
    /// Open alarms per severity, every severity listed (most severe first).
    pub open_alarms: Vec<(Severity, u64)>,
    /// Frames and readings since the host started.
    pub ingest: TenantIngest,
    /// Per-binding plugin counters since the host started.
    pub bindings: Vec<BindingMetrics>,
}

/// What belongs to the whole host, not to a tenant.
#[derive(Debug, Clone)]
pub struct HostGauges {
    /// The store's connection pools.
    pub pools: Vec<PoolStats>,
    /// How far each running outbox subscriber is behind, by name.
    pub outbox_lag: Vec<(String, u64)>,
    /// The ingest path's batch counters.
    pub ingest: IngestStats,
    /// Latest-value writes the hot cache skipped (queue full or cache down).
    pub hot_cache_skipped: u64,
    /// Device commits the telemetry taps skipped (queue full or delivery
    /// failed).
    pub telemetry_tap_skipped: u64,
}

/// What `/metrics` reports: tenants' series, and the host's when the whole
/// host was asked for.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// One entry per tenant in scope.
    pub tenants: Vec<TenantGauges>,
    /// The host's own series (`None` for a tenant's snapshot).
    pub host: Option<HostGauges>,
}

/// Readiness and monitoring. Cheap to clone.
#[derive(Clone)]
pub struct MonitorService(pub(crate) Arc<Inner>);

impl MonitorService {
    /// Checks the database (a ping through the store, [`CHECK_TIMEOUT`]),
    /// the compile cache (a file written and removed in its directory) and
    /// the brokers (none is configured: the host reads no broker settings
    /// yet, so `not-configured`).
    pub async fn readiness(&self) -> Readiness {
        let store = self.0.store.clone();
        let database = bounded(async move { store.ping().await.map_err(|e| e.to_string()) }).await;
        let runtime = self.0.runtime.clone();
        let compile_cache = if runtime.cache_dir().is_none() {
            CheckState::NotConfigured
        } else {
            bounded(async move {
                blocking(move || runtime.check_cache().map_err(|e| e.to_string())).await.map_err(|e| e.to_string())?
            })
            .await
        };
        Readiness {
            checks: vec![
                Check { name: "database", state: database },
                Check { name: "compile-cache", state: compile_cache },
                Check { name: "broker", state: CheckState::NotConfigured },
            ],
        }
    }

    /// The series of one tenant (`Some`), or of every tenant and the host
    /// (`None`: the system administrator's view).
    pub async fn snapshot(&self, tenant: Option<&TenantId>) -> Result<Snapshot> {
        let tenants = match tenant {
            Some(tenant) => vec![tenant.clone()],
            None => self.0.store.tenants(&Page::all()).await?.into_iter().map(|t| t.id).collect(),
        };
        let since = self.0.now() - i64::try_from(MONITORED_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let mut gauges = Vec::with_capacity(tenants.len());
        for tenant_id in tenants {
            let wells_monitored = self.0.store.wells_reporting(&tenant_id, since).await?;
            let open = self.0.store.open_alarms_by_severity(&tenant_id).await?;
            let open_alarms = Severity::ALL
                .into_iter()
                .map(|s| (s, open.iter().find(|(o, _)| *o == s).map_or(0, |(_, n)| *n)))
                .collect();
            gauges.push(TenantGauges {
                ingest: crate::IngestService(self.0.clone()).tenant_stats(&tenant_id),
                bindings: self.0.meters.of_tenant(&tenant_id),
                wells_monitored,
                open_alarms,
                tenant_id,
            });
        }
        let host = match tenant {
            Some(_) => None,
            None => Some(HostGauges {
                pools: self.0.store.pools(),
                outbox_lag: crate::OutboxService(self.0.clone()).lag().await?,
                ingest: crate::IngestService(self.0.clone()).stats(),
                hot_cache_skipped: self.0.hot.get().map_or(0, |hot| hot.skipped()),
                telemetry_tap_skipped: self.0.taps.skipped(),
            }),
        };
        Ok(Snapshot { tenants: gauges, host })
    }
}

/// A check's future, failed when it takes longer than [`CHECK_TIMEOUT`].
async fn bounded(check: impl Future<Output = std::result::Result<(), String>>) -> CheckState {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => CheckState::Ok,
        Ok(Err(error)) => CheckState::Failed(error),
        Err(_) => CheckState::Failed(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    }
}
