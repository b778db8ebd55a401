//! The storage conformance suite on SQLite (a fresh in-memory database per
//! case), and what is particular to the SQLite file: its migration of
//! tokens stored before they were hashed.

use std::sync::Arc;

use nexus_model::{TenantId, token_hash};
use nexus_storage::EntityStore;
use nexus_storage_sqlite::SqliteStore;

nexus_storage::conformance_suite!(async { Arc::new(SqliteStore::in_memory().await.expect("in-memory SQLite")) });

#[tokio::test]
async fn raw_tokens_from_before_hashing_are_hashed_when_the_database_opens() {
    let dir = std::env::temp_dir().join(format!("nexus-sqlite-{}", uuid::Uuid::new_v4()));
    let store = SqliteStore::open(&dir).await.expect("opens");
    let tenant = TenantId::new("t");
    store.ensure_tenant(&tenant, "t", 1).await.expect("tenant");
    // A device row as the schema before hashing left it: the raw token.
    let url = format!("sqlite://{}", dir.join("nexus.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    sqlx::query("INSERT INTO device (id, tenant_id, name, token_hash, created_time) VALUES ('d1', 't', 'old', 'legacy-token-123', 5)")
        .execute(&pool)
        .await
        .expect("insert");
    pool.close().await;
    drop(store);

    let store = SqliteStore::open(&dir).await.expect("reopens");
    let stored: String = {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
        sqlx::query_scalar("SELECT token_hash FROM device WHERE id = 'd1'").fetch_one(&pool).await.expect("row")
    };
    assert_eq!(stored, token_hash("legacy-token-123"), "the raw token is still stored");
    let device = store.device_by_token_hash(&token_hash("legacy-token-123")).await.expect("lookup");
    assert_eq!(device.map(|d| d.id.to_string()), Some("d1".to_string()));
    let _ = std::fs::remove_dir_all(&dir);
}
