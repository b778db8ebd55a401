//! Copying the write-ahead log into the database file, in the background.
//!
//! In WAL mode a commit appends pages to the log, and a checkpoint copies
//! them into the database file, with an fsync of each file. Left to itself,
//! SQLite runs a checkpoint inside whichever `COMMIT` takes the log past a
//! thousand pages: that commit — and every frame queued behind the single
//! writer — waits for the copy and its fsyncs.
//!
//! The checkpointer does the copying on a connection of its own, a little at
//! a time ([`BUSY_EVERY`] while commits come), beside the writer: a
//! `PASSIVE` checkpoint takes no lock a writer waits for. The log can only
//! start over from a writer, at a transaction that finds it all copied,
//! which a steady stream of commits never lets a background checkpoint
//! see; so the writer keeps an automatic checkpoint, but only every
//! [`WRITER_AUTOCHECKPOINT`] pages: by then the log is copied up to the last
//! background pass, so that commit copies only the pages since, and the log
//! starts over at the next one.

use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// The writer's automatic checkpoint, pages of log (SQLite's default is
/// 1 000). Between two of them the log grows to about 32 MiB.
pub(crate) const WRITER_AUTOCHECKPOINT: u32 = 8192;

/// The pause between passes while passes find pages to copy.
const BUSY_EVERY: Duration = Duration::from_millis(5);
/// The longest pause between passes on an idle database (the pause doubles
/// from [`BUSY_EVERY`] with each pass that found nothing new).
const IDLE_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints the database `options` opens in the background while any
/// store clone lives.
pub(crate) fn spawn_checkpointer(options: SqliteConnectOptions, alive: std::sync::Weak<()>) {
    tokio::spawn(async move {
        let mut connection = None;
        let mut pause = BUSY_EVERY;
        let mut copied_before = -1;
        // Failed connects since the last good one: the first is logged, and
        // the recovery, so a checkpointer that cannot open the database is
        // seen without a line every retry.
        let mut failed_connects = 0u64;
        while alive.strong_count() > 0 {
            tokio::time::sleep(pause).await;
            if connection.is_none() {
                // Never creates a file: a database moved away is not
                // replaced by an empty one.
                match options.clone().create_if_missing(false).disable_statement_logging().connect().await {
                    Ok(conn) => {
                        if failed_connects > 0 {
                            tracing::info!(
                                failed_connects,
                                "The background checkpointer opened the SQLite database again."
                            );
                        }
                        (connection, failed_connects) = (Some(conn), 0);
                    }
                    Err(error) => {
                        if failed_connects == 0 {
                            tracing::warn!(
                                %error,
                                retry_every_ms = IDLE_EVERY.as_millis() as u64,
                                "The background checkpointer cannot open the SQLite database; retrying (until it \
                                 can, only the writer's own checkpoint copies the log)."
                            );
                        }
                        failed_connects += 1;
                    }
                }
            }
            let Some(conn) = connection.as_mut() else {
                pause = IDLE_EVERY;
                continue;
            };
            // (busy, pages in the log, pages of it copied)
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await {
                Ok((_, _, copied)) => {
                    pause = if copied == copied_before { (pause * 2).min(IDLE_EVERY) } else { BUSY_EVERY };
                    copied_before = copied;
                }
                Err(error) => {
                    tracing::warn!(%error, "A background checkpoint of the SQLite log failed; reconnecting.");
                    (connection, pause) = (None, IDLE_EVERY);
                }
            }
        }
    });
}
