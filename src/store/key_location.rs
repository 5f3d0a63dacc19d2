//! Where a store's key lives, and the store's own id: two plain rows of the store's `meta`
//! table (no secret), readable before the key is known. The id names the store's entry in
//! the OS keychain (service `simsid`, account = the id), so moving the store keeps its key.

use std::fmt;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::error::StoreError;

/// The `meta` row holding the store's id (a UUID).
const STORE_ID: &str = "store_id";
/// The `meta` row holding where the key lives (`keychain`, `file` or `env`).
const KEY_LOCATION: &str = "key_location";

/// Where a store's key lives (the setting `store_key`, and `status --json`'s `store_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    /// The OS keychain: service `simsid`, account = the store's id.
    Keychain,
    /// A key file beside the store, readable by its owner only.
    File,
    /// `$SIMSID_STORE_KEY`.
    Env,
}

impl KeyLocation {
    /// The word of the setting and of `status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyLocation::Keychain => "keychain",
            KeyLocation::File => "file",
            KeyLocation::Env => "env",
        }
    }

    /// The location a word names, if it names one.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "keychain" => Some(KeyLocation::Keychain),
            "file" => Some(KeyLocation::File),
            "env" => Some(KeyLocation::Env),
            _ => None,
        }
    }
}

impl fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a store says about its key: its id and where the key lives (either may be absent in
/// a store made before they were recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRecord {
    /// The store's own id (a UUID, lower-case, hyphenated).
    pub id: Option<String>,
    /// Where the key lives, as recorded when the store was made or its key was moved.
    pub location: Option<KeyLocation>,
}

/// A fresh store id.
pub fn new_store_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// The record in `conn`'s `meta` table. A value that is not what simsid writes (an id that is
/// not a UUID, an unknown location) is refused as corrupt: it must never name a keychain
/// entry.
pub(super) fn read(conn: &Connection) -> Result<KeyRecord, StoreError> {
    let value = |key: &str| -> Result<Option<String>, StoreError> {
        let raw: Option<rusqlite::types::Value> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?;
        match raw {
            None => Ok(None),
            Some(rusqlite::types::Value::Text(s)) => Ok(Some(s)),
            Some(rusqlite::types::Value::Blob(b)) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("the store's {key} is not text"))),
            Some(_) => Err(StoreError::Corrupt(format!(
                "the store's {key} is not text"
            ))),
        }
    };
    let id = match value(STORE_ID)? {
        None => None,
        Some(text) => Some(
            uuid::Uuid::parse_str(&text)
                .map(|u| u.hyphenated().to_string())
                .map_err(|_| StoreError::Corrupt("the store's id is not a UUID".into()))?,
        ),
    };
    let location = match value(KEY_LOCATION)? {
        None => None,
        Some(word) => Some(KeyLocation::parse(&word).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the store records its key in `{}`, which is not keychain, file or env",
                crate::sanitize::bounded(&word, 32)
            ))
        })?),
    };
    Ok(KeyRecord { id, location })
}

/// Writes the record (inside the caller's transaction): the id only when the store has none
/// (an id never changes), the location always.
pub(super) fn write(conn: &Connection, id: &str, location: KeyLocation) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![STORE_ID, id],
    )?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        rusqlite::params![KEY_LOCATION, location.as_str()],
    )?;
    Ok(())
}

/// The record of the store at `path`, read without its key and without writing anything;
/// `None` when the file cannot be read as a simsid store (whoever opens it next says why).
pub(super) fn read_at(path: &Path) -> Option<KeyRecord> {
    let conn = super::read_only_connection(path).ok()?;
    let has_meta: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |row| row.get(0),
        )
        .ok()?;
    if !has_meta {
        return None;
    }
    read(&conn).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn words_round_trip_and_nothing_else_parses() {
        for loc in [KeyLocation::Keychain, KeyLocation::File, KeyLocation::Env] {
            assert_eq!(KeyLocation::parse(loc.as_str()), Some(loc));
        }
        assert_eq!(KeyLocation::parse("Keychain"), None);
        assert_eq!(KeyLocation::parse(""), None);
    }

    #[test]
    fn the_id_is_written_once_and_the_location_follows_moves() {
        let conn = meta();
        assert_eq!(read(&conn).unwrap(), KeyRecord::default());
        let id = new_store_id();
        write(&conn, &id, KeyLocation::File).unwrap();
        write(&conn, &new_store_id(), KeyLocation::Keychain).unwrap();
        assert_eq!(
            read(&conn).unwrap(),
            KeyRecord {
                id: Some(id),
                location: Some(KeyLocation::Keychain)
            }
        );
    }

    #[test]
    fn a_forged_id_or_location_is_corrupt() {
        let conn = meta();
        conn.execute("INSERT INTO meta VALUES ('store_id', 'someone-else')", [])
            .unwrap();
        assert!(matches!(read(&conn), Err(StoreError::Corrupt(_))));
        let conn = meta();
        conn.execute("INSERT INTO meta VALUES ('key_location', 'cloud')", [])
            .unwrap();
        let err = read(&conn).unwrap_err();
        assert!(err.to_string().contains("cloud"), "{err}");
    }
}
