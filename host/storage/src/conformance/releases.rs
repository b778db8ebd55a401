//! The catalogue: keys revoke once and only by their vendor; a package
//! version is published once; a tenant sees only the releases of vendors
//! it trusts; an approved release is installed once per tenant, as a plugin
//! of that tenant alone.

use nexus_model::{
    EntityAction, EntityKind, EventBody, EventSeq, Limits, Page, PluginKind, Release, ReleaseId, ReleaseStatus,
    TenantId, VendorId,
};

use super::fixture::{T0, admin, field, info};
use crate::{BindingMove, NewBinding, Retirement, StorageError, Store};

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
        status: ReleaseStatus::Published,
        status_reason: None,
        status_time: None,
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
    store.trust_vendor(&a, &acme, false, &admin(), T0).await.expect("trust");
    store.trust_vendor(&a, &acme, false, &admin(), T0).await.expect("trust again");
    let trusted = store.trusted_vendors(&a).await.expect("trusted");
    assert_eq!(trusted.iter().map(|t| (&t.vendor_id, t.fallback)).collect::<Vec<_>>(), vec![(&acme, false)]);
    assert!(store.trusted_vendors(&b).await.expect("none").is_empty());
    assert_eq!(store.trusted_releases(&a, &Page::all()).await.expect("seen"), vec![first.clone(), later.clone()]);
    assert!(store.trusted_releases(&b, &Page::all()).await.expect("none").is_empty());
    let unknown = store.trust_vendor(&a, &VendorId::new("nobody"), false, &admin(), T0).await;
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

/// Yank then revoke: the status is kept with its reason, each tenant that
/// approved the release hears of it with its bindings named, and on the
/// revocation each binding moves to its fallback or stops, in the same
/// transaction. Revoked is final; only the vendor retires its release.
pub async fn retiring_a_release_warns_its_tenants_and_moves_or_stops_their_bindings(store: &dyn Store) {
    let (f, g) = (field(store, "tenant-f").await, field(store, "tenant-g").await);
    let vendor = store.create_vendor("vend", T0).await.expect("vendor").id;
    let other = store.create_vendor("someone-else", T0).await.expect("vendor").id;
    let key = store.insert_vendor_key(&vendor, "a2V5", T0).await.expect("key").id;
    let mut one = release(&vendor, &key, "1.0.0");
    one.kind = PluginKind::AlarmRule;
    let one = store.insert_release(&one).await.expect("1.0.0");
    let mut two = release(&vendor, &key, "2.0.0");
    two.kind = PluginKind::AlarmRule;
    let two = store.insert_release(&two).await.expect("2.0.0");
    let f_one = store.install_release(&f.tenant, &one, &admin(), T0 + 1).await.expect("f approves 1.0.0");
    let f_two = store.install_release(&f.tenant, &two, &admin(), T0 + 2).await.expect("f approves 2.0.0");
    let g_two = store.install_release(&g.tenant, &two, &admin(), T0 + 2).await.expect("g approves 2.0.0");
    let bind = |tenant: &TenantId, plugin: &nexus_model::PluginVersionId, device: &nexus_model::DeviceId| {
        let (tenant, plugin, device) = (tenant.clone(), plugin.clone(), device.clone());
        async move {
            let new = NewBinding {
                tenant_id: &tenant,
                plugin_id: &plugin,
                config: &serde_json::json!({}),
                limits: &Limits::for_kind(PluginKind::AlarmRule),
                schedule_ms: None,
                schedule_cron: None,
                auto_approve: None,
                propagate: false,
                device_ids: std::slice::from_ref(&device),
            };
            store.insert_binding(&new, &admin(), T0 + 3).await.expect("binding")
        }
    };
    let f_binding = bind(&f.tenant, &f_one.id, &f.device.id).await;
    assert_eq!(f_binding.previous_plugin_id, None);
    let swapped = store.swap_binding_plugin(&f.tenant, &f_binding.id, &f_two.id, &admin(), T0 + 4).await.expect("swap");
    assert_eq!((&swapped.plugin_id, swapped.previous_plugin_id.as_ref()), (&f_two.id, Some(&f_one.id)));
    let g_binding = bind(&g.tenant, &g_two.id, &g.device.id).await;
    let mut running: Vec<_> =
        store.release_bindings(&two.id).await.expect("running").into_iter().map(|b| b.id).collect();
    running.sort();
    let mut expected = vec![f_binding.id.clone(), g_binding.id.clone()];
    expected.sort();
    assert_eq!(running, expected);
    assert!(store.release_bindings(&one.id).await.expect("none").is_empty());

    // Trust with fallback: set, and setting it again changes nothing.
    store.trust_vendor(&f.tenant, &vendor, true, &admin(), T0).await.expect("trust");
    store.trust_vendor(&f.tenant, &vendor, true, &admin(), T0).await.expect("trust again");
    assert!(store.trusted_vendors(&f.tenant).await.expect("trusted")[0].fallback);

    let admin = admin();
    fn retire<'a>(
        release: &'a ReleaseId,
        admin: &'a nexus_model::Actor,
        status: ReleaseStatus,
        moves: Vec<BindingMove>,
        by: &'a VendorId,
    ) -> Retirement<'a> {
        Retirement { vendor: by, release, status, reason: "CVE-2026-0001", moves, actor: admin, now: T0 + 10 }
    }
    let retire = |status, moves, by| retire(&two.id, &admin, status, moves, by);
    let by_other = store.retire_release(&retire(ReleaseStatus::Yanked, vec![], &other)).await;
    assert!(matches!(by_other, Err(StorageError::NotFound { .. })), "{by_other:?}");
    let yanked = store.retire_release(&retire(ReleaseStatus::Yanked, vec![], &vendor)).await.expect("yank");
    assert_eq!((yanked.status, yanked.status_reason.as_deref()), (ReleaseStatus::Yanked, Some("CVE-2026-0001")));
    assert_eq!(store.release(&two.id).await.expect("read back"), yanked);
    let again = store.retire_release(&retire(ReleaseStatus::Yanked, vec![], &vendor)).await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    assert!(store.binding(&g.tenant, &g_binding.id).await.expect("kept").enabled, "a yank stops nothing");

    let moves = vec![
        BindingMove { tenant_id: f.tenant.clone(), binding_id: f_binding.id.clone(), to: Some(f_one.id.clone()) },
        BindingMove { tenant_id: g.tenant.clone(), binding_id: g_binding.id.clone(), to: None },
    ];
    let revoked = store.retire_release(&retire(ReleaseStatus::Revoked, moves, &vendor)).await.expect("revoke");
    assert_eq!(revoked.status, ReleaseStatus::Revoked);
    let moved = store.binding(&f.tenant, &f_binding.id).await.expect("f's binding");
    assert_eq!(
        (&moved.plugin_id, moved.previous_plugin_id.as_ref(), moved.enabled),
        (&f_one.id, Some(&f_two.id), true)
    );
    let stopped = store.binding(&g.tenant, &g_binding.id).await.expect("g's binding");
    assert!(!stopped.enabled);
    assert!(stopped.quarantine_reason.as_deref().is_some_and(|r| r.contains("revoked")), "{stopped:?}");
    let yank_revoked = store.retire_release(&retire(ReleaseStatus::Yanked, vec![], &vendor)).await;
    assert!(matches!(yank_revoked, Err(StorageError::Conflict(_))), "{yank_revoked:?}");

    let events = store.events_after(EventSeq(0), 1000).await.expect("events");
    let told = |tenant: &TenantId, status: &str| {
        events
            .iter()
            .filter(|e| &e.tenant_id == tenant)
            .filter_map(|e| match &e.body {
                EventBody::Entity(c) if c.kind == EntityKind::Plugin && c.summary["release_status"] == status => {
                    Some(c.summary["bindings"].clone())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(told(&f.tenant, "yanked"), vec![serde_json::json!([f_binding.id])]);
    assert_eq!(told(&g.tenant, "yanked"), vec![serde_json::json!([g_binding.id])]);
    assert_eq!(told(&f.tenant, "revoked"), vec![serde_json::json!([f_binding.id])]);
    let fallback = events.iter().filter(|e| {
        matches!(&e.body, EventBody::Entity(c) if c.kind == EntityKind::Binding && c.summary["fallback"] == true
            && c.id == f_binding.id.as_str())
    });
    assert_eq!(fallback.count(), 1);
    let quarantined = events
        .iter()
        .filter(|e| matches!(&e.body, EventBody::BindingQuarantined { binding_id, .. } if binding_id == &g_binding.id));
    assert_eq!(quarantined.count(), 1);
}
