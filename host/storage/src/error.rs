//! Storage errors.

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The row does not exist for this tenant.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// Kind of row.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A uniqueness rule was violated.
    #[error("{0}")]
    Conflict(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Migrating the database failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// File system error.
    #[error("{0}")]
    Io(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl StorageError {
    pub(crate) fn not_found(what: &'static str, id: &str) -> Self {
        StorageError::NotFound { what, id: id.to_string() }
    }

    /// Maps a unique-constraint violation to [`StorageError::Conflict`].
    pub(crate) fn conflict_or(error: sqlx::Error, message: impl FnOnce() -> String) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(message()),
            _ => StorageError::Database(error),
        }
    }
}
