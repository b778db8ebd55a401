//! What the hot path keeps in memory instead of asking storage per frame:
//! devices by token hash, bindings per (device, kind) and plugin state per
//! (binding, device). The services are the only writers, so they keep these
//! true: every change of a binding clears the bindings, a rotated token
//! drops its device, and state enters the committed cache only after its
//! commit. State a group commit has written but not yet committed (the
//! ingest pipeline processes the next batch while one commits) is *held*:
//! read before the committed cache, never evicted, settled when its batch
//! commits or fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use nexus_model::{Binding, BindingId, Device, DeviceId, PluginKind};

/// Plugin state of one (binding, device).
pub(crate) type State = BTreeMap<String, Vec<u8>>;

/// Most bytes of plugin state kept in memory; past it the cache is emptied
/// and refills from storage (state is a cache, storage the truth).
const STATE_BUDGET_BYTES: usize = 256 << 20;

/// The bindings of one kind of each device.
type BindingsByDevice = HashMap<(DeviceId, PluginKind), Arc<Vec<Binding>>>;

#[derive(Default)]
pub(crate) struct Caches {
    devices: Mutex<HashMap<String, Device>>,
    bindings: Mutex<BindingsByDevice>,
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

    pub(crate) fn bindings(&self, device: &DeviceId, kind: PluginKind) -> Option<Arc<Vec<Binding>>> {
        self.bindings.lock().unwrap_or_else(|e| e.into_inner()).get(&(device.clone(), kind)).cloned()
    }

    pub(crate) fn remember_bindings(&self, device: &DeviceId, kind: PluginKind, bindings: Arc<Vec<Binding>>) {
        self.bindings.lock().unwrap_or_else(|e| e.into_inner()).insert((device.clone(), kind), bindings);
    }

    /// Any binding changed: forget them all.
    pub(crate) fn forget_bindings(&self) {
        self.bindings.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
