//! A throw-away store: a temporary folder holding `store.sqlite3`, its key and the log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use simsid::store::{Store, StoreKey};

/// A temporary directory holding `store.sqlite3` and its key (removed on drop).
pub struct TempStore {
    /// The folder (the store, the log).
    pub dir: tempfile::TempDir,
    /// The store key, as `SIMSID_STORE_KEY` spells it.
    pub key_b64: SecretString,
}

impl Default for TempStore {
    fn default() -> Self {
        Self::new()
    }
}

impl TempStore {
    /// A new folder and a new key; the store is created by its first open.
    pub fn new() -> Self {
        let key = StoreKey::generate();
        TempStore {
            dir: tempfile::tempdir().expect("a temporary folder"),
            key_b64: key.to_base64(),
        }
    }

    /// The store file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("store.sqlite3")
    }

    /// The log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("simsid.log")
    }

    /// Opens (or creates) the store with its key.
    pub fn open(&self) -> Store {
        let key = StoreKey::from_base64(&self.key_b64).expect("the key is base64");
        Store::open(&self.path(), key).expect("the store opens")
    }

    /// The environment naming this store to the binary: `SIMSID_STORE`, `SIMSID_STORE_KEY`,
    /// `SIMSID_LOG`.
    // The key goes into a child's environment: its bytes are needed there.
    #[allow(clippy::disallowed_methods)]
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("SIMSID_STORE".into(), self.path().display().to_string());
        m.insert(
            "SIMSID_STORE_KEY".into(),
            self.key_b64.expose_secret().to_string(),
        );
        m.insert("SIMSID_LOG".into(), self.log().display().to_string());
        m
    }
}
