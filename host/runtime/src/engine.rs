//! The engine, the linker, the epoch ticker and the compiled-plugin cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus_model::{PluginKind, TenantId};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::{v01, v02};
use crate::compiler::{self, Artifact};
use crate::error::LoadError;
use crate::host_state::HostState;
use crate::warm::WarmPool;

pub(crate) use crate::config::RuntimeConfig;

/// A compiled plugin of one kind, ready to instantiate.
pub struct Plugin {
    kind: PluginKind,
    hash: String,
    pub(crate) pre: PluginPre,
    component: Component,
    /// Idle instances of the worlds the hot path calls (0.2.0 contract).
    pub(crate) warm: WarmPools,
}

/// A plugin's idle instances, per world; only its own kind's is ever used.
pub(crate) struct WarmPools {
    pub(crate) rules: WarmPool<v02::alarm_rule::AlarmRule>,
    pub(crate) decoders: WarmPool<v02::decoder::Decoder>,
    pub(crate) transforms: WarmPool<v02::transform::Transform>,
}

impl Plugin {
    /// The kind (world) it implements.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The sha256 of its bytes, hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The contract version it was built against: `0.2.0`, or `0.1.0`
    /// (run through the adapter).
    pub fn contract(&self) -> &'static str {
        match &self.pre {
            PluginPre::Decoder01(_) | PluginPre::AlarmRule01(_) | PluginPre::Optimizer01(_) => "0.1.0",
            _ => CONTRACT,
        }
    }
}

/// The current contract version (`wit/`).
pub const CONTRACT: &str = "0.2.0";

/// A plugin compiled and checked for an upload but in no cache yet:
/// dropping it leaves nothing behind (no cache entry, no artifact on
/// disk); [`Runtime::keep`] puts it in the caches once it is accepted.
pub struct Staged {
    plugin: Arc<Plugin>,
    key: String,
    component: Component,
    artifact: Option<Artifact>,
}

impl Staged {
    /// The plugin, ready to call (e.g. `describe`).
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }
}

/// A component type-checked against one world of one contract version.
pub(crate) enum PluginPre {
    Decoder(v02::decoder::DecoderPre<HostState>),
    AlarmRule(v02::alarm_rule::AlarmRulePre<HostState>),
    Transform(v02::transform::TransformPre<HostState>),
    Optimizer(v02::optimizer::OptimizerPre<HostState>),
    FieldOptimizer(v02::field_optimizer::FieldOptimizerPre<HostState>),
    Forecaster(v02::forecaster::ForecasterPre<HostState>),
    Decoder01(v01::decoder::DecoderPre<HostState>),
    AlarmRule01(v01::alarm_rule::AlarmRulePre<HostState>),
    Optimizer01(v01::optimizer::OptimizerPre<HostState>),
}

/// The plugin runtime. Cheap to clone; clones share the engine and cache.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

/// What the runtime has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Components compiled with Cranelift.
    pub compiled: u64,
    /// Components loaded from the on-disk compile cache.
    pub from_cache: u64,
    /// Calls that instantiated their plugin afresh.
    pub instantiated: u64,
    /// Calls served by a warm instance of their binding.
    pub reused: u64,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    compiled: std::sync::atomic::AtomicU64,
    from_cache: std::sync::atomic::AtomicU64,
    pub(crate) instantiated: std::sync::atomic::AtomicU64,
    pub(crate) reused: std::sync::atomic::AtomicU64,
    /// Idle warm instances across every plugin.
    warm_idle: Arc<std::sync::atomic::AtomicUsize>,
    linker: Linker<HostState>,
    /// Keyed by cache key (see [`Runtime::cache_key`]) and kind.
    cache: Mutex<HashMap<(String, PluginKind), Arc<Plugin>>>,
    pub(crate) config: RuntimeConfig,
    compat: String,
}

/// Interface prefixes a plugin may import: our host interface, and the WASI
/// subset a Rust std guest needs to instantiate (stdio that goes nowhere, no
/// environment, deterministic randomness). No files, sockets, clocks or HTTP.
const ALLOWED_IMPORTS: &[&str] = &[
    "nexus:plugin/types@0.2.",
    "nexus:plugin/host@0.2.",
    "nexus:plugin/types@0.1.",
    "nexus:plugin/host@0.1.",
    "wasi:io/",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-",
    "wasi:random/",
];

impl Runtime {
    /// Builds the engine and linker and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let mut wasm = wasm_config(&config);
        if config.perf_map {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if config.pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(config.pool_instances)
                .total_core_instances(config.pool_instances * 4)
                .total_memories(config.pool_instances * 2)
                .total_tables(config.pool_instances * 4)
                .max_memory_size(config.max_memory_bytes as usize)
                .max_component_instance_size(1 << 20)
                .max_core_instances_per_component(16)
                .max_memories_per_component(4)
                .max_tables_per_component(8)
                .table_elements(20_000)
                // Reset a used slot by scanning for the pages the guest
                // dirtied (PAGEMAP_SCAN, Linux 6.7+) and zeroing just those,
                // up to 4 MiB, instead of madvise: no page faults and no TLB
                // shootdowns on the next instantiation. Older kernels fall
                // back to zeroing the first 64 KiB and madvise for the rest.
                .pagemap_scan(wasmtime::Enabled::Auto)
                .linear_memory_keep_resident(4 << 20)
                .table_keep_resident(64 << 10)
                .decommit_batch_size(16);
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let linker = build_linker(&engine).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        if config.epoch_interruption {
            spawn_ticker(&engine, config.epoch_tick);
        }
        let compat = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            format!("{:016x}", h.finish())
        };
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| LoadError::Cache(format!("{}: {e}", dir.display())))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                compiled: 0.into(),
                from_cache: 0.into(),
                instantiated: 0.into(),
                reused: 0.into(),
                warm_idle: Arc::default(),
                linker,
                cache: Mutex::new(HashMap::new()),
                config,
                compat,
            }),
        })
    }

    /// The sha256 of component bytes, hex: the identity of a plugin version.
    pub fn content_hash(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// The compile-cache key of a tenant's component: a hash of the tenant
    /// and the content hash, so that one tenant's upload never finds (or
    /// reveals, by its speed) what another tenant uploaded.
    pub fn cache_key(tenant: &TenantId, hash: &str) -> String {
        let mut digest = Sha256::new();
        digest.update(b"nexus-compile-cache\0");
        digest.update(tenant.as_str().as_bytes());
        digest.update(b"\0");
        digest.update(hash.as_bytes());
        hex::encode(digest.finalize())
    }

    /// Compiles (or finds in the cache) a component as a plugin of `kind`,
    /// checking its imports and that it implements the world, and caches it
    /// by content hash (tools and tests; uploads use [`Runtime::stage`]).
    pub fn load(&self, kind: PluginKind, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        let hash = Self::content_hash(bytes);
        let staged = self.stage_keyed(hash.clone(), hash, kind, bytes, None)?;
        Ok(self.keep(staged))
    }

    /// Compiles a tenant's upload as a plugin of `kind` within `limit`
    /// (a child process is killed when it passes: [`LoadError::CompileTimeout`])
    /// and type-checks it, without caching anything: [`Runtime::keep`] the
    /// result once the upload is accepted, or drop it.
    pub fn stage(
        &self,
        tenant: &TenantId,
        kind: PluginKind,
        bytes: &[u8],
        limit: Duration,
    ) -> Result<Staged, LoadError> {
        let hash = Self::content_hash(bytes);
        let deadline = Instant::now() + limit;
        let result = self.stage_keyed(Self::cache_key(tenant, &hash), hash, kind, bytes, Some(deadline));
        // In-process compiles cannot be stopped; one that ran late is refused all the same.
        match result {
            Ok(_) if Instant::now() > deadline => Err(LoadError::CompileTimeout),
            result => result,
        }
    }

    /// Puts a staged plugin in the caches (memory, and disk when
    /// configured). A cache that cannot be written is logged, not fatal.
    pub fn keep(&self, staged: Staged) -> Arc<Plugin> {
        let Staged { plugin, key, component, artifact } = staged;
        if let Some(path) = self.cache_path(&key).filter(|p| !p.exists()) {
            let written = match artifact {
                Some(artifact) => artifact.keep_as(&path).map_err(|e| e.to_string()),
                None => component.serialize().map_err(|e| format!("{e:#}")).and_then(|serialized| {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, serialized).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| {
                        let _ = std::fs::remove_file(&tmp);
                        e.to_string()
                    })
                }),
            };
            if let Err(error) = written {
                tracing::warn!(path = %path.display(), %error, "Could not write the compile cache.");
            }
        }
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.entry((key, plugin.kind)).or_insert(plugin).clone()
    }

    fn stage_keyed(
        &self,
        key: String,
        hash: String,
        kind: PluginKind,
        bytes: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Staged, LoadError> {
        if let Some(plugin) = self.cached(&key, kind) {
            return Ok(Staged { component: plugin.component.clone(), plugin, key, artifact: None });
        }
        let (component, artifact) = match self.read_cache(&key) {
            Some(component) => (component, None),
            None => self.compile(&hash, bytes, deadline)?,
        };
        let plugin = self.prepare(kind, hash, &component)?;
        Ok(Staged { plugin, key, component, artifact })
    }

    /// Loads a tenant's plugin whose bytes were stored under `hash` before,
    /// from the compile cache when possible (no recompilation after a
    /// restart).
    pub fn load_stored(
        &self,
        kind: PluginKind,
        tenant: &TenantId,
        hash: &str,
        bytes: impl FnOnce() -> Vec<u8>,
    ) -> Result<Arc<Plugin>, LoadError> {
        let key = Self::cache_key(tenant, hash);
        if let Some(plugin) = self.cached(&key, kind) {
            return Ok(plugin);
        }
        let (component, artifact) = match self.read_cache(&key) {
            Some(component) => (component, None),
            None => self.compile(hash, &bytes(), None)?,
        };
        let plugin = self.prepare(kind, hash.to_string(), &component)?;
        Ok(self.keep(Staged { plugin, key, component, artifact }))
    }

    /// Counters of compilations, cache loads and instances.
    pub fn stats(&self) -> RuntimeStats {
        use std::sync::atomic::Ordering::Relaxed;
        RuntimeStats {
            compiled: self.inner.compiled.load(Relaxed),
            from_cache: self.inner.from_cache.load(Relaxed),
            instantiated: self.inner.instantiated.load(Relaxed),
            reused: self.inner.reused.load(Relaxed),
        }
    }

    /// The on-disk compile cache's directory, if there is one.
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.config.cache_dir.as_deref()
    }

    /// Whether a compiled artifact of the tenant's component `hash` is in
    /// the on-disk cache.
    pub fn is_cached_on_disk(&self, tenant: &TenantId, hash: &str) -> bool {
        self.cache_path(&Self::cache_key(tenant, hash)).is_some_and(|p| p.exists())
    }

    /// Whether any plugin of the tenant's component `hash` is in the
    /// in-memory cache.
    pub fn is_cached_in_memory(&self, tenant: &TenantId, hash: &str) -> bool {
        let key = Self::cache_key(tenant, hash);
        let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.keys().any(|(k, _)| *k == key)
    }

    fn cached(&self, key: &str, kind: PluginKind) -> Option<Arc<Plugin>> {
        let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&(key.to_string(), kind)).cloned()
    }

    fn cache_path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.inner.config.cache_dir.as_ref()?;
        Some(dir.join(format!("{key}-{}.cwasm", self.inner.compat)))
    }

    fn read_cache(&self, key: &str) -> Option<Component> {
        let path = self.cache_path(key)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `Component::serialize` of an engine
        // with the same compatibility hash (it is in the name) into the host's
        // own data directory; tenants cannot write there.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(&self.inner.engine, &path) };
        match component {
            Ok(component) => {
                self.inner.from_cache.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(component)
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Ignoring unreadable compile cache entry.");
                None
            }
        }
    }

    /// Compiles in the configured child process (its artifact in a temp
    /// file, deleted unless kept), or else in this process.
    fn compile(
        &self,
        hash: &str,
        bytes: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(Component, Option<Artifact>), LoadError> {
        if !wasmparser::Parser::is_component(bytes) {
            return Err(LoadError::NotAComponent(if wasmparser::Parser::is_core_wasm(bytes) {
                "this is a core module; build for wasm32-wasip2 or wrap it with `wasm-tools component new`".into()
            } else {
                "the bytes do not start with the component header `\\0asm\\x0d\\0\\x01\\0`".into()
            }));
        }
        let started = Instant::now();
        let compiled = match &self.inner.config.compiler {
            Some(command) => {
                let dir = self.inner.config.cache_dir.clone().unwrap_or_else(std::env::temp_dir);
                let settings = compiler::settings(&self.inner.config);
                let artifact = compiler::compile_in_child(command, &settings, &dir, bytes, deadline)?;
                // SAFETY: the file is our own compiler's output, written by
                // the child into the host's own directory under a name only
                // this process uses; the engine checks its compatibility.
                #[allow(unsafe_code)]
                let component = unsafe { Component::deserialize_file(&self.inner.engine, artifact.path()) }
                    .map_err(|e| LoadError::Compiler(format!("reading the compiled artifact: {e:#}")))?;
                (component, Some(artifact))
            }
            None => {
                let component =
                    Component::new(&self.inner.engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
                (component, None)
            }
        };
        self.inner.compiled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(hash, elapsed_ms = started.elapsed().as_millis() as u64, "Compiled component.");
        Ok(compiled)
    }

    fn prepare(&self, kind: PluginKind, hash: String, component: &Component) -> Result<Arc<Plugin>, LoadError> {
        let engine = &self.inner.engine;
        for (name, item) in component.component_type().imports(engine) {
            if !ALLOWED_IMPORTS.iter().any(|allowed| name.starts_with(allowed)) {
                return Err(LoadError::ForbiddenImport { kind, import: name.to_string() });
            }
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(LoadError::ForbiddenImport { kind, import: name.to_string() });
            }
        }
        let wrong_world = |e: wasmtime::Error| LoadError::WrongWorld { kind, reason: format!("{e:#}") };
        let instance_pre = self.inner.linker.instantiate_pre(component).map_err(wrong_world)?;
        // The current contract first; a component built against 0.1.0 fails
        // its type check and runs through the 0.1.0 adapter instead.
        let current = match kind {
            PluginKind::Decoder => v02::decoder::DecoderPre::new(instance_pre.clone()).map(PluginPre::Decoder),
            PluginKind::AlarmRule => v02::alarm_rule::AlarmRulePre::new(instance_pre.clone()).map(PluginPre::AlarmRule),
            PluginKind::Transform => v02::transform::TransformPre::new(instance_pre.clone()).map(PluginPre::Transform),
            PluginKind::Optimizer => v02::optimizer::OptimizerPre::new(instance_pre.clone()).map(PluginPre::Optimizer),
            PluginKind::FieldOptimizer => {
                v02::field_optimizer::FieldOptimizerPre::new(instance_pre.clone()).map(PluginPre::FieldOptimizer)
            }
            PluginKind::Forecaster => {
                v02::forecaster::ForecasterPre::new(instance_pre.clone()).map(PluginPre::Forecaster)
            }
        };
        let pre = match current {
            Ok(pre) => pre,
            Err(error) => {
                let legacy = match kind {
                    PluginKind::Decoder => v01::decoder::DecoderPre::new(instance_pre).map(PluginPre::Decoder01),
                    PluginKind::AlarmRule => {
                        v01::alarm_rule::AlarmRulePre::new(instance_pre).map(PluginPre::AlarmRule01)
                    }
                    PluginKind::Optimizer => {
                        v01::optimizer::OptimizerPre::new(instance_pre).map(PluginPre::Optimizer01)
                    }
                    PluginKind::Transform | PluginKind::FieldOptimizer | PluginKind::Forecaster => {
                        Err(wasmtime::Error::msg("contract 0.1.0 has no such world"))
                    }
                };
                // Report the current contract's reason: it is the one to build against.
                legacy.map_err(|_| wrong_world(error))?
            }
        };
        let (count, cap) = (&self.inner.warm_idle, self.inner.config.warm_instances as usize);
        let warm = WarmPools {
            rules: WarmPool::new(count.clone(), cap),
            decoders: WarmPool::new(count.clone(), cap),
            transforms: WarmPool::new(count.clone(), cap),
        };
        Ok(Arc::new(Plugin { kind, hash, pre, component: component.clone(), warm }))
    }
}

/// The engine configuration that decides compiled code; the parent and the
/// compiler child build theirs with it, so the child's artifacts load in
/// the parent.
pub(crate) fn wasm_config(config: &RuntimeConfig) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true);
    wasm.epoch_interruption(config.epoch_interruption);
    wasm.consume_fuel(config.fuel_metering);
    // Below the 2 MiB stack of the threads that run calls, so that
    // unbounded recursion traps instead of aborting the process.
    wasm.max_wasm_stack(512 << 10);
    wasm
}

fn build_linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::p2::bindings::{cli, random, sync};
    use wasmtime_wasi::random::WasiRandom;

    struct HasTable;
    impl wasmtime::component::HasData for HasTable {
        type Data<'a> = &'a mut wasmtime::component::ResourceTable;
    }
    fn table(state: &mut HostState) -> &mut wasmtime::component::ResourceTable {
        wasmtime_wasi::WasiView::ctx(state).table
    }

    let mut linker = Linker::new(engine);
    v02::decoder::Decoder::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    v01::decoder::Decoder::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    let l = &mut linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<HostState, HasTable>(l, table)?;
    sync::io::poll::add_to_linker::<HostState, HasTable>(l, table)?;
    sync::io::streams::add_to_linker::<HostState, HasTable>(l, table)?;
    cli::exit::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::stdin::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::stdout::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::stderr::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(l, wasmtime_wasi::cli::WasiCliView::cli)?;
    random::random::add_to_linker::<HostState, WasiRandom>(l, wasmtime_wasi::random::WasiRandomView::random)?;
    random::insecure::add_to_linker::<HostState, WasiRandom>(l, wasmtime_wasi::random::WasiRandomView::random)?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(l, |s| {
        wasmtime_wasi::random::WasiRandomView::random(s)
    })?;
    Ok(linker)
}

/// Advances the epoch every `tick` until the engine is dropped.
fn spawn_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("nexus-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(tick);
        }
    });
    if let Err(error) = spawned {
        tracing::error!(%error, "Could not start the epoch ticker; deadlines will not fire.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component with one core module and nothing else: it compiles, and
    /// fails the type check of every world.
    fn bare_component() -> Vec<u8> {
        let mut component = wit_component_header();
        component.extend_from_slice(&[1, 8, 0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
        component
    }

    /// `\0asm`, component-model version and layer.
    fn wit_component_header() -> Vec<u8> {
        vec![0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]
    }

    #[test]
    fn the_cache_key_differs_per_tenant() {
        let hash = Runtime::content_hash(b"the same bytes");
        let a = Runtime::cache_key(&"tenant-a".into(), &hash);
        let b = Runtime::cache_key(&"tenant-b".into(), &hash);
        assert_ne!(a, b);
        assert_ne!(a, hash);
        assert_eq!(a, Runtime::cache_key(&"tenant-a".into(), &hash), "stable");
        // No ambiguity between tenant and hash boundaries.
        assert_ne!(Runtime::cache_key(&"ab".into(), "c"), Runtime::cache_key(&"a".into(), "bc"));
    }

    #[test]
    fn a_compile_that_is_not_kept_leaves_no_cache_entry() {
        let dir = std::env::temp_dir().join(format!("nexus-runtime-cache-{}", std::process::id()));
        let runtime =
            Runtime::new(RuntimeConfig { cache_dir: Some(dir.clone()), pooling: false, ..RuntimeConfig::default() })
                .expect("runtime");
        let bytes = bare_component();
        let hash = Runtime::content_hash(&bytes);
        let (component, artifact) = runtime.compile(&hash, &bytes, None).expect("compiles");
        assert!(artifact.is_none(), "in-process compiles write no artifact");
        drop(component);
        let tenant: TenantId = "tenant-a".into();
        // Fails the type check after compiling: nothing may stay.
        let error = runtime.stage(&tenant, PluginKind::AlarmRule, &bytes, Duration::from_secs(60)).err();
        assert!(matches!(error, Some(LoadError::WrongWorld { .. })), "{error:?}");
        assert!(!runtime.is_cached_in_memory(&tenant, &hash));
        assert!(!runtime.is_cached_on_disk(&tenant, &hash));
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
