//! Chunks (`src/chunks.rs`): a commit's new samples of a series as one
//! row, kept as they are; what reads, buckets, deletes and re-deliveries
//! make of them.

use nexus_model::TenantId;
use nexus_storage_sqlite::SqliteStore;

use super::{readings, temp_dir};

/// The samples of a series committed together go as one chunk when
/// nothing stored of it falls within their span; a late or re-delivered
/// sample unpacks the chunk it falls in into rows before it replaces the
/// stored one; reads, counts and ranges are the same whatever holds the
/// samples, before and after a fold, which moves the rows and leaves the
/// chunks where they are.
#[tokio::test]
async fn new_samples_go_as_a_chunk_and_a_late_one_unpacks_its_chunk() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let store = SqliteStore::in_memory_unfolded().await.expect("store");
    let tenant = TenantId::new("t");
    let device = nexus_model::DeviceId::new("d1");
    let commit = |points: Vec<(i64, f64)>| {
        let mut effects = Effects::new(&tenant, 0);
        effects.add_readings(&readings(&device, "p", &points));
        let store = store.clone();
        async move { store.commit(effects).await.expect("commit") }
    };
    let mut expected: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    // Notes what is written, for `check`.
    fn noted(expected: &mut std::collections::BTreeMap<i64, f64>, points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
        expected.extend(points.iter().copied());
        points
    }
    let check = |expected: Vec<(i64, f64)>, when: &'static str| {
        let store = store.clone();
        let (tenant, device) = (tenant.clone(), device.clone());
        async move {
            let history = store.history(&tenant, &device, Some("p"), 0, i64::MAX, 10_000).await.expect("history");
            let read: Vec<(i64, f64)> = history.iter().map(|r| (r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect();
            assert_eq!(read, expected, "{when}");
            assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), expected.len() as i64, "{when}");
            let newest = store.history_newest(&tenant, &device, Some("p"), 0, i64::MAX, 5).await.expect("newest");
            let newest: Vec<i64> = newest.iter().map(|r| r.ts).collect();
            let last: Vec<i64> = expected.iter().rev().take(5).map(|(ts, _)| *ts).collect();
            assert_eq!(newest, last, "{when}: the newest, newest first");
            let inside = store.history(&tenant, &device, Some("p"), 120, 130, 100).await.expect("range");
            let want: Vec<i64> = expected.iter().map(|(ts, _)| *ts).filter(|ts| (120..130).contains(ts)).collect();
            assert_eq!(inside.iter().map(|r| r.ts).collect::<Vec<_>>(), want, "{when}: a range inside a chunk");
        }
    };
    commit(noted(&mut expected, (0..100).map(|ts| (ts, ts as f64)).collect())).await;
    commit(noted(&mut expected, (100..150).map(|ts| (ts, ts as f64)).collect())).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 2, "new samples did not go as chunks");
    assert_eq!(store.recent_rows().await.expect("recent"), 0, "chunked samples were written as rows too");
    check(expected.clone().into_iter().collect(), "two chunks").await;
    // A re-delivered sample unpacks the chunk it falls in, not the other,
    // and replaces it.
    commit(noted(&mut expected, vec![(10, -1.0)])).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 1, "the late sample unpacked too few or too many");
    check(expected.clone().into_iter().collect(), "unpacked").await;
    // Enough for a chunk, but overlapping what is stored: rows.
    commit(noted(&mut expected, (140..160).map(|ts| (ts, -(ts as f64))).collect())).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 0, "an overlapping run went as a chunk");
    // New again: a chunk; then fewer than a chunk's worth of new samples:
    // rows, the chunk untouched.
    commit(noted(&mut expected, (200..300).map(|ts| (ts, ts as f64)).collect())).await;
    commit(noted(&mut expected, (300..305).map(|ts| (ts, ts as f64)).collect())).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 1);
    check(expected.clone().into_iter().collect(), "rows and a chunk").await;
    assert_eq!(store.fold_recent().await.expect("fold"), 165, "the fold moved other than the recent rows");
    let left = (store.telemetry_chunks().await.expect("chunks"), store.recent_rows().await.expect("recent"));
    assert_eq!(left, (1, 0), "the fold moved the chunk, or left rows");
    check(expected.clone().into_iter().collect(), "folded").await;
    // A chunk after folded rows, then a late sample in the chunk that was
    // left (which unpacks it) and a re-delivery of a folded sample.
    commit(noted(&mut expected, (400..500).map(|ts| (ts, ts as f64)).collect())).await;
    commit(noted(&mut expected, vec![(250, 2.5), (120, 1.5)])).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 1, "a late sample outside the chunk unpacked it");
    commit(noted(&mut expected, vec![(450, 4.5)])).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 0, "a late sample inside the chunk left it");
    // Older samples that overlap nothing stored go as a chunk too.
    commit(noted(&mut expected, (600..700).map(|ts| (ts, ts as f64)).collect())).await;
    commit(noted(&mut expected, (520..560).map(|ts| (ts, ts as f64)).collect())).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 2, "a backfill between stored samples went as rows");
    check(expected.clone().into_iter().collect(), "a backfill chunk").await;
    check(expected.clone().into_iter().collect(), "a chunk after folded rows").await;
    let latest = store.latest(&tenant, &device, &[]).await.expect("latest");
    assert_eq!((latest[0].ts, latest[0].value.as_f64()), (699, Some(699.0)), "the backfill took the latest value back");
    // A long run goes as chunks of at most 1 024 samples.
    commit(noted(&mut expected, (1_000..3_500).map(|ts| (ts, ts as f64)).collect())).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 5, "2 500 samples are not three chunks");
    check(expected.clone().into_iter().collect(), "a long run").await;
}

/// A store skips the overlap check for samples newer than anything it
/// knows to be stored; a store opened afresh knows nothing yet, so a
/// re-delivery into a chunk written before the restart still unpacks it,
/// and samples that go on in time after it still go as chunks.
#[tokio::test]
async fn a_store_opened_again_still_unpacks_a_chunk_for_a_redelivery() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let dir = temp_dir();
    let (tenant, device) = (TenantId::new("t"), nexus_model::DeviceId::new("d1"));
    let commit = |store: SqliteStore, points: Vec<(i64, f64)>| {
        let mut effects = Effects::new(&tenant, 0);
        effects.add_readings(&readings(&device, "p", &points));
        async move { store.commit(effects).await.expect("commit") }
    };
    let store = SqliteStore::open(&dir).await.expect("store");
    commit(store.clone(), (0..100).map(|ts| (ts, ts as f64)).collect()).await;
    commit(store.clone(), (100..200).map(|ts| (ts, ts as f64)).collect()).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 2);
    drop(store);
    let store = SqliteStore::open(&dir).await.expect("opens again");
    commit(store.clone(), vec![(150, -1.0)]).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 1, "the re-delivery did not unpack its chunk");
    commit(store.clone(), (200..300).map(|ts| (ts, ts as f64)).collect()).await;
    commit(store.clone(), vec![(250, -2.0)]).await;
    commit(store.clone(), (300..400).map(|ts| (ts, ts as f64)).collect()).await;
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 2, "samples going on in time did not go as chunks");
    let history = store.history(&tenant, &device, Some("p"), 0, i64::MAX, 1_000).await.expect("history");
    let read: Vec<(i64, f64)> = history.iter().map(|r| (r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect();
    let expected: Vec<(i64, f64)> = (0..400)
        .map(|ts| {
            (
                ts,
                if ts == 150 {
                    -1.0
                } else if ts == 250 {
                    -2.0
                } else {
                    ts as f64
                },
            )
        })
        .collect();
    assert_eq!(read, expected);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chunks stay as they are, so a limited read of a long history must take
/// exactly the oldest or newest samples from chunks and the rows between
/// them: 40 chunks of 20 samples with a few rows between some of them,
/// read from both ends with limits that end inside a chunk, between
/// chunks and past the end, over ranges that cut chunks; and buckets over
/// all of them.
#[tokio::test]
async fn limited_reads_take_the_right_samples_from_many_chunks_and_the_rows_between() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let store = SqliteStore::in_memory().await.expect("store");
    let tenant = TenantId::new("t");
    let device = nexus_model::DeviceId::new("d1");
    let mut expected = std::collections::BTreeMap::new();
    for k in 0..40i64 {
        let mut effects = Effects::new(&tenant, 0);
        let mut points: Vec<(i64, f64)> = (k * 100..k * 100 + 20).map(|ts| (ts, ts as f64)).collect();
        effects.add_readings(&readings(&device, "p", &points));
        store.commit(effects).await.expect("commit");
        if k % 3 == 1 {
            // Fewer than a chunk's worth, between chunks: rows.
            let rows: Vec<(i64, f64)> = (k * 100 + 50..k * 100 + 53).map(|ts| (ts, -(ts as f64))).collect();
            let mut effects = Effects::new(&tenant, 0);
            effects.add_readings(&readings(&device, "p", &rows));
            store.commit(effects).await.expect("commit");
            points.extend(rows);
        }
        expected.extend(points);
    }
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 40, "a chunk was unpacked or not written");
    store.fold_recent().await.expect("fold");
    let ts = |readings: Vec<nexus_model::Reading>| -> Vec<(i64, Option<f64>)> {
        readings.into_iter().map(|r| (r.ts, r.value.as_f64())).collect()
    };
    for (start, end) in [(0, i64::MAX), (1_010, 2_755), (3_951, 3_960), (4_000, 5_000)] {
        let inside: Vec<(i64, Option<f64>)> = expected.range(start..end).map(|(&ts, &v)| (ts, Some(v))).collect();
        for limit in [1usize, 5, 19, 20, 21, 25, 100, 10_000] {
            let read = store.history(&tenant, &device, Some("p"), start, end, limit as u32).await.expect("history");
            let oldest: Vec<_> = inside.iter().take(limit).copied().collect();
            assert_eq!(ts(read), oldest, "the oldest {limit} in [{start}, {end})");
            let read = store.history_newest(&tenant, &device, Some("p"), start, end, limit as u32).await;
            let newest: Vec<_> = inside.iter().rev().take(limit).copied().collect();
            assert_eq!(ts(read.expect("newest")), newest, "the newest {limit} in [{start}, {end})");
        }
    }
    // Buckets over every chunk (more than one page of them) and the rows.
    let buckets = store.aggregate(&tenant, &device, &[], 30, 3_900, 250).await.expect("aggregate");
    let mut want: std::collections::BTreeMap<i64, Vec<f64>> = std::collections::BTreeMap::new();
    for (&ts, &v) in expected.range(30..3_900) {
        want.entry((ts - 30) / 250).or_default().push(v);
    }
    assert_eq!(buckets.iter().map(|b| b.index).collect::<Vec<_>>(), want.keys().copied().collect::<Vec<_>>());
    for (bucket, values) in buckets.iter().zip(want.values()) {
        let sum: f64 = values.iter().sum();
        assert_eq!(bucket.count, values.len() as i64, "bucket {}", bucket.index);
        assert!((bucket.sum.expect("sum") - sum).abs() <= 1e-9 * sum.abs().max(1.0), "bucket {}", bucket.index);
        assert_eq!(bucket.min, values.iter().copied().reduce(f64::min), "bucket {}", bucket.index);
        assert_eq!(bucket.max, values.iter().copied().reduce(f64::max), "bucket {}", bucket.index);
    }
}

/// Buckets add the chunks' samples to the rows', folded or recent, of every
/// type (integers count as numbers; booleans and text only in the count),
/// and give the same figures before and after a fold.
#[tokio::test]
async fn aggregates_add_chunked_samples_to_the_rows() {
    use nexus_model::{Reading, Value};
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let store = SqliteStore::in_memory_unfolded().await.expect("store");
    let tenant = TenantId::new("t");
    let device = nexus_model::DeviceId::new("d1");
    let value = |key: &str, ts: i64| match key {
        "n" => Value::Number(ts as f64 * 0.5 - 40.0),
        "i" => Value::Integer(ts % 17 - 8),
        "b" => Value::Boolean(ts % 2 == 0),
        _ => Value::Text(format!("s{ts}")),
    };
    let mut all: Vec<(String, i64, Value)> = Vec::new();
    // Folded rows (small frames, folded), chunks, then recent rows.
    let runs: [(i64, i64); 4] = [(0, 5), (5, 10), (10, 130), (130, 134)];
    for (n, (from, to)) in runs.into_iter().enumerate() {
        for key in ["n", "i", "b", "s"] {
            let points: Vec<Reading> = (from..to)
                .map(|ts| Reading {
                    device_id: device.clone(),
                    key: key.into(),
                    ts,
                    value: value(key, ts),
                    quality: 1.0,
                })
                .collect();
            let mut effects = Effects::new(&tenant, 0);
            effects.add_readings(&points);
            store.commit(effects).await.expect("commit");
            all.extend(points.into_iter().map(|r| (r.key, r.ts, r.value)));
        }
        if n == 1 {
            store.fold_recent().await.expect("fold");
        }
    }
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 4, "the middle run did not go as chunks");
    let (start, end, width) = (3, 131, 20);
    let mut want: std::collections::BTreeMap<(String, i64), (i64, Vec<f64>)> = std::collections::BTreeMap::new();
    for (key, ts, value) in &all {
        if (start..end).contains(ts) {
            let bucket = want.entry((key.clone(), (ts - start) / width)).or_default();
            bucket.0 += 1;
            match value {
                Value::Number(v) => bucket.1.push(*v),
                Value::Integer(v) => bucket.1.push(*v as f64),
                _ => {}
            }
        }
    }
    for when in ["chunks and rows", "folded"] {
        let buckets = store.aggregate(&tenant, &device, &[], start, end, width).await.expect("aggregate");
        assert_eq!(buckets.len(), want.len(), "{when}");
        for (bucket, ((key, index), (count, numbers))) in buckets.iter().zip(&want) {
            assert_eq!((&bucket.key, bucket.index, bucket.count), (key, *index, *count), "{when}");
            let sum: f64 = numbers.iter().sum();
            let close = |got: Option<f64>, want: Option<f64>| match (got, want) {
                (Some(g), Some(w)) => (g - w).abs() < 1e-9,
                (g, w) => g == w,
            };
            let min = numbers.iter().copied().reduce(f64::min);
            let max = numbers.iter().copied().reduce(f64::max);
            let (sum, avg) =
                if numbers.is_empty() { (None, None) } else { (Some(sum), Some(sum / numbers.len() as f64)) };
            assert!(
                close(bucket.sum, sum) && close(bucket.avg, avg) && bucket.min == min && bucket.max == max,
                "{when}: {bucket:?} against sum {sum:?} avg {avg:?} min {min:?} max {max:?}"
            );
        }
        store.fold_recent().await.expect("fold");
    }
}

/// Deleting telemetry before a time takes whole chunks before it and cuts
/// the one that straddles it, counting samples, not chunks.
#[tokio::test]
async fn deleting_before_a_time_cuts_the_chunk_that_straddles_it() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let store = SqliteStore::in_memory_unfolded().await.expect("store");
    let tenant = TenantId::new("t");
    let device = nexus_model::DeviceId::new("d1");
    for (from, to) in [(0, 100), (100, 200)] {
        let mut effects = Effects::new(&tenant, 0);
        effects.add_readings(&readings(&device, "p", &(from..to).map(|ts| (ts, ts as f64)).collect::<Vec<_>>()));
        store.commit(effects).await.expect("commit");
    }
    assert_eq!(store.telemetry_chunks().await.expect("chunks"), 2);
    assert_eq!(store.delete_telemetry_before(&TenantId::new("u"), 150).await.expect("delete"), 0, "another tenant's");
    assert_eq!(store.delete_telemetry_before(&tenant, 150).await.expect("delete"), 150);
    let history = store.history(&tenant, &device, Some("p"), 0, i64::MAX, 1000).await.expect("history");
    assert_eq!(history.iter().map(|r| r.ts).collect::<Vec<_>>(), (150..200).collect::<Vec<_>>());
    assert_eq!(store.expire_telemetry_before(175).await.expect("expire").rows, 25);
    store.fold_recent().await.expect("fold");
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 25);
    let history = store.history(&tenant, &device, Some("p"), 0, i64::MAX, 1000).await.expect("history");
    assert_eq!(history.iter().map(|r| r.ts).collect::<Vec<_>>(), (175..200).collect::<Vec<_>>());
}
