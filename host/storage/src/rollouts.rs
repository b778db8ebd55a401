//! A step of a binding's rollout as the storage port takes it: the rollout
//! expected, the one after, a promotion, and the step's event.

use nexus_model::{BindingId, EventBody, NewEvent, PluginVersionId, Rollout, RolloutEvent, TenantId, TimestampMs};

use crate::{Result, StorageError};

/// A step of a binding's rollout to write with its event.
#[derive(Debug, Clone, Copy)]
pub struct RolloutChange<'a> {
    /// The start time of the rollout the binding must have now; `None`:
    /// it must have none.
    pub expected: Option<TimestampMs>,
    /// The rollout it has after the step (`None`: ended).
    pub rollout: Option<&'a Rollout>,
    /// A promotion: the version the binding moves to (the one it ran
    /// becomes its previous version).
    pub promote_to: Option<&'a PluginVersionId>,
    /// The step's event.
    pub event: &'a RolloutEvent,
}

impl RolloutChange<'_> {
    /// Refuses the step unless the binding's rollout is the expected one.
    pub fn check(&self, id: &BindingId, current: Option<&Rollout>) -> Result<()> {
        match (self.expected, current) {
            (None, None) => Ok(()),
            (Some(expected), Some(current)) if current.started_time == expected => Ok(()),
            (None, Some(_)) => Err(StorageError::Conflict(format!("binding `{id}` has a rollout in progress"))),
            (Some(_), _) => Err(StorageError::Conflict(format!("binding `{id}` has no such rollout in progress"))),
        }
    }

    /// The step's event for the outbox.
    pub fn new_event(&self, tenant: &TenantId, now: TimestampMs) -> NewEvent {
        NewEvent::new(tenant, now, EventBody::Rollout(self.event.clone()))
    }
}
