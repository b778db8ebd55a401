//! The outbox: events appended inside the writing transaction, read in
//! `seq` order, and a cursor per subscriber.
//!
//! **Commit order.** On SQLite one writer makes `seq` order commit order by
//! itself. Here transactions run concurrently, and a sequence hands out
//! numbers in the order transactions *ask*, not the order they commit: a
//! reader could see 6 committed while 5 is still in flight, move its cursor
//! past 6 and never deliver 5. So a transaction takes a transaction-scoped
//! advisory lock right before it appends (its last write but the usage
//! counter) and holds it until it commits: the next appender gets its
//! numbers only after this one is visible, so every number a reader sees
//! has all smaller ones committed (or rolled back) before it. Transactions
//! without events (telemetry alone) never take the lock.

use async_trait::async_trait;
use nexus_model::{Event, EventBody, EventSeq, NewEvent, TenantId};
use nexus_storage::{OutboxStore, Result};
use sqlx::postgres::PgRow;

use crate::rows::get;
use crate::{PostgresStore, corrupt, db};

/// The advisory lock key of outbox appends (`hashtext('host.outbox')` would
/// do as well; a constant is clearer in `pg_locks`).
const OUTBOX_LOCK: i64 = 0x6e65_7875_735f_6f62; // "nexus_ob"

/// Appends events inside a transaction, as one of its last writes (the
/// lock it takes is held until the transaction ends); returns them with
/// their `seq`, in order.
pub(crate) async fn append(tx: &mut sqlx::PgConnection, events: Vec<NewEvent>) -> Result<Vec<Event>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut tenants = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    let mut keys = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut bodies = Vec::with_capacity(events.len());
    for event in &events {
        tenants.push(event.tenant_id.as_str());
        times.push(event.ts);
        keys.push(event.body.key());
        types.push(event.body.type_name());
        bodies.push(serde_json::to_value(&event.body).map_err(corrupt)?);
    }
    // Rows are inserted, and numbered, in ordinality order. The lock is the
    // statement's one-time filter (an init plan, run before its first row),
    // so it is held before the first number is drawn, in the same round trip.
    let mut seqs: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO host.outbox (tenant_id, ts, key, type, body)
         SELECT tenant_id, ts, key, type, body
         FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::jsonb[])
              WITH ORDINALITY AS e (tenant_id, ts, key, type, body, n)
         WHERE (SELECT pg_advisory_xact_lock($6)) IS NOT NULL
         ORDER BY n
         RETURNING seq",
    )
    .bind(&tenants)
    .bind(&times)
    .bind(&keys)
    .bind(&types)
    .bind(&bodies)
    .bind(OUTBOX_LOCK)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    seqs.sort_unstable();
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

fn event(row: &PgRow) -> Result<Event> {
    let body: EventBody = serde_json::from_value(get(row, "body")?).map_err(corrupt)?;
    Ok(Event {
        seq: EventSeq(get(row, "seq")?),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        ts: get(row, "ts")?,
        key: get(row, "key")?,
        body,
    })
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT * FROM host.outbox WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn tenant_events(&self, tenant: &TenantId, after: EventSeq, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT * FROM host.outbox WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(tenant.as_str())
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn head(&self) -> Result<EventSeq> {
        let seq: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM host.outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(EventSeq(seq))
    }

    async fn cursor(&self, subscriber: &str) -> Result<EventSeq> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM host.outbox_cursor WHERE subscriber = $1")
            .bind(subscriber)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(EventSeq(seq.unwrap_or(0)))
    }

    async fn set_cursor(&self, subscriber: &str, seq: EventSeq) -> Result<()> {
        // Committed without waiting for its WAL flush (`synchronous_commit`
        // off for this statement's transaction only): a cursor lost in a
        // server crash re-delivers what came after the durable one, which
        // at-least-once delivery allows, and no subscriber's fsync stands
        // in line with a commit of ingest (on the machine's PostgreSQL the
        // subscribers' cursor writes were most of the waits on the WAL).
        sqlx::query(
            "INSERT INTO host.outbox_cursor (subscriber, seq)
             SELECT $1, $2 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait
             ON CONFLICT (subscriber) DO UPDATE SET seq = GREATEST(host.outbox_cursor.seq, excluded.seq)",
        )
        .bind(subscriber)
        .bind(seq.0)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}
