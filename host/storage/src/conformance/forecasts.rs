//! Forecasts: a commit stores each (device, key)'s newest, replacing the
//! last, with an event; never across tenants. And what scheduled bindings
//! keep beside them: a cron schedule and an auto-approve policy.

use nexus_model::{
    AutoApprove, CronSchedule, EntityAction, EventBody, EventSeq, Forecast, ForecastPoint, Limits, PluginKind,
};

use super::fixture::{T0, admin, field, plugin};
use crate::{Effects, ForecastWrite, NewBinding, StorageError, Store};

fn forecast(device: &nexus_model::DeviceId, key: &str, first: f64) -> Forecast {
    Forecast {
        device_id: device.clone(),
        key: key.into(),
        unit: "bbl/d".into(),
        points: (1..=3)
            .map(|d| {
                let value = first * 0.99f64.powi(d);
                ForecastPoint { ts: T0 + i64::from(d) * 86_400_000, value, low: value * 0.9, high: value * 1.1 }
            })
            .collect(),
        model: serde_json::json!({ "family": "exponential", "d": 0.01 }),
    }
}

/// A committed forecast reads back whole with its binding and issue time; a
/// newer one of the same key replaces it and other keys stay; each is an
/// event; a forecast committed under another tenant for this device is not
/// stored, and that tenant cannot read this device's forecasts.
pub async fn forecasts_keep_the_newest_per_device_and_key(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let device = &a.device.id;
    assert!(store.forecasts(&a.tenant, device).await.expect("none yet").is_empty());
    let first = ForecastWrite { binding_id: a.binding.id.clone(), forecast: forecast(device, "oil_rate", 1000.0) };
    let water = ForecastWrite { binding_id: a.binding.id.clone(), forecast: forecast(device, "water_rate", 300.0) };
    let mut effects = Effects::new(&a.tenant, T0);
    effects.forecasts = vec![first.clone(), water.clone()];
    store.commit(effects).await.expect("commit");
    assert_eq!(store.forecasts(&a.tenant, device).await.expect("read"), [first.stored(T0), water.stored(T0)]);

    let newer = ForecastWrite { binding_id: a.binding.id.clone(), forecast: forecast(device, "oil_rate", 900.0) };
    let mut effects = Effects::new(&a.tenant, T0 + 1000);
    effects.forecasts.push(newer.clone());
    store.commit(effects).await.expect("commit");
    assert_eq!(
        store.forecasts(&a.tenant, device).await.expect("read"),
        [newer.stored(T0 + 1000), water.stored(T0)],
        "the newer oil forecast replaced the first; water stayed"
    );

    let mut sneaky = Effects::new(&b.tenant, T0 + 2000);
    sneaky
        .forecasts
        .push(ForecastWrite { binding_id: b.binding.id.clone(), forecast: forecast(device, "oil_rate", 1.0) });
    store.commit(sneaky).await.expect("commit");
    assert_eq!(store.forecasts(&a.tenant, device).await.expect("read")[0], newer.stored(T0 + 1000));
    assert!(matches!(store.forecasts(&b.tenant, device).await, Err(StorageError::NotFound { .. })));

    let events = store.events_after(EventSeq(0), 1000).await.expect("events");
    let issued: Vec<(f64, i64)> = events
        .iter()
        .filter(|e| e.tenant_id == a.tenant)
        .filter_map(|e| match &e.body {
            EventBody::Forecast(f) if f.forecast.key == "oil_rate" => Some((f.forecast.points[0].value, f.issued_at)),
            _ => None,
        })
        .collect();
    assert_eq!(issued, [(first.forecast.points[0].value, T0), (newer.forecast.points[0].value, T0 + 1000)]);
}

/// An optimizer binding keeps its cron schedule and auto-approve policy
/// whole; setting the policy again replaces it, `None` removes it, each an
/// entity event; another tenant cannot set it.
pub async fn bindings_keep_their_cron_schedule_and_auto_approve_policy(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let optimizer = plugin(store, &a.tenant, PluginKind::Optimizer, "2.0.0").await;
    let cron = CronSchedule { expression: "0 6 * * 1-5".into(), time_zone: "America/Chicago".into() };
    let policy = AutoApprove {
        parameters: vec!["frequency_hz".into()],
        min: Some(45.0),
        max: Some(55.0),
        max_step: 1.0,
        min_confidence: 0.5,
    };
    let new = NewBinding {
        tenant_id: &a.tenant,
        plugin_id: &optimizer.id,
        config: &serde_json::json!({}),
        limits: &Limits::for_kind(PluginKind::Optimizer),
        schedule_ms: None,
        schedule_cron: Some(cron.clone()),
        auto_approve: Some(policy.clone()),
        propagate: false,
        device_ids: std::slice::from_ref(&a.device.id),
    };
    let made = store.insert_binding(&new, &admin(), T0).await.expect("binding");
    let read = store.binding(&a.tenant, &made.id).await.expect("read");
    assert_eq!((read.schedule_cron.as_ref(), read.auto_approve.as_ref()), (Some(&cron), Some(&policy)));
    assert_eq!(read, made);

    let wider = AutoApprove { parameters: Vec::new(), min: None, max: None, max_step: 2.0, min_confidence: 0.0 };
    let set = store.set_auto_approve(&a.tenant, &made.id, Some(&wider), &admin(), T0 + 1).await.expect("set");
    assert_eq!(set.auto_approve, Some(wider.clone()));
    assert_eq!(set.schedule_cron, Some(cron), "the schedule stays");
    let foreign = store.set_auto_approve(&b.tenant, &made.id, None, &admin(), T0 + 2).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    assert_eq!(store.binding(&a.tenant, &made.id).await.expect("read").auto_approve, Some(wider));
    let off = store.set_auto_approve(&a.tenant, &made.id, None, &admin(), T0 + 3).await.expect("off");
    assert_eq!(off.auto_approve, None);

    let events = store.events_after(EventSeq(0), 1000).await.expect("events");
    let updates = events
        .iter()
        .filter(|e| match &e.body {
            EventBody::Entity(c) => c.id == made.id.as_str() && c.action == EntityAction::Updated,
            _ => false,
        })
        .count();
    assert_eq!(updates, 2, "one event per change of the policy");
}
