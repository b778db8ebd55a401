//! The alarm lifecycle: one open alarm per (tenant, originator, type), four
//! states, and every transition recorded with who or what caused it.

use nexus_model::{Alarm, AlarmAction, AlarmSignal, AlarmStatus, Severity, TimestampMs};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Storage, StorageError, new_id};

/// A change of an alarm, as published to the event stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmTransition {
    /// `RAISED`, `ESCALATED`, `DE_ESCALATED`, `UPDATED`, `CLEARED`,
    /// `ACKNOWLEDGED`, `ASSIGNED`, `UNASSIGNED` or `COMMENTED`.
    pub action: String,
    /// The alarm after the change.
    pub alarm: Alarm,
}

/// A stored transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmEvent {
    /// When.
    pub ts: TimestampMs,
    /// What happened.
    pub action: String,
    /// State after.
    pub status: AlarmStatus,
    /// Severity after.
    pub severity: Severity,
    /// Who or what: `binding:<id>` or `user:<name>`.
    pub actor: String,
    /// Details JSON.
    pub details: serde_json::Value,
}

/// A comment on an alarm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlarmComment {
    /// When.
    pub ts: TimestampMs,
    /// Who.
    pub actor: String,
    /// What.
    pub text: String,
}

/// Which alarms to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlarmFilter {
    /// Only these states.
    pub status: Option<AlarmStatus>,
    /// Only open (`true`) or cleared (`false`) alarms.
    pub active: Option<bool>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this originator.
    pub device_id: Option<String>,
    /// Only alarms propagated to this well.
    pub well_id: Option<String>,
    /// Only alarms propagated to this wellpad.
    pub wellpad_id: Option<String>,
    /// Only alarms assigned to this user.
    pub assignee: Option<String>,
    /// Started at or after (ms).
    pub start_ts: Option<TimestampMs>,
    /// Started before (ms).
    pub end_ts: Option<TimestampMs>,
    /// At most this many (default 100, max 1000).
    pub limit: Option<u32>,
}

fn alarm_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Alarm> {
    let severity: String = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let details: String = row.try_get("details")?;
    Ok(Alarm {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        device_id: row.try_get("device_id")?,
        alarm_type: row.try_get("alarm_type")?,
        severity: Severity::parse(&severity).ok_or_else(|| StorageError::Corrupt(format!("severity {severity}")))?,
        status: AlarmStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("status {status}")))?,
        start_ts: row.try_get("start_ts")?,
        end_ts: row.try_get("end_ts")?,
        ack_ts: row.try_get("ack_ts")?,
        clear_ts: row.try_get("clear_ts")?,
        binding_id: row.try_get("binding_id")?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        assignee: row.try_get("assignee")?,
        well_id: row.try_get("well_id")?,
        wellpad_id: row.try_get("wellpad_id")?,
    })
}

fn details_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

async fn record_event(
    tx: &mut sqlx::SqliteConnection,
    alarm: &Alarm,
    ts: TimestampMs,
    action: &str,
    actor: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO alarm_event (alarm_id, tenant_id, ts, action, status, severity, actor, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&alarm.id)
    .bind(&alarm.tenant_id)
    .bind(ts)
    .bind(action)
    .bind(alarm.status.as_str())
    .bind(alarm.severity.as_str())
    .bind(actor)
    .bind(alarm.details.to_string())
    .execute(tx)
    .await?;
    Ok(())
}

async fn write_alarm(tx: &mut sqlx::SqliteConnection, alarm: &Alarm) -> Result<()> {
    sqlx::query(
        "UPDATE alarm SET severity = ?, status = ?, end_ts = ?, ack_ts = ?, clear_ts = ?, details = ?, assignee = ? WHERE id = ?",
    )
    .bind(alarm.severity.as_str())
    .bind(alarm.status.as_str())
    .bind(alarm.end_ts)
    .bind(alarm.ack_ts)
    .bind(alarm.clear_ts)
    .bind(alarm.details.to_string())
    .bind(&alarm.assignee)
    .bind(&alarm.id)
    .execute(tx)
    .await?;
    Ok(())
}

impl Storage {
    /// Applies a rule's signal to the alarm lifecycle: raise, update the
    /// severity of, or clear the open alarm of (device, type). Returns the
    /// transition, or `None` when nothing changed.
    /// `actor` names what caused it, e.g. `binding:<id>/<plugin>@<version>`;
    /// a new alarm propagates to the device's well and wellpad when
    /// `propagate` is set.
    pub async fn apply_alarm_signal(
        &self,
        tenant_id: &str,
        binding_id: &str,
        actor: &str,
        propagate: bool,
        signal: &AlarmSignal,
    ) -> Result<Option<AlarmTransition>> {
        let mut tx = self.write_tx().await?;
        let open = sqlx::query(
            "SELECT * FROM alarm WHERE tenant_id = ? AND device_id = ? AND alarm_type = ?
             AND status IN ('ACTIVE_UNACK', 'ACTIVE_ACK')",
        )
        .bind(tenant_id)
        .bind(&signal.device_id)
        .bind(&signal.alarm_type)
        .fetch_optional(&mut *tx)
        .await?;
        let open = open.as_ref().map(alarm_from_row).transpose()?;
        let transition = match (signal.action, open) {
            (AlarmAction::Raise, None) => {
                let (well_id, wellpad_id) = if propagate {
                    let row = sqlx::query(
                        "SELECT d.well_id, w.wellpad_id FROM device d LEFT JOIN well w ON w.id = d.well_id
                         WHERE d.id = ? AND d.tenant_id = ?",
                    )
                    .bind(&signal.device_id)
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match row {
                        Some(row) => (row.try_get("well_id")?, row.try_get("wellpad_id")?),
                        None => (None, None),
                    }
                } else {
                    (None, None)
                };
                let alarm = Alarm {
                    id: new_id(),
                    tenant_id: tenant_id.into(),
                    device_id: signal.device_id.clone(),
                    alarm_type: signal.alarm_type.clone(),
                    severity: signal.severity,
                    status: AlarmStatus::ActiveUnack,
                    start_ts: signal.ts,
                    end_ts: signal.ts,
                    ack_ts: None,
                    clear_ts: None,
                    binding_id: Some(binding_id.into()),
                    details: details_json(&signal.details),
                    assignee: None,
                    well_id,
                    wellpad_id,
                };
                sqlx::query(
                    "INSERT INTO alarm (id, tenant_id, device_id, alarm_type, severity, status, start_ts, end_ts,
                     binding_id, details, created_time, well_id, wellpad_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&alarm.id)
                .bind(&alarm.tenant_id)
                .bind(&alarm.device_id)
                .bind(&alarm.alarm_type)
                .bind(alarm.severity.as_str())
                .bind(alarm.status.as_str())
                .bind(alarm.start_ts)
                .bind(alarm.end_ts)
                .bind(&alarm.binding_id)
                .bind(alarm.details.to_string())
                .bind(nexus_model::now_ms())
                .bind(&alarm.well_id)
                .bind(&alarm.wellpad_id)
                .execute(&mut *tx)
                .await?;
                record_event(&mut tx, &alarm, signal.ts, "RAISED", actor).await?;
                Some(AlarmTransition { action: "RAISED".into(), alarm })
            }
            (AlarmAction::Raise, Some(mut alarm)) => {
                let action = if signal.severity.is_more_severe_than(alarm.severity) {
                    "ESCALATED"
                } else if alarm.severity.is_more_severe_than(signal.severity) {
                    "DE_ESCALATED"
                } else {
                    "UPDATED"
                };
                alarm.severity = signal.severity;
                alarm.end_ts = alarm.end_ts.max(signal.ts);
                alarm.details = details_json(&signal.details);
                write_alarm(&mut tx, &alarm).await?;
                if action != "UPDATED" {
                    record_event(&mut tx, &alarm, signal.ts, action, actor).await?;
                }
                Some(AlarmTransition { action: action.into(), alarm })
            }
            (AlarmAction::Clear, Some(mut alarm)) => {
                alarm.status = alarm.status.cleared();
                alarm.clear_ts = Some(signal.ts);
                alarm.details = details_json(&signal.details);
                write_alarm(&mut tx, &alarm).await?;
                record_event(&mut tx, &alarm, signal.ts, "CLEARED", actor).await?;
                Some(AlarmTransition { action: "CLEARED".into(), alarm })
            }
            (AlarmAction::Clear, None) => None,
        };
        tx.commit().await?;
        Ok(transition)
    }

    /// Acknowledges an alarm (`ACTIVE_UNACK` → `ACTIVE_ACK`, `CLEARED_UNACK` → `CLEARED_ACK`).
    pub async fn acknowledge_alarm(&self, tenant_id: &str, id: &str, actor: &str) -> Result<AlarmTransition> {
        self.change_alarm(tenant_id, id, actor, "ACKNOWLEDGED", |alarm, now| {
            alarm.status = alarm.status.acknowledged();
            alarm.ack_ts.get_or_insert(now);
        })
        .await
    }

    /// Clears an alarm by hand.
    pub async fn clear_alarm(&self, tenant_id: &str, id: &str, actor: &str) -> Result<AlarmTransition> {
        self.change_alarm(tenant_id, id, actor, "CLEARED", |alarm, now| {
            alarm.status = alarm.status.cleared();
            alarm.clear_ts.get_or_insert(now);
        })
        .await
    }

    /// Assigns an alarm to a user (`None` unassigns).
    pub async fn assign_alarm(
        &self,
        tenant_id: &str,
        id: &str,
        actor: &str,
        assignee: Option<&str>,
    ) -> Result<AlarmTransition> {
        let action = if assignee.is_some() { "ASSIGNED" } else { "UNASSIGNED" };
        self.change_alarm(tenant_id, id, actor, action, |alarm, _| alarm.assignee = assignee.map(str::to_string)).await
    }

    /// Adds a comment to an alarm.
    pub async fn comment_alarm(&self, tenant_id: &str, id: &str, actor: &str, text: &str) -> Result<AlarmComment> {
        let alarm = self.alarm(tenant_id, id).await?;
        let ts = nexus_model::now_ms();
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO alarm_comment (alarm_id, tenant_id, ts, actor, text) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(tenant_id)
            .bind(ts)
            .bind(format!("user:{actor}"))
            .bind(text)
            .execute(&mut *tx)
            .await?;
        record_event(&mut tx, &alarm, ts, "COMMENTED", &format!("user:{actor}")).await?;
        tx.commit().await?;
        Ok(AlarmComment { ts, actor: format!("user:{actor}"), text: text.to_string() })
    }

    /// The comments of an alarm, oldest first.
    pub async fn alarm_comments(&self, tenant_id: &str, id: &str) -> Result<Vec<AlarmComment>> {
        let rows =
            sqlx::query("SELECT ts, actor, text FROM alarm_comment WHERE tenant_id = ? AND alarm_id = ? ORDER BY id")
                .bind(tenant_id)
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok(AlarmComment { ts: r.try_get("ts")?, actor: r.try_get("actor")?, text: r.try_get("text")? }))
            .collect()
    }

    async fn change_alarm(
        &self,
        tenant_id: &str,
        id: &str,
        actor: &str,
        action: &str,
        change: impl FnOnce(&mut Alarm, TimestampMs),
    ) -> Result<AlarmTransition> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT * FROM alarm WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StorageError::not_found("alarm", id))?;
        let mut alarm = alarm_from_row(&row)?;
        let now = nexus_model::now_ms();
        change(&mut alarm, now);
        write_alarm(&mut tx, &alarm).await?;
        record_event(&mut tx, &alarm, now, action, &format!("user:{actor}")).await?;
        tx.commit().await?;
        Ok(AlarmTransition { action: action.into(), alarm })
    }

    /// One alarm of the tenant.
    pub async fn alarm(&self, tenant_id: &str, id: &str) -> Result<Alarm> {
        let row = sqlx::query("SELECT * FROM alarm WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StorageError::not_found("alarm", id))?;
        alarm_from_row(&row)
    }

    /// The tenant's alarms matching a filter, newest first.
    pub async fn alarms(&self, tenant_id: &str, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
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
             ORDER BY a.start_ts DESC LIMIT ?9",
        )
        .bind(tenant_id)
        .bind(filter.status.map(AlarmStatus::as_str))
        .bind(filter.active)
        .bind(filter.severity.map(Severity::as_str))
        .bind(&filter.device_id)
        .bind(&filter.well_id)
        .bind(filter.start_ts)
        .bind(filter.end_ts)
        .bind(i64::from(filter.limit.unwrap_or(100).min(1000)))
        .bind(&filter.wellpad_id)
        .bind(&filter.assignee)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alarm_from_row).collect()
    }

    /// The transitions of an alarm, oldest first.
    pub async fn alarm_events(&self, tenant_id: &str, alarm_id: &str) -> Result<Vec<AlarmEvent>> {
        let rows = sqlx::query("SELECT * FROM alarm_event WHERE tenant_id = ? AND alarm_id = ? ORDER BY id")
            .bind(tenant_id)
            .bind(alarm_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let severity: String = row.try_get("severity")?;
                let details: String = row.try_get("details")?;
                Ok(AlarmEvent {
                    ts: row.try_get("ts")?,
                    action: row.try_get("action")?,
                    status: AlarmStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(status.clone()))?,
                    severity: Severity::parse(&severity).ok_or_else(|| StorageError::Corrupt(severity.clone()))?,
                    actor: row.try_get("actor")?,
                    details: details_json(&details),
                })
            })
            .collect()
    }
}
