//! The outbox: events appended inside the writing transaction, read in
//! `seq` order, and a cursor per subscriber.

use async_trait::async_trait;
use nexus_model::{Event, EventBody, EventSeq, NewEvent, TenantId};
use nexus_storage::{OutboxStore, Result};
use sqlx::sqlite::SqliteRow;

use crate::rows::get;
use crate::{SqliteStore, corrupt, db};

/// Appends events inside a transaction; returns them with their `seq`, in
/// order. One statement for all of them, their rows passed as one JSON
/// array: they are inserted, and numbered, in array order.
pub(crate) async fn append(tx: &mut sqlx::SqliteConnection, events: Vec<NewEvent>) -> Result<Vec<Event>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        let key = event.body.key();
        rows.push(serde_json::json!({
            "tenant_id": event.tenant_id.as_str(),
            "ts": event.ts,
            "key": key,
            "type": event.body.type_name(),
            "body": serde_json::to_string(&event.body).map_err(corrupt)?,
        }));
        keys.push(key);
    }
    let mut seqs: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, ts, key, type, body)
         SELECT e.value ->> 'tenant_id', e.value ->> 'ts', e.value ->> 'key', e.value ->> 'type', e.value ->> 'body'
         FROM json_each(?1) AS e ORDER BY e.key
         RETURNING seq",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    // RETURNING's order is unspecified; the numbers were handed out in order.
    seqs.sort_unstable();
    if seqs.len() != events.len() {
        return Err(corrupt(format!("{} events appended as {} rows", events.len(), seqs.len())));
    }
    Ok(events
        .into_iter()
        .zip(keys)
        .zip(seqs)
        .map(|((event, key), seq)| Event {
            seq: EventSeq(seq),
            tenant_id: event.tenant_id,
            ts: event.ts,
            key,
            body: event.body,
        })
        .collect())
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
