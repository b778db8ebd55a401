//! Well tests: kept per well, newest first, once per well and start time,
//! each with its event, never seen by another tenant.

use nexus_model::{EntityAction, EntityKind, EventBody, WellTest};

use super::fixture::{T0, admin, field};
use crate::{StorageError, Store};

fn test_at(ts: i64, oil: f64) -> WellTest {
    WellTest {
        ts,
        duration_h: 12.0,
        oil_bbl_d: oil,
        water_bbl_d: 2.5 * oil,
        gas_mscf_d: 0.1,
        conditions: serde_json::json!({"frequency_hz": 50.0, "intake_pressure_psi": 420.5}),
    }
}

/// Tests of a well come back whole, newest first, at most `limit`; a second
/// test of the same well at the same start time is a conflict and changes
/// nothing; another tenant's well is not found, to record or to read; every
/// record appends one `well_test` created event.
pub async fn well_tests_are_kept_per_well_newest_first_once_per_start(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let head = store.head().await.expect("head");
    let (older, newer) = (test_at(T0 - 86_400_000, 400.0), test_at(T0, 371.4));
    store.record_well_test(&a.tenant, &a.well.id, &older, &admin(), T0 + 1).await.expect("older");
    let recorded = store.record_well_test(&a.tenant, &a.well.id, &newer, &admin(), T0 + 2).await.expect("newer");
    assert_eq!(recorded.test, newer);
    assert_eq!((recorded.well_id.clone(), recorded.created_time), (a.well.id.clone(), T0 + 2));

    let again = store.record_well_test(&a.tenant, &a.well.id, &test_at(T0, 1.0), &admin(), T0 + 3).await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    let tests = store.well_tests(&a.tenant, &a.well.id, 10).await.expect("tests");
    assert_eq!(tests.iter().map(|t| t.test.clone()).collect::<Vec<_>>(), [newer.clone(), older], "newest first");
    assert_eq!(tests[0], recorded, "read back as recorded");
    let newest = store.well_tests(&a.tenant, &a.well.id, 1).await.expect("newest");
    assert_eq!(newest.iter().map(|t| t.test.ts).collect::<Vec<_>>(), [T0]);

    let foreign = store.record_well_test(&b.tenant, &a.well.id, &test_at(T0 + 5, 1.0), &admin(), T0).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    let peek = store.well_tests(&b.tenant, &a.well.id, 10).await;
    assert!(matches!(peek, Err(StorageError::NotFound { .. })), "{peek:?}");
    assert!(store.well_tests(&b.tenant, &b.well.id, 10).await.expect("b's").is_empty());

    let events = store.events_after(head, 100).await.expect("events");
    let created: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Entity(c) if c.kind == EntityKind::WellTest => Some((e.tenant_id.clone(), c)),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 2, "one event per recorded test: {created:?}");
    assert!(created.iter().all(|(t, c)| *t == a.tenant && c.action == EntityAction::Created));
    assert_eq!(created[1].1.id, recorded.id.to_string());
}
