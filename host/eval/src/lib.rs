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
//! - [`native`] runs a plugin's pure Rust logic as a [`replay::Rule`]:
//!   readings grouped into the SDK's series, the SDK's signals converted back,
//!   and JSON state kept only when a call succeeds;
//! - [`replay`] drives a rule: a wasm component through the runtime, or any
//!   native function (for tests).

pub mod bench2;
pub mod dataset;
pub mod detect;
pub mod native;
pub mod replay;

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
