//! The catalogue's port: vendors' signing keys, their releases (metadata
//! only; the bytes are in the component store), which vendors each tenant
//! trusts, and a release installed in a tenant once its admin approves it.

use async_trait::async_trait;
use nexus_model::{
    Actor, Page, PluginVersion, Release, ReleaseId, TenantId, TimestampMs, VendorId, VendorKey, VendorKeyId,
};

use crate::Result;

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
    /// Trusts a vendor (trusting it again changes nothing); an event.
    async fn trust_vendor(&self, tenant: &TenantId, vendor: &VendorId, actor: &Actor, now: TimestampMs) -> Result<()>;
    /// Stops trusting a vendor (not found when it was not trusted); an
    /// event. Versions approved already stay installed.
    async fn distrust_vendor(
        &self,
        tenant: &TenantId,
        vendor: &VendorId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()>;
    /// The vendors the tenant trusts, by id.
    async fn trusted_vendors(&self, tenant: &TenantId) -> Result<Vec<VendorId>>;
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
