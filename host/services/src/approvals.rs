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
//! approved; one superseded by a newer recommendation cannot be approved.

use std::sync::Arc;
use std::time::Duration;

use nexus_model::{
    Actor, AlarmFilter, RecommendationId, RecommendationStatus as S, RecommendationTransition, SetpointWrite, Severity,
    StoredRecommendation, TenantId, TimestampMs,
};

use crate::{ConnectorService, Inner, Refusal, Result, ServiceError, WriteError};

/// Longest reason, characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// The loop's settings.
#[derive(Debug, Clone)]
pub struct ApprovalConfig {
    /// A proposed recommendation older than this expires.
    pub recommendation_ttl: Duration,
    /// A device whose newest reading is older than this is offline.
    pub device_online: Duration,
    /// How long a write through the device API's RPC waits for the answer.
    pub rpc_timeout: Duration,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            recommendation_ttl: Duration::from_secs(24 * 3600),
            device_online: Duration::from_secs(10 * 60),
            rpc_timeout: Duration::from_secs(10),
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
    let result = ConnectorService(inner.clone()).write_setpoint(&sent.tenant_id, write).await;
    let (to, why) = match result {
        Ok(outcome) if outcome.confirmed => {
            let read_back = outcome.read_back.map_or_else(String::new, |v| format!(", read back {v}"));
            (S::Confirmed, format!("confirmed by {} in {} ms{read_back}", outcome.connector_id, outcome.elapsed_ms))
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
