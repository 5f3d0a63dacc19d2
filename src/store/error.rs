//! The store's error type. No variant ever carries a secret, a key or a plaintext.

use std::path::PathBuf;

/// Why a store operation failed. Messages name paths, ids and causes, never secret values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key check record does not verify under the given key; nothing was written.
    #[error(
        "store key does not match this store (wrong SIMSID_STORE_KEY, key file or keychain entry?)"
    )]
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
    /// A command that only reads found no store (it never creates one).
    #[error("no store at {}: run `simsid harvest` first, or check --store / SIMSID_STORE", .0.display())]
    Missing(PathBuf),
    /// The path holds something that is not a simsid store (empty, a directory, not SQLite).
    #[error("{} is not a simsid store: {why}", path.display())]
    NotAStore { path: PathBuf, why: String },
    /// The key file of an existing store is missing (a new key could never open it).
    #[error(
        "the key file {} of the existing store {} is missing: restore it, or set \
         SIMSID_STORE_KEY (a new key cannot open this store)",
        key.display(),
        store.display()
    )]
    KeyFileMissing { key: PathBuf, store: PathBuf },
    /// The key of an existing store is in the OS keychain, and the keychain cannot give it
    /// (absent, locked, no entry, refused): exit 1, never a new key.
    #[error(
        "the key of the store {} is in the OS keychain (service simsid, account {id}), and {why}: {todo}",
        store.display()
    )]
    Keychain {
        store: PathBuf,
        id: String,
        why: crate::platform::keychain::KeychainError,
        todo: &'static str,
    },
    /// A new store's key cannot go in the OS keychain (`store_key = "keychain"`); nothing was
    /// created.
    #[error(
        "cannot keep the key of the new store {} in the OS keychain: {why}; nothing was \
         created: unlock or start the keychain, or choose store_key = \"file\" (a key file \
         beside the store) or SIMSID_STORE_KEY",
        store.display()
    )]
    KeychainForNewStore {
        store: PathBuf,
        why: crate::platform::keychain::KeychainError,
    },
    /// Moving a store's key between the keychain and a key file failed; the key is still
    /// where it was.
    #[error("the key of the store {} was not moved: {why}", store.display())]
    KeyNotMoved { store: PathBuf, why: String },
    /// The key of an existing store is given in `SIMSID_STORE_KEY`, which is not set.
    #[error(
        "the key of the store {} is given in SIMSID_STORE_KEY (store_key = \"env\"), which is \
         not set: set it (a new key cannot open this store)",
        .0.display()
    )]
    KeyInEnv(PathBuf),
    /// A file or directory another user owns or may change (docs/reference/cli.md, "Store safety").
    #[error("refusing to use the {what} {}: {why}", path.display())]
    Unsafe {
        what: &'static str,
        path: PathBuf,
        why: String,
    },
    /// Another harvest holds the store's lock (exit 6).
    #[error("another harvest holds the store {}: {holder} (lock file {})", store.display(), lock.display())]
    Busy {
        store: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    /// The store was changed by someone else while this harvest ran (exit 6).
    #[error(
        "the store changed while this harvest ran (another harvest committed to it); nothing \
         was committed: run the harvest again"
    )]
    ChangedUnderRun,
    /// The file system is full.
    #[error("the disk is full: cannot write {}{}", path.display(), free_note(*.free_bytes))]
    DiskFull {
        path: PathBuf,
        free_bytes: Option<u64>,
    },
    /// SQLite could not read or write its files (the store's path is added by the store).
    #[error("store database error: {0}")]
    SqliteIo(String),
    /// SQLite reported a full disk (the store's path is added by the store).
    #[error("the disk is full (SQLite: {0})")]
    SqliteFull(String),
}

fn free_note(free: Option<u64>) -> String {
    match free {
        Some(bytes) => format!(" ({} KiB free on its file system)", bytes / 1024),
        None => String::new(),
    }
}

impl StoreError {
    /// An I/O error about `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        let path = path.into();
        if is_disk_full(&source) {
            return StoreError::DiskFull {
                path,
                free_bytes: None,
            };
        }
        StoreError::Io {
            action,
            path,
            source,
        }
    }

    /// Whether exit code 6 (another harvest holds, or changed, the store) applies.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy { .. } | StoreError::ChangedUnderRun)
    }
}

/// Whether an I/O error means the file system is full (ENOSPC, or EDQUOT: over quota; on
/// Windows a full disk or an exceeded quota).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.raw_os_error()
            .is_some_and(crate::platform::is_disk_full_code)
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // SQLite's messages name tables, columns and constraints, never bound values.
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            match f.code {
                rusqlite::ErrorCode::NotADatabase => {
                    return StoreError::Corrupt("the file is not an SQLite database".into());
                }
                rusqlite::ErrorCode::DiskFull => return StoreError::SqliteFull(e.to_string()),
                rusqlite::ErrorCode::SystemIoFailure => return StoreError::SqliteIo(e.to_string()),
                _ => {}
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
