//! What a tenant admin reviews before approving a vendor's release: the
//! release (world, contract, imports, `describe`, signature) beside the
//! versions of the same package the tenant runs now, with what changed
//! against the newest of them — configuration schema and imports.

use std::collections::BTreeMap;

use nexus_model::{BindingId, Page, PluginVersion, Release, ReleaseId, TenantId, schema_changes};

use crate::Result;
use crate::releases::ReleaseService;

/// A version of the package the tenant runs, with its bindings.
#[derive(Debug, Clone, PartialEq)]
pub struct InUse {
    /// The installed version.
    pub plugin: PluginVersion,
    /// The bindings running it.
    pub bindings: Vec<BindingId>,
}

/// A release and what approving it would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// The release.
    pub release: Release,
    /// The package's versions the tenant's bindings run, newest first.
    pub in_use: Vec<InUse>,
    /// Against the newest version in use: its configuration schema's
    /// changes (see [`schema_changes`]).
    pub config_changes: Vec<String>,
    /// Against the newest version in use that is a release: imports the
    /// candidate adds.
    pub imports_added: Vec<String>,
    /// … and imports it drops.
    pub imports_removed: Vec<String>,
}

impl ReleaseService {
    /// The release with the tenant's versions of its package in use and
    /// the differences to the newest of them (404 for a vendor the tenant
    /// does not trust, like [`ReleaseService::release`]).
    pub async fn review(&self, tenant: &TenantId, id: &ReleaseId) -> Result<Review> {
        let release = self.release(tenant, id).await?;
        let store = &self.0.store;
        let mut running: BTreeMap<_, Vec<BindingId>> = BTreeMap::new();
        let mut page = Page { after: None, limit: Page::MAX };
        loop {
            let bindings = store.bindings(tenant, &page).await?;
            for binding in &bindings {
                running.entry(binding.plugin_id.clone()).or_default().push(binding.id.clone());
            }
            match bindings.last() {
                Some(last) if bindings.len() == Page::MAX as usize => page.after = Some(last.id.to_string()),
                _ => break,
            }
        }
        let mut in_use = Vec::new();
        for (plugin_id, bindings) in running {
            let plugin = store.plugin(tenant, &plugin_id).await?;
            if plugin.name == release.package && plugin.kind == release.kind {
                in_use.push(InUse { plugin, bindings });
            }
        }
        in_use.sort_by(|a, b| (b.plugin.created_time, &b.plugin.id).cmp(&(a.plugin.created_time, &a.plugin.id)));
        let config_changes = in_use
            .first()
            .map(|newest| schema_changes(&newest.plugin.info.config_schema, &release.info.config_schema))
            .unwrap_or_default();
        let mut imports_added = Vec::new();
        let mut imports_removed = Vec::new();
        if let Some(previous) = in_use.iter().find_map(|u| u.plugin.release_id.clone()) {
            let previous = store.release(&previous).await?;
            imports_added = release.imports.iter().filter(|i| !previous.imports.contains(i)).cloned().collect();
            imports_removed = previous.imports.iter().filter(|i| !release.imports.contains(i)).cloned().collect();
        }
        Ok(Review { release, in_use, config_changes, imports_added, imports_removed })
    }
}
