//! Rules' alarm signals, a unit of work's at once, in a handful of
//! statements whatever their number: the open alarms of every (device,
//! type) signalled are read in one query, the lifecycle applies the signals
//! in order in memory, and the alarms' final rows and every transition's
//! history row are written with one statement each, their rows passed as
//! one JSON array (`json_each`). Each statement is a hand-off to the
//! connection's worker thread; three or four per signal were a large part
//! of a commit end to end (a threshold rule on a sawtooth raises and clears
//! about 14 times per 100-sample frame). The write transaction is SQLite's
//! only writer, so what was read stays true until the commit.

use nexus_model::{Alarm, AlarmTransition, TenantId, TimestampMs};
use nexus_storage::{AlarmRows, Homes, Result, SignalWrite, apply_signals, propagating_devices, signalled_pairs};
use serde_json::{Value, json};

use crate::db;
use crate::rows::{self, get};

/// The open alarms of the signalled (device, type) pairs (`?2`: `[[device, type], …]`).
const OPEN: &str = "SELECT a.* FROM json_each(?2) AS p CROSS JOIN alarm a
    WHERE a.tenant_id = ?1 AND a.device_id = p.value ->> 0 AND a.alarm_type = p.value ->> 1
      AND a.status IN ('ACTIVE_UNACK', 'ACTIVE_ACK')";

/// Where new alarms of these devices (`?2`: `[device, …]`) propagate.
const HOMES: &str = "SELECT d.id, d.well_id, w.wellpad_id FROM device d LEFT JOIN well w ON w.id = d.well_id
    WHERE d.tenant_id = ?1 AND d.id IN (SELECT value FROM json_each(?2))";

/// The rows of [`INSERT`], [`UPDATE`] and [`EVENTS`] are the objects of a
/// JSON array (`?2`, see [`row`]); `n.value ->> 'f'` is a row's field `f`.
/// In [`UPDATE`] the unary `+` keeps the planner off the tenant's index:
/// with it, SQLite scanned every alarm of the tenant for each commit (the
/// table grows with every raise); without, each row is one primary-key
/// look-up.
const INSERT: &str = "INSERT INTO alarm (id, tenant_id, device_id, alarm_type, severity, status, start_ts, end_ts,
        ack_ts, clear_ts, binding_id, details, created_time, well_id, wellpad_id, assignee)
    SELECT n.value ->> 'id', ?1, n.value ->> 'device_id', n.value ->> 'alarm_type', n.value ->> 'severity',
        n.value ->> 'status', n.value ->> 'start_ts', n.value ->> 'end_ts', n.value ->> 'ack_ts',
        n.value ->> 'clear_ts', n.value ->> 'binding_id', n.value ->> 'details', n.value ->> 'created_time',
        n.value ->> 'well_id', n.value ->> 'wellpad_id', n.value ->> 'assignee'
    FROM json_each(?2) AS n ORDER BY n.key";

const UPDATE: &str = "UPDATE alarm SET severity = n.value ->> 'severity', status = n.value ->> 'status',
        end_ts = n.value ->> 'end_ts', ack_ts = n.value ->> 'ack_ts', clear_ts = n.value ->> 'clear_ts',
        details = n.value ->> 'details', assignee = n.value ->> 'assignee'
    FROM json_each(?2) AS n WHERE alarm.id = n.value ->> 'id' AND +alarm.tenant_id = ?1";

const EVENTS: &str = "INSERT INTO alarm_event (alarm_id, tenant_id, ts, action, status, severity, actor, details)
    SELECT n.value ->> 'alarm_id', ?1, n.value ->> 'ts', n.value ->> 'action', n.value ->> 'status',
        n.value ->> 'severity', n.value ->> 'actor', n.value ->> 'details'
    FROM json_each(?2) AS n ORDER BY n.key";

/// Applies a unit of work's signals in order inside `tx` and returns the
/// transitions they caused.
pub(crate) async fn apply(
    tx: &mut sqlx::SqliteConnection,
    tenant: &TenantId,
    writes: &[SignalWrite],
) -> Result<Vec<AlarmTransition>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(OPEN)
        .bind(tenant.as_str())
        .bind(json!(signalled_pairs(writes)).to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let open = rows.iter().map(rows::alarm).collect::<Result<Vec<_>>>()?;
    let homes = homes(tx, tenant, writes).await?;
    let transitions = apply_signals(tenant, writes, open, &homes);
    persist(tx, tenant, &transitions).await?;
    Ok(transitions)
}

/// The well and wellpad of each device with a signal that propagates.
async fn homes(tx: &mut sqlx::SqliteConnection, tenant: &TenantId, writes: &[SignalWrite]) -> Result<Homes> {
    let devices = propagating_devices(writes);
    if devices.is_empty() {
        return Ok(Homes::new());
    }
    let rows = sqlx::query(HOMES)
        .bind(tenant.as_str())
        .bind(json!(devices).to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut homes = Homes::with_capacity(rows.len());
    for row in &rows {
        let well: Option<String> = get(row, "well_id")?;
        let wellpad: Option<String> = get(row, "wellpad_id")?;
        homes.insert(get::<String>(row, "id")?, (well.map(Into::into), wellpad.map(Into::into)));
    }
    Ok(homes)
}

/// An alarm's row as JSON, for [`INSERT`] and [`UPDATE`].
fn row(alarm: &Alarm, raised: Option<TimestampMs>) -> Value {
    json!({
        "id": alarm.id.as_str(),
        "device_id": alarm.device_id.as_str(),
        "alarm_type": alarm.alarm_type,
        "severity": alarm.severity.as_str(),
        "status": alarm.status.as_str(),
        "start_ts": alarm.start_ts,
        "end_ts": alarm.end_ts,
        "ack_ts": alarm.ack_ts,
        "clear_ts": alarm.clear_ts,
        "binding_id": alarm.binding_id.as_ref().map(|b| b.as_str()),
        "details": alarm.details.to_string(),
        "created_time": raised,
        "well_id": alarm.well_id.as_ref().map(|w| w.as_str()),
        "wellpad_id": alarm.wellpad_id.as_ref().map(|w| w.as_str()),
        "assignee": alarm.assignee,
    })
}

/// Writes the transitions: each alarm's row as its last transition left it
/// ([`AlarmRows`]), then every transition's history row in order, then any
/// comments.
async fn persist(tx: &mut sqlx::SqliteConnection, tenant: &TenantId, transitions: &[AlarmTransition]) -> Result<()> {
    let rows = AlarmRows::of(transitions);
    let known: Vec<Value> = rows.known.iter().map(|a| row(a, None)).collect();
    let new: Vec<Value> = rows.new.iter().map(|(a, raised)| row(a, Some(*raised))).collect();
    // Known alarms first (see [`AlarmRows::known`]).
    for (statement, rows) in [(UPDATE, known), (INSERT, new)] {
        if !rows.is_empty() {
            sqlx::query(statement)
                .bind(tenant.as_str())
                .bind(Value::Array(rows).to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
    }
    let events: Vec<Value> = transitions
        .iter()
        .filter(|t| t.action.is_event())
        .map(|t| {
            json!({
                "alarm_id": t.alarm.id.as_str(),
                "ts": t.ts,
                "action": t.action.as_str(),
                "status": t.alarm.status.as_str(),
                "severity": t.alarm.severity.as_str(),
                "actor": t.actor.to_string(),
                "details": t.alarm.details.to_string(),
            })
        })
        .collect();
    if !events.is_empty() {
        sqlx::query(EVENTS)
            .bind(tenant.as_str())
            .bind(Value::Array(events).to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    for t in transitions {
        crate::alarms::insert_comment(tx, t).await?;
    }
    Ok(())
}
