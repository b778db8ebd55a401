//! Notifications: a tenant's rules of which alarm transitions are sent
//! where (a webhook or email), and the record of each sending. Which
//! events a rule matches is decided here, without I/O; the services
//! enqueue and send.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    AlarmTransition, Event, EventBody, EventSeq, NotificationDeliveryId, NotificationRuleId, Severity, TenantId,
    TimestampMs, TransitionKind,
};

/// Which alarm transitions a rule sends. Every condition must hold; an
/// empty list places no condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationFilter {
    /// Only alarms of these types (empty: every type).
    #[serde(default)]
    pub alarm_types: Vec<String>,
    /// Only alarms at least this severe (after the transition).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Only alarms of one of these severities (empty: every severity).
    #[serde(default)]
    pub severities: Vec<Severity>,
    /// Only these transitions (a rule names at least one).
    pub transitions: Vec<TransitionKind>,
}

impl NotificationFilter {
    /// The transitions a rule sends when it names none: an alarm raised,
    /// made more severe, or cleared.
    pub const DEFAULT_TRANSITIONS: [TransitionKind; 3] =
        [TransitionKind::Raised, TransitionKind::Escalated, TransitionKind::Cleared];

    /// Whether an alarm transition passes the filter.
    pub fn matches(&self, transition: &AlarmTransition) -> bool {
        let alarm = &transition.alarm;
        self.transitions.contains(&transition.action)
            && (self.alarm_types.is_empty() || self.alarm_types.contains(&alarm.alarm_type))
            && self.min_severity.is_none_or(|min| alarm.severity <= min)
            && (self.severities.is_empty() || self.severities.contains(&alarm.severity))
    }
}

/// Kinds of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// An HTTP POST, signed.
    Webhook,
    /// An email over SMTP.
    Email,
}

impl ChannelKind {
    /// The stable lower-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Email => "email",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Webhook, Self::Email].into_iter().find(|k| k.as_str() == name)
    }
}

/// Where a rule sends.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// POST the notification as JSON to `url`, signed with `secret`
    /// (`X-Nexus-Signature: sha256=<hex HMAC-SHA256 of the body>`).
    Webhook {
        /// An `http` or `https` URL.
        url: String,
        /// The HMAC key; stored, never shown again after it is set.
        secret: String,
    },
    /// Mail the notification to these addresses.
    Email {
        /// The recipients.
        to: Vec<String>,
    },
}

impl Channel {
    /// The channel's kind.
    pub fn kind(&self) -> ChannelKind {
        match self {
            Channel::Webhook { .. } => ChannelKind::Webhook,
            Channel::Email { .. } => ChannelKind::Email,
        }
    }
}

/// The secret stays out of logs and debug output.
impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Webhook { url, .. } => {
                f.debug_struct("Webhook").field("url", url).field("secret", &"<redacted>").finish()
            }
            Channel::Email { to } => f.debug_struct("Email").field("to", to).finish(),
        }
    }
}

/// A tenant's notification rule.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRule {
    /// Its id.
    pub id: NotificationRuleId,
    /// The owning tenant.
    pub tenant_id: TenantId,
    /// A name for people, unique in the tenant.
    pub name: String,
    /// Whether it matches new events (deliveries already enqueued are
    /// still sent).
    pub enabled: bool,
    /// Which alarm transitions it sends.
    pub filter: NotificationFilter,
    /// Where it sends them.
    pub channel: Channel,
    /// When it was created, ms.
    pub created_time: TimestampMs,
    /// When it was last changed, ms.
    pub updated_time: TimestampMs,
}

impl NotificationRule {
    /// Whether the rule sends this event: an alarm transition of its own
    /// tenant that passes its filter, while it is enabled.
    pub fn matches(&self, event: &Event) -> bool {
        match &event.body {
            EventBody::Alarm(transition) => {
                self.enabled && event.tenant_id == self.tenant_id && self.filter.matches(transition)
            }
            _ => false,
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// To be sent (again) at `next_attempt_time`.
    Pending,
    /// The receiver took it.
    Sent,
    /// Given up: every attempt failed, or the receiver refused it for good.
    Dead,
}

impl DeliveryStatus {
    /// The stable lower-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Dead => "dead",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Dead].into_iter().find(|s| s.as_str() == name)
    }
}

/// One rule's sending of one event. A rule delivers an event at most once:
/// (rule, event seq) is unique, so the outbox delivering a batch again
/// enqueues nothing new.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationDelivery {
    /// Its id: the receivers' idempotency key (`X-Nexus-Delivery`).
    pub id: NotificationDeliveryId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The rule that matched.
    pub rule_id: NotificationRuleId,
    /// The event it sends, as the outbox held it.
    pub event: Event,
    /// The channel's kind, as of the last attempt (or the enqueueing).
    pub channel: ChannelKind,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts so far (since the last manual retry).
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When a pending delivery is due, ms.
    pub next_attempt_time: TimestampMs,
    /// When it was enqueued, ms.
    pub created_time: TimestampMs,
    /// When it last changed, ms.
    pub updated_time: TimestampMs,
    /// When the receiver took it, ms.
    pub sent_time: Option<TimestampMs>,
}

impl NotificationDelivery {
    /// The event's position in the outbox.
    pub fn event_seq(&self) -> EventSeq {
        self.event.seq
    }
}

/// What became of one attempt to send a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver took it.
    Sent,
    /// It failed; try again at `next_attempt_time`.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again, ms.
        next_attempt_time: TimestampMs,
    },
    /// It failed for good (the last attempt, or a permanent refusal).
    Dead {
        /// Why it failed.
        error: String,
    },
}

/// A delivery given up on, as its outbox event tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadNotification {
    /// The delivery.
    pub delivery_id: NotificationDeliveryId,
    /// Its rule.
    pub rule_id: NotificationRuleId,
    /// The event it was to send.
    pub event_seq: EventSeq,
    /// The channel's kind.
    pub channel: ChannelKind,
    /// How many attempts were made.
    pub attempts: u32,
    /// Why the last one failed.
    pub error: String,
}

#[cfg(test)]
#[path = "notification_tests.rs"]
mod tests;
