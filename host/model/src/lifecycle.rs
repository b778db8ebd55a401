//! The alarm lifecycle as pure functions: given the alarm as it is and what
//! happened (a rule's signal, or a person's action), the transition. Storage
//! only persists what these return, so every backend behaves alike and the
//! state machine is tested here, exhaustively, without a database.
//!
//! - One open alarm per (tenant, originator, type): a raise with none open
//!   creates one; a raise with one open escalates, de-escalates or updates it.
//! - A clear closes the open alarm; with none open it does nothing.
//! - Acknowledging, clearing, assigning and commenting are a person's
//!   actions on any alarm; doing what is already done changes nothing.

use serde::{Deserialize, Serialize};

use crate::{Actor, Alarm, AlarmAction, AlarmId, AlarmSignal, AlarmStatus, BindingId, TenantId, TimestampMs};
use crate::{WellId, WellpadId};

/// What a transition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransitionKind {
    /// A new alarm.
    Raised,
    /// The open alarm became more severe.
    Escalated,
    /// The open alarm became less severe.
    DeEscalated,
    /// The open alarm was raised again at the same severity (details and
    /// end time refreshed); not a lifecycle event.
    Updated,
    /// The alarm was cleared.
    Cleared,
    /// A person acknowledged it.
    Acknowledged,
    /// A person assigned it.
    Assigned,
    /// A person removed its assignee.
    Unassigned,
    /// A person commented on it.
    Commented,
}

impl TransitionKind {
    /// The stable upper-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Raised => "RAISED",
            TransitionKind::Escalated => "ESCALATED",
            TransitionKind::DeEscalated => "DE_ESCALATED",
            TransitionKind::Updated => "UPDATED",
            TransitionKind::Cleared => "CLEARED",
            TransitionKind::Acknowledged => "ACKNOWLEDGED",
            TransitionKind::Assigned => "ASSIGNED",
            TransitionKind::Unassigned => "UNASSIGNED",
            TransitionKind::Commented => "COMMENTED",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        use TransitionKind::*;
        [Raised, Escalated, DeEscalated, Updated, Cleared, Acknowledged, Assigned, Unassigned, Commented]
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    /// Whether the transition is recorded in the alarm's history and
    /// published as an event (everything but [`TransitionKind::Updated`]).
    pub fn is_event(self) -> bool {
        self != TransitionKind::Updated
    }
}

/// A change of an alarm: what happened, who caused it, when, and the alarm
/// after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmTransition {
    /// What happened.
    pub action: TransitionKind,
    /// Who or what caused it.
    pub actor: Actor,
    /// When (the signal's reading time for rules, the clock for people).
    pub ts: TimestampMs,
    /// The alarm after the change.
    pub alarm: Alarm,
    /// The comment's text, for [`TransitionKind::Commented`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A stored transition of an alarm (its history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    /// When.
    pub ts: TimestampMs,
    /// What happened.
    pub action: TransitionKind,
    /// State after.
    pub status: AlarmStatus,
    /// Severity after.
    pub severity: crate::Severity,
    /// Who or what.
    pub actor: Actor,
    /// Details JSON.
    pub details: serde_json::Value,
}

/// A comment on an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmComment {
    /// When.
    pub ts: TimestampMs,
    /// Who.
    pub actor: Actor,
    /// What.
    pub text: String,
}

/// What a person does to an alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAction {
    /// Acknowledge it.
    Acknowledge,
    /// Clear it by hand.
    Clear,
    /// Assign it to someone (`None` removes the assignee).
    Assign(Option<String>),
    /// Comment on it.
    Comment(String),
}

/// What a new alarm gets besides the signal: its id, tenant, the binding
/// that raised it and where it propagates.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlarm {
    /// Id for the alarm, if one is created.
    pub id: AlarmId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The binding whose rule signalled.
    pub binding_id: BindingId,
    /// The originator's well, if the binding propagates.
    pub well_id: Option<WellId>,
    /// The originator's wellpad, if the binding propagates.
    pub wellpad_id: Option<WellpadId>,
}

fn details_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

/// Applies a rule's signal to the open alarm of its (tenant, originator,
/// type), if any. A cleared alarm passed as `open` counts as none open.
/// Returns the transition, or `None` when nothing changes.
pub fn apply_signal(
    open: Option<&Alarm>,
    signal: &AlarmSignal,
    actor: &Actor,
    new: impl FnOnce() -> NewAlarm,
) -> Option<AlarmTransition> {
    let open = open.filter(|alarm| alarm.status.is_active());
    let transition =
        |action, alarm| AlarmTransition { action, actor: actor.clone(), ts: signal.ts, alarm, comment: None };
    match (signal.action, open) {
        (AlarmAction::Raise, None) => {
            let new = new();
            Some(transition(
                TransitionKind::Raised,
                Alarm {
                    id: new.id,
                    tenant_id: new.tenant_id,
                    device_id: signal.device_id.clone(),
                    alarm_type: signal.alarm_type.clone(),
                    severity: signal.severity,
                    status: AlarmStatus::ActiveUnack,
                    start_ts: signal.ts,
                    end_ts: signal.ts,
                    ack_ts: None,
                    clear_ts: None,
                    binding_id: Some(new.binding_id),
                    details: details_json(&signal.details),
                    assignee: None,
                    well_id: new.well_id,
                    wellpad_id: new.wellpad_id,
                },
            ))
        }
        (AlarmAction::Raise, Some(open)) => {
            let action = if signal.severity.is_more_severe_than(open.severity) {
                TransitionKind::Escalated
            } else if open.severity.is_more_severe_than(signal.severity) {
                TransitionKind::DeEscalated
            } else {
                TransitionKind::Updated
            };
            let mut alarm = open.clone();
            alarm.severity = signal.severity;
            alarm.end_ts = alarm.end_ts.max(signal.ts);
            alarm.details = details_json(&signal.details);
            Some(transition(action, alarm))
        }
        (AlarmAction::Clear, Some(open)) => {
            let mut alarm = open.clone();
            alarm.status = alarm.status.cleared();
            alarm.clear_ts = Some(signal.ts);
            alarm.details = details_json(&signal.details);
            Some(transition(TransitionKind::Cleared, alarm))
        }
        (AlarmAction::Clear, None) => None,
    }
}

/// Applies a person's action to an alarm at `now`. Returns the transition,
/// or `None` when the action is already done (acknowledging an acknowledged
/// alarm, clearing a cleared one, assigning the current assignee).
pub fn apply_operator(
    alarm: &Alarm,
    action: &OperatorAction,
    actor: &Actor,
    now: TimestampMs,
) -> Option<AlarmTransition> {
    let mut after = alarm.clone();
    let mut comment = None;
    let kind = match action {
        OperatorAction::Acknowledge => {
            if matches!(alarm.status, AlarmStatus::ActiveAck | AlarmStatus::ClearedAck) {
                return None;
            }
            after.status = alarm.status.acknowledged();
            after.ack_ts = Some(now);
            TransitionKind::Acknowledged
        }
        OperatorAction::Clear => {
            if !alarm.status.is_active() {
                return None;
            }
            after.status = alarm.status.cleared();
            after.clear_ts = Some(now);
            TransitionKind::Cleared
        }
        OperatorAction::Assign(assignee) => {
            if &alarm.assignee == assignee {
                return None;
            }
            after.assignee.clone_from(assignee);
            if assignee.is_some() { TransitionKind::Assigned } else { TransitionKind::Unassigned }
        }
        OperatorAction::Comment(text) => {
            comment = Some(text.clone());
            TransitionKind::Commented
        }
    };
    Some(AlarmTransition { action: kind, actor: actor.clone(), ts: now, alarm: after, comment })
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
