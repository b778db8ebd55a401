//! The catalogue of vendors' components: signing keys, publishing a signed
//! release, which vendors a tenant trusts, and a tenant admin's approval of
//! one exact release, which installs it in the tenant as a plugin version.
//!
//! A release's bytes live in the content-addressed component store
//! ([`nexus_registry::Blobs`]); its metadata in storage. Its signature
//! covers the digest and the metadata ([`nexus_registry::ReleaseClaims`]).
//! It is checked on publish, on approval and whenever an approved version
//! is loaded: a blob whose bytes changed (`digest-mismatch`), a key revoked
//! since (`key-revoked`) or a signature that no longer verifies
//! (`signature-invalid`) is refused, and nothing of it runs.
//!
//! A vendor withdraws a release by yanking it (no new approval or binding;
//! the bindings running it keep running, and each tenant that approved it
//! gets a warning event) or revoking it (it loads nowhere any more; each
//! binding running it moves to the tenant's previous approved version of
//! the package if the tenant trusts the vendor with fallback, or stops).

use std::sync::Arc;

use nexus_model::{
    Actor, Binding, Page, PluginKind, PluginRef, PluginVersion, PluginVersionId, QuotaKind, Release, ReleaseId,
    ReleaseStatus, TenantId, TrustedVendor, VendorId, VendorKey, VendorKeyId,
};
use nexus_registry::{BlobError, ReleaseClaims, SignatureError};
use nexus_storage::{BindingMove, Retirement};

use crate::plugins::{MAX_COMPONENT_BYTES_CEILING, compile_and_describe};
use crate::{Inner, Refusal, Result, ServiceError, blocking};

/// What a vendor publishes: the component and the signed metadata.
#[derive(Debug, Clone)]
pub struct Publish {
    /// `vendor/name`: the vendor part must be the publisher's vendor.
    pub package: String,
    /// Semantic version.
    pub version: String,
    /// The world it implements.
    pub kind: PluginKind,
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
    /// ed25519 over [`ReleaseClaims`], base64.
    pub signature: String,
    /// The component.
    pub bytes: Vec<u8>,
}

/// Longest free-text field of a release.
const MAX_TEXT: usize = 16 << 10;

/// Keys, releases, trust and approvals. Cheap to clone.
#[derive(Clone)]
pub struct ReleaseService(pub(crate) Arc<Inner>);

impl ReleaseService {
    /// Registers one of the vendor's ed25519 public keys (base64 of its 32
    /// bytes).
    pub async fn register_key(&self, vendor: &VendorId, public_key: &str) -> Result<VendorKey> {
        nexus_registry::signing::public_key(public_key).map_err(|e| refused("invalid-key", Refusal::BadRequest, e))?;
        let key = self.0.store.insert_vendor_key(vendor, public_key.trim(), self.0.now()).await?;
        tracing::info!(%vendor, key = %key.id, "Vendor key registered.");
        Ok(key)
    }

    /// The vendor's keys, oldest first.
    pub async fn keys(&self, vendor: &VendorId) -> Result<Vec<VendorKey>> {
        Ok(self.0.store.vendor_keys(vendor).await?)
    }

    /// Revokes one of the vendor's keys: nothing it signed verifies from
    /// now on, so versions of it that are loaded are dropped and checked
    /// again (and refused) on their next call.
    pub async fn revoke_key(&self, vendor: &VendorId, id: &VendorKeyId, reason: &str) -> Result<VendorKey> {
        let reason = reason_of(reason)?;
        let key = self.0.store.revoke_vendor_key(vendor, id, reason, self.0.now()).await?;
        self.0.loaded.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, loaded| loaded.meta.release_id.is_none());
        tracing::warn!(%vendor, key = %id, reason, "Vendor key revoked.");
        Ok(key)
    }

    /// Publishes a release of the vendor: the package must be the vendor's,
    /// the key the vendor's and not revoked, the signature must verify over
    /// the digest and the metadata, and the component must compile as its
    /// world; then its bytes go to the component store and its metadata to
    /// the catalogue.
    pub async fn publish(&self, vendor: &VendorId, publish: Publish, by: &Actor) -> Result<Release> {
        let inner = &self.0;
        let owner = inner.store.vendor(vendor).await?;
        let (scope, name) = publish.package.split_once('/').ok_or_else(|| {
            refused("invalid-name", Refusal::BadRequest, format!("package `{}` is not `vendor/name`", publish.package))
        })?;
        if scope != owner.name {
            return Err(refused(
                "vendor-mismatch",
                Refusal::Forbidden,
                format!("package `{}` is not under your vendor `{}`", publish.package, owner.name),
            ));
        }
        nexus_registry::validate_name(name)?;
        nexus_registry::validate_version(&publish.version)?;
        for (field, text) in [
            ("description", &publish.description),
            ("licence", &publish.licence),
            ("source_url", &publish.source_url),
            ("changelog", &publish.changelog),
        ] {
            if text.len() > MAX_TEXT {
                return Err(ServiceError::Invalid(format!("{field} is over {MAX_TEXT} bytes")));
            }
        }
        let validated = nexus_registry::validate_component(&publish.bytes, MAX_COMPONENT_BYTES_CEILING)?;
        let key = usable_key(inner, vendor, &publish.key_id).await?;
        let claims = ReleaseClaims {
            digest: format!("sha256:{}", validated.hash),
            package: publish.package.clone(),
            version: publish.version.clone(),
            kind: publish.kind.as_str().into(),
            description: publish.description.clone(),
            licence: publish.licence.clone(),
            source_url: publish.source_url.clone(),
            changelog: publish.changelog.clone(),
        };
        nexus_registry::signing::verify(&key.public_key, key.id.as_str(), &claims, &publish.signature)
            .map_err(signature_refused)?;
        // Compiled and described in the vendor's own scope, then dropped:
        // each tenant compiles it again, in its scope, when it loads it.
        let bytes = Arc::new(publish.bytes);
        let scope = TenantId::new(format!("vendor.{vendor}"));
        let plugin_ref =
            PluginRef { tenant_id: scope.clone(), name: publish.package.clone(), version: publish.version.clone() };
        let (staged, info) = compile_and_describe(inner, &scope, publish.kind, bytes.clone(), plugin_ref).await?;
        let contract = staged.plugin().contract().to_string();
        drop(staged);
        let blobs = inner.config.component_store();
        let stored = bytes.clone();
        let digest = blocking(move || nexus_registry::Blobs::new(blobs).put(&stored)).await?.map_err(blob_refused)?;
        let release = Release {
            id: ReleaseId::random(),
            vendor_id: vendor.clone(),
            package: publish.package,
            version: publish.version,
            kind: publish.kind,
            digest,
            size_bytes: bytes.len() as i64,
            contract,
            info,
            imports: nexus_registry::imports(&bytes),
            description: publish.description,
            licence: publish.licence,
            source_url: publish.source_url,
            changelog: publish.changelog,
            key_id: key.id,
            signature: publish.signature.trim().to_string(),
            published_by: by.to_string(),
            published_time: inner.now(),
            status: ReleaseStatus::Published,
            status_reason: None,
            status_time: None,
        };
        let release = inner.store.insert_release(&release).await?;
        tracing::info!(%vendor, release = %release.id, package = %release.package, version = %release.version, digest = %release.digest, "Release published.");
        Ok(release)
    }

    /// A page of the vendor's releases, in publish order.
    pub async fn vendor_releases(&self, vendor: &VendorId, page: &Page) -> Result<Vec<Release>> {
        Ok(self.0.store.vendor_releases(vendor, page).await?)
    }

    /// A page of the releases the tenant can see: those of the vendors it
    /// trusts.
    pub async fn catalogue(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Release>> {
        Ok(self.0.store.trusted_releases(tenant, page).await?)
    }

    /// One release, if the tenant trusts its vendor (else not found: an
    /// untrusted vendor's catalogue is not the tenant's to see).
    pub async fn release(&self, tenant: &TenantId, id: &ReleaseId) -> Result<Release> {
        let release = self.0.store.release(id).await?;
        if !self.0.store.trusted_vendors(tenant).await?.iter().any(|t| t.vendor_id == release.vendor_id) {
            return Err(ServiceError::NotFound { what: "release", id: id.to_string() });
        }
        Ok(release)
    }

    /// Trusts a vendor: its releases become visible to the tenant (each
    /// still needs an approval before it runs). With `fallback`, a revoked
    /// release's bindings move to the previous approved version.
    pub async fn trust(&self, tenant: &TenantId, vendor: &VendorId, fallback: bool, by: &Actor) -> Result<()> {
        self.0.store.trust_vendor(tenant, vendor, fallback, by, self.0.now()).await?;
        self.0.wake_outbox();
        Ok(())
    }

    /// Stops trusting a vendor; versions approved already stay.
    pub async fn distrust(&self, tenant: &TenantId, vendor: &VendorId, by: &Actor) -> Result<()> {
        self.0.store.distrust_vendor(tenant, vendor, by, self.0.now()).await?;
        self.0.wake_outbox();
        Ok(())
    }

    /// The vendors the tenant trusts.
    pub async fn trusted(&self, tenant: &TenantId) -> Result<Vec<TrustedVendor>> {
        Ok(self.0.store.trusted_vendors(tenant).await?)
    }

    /// Approves one exact release for the tenant: its bytes, key and
    /// signature are checked again, then it is installed as a plugin
    /// version of the tenant, which bindings can run.
    pub async fn approve(&self, tenant: &TenantId, id: &ReleaseId, by: &Actor) -> Result<PluginVersion> {
        let inner = &self.0;
        let release = self.release(tenant, id).await?;
        usable(&release)?;
        verified_bytes(inner, &release).await?;
        let turn = inner.quota_turn(tenant, QuotaKind::Plugins).await?;
        let plugin = inner.store.install_release(tenant, &release, by, inner.now()).await?;
        drop(turn);
        inner.wake_outbox();
        // Compiled for the tenant now (its compile cache is its own), so a
        // binding's first batch does not wait for it; if this fails, the
        // first use compiles it.
        if let Err(error) = inner.loaded(tenant, &plugin.id).await {
            tracing::warn!(%tenant, plugin = %plugin.id, %error, "An approved release was not compiled ahead.");
        }
        tracing::info!(%tenant, release = %release.id, package = %release.package, version = %release.version, plugin = %plugin.id, "Release approved.");
        Ok(plugin)
    }
}

impl ReleaseService {
    /// Yanks a release of the vendor: no tenant can approve or bind it any
    /// more; bindings running it keep running, and each tenant that
    /// approved it gets an event naming them.
    pub async fn yank(&self, vendor: &VendorId, id: &ReleaseId, reason: &str, by: &Actor) -> Result<Release> {
        let reason = reason_of(reason)?;
        let retirement = Retirement {
            vendor,
            release: id,
            status: ReleaseStatus::Yanked,
            reason,
            moves: Vec::new(),
            actor: by,
            now: self.0.now(),
        };
        let release = self.0.store.retire_release(&retirement).await?;
        self.0.wake_outbox();
        tracing::warn!(%vendor, release = %id, package = %release.package, version = %release.version, reason, "Release yanked.");
        Ok(release)
    }

    /// Revokes a release of the vendor: it loads nowhere from now on, and
    /// in the same transaction every binding running it moves to its
    /// tenant's previous approved version of the package (when the tenant
    /// trusts the vendor with fallback and has one) or stops, quarantined
    /// with the reason; each an event.
    pub async fn revoke(&self, vendor: &VendorId, id: &ReleaseId, reason: &str, by: &Actor) -> Result<Release> {
        let inner = &self.0;
        let reason = reason_of(reason)?;
        let release = inner.store.release(id).await?;
        if &release.vendor_id != vendor {
            return Err(ServiceError::NotFound { what: "release", id: id.to_string() });
        }
        let mut moves = Vec::new();
        for binding in inner.store.release_bindings(id).await? {
            let to = fallback(inner, &binding, &release).await?;
            moves.push(BindingMove { tenant_id: binding.tenant_id, binding_id: binding.id, to });
        }
        let retirement = Retirement {
            vendor,
            release: id,
            status: ReleaseStatus::Revoked,
            reason,
            moves,
            actor: by,
            now: inner.now(),
        };
        let release = inner.store.retire_release(&retirement).await?;
        inner
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, loaded| loaded.meta.release_id.as_ref() != Some(id));
        for tenant in retirement.moves.iter().map(|m| &m.tenant_id) {
            inner.caches.forget_bindings(tenant);
        }
        inner.wake_outbox();
        let moved = retirement.moves.iter().filter(|m| m.to.is_some()).count();
        tracing::warn!(%vendor, release = %id, package = %release.package, version = %release.version, reason,
            moved, stopped = retirement.moves.len() - moved, "Release revoked.");
        Ok(release)
    }
}

/// The version a binding of a revoked release moves to: none unless its
/// tenant trusts the vendor with fallback; then the version it ran before
/// if that is an approved, usable version of the same package, else the
/// newest such version the tenant approved.
async fn fallback(inner: &Inner, binding: &Binding, revoked: &Release) -> Result<Option<PluginVersionId>> {
    let tenant = &binding.tenant_id;
    let trusts = inner.store.trusted_vendors(tenant).await?;
    if !trusts.iter().any(|t| t.vendor_id == revoked.vendor_id && t.fallback) {
        return Ok(None);
    }
    let mut best: Option<(bool, i64, PluginVersionId)> = None;
    for version in inner.store.plugins(tenant, &Page::all()).await? {
        let Some(release_id) = &version.release_id else { continue };
        if version.name != revoked.package || version.kind != binding.kind || release_id == &revoked.id {
            continue;
        }
        if inner.store.release(release_id).await?.status != ReleaseStatus::Published {
            continue;
        }
        let rank = (binding.previous_plugin_id.as_ref() == Some(&version.id), version.created_time, version.id);
        if best.as_ref().is_none_or(|b| rank > *b) {
            best = Some(rank);
        }
    }
    Ok(best.map(|(_, _, id)| id))
}

/// A release that may be approved or bound: neither yanked nor revoked.
pub(crate) fn usable(release: &Release) -> Result<()> {
    let why = release.status_reason.as_deref().unwrap_or("no reason given");
    let name = format!("{}@{}", release.package, release.version);
    match release.status {
        ReleaseStatus::Published => Ok(()),
        ReleaseStatus::Yanked => Err(refused(
            "release-yanked",
            Refusal::Conflict,
            format!(
                "{name} was yanked by its vendor ({why}): bindings running it keep running, but it cannot be approved or bound"
            ),
        )),
        ReleaseStatus::Revoked => Err(revoked(release)),
    }
}

fn revoked(release: &Release) -> ServiceError {
    let why = release.status_reason.as_deref().unwrap_or("no reason given");
    refused(
        "release-revoked",
        Refusal::Unprocessable,
        format!("{}@{} was revoked by its vendor ({why}): it runs nowhere", release.package, release.version),
    )
}

/// A reason for a yank or revocation, trimmed.
fn reason_of(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > MAX_TEXT {
        return Err(ServiceError::Invalid("give a reason (1 to 16384 bytes)".into()));
    }
    Ok(reason)
}

/// The bytes of an approved release, read from the component store and
/// checked: the release is not revoked, its bytes hash to the digest, the key is not revoked, the signature
/// verifies over the stored metadata.
pub(crate) async fn verified_bytes(inner: &Inner, release: &Release) -> Result<Vec<u8>> {
    if release.status == ReleaseStatus::Revoked {
        return Err(revoked(release));
    }
    let key = inner.store.vendor_key(&release.key_id).await?;
    if let Some(at) = key.revoked_time {
        return Err(key_revoked(&key, at));
    }
    let blobs = inner.config.component_store();
    let digest = release.digest.clone();
    let bytes = blocking(move || nexus_registry::Blobs::new(blobs).get(&digest)).await?.map_err(blob_refused)?;
    nexus_registry::signing::verify(&key.public_key, key.id.as_str(), &claims_of(release), &release.signature)
        .map_err(signature_refused)?;
    Ok(bytes)
}

/// What the stored release's signature covers.
fn claims_of(release: &Release) -> ReleaseClaims {
    ReleaseClaims {
        digest: format!("sha256:{}", release.digest),
        package: release.package.clone(),
        version: release.version.clone(),
        kind: release.kind.as_str().into(),
        description: release.description.clone(),
        licence: release.licence.clone(),
        source_url: release.source_url.clone(),
        changelog: release.changelog.clone(),
    }
}

/// One of the vendor's keys that is not revoked.
async fn usable_key(inner: &Inner, vendor: &VendorId, id: &VendorKeyId) -> Result<VendorKey> {
    let unknown = || refused("unknown-key", Refusal::Unprocessable, format!("your vendor has no key `{id}`"));
    let key = match inner.store.vendor_key(id).await {
        Ok(key) if &key.vendor_id == vendor => key,
        Ok(_) | Err(nexus_storage::StorageError::NotFound { .. }) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    match key.revoked_time {
        Some(at) => Err(key_revoked(&key, at)),
        None => Ok(key),
    }
}

fn key_revoked(key: &VendorKey, at: i64) -> ServiceError {
    let reason = key.revoked_reason.as_deref().unwrap_or("no reason given");
    refused("key-revoked", Refusal::Unprocessable, format!("key `{}` was revoked at {at} ({reason})", key.id))
}

fn signature_refused(error: SignatureError) -> ServiceError {
    match error {
        SignatureError::Malformed(_) => refused("signature-malformed", Refusal::BadRequest, error),
        _ => refused("signature-invalid", Refusal::Unprocessable, error),
    }
}

fn blob_refused(error: BlobError) -> ServiceError {
    match error {
        BlobError::DigestMismatch { .. } | BlobError::Missing(_) => {
            refused("digest-mismatch", Refusal::Unprocessable, error)
        }
        e => ServiceError::Internal(e.to_string()),
    }
}

fn refused(code: &'static str, refusal: Refusal, message: impl std::fmt::Display) -> ServiceError {
    ServiceError::Refused { code, refusal, message: message.to_string() }
}
