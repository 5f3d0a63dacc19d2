//! The versioned schema: `PRAGMA user_version` counts the migrations applied, in order.

use rusqlite::Connection;

use super::error::StoreError;

/// Migrations, oldest first; migration `i` brings the schema to version `i + 1`.
/// Append new ones; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    );
    CREATE TABLE sites (
        org_id      TEXT PRIMARY KEY NOT NULL,
        name        TEXT NOT NULL,
        dfe_code    TEXT,
        deni_number TEXT,
        authorised  INTEGER,
        first_seen  TEXT NOT NULL,
        badge       TEXT,
        stale       INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT
    );
    CREATE INDEX sites_dfe_code ON sites (dfe_code COLLATE NOCASE);
    CREATE INDEX sites_deni_number ON sites (deni_number COLLATE NOCASE);
    CREATE TABLE credentials (
        org_id       TEXT NOT NULL REFERENCES sites (org_id) ON DELETE CASCADE,
        client_id    TEXT NOT NULL,
        secret       BLOB NOT NULL,
        nonce        BLOB NOT NULL,
        description  TEXT,
        fingerprint  TEXT NOT NULL,
        first_seen   TEXT NOT NULL,
        last_changed TEXT NOT NULL,
        stale        INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        PRIMARY KEY (org_id, client_id)
    );
    CREATE TABLE runs (
        seq               INTEGER PRIMARY KEY,
        run_id            TEXT NOT NULL UNIQUE,
        status            TEXT NOT NULL,
        started_at        TEXT NOT NULL,
        finished_at       TEXT NOT NULL,
        sites_total       INTEGER NOT NULL,
        sites_harvested   INTEGER NOT NULL,
        sites_failed      INTEGER NOT NULL,
        credentials_total INTEGER NOT NULL,
        diff              TEXT NOT NULL,
        failures          TEXT NOT NULL,
        error             TEXT
    );
    CREATE INDEX runs_started_at ON runs (started_at);
    CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        at          TEXT NOT NULL,
        user        TEXT NOT NULL,
        action      TEXT NOT NULL,
        org_id      TEXT,
        client_id   TEXT,
        fingerprint TEXT,
        detail      TEXT
    );
    "#,
    // 2: the tamper-evident audit trail. Each record carries `mac`, an HMAC over its content
    // and the previous record's `mac`; `identity` names the vault identity in vault mode.
    // Records written before this version are chained by `Store::open` in the same
    // transaction, which also records the migration (see `audit::chain_existing`).
    r#"
    ALTER TABLE audit ADD COLUMN identity TEXT;
    ALTER TABLE audit ADD COLUMN mac BLOB;
    "#,
    // 3: vault mode: per credential, what was last written to the vault.
    r#"
    ALTER TABLE credentials ADD COLUMN vault_fingerprint TEXT;
    ALTER TABLE credentials ADD COLUMN vault_version INTEGER;
    "#,
    // 4: runs that did not commit say why: `scope` (`full` or `site`: `harvest --site`) and
    // the `signal` that cancelled a run; the onboarding queue: `waiting_since`, when a
    // site's current unauthorised stretch began (null while authorised). Sites cached
    // unauthorised before this version have waited since they were first seen.
    r#"
    ALTER TABLE runs ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
    ALTER TABLE runs ADD COLUMN signal TEXT;
    ALTER TABLE sites ADD COLUMN waiting_since TEXT;
    UPDATE sites SET waiting_since = first_seen WHERE authorised = 0;
    "#,
    // 5: team mode (docs/reference/vault.md "Team mode"): the vault identity that harvested each run (the
    // host records it when it publishes; a viewer pulls it), and on a viewer the chunks of
    // the view last pulled (a pull fetches only the others).
    r#"
    ALTER TABLE runs ADD COLUMN identity TEXT;
    CREATE TABLE view_chunks (
        name TEXT PRIMARY KEY NOT NULL,
        body TEXT NOT NULL
    );
    "#,
    // The console's first frame reads the first screen of sites in name order: an index in
    // that order makes it a read of those rows, not a scan and sort of every site.
    r#"
    CREATE INDEX IF NOT EXISTS sites_by_name ON sites (name COLLATE NOCASE, name, org_id);
    "#,
    // 7: the school a one-school run (`harvest --site`) harvested: a viewer derives the
    // badges from the team's view's runs, and such a run clears that school's badge even
    // when it changed nothing (docs/reference/vault.md "Team mode"). Null for full runs and
    // for one-school runs recorded before this version.
    r#"
    ALTER TABLE runs ADD COLUMN site TEXT;
    "#,
];

/// The schema version this build writes.
pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

/// The store's schema version (0 for a new, empty file).
pub(crate) fn version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Refuses files this build must not touch: a newer schema, or an SQLite database that
/// is not a simsid store (version 0 with tables in it). Reads only.
pub(crate) fn check_compatible(conn: &Connection) -> Result<u32, StoreError> {
    let found = version(conn)?;
    if found > LATEST_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST_VERSION,
        });
    }
    if found == 0 {
        let objects: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
        if objects > 0 {
            return Err(StoreError::Corrupt(
                "the file is an SQLite database but not a simsid store".into(),
            ));
        }
    }
    Ok(found)
}

/// Whether the audit table already carries the chain column (`mac`). False for a new
/// store and for stores written before the audit trail was chained.
pub(crate) fn audit_chained(conn: &Connection) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('audit') WHERE name = 'mac'",
        [],
        |row| row.get(0),
    )?;
    Ok(n > 0)
}

/// Applies the missing migrations in order. The caller holds a write transaction, so they
/// all apply or none does.
pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let found = check_compatible(conn)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        conn.execute_batch(sql)?;
        conn.pragma_update(None, "user_version", index as u32 + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_an_empty_database_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        migrate(&tx).unwrap();
        tx.commit().unwrap();
        assert_eq!(version(&conn).unwrap(), LATEST_VERSION);
        migrate(&conn).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            tables,
            [
                "audit",
                "credentials",
                "meta",
                "runs",
                "sites",
                "view_chunks"
            ]
        );
    }

    #[test]
    fn refuses_newer_and_foreign_databases() {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&conn),
            Err(StoreError::SchemaTooNew { .. })
        ));
        let foreign = Connection::open_in_memory().unwrap();
        foreign.execute_batch("CREATE TABLE t (x)").unwrap();
        assert!(matches!(migrate(&foreign), Err(StoreError::Corrupt(_))));
    }
}
