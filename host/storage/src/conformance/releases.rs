//! The catalogue: keys revoke once and only by their vendor; a package
//! version is published once; a tenant sees only the releases of vendors
//! it trusts; an approved release is installed once per tenant, as a plugin
//! of that tenant alone.

use nexus_model::{
    EntityAction, EntityKind, EventBody, EventSeq, Page, PluginKind, Release, ReleaseId, TenantId, VendorId,
};

use super::fixture::{T0, admin, info};
use crate::{StorageError, Store};

fn release(vendor: &VendorId, key: &nexus_model::VendorKeyId, version: &str) -> Release {
    Release {
        id: ReleaseId::random(),
        vendor_id: vendor.clone(),
        package: "acme/optimizer-esp".into(),
        version: version.into(),
        kind: PluginKind::Optimizer,
        digest: "ab".repeat(32),
        size_bytes: 1234,
        contract: "0.2.0".into(),
        info: info("optimizer-esp"),
        imports: vec!["nexus:plugin/host@0.2.0".into()],
        description: "ESP frequency".into(),
        licence: "Apache-2.0".into(),
        source_url: "https://example.com".into(),
        changelog: "first".into(),
        key_id: key.clone(),
        signature: "c2ln".into(),
        published_by: "user:dev@acme".into(),
        published_time: T0,
    }
}

fn trust_events(events: &[nexus_model::Event], tenant: &TenantId) -> Vec<EntityAction> {
    events
        .iter()
        .filter(|e| &e.tenant_id == tenant)
        .filter_map(|e| match &e.body {
            EventBody::Entity(change) if change.kind == EntityKind::TrustedVendor => Some(change.action),
            _ => None,
        })
        .collect()
}

/// The catalogue's rules, in one walk.
pub async fn releases_are_signed_once_seen_by_trust_and_installed_per_tenant(store: &dyn Store) {
    let (a, b) = (TenantId::new("tenant-a"), TenantId::new("tenant-b"));
    store.ensure_tenant(&a, "A", T0).await.expect("tenant a");
    store.ensure_tenant(&b, "B", T0).await.expect("tenant b");
    let acme = store.create_vendor("acme", T0).await.expect("vendor").id;
    let other = store.create_vendor("other", T0).await.expect("vendor").id;

    // Keys: registered, listed, revoked once, only by their vendor.
    let key = store.insert_vendor_key(&acme, "a2V5", T0).await.expect("key");
    let second = store.insert_vendor_key(&acme, "a2V5Mg==", T0 + 1).await.expect("key");
    let missing = store.insert_vendor_key(&VendorId::new("nobody"), "a2V5", T0).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })), "{missing:?}");
    let keys = store.vendor_keys(&acme).await.expect("keys");
    assert_eq!(keys.iter().map(|k| &k.id).collect::<Vec<_>>(), vec![&key.id, &second.id]);
    assert!(store.vendor_keys(&other).await.expect("none").is_empty());
    let theirs = store.revoke_vendor_key(&other, &second.id, "not theirs", T0 + 2).await;
    assert!(matches!(theirs, Err(StorageError::NotFound { .. })), "{theirs:?}");
    let revoked = store.revoke_vendor_key(&acme, &second.id, "leaked", T0 + 3).await.expect("revoke");
    assert_eq!((revoked.revoked_time, revoked.revoked_reason.as_deref()), (Some(T0 + 3), Some("leaked")));
    assert_eq!(store.vendor_key(&second.id).await.expect("key").revoked_time, Some(T0 + 3));
    let again = store.revoke_vendor_key(&acme, &second.id, "again", T0 + 4).await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");

    // Releases: a version once; read back whole.
    let first = store.insert_release(&release(&acme, &key.id, "1.2.0")).await.expect("release");
    assert_eq!(store.release(&first.id).await.expect("read back"), first);
    let twice = store.insert_release(&release(&acme, &key.id, "1.2.0")).await;
    assert!(matches!(twice, Err(StorageError::Conflict(_))), "{twice:?}");
    let mut later = release(&acme, &key.id, "1.3.0");
    later.published_time = T0 + 10;
    let later = store.insert_release(&later).await.expect("release");
    let page = Page { after: None, limit: 1 };
    assert_eq!(store.vendor_releases(&acme, &page).await.expect("page"), vec![first.clone()]);
    let next = Page { after: Some(first.id.to_string()), limit: 10 };
    assert_eq!(store.vendor_releases(&acme, &next).await.expect("page"), vec![later.clone()]);
    assert!(store.vendor_releases(&other, &Page::all()).await.expect("none").is_empty());

    // Trust: nothing is visible without it; trusting twice is one event.
    assert!(store.trusted_releases(&a, &Page::all()).await.expect("none").is_empty());
    store.trust_vendor(&a, &acme, &admin(), T0).await.expect("trust");
    store.trust_vendor(&a, &acme, &admin(), T0).await.expect("trust again");
    assert_eq!(store.trusted_vendors(&a).await.expect("trusted"), vec![acme.clone()]);
    assert!(store.trusted_vendors(&b).await.expect("none").is_empty());
    assert_eq!(store.trusted_releases(&a, &Page::all()).await.expect("seen"), vec![first.clone(), later.clone()]);
    assert!(store.trusted_releases(&b, &Page::all()).await.expect("none").is_empty());
    let unknown = store.trust_vendor(&a, &VendorId::new("nobody"), &admin(), T0).await;
    assert!(matches!(unknown, Err(StorageError::NotFound { .. })), "{unknown:?}");

    // Installed once per tenant, a plugin of that tenant only.
    let plugin = store.install_release(&a, &first, &admin(), T0 + 20).await.expect("install");
    assert_eq!(plugin.release_id.as_ref(), Some(&first.id));
    assert_eq!((plugin.name.as_str(), plugin.version.as_str()), ("acme/optimizer-esp", "1.2.0"));
    assert_eq!(plugin.hash, first.digest);
    assert_eq!(store.plugin(&a, &plugin.id).await.expect("read back"), plugin);
    let hidden = store.plugin(&b, &plugin.id).await;
    assert!(matches!(hidden, Err(StorageError::NotFound { .. })), "{hidden:?}");
    let twice = store.install_release(&a, &first, &admin(), T0 + 21).await;
    assert!(matches!(twice, Err(StorageError::Conflict(_))), "{twice:?}");
    let in_b = store.install_release(&b, &first, &admin(), T0 + 22).await.expect("b installs its own");
    assert_ne!(in_b.id, plugin.id);

    store.distrust_vendor(&a, &acme, &admin(), T0 + 30).await.expect("distrust");
    assert!(store.trusted_releases(&a, &Page::all()).await.expect("none").is_empty());
    let again = store.distrust_vendor(&a, &acme, &admin(), T0 + 31).await;
    assert!(matches!(again, Err(StorageError::NotFound { .. })), "{again:?}");
    // Approved versions stay installed.
    assert_eq!(store.plugin(&a, &plugin.id).await.expect("kept").release_id, Some(first.id.clone()));
    let events = store.events_after(EventSeq(0), 1000).await.expect("events");
    assert_eq!(trust_events(&events, &a), vec![EntityAction::Created, EntityAction::Deleted]);
    assert!(trust_events(&events, &b).is_empty());
    let installed = events.iter().filter(|e| {
        matches!(&e.body, EventBody::Entity(c) if c.kind == EntityKind::Plugin && c.summary["release_id"] == first.id.as_str())
    });
    assert_eq!(installed.count(), 2);
}
