//! What the hot path keeps in memory instead of asking storage per frame:
//! devices by token hash, bindings per (device, kind) and plugin state per
//! (binding, device). The services are the only writers, so they keep these
//! true: every change of a binding clears its tenant's bindings (never
//! another tenant's: one tenant's admin calls must not cost another's
//! devices a storage read per frame), a rotated token
//! drops its device, and state enters the committed cache only after its
//! commit. State a group commit has written but not yet committed (the
//! ingest pipeline processes the next batch while one commits) is *held*:
//! read before the committed cache, never evicted, settled when its batch
//! commits or fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use nexus_model::{Binding, BindingId, Device, DeviceId, PluginKind, TenantId};

/// Plugin state of one (binding, device).
pub(crate) type State = BTreeMap<String, Vec<u8>>;

/// Most bytes of plugin state kept in memory; past it the cache is emptied
/// and refills from storage (state is a cache, storage the truth).
const STATE_BUDGET_BYTES: usize = 256 << 20;

/// A tenant's bindings of one kind of each device, and how many times they
/// were forgotten: bindings read from storage before a change are not
/// remembered after it.
#[derive(Default)]
struct TenantBindings {
    generation: u64,
    by_device: HashMap<(DeviceId, PluginKind), Arc<Vec<Binding>>>,
}

#[derive(Default)]
pub(crate) struct Caches {
    devices: Mutex<HashMap<String, Device>>,
    bindings: Mutex<HashMap<TenantId, TenantBindings>>,
    states: Mutex<StateCache>,
}

#[derive(Default)]
struct StateCache {
    entries: HashMap<(BindingId, DeviceId), State>,
    bytes: usize,
    /// Written by ingest batch `seq`, whose commit is not yet settled.
    held: HashMap<(BindingId, DeviceId), (u64, State)>,
}

fn size(state: &State) -> usize {
    state.iter().map(|(k, v)| k.len() + v.len() + 32).sum()
}

impl Caches {
    pub(crate) fn device(&self, token_hash: &str) -> Option<Device> {
        self.devices.lock().unwrap_or_else(|e| e.into_inner()).get(token_hash).cloned()
    }

    pub(crate) fn remember_device(&self, token_hash: String, device: Device) {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        // Only devices that authenticated are kept; bounded by the devices that exist.
        devices.insert(token_hash, device);
    }

    pub(crate) fn forget_device(&self, device: &DeviceId) {
        self.devices.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, d| &d.id != device);
    }

    /// A device's cached bindings of one kind, and the generation of its
    /// tenant's bindings to hand back to [`Caches::remember_bindings`].
    pub(crate) fn bindings(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        kind: PluginKind,
    ) -> (Option<Arc<Vec<Binding>>>, u64) {
        let all = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        match all.get(tenant) {
            Some(t) => (t.by_device.get(&(device.clone(), kind)).cloned(), t.generation),
            None => (None, 0),
        }
    }

    /// Remembers bindings read from storage, unless the tenant's bindings
    /// changed since `generation` (read before the change, they may be stale).
    pub(crate) fn remember_bindings(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        kind: PluginKind,
        bindings: Arc<Vec<Binding>>,
        generation: u64,
    ) {
        let mut all = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        let t = all.entry(tenant.clone()).or_default();
        if t.generation == generation {
            t.by_device.insert((device.clone(), kind), bindings);
        }
    }

    /// A binding of `tenant` changed: forget the tenant's bindings.
    pub(crate) fn forget_bindings(&self, tenant: &TenantId) {
        let mut all = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        let t = all.entry(tenant.clone()).or_default();
        t.generation += 1;
        t.by_device.clear();
    }

    pub(crate) fn state(&self, binding: &BindingId, device: &DeviceId) -> Option<State> {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let key = (binding.clone(), device.clone());
        states.held.get(&key).map(|(_, state)| state).or_else(|| states.entries.get(&key)).cloned()
    }

    /// Holds state ingest batch `seq` wrote, until [`Caches::settle`].
    pub(crate) fn hold_state(&self, seq: u64, binding: &BindingId, device: &DeviceId, state: State) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.held.insert((binding.clone(), device.clone()), (seq, state));
    }

    /// Settles what batch `seq` held for these (binding, device) pairs: into
    /// the committed cache when it committed, forgotten (to be read from
    /// storage) when it did not. A later batch's hold of the same pair stays.
    pub(crate) fn settle<'a>(
        &self,
        seq: u64,
        pairs: impl IntoIterator<Item = (&'a BindingId, &'a DeviceId)>,
        committed: bool,
    ) {
        for (binding, device) in pairs {
            let key = (binding.clone(), device.clone());
            let mine = {
                let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
                match states.held.get(&key) {
                    Some((held_by, _)) if *held_by == seq => states.held.remove(&key).map(|(_, s)| s),
                    _ => None,
                }
            };
            match (committed, mine) {
                (true, Some(state)) => self.remember_state(binding, device, state),
                (true, None) => {}
                (false, _) => self.forget_state(binding, device),
            }
        }
    }

    /// Keeps committed state.
    pub(crate) fn remember_state(&self, binding: &BindingId, device: &DeviceId, state: State) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let added = size(&state);
        if let Some(old) = states.entries.insert((binding.clone(), device.clone()), state) {
            states.bytes -= size(&old);
        }
        states.bytes += added;
        if states.bytes > STATE_BUDGET_BYTES {
            states.entries.clear();
            states.bytes = 0;
        }
    }

    /// State whose commit failed: read it from storage next time.
    pub(crate) fn forget_state(&self, binding: &BindingId, device: &DeviceId) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = states.entries.remove(&(binding.clone(), device.clone())) {
            states.bytes -= size(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(caches: &Caches, tenant: &TenantId, device: &DeviceId) -> bool {
        caches.bindings(tenant, device, PluginKind::Decoder).0.is_some()
    }

    /// Tenant A changing its bindings (say, re-enabling one fifty times a
    /// second) leaves tenant B's cached bindings where they are.
    #[test]
    fn forgetting_one_tenants_bindings_keeps_the_others() {
        let caches = Caches::default();
        let (a, b) = (TenantId::new("a"), TenantId::new("b"));
        let (da, db) = (DeviceId::new("da"), DeviceId::new("db"));
        for (tenant, device) in [(&a, &da), (&b, &db)] {
            let (_, generation) = caches.bindings(tenant, device, PluginKind::Decoder);
            caches.remember_bindings(tenant, device, PluginKind::Decoder, Arc::new(Vec::new()), generation);
        }
        caches.forget_bindings(&a);
        assert!(!cached(&caches, &a, &da), "A's own bindings are forgotten");
        assert!(cached(&caches, &b, &db), "B's bindings were forgotten for A's change");
    }

    /// Bindings read before a change of the tenant's bindings are stale:
    /// they are not remembered after it.
    #[test]
    fn bindings_read_before_a_change_are_not_remembered() {
        let caches = Caches::default();
        let (tenant, device) = (TenantId::new("t"), DeviceId::new("d"));
        let (_, generation) = caches.bindings(&tenant, &device, PluginKind::AlarmRule);
        caches.forget_bindings(&tenant);
        caches.remember_bindings(&tenant, &device, PluginKind::AlarmRule, Arc::new(Vec::new()), generation);
        assert!(caches.bindings(&tenant, &device, PluginKind::AlarmRule).0.is_none());
        let (_, generation) = caches.bindings(&tenant, &device, PluginKind::AlarmRule);
        caches.remember_bindings(&tenant, &device, PluginKind::AlarmRule, Arc::new(Vec::new()), generation);
        assert!(caches.bindings(&tenant, &device, PluginKind::AlarmRule).0.is_some());
    }
}
