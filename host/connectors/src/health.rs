//! A connector's health: its state, its counters since the host started,
//! per-device error counts and the last problems with their reasons —
//! what `/api/connectors` and `/metrics` show.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use nexus_model::{
    ConnectorId, ConnectorKind, ConnectorProblem as Problem, ConnectorState, ConnectorStatus, PartitionLag,
    SetpointWrite, TenantId, TimestampMs, WriteOutcome,
};
use nexus_services::{IngestReport, WriteError};

/// Problems kept per connector (the most recent).
const PROBLEMS_KEPT: usize = 32;

/// A connector's live health. Shared by the supervisor and the connector.
#[derive(Debug)]
pub struct Health {
    connector: ConnectorId,
    tenant: TenantId,
    kind: ConnectorKind,
    clock: nexus_model::Clock,
    state: Mutex<(ConnectorState, TimestampMs)>,
    restarts: AtomicU64,
    frames: AtomicU64,
    readings: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    writes_ok: AtomicU64,
    writes_failed: AtomicU64,
    last_frame: Mutex<Option<TimestampMs>>,
    device_errors: Mutex<BTreeMap<String, u64>>,
    problems: Mutex<VecDeque<Problem>>,
    lag: Mutex<Vec<PartitionLag>>,
}

impl Health {
    /// A fresh health record, starting.
    pub fn new(connector: ConnectorId, tenant: TenantId, kind: ConnectorKind, clock: nexus_model::Clock) -> Self {
        let now = clock.now();
        Self {
            connector,
            tenant,
            kind,
            clock,
            state: Mutex::new((ConnectorState::Starting, now)),
            restarts: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            readings: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            writes_ok: AtomicU64::new(0),
            writes_failed: AtomicU64::new(0),
            last_frame: Mutex::new(None),
            device_errors: Mutex::default(),
            problems: Mutex::default(),
            lag: Mutex::default(),
        }
    }

    /// Moves to `state` (the time is kept only when it changes).
    pub fn set_state(&self, state: ConnectorState) {
        let mut current = lock(&self.state);
        if current.0 != state {
            *current = (state, self.clock.now());
        }
    }

    /// The current state.
    pub fn state(&self) -> ConnectorState {
        lock(&self.state).0
    }

    /// A restart after a fault.
    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Relaxed);
    }

    /// A frame was stored.
    pub fn frame_stored(&self, report: &IngestReport) {
        self.frames.fetch_add(1, Relaxed);
        self.readings.fetch_add(report.accepted as u64, Relaxed);
        *lock(&self.last_frame) = Some(self.clock.now());
    }

    /// A frame was refused, for `reason`.
    pub fn frame_refused(&self, device: Option<&str>, code: &str, reason: &str) {
        self.refused.fetch_add(1, Relaxed);
        self.problem(device, code, reason);
    }

    /// A protocol or device error (the connector goes on).
    pub fn error(&self, device: Option<&str>, code: &str, reason: &str) {
        self.errors.fetch_add(1, Relaxed);
        if let Some(device) = device {
            *lock(&self.device_errors).entry(device.to_string()).or_default() += 1;
        }
        self.problem(device, code, reason);
    }

    /// A fault that ended a run (the supervisor restarts it).
    pub fn fault(&self, code: &str, reason: &str) {
        self.problem(None, code, reason);
    }

    /// A setpoint write ended.
    pub fn write_done(&self, write: &SetpointWrite, outcome: &Result<WriteOutcome, WriteError>) {
        match outcome {
            Ok(_) => {
                self.writes_ok.fetch_add(1, Relaxed);
            }
            Err(error) => {
                self.writes_failed.fetch_add(1, Relaxed);
                self.problem(Some(write.device_id.as_str()), error.code(), &error.to_string());
            }
        }
    }

    fn problem(&self, device: Option<&str>, code: &str, reason: &str) {
        let problem = Problem {
            at: self.clock.now(),
            code: code.to_string(),
            reason: reason.to_string(),
            device: device.map(str::to_string),
        };
        tracing::warn!(connector = %self.connector, tenant = %self.tenant, code, device, "{reason}");
        let mut problems = lock(&self.problems);
        if problems.len() == PROBLEMS_KEPT {
            problems.pop_front();
        }
        problems.push_back(problem);
    }

    /// A snapshot.
    pub fn status(&self) -> ConnectorStatus {
        let (state, since) = *lock(&self.state);
        ConnectorStatus {
            connector_id: self.connector.clone(),
            tenant_id: self.tenant.clone(),
            kind: self.kind,
            state,
            since,
            restarts: self.restarts.load(Relaxed),
            frames: self.frames.load(Relaxed),
            readings: self.readings.load(Relaxed),
            refused: self.refused.load(Relaxed),
            errors: self.errors.load(Relaxed),
            writes_ok: self.writes_ok.load(Relaxed),
            writes_failed: self.writes_failed.load(Relaxed),
            last_frame_time: *lock(&self.last_frame),
            device_errors: lock(&self.device_errors).clone(),
            problems: lock(&self.problems).iter().cloned().collect(),
            lag: lock(&self.lag).clone(),
        }
    }

    /// A consumer's lag per assigned partition, replacing the last report
    /// (empty: none to report, e.g. the run ended).
    pub fn set_lag(&self, lag: Vec<PartitionLag>) {
        *lock(&self.lag) = lag;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
