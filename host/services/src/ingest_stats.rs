//! What became of each tenant's frames since the host started: readings
//! stored, and frames by outcome (`/metrics`' `nexus_ingest_points_total`
//! and `nexus_ingest_frames_total`).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use nexus_model::TenantId;
use serde::Serialize;

use crate::ServiceError;

/// One tenant's ingest counters since the host started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantIngest {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Readings stored.
    pub points: u64,
    /// Frames answered with their report (readings stored, if any).
    pub stored: u64,
    /// Frames refused for what they are or for their plugins: the decoder
    /// rejected or faulted on them, no decoder bound, a quarantine, a quota
    /// (kept as dead letters where the refusal says so).
    pub rejected: u64,
    /// Frames the host failed: storage unavailable, no call capacity, an
    /// internal error.
    pub failed: u64,
    /// Frames refused at once because the tenant's ingest queue was full.
    pub overloaded: u64,
}

impl TenantIngest {
    /// The frame counts by outcome label: `stored`, `rejected`, `failed`,
    /// `overloaded`.
    pub fn outcomes(&self) -> [(&'static str, u64); 4] {
        [("stored", self.stored), ("rejected", self.rejected), ("failed", self.failed), ("overloaded", self.overloaded)]
    }
}

/// The counters behind one tenant's [`TenantIngest`].
#[derive(Default)]
pub(crate) struct TenantCounters {
    points: AtomicU64,
    stored: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    overloaded: AtomicU64,
}

impl TenantCounters {
    /// A frame answered with its report of `points` stored readings.
    pub(crate) fn stored(&self, points: usize) {
        self.stored.fetch_add(1, Relaxed);
        self.points.fetch_add(points as u64, Relaxed);
    }

    /// A frame answered with `error`.
    pub(crate) fn failed(&self, error: &ServiceError) {
        let counter = match error {
            ServiceError::Overloaded { .. } => &self.overloaded,
            ServiceError::Unavailable(_) | ServiceError::Internal(_) | ServiceError::CapacityExhausted { .. } => {
                &self.failed
            }
            _ => &self.rejected,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self, tenant: &TenantId) -> TenantIngest {
        TenantIngest {
            tenant_id: tenant.clone(),
            points: self.points.load(Relaxed),
            stored: self.stored.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            failed: self.failed.load(Relaxed),
            overloaded: self.overloaded.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_sort_errors_by_whose_they_are() {
        let counters = TenantCounters::default();
        counters.stored(3);
        counters.stored(0);
        counters.failed(&ServiceError::Overloaded { queued: 1, retry_after_s: 1 });
        counters.failed(&ServiceError::Unavailable("disk".into()));
        counters.failed(&ServiceError::Rejected { code: "bad".into(), message: "no".into() });
        counters.failed(&ServiceError::NoDecoder("d".into()));
        let stats = counters.snapshot(&TenantId::new("t"));
        assert_eq!(stats.points, 3);
        assert_eq!(stats.outcomes(), [("stored", 2), ("rejected", 2), ("failed", 1), ("overloaded", 1)]);
    }
}
