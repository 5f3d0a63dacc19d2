//! The encrypted store: one SQLite file (WAL, `synchronous=FULL`), mode 0600 in a 0700
//! directory, and its key: in the OS keychain, in a key file beside it (0600), or given in
//! `SIMSID_STORE_KEY` (docs/reference/cli.md, "Store"). The only code that touches disk.
//!
//! Secrets are sealed with XChaCha20-Poly1305 under a key derived from the store key, bound
//! to their row by associated data; fingerprints are HMAC-SHA256 under another derived key.
//! A key check record in `meta` proves the key: opening with the wrong key fails with
//! [`StoreError::KeyMismatch`] after a read-only look, before anything is written.

mod access;
mod audit;
mod codec;
mod commit;
mod crypto;
mod error;
pub(crate) mod files;
mod health;
mod key;
mod key_keychain;
mod key_location;
mod key_move;
mod key_path;
mod lock;
mod metrics_mark;
mod queries;
mod run_names;
pub(crate) mod safety;
mod schema;
mod team;
mod vault_marks;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use secrecy::SecretString;

pub use crate::domain::SiteTotals;
pub use access::{
    key_location, key_record, keychain_answers, open_existing, open_for_harvest, open_if_present,
    KeySource,
};
pub use audit::{AuditCheck, BadRecord};
pub use crypto::Fingerprinter;
pub use error::StoreError;
pub use files::{check_permissions, write_private_file, write_shared_file};
pub use health::HealthFacts;
pub use key::StoreKey;
pub use key_location::{KeyLocation, KeyRecord};
pub use key_move::{move_key, KeyMove, KeyMoved};
pub use key_path::{default_key_path, existing_key_path};
// The Unix unit tests put a symbolic link where the lock goes.
#[cfg(all(test, unix))]
pub(crate) use lock::lock_path;
pub use lock::HarvestLock;
pub use metrics_mark::MetricsFailure;
pub use schema::LATEST_VERSION as SCHEMA_VERSION;
pub use team::{PublishedMark, PulledMark};
pub use vault_marks::SealedCredential;

use crate::domain::{
    AuditEntry, Credential, Fingerprint, HarvestData, HeldRemovals, OrgId, RunSummary, SiteDetail,
    SiteRow, Snapshot, VaultMarks,
};
use crypto::Crypto;

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The `meta` row holding the key check value.
const KEY_CHECK: &str = "key_check";
/// Below this much free space, an SQLite I/O error is reported as a full disk.
const NEARLY_FULL_BYTES: u64 = 1024 * 1024;

/// An open store. `Debug` shows only its path.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    crypto: Crypto,
    /// Where this store's key came from, when opened through [`access`].
    key_location: Option<KeyLocation>,
    /// A one-line notice about where a new store's key was put (no keychain answered).
    key_notice: Option<String>,
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
        Store::open_recording(path, key, None)
    }

    /// [`Store::open`]; a store created now (or still empty) records `record` (its id and
    /// where its key lives) in the same transaction that creates its schema.
    fn open_recording(
        path: &Path,
        key: StoreKey,
        record: Option<(&str, KeyLocation)>,
    ) -> Result<Store, StoreError> {
        let crypto = Crypto::derive(&key)?;
        drop(key);
        let opened = (|| -> Result<Store, StoreError> {
            if let Some(dir) = path.parent() {
                files::ensure_private_dir(dir)?;
            }
            let created = files::create_db_file_if_missing(path)?;
            if !created {
                check_read_only(path, &crypto)?;
            }
            Store::connect(path, crypto, created, record)
        })();
        opened.map_err(|e| locate(path, e))
    }

    /// Opens an existing store without ever creating or initialising one: a file that is not
    /// an SQLite database, or an SQLite database that is not a simsid store (an empty one
    /// included), is [`StoreError::NotAStore`]. With the wrong key nothing is written.
    pub fn open_existing(path: &Path, key: StoreKey) -> Result<Store, StoreError> {
        let crypto = Crypto::derive(&key)?;
        drop(key);
        let not_a_store = |why: String| StoreError::NotAStore {
            path: path.to_path_buf(),
            why,
        };
        let opened = (|| -> Result<Store, StoreError> {
            match check_read_only(path, &crypto) {
                Ok(0) => return Err(not_a_store("it holds no simsid tables".into())),
                Ok(_) => {}
                Err(StoreError::Corrupt(why)) => return Err(not_a_store(why)),
                Err(e) => return Err(e),
            }
            Store::connect(path, crypto, false, None)
        })();
        opened.map_err(|e| locate(path, e))
    }

    /// The read-write connection: WAL, `synchronous=FULL`, the schema migrated and the key
    /// checked. A store already at the latest schema is not written to (no write lock).
    fn connect(
        path: &Path,
        crypto: Crypto,
        created: bool,
        record: Option<(&str, KeyLocation)>,
    ) -> Result<Store, StoreError> {
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
        if created || schema::version(&conn)? != schema::LATEST_VERSION {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found = schema::version(&tx)?;
            let was_empty = found == 0;
            let chained = !was_empty && schema::audit_chained(&tx)?;
            schema::migrate(&tx)?;
            verify_key(&tx, &crypto, was_empty)?;
            if was_empty {
                audit::init(&tx, &crypto)?;
                if let Some((id, location)) = record {
                    key_location::write(&tx, id, location)?;
                }
            } else if !chained {
                audit::chain_existing(&tx, &crypto, &migrating_user(), SCHEMA_VERSION)?;
            }
            tx.commit()?;
        } else {
            verify_key(&conn, &crypto, false)?;
        }
        files::tighten_sidecars(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            crypto,
            key_location: None,
            key_notice: None,
        })
    }

    /// This store's error with its path, and an I/O error on a full disk said as such.
    fn locate(&self, e: StoreError) -> StoreError {
        locate(&self.path, e)
    }

    /// How many harvests have been committed to this store (read at a harvest's start and
    /// checked again inside its commit).
    pub fn generation(&self) -> Result<u64, StoreError> {
        commit::generation(&self.conn).map_err(|e| self.locate(e))
    }

    /// How many credentials the store holds (what `credentials_total` reports).
    pub fn credential_count(&self) -> Result<usize, StoreError> {
        queries::credential_count(&self.conn).map_err(|e| self.locate(e))
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where this store's key came from (`None` when it was opened with a key directly).
    pub fn key_location(&self) -> Option<KeyLocation> {
        self.key_location
    }

    /// The one-line notice about where a store created just now keeps its key, when it is
    /// not where the setting asked for (no keychain answered); taken once.
    pub fn take_key_notice(&mut self) -> Option<String> {
        self.key_notice.take()
    }

    /// The store's id and where it records its key (no secret).
    pub fn key_record(&self) -> Result<KeyRecord, StoreError> {
        key_location::read(&self.conn).map_err(|e| self.locate(e))
    }

    /// Records the store's id (when it has none yet) and where its key lives, in one write.
    fn record_key_location(&mut self, id: &str, location: KeyLocation) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        key_location::write(&tx, id, location)?;
        tx.commit()?;
        Ok(())
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
        (|| -> Result<_, StoreError> {
            let tx = self.conn.unchecked_transaction()?;
            let snapshot = queries::snapshot(&tx)?;
            tx.finish()?;
            Ok(snapshot)
        })()
        .map_err(|e| self.locate(e))
    }

    /// Commits a harvest whose site list succeeded, and its run, in one transaction
    /// (docs/reference/cli.md, "Harvest semantics"). On any error nothing changes. Times written for new
    /// and rotated credentials and new sites are `summary.finished_at`.
    pub fn commit_harvest(
        &mut self,
        data: &HarvestData,
        summary: &RunSummary,
    ) -> Result<(), StoreError> {
        commit::commit_harvest(&mut self.conn, &self.crypto, data, summary, None)
            .map_err(|e| self.locate(e))
    }

    /// Commits a prepared harvest (its run, data, held removals and, in vault mode, what was
    /// written to the vault) in one transaction; fails with [`StoreError::ChangedUnderRun`]
    /// (nothing written) unless the store is still at `expected_generation`, i.e. no other
    /// harvest committed since this one started.
    pub fn commit_prepared(
        &mut self,
        expected_generation: u64,
        summary: &RunSummary,
        data: &HarvestData,
        held: &HeldRemovals,
        vault: Option<&VaultMarks>,
    ) -> Result<(), StoreError> {
        let run = commit::Prepared {
            summary,
            data,
            held,
            vault,
        };
        commit::commit_prepared(&mut self.conn, &self.crypto, expected_generation, run)
            .map_err(|e| self.locate(e))
    }

    /// Records a run in the history without touching sites or credentials (failed runs).
    pub fn record_run(&mut self, summary: &RunSummary) -> Result<(), StoreError> {
        commit::insert_run(&self.conn, summary).map_err(|e| self.locate(e))
    }

    /// All cached sites, sorted by name (case-insensitive), without secrets.
    pub fn sites(&self) -> Result<Vec<SiteRow>, StoreError> {
        queries::sites(&self.conn).map_err(|e| self.locate(e))
    }

    /// Every cached site's name by organisation id (no join, no sort: names for output).
    pub fn site_names(&self) -> Result<std::collections::BTreeMap<OrgId, String>, StoreError> {
        queries::site_names(&self.conn).map_err(|e| self.locate(e))
    }

    /// The names of the cached sites among `orgs`, by organisation id (a run's output).
    pub fn site_names_of(
        &self,
        orgs: &[&OrgId],
    ) -> Result<std::collections::BTreeMap<OrgId, String>, StoreError> {
        queries::site_names_of(&self.conn, orgs).map_err(|e| self.locate(e))
    }

    /// The first `limit` cached sites in the order of [`Store::sites`] (a first screen).
    pub fn sites_head(&self, limit: usize) -> Result<Vec<SiteRow>, StoreError> {
        queries::sites_head(&self.conn, limit).map_err(|e| self.locate(e))
    }

    /// How many sites the store holds, by state.
    pub fn site_totals(&self) -> Result<SiteTotals, StoreError> {
        queries::site_totals(&self.conn).map_err(|e| self.locate(e))
    }

    /// One cached site and its credentials (without secrets), or `None`.
    pub fn site(&self, org: &OrgId) -> Result<Option<SiteDetail>, StoreError> {
        (|| -> Result<_, StoreError> {
            let tx = self.conn.unchecked_transaction()?;
            let detail = queries::site(&tx, org)?;
            tx.finish()?;
            Ok(detail)
        })()
        .map_err(|e| self.locate(e))
    }

    /// Every cached site with its credentials (without secrets), read in one transaction
    /// (the export).
    pub fn site_details(&self) -> Result<Vec<SiteDetail>, StoreError> {
        (|| -> Result<_, StoreError> {
            let tx = self.conn.unchecked_transaction()?;
            let details = queries::site_details(&tx)?;
            tx.finish()?;
            Ok(details)
        })()
        .map_err(|e| self.locate(e))
    }

    /// Finds the cached sites `query` names, by the one rule of `lookup::find`
    /// (organisation id, DfE code or DENI number; a shared code finds several).
    pub fn resolve(&self, query: &str) -> Result<crate::lookup::Found<SiteRow>, StoreError> {
        let rows = self.sites()?;
        Ok(crate::lookup::find(&rows, |r| &r.site, query).map(Clone::clone))
    }

    /// Unseals one credential's secret; `NotFound` when there is no such credential.
    pub fn secret(&self, org: &OrgId, client_id: &str) -> Result<SecretString, StoreError> {
        queries::secret(&self.conn, &self.crypto, org, client_id).map_err(|e| self.locate(e))
    }

    /// A site's credentials with secrets unsealed, by client id (for verify); `NotFound`
    /// when the site is not cached.
    pub fn credentials(&self, org: &OrgId) -> Result<Vec<Credential>, StoreError> {
        (|| -> Result<_, StoreError> {
            let tx = self.conn.unchecked_transaction()?;
            let credentials = queries::credentials(&tx, &self.crypto, org)?;
            tx.finish()?;
            Ok(credentials)
        })()
        .map_err(|e| self.locate(e))
    }

    /// The harvest history, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>, StoreError> {
        queries::runs(&self.conn, None).map_err(|e| self.locate(e))
    }

    /// The most recent harvest run, if any.
    pub fn last_run(&self) -> Result<Option<RunSummary>, StoreError> {
        Ok(queries::runs(&self.conn, Some(1))
            .map_err(|e| self.locate(e))?
            .into_iter()
            .next())
    }

    /// Appends a record to the tamper-evident audit trail (record and chain head in one
    /// write transaction). Fails, writing nothing, when the trail's head was tampered with.
    pub fn append_audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut write = || -> Result<(), StoreError> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            audit::append(&tx, &self.crypto, entry)?;
            tx.commit()?;
            Ok(())
        };
        write().map_err(|e| locate(&self.path, e))
    }

    /// The audit trail, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        audit::read(&self.conn).map_err(|e| self.locate(e))
    }

    /// Counts and dates for `simsid status`, read in one transaction.
    pub fn health_facts(&self) -> Result<health::HealthFacts, StoreError> {
        (|| -> Result<_, StoreError> {
            let tx = self.conn.unchecked_transaction()?;
            let facts = health::facts(&tx)?;
            tx.finish()?;
            Ok(facts)
        })()
        .map_err(|e| self.locate(e))
    }

    /// SQLite's `quick_check` of the store file: `None` when whole, else what it found.
    pub fn integrity_problem(&self) -> Result<Option<String>, StoreError> {
        health::quick_check(&self.conn).map_err(|e| self.locate(e))
    }

    /// Checks the audit trail's chain (`audit --verify`): names the first record that was
    /// edited, removed, inserted or reordered.
    pub fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let check = audit::verify(&tx, &self.crypto)?;
        tx.finish()?;
        Ok(check)
    }
}

/// Who the migration record names: the OS user running the command that migrated.
fn migrating_user() -> String {
    let name = whoami::username();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// The error `e` met on the store at `path`, located: SQLite's "disk full", and its I/O errors
/// when the store's file system has (nearly) no space left, become [`StoreError::DiskFull`]
/// naming the store; other SQLite I/O errors name the store too.
fn locate(path: &Path, e: StoreError) -> StoreError {
    let free = || crate::platform::free_bytes(&access::store_dir(path));
    match e {
        StoreError::SqliteFull(_) => StoreError::DiskFull {
            path: path.to_path_buf(),
            free_bytes: free(),
        },
        StoreError::SqliteIo(message) => match free() {
            Some(bytes) if bytes < NEARLY_FULL_BYTES => StoreError::DiskFull {
                path: path.to_path_buf(),
                free_bytes: Some(bytes),
            },
            _ => StoreError::Sqlite(format!("{message} ({})", path.display())),
        },
        other => other,
    }
}

/// Checks schema and key without writing anything (through [`read_only_connection`]);
/// returns the schema version.
fn check_read_only(path: &Path, crypto: &Crypto) -> Result<u32, StoreError> {
    let conn = read_only_connection(path)?;
    let version = schema::check_compatible(&conn)?;
    if version > 0 {
        verify_key(&conn, crypto, false)?;
    }
    Ok(version)
}

/// A connection that cannot write the store at `path`: immutable when no `-wal` file exists
/// (every committed page is in the main file; no `-wal` or `-shm` is created), otherwise
/// read-only through the existing WAL.
fn read_only_connection(path: &Path) -> Result<Connection, StoreError> {
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
    Ok(conn)
}

/// `file:` URI of `path` (percent-encoded) with `immutable=1`.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in crate::platform::uri_path_bytes(path) {
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
