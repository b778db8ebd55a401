//! Fresh databases on the test server, dropped when their test ends.

use std::cell::RefCell;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::{AssertSqlSafe, Connection};

/// The server the tests use unless `NEXUS_TEST_POSTGRES_URL` names another.
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Every test database's name starts so; then its creation (Unix seconds).
const PREFIX: &str = "nexus_test_";
/// A test database older than this was left by a run that was killed.
const STALE_SECS: u64 = 3600;

/// Drops a test database when the thread of its test ends (each test runs
/// on a thread of its own, and thread-local values are dropped when it
/// exits, after a panic as well).
struct Guard(String);

impl Drop for Guard {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        // A thread of its own: this one's runtime and thread-locals are
        // being torn down.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect_with(&server().1).await {
                        let _ = drop_database(&mut conn, &name).await;
                        let _ = conn.close().await;
                    }
                });
            }
        });
        let _ = dropper.join();
    }
}

thread_local! {
    static GUARDS: RefCell<Vec<Guard>> = const { RefCell::new(Vec::new()) };
}

static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

fn server() -> (String, PgConnectOptions) {
    let url = std::env::var("NEXUS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("NEXUS_TEST_POSTGRES_URL `{url}` is not a PostgreSQL URL: {e}"));
    (url, options)
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Now, ms.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(conn).await?;
    Ok(())
}

/// Drops the test databases of runs that ended without dropping theirs.
async fn sweep(conn: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)")
        .bind(PREFIX)
        .fetch_all(&mut *conn)
        .await
        .expect("list test databases");
    for name in names {
        let created = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + STALE_SECS < unix_secs()) {
            let _ = drop_database(conn, &name).await;
        }
    }
}

/// Creates an empty database for one test and returns how to connect to
/// it; it is dropped when the test's thread ends. Panics, saying why, when
/// the server cannot be reached.
pub async fn fresh_database() -> PgConnectOptions {
    let (url, options) = server();
    let mut conn = PgConnection::connect_with(&options).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url}: {e}\nThe PostgreSQL storage tests need a server: start one with \
             `.ci/services`, or set NEXUS_TEST_POSTGRES_URL to one where this user may CREATE DATABASE."
        )
    });
    SWEPT.get_or_init(|| sweep(&mut conn)).await;
    let name = format!("{PREFIX}{}_{}", unix_secs(), uuid::Uuid::new_v4().simple());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {url}: {e}"));
    let _ = conn.close().await;
    GUARDS.with(|guards| guards.borrow_mut().push(Guard(name.clone())));
    options.database(&name)
}

/// One bigint.
pub async fn query_i64(pool: &PgPool, sql: impl Into<String>) -> i64 {
    let sql = sql.into();
    sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A column of text.
pub async fn query_strings(pool: &PgPool, sql: impl Into<String>) -> Vec<String> {
    let sql = sql.into();
    sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_all(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}
