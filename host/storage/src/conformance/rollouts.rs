//! Rollouts: a binding has at most one; a step applies only to the rollout
//! it expects; a promotion moves the binding to the candidate with the old
//! version as its previous one; each step is an event, in its transaction.

use nexus_model::{
    Actor, EventBody, EventSeq, PluginKind, Rollout, RolloutEvent, RolloutMode, RolloutStep, RolloutTally, TenantId,
};

use super::fixture::{T0, field, plugin};
use crate::{RolloutChange, StorageError, Store};

fn event(binding: &nexus_model::BindingId, rollout: &Rollout, step: RolloutStep) -> RolloutEvent {
    RolloutEvent {
        binding_id: binding.clone(),
        step,
        actor: Actor::system("rollout"),
        mode: rollout.mode,
        plugin_id: "in-use".into(),
        candidate_plugin_id: rollout.candidate_plugin_id.clone(),
        tally: RolloutTally { calls: 3, faults: 1, ..Default::default() },
        reason: None,
        device_id: None,
        outputs: None,
    }
}

/// A rollout starts once, ends once, and a promotion is a switch.
pub async fn a_rollout_starts_once_and_ends_once_with_its_events(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let v2 = plugin(store, &a.tenant, PluginKind::AlarmRule, "2.0.0").await;
    let binding = &a.binding.id;
    let rollout = Rollout {
        candidate_plugin_id: v2.id.clone(),
        mode: RolloutMode::Canary,
        percent: 25,
        window_ms: 60_000,
        max_fault_rate: 0.1,
        max_disagreement_rate: 0.1,
        min_calls: 5,
        started_time: T0 + 1,
    };
    let started = event(binding, &rollout, RolloutStep::Started);
    let start = RolloutChange { expected: None, rollout: Some(&rollout), promote_to: None, event: &started };
    let stored = store.change_rollout(&a.tenant, binding, &start, T0 + 1).await.expect("started");
    assert_eq!((stored.rollout.as_ref(), &stored.plugin_id), (Some(&rollout), &a.binding.plugin_id));
    let read = store.binding(&a.tenant, binding).await.expect("binding");
    assert_eq!(read.rollout.as_ref(), Some(&rollout), "kept whole");
    let twice = store.change_rollout(&a.tenant, binding, &start, T0 + 2).await;
    assert!(matches!(twice, Err(StorageError::Conflict(_))), "{twice:?}");
    let elsewhere = store.change_rollout(&TenantId::new("tenant-b"), binding, &start, T0 + 2).await;
    assert!(matches!(elsewhere, Err(StorageError::NotFound { .. })), "{elsewhere:?}");

    // A step expecting another rollout changes nothing.
    let promoted = event(binding, &rollout, RolloutStep::Promoted);
    let stale = RolloutChange { expected: Some(T0), rollout: None, promote_to: Some(&v2.id), event: &promoted };
    let refused = store.change_rollout(&a.tenant, binding, &stale, T0 + 3).await;
    assert!(matches!(refused, Err(StorageError::Conflict(_))), "{refused:?}");
    assert_eq!(store.binding(&a.tenant, binding).await.expect("binding").plugin_id, a.binding.plugin_id);

    let promote = RolloutChange { expected: Some(T0 + 1), ..stale };
    let after = store.change_rollout(&a.tenant, binding, &promote, T0 + 4).await.expect("promoted");
    assert_eq!(
        (after.rollout, &after.plugin_id, after.previous_plugin_id.as_ref()),
        (None, &v2.id, Some(&a.binding.plugin_id))
    );
    let again = store.change_rollout(&a.tenant, binding, &promote, T0 + 5).await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "ends once: {again:?}");

    let steps: Vec<(RolloutStep, u64)> = store
        .events_after(EventSeq(0), 1000)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Rollout(r) if r.binding_id == *binding => Some((r.step, r.tally.calls)),
            _ => None,
        })
        .collect();
    assert_eq!(steps, [(RolloutStep::Started, 3), (RolloutStep::Promoted, 3)]);
}
