//! Notifications: tenants' rules of which alarm transitions are sent where,
//! and their delivery.
//!
//! Two loops carry an event to a receiver. The outbox's `notifications`
//! subscriber matches each alarm transition against its tenant's enabled
//! rules and enqueues one delivery per matching rule — durably, and once
//! per (rule, event seq), so a batch the outbox offers again (after a
//! crash between the enqueue and the cursor) adds nothing. The delivery
//! worker sends due deliveries through a [`ChannelSender`] (the binary's
//! webhook and SMTP senders), records each attempt, retries with
//! exponential backoff ([`RetryPolicy`]) and gives up on a delivery after
//! its last attempt or a permanent refusal (`dead`, with its error and an
//! outbox event). A receiver may get a delivery more than once (a crash
//! after sending, before recording it); the delivery id is its
//! idempotency key.

mod deliver;
mod message;
mod rules;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexus_model::{
    Actor, Channel, DeliveryStatus, NotificationDelivery, NotificationDeliveryId, NotificationFilter, NotificationRule,
    NotificationRuleId, Page, TenantId, TimestampMs,
};

pub use rules::{MAX_LIST, MAX_URL_CHARS, RuleError, SECRET_CHARS};

use crate::{Inner, Result, ServiceError, Subscription};

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all before a delivery is dead (at least 1).
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles with each
    /// failure.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 s doubling to at most 5 min: about 2 minutes in all.
    fn default() -> Self {
        Self { attempts: 8, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(300) }
    }
}

impl RetryPolicy {
    /// The wait after `failed` failed attempts (1 for the first):
    /// `base_delay × 2^(failed-1)`, at most `max_delay`.
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 2u32.checked_pow(failed.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.checked_mul(factor).unwrap_or(self.max_delay).min(self.max_delay)
    }
}

/// Settings of notifications.
#[derive(Debug, Clone)]
pub struct NotificationConfig {
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// How long one send may take before it counts as failed (and is
    /// retried); the senders' own timeouts are set to it too.
    pub send_timeout: Duration,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// How often the delivery worker looks for due deliveries it was not
    /// woken for.
    pub poll: Duration,
    /// Whether this host sends email (an SMTP server is configured); email
    /// rules are refused without it.
    pub email: bool,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            send_timeout: Duration::from_secs(10),
            concurrency: 8,
            poll: Duration::from_secs(1),
            email: false,
        }
    }
}

/// One notification to send.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The delivery: the receiver's idempotency key.
    pub delivery_id: NotificationDeliveryId,
    /// Where to (with the webhook's secret).
    pub channel: Channel,
    /// The JSON body: a webhook's request body (signed); an email's text
    /// ends with it.
    pub body: Vec<u8>,
    /// An email's subject.
    pub subject: String,
    /// An email's text.
    pub text: String,
    /// When it is sent, ms (the host's clock).
    pub time: TimestampMs,
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Whether trying again cannot help (the receiver refused the request
    /// itself); the delivery is dead at once.
    pub permanent: bool,
    /// What happened.
    pub message: String,
}

impl SendError {
    /// A failure worth another attempt (unreachable, timed out, 5xx).
    pub fn transient(message: impl Into<String>) -> Self {
        Self { permanent: false, message: message.into() }
    }

    /// A refusal another attempt would get again.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { permanent: true, message: message.into() }
    }
}

/// The outbound side of notifications: sends one notification over its
/// channel. The services decide what to send and when; an implementation
/// only carries it (the binary has the webhook and SMTP ones), and bounds
/// every send by [`NotificationConfig::send_timeout`].
#[async_trait]
pub trait ChannelSender: Send + Sync + 'static {
    /// Sends it; `Ok` once the receiver took it.
    async fn send(&self, notification: &Notification) -> std::result::Result<(), SendError>;
}

/// A webhook channel as asked for: the secret may be left out of an
/// update to keep the stored one.
#[derive(Debug, Clone)]
pub enum ChannelRequest {
    /// POST to a URL, signed with the secret.
    Webhook {
        /// An `http` or `https` URL.
        url: String,
        /// The HMAC key (16 to 256 characters); `None` keeps the rule's.
        secret: Option<String>,
    },
    /// Mail to these addresses.
    Email {
        /// The recipients.
        to: Vec<String>,
    },
}

/// A rule as asked for (create or replace).
#[derive(Debug, Clone)]
pub struct RuleRequest {
    /// A name, unique in the tenant.
    pub name: String,
    /// Whether it matches new events.
    pub enabled: bool,
    /// Which alarm transitions it sends.
    pub filter: NotificationFilter,
    /// Where.
    pub channel: ChannelRequest,
}

/// Notification rules and deliveries. Cheap to clone.
#[derive(Clone)]
pub struct NotificationService(pub(crate) Arc<Inner>);

impl NotificationService {
    /// Creates a rule.
    pub async fn create(&self, tenant: &TenantId, request: RuleRequest, by: &Actor) -> Result<NotificationRule> {
        let now = self.0.now();
        let channel = self.channel(request.channel, None)?;
        let rule = NotificationRule {
            id: NotificationRuleId::random(),
            tenant_id: tenant.clone(),
            name: rules::name(&request.name)?,
            enabled: request.enabled,
            filter: rules::filter(request.filter)?,
            channel,
            created_time: now,
            updated_time: now,
        };
        Ok(self.0.store.insert_notification_rule(&rule, by).await?)
    }

    /// Replaces a rule's name, enabled flag, filter and channel; a webhook
    /// without a secret keeps the stored one.
    pub async fn replace(
        &self,
        tenant: &TenantId,
        id: &NotificationRuleId,
        request: RuleRequest,
        by: &Actor,
    ) -> Result<NotificationRule> {
        let current = self.0.store.notification_rule(tenant, id).await?;
        let rule = NotificationRule {
            name: rules::name(&request.name)?,
            enabled: request.enabled,
            filter: rules::filter(request.filter)?,
            channel: self.channel(request.channel, Some(&current.channel))?,
            updated_time: self.0.now(),
            ..current
        };
        Ok(self.0.store.update_notification_rule(&rule, by).await?)
    }

    fn channel(&self, request: ChannelRequest, current: Option<&Channel>) -> Result<Channel> {
        let channel = match request {
            ChannelRequest::Webhook { url, secret } => {
                let secret = match (secret, current) {
                    (Some(secret), _) => secret,
                    (None, Some(Channel::Webhook { secret, .. })) => secret.clone(),
                    (None, _) => return Err(RuleError::Secret("a new webhook needs a secret".into()).into()),
                };
                Channel::Webhook { url, secret }
            }
            ChannelRequest::Email { to } => Channel::Email { to },
        };
        Ok(rules::channel(channel, self.0.config.notifications.email)?)
    }

    /// A rule of the tenant.
    pub async fn get(&self, tenant: &TenantId, id: &NotificationRuleId) -> Result<NotificationRule> {
        Ok(self.0.store.notification_rule(tenant, id).await?)
    }

    /// A page of the tenant's rules, by name.
    pub async fn list(&self, tenant: &TenantId, page: &Page) -> Result<Vec<NotificationRule>> {
        Ok(self.0.store.notification_rules(tenant, page).await?)
    }

    /// Deletes a rule and its deliveries.
    pub async fn delete(&self, tenant: &TenantId, id: &NotificationRuleId, by: &Actor) -> Result<()> {
        Ok(self.0.store.delete_notification_rule(tenant, id, by, self.0.now()).await?)
    }

    /// A page of the tenant's deliveries in event order, only those of
    /// `status` when given.
    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        status: Option<DeliveryStatus>,
        page: &Page,
    ) -> Result<Vec<NotificationDelivery>> {
        Ok(self.0.store.notification_deliveries(tenant, status, page).await?)
    }

    /// Sends a dead delivery again, now, with a fresh budget of attempts
    /// (e.g. once its rule's URL is fixed).
    pub async fn retry(&self, tenant: &TenantId, id: &NotificationDeliveryId) -> Result<NotificationDelivery> {
        let delivery = self.0.store.retry_notification(tenant, id, self.0.now()).await?;
        self.0.notifications_due.notify_one();
        Ok(delivery)
    }

    /// Starts the outbox's `notifications` subscriber. It starts from
    /// the end of the outbox the first time (history is not notified) and
    /// from its stored cursor after that; the cursor is settled before this
    /// returns, so no event appended afterwards is missed.
    pub async fn subscribe(&self) -> Result<Subscription> {
        let subscriber = Arc::new(deliver::Matcher(self.0.clone()));
        crate::OutboxService(self.0.clone()).subscribe_ready(subscriber).await
    }

    /// The delivery worker: sends due deliveries through `sender` until
    /// `shutdown` turns true, then waits for the sends in flight to be
    /// recorded (each is bounded by the send timeout), so a graceful stop
    /// sends nothing twice.
    pub async fn run_deliveries(self, sender: Arc<dyn ChannelSender>, shutdown: tokio::sync::watch::Receiver<bool>) {
        deliver::run(self.0, sender, shutdown).await
    }
}

impl From<RuleError> for ServiceError {
    fn from(error: RuleError) -> Self {
        ServiceError::InvalidRule(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_the_base_up_to_the_maximum() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=10).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(policy.delay(200), Duration::from_secs(300), "no overflow");
        let short =
            RetryPolicy { attempts: 3, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(1) };
        assert_eq!([short.delay(1), short.delay(2), short.delay(4)].map(|d| d.as_millis()), [200, 400, 1000]);
    }
}
