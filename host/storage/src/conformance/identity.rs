//! Users, sessions and refresh-token families, API keys, the audit log.

use nexus_model::{Role, Scope, Session, SessionId, TenantId};

use super::fixture::T0;
use crate::{AuditQuery, NewApiKey, NewAuditEntry, NewUser, Refreshed, StorageError, Store};

fn new_user(email: &str, role: Role, scope: Scope) -> NewUser {
    NewUser { email: email.into(), role, scope, password_hash: "$argon2id$stand-in".into() }
}

/// Users are unique by email and listed per scope; deleting one ends its
/// sessions; a refresh token rotates once, and presenting it again revokes
/// its family; API keys and audit entries stay inside their scope.
pub async fn users_sessions_keys_and_audit_stay_in_their_scope(store: &dyn Store) {
    let a = Scope::Tenant(TenantId::new("tenant-a"));
    let b = Scope::Tenant(TenantId::new("tenant-b"));
    for scope in [&a, &b] {
        let Scope::Tenant(tenant) = scope else { unreachable!() };
        store.ensure_tenant(tenant, tenant.as_str(), T0).await.expect("tenant");
    }
    let ana = store.insert_user(&new_user("ana@a.example", Role::TenantAdmin, a.clone()), T0).await.expect("user");
    let duplicate = store.insert_user(&new_user("ana@a.example", Role::Viewer, b.clone()), T0).await;
    assert!(matches!(duplicate, Err(StorageError::Conflict(_))), "{duplicate:?}");
    store.insert_user(&new_user("bo@b.example", Role::Operator, b.clone()), T0).await.expect("user");
    assert_eq!(store.users(&a, &nexus_model::Page::all()).await.expect("users").len(), 1);
    store.insert_user(&new_user("abe@a.example", Role::Viewer, a.clone()), T0).await.expect("user");
    let first = store.users(&a, &nexus_model::Page::first(1)).await.expect("page");
    assert_eq!(first.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["abe@a.example"]);
    let next = nexus_model::Page { after: Some(first[0].id.to_string()), limit: 5 };
    let rest = store.users(&a, &next).await.expect("page");
    assert_eq!(rest.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["ana@a.example"]);
    assert_eq!(store.user_by_email("ana@a.example").await.expect("by email").map(|u| u.id), Some(ana.id.clone()));
    assert!(store.any_user_with_role(Role::Operator).await.expect("any"));
    assert!(!store.any_user_with_role(Role::SysAdmin).await.expect("any"));

    // Rotation, then reuse of the first token revokes the family.
    let session =
        Session { id: SessionId::random(), user_id: ana.id.clone(), expires_time: T0 + 1000, revoked_time: None };
    store.insert_session(&session, "r1", T0).await.expect("session");
    assert!(matches!(store.refresh_session("r1", "r2", T0 + 1).await.expect("refresh"), Refreshed::Rotated(_)));
    assert_eq!(store.refresh_session("r1", "r3", T0 + 2).await.expect("reuse"), Refreshed::Reused(session.id.clone()));
    assert!(store.session(&session.id).await.expect("session").expect("kept").revoked_time.is_some());
    assert_eq!(store.refresh_session("r2", "r4", T0 + 3).await.expect("after"), Refreshed::Refused);
    assert_eq!(store.refresh_session("unknown", "r5", T0 + 3).await.expect("unknown"), Refreshed::Refused);
    // An expired family refreshes no more.
    let old = Session { id: SessionId::random(), user_id: ana.id.clone(), expires_time: T0 + 10, revoked_time: None };
    store.insert_session(&old, "o1", T0).await.expect("session");
    assert_eq!(store.refresh_session("o1", "o2", T0 + 10).await.expect("expired"), Refreshed::Refused);

    // Deleting a user from another scope finds nothing; from its own, it
    // takes the sessions with it.
    assert!(matches!(store.delete_user(&b, &ana.id).await, Err(StorageError::NotFound { .. })));
    store.delete_user(&a, &ana.id).await.expect("delete");
    assert_eq!(store.session(&session.id).await.expect("gone"), None);
    assert!(store.user_by_email("ana@a.example").await.expect("by email").is_none());

    // API keys.
    let key = store
        .insert_api_key(
            &NewApiKey {
                name: "ci".into(),
                role: Role::Viewer,
                scope: a.clone(),
                hash: "k1".into(),
                expires_time: None,
            },
            T0,
        )
        .await
        .expect("key");
    assert_eq!(store.api_key_by_hash("k1").await.expect("by hash").map(|k| k.id), Some(key.id.clone()));
    assert!(store.api_keys(&b, &nexus_model::Page::all()).await.expect("keys").is_empty());
    assert!(matches!(store.revoke_api_key(&b, &key.id, T0).await, Err(StorageError::NotFound { .. })));
    let revoked = store.revoke_api_key(&a, &key.id, T0 + 5).await.expect("revoke");
    assert_eq!(revoked.revoked_time, Some(T0 + 5));

    // The audit log: per tenant, in order, filtered, paged by cursor.
    let entry = |tenant: &Scope, action: &str| NewAuditEntry {
        tenant_id: match tenant {
            Scope::Tenant(t) => Some(t.clone()),
            _ => None,
        },
        actor: "user:ana@a.example".into(),
        role: Role::TenantAdmin,
        action: action.into(),
        object: String::new(),
        status: 201,
        summary: serde_json::json!({"name": "w"}),
        request_id: "r".into(),
    };
    let first = store.append_audit(&entry(&a, "POST /api/wells"), T0).await.expect("append");
    store.append_audit(&entry(&b, "POST /api/wells"), T0).await.expect("append");
    store.append_audit(&entry(&a, "POST /api/alarms/{id}/ack"), T0 + 1).await.expect("append");
    let Scope::Tenant(tenant_a) = &a else { unreachable!() };
    let all = store.audit(Some(tenant_a), &AuditQuery { limit: 100, ..AuditQuery::default() }).await.expect("audit");
    assert_eq!(all.len(), 2);
    assert!(all[0].seq < all[1].seq && all[0].seq == first);
    let acks = store
        .audit(
            Some(tenant_a),
            &AuditQuery { action: Some("POST /api/alarms".into()), limit: 100, ..AuditQuery::default() },
        )
        .await
        .expect("filtered");
    assert_eq!(acks.len(), 1);
    let after = store.audit(Some(tenant_a), &AuditQuery { after: first, limit: 100, ..AuditQuery::default() }).await;
    assert_eq!(after.expect("paged").len(), 1);
}
