//! The catalogue's port: vendors' signing keys, their releases (metadata
//! only; the bytes are in the component store), which vendors each tenant
//! trusts, and a release installed in a tenant once its admin approves it.

use async_trait::async_trait;
use nexus_model::{
    Actor, Binding, BindingId, Page, PluginVersion, PluginVersionId, Release, ReleaseId, ReleaseStatus, TenantId,
    TimestampMs, TrustedVendor, VendorId, VendorKey, VendorKeyId,
};

use crate::{Result, entity_event};
use nexus_model::{EntityAction, EntityKind, EventBody, NewEvent};

/// A release yanked or revoked, and what happens to the bindings running
/// it, in one transaction.
#[derive(Debug, Clone)]
pub struct Retirement<'a> {
    /// The release's vendor (another vendor's release is not found).
    pub vendor: &'a VendorId,
    /// The release.
    pub release: &'a ReleaseId,
    /// `Yanked` or `Revoked`.
    pub status: ReleaseStatus,
    /// Why.
    pub reason: &'a str,
    /// The bindings that leave it (a revocation moves every one).
    pub moves: Vec<BindingMove>,
    /// Who.
    pub actor: &'a Actor,
    /// When.
    pub now: TimestampMs,
}

/// One binding leaving a revoked release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingMove {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The binding.
    pub binding_id: BindingId,
    /// The version it moves to (the tenant's fallback); none: it stops,
    /// quarantined with the reason.
    pub to: Option<PluginVersionId>,
}

/// Keys, releases, trust and approvals.
#[async_trait]
pub trait ReleaseStore: Send + Sync {
    /// Registers a vendor's public key (base64).
    async fn insert_vendor_key(&self, vendor: &VendorId, public_key: &str, now: TimestampMs) -> Result<VendorKey>;
    /// The vendor's keys, oldest first.
    async fn vendor_keys(&self, vendor: &VendorId) -> Result<Vec<VendorKey>>;
    /// One key, of any vendor.
    async fn vendor_key(&self, id: &VendorKeyId) -> Result<VendorKey>;
    /// Revokes one of the vendor's keys; a key revoked already is a
    /// conflict, a key of another vendor not found.
    async fn revoke_vendor_key(
        &self,
        vendor: &VendorId,
        id: &VendorKeyId,
        reason: &str,
        now: TimestampMs,
    ) -> Result<VendorKey>;
    /// Stores a release; a package's version is published once (conflict).
    async fn insert_release(&self, release: &Release) -> Result<Release>;
    /// One release.
    async fn release(&self, id: &ReleaseId) -> Result<Release>;
    /// A page of the vendor's releases, in publish order.
    async fn vendor_releases(&self, vendor: &VendorId, page: &Page) -> Result<Vec<Release>>;
    /// A page of the releases of the vendors the tenant trusts, in publish
    /// order.
    async fn trusted_releases(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Release>>;
    /// Trusts a vendor, with or without fallback on revocations (trusting
    /// it again sets the fallback); an event when something changed.
    async fn trust_vendor(
        &self,
        tenant: &TenantId,
        vendor: &VendorId,
        fallback: bool,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()>;
    /// Stops trusting a vendor (not found when it was not trusted); an
    /// event. Versions approved already stay installed.
    async fn distrust_vendor(
        &self,
        tenant: &TenantId,
        vendor: &VendorId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()>;
    /// The vendors the tenant trusts, by vendor id.
    async fn trusted_vendors(&self, tenant: &TenantId) -> Result<Vec<TrustedVendor>>;
    /// Every binding, of every tenant, running a version installed from
    /// the release.
    async fn release_bindings(&self, id: &ReleaseId) -> Result<Vec<Binding>>;
    /// Yanks or revokes a release of the vendor: its status and reason; the
    /// moves of the bindings leaving it (each an event); an event of the
    /// installed version in every tenant that approved it, naming that
    /// tenant's bindings running it. A revoked release is final (conflict),
    /// and yanking a yanked one is a conflict.
    async fn retire_release(&self, retirement: &Retirement<'_>) -> Result<Release>;
    /// Installs an approved release in the tenant: a plugin version named
    /// by the package, pointing at the release (its bytes stay in the
    /// component store); the same package version twice is a conflict.
    /// An event of the plugin's creation, naming the release and digest.
    async fn install_release(
        &self,
        tenant: &TenantId,
        release: &Release,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<PluginVersion>;
}

/// A version of the release installed in a tenant, and the tenant's
/// bindings running it (what [`retirement_events`] tells each tenant).
#[derive(Debug, Clone)]
pub struct Installed {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Its plugin version of the release.
    pub plugin_id: PluginVersionId,
    /// Its bindings running that version (before any move).
    pub bindings: Vec<BindingId>,
}

/// The events of a retirement, the same in every backend: one per tenant
/// that approved the release (the installed version updated, with the new
/// status, the reason and the bindings running it: for a yank, the warning
/// that they run a yanked version), then one per binding moved to its
/// fallback, or quarantined.
pub fn retirement_events(retirement: &Retirement<'_>, release: &Release, installed: &[Installed]) -> Vec<NewEvent> {
    let (now, actor, reason) = (retirement.now, retirement.actor, retirement.reason);
    let mut events = Vec::new();
    for one in installed {
        let summary = serde_json::json!({
            "release_id": release.id, "package": release.package, "version": release.version,
            "release_status": retirement.status.as_str(), "reason": reason, "bindings": one.bindings,
        });
        let kind = EntityKind::Plugin;
        events.push(entity_event(&one.tenant_id, now, kind, &one.plugin_id, EntityAction::Updated, actor, summary));
    }
    for moved in &retirement.moves {
        let tenant = &moved.tenant_id;
        match &moved.to {
            Some(to) => {
                let from = installed.iter().find(|i| &i.tenant_id == tenant).map(|i| &i.plugin_id);
                let summary = serde_json::json!({"plugin_id": to, "previous_plugin_id": from, "fallback": true,
                                                 "reason": format!("{}@{} revoked: {reason}", release.package, release.version)});
                let id = &moved.binding_id;
                events.push(entity_event(tenant, now, EntityKind::Binding, id, EntityAction::Updated, actor, summary));
            }
            None => {
                let body = EventBody::BindingQuarantined {
                    binding_id: moved.binding_id.clone(),
                    device_id: None,
                    reason: revoked_reason(release, reason),
                };
                events.push(NewEvent::new(tenant, now, body));
            }
        }
    }
    events
}

/// Why a binding stopped when its release was revoked.
pub fn revoked_reason(release: &Release, reason: &str) -> String {
    format!(
        "{}@{} was revoked by its vendor ({reason}) and the tenant has no fallback",
        release.package, release.version
    )
}
