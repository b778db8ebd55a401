//! Runs of scheduled bindings: each run (by the schedule or by hand) is
//! kept with its progress — devices (or wellpads) done of all, the
//! recommendations and forecasts it stored — and can be cancelled; a run
//! also stops at its budget ([`crate::ServicesConfig::run_budget`]). A run
//! stops between devices, never inside a call: what a device's unit of
//! work committed stays. Runs live in memory (the newest [`KEPT`] per host).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nexus_model::{BindingId, RunId, TenantId, TimestampMs};
use serde::Serialize;

use crate::{OptimizerService, Result, ServiceError};

/// Runs kept per host.
pub const KEPT: usize = 200;

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Every device (or wellpad) was run.
    Done,
    /// Cancelled before its end.
    Cancelled,
    /// Stopped at its budget.
    OverBudget,
    /// Storage failed under it.
    Failed,
}

/// What a run did so far.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Id.
    pub id: RunId,
    /// The binding.
    pub binding_id: BindingId,
    /// `schedule` or `manual`.
    pub trigger: &'static str,
    /// Status.
    pub status: RunStatus,
    /// Devices (or wellpads) run of all.
    pub done: u64,
    /// Devices (or wellpads) to run.
    pub total: u64,
    /// `done / total` (1 when there is nothing to run).
    pub progress: f64,
    /// Recommendations (or forecasts) stored.
    pub stored: u64,
    /// When it started, ms.
    pub started_at: TimestampMs,
    /// When it ended, ms.
    pub finished_at: Option<TimestampMs>,
    /// Why it stopped early, if it did.
    pub reason: Option<String>,
}

/// One run as it goes.
pub(crate) struct RunEntry {
    id: RunId,
    tenant: TenantId,
    binding_id: BindingId,
    trigger: &'static str,
    started_at: TimestampMs,
    deadline: TimestampMs,
    total: AtomicU64,
    done: AtomicU64,
    stored: AtomicU64,
    cancel: AtomicBool,
    end: Mutex<Option<(RunStatus, TimestampMs, Option<String>)>>,
}

impl RunEntry {
    /// Sets how many units the run has.
    pub(crate) fn set_total(&self, total: usize) {
        self.total.store(total as u64, Ordering::Relaxed);
    }

    /// Counts a unit run and what it stored.
    pub(crate) fn advance(&self, stored: usize) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.stored.fetch_add(stored as u64, Ordering::Relaxed);
    }

    /// Why the run must stop before its next unit, if it must.
    pub(crate) fn stop(&self, now: TimestampMs) -> Option<(RunStatus, String)> {
        if self.cancel.load(Ordering::Relaxed) {
            return Some((RunStatus::Cancelled, "cancelled".into()));
        }
        (now >= self.deadline)
            .then(|| (RunStatus::OverBudget, format!("over its budget of {} ms", self.deadline - self.started_at)))
    }

    /// Ends the run (once).
    pub(crate) fn finish(&self, status: RunStatus, now: TimestampMs, reason: Option<String>) {
        let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
        end.get_or_insert((status, now, reason));
    }

    fn view(&self) -> Run {
        let end = self.end.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (done, total) = (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
        Run {
            id: self.id.clone(),
            binding_id: self.binding_id.clone(),
            trigger: self.trigger,
            status: end.as_ref().map_or(RunStatus::Running, |e| e.0),
            done,
            total,
            progress: if total == 0 { 1.0 } else { done as f64 / total as f64 },
            stored: self.stored.load(Ordering::Relaxed),
            started_at: self.started_at,
            finished_at: end.as_ref().map(|e| e.1),
            reason: end.and_then(|e| e.2),
        }
    }
}

/// The runs of this host, newest last.
#[derive(Default)]
pub(crate) struct Runs(Mutex<VecDeque<Arc<RunEntry>>>);

impl Runs {
    /// Starts a run of a binding with a budget.
    pub(crate) fn start(
        &self,
        tenant: &TenantId,
        binding_id: &BindingId,
        trigger: &'static str,
        now: TimestampMs,
        budget_ms: i64,
    ) -> Arc<RunEntry> {
        let entry = Arc::new(RunEntry {
            id: RunId::random(),
            tenant: tenant.clone(),
            binding_id: binding_id.clone(),
            trigger,
            started_at: now,
            deadline: now.saturating_add(budget_ms),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            end: Mutex::new(None),
        });
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.push_back(entry.clone());
        while all.len() > KEPT {
            all.pop_front();
        }
        entry
    }

    fn find(&self, tenant: &TenantId, id: &RunId) -> Option<Arc<RunEntry>> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().find(|r| r.id == *id && r.tenant == *tenant).cloned()
    }
}

impl OptimizerService {
    /// The tenant's runs kept on this host, newest first; of one binding
    /// when given.
    pub fn runs(&self, tenant: &TenantId, binding: Option<&BindingId>) -> Vec<Run> {
        let all = self.0.runs.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .rev()
            .filter(|r| r.tenant == *tenant && binding.is_none_or(|b| r.binding_id == *b))
            .map(|r| r.view())
            .collect()
    }

    /// A run of the tenant.
    pub fn run_status(&self, tenant: &TenantId, id: &RunId) -> Result<Run> {
        self.0.runs.find(tenant, id).map(|r| r.view()).ok_or_else(|| not_found(id))
    }

    /// Cancels a running run: it stops before its next device; what it
    /// stored stays. A run that ended is a conflict.
    pub fn cancel_run(&self, tenant: &TenantId, id: &RunId) -> Result<Run> {
        let entry = self.0.runs.find(tenant, id).ok_or_else(|| not_found(id))?;
        if entry.view().status != RunStatus::Running {
            return Err(ServiceError::Conflict(format!("run `{id}` has ended")));
        }
        entry.cancel.store(true, Ordering::Relaxed);
        Ok(entry.view())
    }
}

fn not_found(id: &RunId) -> ServiceError {
    ServiceError::NotFound { what: "run", id: id.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stops_when_cancelled_or_over_budget_and_ends_once() {
        let runs = Runs::default();
        let (tenant, binding) = (TenantId::new("t"), BindingId::new("b"));
        let run = runs.start(&tenant, &binding, "manual", 1_000, 500);
        run.set_total(4);
        assert_eq!(run.stop(1_499), None);
        assert_eq!(run.stop(1_500).map(|s| s.0), Some(RunStatus::OverBudget));
        run.advance(2);
        run.cancel.store(true, Ordering::Relaxed);
        assert_eq!(run.stop(1_001).map(|s| s.0), Some(RunStatus::Cancelled));
        run.finish(RunStatus::Cancelled, 1_002, Some("cancelled".into()));
        run.finish(RunStatus::Done, 1_003, None);
        let view = run.view();
        assert_eq!(
            (view.status, view.done, view.total, view.stored, view.finished_at),
            (RunStatus::Cancelled, 1, 4, 2, Some(1_002))
        );
        assert!((view.progress - 0.25).abs() < 1e-12);
        assert!(runs.find(&TenantId::new("other"), &view.id).is_none(), "runs stay in their tenant");
    }
}
