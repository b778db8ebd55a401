//! The notification port: tenants' rules, and the deliveries the outbox's
//! notification subscriber enqueues and the delivery worker sends. A
//! delivery is unique per (rule, event seq), so enqueueing a batch of
//! events again adds nothing.

use async_trait::async_trait;
use nexus_model::{
    Actor, ChannelKind, DeliveryOutcome, DeliveryStatus, Event, NotificationDelivery, NotificationDeliveryId,
    NotificationRule, NotificationRuleId, Page, TenantId, TimestampMs,
};

use crate::Result;

/// A delivery to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// Its id.
    pub id: NotificationDeliveryId,
    /// The rule that matched (of the event's tenant).
    pub rule_id: NotificationRuleId,
    /// The event to send.
    pub event: Event,
    /// The rule's channel's kind.
    pub channel: ChannelKind,
}

/// Notification rules and deliveries.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Creates a rule (its id and times are set); names are unique per
    /// tenant. Appends its entity event.
    async fn insert_notification_rule(&self, rule: &NotificationRule, actor: &Actor) -> Result<NotificationRule>;
    /// A rule of the tenant.
    async fn notification_rule(&self, tenant: &TenantId, id: &NotificationRuleId) -> Result<NotificationRule>;
    /// A page of the tenant's rules, by name.
    async fn notification_rules(&self, tenant: &TenantId, page: &Page) -> Result<Vec<NotificationRule>>;
    /// The tenant's enabled rules: what its events are matched against.
    async fn enabled_notification_rules(&self, tenant: &TenantId) -> Result<Vec<NotificationRule>>;
    /// Replaces a rule's name, enabled flag, filter and channel (and its
    /// `updated_time`). Appends its entity event.
    async fn update_notification_rule(&self, rule: &NotificationRule, actor: &Actor) -> Result<NotificationRule>;
    /// Deletes a rule of the tenant and its deliveries. Appends its entity
    /// event.
    async fn delete_notification_rule(
        &self,
        tenant: &TenantId,
        id: &NotificationRuleId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()>;
    /// Enqueues deliveries, pending and due at `now`, in one transaction.
    /// A delivery whose (rule, event seq) is enqueued already is left as
    /// it is, and so is one whose rule no longer exists. Returns how many
    /// were new.
    async fn enqueue_notifications(&self, deliveries: &[NewDelivery], now: TimestampMs) -> Result<u64>;
    /// Pending deliveries of every tenant due at `now`, the most overdue
    /// first, at most `limit` (the delivery worker's view).
    async fn due_notifications(&self, now: TimestampMs, limit: u32) -> Result<Vec<NotificationDelivery>>;
    /// Records what one attempt to send a pending delivery did: one more
    /// attempt, and it is sent, due again, or dead. A delivery given up on
    /// appends its [`nexus_model::EventBody::NotificationDead`] event in the
    /// same transaction. A delivery that is not pending is a conflict.
    async fn record_notification_attempt(
        &self,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
        channel: ChannelKind,
        outcome: &DeliveryOutcome,
        now: TimestampMs,
    ) -> Result<NotificationDelivery>;
    /// A delivery of the tenant.
    async fn notification_delivery(
        &self,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
    ) -> Result<NotificationDelivery>;
    /// A page of the tenant's deliveries in event order (then by id),
    /// only those of `status` when given.
    async fn notification_deliveries(
        &self,
        tenant: &TenantId,
        status: Option<DeliveryStatus>,
        page: &Page,
    ) -> Result<Vec<NotificationDelivery>>;
    /// Makes a dead delivery pending again, due at `now`, with a fresh
    /// budget of attempts (its last error stays). One that is not dead is a
    /// conflict.
    async fn retry_notification(
        &self,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
        now: TimestampMs,
    ) -> Result<NotificationDelivery>;
}
