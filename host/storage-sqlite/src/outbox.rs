//! The outbox: events appended inside the writing transaction, read in
//! `seq` order, and a cursor per subscriber.

use async_trait::async_trait;
use nexus_model::{Event, EventBody, EventSeq, NewEvent, TenantId};
use nexus_storage::{OutboxStore, Result};
use sqlx::sqlite::SqliteRow;

use crate::rows::get;
use crate::{SqliteStore, corrupt, db};

/// Appends events inside a transaction; returns them with their `seq`.
pub(crate) async fn append(tx: &mut sqlx::SqliteConnection, events: Vec<NewEvent>) -> Result<Vec<Event>> {
    let mut appended = Vec::with_capacity(events.len());
    for event in events {
        let key = event.body.key();
        let body = serde_json::to_string(&event.body).map_err(corrupt)?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (tenant_id, ts, key, type, body) VALUES (?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(event.tenant_id.as_str())
        .bind(event.ts)
        .bind(&key)
        .bind(event.body.type_name())
        .bind(body)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        appended.push(Event { seq: EventSeq(seq), tenant_id: event.tenant_id, ts: event.ts, key, body: event.body });
    }
    Ok(appended)
}

fn event(row: &SqliteRow) -> Result<Event> {
    let body: String = get(row, "body")?;
    let body: EventBody = serde_json::from_str(&body).map_err(corrupt)?;
    Ok(Event {
        seq: EventSeq(get(row, "seq")?),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        ts: get(row, "ts")?,
        key: get(row, "key")?,
        body,
    })
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn tenant_events(&self, tenant: &TenantId, after: EventSeq, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT * FROM outbox WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            .bind(tenant.as_str())
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn head(&self) -> Result<EventSeq> {
        let seq: i64 =
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM outbox").fetch_one(&self.pool).await.map_err(db)?;
        Ok(EventSeq(seq))
    }

    async fn cursor(&self, subscriber: &str) -> Result<EventSeq> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM outbox_cursor WHERE subscriber = ?")
            .bind(subscriber)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(EventSeq(seq.unwrap_or(0)))
    }

    async fn set_cursor(&self, subscriber: &str, seq: EventSeq) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox_cursor (subscriber, seq) VALUES (?, ?)
             ON CONFLICT(subscriber) DO UPDATE SET seq = max(seq, excluded.seq)",
        )
        .bind(subscriber)
        .bind(seq.0)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }
}
