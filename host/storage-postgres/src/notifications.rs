//! Notification rules and deliveries. A rule's channel is stored without
//! its secret, which has its own column; a delivery is unique per (rule,
//! event seq), so enqueueing it again is `ON CONFLICT DO NOTHING`.

use async_trait::async_trait;
use nexus_model::{
    Actor, Channel, ChannelKind, DeadNotification, DeliveryOutcome, DeliveryStatus, EntityAction, EntityKind, Event,
    EventBody, EventSeq, NewEvent, NotificationDelivery, NotificationDeliveryId, NotificationRule, NotificationRuleId,
    Page, TenantId, TimestampMs,
};
use nexus_storage::{NewDelivery, NotificationStore, Result, StorageError, entity_event};
use serde_json::json;
use sqlx::postgres::PgRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{PostgresStore, conflict_or, corrupt, db, page_limit, page_sql};

const RULE: &str =
    "SELECT id, tenant_id, name, enabled, filter, channel_kind, channel, secret, created_time, updated_time";
const DELIVERY: &str = "SELECT id, tenant_id, rule_id, event_seq, event_ts, event_key, event_body, channel_kind, \
     status, attempts, last_error, next_attempt_time, created_time, updated_time, sent_time";

fn kind_of(row: &PgRow) -> Result<ChannelKind> {
    let kind: String = get(row, "channel_kind")?;
    ChannelKind::parse(&kind).ok_or_else(|| corrupt(format!("channel kind {kind}")))
}

fn rule(row: &PgRow) -> Result<NotificationRule> {
    let channel: serde_json::Value = serde_json::from_str(&get::<String>(row, "channel")?).map_err(corrupt)?;
    let channel = match kind_of(row)? {
        ChannelKind::Webhook => Channel::Webhook {
            url: channel["url"].as_str().ok_or_else(|| corrupt("webhook without url"))?.to_string(),
            secret: get::<Option<String>>(row, "secret")?.ok_or_else(|| corrupt("webhook without secret"))?,
        },
        ChannelKind::Email => Channel::Email { to: serde_json::from_value(channel["to"].clone()).map_err(corrupt)? },
    };
    Ok(NotificationRule {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        enabled: get(row, "enabled")?,
        filter: serde_json::from_str(&get::<String>(row, "filter")?).map_err(corrupt)?,
        channel,
        created_time: get(row, "created_time")?,
        updated_time: get(row, "updated_time")?,
    })
}

/// A channel's columns: its JSON without the secret, and the secret.
fn channel_columns(channel: &Channel) -> (String, Option<&str>) {
    match channel {
        Channel::Webhook { url, secret } => (json!({"url": url}).to_string(), Some(secret.as_str())),
        Channel::Email { to } => (json!({"to": to}).to_string(), None),
    }
}

fn delivery(row: &PgRow) -> Result<NotificationDelivery> {
    let status: String = get(row, "status")?;
    let event = Event {
        seq: EventSeq(get(row, "event_seq")?),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        ts: get(row, "event_ts")?,
        key: get(row, "event_key")?,
        body: serde_json::from_str(&get::<String>(row, "event_body")?).map_err(corrupt)?,
    };
    Ok(NotificationDelivery {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        rule_id: get::<String>(row, "rule_id")?.into(),
        event,
        channel: kind_of(row)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt(format!("delivery status {status}")))?,
        attempts: u32::try_from(get::<i32>(row, "attempts")?).map_err(corrupt)?,
        last_error: get(row, "last_error")?,
        next_attempt_time: get(row, "next_attempt_time")?,
        created_time: get(row, "created_time")?,
        updated_time: get(row, "updated_time")?,
        sent_time: get(row, "sent_time")?,
    })
}

/// What an entity event says of a rule: never the secret, nor the URL
/// (which may carry a token of its own).
fn summary(rule: &NotificationRule) -> serde_json::Value {
    json!({"name": rule.name, "enabled": rule.enabled, "channel": rule.channel.kind().as_str()})
}

fn rule_event(rule: &NotificationRule, action: EntityAction, actor: &Actor, now: TimestampMs) -> NewEvent {
    entity_event(&rule.tenant_id, now, EntityKind::NotificationRule, &rule.id, action, actor, summary(rule))
}

impl PostgresStore {
    async fn delivery_in(
        &self,
        tx: &mut sqlx::PgConnection,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
    ) -> Result<NotificationDelivery> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DELIVERY} FROM host.notification_delivery WHERE id = $1 AND tenant_id = $2"
        )))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        row.as_ref().map(delivery).transpose()?.ok_or_else(|| StorageError::not_found("notification delivery", id))
    }
}

#[async_trait]
impl NotificationStore for PostgresStore {
    async fn insert_notification_rule(&self, new: &NotificationRule, actor: &Actor) -> Result<NotificationRule> {
        let (channel, secret) = channel_columns(&new.channel);
        let filter = serde_json::to_string(&new.filter).map_err(corrupt)?;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO host.notification_rule (id, tenant_id, name, enabled, filter, channel_kind, channel, secret, \
             created_time, updated_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new.id.as_str())
        .bind(new.tenant_id.as_str())
        .bind(&new.name)
        .bind(new.enabled)
        .bind(&filter)
        .bind(new.channel.kind().as_str())
        .bind(&channel)
        .bind(secret)
        .bind(new.created_time)
        .bind(new.updated_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a notification rule named `{}` exists", new.name)))?;
        append(&mut tx, vec![rule_event(new, EntityAction::Created, actor, new.created_time)]).await?;
        tx.commit().await.map_err(db)?;
        Ok(new.clone())
    }

    async fn notification_rule(&self, tenant: &TenantId, id: &NotificationRuleId) -> Result<NotificationRule> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RULE} FROM host.notification_rule WHERE id = $1 AND tenant_id = $2"
        )))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(rule).transpose()?.ok_or_else(|| StorageError::not_found("notification rule", id))
    }

    async fn notification_rules(&self, tenant: &TenantId, page: &Page) -> Result<Vec<NotificationRule>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql(RULE, "host.notification_rule", "name, id")))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(rule).collect()
    }

    async fn enabled_notification_rules(&self, tenant: &TenantId) -> Result<Vec<NotificationRule>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RULE} FROM host.notification_rule WHERE tenant_id = $1 AND enabled ORDER BY name, id"
        )))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(rule).collect()
    }

    async fn update_notification_rule(&self, changed: &NotificationRule, actor: &Actor) -> Result<NotificationRule> {
        let (channel, secret) = channel_columns(&changed.channel);
        let filter = serde_json::to_string(&changed.filter).map_err(corrupt)?;
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE host.notification_rule SET name = $1, enabled = $2, filter = $3, channel_kind = $4, channel = $5, \
             secret = $6, updated_time = $7 WHERE id = $8 AND tenant_id = $9 RETURNING {}",
            RULE.trim_start_matches("SELECT ")
        )))
        .bind(&changed.name)
        .bind(changed.enabled)
        .bind(&filter)
        .bind(changed.channel.kind().as_str())
        .bind(&channel)
        .bind(secret)
        .bind(changed.updated_time)
        .bind(changed.id.as_str())
        .bind(changed.tenant_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a notification rule named `{}` exists", changed.name)))?;
        let updated = row
            .as_ref()
            .map(rule)
            .transpose()?
            .ok_or_else(|| StorageError::not_found("notification rule", &changed.id))?;
        append(&mut tx, vec![rule_event(&updated, EntityAction::Updated, actor, updated.updated_time)]).await?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn delete_notification_rule(
        &self,
        tenant: &TenantId,
        id: &NotificationRuleId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM host.notification_rule WHERE id = $1 AND tenant_id = $2 RETURNING {}",
            RULE.trim_start_matches("SELECT ")
        )))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let deleted =
            row.as_ref().map(rule).transpose()?.ok_or_else(|| StorageError::not_found("notification rule", id))?;
        append(&mut tx, vec![rule_event(&deleted, EntityAction::Deleted, actor, now)]).await?;
        tx.commit().await.map_err(db)
    }

    async fn enqueue_notifications(&self, deliveries: &[NewDelivery], now: TimestampMs) -> Result<u64> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        let mut added = 0;
        for new in deliveries {
            // The body alone: an alarm transition's `ts` is a member of the
            // body and of the event, as in the outbox's rows.
            let body = serde_json::to_string(&new.event.body).map_err(corrupt)?;
            // Only for a rule of the event's tenant that still exists.
            let done = sqlx::query(
                "INSERT INTO host.notification_delivery (id, tenant_id, rule_id, event_seq, event_ts, event_key, \
                 event_type, event_body, channel_kind, status, attempts, next_attempt_time, created_time, \
                 updated_time) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10, $10 \
                 WHERE EXISTS (SELECT 1 FROM host.notification_rule WHERE id = $3 AND tenant_id = $2) \
                 ON CONFLICT (rule_id, event_seq) DO NOTHING",
            )
            .bind(new.id.as_str())
            .bind(new.event.tenant_id.as_str())
            .bind(new.rule_id.as_str())
            .bind(new.event.seq.0)
            .bind(new.event.ts)
            .bind(&new.event.key)
            .bind(new.event.body.type_name())
            .bind(&body)
            .bind(new.channel.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            added += done.rows_affected();
        }
        tx.commit().await.map_err(db)?;
        Ok(added)
    }

    async fn due_notifications(&self, now: TimestampMs, limit: u32) -> Result<Vec<NotificationDelivery>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DELIVERY} FROM host.notification_delivery WHERE status = 'pending' AND next_attempt_time <= $1 \
             ORDER BY next_attempt_time, event_seq, id LIMIT $2"
        )))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(delivery).collect()
    }

    async fn record_notification_attempt(
        &self,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
        channel: ChannelKind,
        outcome: &DeliveryOutcome,
        now: TimestampMs,
    ) -> Result<NotificationDelivery> {
        let mut tx = self.write_tx().await?;
        let current = self.delivery_in(&mut tx, tenant, id).await?;
        if current.status != DeliveryStatus::Pending {
            return Err(StorageError::Conflict(format!(
                "notification delivery `{id}` is {}, not pending",
                current.status.as_str()
            )));
        }
        let (status, error, next, sent) = match outcome {
            DeliveryOutcome::Sent => (DeliveryStatus::Sent, None, current.next_attempt_time, Some(now)),
            DeliveryOutcome::Retry { error, next_attempt_time } => {
                (DeliveryStatus::Pending, Some(error.as_str()), *next_attempt_time, None)
            }
            DeliveryOutcome::Dead { error } => (DeliveryStatus::Dead, Some(error.as_str()), now, None),
        };
        sqlx::query(
            "UPDATE host.notification_delivery SET status = $1, attempts = attempts + 1, \
             last_error = coalesce($2::text, last_error), next_attempt_time = $3, channel_kind = $4, updated_time = $5, \
             sent_time = $6 WHERE id = $7 AND tenant_id = $8",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(next)
        .bind(channel.as_str())
        .bind(now)
        .bind(sent)
        .bind(id.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let updated = self.delivery_in(&mut tx, tenant, id).await?;
        if let DeliveryOutcome::Dead { error } = outcome {
            let dead = DeadNotification {
                delivery_id: updated.id.clone(),
                rule_id: updated.rule_id.clone(),
                event_seq: updated.event.seq,
                channel,
                attempts: updated.attempts,
                error: error.clone(),
            };
            append(&mut tx, vec![NewEvent::new(tenant, now, EventBody::NotificationDead(dead))]).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn notification_delivery(
        &self,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
    ) -> Result<NotificationDelivery> {
        let mut connection = self.pool.acquire().await.map_err(db)?;
        self.delivery_in(&mut connection, tenant, id).await
    }

    async fn notification_deliveries(
        &self,
        tenant: &TenantId,
        status: Option<DeliveryStatus>,
        page: &Page,
    ) -> Result<Vec<NotificationDelivery>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DELIVERY} FROM host.notification_delivery WHERE tenant_id = $1 AND ($4::text IS NULL OR status = $4) \
             AND ($2::text IS NULL OR (event_seq, id) > \
             (SELECT event_seq, id FROM host.notification_delivery WHERE id = $2 AND tenant_id = $1)) \
             ORDER BY event_seq, id LIMIT $3"
        )))
        .bind(tenant.as_str())
        .bind(page.after.as_deref())
        .bind(page_limit(page))
        .bind(status.map(DeliveryStatus::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(delivery).collect()
    }

    async fn retry_notification(
        &self,
        tenant: &TenantId,
        id: &NotificationDeliveryId,
        now: TimestampMs,
    ) -> Result<NotificationDelivery> {
        let mut tx = self.write_tx().await?;
        let current = self.delivery_in(&mut tx, tenant, id).await?;
        if current.status != DeliveryStatus::Dead {
            return Err(StorageError::Conflict(format!(
                "notification delivery `{id}` is {}; only a dead one is retried",
                current.status.as_str()
            )));
        }
        sqlx::query(
            "UPDATE host.notification_delivery SET status = 'pending', attempts = 0, next_attempt_time = $1, \
             updated_time = $2 WHERE id = $3 AND tenant_id = $4",
        )
        .bind(now)
        .bind(now)
        .bind(id.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let updated = self.delivery_in(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }
}
