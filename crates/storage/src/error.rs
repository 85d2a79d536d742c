use std::path::PathBuf;

/// Errors of the storage layer, grouped by what the caller can do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Retry later: the ingest queue is full or flushing is behind.
    #[error("{0}")]
    Overloaded(String),
    /// Retry later: the disk refused a write (full, read-only); nothing was acknowledged.
    #[error("{0}")]
    Unavailable(String),
    /// A file under the data directory is damaged; it is skipped, never trusted.
    #[error("corrupt file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The request clashes with what exists (a name already taken).
    #[error("{0}")]
    Conflict(String),
    #[error("metastore: {0}")]
    Metastore(#[from] rusqlite::Error),
    #[error("store is shutting down")]
    ShuttingDown,
    #[error("internal error (a bug): {0}")]
    Internal(String),
}

impl StoreError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.into(), source }
    }
}
