//! The store's error type. No variant ever carries a secret, a key or a plaintext.

use std::path::PathBuf;

/// Why a store operation failed. Messages name paths, ids and causes, never secret values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key check record does not verify under the given key; nothing was written.
    #[error("store key does not match this store (wrong SIMSID_STORE_KEY or key file?)")]
    KeyMismatch,
    /// A store key that is not base64 of exactly 32 bytes (the message never quotes it).
    #[error("bad store key: {0}")]
    BadKey(String),
    /// A file-system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("store database error: {0}")]
    Sqlite(String),
    /// Stored data cannot be read back (bad row, failed unsealing, not a simsid store).
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The requested site or credential is not in the store.
    #[error("not found in the store")]
    NotFound,
    /// A file or directory has unsafe permissions or could not be given safe ones.
    #[error("store permissions: {0}")]
    Permissions(String),
    /// The store was written by a newer version of simsid.
    #[error("store schema version {found} is newer than this simsid supports ({supported})")]
    SchemaTooNew { found: u32, supported: u32 },
    /// The data handed to the store contradicts itself (a caller bug); nothing was written.
    #[error("invalid harvest data: {0}")]
    InvalidData(String),
    /// Sealing a secret failed.
    #[error("could not seal a secret for {0}")]
    Seal(String),
}

impl StoreError {
    /// An I/O error about `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // SQLite's messages name tables, columns and constraints, never bound values.
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::NotADatabase {
                return StoreError::Corrupt("the file is not an SQLite database".into());
            }
        }
        StoreError::Sqlite(e.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Corrupt(format!("unexpected column value: {e}"))
    }
}
