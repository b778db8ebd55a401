//! Alarms: persisting what `nexus_model::lifecycle` decides for operators
//! (rules' signals are `signals.rs`), and reading
//! alarms, their history and comments.

use async_trait::async_trait;
use nexus_model::lifecycle;
use nexus_model::{
    Actor, Alarm, AlarmComment, AlarmEvent, AlarmFilter, AlarmId, AlarmStatus, AlarmTransition, EventBody, NewEvent,
    OperatorAction, Severity, TenantId, TimestampMs, TransitionKind,
};
use nexus_storage::{AlarmStore, OperatorOutcome, Result, StorageError};

use crate::outbox::append;
use crate::rows::{self, get};
use crate::{SqliteStore, corrupt, db};

/// Writes a transition's comment, if it has one.
pub(crate) async fn insert_comment(tx: &mut sqlx::SqliteConnection, t: &AlarmTransition) -> Result<()> {
    if let Some(text) = &t.comment {
        sqlx::query("INSERT INTO alarm_comment (alarm_id, tenant_id, ts, actor, text) VALUES (?, ?, ?, ?, ?)")
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

fn actor(text: &str) -> Result<Actor> {
    text.parse().map_err(corrupt)
}

#[async_trait]
impl AlarmStore for SqliteStore {
    async fn alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Alarm> {
        let row = sqlx::query("SELECT * FROM alarm WHERE id = ? AND tenant_id = ?")
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
            "SELECT a.* FROM alarm a
             WHERE a.tenant_id = ?1
               AND (?2 IS NULL OR a.status = ?2)
               AND (?3 IS NULL OR (?3 = 1 AND a.status IN ('ACTIVE_UNACK', 'ACTIVE_ACK'))
                               OR (?3 = 0 AND a.status IN ('CLEARED_UNACK', 'CLEARED_ACK')))
               AND (?4 IS NULL OR a.severity = ?4)
               AND (?5 IS NULL OR a.device_id = ?5)
               AND (?6 IS NULL OR a.well_id = ?6)
               AND (?7 IS NULL OR a.start_ts >= ?7)
               AND (?8 IS NULL OR a.start_ts < ?8)
               AND (?10 IS NULL OR a.wellpad_id = ?10)
               AND (?11 IS NULL OR a.assignee = ?11)
             ORDER BY a.start_ts DESC, a.created_time DESC, a.id LIMIT ?9",
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
        let rows = sqlx::query("SELECT * FROM alarm_event WHERE tenant_id = ? AND alarm_id = ? ORDER BY id")
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
                    details: rows::json(&get::<String>(row, "details")?),
                })
            })
            .collect()
    }

    async fn alarm_comments(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmComment>> {
        let rows =
            sqlx::query("SELECT ts, actor, text FROM alarm_comment WHERE tenant_id = ? AND alarm_id = ? ORDER BY id")
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
        let row = sqlx::query("SELECT * FROM alarm WHERE id = ? AND tenant_id = ?")
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
        crate::signals::persist(&mut tx, tenant, std::slice::from_ref(&transition)).await?;
        append(&mut tx, vec![NewEvent::new(tenant, now, EventBody::Alarm(transition.clone()))]).await?;
        tx.commit().await.map_err(db)?;
        Ok(OperatorOutcome { alarm: transition.alarm.clone(), transition: Some(transition) })
    }
}
