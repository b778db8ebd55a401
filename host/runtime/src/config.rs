//! [`RuntimeConfig`]: how the runtime is set up.

use std::path::PathBuf;
use std::time::Duration;

use crate::compiler::CompilerCommand;

/// How the runtime is set up; the defaults suit a production host.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// How often the epoch advances; deadlines are whole ticks.
    pub epoch_tick: Duration,
    /// Count fuel on every call (needed for fuel budgets and metering).
    pub fuel_metering: bool,
    /// Interrupt calls at their deadline (epoch interruption).
    pub epoch_interruption: bool,
    /// Use the pooling allocator (fast instantiation, bounded slots).
    pub pooling: bool,
    /// Concurrent instances the pool holds.
    pub pool_instances: u32,
    /// Idle instances kept across the runtime for their binding's next call
    /// (see `warm.rs`); 0 runs every call in a fresh instance.
    pub warm_instances: u32,
    /// Largest linear memory any plugin may be given.
    pub max_memory_bytes: u64,
    /// Where compiled components are cached; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Write `/tmp/perf-<pid>.map` so `perf` can name compiled guest
    /// functions (profiling only).
    pub perf_map: bool,
    /// Compile in a child process running this command, killed at the
    /// compile's deadline; `None` compiles in this process.
    pub compiler: Option<CompilerCommand>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            epoch_tick: Duration::from_millis(2),
            fuel_metering: true,
            epoch_interruption: true,
            pooling: true,
            pool_instances: 256,
            warm_instances: 64,
            max_memory_bytes: 256 << 20,
            cache_dir: None,
            perf_map: false,
            compiler: None,
        }
    }
}
