//! Alarms: reads, and people's actions on them — each one transition of
//! the lifecycle and one event on the outbox, in one transaction.

use std::sync::Arc;

use nexus_model::{
    Actor, Alarm, AlarmComment, AlarmEvent, AlarmFilter, AlarmId, AlarmTransition, OperatorAction, TenantId,
    TransitionKind,
};
use serde::Serialize;

use crate::{Inner, Result, ServiceError};

/// What a person's action did.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmChange {
    /// What happened, or `None` when it was already done.
    pub action: Option<TransitionKind>,
    /// Whether anything changed.
    pub changed: bool,
    /// The alarm after the action.
    pub alarm: Alarm,
}

/// Longest comment accepted, in characters.
pub const MAX_COMMENT_LEN: usize = 4000;

/// Alarms. Cheap to clone.
#[derive(Clone)]
pub struct AlarmService(pub(crate) Arc<Inner>);

impl AlarmService {
    /// The tenant's alarms matching a filter, newest first.
    pub async fn list(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        Ok(self.0.store.alarms(tenant, filter).await?)
    }

    /// One alarm.
    pub async fn get(&self, tenant: &TenantId, id: &AlarmId) -> Result<Alarm> {
        Ok(self.0.store.alarm(tenant, id).await?)
    }

    /// An alarm's transitions, oldest first.
    pub async fn events(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmEvent>> {
        self.0.store.alarm(tenant, id).await?;
        Ok(self.0.store.alarm_events(tenant, id).await?)
    }

    /// An alarm's comments, oldest first.
    pub async fn comments(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmComment>> {
        self.0.store.alarm(tenant, id).await?;
        Ok(self.0.store.alarm_comments(tenant, id).await?)
    }

    /// Acknowledges an alarm.
    pub async fn acknowledge(&self, tenant: &TenantId, id: &AlarmId, by: &Actor) -> Result<AlarmChange> {
        self.act(tenant, id, OperatorAction::Acknowledge, by).await
    }

    /// Clears an alarm by hand.
    pub async fn clear(&self, tenant: &TenantId, id: &AlarmId, by: &Actor) -> Result<AlarmChange> {
        self.act(tenant, id, OperatorAction::Clear, by).await
    }

    /// Assigns an alarm (`None` unassigns).
    pub async fn assign(
        &self,
        tenant: &TenantId,
        id: &AlarmId,
        assignee: Option<String>,
        by: &Actor,
    ) -> Result<AlarmChange> {
        if assignee.as_deref().is_some_and(|a| a.trim().is_empty() || a.chars().count() > crate::MAX_NAME_CHARS) {
            return Err(ServiceError::Invalid(format!(
                "assignee must be 1 to {} characters, not blank, or null",
                crate::MAX_NAME_CHARS
            )));
        }
        self.act(tenant, id, OperatorAction::Assign(assignee), by).await
    }

    /// Comments on an alarm.
    pub async fn comment(&self, tenant: &TenantId, id: &AlarmId, text: String, by: &Actor) -> Result<AlarmComment> {
        if text.trim().is_empty() || text.chars().count() > MAX_COMMENT_LEN {
            return Err(ServiceError::Invalid(format!(
                "text must be 1 to {MAX_COMMENT_LEN} characters, not blank (got {})",
                text.chars().count()
            )));
        }
        let (_, transition) = self.apply(tenant, id, OperatorAction::Comment(text.clone()), by).await?;
        let ts = transition.map_or_else(|| self.0.now(), |t| t.ts);
        Ok(AlarmComment { ts, actor: by.clone(), text })
    }

    async fn act(&self, tenant: &TenantId, id: &AlarmId, action: OperatorAction, by: &Actor) -> Result<AlarmChange> {
        Ok(self.apply(tenant, id, action, by).await?.0)
    }

    async fn apply(
        &self,
        tenant: &TenantId,
        id: &AlarmId,
        action: OperatorAction,
        by: &Actor,
    ) -> Result<(AlarmChange, Option<AlarmTransition>)> {
        let outcome = self.0.store.apply_operator(tenant, id, &action, by, self.0.now()).await?;
        if let Some(t) = &outcome.transition {
            log_transition(t);
            self.0.wake_outbox();
        }
        let action = outcome.transition.as_ref().map(|t| t.action);
        Ok((AlarmChange { changed: action.is_some(), action, alarm: outcome.alarm }, outcome.transition))
    }
}

fn log_transition(t: &AlarmTransition) {
    tracing::info!(
        action = t.action.as_str(),
        actor = %t.actor,
        tenant = %t.alarm.tenant_id,
        alarm = %t.alarm.id,
        "Alarm changed by a person."
    );
}
