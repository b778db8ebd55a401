//! Vendors' releases: signed, versioned components in the catalogue, the
//! keys that sign them, and which vendors a tenant trusts.

use serde::{Deserialize, Serialize};

use crate::{PluginInfo, PluginKind, ReleaseId, TimestampMs, VendorId, VendorKeyId};

/// Where a release stands in its vendor's hands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// Usable: tenants that trust the vendor may approve and bind it.
    #[default]
    Published,
    /// Withdrawn for new use: no new approval or binding; bindings running
    /// it keep running (each tenant got a warning event).
    Yanked,
    /// Withdrawn for every use: it loads nowhere, and the bindings running
    /// it moved to the tenant's previous approved version (fallback) or
    /// stopped. Final.
    Revoked,
}

impl ReleaseStatus {
    /// Its name in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Yanked => "yanked",
            Self::Revoked => "revoked",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Published, Self::Yanked, Self::Revoked].into_iter().find(|k| k.as_str() == s)
    }
}

/// A vendor a tenant trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedVendor {
    /// The vendor.
    pub vendor_id: VendorId,
    /// When one of its releases is revoked, the tenant's bindings running it
    /// move to the previous approved version of the package (else they stop).
    pub fallback: bool,
    /// Trusted since, ms.
    pub created_time: TimestampMs,
}

/// A vendor's ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorKey {
    /// Its id (what a release names).
    pub id: VendorKeyId,
    /// The vendor it signs for.
    pub vendor_id: VendorId,
    /// The 32-byte key, base64.
    pub public_key: String,
    /// Registered, ms.
    pub created_time: TimestampMs,
    /// Revoked, ms: nothing it signed verifies any more.
    pub revoked_time: Option<TimestampMs>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// One published version of a vendor's package, without its bytes (those
/// are in the component store under `digest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Its id.
    pub id: ReleaseId,
    /// The publishing vendor.
    pub vendor_id: VendorId,
    /// `vendor/name`.
    pub package: String,
    /// Semantic version.
    pub version: String,
    /// The world it implements.
    pub kind: PluginKind,
    /// sha256 of the bytes, hex.
    pub digest: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The contract version it targets, e.g. `0.2.0`.
    pub contract: String,
    /// What `describe` returned (its configuration schema among it).
    pub info: PluginInfo,
    /// The interfaces it imports, e.g. `nexus:plugin/host@0.2.0`.
    pub imports: Vec<String>,
    /// One paragraph for the tenant.
    pub description: String,
    /// SPDX licence expression.
    pub licence: String,
    /// Where the source is.
    pub source_url: String,
    /// What changed in this version.
    pub changelog: String,
    /// The key that signed it.
    pub key_id: VendorKeyId,
    /// ed25519 over the digest and the metadata, base64.
    pub signature: String,
    /// Who published it (`user:…` or `api-key:…`).
    pub published_by: String,
    /// Published, ms.
    pub published_time: TimestampMs,
    /// Published, yanked or revoked.
    pub status: ReleaseStatus,
    /// Why it was yanked or revoked.
    pub status_reason: Option<String>,
    /// When it was yanked or revoked, ms.
    pub status_time: Option<TimestampMs>,
}
