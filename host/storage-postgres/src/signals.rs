//! Rules' alarm signals, a unit of work's at once, in a handful of
//! statements whatever their number: the open alarms of every (device,
//! type) signalled are read and locked (`FOR UPDATE`) in one query, the
//! lifecycle applies the signals in order in memory, and the alarms' final
//! rows and every transition's history row are written with one statement
//! each. One round trip per signal — three or four statements each — was
//! most of a commit's time end to end (a threshold rule on a sawtooth
//! raises and clears about 14 times per 100-sample frame).

use nexus_model::{Alarm, AlarmTransition, TenantId};
use nexus_storage::{AlarmRows, Homes, Result, SignalWrite, apply_signals, propagating_devices, signalled_pairs};

use crate::db;
use crate::rows::{self, get};

/// The open alarms of the signalled (device, type) pairs, locked.
const OPEN: &str = "SELECT a.* FROM pf.alarm a
    JOIN UNNEST($2::text[], $3::text[]) AS p(device_id, alarm_type)
      ON a.device_id = p.device_id COLLATE \"C\" AND a.alarm_type = p.alarm_type
    WHERE a.tenant_id = $1 AND a.status IN ('ACTIVE_UNACK', 'ACTIVE_ACK')
    ORDER BY a.id FOR UPDATE OF a";

/// Where new alarms of these devices propagate.
const HOMES: &str = "SELECT d.id, d.well_id, w.wellpad_id FROM pf.device d LEFT JOIN pf.well w ON w.id = d.well_id
    WHERE d.tenant_id = $1 AND d.id = ANY($2)";

const INSERT: &str = "INSERT INTO pf.alarm (id, tenant_id, device_id, alarm_type, severity, status, start_ts, end_ts,
        ack_ts, clear_ts, binding_id, details, created_time, well_id, wellpad_id, assignee)
    SELECT id, $1, device_id, alarm_type, severity, status, start_ts, end_ts, ack_ts, clear_ts, binding_id,
        details::jsonb, created_time, well_id, wellpad_id, assignee
    FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::int8[], $9::int8[],
        $10::int8[], $11::text[], $12::text[], $13::int8[], $14::text[], $15::text[], $16::text[])
        AS n(id, device_id, alarm_type, severity, status, start_ts, end_ts, ack_ts, clear_ts, binding_id, details,
             created_time, well_id, wellpad_id, assignee)";

const UPDATE: &str = "UPDATE pf.alarm a SET severity = n.severity, status = n.status, end_ts = n.end_ts,
        ack_ts = n.ack_ts, clear_ts = n.clear_ts, details = n.details::jsonb, assignee = n.assignee
    FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[])
        AS n(id, severity, status, end_ts, ack_ts, clear_ts, details, assignee)
    WHERE a.id = n.id COLLATE \"C\" AND a.tenant_id = $1";

const EVENTS: &str = "INSERT INTO pf.alarm_event (alarm_id, tenant_id, ts, action, status, severity, actor, details)
    SELECT alarm_id, $1, ts, action, status, severity, actor, details::jsonb
    FROM UNNEST($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
        WITH ORDINALITY AS e(alarm_id, ts, action, status, severity, actor, details, n)
    ORDER BY n";

/// Applies a unit of work's signals in order inside `tx` and returns the
/// transitions they caused.
pub(crate) async fn apply(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    writes: &[SignalWrite],
) -> Result<Vec<AlarmTransition>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let (devices, types): (Vec<&str>, Vec<&str>) = signalled_pairs(writes).into_iter().unzip();
    let rows =
        sqlx::query(OPEN).bind(tenant.as_str()).bind(&devices).bind(&types).fetch_all(&mut *tx).await.map_err(db)?;
    let open = rows.iter().map(rows::alarm).collect::<Result<Vec<_>>>()?;
    let homes = homes(tx, tenant, writes).await?;
    let transitions = apply_signals(tenant, writes, open, &homes);
    persist(tx, tenant, &transitions).await?;
    Ok(transitions)
}

/// The well and wellpad of each device with a signal that propagates.
async fn homes(tx: &mut sqlx::PgConnection, tenant: &TenantId, writes: &[SignalWrite]) -> Result<Homes> {
    let devices = propagating_devices(writes);
    if devices.is_empty() {
        return Ok(Homes::new());
    }
    let rows = sqlx::query(HOMES).bind(tenant.as_str()).bind(&devices).fetch_all(&mut *tx).await.map_err(db)?;
    let mut homes = Homes::with_capacity(rows.len());
    for row in &rows {
        let well: Option<String> = get(row, "well_id")?;
        let wellpad: Option<String> = get(row, "wellpad_id")?;
        homes.insert(get::<String>(row, "id")?, (well.map(Into::into), wellpad.map(Into::into)));
    }
    Ok(homes)
}

/// Writes the transitions: each alarm's row as its last transition left it
/// ([`AlarmRows`]), then every transition's history row in order, then any
/// comments.
async fn persist(tx: &mut sqlx::PgConnection, tenant: &TenantId, transitions: &[AlarmTransition]) -> Result<()> {
    let details = |a: &Alarm| a.details.to_string();
    let AlarmRows { known, new } = AlarmRows::of(transitions);
    // Known alarms first (see [`AlarmRows::known`]).
    if !known.is_empty() {
        let text = |f: fn(&Alarm) -> Option<String>| known.iter().map(|a| f(a)).collect::<Vec<_>>();
        let int = |f: fn(&Alarm) -> Option<i64>| known.iter().map(|a| f(a)).collect::<Vec<_>>();
        sqlx::query(UPDATE)
            .bind(tenant.as_str())
            .bind(text(|a| Some(a.id.as_str().to_string())))
            .bind(text(|a| Some(a.severity.as_str().to_string())))
            .bind(text(|a| Some(a.status.as_str().to_string())))
            .bind(int(|a| Some(a.end_ts)))
            .bind(int(|a| a.ack_ts))
            .bind(int(|a| a.clear_ts))
            .bind(known.iter().map(|a| details(a)).collect::<Vec<_>>())
            .bind(text(|a| a.assignee.clone()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    if !new.is_empty() {
        let text = |f: fn(&Alarm) -> Option<String>| new.iter().map(|(a, _)| f(a)).collect::<Vec<_>>();
        let int = |f: fn(&Alarm) -> Option<i64>| new.iter().map(|(a, _)| f(a)).collect::<Vec<_>>();
        sqlx::query(INSERT)
            .bind(tenant.as_str())
            .bind(text(|a| Some(a.id.as_str().to_string())))
            .bind(text(|a| Some(a.device_id.as_str().to_string())))
            .bind(text(|a| Some(a.alarm_type.clone())))
            .bind(text(|a| Some(a.severity.as_str().to_string())))
            .bind(text(|a| Some(a.status.as_str().to_string())))
            .bind(int(|a| Some(a.start_ts)))
            .bind(int(|a| Some(a.end_ts)))
            .bind(int(|a| a.ack_ts))
            .bind(int(|a| a.clear_ts))
            .bind(text(|a| a.binding_id.as_ref().map(|b| b.as_str().to_string())))
            .bind(new.iter().map(|(a, _)| details(a)).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, raised)| *raised).collect::<Vec<_>>())
            .bind(text(|a| a.well_id.as_ref().map(|w| w.as_str().to_string())))
            .bind(text(|a| a.wellpad_id.as_ref().map(|w| w.as_str().to_string())))
            .bind(text(|a| a.assignee.clone()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    let events: Vec<&AlarmTransition> = transitions.iter().filter(|t| t.action.is_event()).collect();
    if !events.is_empty() {
        let text = |f: fn(&AlarmTransition) -> String| events.iter().map(|t| f(t)).collect::<Vec<_>>();
        sqlx::query(EVENTS)
            .bind(tenant.as_str())
            .bind(text(|t| t.alarm.id.as_str().to_string()))
            .bind(events.iter().map(|t| t.ts).collect::<Vec<_>>())
            .bind(text(|t| t.action.as_str().to_string()))
            .bind(text(|t| t.alarm.status.as_str().to_string()))
            .bind(text(|t| t.alarm.severity.as_str().to_string()))
            .bind(text(|t| t.actor.to_string()))
            .bind(text(|t| t.alarm.details.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    for t in transitions {
        crate::alarms::insert_comment(tx, t).await?;
    }
    Ok(())
}
