//! The recommendation loop: an operator approves or rejects a proposed
//! recommendation; an approved one is sent to the device through its
//! transport (a connector, or the device API's RPC) and ends confirmed,
//! failed or timed out. Every step is a transition with its actor and
//! reason, a row and an outbox event; approvals and rejections are also in
//! the audit log (the API audits every change).
//!
//! **Interlocks**, checked at approval and again at send: the value keeps
//! the setpoint's limits (range, largest step from the current value,
//! shortest interval since it last changed), no critical alarm is active on
//! the device, and the device is online (its newest reading is recent). A
//! recommendation older than its time to live expires instead of being
//! approved, and a sweep expires it every minute; one superseded by a newer
//! recommendation cannot be approved. On start, what a stopped server left
//! approved ends `FAILED` and what it left sent ends `TIMED_OUT`.
//!
//! **Confirmation**: the device's answer (or the connector's read-back),
//! and, when the setpoint names a read-back telemetry key, a reading of it
//! at or after the send within the tolerance, within `readback_timeout`;
//! without that reading the recommendation ends `TIMED_OUT`.

use std::sync::Arc;
use std::time::Duration;

use nexus_model::{
    Actor, AlarmFilter, Readback, RecommendationId, RecommendationStatus as S, RecommendationTransition, SetpointWrite,
    Severity, StoredRecommendation, TenantId, TimestampMs,
};

use crate::{ConnectorService, Inner, Refusal, Result, ServiceError, WriteError};

/// Longest reason, characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// How often proposed recommendations are checked for expiry.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Recommendations one sweep query reads.
const SWEEP_BATCH: u32 = 500;

/// The loop's settings.
#[derive(Debug, Clone)]
pub struct ApprovalConfig {
    /// A proposed recommendation older than this expires.
    pub recommendation_ttl: Duration,
    /// A device whose newest reading is older than this is offline.
    pub device_online: Duration,
    /// How long a write through the device API's RPC waits for the answer.
    pub rpc_timeout: Duration,
    /// How long a confirmed write waits for its setpoint's read-back
    /// telemetry to show the value.
    pub readback_timeout: Duration,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            recommendation_ttl: Duration::from_secs(24 * 3600),
            device_online: Duration::from_secs(10 * 60),
            rpc_timeout: Duration::from_secs(10),
            readback_timeout: Duration::from_secs(60),
        }
    }
}

/// Recommendations' lives. Cheap to clone.
#[derive(Clone)]
pub struct ApprovalService(pub(crate) Arc<Inner>);

fn refused(code: &'static str, message: String) -> ServiceError {
    ServiceError::Refused { code, refusal: Refusal::Conflict, message }
}

fn check_reason(reason: Option<&str>, required: bool) -> Result<()> {
    match reason {
        None | Some("") if required => Err(ServiceError::Invalid("a reason is required".into())),
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(ServiceError::Invalid(format!("the reason must be at most {MAX_REASON_CHARS} characters")))
        }
        Some(r) if required && r.trim().is_empty() => Err(ServiceError::Invalid("a reason is required".into())),
        _ => Ok(()),
    }
}

fn not_proposed(r: &StoredRecommendation) -> ServiceError {
    refused(
        "recommendation-not-proposed",
        format!("recommendation {} is {}; only a proposed one can be decided", r.id, r.status.as_str()),
    )
}

impl ApprovalService {
    /// A recommendation of the tenant.
    pub async fn recommendation(&self, tenant: &TenantId, id: &RecommendationId) -> Result<StoredRecommendation> {
        Ok(self.0.store.recommendation(tenant, id).await?)
    }

    /// A recommendation's steps, oldest first.
    pub async fn transitions(&self, tenant: &TenantId, id: &RecommendationId) -> Result<Vec<RecommendationTransition>> {
        Ok(self.0.store.recommendation_transitions(tenant, id).await?)
    }

    /// Approves a proposed recommendation after its interlocks, and starts
    /// sending it; answers with it approved (its progress is in its
    /// transitions and the outbox).
    pub async fn approve(
        &self,
        tenant: &TenantId,
        id: &RecommendationId,
        by: &Actor,
        reason: Option<&str>,
    ) -> Result<StoredRecommendation> {
        check_reason(reason, false)?;
        let stored = self.0.store.recommendation(tenant, id).await?;
        if stored.status != S::Proposed {
            return Err(not_proposed(&stored));
        }
        let now = self.0.now();
        let ttl = self.0.config.approvals.recommendation_ttl;
        if now - stored.created_ts > ttl.as_millis() as i64 {
            let why = format!("not decided within {} s", ttl.as_secs());
            self.step(&stored, S::Proposed, S::Expired, &Actor::system("approvals"), Some(&why)).await?;
            return Err(refused("recommendation-expired", format!("recommendation {id} expired: {why}")));
        }
        if let Err(why) = interlocks(&self.0, &stored, now).await? {
            return Err(refused("interlock", why));
        }
        let approved = self.step(&stored, S::Proposed, S::Approved, by, reason).await?;
        let inner = self.0.clone();
        let sending = approved.clone();
        tokio::spawn(async move { send(inner, sending).await });
        Ok(approved)
    }

    /// Approves each of a run's proposed recommendations that the binding's
    /// auto-approve policy covers, as `system:auto-approve` and through
    /// every interlock; one the policy does not cover, or an interlock
    /// refuses, stays proposed for an operator (the log says why).
    pub(crate) async fn auto_approve(
        &self,
        binding: &nexus_model::Binding,
        policy: &nexus_model::AutoApprove,
        stored: &mut [StoredRecommendation],
    ) {
        let actor = Actor::system("auto-approve");
        for r in stored.iter_mut().filter(|r| r.status == S::Proposed) {
            let why = match policy.covers(&r.recommendation) {
                Ok(why) => why,
                Err(why_not) => {
                    tracing::info!(binding = %binding.id, recommendation = %r.id, %why_not, "Left for an operator.");
                    continue;
                }
            };
            match self.approve(&binding.tenant_id, &r.id, &actor, Some(&why)).await {
                Ok(approved) => *r = approved,
                Err(error) => {
                    tracing::info!(binding = %binding.id, recommendation = %r.id, %error,
                        "Auto-approval refused; left for an operator.");
                }
            }
        }
    }

    /// Rejects a proposed recommendation, with a reason.
    pub async fn reject(
        &self,
        tenant: &TenantId,
        id: &RecommendationId,
        by: &Actor,
        reason: &str,
    ) -> Result<StoredRecommendation> {
        check_reason(Some(reason), true)?;
        let stored = self.0.store.recommendation(tenant, id).await?;
        if stored.status != S::Proposed {
            return Err(not_proposed(&stored));
        }
        self.step(&stored, S::Proposed, S::Rejected, by, Some(reason)).await
    }

    /// Ends what a stopped server left in flight: an approved
    /// recommendation it never sent ends `FAILED` (nothing was written), a
    /// sent one whose answer it never saw ends `TIMED_OUT` (the device may
    /// have applied it). Run once before serving; returns how many.
    pub async fn recover(&self) -> Result<usize> {
        let mut ended = 0;
        let now = self.0.now();
        let recovery = Actor::system("approvals");
        for (from, to, why) in [
            (S::Approved, S::Failed, "the server stopped before sending it; nothing was written"),
            (S::Sent, S::TimedOut, "the server stopped while waiting for the device's answer; it may have applied it"),
        ] {
            loop {
                let left = self.0.store.recommendations_in(from, now + 1, SWEEP_BATCH).await?;
                if left.is_empty() {
                    break;
                }
                for r in &left {
                    match step(&self.0, r, from, to, &recovery, Some(why)).await {
                        Ok(_) => ended += 1,
                        // Moved meanwhile: nothing to end.
                        Err(ServiceError::Refused { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if ended > 0 {
            tracing::warn!(ended, "Recommendations a stopped server left approved or sent were ended.");
        }
        Ok(ended)
    }

    /// Expires proposed recommendations older than their time to live,
    /// every `every`, until the task is dropped.
    pub async fn run_sweeper(self, every: Duration) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = self.expire().await {
                tracing::warn!(%error, "The approval sweep failed.");
            }
        }
    }

    /// Expires the proposed recommendations past their time to live now;
    /// returns how many.
    pub async fn expire(&self) -> Result<usize> {
        let ttl = self.0.config.approvals.recommendation_ttl;
        let before = self.0.now() - ttl.as_millis() as i64;
        let why = format!("not decided within {} s", ttl.as_secs());
        let expiry = Actor::system("approvals");
        let mut expired = 0;
        loop {
            let stale = self.0.store.recommendations_in(S::Proposed, before, SWEEP_BATCH).await?;
            let mut moved = 0;
            for r in &stale {
                match step(&self.0, r, S::Proposed, S::Expired, &expiry, Some(&why)).await {
                    Ok(_) => moved += 1,
                    Err(ServiceError::Refused { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            expired += moved;
            if stale.len() < SWEEP_BATCH as usize || moved == 0 {
                return Ok(expired);
            }
        }
    }

    async fn step(
        &self,
        r: &StoredRecommendation,
        from: S,
        to: S,
        by: &Actor,
        reason: Option<&str>,
    ) -> Result<StoredRecommendation> {
        step(&self.0, r, from, to, by, reason).await
    }
}

async fn step(
    inner: &Inner,
    r: &StoredRecommendation,
    from: S,
    to: S,
    by: &Actor,
    reason: Option<&str>,
) -> Result<StoredRecommendation> {
    let moved = inner.store.transition_recommendation(&r.tenant_id, &r.id, from, to, by, reason, inner.now()).await;
    inner.wake_outbox();
    match moved {
        Ok((stored, _)) => Ok(stored),
        // Another call moved it first.
        Err(nexus_storage::StorageError::Conflict(message)) => Err(refused("recommendation-not-proposed", message)),
        Err(e) => Err(e.into()),
    }
}

/// The interlocks of sending `r` now: `Ok(Err(reason))` names the first
/// that refuses.
async fn interlocks(inner: &Inner, r: &StoredRecommendation, now: TimestampMs) -> Result<Result<(), String>> {
    let (tenant, device) = (&r.tenant_id, &r.recommendation.device_id);
    let parameter = &r.recommendation.parameter;
    let setpoints = inner.store.setpoints(tenant, device).await?;
    if let Some(current) = setpoints.iter().find(|s| &s.parameter == parameter)
        && let Err(why) = crate::check_change(current, r.recommendation.proposed_value, now)
    {
        return Ok(Err(format!("setpoint limits: {why}")));
    }
    let open = AlarmFilter { device_id: Some(device.clone()), active: Some(true), ..AlarmFilter::default() };
    let alarms = inner.store.alarms(tenant, &open).await?;
    if let Some(critical) = alarms.iter().find(|a| a.severity == Severity::Critical) {
        return Ok(Err(format!(
            "critical alarm `{}` is active on device {device} (since {})",
            critical.alarm_type, critical.start_ts
        )));
    }
    let online = inner.config.approvals.device_online;
    let newest = inner.store.recent(tenant, device, 1).await?.first().map(|reading| reading.ts);
    match newest {
        Some(ts) if now - ts <= online.as_millis() as i64 => Ok(Ok(())),
        Some(ts) => Ok(Err(format!(
            "device {device} is offline: its newest reading is {} s old (online means within {} s)",
            (now - ts) / 1000,
            online.as_secs()
        ))),
        None => Ok(Err(format!("device {device} is offline: it has sent no telemetry"))),
    }
}

/// Sends an approved recommendation: the interlocks again, then the write
/// through the device's transport, and the step its outcome makes.
async fn send(inner: Arc<Inner>, approved: StoredRecommendation) {
    let writer = Actor::system("setpoint-writer");
    let now = inner.now();
    let checked = interlocks(&inner, &approved, now).await;
    let why = match checked {
        Ok(Ok(())) => None,
        Ok(Err(why)) => Some(format!("interlock at send: {why}")),
        Err(e) => Some(format!("the interlocks could not be checked: {e}")),
    };
    if let Some(why) = why {
        log_step(step(&inner, &approved, S::Approved, S::Failed, &writer, Some(&why)).await);
        return;
    }
    let sent = match step(&inner, &approved, S::Approved, S::Sent, &writer, None).await {
        Ok(sent) => sent,
        Err(e) => return log_step(Err(e)),
    };
    let r = &sent.recommendation;
    let write =
        SetpointWrite { device_id: r.device_id.clone(), parameter: r.parameter.clone(), value: r.proposed_value };
    let setpoints = inner.store.setpoints(&sent.tenant_id, &r.device_id).await;
    let readback = setpoints.ok().and_then(|all| all.into_iter().find(|s| s.parameter == r.parameter)?.readback);
    let result = ConnectorService(inner.clone()).write_setpoint(&sent.tenant_id, write).await;
    let (to, why) = match result {
        Ok(outcome) if outcome.confirmed => {
            let read_back = outcome.read_back.map_or_else(String::new, |v| format!(", read back {v}"));
            let answered = format!("confirmed by {} in {} ms{read_back}", outcome.connector_id, outcome.elapsed_ms);
            match readback {
                Some(readback) => match read_back_telemetry(&inner, &sent, &readback, now).await {
                    Ok(seen) => (S::Confirmed, format!("{answered}; {seen}")),
                    Err(unseen) => (S::TimedOut, format!("{answered}, but {unseen}")),
                },
                None => (S::Confirmed, answered),
            }
        }
        Ok(outcome) => (S::Failed, format!("{} did not confirm the value", outcome.connector_id)),
        Err(ServiceError::SetpointWrite(WriteError::Timeout(ms))) => {
            (S::TimedOut, format!("the device did not confirm within {ms} ms"))
        }
        Err(ServiceError::SetpointWrite(e)) => (S::Failed, format!("{}: {e}", e.code())),
        Err(e) => (S::Failed, e.to_string()),
    };
    log_step(step(&inner, &sent, S::Sent, to, &writer, Some(&why)).await);
}

/// Waits for the setpoint's read-back telemetry to show the written value:
/// a reading of `readback.key` at or after `since` (ms) within the
/// tolerance. `Ok` says what it read; `Err` what it did not see in time.
async fn read_back_telemetry(
    inner: &Inner,
    sent: &StoredRecommendation,
    readback: &Readback,
    since: TimestampMs,
) -> std::result::Result<String, String> {
    let (tenant, device) = (&sent.tenant_id, &sent.recommendation.device_id);
    let value = sent.recommendation.proposed_value;
    let (key, tolerance) = (&readback.key, readback.tolerance);
    let timeout = inner.config.approvals.readback_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = None;
    loop {
        match inner.store.latest(tenant, device, std::slice::from_ref(key)).await {
            Ok(readings) => {
                if let Some(reading) = readings.into_iter().find(|r| &r.key == key && r.ts >= since) {
                    let read = reading.value.as_f64();
                    if let Some(read) = read.filter(|v| (v - value).abs() <= tolerance + 1e-9) {
                        return Ok(format!("telemetry `{key}` read {read} at {} (±{tolerance})", reading.ts));
                    }
                    let shown = read.map_or_else(|| format!("{:?}", reading.value), |v| v.to_string());
                    last = Some(format!("{shown} at {}", reading.ts));
                }
            }
            Err(error) => last = Some(format!("unreadable: {error}")),
        }
        if tokio::time::Instant::now() >= deadline {
            let last = last.map_or_else(|| "nothing since the write".to_string(), |l| format!("last {l}"));
            return Err(format!(
                "telemetry `{key}` did not read {value} ± {tolerance} within {} s ({last})",
                timeout.as_secs_f64()
            ));
        }
        tokio::time::sleep(READBACK_POLL).await;
    }
}

/// How often the read-back telemetry is looked at.
const READBACK_POLL: Duration = Duration::from_millis(250);

fn log_step(result: Result<StoredRecommendation>) {
    if let Err(error) = result {
        tracing::warn!(%error, "A recommendation's step could not be recorded.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded_and_required_to_reject() {
        assert!(check_reason(None, false).is_ok());
        assert!(check_reason(Some("ok"), true).is_ok());
        assert!(check_reason(None, true).is_err());
        assert!(check_reason(Some("  "), true).is_err());
        assert!(check_reason(Some(&"x".repeat(MAX_REASON_CHARS + 1)), false).is_err());
    }
}
