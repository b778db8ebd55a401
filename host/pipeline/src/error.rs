//! Pipeline errors: what the API turns into problem details.

use nexus_registry::RegistryError;
use nexus_runtime::{CallError, LoadError};
use nexus_storage::StorageError;

/// Why a pipeline operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// Storage failed, or a row was missing or conflicting.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The upload failed validation.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The component does not load as the declared kind.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Compiling the upload took longer than allowed.
    #[error("compiling the component took longer than {0:?}; it is refused")]
    CompileTimeout(std::time::Duration),
    /// The component loaded but its `describe` failed.
    #[error("the component's describe call failed: {0}")]
    Describe(CallError),
    /// The decoder rejected the frame; it is kept as a dead letter.
    #[error("the frame was rejected by the decoder: {message}")]
    Rejected {
        /// The decoder's code.
        code: String,
        /// The decoder's reason.
        message: String,
    },
    /// A plugin misbehaved while handling the request; the input is kept
    /// as a dead letter.
    #[error(transparent)]
    Fault(CallError),
    /// The device has no decoder bound.
    #[error("device `{0}` has no decoder bound; bind one with POST /api/bindings")]
    NoDecoder(String),
    /// The device's decoder binding is quarantined; the frame is kept as a
    /// dead letter.
    #[error("the decoder binding `{binding_id}` of this device is quarantined: {reason}")]
    Quarantined {
        /// The binding.
        binding_id: String,
        /// Why the breaker opened.
        reason: String,
    },
    /// The tenant used up its plan for the month.
    #[error("tenant `{tenant_id}` used {used} {what} of its {limit} for {month}")]
    QuotaExceeded {
        /// The tenant.
        tenant_id: String,
        /// `executions` or `fuel`.
        what: &'static str,
        /// Used so far.
        used: u64,
        /// The plan's cap.
        limit: u64,
        /// `YYYY-MM`.
        month: String,
    },
    /// A request that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// A worker thread failed.
    #[error("internal: {0}")]
    Internal(String),
}
