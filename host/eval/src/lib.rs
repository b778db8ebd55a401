//! # nexus-eval
//!
//! Offline evaluation of alarm rules on recorded well data, in virtual
//! time: the same components and the same state handling as the live
//! pipeline (a fresh store per call, state carried between calls only when a
//! call succeeds, `host.now` = the time of the data).
//!
//! - [`dataset`] reads 3W instances (`<class>/<instance>.csv.gz`);
//! - [`bench2`] selects the windows of the 3W anomaly-detection benchmark
//!   (Vargas et al. 2019, benchmark 2) and scores a detector on them;
//! - [`detect`] replays whole instances in one-minute batches and measures
//!   detection, delay and false alarms per hour;
//! - [`specificity`] replays every real instance of every class and counts
//!   raises per class and false alarms over all labelled-normal rows;
//! - [`replay`] drives a rule: [`replay::WasmRule`] runs a component through
//!   the runtime;
//! - [`plugins`] finds the components `.ci/build-plugins` built.
//!
//! The crate knows components only as built `.wasm` files, never a plugin's
//! source or the plugin SDK.

pub mod bench2;
pub mod dataset;
pub mod detect;
pub mod plugins;
pub mod replay;
pub mod specificity;

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A data file could not be read or parsed.
    #[error("{path}: {reason}")]
    Data {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A plugin's component has not been built.
    #[error("{path} is missing: build the plugins with `.ci/build-plugins` (or point NEXUS_PLUGIN_DIR at them)")]
    MissingComponent {
        /// Where it was looked for.
        path: String,
    },
    /// The rule failed on a call.
    #[error("rule failed on {instance} at ts {ts}: {reason}")]
    Rule {
        /// The instance being replayed.
        instance: String,
        /// The virtual time of the call.
        ts: i64,
        /// The error.
        reason: String,
    },
}
