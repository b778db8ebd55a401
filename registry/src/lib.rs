//! # nexus-registry
//!
//! What a plugin upload must pass before anything is stored: a size cap, a
//! valid name and version, bytes that are a WebAssembly *component* (not a
//! core module) and that validate. Its identity is the sha256 of its bytes.
//! Whether it implements the declared world is checked by the runtime, which
//! type-checks it against the linker.
//!
//! Vendors' releases build on it: [`signing`] defines what a vendor signs
//! and checks it, [`blobs`] is the content-addressed store their bytes live
//! in.

use sha2::{Digest, Sha256};

pub mod blobs;
pub mod signing;

pub use blobs::{BlobError, Blobs};
pub use signing::{ReleaseClaims, SignatureError};

/// Largest component accepted by default (10 MiB).
pub const DEFAULT_MAX_COMPONENT_BYTES: usize = 10 << 20;

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The body is larger than the cap.
    #[error("the component is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Empty body.
    #[error("the upload is empty")]
    Empty,
    /// A core module was uploaded.
    #[error(
        "this is a core WebAssembly module, not a component; build for wasm32-wasip2 (which emits a component) or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// Not WebAssembly at all.
    #[error("not a WebAssembly component: the bytes do not start with the component header")]
    NotWasm,
    /// The validator rejected it.
    #[error("the component does not validate: {0}")]
    Invalid(String),
    /// A bad plugin name.
    #[error("invalid plugin name `{0}`: use 1-64 characters a-z, 0-9 and '-', starting with a letter")]
    BadName(String),
    /// A bad version.
    #[error("invalid version `{0}`: use semantic versioning, e.g. 1.2.0")]
    BadVersion(String),
}

/// A component that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// sha256 of the bytes, hex.
    pub hash: String,
    /// Size in bytes.
    pub size: usize,
}

/// The sha256 of component bytes, hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a plugin name: lower-case kebab, 1-64 chars, starting with a letter.
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok { Ok(()) } else { Err(RegistryError::BadName(name.to_string())) }
}

/// Checks a version: `MAJOR.MINOR.PATCH` with an optional `-pre` suffix.
pub fn validate_version(version: &str) -> Result<(), RegistryError> {
    let core = version.split_once('-').map_or(version, |(core, _)| core);
    let parts: Vec<&str> = core.split('.').collect();
    let ok = version.len() <= 64
        && parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && version.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok { Ok(()) } else { Err(RegistryError::BadVersion(version.to_string())) }
}

/// Validates component bytes against the size cap and the wasm validator.
pub fn validate_component(bytes: &[u8], max_bytes: usize) -> Result<Validated, RegistryError> {
    if bytes.is_empty() {
        return Err(RegistryError::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(RegistryError::TooLarge { size: bytes.len(), max: max_bytes });
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(RegistryError::CoreModule);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(RegistryError::NotWasm);
    }
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator.validate_all(bytes).map_err(|e| RegistryError::Invalid(e.to_string()))?;
    Ok(Validated { hash: content_hash(bytes), size: bytes.len() })
}

/// The names a component imports at its top level (e.g.
/// `nexus:plugin/host@0.2.0`, `wasi:io/streams@0.2.6`), in order — what a
/// tenant reviews before approving it. Bytes that do not parse give what
/// was read before the fault (validation refuses them anyway).
pub fn imports(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 1 => {
                names.extend(reader.into_iter().flatten().map(|import| import.name.name.to_string()));
            }
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_component() {
        assert_eq!(validate_component(b"", 100), Err(RegistryError::Empty));
        assert_eq!(validate_component(b"hello world", 100), Err(RegistryError::NotWasm));
        assert_eq!(validate_component(b"\0asm\x01\0\0\0", 100), Err(RegistryError::CoreModule));
        assert_eq!(validate_component(&[0; 101], 100), Err(RegistryError::TooLarge { size: 101, max: 100 }));
        // A component header followed by garbage.
        let truncated = b"\0asm\x0d\0\x01\0\x01\xff";
        assert!(matches!(validate_component(truncated, 100), Err(RegistryError::Invalid(_))));
    }

    #[test]
    fn checks_names_and_versions() {
        assert!(validate_name("alarm-rule-threshold").is_ok());
        assert!(validate_name("Alarm").is_err());
        assert!(validate_name("1x").is_err());
        assert!(validate_version("0.1.0").is_ok());
        assert!(validate_version("1.2.3-beta.1").is_ok());
        assert!(validate_version("1.2").is_err());
        assert!(validate_version("a.b.c").is_err());
    }
}
