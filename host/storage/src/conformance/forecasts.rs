//! Forecasts: a commit stores each (device, key)'s newest, replacing the
//! last, with an event; never across tenants.

use nexus_model::{EventBody, EventSeq, Forecast, ForecastPoint};

use super::fixture::{T0, field};
use crate::{Effects, ForecastWrite, StorageError, Store};

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
