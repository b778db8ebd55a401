//! Aggregated history and telemetry retention: time buckets aligned to the
//! query's start, numeric statistics and counts, the same answers on every
//! backend for a generated day of 1 Hz data, a tenant's old readings
//! deleted without touching another tenant's, and every tenant's expired
//! at once.

use nexus_model::{Bucket, Reading, Value};

use super::fixture::{T0, field};
use crate::{Effects, Store};

/// One day, ms.
const DAY: i64 = 86_400_000;

async fn commit(store: &dyn Store, tenant: &nexus_model::TenantId, readings: &[Reading]) {
    let mut effects = Effects::new(tenant, T0);
    effects.add_readings(readings);
    store.commit(effects).await.expect("commit");
}

/// Buckets are `[start + i·interval, start + (i+1)·interval)` clipped to
/// `[start, end)`; empty ones are left out; integers are numbers, text and
/// booleans only count; a re-delivered sample counts once; keys filter;
/// another tenant sees nothing. `history_newest` reads from the end.
pub async fn history_aggregates_into_buckets_from_the_start(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let reading = |key: &str, ts: i64, value: Value| Reading {
        device_id: a.device.id.clone(),
        key: key.into(),
        ts,
        value,
        quality: 1.0,
    };
    // p: 0..10 at T0 + i·1000 s (numbers, one integer); s: text every 2 s.
    let mut first: Vec<Reading> = (0..10)
        .map(|i| {
            let value = if i == 4 { Value::Integer(4) } else { Value::Number(i as f64) };
            reading("p", T0 + i * 1000, value)
        })
        .collect();
    first.extend((0..5).map(|i| reading("s", T0 + i * 2000, Value::Text(format!("t{i}")))));
    commit(store, &a.tenant, &first).await;
    // Re-delivered: p at T0 + 3000 becomes 30 (counted once).
    commit(store, &a.tenant, &[reading("p", T0 + 3000, Value::Number(30.0))]).await;

    // Start at T0 + 500, 3 s buckets, end at T0 + 8500: p's samples 1..=8.
    let buckets = store
        .aggregate(&a.tenant, &a.device.id, &["p".to_string()], T0 + 500, T0 + 8500, 3000)
        .await
        .expect("aggregate");
    let p = |index: i64, values: &[f64]| Bucket {
        key: "p".into(),
        index,
        avg: Some(values.iter().sum::<f64>() / values.len() as f64),
        min: values.iter().copied().reduce(f64::min),
        max: values.iter().copied().reduce(f64::max),
        sum: Some(values.iter().sum()),
        count: values.len() as i64,
    };
    assert_eq!(buckets, [p(0, &[1.0, 2.0, 30.0]), p(1, &[4.0, 5.0, 6.0]), p(2, &[7.0, 8.0])]);

    // All keys: text counts, has no statistics; a gap leaves no bucket.
    let all = store.aggregate(&a.tenant, &a.device.id, &[], T0, T0 + 20_000, 1000).await.expect("aggregate");
    let s: Vec<(i64, Option<f64>, i64)> =
        all.iter().filter(|b| b.key == "s").map(|b| (b.index, b.avg, b.count)).collect();
    assert_eq!(s, [(0, None, 1), (2, None, 1), (4, None, 1), (6, None, 1), (8, None, 1)]);
    assert_eq!(all.iter().filter(|b| b.key == "p").count(), 10);
    assert!(all.windows(2).all(|w| (&w[0].key, w[0].index) < (&w[1].key, w[1].index)), "ordered by (key, index)");

    let none = store.aggregate(&b.tenant, &a.device.id, &[], T0, T0 + 20_000, 1000).await.expect("aggregate");
    assert!(none.is_empty(), "tenant b sees a's buckets");
    let unknown = store.aggregate(&a.tenant, &a.device.id, &["q".into()], T0, T0 + 20_000, 1000).await;
    assert!(unknown.expect("aggregate").is_empty());

    let newest = store.history_newest(&a.tenant, &a.device.id, Some("p"), T0, T0 + 9000, 3).await.expect("newest");
    assert_eq!(newest.iter().map(|r| r.ts).collect::<Vec<_>>(), [T0 + 8000, T0 + 7000, T0 + 6000]);
    let both = store.history_newest(&a.tenant, &a.device.id, None, T0, T0 + 9000, 2).await.expect("newest");
    assert_eq!(
        both.iter().map(|r| (r.key.as_str(), r.ts)).collect::<Vec<_>>(),
        [("s", T0 + 8000), ("p", T0 + 8000)],
        "ties in descending key order"
    );
}

/// A deterministic value of second `i` of the day: a slow wave, a fast
/// ripple and a sawtooth, so buckets differ and sums are not round.
fn sample(i: i64) -> f64 {
    let t = i as f64;
    1500.0 + 120.0 * (t / 3600.0).sin() + 3.5 * (t / 7.0).cos() + (i * 7919 % 1000) as f64 / 997.0
}

/// Expected buckets of the day's samples (`values[i]` at `start + i` s).
fn expected(key: &str, values: &[f64], width_s: usize) -> Vec<Bucket> {
    values
        .chunks(width_s)
        .enumerate()
        .map(|(index, chunk)| {
            let sum: f64 = chunk.iter().sum();
            Bucket {
                key: key.into(),
                index: index as i64,
                avg: Some(sum / chunk.len() as f64),
                min: chunk.iter().copied().reduce(f64::min),
                max: chunk.iter().copied().reduce(f64::max),
                sum: Some(sum),
                count: chunk.len() as i64,
            }
        })
        .collect()
}

fn close(what: &str, got: Option<f64>, want: Option<f64>) {
    let (Some(got), Some(want)) = (got, want) else {
        assert_eq!(got, want, "{what}");
        return;
    };
    let tolerance = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tolerance, "{what}: got {got}, expected {want}");
}

fn compare(got: &[Bucket], want: &[Bucket], width: &str) {
    assert_eq!(got.len(), want.len(), "{width} buckets");
    for (g, w) in got.iter().zip(want) {
        let at = format!("{width} bucket {}", w.index);
        assert_eq!((&g.key, g.index, g.count), (&w.key, w.index, w.count), "{at}");
        close(&format!("{at} avg"), g.avg, w.avg);
        close(&format!("{at} min"), g.min, w.min);
        close(&format!("{at} max"), g.max, w.max);
        close(&format!("{at} sum"), g.sum, w.sum);
    }
}

/// Aggregation parity: a generated day of 1 Hz data (86 400 samples of one
/// key) gives per 1-minute and 1-hour bucket the AVG/MIN/MAX/SUM/COUNT
/// computed here from the same samples, to 1e-9 relative (so every backend
/// gives the same answers). Committed in batches of 8 640.
pub async fn a_day_at_one_hertz_aggregates_the_same_everywhere(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let start = T0 - T0.rem_euclid(DAY);
    let values: Vec<f64> = (0..86_400).map(sample).collect();
    for chunk in (0..86_400_i64).collect::<Vec<_>>().chunks(8640) {
        let readings: Vec<Reading> = chunk
            .iter()
            .map(|&i| Reading {
                device_id: a.device.id.clone(),
                key: "flow".into(),
                ts: start + i * 1000,
                value: Value::Number(values[i as usize]),
                quality: 1.0,
            })
            .collect();
        commit(store, &a.tenant, &readings).await;
    }
    let keys = ["flow".to_string()];
    let minutes = store.aggregate(&a.tenant, &a.device.id, &keys, start, start + DAY, 60_000).await.expect("minutes");
    compare(&minutes, &expected("flow", &values, 60), "1-minute");
    let hours = store.aggregate(&a.tenant, &a.device.id, &keys, start, start + DAY, 3_600_000).await.expect("hours");
    compare(&hours, &expected("flow", &values, 3600), "1-hour");
}

/// Keys `p` and `q` of the field's device once a day for ten days from
/// [`T0`], valued by the day.
fn ten_days(field: &super::fixture::Field) -> Vec<Reading> {
    (0..10)
        .flat_map(|i| {
            ["p", "q"].map(|key| Reading {
                device_id: field.device.id.clone(),
                key: key.into(),
                ts: T0 + i * DAY,
                value: Value::Number(i as f64),
                quality: 1.0,
            })
        })
        .collect()
}

/// Retention deletes the tenant's readings stamped before the cutoff, of
/// every device and key, keeps the rest and the latest values, and leaves
/// another tenant's old readings alone.
pub async fn telemetry_retention_deletes_one_tenants_old_readings(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    commit(store, &a.tenant, &ten_days(&a)).await;
    commit(store, &b.tenant, &ten_days(&b)).await;
    // Re-delivered old sample (SQLite keeps it apart until folded).
    commit(store, &a.tenant, &ten_days(&a)[..2]).await;

    let deleted = store.delete_telemetry_before(&a.tenant, T0 + 6 * DAY).await.expect("delete");
    assert!(deleted >= 12, "deleted {deleted} rows, expected at least 12");
    let left = store.history(&a.tenant, &a.device.id, None, 0, i64::MAX, 100).await.expect("history");
    assert_eq!(left.len(), 8, "a keeps days 6 to 9 of two keys");
    assert!(left.iter().all(|r| r.ts >= T0 + 6 * DAY));
    assert_eq!(store.count_readings(&a.tenant, &a.device.id).await.expect("count"), 8);
    let latest = store.latest(&a.tenant, &a.device.id, &[]).await.expect("latest");
    assert_eq!(latest.iter().map(|r| r.ts).collect::<Vec<_>>(), [T0 + 9 * DAY, T0 + 9 * DAY], "latest values stay");
    assert_eq!(store.count_readings(&b.tenant, &b.device.id).await.expect("count"), 20, "b lost readings");
    assert_eq!(store.delete_telemetry_before(&a.tenant, T0 + 6 * DAY).await.expect("again"), 0);
}

/// Expiring deletes every tenant's readings stamped before the cut-off, of
/// every device and key (a re-delivered sample too), keeps the rest and the
/// latest values, and finds nothing the second time.
pub async fn expiring_telemetry_deletes_every_tenants_older_readings(store: &dyn Store) {
    let fields = [field(store, "tenant-a").await, field(store, "tenant-b").await];
    for f in &fields {
        let readings = ten_days(f);
        commit(store, &f.tenant, &readings).await;
        // Re-delivered old samples (SQLite keeps them apart until folded).
        commit(store, &f.tenant, &readings[..2]).await;
    }

    let expired = store.expire_telemetry_before(T0 + 6 * DAY).await.expect("expire");
    // A dropped partition's rows are not counted; rows land in one here
    // only on a backend that keeps these days in partitions of their own.
    assert!(expired.rows >= 24 || expired.partitions > 0, "{expired:?}: expected at least 24 rows");
    for f in &fields {
        let left = store.history(&f.tenant, &f.device.id, None, 0, i64::MAX, 100).await.expect("history");
        assert_eq!(left.len(), 8, "{}: keeps days 6 to 9 of two keys", f.tenant);
        assert!(left.iter().all(|r| r.ts >= T0 + 6 * DAY));
        assert_eq!(store.count_readings(&f.tenant, &f.device.id).await.expect("count"), 8);
        let latest = store.latest(&f.tenant, &f.device.id, &[]).await.expect("latest");
        assert_eq!(latest.iter().map(|r| r.ts).collect::<Vec<_>>(), [T0 + 9 * DAY; 2], "latest values stay");
    }
    let again = store.expire_telemetry_before(T0 + 6 * DAY).await.expect("again");
    assert_eq!((again.partitions, again.rows), (0, 0), "a second expiry found more");
}
