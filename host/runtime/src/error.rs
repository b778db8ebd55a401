//! Typed errors: one variant per limit, each naming tenant, plugin and version.

use nexus_model::{PluginError, PluginKind, PluginRef};

/// Why a component could not be loaded for a plugin kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are a core module or something else, not a component.
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// Wasmtime could not compile the component.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component imports an interface plugins may not use.
    #[error("the component imports `{import}`, which {kind} plugins may not use")]
    ForbiddenImport {
        /// The plugin kind it was declared as.
        kind: PluginKind,
        /// The import name.
        import: String,
    },
    /// The component does not export the declared world.
    #[error("the component does not implement the `{kind}` world: {reason}")]
    WrongWorld {
        /// The declared kind.
        kind: PluginKind,
        /// The type checker's reason.
        reason: String,
    },
    /// Compiling took longer than its deadline (or its CPU-time limit); the
    /// compile was stopped.
    #[error("compiling the component took longer than its time limit; it was stopped")]
    CompileTimeout,
    /// The compiler process could not be run or failed on its own account.
    #[error("the compiler failed: {0}")]
    Compiler(String),
    /// The compile cache could not be written or read.
    #[error("compile cache: {0}")]
    Cache(String),
}

/// Why one plugin call failed. Everything but [`CallError::Plugin`] is a
/// fault of the plugin that the host contained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The call ran past its wall-clock deadline (epoch interruption).
    #[error("{plugin} exceeded its {deadline_ms} ms deadline")]
    Timeout {
        /// The plugin.
        plugin: PluginRef,
        /// The deadline.
        deadline_ms: u64,
    },
    /// The call used up its fuel budget.
    #[error("{plugin} ran out of fuel after {fuel} units")]
    OutOfFuel {
        /// The plugin.
        plugin: PluginRef,
        /// The budget.
        fuel: u64,
    },
    /// The plugin tried to grow its memory beyond its limit.
    #[error("{plugin} exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// The plugin.
        plugin: PluginRef,
        /// The limit.
        limit_bytes: u64,
    },
    /// The plugin tried to grow a table beyond its limit.
    #[error("{plugin} exceeded its table limit of {limit} elements")]
    TableLimit {
        /// The plugin.
        plugin: PluginRef,
        /// The limit.
        limit: u32,
    },
    /// The plugin overflowed its wasm stack.
    #[error("{plugin} overflowed its stack")]
    StackOverflow {
        /// The plugin.
        plugin: PluginRef,
    },
    /// The plugin trapped.
    #[error("{plugin} trapped: {code}")]
    Trap {
        /// The plugin.
        plugin: PluginRef,
        /// Wasmtime's trap code or message.
        code: String,
    },
    /// The plugin returned more items than its limit.
    #[error("{plugin} returned {count} items, more than its limit of {max}")]
    OutputTooLarge {
        /// The plugin.
        plugin: PluginRef,
        /// Items returned.
        count: usize,
        /// The limit.
        max: u32,
    },
    /// The plugin failed after the host refused one of its host calls.
    #[error("{plugin} exceeded a host-call limit: {reason}")]
    HostCallLimit {
        /// The plugin.
        plugin: PluginRef,
        /// What the host refused.
        reason: String,
    },
    /// The host had no capacity for the call (its instance pool was full):
    /// a condition of the host, not of the plugin or its input.
    #[error("the host had no capacity for {plugin}: {reason}")]
    HostBusy {
        /// The plugin that was to run.
        plugin: PluginRef,
        /// Which of the host's resources was exhausted.
        reason: String,
    },
    /// The plugin rejected its input (a result, not a fault).
    #[error("{plugin} rejected its input: {error}")]
    Plugin {
        /// The plugin.
        plugin: PluginRef,
        /// What it said.
        error: PluginError,
    },
}

impl CallError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "plugin-timeout",
            CallError::OutOfFuel { .. } => "plugin-out-of-fuel",
            CallError::MemoryLimit { .. } => "plugin-memory-limit",
            CallError::TableLimit { .. } => "plugin-table-limit",
            CallError::StackOverflow { .. } => "plugin-stack-overflow",
            CallError::Trap { .. } => "plugin-trap",
            CallError::OutputTooLarge { .. } => "plugin-output-too-large",
            CallError::HostCallLimit { .. } => "plugin-host-call-limit",
            CallError::Plugin { .. } => "plugin-error",
            CallError::HostBusy { .. } => "capacity-exhausted",
        }
    }

    /// Whom the failure is blamed on: the plugin misbehaved (trap,
    /// timeout, fuel, memory, stack, table, a refused host call), the
    /// input was bad (the plugin rejected it, or its output for this input
    /// exceeded a cap), or the host had no capacity for it.
    pub fn blame(&self) -> Blame {
        match self {
            CallError::Plugin { .. } | CallError::OutputTooLarge { .. } => Blame::Input,
            CallError::HostBusy { .. } => Blame::Host,
            _ => Blame::Plugin,
        }
    }

    /// Whether the plugin misbehaved (as opposed to being given bad input).
    pub fn is_fault(&self) -> bool {
        self.blame() == Blame::Plugin
    }
}

/// Whom a failed call is blamed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The plugin misbehaved: counts toward its binding's breaker.
    Plugin,
    /// The input was bad: counts toward the (binding, device) breaker.
    Input,
    /// The host could not run the call (capacity): counts toward no
    /// breaker; the input is retried or dead-lettered with that reason.
    Host,
}

/// A failed call with what it cost, for metering and plugin-run records.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct CallFailure {
    /// Why it failed (boxed: the typed error is large, the failure is moved).
    #[source]
    pub error: Box<CallError>,
    /// Wall time of the call, including instantiation.
    pub duration: std::time::Duration,
    /// Fuel used before it failed (0 without metering).
    pub fuel_used: u64,
}
