//! What a service call can fail with: the one error type the API maps to
//! problem documents. It names no storage, registry or runtime type.

use nexus_model::{BindingId, DeviceId, TenantId};
use nexus_registry::RegistryError;
use nexus_runtime::{Blame, CallError, LoadError};
use nexus_storage::StorageError;

/// Why an upload was refused, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The component is over the size limit (413).
    TooLarge,
    /// The request named something invalid (400).
    BadRequest,
    /// The component is not what it must be (422).
    Unprocessable,
    /// The thing is not in a state that allows it (409).
    Conflict,
    /// The principal may not do this to that thing (403).
    Forbidden,
}

/// Why a service call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The thing does not exist for this tenant.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// Kind of thing.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// It conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// A request that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// The credential is missing, malformed, expired or revoked (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The principal may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No device has this access token.
    #[error("no device has this access token")]
    UnknownToken,
    /// A request refused before anything was changed: an upload, or a
    /// step a recommendation cannot take now.
    #[error("{message}")]
    Refused {
        /// Stable code, e.g. `forbidden-import`.
        code: &'static str,
        /// How the API answers.
        refusal: Refusal,
        /// The validator's reason.
        message: String,
    },
    /// The decoder rejected the frame; it is kept as a dead letter.
    #[error("the frame was rejected by the decoder: {message}")]
    Rejected {
        /// The decoder's code.
        code: String,
        /// The decoder's reason.
        message: String,
    },
    /// A plugin misbehaved on the request's input; the input is kept as a
    /// dead letter.
    #[error("{message}")]
    Fault {
        /// Stable code, e.g. `plugin-timeout`.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// The device has no decoder bound.
    #[error("device `{0}` has no decoder bound; bind one with POST /api/bindings")]
    NoDecoder(DeviceId),
    /// The device's decoder binding is quarantined — as a whole, or for
    /// this device's input; the frame is kept as a dead letter.
    #[error("the decoder binding `{binding_id}` of this device is quarantined{}: {reason}",
        if device_id.is_some() { " for this device's input" } else { "" })]
    Quarantined {
        /// The binding.
        binding_id: BindingId,
        /// The device, when only its input is stopped.
        device_id: Option<DeviceId>,
        /// Why the breaker opened.
        reason: String,
    },
    /// A limit asked for is above what caps it (the system ceiling, the
    /// tenant's profile, or the plugin kind's default when there is no profile).
    #[error("limits: {limit} = {} is above {of}'s {}", show(*.asked), show(*.cap))]
    AboveCeiling {
        /// The limit's name, e.g. `deadline_ms`.
        limit: &'static str,
        /// What was asked (`None`: unbounded).
        asked: Option<u64>,
        /// The cap.
        cap: Option<u64>,
        /// Whose cap: `the system ceiling`, `the tenant profile`, ...
        of: &'static str,
    },
    /// The tenant's share of the host's capacity (plugin instances, call
    /// threads) is in use, and stayed so for the bounded wait: a condition
    /// of the host, retried by the sender, never a plugin's fault.
    #[error("{message}; retry in {retry_after_s} s")]
    CapacityExhausted {
        /// What was exhausted.
        message: String,
        /// When to retry.
        retry_after_s: u32,
    },
    /// A binding whose breaker keeps tripping is re-enabled too soon: the
    /// wait doubles with each trip (as a crash loop backs off).
    #[error("{message}; retry in {retry_after_s} s")]
    BackingOff {
        /// What waits.
        message: String,
        /// When to retry.
        retry_after_s: u32,
    },
    /// The tenant's previous upload (or other tenants') kept the compile
    /// slots busy for the bounded wait; nothing was compiled or stored.
    #[error("{message}; retry in {retry_after_s} s")]
    CompileBusy {
        /// What was busy.
        message: String,
        /// When to retry.
        retry_after_s: u32,
    },
    /// The tenant used up its profile for the month.
    #[error("tenant `{tenant_id}` used {used} {what} of its {limit} for {month}")]
    QuotaExceeded {
        /// The tenant.
        tenant_id: TenantId,
        /// `executions` or `fuel`.
        what: &'static str,
        /// Used so far.
        used: u64,
        /// The profile's cap.
        limit: u64,
        /// `YYYY-MM`.
        month: String,
    },
    /// A rate or ingest limit of the tenant's profile refused the request;
    /// nothing of it was done or stored.
    #[error("{limit} `{window}` reached; retry in {} s", crate::limits::retry_after_secs(*.retry_after))]
    RateLimited {
        /// The profile field, e.g. `rate_limits.per_user`.
        limit: &'static str,
        /// The window that refused, e.g. `100:60`.
        window: String,
        /// The earliest time that window admits again.
        retry_after: std::time::Duration,
    },
    /// One more entity would go over the tenant's quota; nothing was
    /// created.
    #[error("the tenant's profile allows {quota} = {limit}, and it has {existing}")]
    EntityQuotaExceeded {
        /// The quota, e.g. `max_devices`.
        quota: &'static str,
        /// Its value.
        limit: u64,
        /// How many the tenant has.
        existing: u64,
    },
    /// The tenant has as many live streams open as it may.
    #[error("the tenant has {open} live streams open, the most it may; close one")]
    TooManyStreams {
        /// Open now.
        open: usize,
        /// The most.
        limit: usize,
    },
    /// A notification rule that cannot be stored as asked (400 with the
    /// error's code).
    #[error(transparent)]
    InvalidRule(crate::RuleError),
    /// Storage cannot take the request now; nothing was acknowledged.
    #[error("{0}")]
    Unavailable(String),
    /// A setpoint write through a connector failed.
    #[error(transparent)]
    SetpointWrite(#[from] crate::WriteError),
    /// The host has more work queued than it takes; retry after a moment.
    #[error("the ingest queue is full ({queued} frames waiting); retry in {retry_after_s} s")]
    Overloaded {
        /// Frames waiting.
        queued: usize,
        /// When to retry.
        retry_after_s: u32,
    },
    /// Something failed inside the host.
    #[error("internal: {0}")]
    Internal(String),
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "unbounded".into(), |v| v.to_string())
}

impl From<StorageError> for ServiceError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound { what, id } => ServiceError::NotFound { what, id },
            StorageError::Conflict(message) => ServiceError::Conflict(message),
            e if e.is_transient() => ServiceError::Unavailable(e.to_string()),
            e => ServiceError::Internal(e.to_string()),
        }
    }
}

impl From<RegistryError> for ServiceError {
    fn from(error: RegistryError) -> Self {
        let (code, refusal) = match &error {
            RegistryError::TooLarge { .. } => ("payload-too-large", Refusal::TooLarge),
            RegistryError::Empty => ("empty-component", Refusal::Unprocessable),
            RegistryError::CoreModule => ("core-module", Refusal::Unprocessable),
            RegistryError::NotWasm => ("not-a-component", Refusal::Unprocessable),
            RegistryError::BadName(_) => ("invalid-name", Refusal::BadRequest),
            RegistryError::BadVersion(_) => ("invalid-version", Refusal::BadRequest),
            _ => ("invalid-component", Refusal::Unprocessable),
        };
        ServiceError::Refused { code, refusal, message: error.to_string() }
    }
}

impl From<LoadError> for ServiceError {
    fn from(error: LoadError) -> Self {
        let code = match &error {
            LoadError::NotAComponent(_) => "not-a-component",
            LoadError::Compile(_) => "invalid-component",
            LoadError::ForbiddenImport { .. } => "forbidden-import",
            LoadError::WrongWorld { .. } => "wrong-world",
            LoadError::CompileTimeout => "compile-timeout",
            _ => return ServiceError::Internal(error.to_string()),
        };
        ServiceError::Refused { code, refusal: Refusal::Unprocessable, message: error.to_string() }
    }
}

impl ServiceError {
    /// A plugin's fault on a request's input.
    pub(crate) fn fault(error: &CallError) -> Self {
        ServiceError::Fault { code: error.code(), message: error.to_string() }
    }

    /// A failed call on a request's input, blamed on whoever caused it:
    /// the input (rejected, or output over a cap), the host (capacity), or
    /// the plugin (a fault).
    pub(crate) fn from_call(error: CallError) -> Self {
        match error {
            CallError::Plugin { error, .. } => ServiceError::Rejected { code: error.code, message: error.message },
            e => match e.blame() {
                Blame::Input => ServiceError::Rejected { code: e.code().into(), message: e.to_string() },
                Blame::Host => ServiceError::CapacityExhausted { message: e.to_string(), retry_after_s: 1 },
                Blame::Plugin => ServiceError::fault(&e),
            },
        }
    }
}
