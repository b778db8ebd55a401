//! Recommendations' lives: a step happens only from the status it names,
//! each is a row and an event, a newer recommendation supersedes the
//! proposed ones it replaces (and no other), and nothing crosses tenants.

use nexus_model::{Actor, EventBody, Recommendation, RecommendationStatus as S, StoredRecommendation};

use super::fixture::{Field, T0, field};
use crate::{Effects, NewRecommendation, StorageError, Store};

async fn recommend(store: &dyn Store, a: &Field, parameter: &str, value: f64, at: i64) -> StoredRecommendation {
    let mut effects = Effects::new(&a.tenant, at);
    effects.recommendations.push(NewRecommendation {
        binding_id: a.binding.id.clone(),
        well_id: Some(a.well.id.clone()),
        recommendation: Recommendation {
            device_id: a.device.id.clone(),
            parameter: parameter.into(),
            current_value: 50.0,
            proposed_value: value,
            unit: "Hz".into(),
            expected_gain: 10.0,
            gain_unit: "bbl/d".into(),
            confidence: 0.8,
            rationale: "because".into(),
            details: serde_json::json!({}),
        },
    });
    store.commit(effects).await.expect("commit").recommendations.remove(0)
}

/// Proposed → approved → sent → confirmed, each step from its status only,
/// with actor and reason, as rows and events; a new recommendation of the
/// same binding, device and parameter supersedes the proposed one (not one
/// of another parameter, not an approved one); another tenant finds none.
pub async fn recommendations_move_one_checked_step_at_a_time(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let operator = Actor::user("olga");
    let first = recommend(store, &a, "frequency_hz", 51.0, T0).await;
    assert_eq!(first.status, S::Proposed);
    let other = recommend(store, &a, "choke_64ths", 30.0, T0 + 1).await;

    // A step from a status it is not in is a conflict and changes nothing.
    let wrong = store.transition_recommendation(&a.tenant, &first.id, S::Approved, S::Sent, &operator, None, T0).await;
    assert!(matches!(wrong, Err(StorageError::Conflict(ref m)) if m.contains("PROPOSED")), "{wrong:?}");
    let (approved, step) = store
        .transition_recommendation(&a.tenant, &first.id, S::Proposed, S::Approved, &operator, Some("go"), T0 + 2)
        .await
        .expect("approve");
    assert_eq!((approved.status, step.from, step.to), (S::Approved, S::Proposed, S::Approved));
    assert_eq!(store.recommendation(&a.tenant, &first.id).await.expect("read").status, S::Approved);
    let twice =
        store.transition_recommendation(&a.tenant, &first.id, S::Proposed, S::Approved, &operator, None, T0).await;
    assert!(matches!(twice, Err(StorageError::Conflict(_))), "approved twice: {twice:?}");
    let writer = Actor::system("setpoint-writer");
    for (from, to) in [(S::Approved, S::Sent), (S::Sent, S::Confirmed)] {
        store
            .transition_recommendation(&a.tenant, &first.id, from, to, &writer, Some("read back 51"), T0 + 3)
            .await
            .expect("step");
    }
    let steps = store.recommendation_transitions(&a.tenant, &first.id).await.expect("steps");
    let path: Vec<(S, S, String)> = steps.iter().map(|t| (t.from, t.to, t.actor.to_string())).collect();
    assert_eq!(
        path,
        [
            (S::Proposed, S::Approved, "user:olga".to_string()),
            (S::Approved, S::Sent, "system:setpoint-writer".to_string()),
            (S::Sent, S::Confirmed, "system:setpoint-writer".to_string()),
        ]
    );
    assert_eq!(steps[0].reason.as_deref(), Some("go"));

    // A newer frequency recommendation supersedes the proposed one of the
    // same parameter only; the confirmed one and the choke one stay.
    let second = recommend(store, &a, "frequency_hz", 52.0, T0 + 10).await;
    let third = recommend(store, &a, "frequency_hz", 52.5, T0 + 11).await;
    let status = |r: &StoredRecommendation| {
        let id = r.id.clone();
        let tenant = a.tenant.clone();
        async move { store.recommendation(&tenant, &id).await.expect("read").status }
    };
    assert_eq!(status(&first).await, S::Confirmed);
    assert_eq!(status(&other).await, S::Proposed);
    assert_eq!(status(&second).await, S::Superseded);
    assert_eq!(status(&third).await, S::Proposed);
    let superseded = store.recommendation_transitions(&a.tenant, &second.id).await.expect("steps");
    assert_eq!(superseded.len(), 1);
    assert!(superseded[0].reason.as_deref().is_some_and(|r| r.contains(third.id.as_str())), "{superseded:?}");
    let late =
        store.transition_recommendation(&a.tenant, &second.id, S::Proposed, S::Approved, &operator, None, T0).await;
    assert!(matches!(late, Err(StorageError::Conflict(ref m)) if m.contains("SUPERSEDED")), "{late:?}");

    // Events: one per step and per supersession.
    let events = store.tenant_events(&a.tenant, nexus_model::EventSeq(0), 1000).await.expect("events");
    let changed = events.iter().filter(|e| matches!(e.body, EventBody::RecommendationChanged(_))).count();
    assert_eq!(changed, 4, "three steps and one supersession");

    // Another tenant: not found, to read, to step or to list.
    let foreign =
        store.transition_recommendation(&b.tenant, &third.id, S::Proposed, S::Rejected, &operator, None, T0).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    assert!(matches!(store.recommendation(&b.tenant, &third.id).await, Err(StorageError::NotFound { .. })));
    assert!(matches!(store.recommendation_transitions(&b.tenant, &first.id).await, Err(StorageError::NotFound { .. })));
    assert_eq!(status(&third).await, S::Proposed);

    // The sweep's read: by status and age, across tenants, oldest first.
    let ids = |rs: Vec<StoredRecommendation>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let b_first = recommend(store, &b, "frequency_hz", 49.0, T0 + 5).await;
    let proposed = store.recommendations_in(S::Proposed, T0 + 100, 10).await.expect("proposed");
    assert_eq!(ids(proposed), [other.id.clone(), b_first.id.clone(), third.id.clone()]);
    let older = store.recommendations_in(S::Proposed, T0 + 6, 10).await.expect("older");
    assert_eq!(ids(older), [other.id.clone(), b_first.id.clone()], "made before T0 + 6 only");
    let oldest = store.recommendations_in(S::Proposed, T0 + 100, 1).await.expect("one");
    assert_eq!(ids(oldest), [other.id]);
    assert_eq!(ids(store.recommendations_in(S::Confirmed, T0 + 100, 10).await.expect("confirmed")), [first.id]);
}
