//! # nexus-runtime
//!
//! The plugin runtime, and the only crate that knows wasmtime.
//!
//! One [`Runtime`] per process owns one `Engine` (component model, pooling
//! allocator, epoch interruption driven by a ticker thread, fuel metering),
//! one `Linker` that offers the `nexus:plugin/host` interface and a deny-all
//! WASI subset, and a cache of compiled plugins keyed by content hash
//! within a namespace (the uploading tenant's, see [`Runtime::cache_key`]).
//! Uploads compile in a child process killed at its deadline when a
//! [`CompilerCommand`] is configured, and enter the caches only when kept
//! ([`Runtime::stage`], [`Runtime::keep`]).
//! Every call runs with the binding's [`Limits`] set afresh: memory,
//! tables, instances, a wall-clock deadline, optional fuel, host-call and
//! output caps. A violated limit becomes a typed [`CallError`]. Decoders,
//! rules and transforms run on an instance kept from their binding's last
//! clean call when there is one (never another binding's; see `warm.rs`),
//! other calls in a fresh `Store`.
//!
//! [`Limits`]: nexus_model::Limits

mod bindings;
mod calls;
mod compiler;
mod config;
mod convert;
mod engine;
mod error;
mod host_state;
mod readiness;
mod warm;

pub use calls::CallOutcome;
pub use compiler::{CompilerCommand, compile_worker};
pub use config::RuntimeConfig;
pub use engine::{CONTRACT, Plugin, Runtime, RuntimeStats, Staged};
pub use error::{Blame, CallError, CallFailure, LoadError};
pub use host_state::{CallContext, NoTelemetry, TelemetryError, TelemetryReader};
