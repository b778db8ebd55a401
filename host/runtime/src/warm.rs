//! Warm instances: after a call that ended cleanly, the binding's instance
//! (its store, and its linear memory as the call left it) is kept for the
//! binding's next call, which then skips the store's set-up and the
//! instantiation — on a cheap rule, most of what a call costs.
//!
//! What an instance may carry from one call to the next stays inside the
//! binding it served: one tenant's plugin, under one configuration and one
//! set of limits, for the devices bound to it. It is never handed to another
//! binding, plugin or tenant, nor to the same binding once its configuration
//! or limits change. A call that fails in any way (a trap, a limit, a refused
//! host call, the guest's own error) drops its instance. Every limit is set
//! again on every call (deadline, fuel, bytes lifted, logs); the memory an
//! instance already holds counts against the binding's memory limit.
//!
//! Idle instances hold slots of the pooling allocator and memory: at most
//! `RuntimeConfig::warm_instances` are kept across the runtime, at most
//! [`PER_BINDING`] per binding, and none holding more than [`MAX_MEMORY`],
//! so calls that need a fresh instance still find a slot and a tenant's
//! idle instances cannot hoard memory.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::Store;

use crate::host_state::{CallContext, HostState};

/// Idle instances kept per binding (about the calls of one binding that
/// run at once on a small host).
pub(crate) const PER_BINDING: usize = 4;

/// The most linear memory an idle instance may hold (the pooling
/// allocator's resident size): an instance that grew past it is dropped,
/// so idle instances hold at most `warm_instances` × 4 MiB.
pub(crate) const MAX_MEMORY: usize = 4 << 20;

/// A plugin's idle instances of one world (`I`: its bindgen instance type).
pub(crate) struct WarmPool<I> {
    idle: Mutex<Vec<Warm<I>>>,
    /// Idle instances across the runtime, shared by every pool.
    count: Arc<AtomicUsize>,
    /// The most `count` may reach.
    cap: usize,
}

/// An instance and the store it lives in.
pub(crate) struct Warm<I> {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: I,
}

impl<I> WarmPool<I> {
    pub(crate) fn new(count: Arc<AtomicUsize>, cap: usize) -> Self {
        Self { idle: Mutex::new(Vec::new()), count, cap }
    }

    /// An idle instance that last served `ctx`'s binding under the same
    /// configuration and limits, if there is one.
    pub(crate) fn take(&self, ctx: &CallContext) -> Option<Warm<I>> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = idle.iter().rposition(|warm| serves(&warm.store.data().ctx, ctx))?;
        self.count.fetch_sub(1, Ordering::Relaxed);
        Some(idle.swap_remove(at))
    }

    /// Keeps an instance after a clean call, unless it holds more than
    /// [`MAX_MEMORY`], its binding already has [`PER_BINDING`] idle or the
    /// runtime has its cap; otherwise it is dropped and its slot freed.
    pub(crate) fn put(&self, warm: Warm<I>) {
        if warm.store.data().limiter.memory_held > MAX_MEMORY {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let binding = &warm.store.data().ctx.binding_id;
        if idle.iter().filter(|other| other.store.data().ctx.binding_id == *binding).count() >= PER_BINDING {
            return;
        }
        if self.count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < self.cap).then_some(n + 1)).is_err() {
            return;
        }
        idle.push(warm);
    }
}

impl<I> Drop for WarmPool<I> {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().map(|idle| idle.len()).unwrap_or(0);
        self.count.fetch_sub(idle, Ordering::Relaxed);
    }
}

/// Whether an instance that last served `last` may serve `next`: the same
/// tenant, binding, configuration and limits (the plugin is the pool's).
fn serves(last: &CallContext, next: &CallContext) -> bool {
    last.binding_id == next.binding_id
        && last.plugin.tenant_id == next.plugin.tenant_id
        && last.limits == next.limits
        && last.config == next.config
}
