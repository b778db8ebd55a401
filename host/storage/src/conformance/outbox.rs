//! The outbox's order and the subscribers' cursors.

use nexus_model::{EventSeq, Reading, Value};

use super::fixture::{T0, field};
use crate::Store;

/// Events come back in commit order with increasing `seq`; a cursor starts
/// at 0 and never moves backwards.
pub async fn outbox_is_in_commit_order_and_cursors_only_move_forward(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let all = store.events_after(EventSeq(0), 10_000).await.expect("events");
    assert!(!all.is_empty(), "creating entities appends events");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "not in seq order");
    let a_events = store.tenant_events(&a.tenant, EventSeq(0), 10_000).await.expect("events");
    let b_events = store.tenant_events(&b.tenant, EventSeq(0), 10_000).await.expect("events");
    assert_eq!(a_events.len() + b_events.len(), all.len());
    assert!(a_events.iter().all(|e| e.tenant_id == a.tenant));
    // A's entities were all created before B's.
    assert!(a_events.last().map(|e| e.seq) < b_events.first().map(|e| e.seq));
    // Paging with `after` and `limit` walks the same sequence.
    let mut paged = Vec::new();
    let mut after = EventSeq(0);
    loop {
        let page = store.events_after(after, 2).await.expect("page");
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    // Readings alone make no event.
    let mut effects = crate::Effects::new(&a.tenant, T0 + 1);
    effects.add_readings(&[Reading {
        device_id: a.device.id.clone(),
        key: "t".into(),
        ts: T0 + 1,
        value: Value::Integer(1),
        quality: 1.0,
    }]);
    assert!(store.commit(effects).await.expect("commit").events.is_empty());

    assert_eq!(store.cursor("log").await.expect("cursor"), EventSeq(0));
    store.set_cursor("log", all[2].seq).await.expect("set");
    store.set_cursor("log", all[1].seq).await.expect("set");
    assert_eq!(store.cursor("log").await.expect("cursor"), all[2].seq, "a cursor moved backwards");
    assert_eq!(store.cursor("kafka").await.expect("cursor"), EventSeq(0), "cursors are per subscriber");
    assert_eq!(store.events_after(all[2].seq, 10_000).await.expect("events").first(), all.get(3));
}
