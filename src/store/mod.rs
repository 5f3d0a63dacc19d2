//! The encrypted store: one SQLite file (WAL, `synchronous=FULL`) and a key file, both
//! mode 0600 in a 0700 directory. The only code that touches disk.
//!
//! Secrets are sealed with XChaCha20-Poly1305 under a key derived from the store key, bound
//! to their row by associated data; fingerprints are HMAC-SHA256 under another derived key.
//! A key check record in `meta` proves the key: opening with the wrong key fails with
//! [`StoreError::KeyMismatch`] after a read-only look, before anything is written.

mod codec;
mod commit;
mod crypto;
mod error;
mod files;
mod key;
mod queries;
mod schema;
mod vault_marks;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use secrecy::SecretString;

pub use crypto::Fingerprinter;
pub use error::StoreError;
pub use files::check_permissions;
pub use key::{default_key_path, StoreKey};
pub use schema::LATEST_VERSION as SCHEMA_VERSION;

use crate::domain::{
    AuditEntry, Credential, Fingerprint, HarvestData, OrgId, RunSummary, SiteDetail, SiteRow,
    Snapshot,
};
use crypto::Crypto;

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The `meta` row holding the key check value.
const KEY_CHECK: &str = "key_check";

/// An open store. `Debug` shows only its path.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    crypto: Crypto,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating it (file 0600, directory 0700) when missing and
    /// migrating its schema. An existing store is first checked read-only: with the wrong
    /// key this fails with `KeyMismatch` and no file is written.
    pub fn open(path: &Path, key: StoreKey) -> Result<Store, StoreError> {
        let crypto = Crypto::derive(&key)?;
        drop(key);
        if let Some(dir) = path.parent() {
            files::ensure_private_dir(dir)?;
        }
        if !files::create_db_file_if_missing(path)? {
            check_read_only(path, &crypto)?;
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Sqlite(format!(
                "the store's file system does not support WAL (journal mode {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let was_empty = schema::version(&tx)? == 0;
            schema::migrate(&tx)?;
            verify_key(&tx, &crypto, was_empty)?;
            tx.commit()?;
        }
        files::tighten_sidecars(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            crypto,
        })
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keyed fingerprint of a secret under this store's key (16 hex characters).
    pub fn fingerprint(&self, secret: &SecretString) -> Fingerprint {
        self.crypto.fingerprint(secret)
    }

    /// The fingerprint key, to fingerprint secrets away from the store (e.g. in tasks).
    pub fn fingerprinter(&self) -> Fingerprinter {
        self.crypto.fingerprinter()
    }

    /// Every cached site with its credentials' fingerprints (what a harvest diffs against).
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let snapshot = queries::snapshot(&tx)?;
        tx.finish()?;
        Ok(snapshot)
    }

    /// Commits a harvest whose site list succeeded, and its run, in one transaction
    /// (cli.md, "Harvest semantics"). On any error nothing changes. Times written for new
    /// and rotated credentials and new sites are `summary.finished_at`.
    pub fn commit_harvest(
        &mut self,
        data: &HarvestData,
        summary: &RunSummary,
    ) -> Result<(), StoreError> {
        commit::commit_harvest(&mut self.conn, &self.crypto, data, summary, None)
    }

    /// Records a run in the history without touching sites or credentials (failed runs).
    pub fn record_run(&mut self, summary: &RunSummary) -> Result<(), StoreError> {
        commit::insert_run(&self.conn, summary)
    }

    /// All cached sites, sorted by name (case-insensitive), without secrets.
    pub fn sites(&self) -> Result<Vec<SiteRow>, StoreError> {
        queries::sites(&self.conn)
    }

    /// One cached site and its credentials (without secrets), or `None`.
    pub fn site(&self, org: &OrgId) -> Result<Option<SiteDetail>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let detail = queries::site(&tx, org)?;
        tx.finish()?;
        Ok(detail)
    }

    /// Finds the cached sites `query` names, by the one rule of [`crate::lookup::find`]
    /// (organisation id, DfE code or DENI number; a shared code finds several).
    pub fn resolve(&self, query: &str) -> Result<crate::lookup::Found<SiteRow>, StoreError> {
        let rows = self.sites()?;
        Ok(crate::lookup::find(&rows, |r| &r.site, query).map(Clone::clone))
    }

    /// Unseals one credential's secret; `NotFound` when there is no such credential.
    pub fn secret(&self, org: &OrgId, client_id: &str) -> Result<SecretString, StoreError> {
        queries::secret(&self.conn, &self.crypto, org, client_id)
    }

    /// A site's credentials with secrets unsealed, by client id (for verify); `NotFound`
    /// when the site is not cached.
    pub fn credentials(&self, org: &OrgId) -> Result<Vec<Credential>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let credentials = queries::credentials(&tx, &self.crypto, org)?;
        tx.finish()?;
        Ok(credentials)
    }

    /// The harvest history, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>, StoreError> {
        queries::runs(&self.conn, None)
    }

    /// The most recent harvest run, if any.
    pub fn last_run(&self) -> Result<Option<RunSummary>, StoreError> {
        Ok(queries::runs(&self.conn, Some(1))?.into_iter().next())
    }

    /// Appends a record to the audit trail.
    pub fn append_audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError> {
        commit::append_audit(&self.conn, entry)
    }

    /// The audit trail, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        queries::audit(&self.conn)
    }
}

/// Checks schema and key without writing anything. When no `-wal` file exists every
/// committed page is in the main file, which is then read as immutable (no `-wal` or `-shm`
/// is created); otherwise a plain read-only connection reads through the existing WAL.
/// Neither can write the database file.
fn check_read_only(path: &Path, crypto: &Crypto) -> Result<(), StoreError> {
    let [wal, _] = files::sidecars(path);
    let conn = if wal.exists() {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?
    } else {
        Connection::open_with_flags(
            immutable_uri(path),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if schema::check_compatible(&conn)? > 0 {
        verify_key(&conn, crypto, false)?;
    }
    Ok(())
}

/// `file:` URI of `path` (percent-encoded) with `immutable=1`.
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Verifies the key check record; on a store created just now (`may_create`) writes it.
fn verify_key(conn: &Connection, crypto: &Crypto, may_create: bool) -> Result<(), StoreError> {
    let stored: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [KEY_CHECK],
            |row| row.get(0),
        )
        .optional()?;
    match stored {
        Some(value) if crypto.key_check_matches(&value) => Ok(()),
        Some(_) => Err(StoreError::KeyMismatch),
        None if may_create => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![KEY_CHECK, crypto.key_check_value()],
            )?;
            Ok(())
        }
        None => Err(StoreError::Corrupt(
            "the store has no key check record".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_uri_escapes_everything_but_plain_path_characters() {
        assert_eq!(
            immutable_uri(Path::new("/data/my store?#%.sqlite3")),
            "file:/data/my%20store%3F%23%25.sqlite3?immutable=1"
        );
        assert_eq!(
            immutable_uri(Path::new("rel/s.db")),
            "file:rel/s.db?immutable=1"
        );
    }
}
