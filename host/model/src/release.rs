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

/// What changed between two configuration schemas (JSON Schema objects),
/// as a tenant admin reads it before approving: properties added, removed
/// or retyped, and properties that became required or optional. Empty when
/// nothing a configuration depends on changed.
pub fn schema_changes(in_use: &serde_json::Value, candidate: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let properties = |schema: &Value| schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let required = |schema: &Value| -> std::collections::BTreeSet<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let (old, new) = (properties(in_use), properties(candidate));
    let mut changes = Vec::new();
    let mut names: Vec<&String> = new.keys().collect();
    names.sort();
    for name in names {
        let schema = &new[name];
        match old.get(name) {
            None => changes.push(format!("`{name}` added")),
            Some(before) if before.get("type") != schema.get("type") => changes.push(format!(
                "`{name}` type {} → {}",
                before.get("type").unwrap_or(&Value::Null),
                schema.get("type").unwrap_or(&Value::Null)
            )),
            Some(before) if before != schema => changes.push(format!("`{name}` changed")),
            Some(_) => {}
        }
    }
    let mut removed: Vec<&String> = old.keys().filter(|name| !new.contains_key(*name)).collect();
    removed.sort();
    changes.extend(removed.into_iter().map(|name| format!("`{name}` removed")));
    let (was, now) = (required(in_use), required(candidate));
    changes.extend(now.difference(&was).map(|name| format!("`{name}` now required")));
    changes.extend(was.difference(&now).map(|name| format!("`{name}` no longer required")));
    changes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::schema_changes;

    #[test]
    fn a_schema_diff_names_each_property_that_changed() {
        let old = json!({"type": "object", "required": ["key"],
                         "properties": {"key": {"type": "string"}, "high": {"type": "number"}, "mode": {"type": "string"}}});
        let new = json!({"type": "object", "required": ["key", "high"],
                         "properties": {"key": {"type": "string"}, "high": {"type": "integer"},
                                        "mode": {"type": "string", "enum": ["a"]}, "deadband": {"type": "number"}}});
        assert_eq!(
            schema_changes(&old, &new),
            ["`deadband` added", "`high` type \"number\" → \"integer\"", "`mode` changed", "`high` now required"]
        );
        assert!(schema_changes(&new, &new).is_empty());
        assert_eq!(schema_changes(&json!({}), &json!({"properties": {"k": {}}})), ["`k` added"]);
        assert_eq!(schema_changes(&new, &json!({})).len(), 6, "four removed, two no longer required");
    }
}
