//! The outbox subscribers running now and how far each has delivered, kept
//! in memory (a subscriber need not store its cursor), for the outbox lag.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use nexus_model::EventSeq;

/// A running subscription's entry: id, subscriber name, last delivered
/// `seq` (-1 until it has started).
type Entry = (u64, String, Arc<AtomicI64>);

/// The running subscriptions.
#[derive(Default)]
pub(crate) struct RunningSubscribers {
    next: AtomicU64,
    running: Mutex<Vec<Entry>>,
}

impl RunningSubscribers {
    /// Registers a subscription of `name`; returns its id and where to
    /// record its position.
    pub(crate) fn register(&self, name: &str) -> (u64, Arc<AtomicI64>) {
        let id = self.next.fetch_add(1, Relaxed);
        let position = Arc::new(AtomicI64::new(-1));
        self.running.lock().unwrap_or_else(|e| e.into_inner()).push((id, name.to_string(), position.clone()));
        (id, position)
    }

    /// Forgets a subscription that stopped.
    pub(crate) fn remove(&self, id: u64) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).retain(|(other, _, _)| *other != id);
    }

    /// How far each subscriber is behind `head`, by name (the furthest
    /// behind of several subscriptions of one name); subscriptions that have
    /// not started yet are left out.
    pub(crate) fn lag(&self, head: EventSeq) -> Vec<(String, u64)> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut lag: Vec<(String, u64)> = Vec::new();
        for (_, name, position) in running.iter() {
            let position = position.load(Relaxed);
            if position < 0 {
                continue;
            }
            let behind = u64::try_from(head.0.saturating_sub(position)).unwrap_or(0);
            match lag.iter_mut().find(|(n, _)| n == name) {
                Some((_, most)) => *most = (*most).max(behind),
                None => lag.push((name.clone(), behind)),
            }
        }
        lag.sort();
        lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_per_name_of_started_subscriptions_until_they_stop() {
        let running = RunningSubscribers::default();
        let (log, log_at) = running.register("log");
        let (_, live_at) = running.register("live");
        let (_, _not_started) = running.register("kafka");
        let (_, second_log) = running.register("log");
        log_at.store(7, Relaxed);
        second_log.store(4, Relaxed);
        live_at.store(10, Relaxed);
        assert_eq!(running.lag(EventSeq(10)), [("live".to_string(), 0), ("log".to_string(), 6)]);
        running.remove(log);
        assert_eq!(running.lag(EventSeq(12)), [("live".to_string(), 2), ("log".to_string(), 8)]);
    }
}
