//! Storage errors, the same for every backend.

/// What went wrong in storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// The database cannot be reached or is overloaded: retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Any other failure of the backend.
    #[error("storage: {0}")]
    Backend(String),
}

impl StorageError {
    /// A [`StorageError::NotFound`].
    pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        StorageError::NotFound { what, id: id.to_string() }
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}
