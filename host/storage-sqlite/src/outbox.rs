//! The outbox: events appended inside the writing transaction, read in
//! `seq` order, and a cursor per subscriber.

use async_trait::async_trait;
use nexus_model::{Event, EventBody, EventSeq, NewEvent, TenantId};
use nexus_storage::{OutboxStore, Result};
use sqlx::sqlite::SqliteRow;

use crate::rows::get;
use crate::{SqliteStore, corrupt, db, values};

/// Appends events, their rows bound as a `VALUES` list ([`values`]):
/// inserted, and numbered, in order.
const APPEND: (&str, &str) = (
    "INSERT INTO outbox (tenant_id, ts, key, type, body) SELECT column2, column3, column4, column5, column6 FROM ",
    " WHERE column1 IS NOT NULL ORDER BY column1 RETURNING seq",
);

/// Appends events inside a transaction; returns them with their `seq`, in
/// order. One statement for up to 1 024 of them.
pub(crate) async fn append(tx: &mut sqlx::SqliteConnection, events: Vec<NewEvent>) -> Result<Vec<Event>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        rows.push((event, event.body.key(), serde_json::to_string(&event.body).map_err(corrupt)?));
    }
    let mut statements = values::Statements::default();
    statements.rows(APPEND, 6, &rows, |q, n, (event, key, body)| {
        q.bind(n as i64)
            .bind(event.tenant_id.as_str())
            .bind(event.ts)
            .bind(key.as_str())
            .bind(event.body.type_name())
            .bind(body.as_str())
    });
    let mut seqs = statements.returning(tx).await?;
    // RETURNING's order is unspecified; the numbers were handed out in order.
    seqs.sort_unstable();
    if seqs.len() != events.len() {
        return Err(corrupt(format!("{} events appended as {} rows", events.len(), seqs.len())));
    }
    let keys: Vec<String> = rows.into_iter().map(|(_, key, _)| key).collect();
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
