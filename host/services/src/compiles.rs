//! The compile queue: at most one compile per tenant at a time, on one of
//! the host's shared compile slots, each wait bounded.
//!
//! A tenant first waits for its own turn, then for a slot. Both queues are
//! first come, first served, and a tenant waits for a slot with at most one
//! upload, so the slots go round the waiting tenants in turn: no tenant
//! holds more than one slot while another waits. A wait longer than
//! `compile_wait` is refused with `compile-busy` (429 + `Retry-After`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nexus_model::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Result, ServiceError};

/// The host's compile slots and each tenant's turn.
pub(crate) struct CompileQueue {
    slots: Arc<Semaphore>,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
    wait: Duration,
    retry_after_s: u32,
}

/// A tenant's turn on a compile slot; dropping it frees both.
pub(crate) struct CompileTurn {
    _tenant: OwnedSemaphorePermit,
    _slot: OwnedSemaphorePermit,
}

impl CompileQueue {
    /// `workers` slots; a wait longer than `wait` is refused, with a retry
    /// after `timeout` (by then every running compile has ended).
    pub(crate) fn new(workers: usize, wait: Duration, timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(workers.max(1))),
            tenants: Mutex::default(),
            wait,
            retry_after_s: timeout.as_secs_f64().ceil().clamp(1.0, 3600.0) as u32,
        }
    }

    /// Waits (up to the bound) for the tenant's turn and a free slot.
    pub(crate) async fn turn(&self, tenant: &TenantId) -> Result<CompileTurn> {
        let own = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            tenants.entry(tenant.clone()).or_insert_with(|| Arc::new(Semaphore::new(1))).clone()
        };
        let slots = self.slots.clone();
        let turn = async move {
            let tenant = own.acquire_owned().await?;
            let slot = slots.acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>(CompileTurn { _tenant: tenant, _slot: slot })
        };
        match tokio::time::timeout(self.wait, turn).await {
            Ok(turn) => turn.map_err(|e| ServiceError::Internal(e.to_string())),
            Err(_) => Err(ServiceError::CompileBusy {
                message: format!(
                    "no compile slot for tenant `{tenant}` within {:?}: its previous upload, or other tenants', \
                     are still compiling",
                    self.wait
                ),
                retry_after_s: self.retry_after_s,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_compile_per_tenant_and_slots_go_to_waiting_tenants() {
        let queue = CompileQueue::new(2, Duration::from_millis(50), Duration::from_secs(3));
        let (a, b): (TenantId, TenantId) = ("a".into(), "b".into());
        let first = queue.turn(&a).await.expect("a's first");
        // A's second waits for its own first, then is refused.
        match queue.turn(&a).await {
            Err(ServiceError::CompileBusy { retry_after_s, .. }) => assert_eq!(retry_after_s, 3),
            other => panic!("expected compile-busy, got {:?}", other.err()),
        }
        // B still gets the other slot.
        let second = queue.turn(&b).await.expect("b's turn");
        // Both slots taken: a third tenant waits and is refused.
        assert!(queue.turn(&"c".into()).await.is_err());
        drop(first);
        assert!(queue.turn(&"c".into()).await.is_ok());
        drop(second);
    }
}
