//! Alarms: persisting what `nexus_model::lifecycle` decides, and reading
//! alarms, their history and comments. The open alarm is read `FOR UPDATE`,
//! so a rule's signal and a person's action on it take turns.

use async_trait::async_trait;
use nexus_model::lifecycle;
use nexus_model::{
    Actor, Alarm, AlarmComment, AlarmEvent, AlarmFilter, AlarmId, AlarmStatus, AlarmTransition, EventBody, NewEvent,
    OperatorAction, Severity, TenantId, TimestampMs, TransitionKind,
};
use nexus_storage::{AlarmStore, OperatorOutcome, Result, StorageError};

use crate::outbox::append;
use crate::rows::{self, get};
use crate::{PostgresStore, corrupt, db};

/// Writes a transition's comment, if it has one.
pub(crate) async fn insert_comment(tx: &mut sqlx::PgConnection, t: &AlarmTransition) -> Result<()> {
    if let Some(text) = &t.comment {
        sqlx::query("INSERT INTO pf.alarm_comment (alarm_id, tenant_id, ts, actor, text) VALUES ($1, $2, $3, $4, $5)")
            .bind(t.alarm.id.as_str())
            .bind(t.alarm.tenant_id.as_str())
            .bind(t.ts)
            .bind(t.actor.to_string())
            .bind(text)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Writes a transition: the alarm row, its history and, for a comment, the comment.
async fn persist(tx: &mut sqlx::PgConnection, t: &AlarmTransition) -> Result<()> {
    let alarm = &t.alarm;
    if t.action == TransitionKind::Raised {
        sqlx::query(
            "INSERT INTO pf.alarm (id, tenant_id, device_id, alarm_type, severity, status, start_ts, end_ts, ack_ts,
             clear_ts, binding_id, details, created_time, well_id, wellpad_id, assignee)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(alarm.id.as_str())
        .bind(alarm.tenant_id.as_str())
        .bind(alarm.device_id.as_str())
        .bind(&alarm.alarm_type)
        .bind(alarm.severity.as_str())
        .bind(alarm.status.as_str())
        .bind(alarm.start_ts)
        .bind(alarm.end_ts)
        .bind(alarm.ack_ts)
        .bind(alarm.clear_ts)
        .bind(alarm.binding_id.as_ref().map(|b| b.as_str()))
        .bind(&alarm.details)
        .bind(t.ts)
        .bind(alarm.well_id.as_ref().map(|w| w.as_str()))
        .bind(alarm.wellpad_id.as_ref().map(|w| w.as_str()))
        .bind(&alarm.assignee)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    } else {
        sqlx::query(
            "UPDATE pf.alarm SET severity = $1, status = $2, end_ts = $3, ack_ts = $4, clear_ts = $5, details = $6,
             assignee = $7 WHERE id = $8 AND tenant_id = $9",
        )
        .bind(alarm.severity.as_str())
        .bind(alarm.status.as_str())
        .bind(alarm.end_ts)
        .bind(alarm.ack_ts)
        .bind(alarm.clear_ts)
        .bind(&alarm.details)
        .bind(&alarm.assignee)
        .bind(alarm.id.as_str())
        .bind(alarm.tenant_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    insert_comment(tx, t).await?;
    if t.action.is_event() {
        sqlx::query(
            "INSERT INTO pf.alarm_event (alarm_id, tenant_id, ts, action, status, severity, actor, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(alarm.id.as_str())
        .bind(alarm.tenant_id.as_str())
        .bind(t.ts)
        .bind(t.action.as_str())
        .bind(alarm.status.as_str())
        .bind(alarm.severity.as_str())
        .bind(t.actor.to_string())
        .bind(&alarm.details)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

fn actor(text: &str) -> Result<Actor> {
    text.parse().map_err(corrupt)
}

#[async_trait]
impl AlarmStore for PostgresStore {
    async fn alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Alarm> {
        let row = sqlx::query("SELECT * FROM pf.alarm WHERE id = $1 AND tenant_id = $2")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("alarm", id))?;
        rows::alarm(&row)
    }

    async fn alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        let rows = sqlx::query(
            "SELECT a.* FROM pf.alarm a
             WHERE a.tenant_id = $1
               AND ($2::text IS NULL OR a.status = $2)
               AND ($3::bool IS NULL OR ($3 AND a.status IN ('ACTIVE_UNACK', 'ACTIVE_ACK'))
                                     OR (NOT $3 AND a.status IN ('CLEARED_UNACK', 'CLEARED_ACK')))
               AND ($4::text IS NULL OR a.severity = $4)
               AND ($5::text IS NULL OR a.device_id = $5)
               AND ($6::text IS NULL OR a.well_id = $6)
               AND ($7::int8 IS NULL OR a.start_ts >= $7)
               AND ($8::int8 IS NULL OR a.start_ts < $8)
               AND ($10::text IS NULL OR a.wellpad_id = $10)
               AND ($11::text IS NULL OR a.assignee = $11)
             ORDER BY a.start_ts DESC, a.created_time DESC, a.id LIMIT $9",
        )
        .bind(tenant.as_str())
        .bind(filter.status.map(AlarmStatus::as_str))
        .bind(filter.active)
        .bind(filter.severity.map(Severity::as_str))
        .bind(filter.device_id.as_ref().map(|d| d.as_str()))
        .bind(filter.well_id.as_ref().map(|w| w.as_str()))
        .bind(filter.start_ts)
        .bind(filter.end_ts)
        .bind(i64::from(filter.page_size()))
        .bind(filter.wellpad_id.as_ref().map(|w| w.as_str()))
        .bind(&filter.assignee)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(rows::alarm).collect()
    }

    async fn alarm_events(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmEvent>> {
        let rows = sqlx::query("SELECT * FROM pf.alarm_event WHERE tenant_id = $1 AND alarm_id = $2 ORDER BY id")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let action: String = get(row, "action")?;
                let status: String = get(row, "status")?;
                let severity: String = get(row, "severity")?;
                Ok(AlarmEvent {
                    ts: get(row, "ts")?,
                    action: TransitionKind::parse(&action).ok_or_else(|| corrupt(format!("action {action}")))?,
                    status: AlarmStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
                    severity: Severity::parse(&severity).ok_or_else(|| corrupt(format!("severity {severity}")))?,
                    actor: actor(&get::<String>(row, "actor")?)?,
                    details: get(row, "details")?,
                })
            })
            .collect()
    }

    async fn alarm_comments(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmComment>> {
        let rows = sqlx::query(
            "SELECT ts, actor, text FROM pf.alarm_comment WHERE tenant_id = $1 AND alarm_id = $2 ORDER BY id",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AlarmComment {
                    ts: get(r, "ts")?,
                    actor: actor(&get::<String>(r, "actor")?)?,
                    text: get(r, "text")?,
                })
            })
            .collect()
    }

    async fn apply_operator(
        &self,
        tenant: &TenantId,
        id: &AlarmId,
        action: &OperatorAction,
        by: &Actor,
        now: TimestampMs,
    ) -> Result<OperatorOutcome> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT * FROM pf.alarm WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("alarm", id))?;
        let alarm = rows::alarm(&row)?;
        let Some(transition) = lifecycle::apply_operator(&alarm, action, by, now) else {
            return Ok(OperatorOutcome { transition: None, alarm });
        };
        persist(&mut tx, &transition).await?;
        append(&mut tx, vec![NewEvent::new(tenant, now, EventBody::Alarm(transition.clone()))]).await?;
        tx.commit().await.map_err(db)?;
        Ok(OperatorOutcome { alarm: transition.alarm.clone(), transition: Some(transition) })
    }
}
