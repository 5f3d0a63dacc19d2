//! `simsid store key --move-to-keychain` / `--to-file`: moving an existing store's key, under
//! the store's harvest lock, so that a crash at any point leaves one working copy.
//!
//! The store's record says where its key lives, and only the record decides: the new copy is
//! written, read back and proven to open the store before the record changes, and the old
//! copy is removed only after it has. To the keychain: write the entry, read it back, open
//! the store with it, record `keychain`, remove the key file. To a file: write the file
//! (owner-only, synced, never over another key), read it back, open the store with it, record
//! `file`, remove the keychain entry.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::access::{self, KeySource};
use super::error::StoreError;
use super::files;
use super::key::StoreKey;
use super::key_keychain;
use super::key_location::{self, KeyLocation};
use super::key_path::{default_key_path, existing_key_path};
use super::lock::HarvestLock;
use super::Store;

/// Where to move a store's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMove {
    /// Into the OS keychain (service `simsid`, account = the store's id).
    ToKeychain,
    /// Into a key file beside the store (for a headless host).
    ToFile,
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMoved {
    /// Where the key was.
    pub from: KeyLocation,
    /// Where it is now.
    pub to: KeyLocation,
    /// The store's id (the keychain entry's account).
    pub id: String,
    /// The key file, when the key is now in one (or was removed from one).
    pub key_file: PathBuf,
    /// The key was already there: nothing changed.
    pub unchanged: bool,
    /// Something left behind that the person may want to tidy (never a failure of the move).
    pub note: Option<String>,
}

/// Moves the key of the existing store at `store_path`. `key` is the given key
/// (`SIMSID_STORE_KEY`), if any; otherwise the key is read where the store records it. On
/// any error the key is still where it was (and the store opens with it).
pub fn move_key(store_path: &Path, key: KeySource, to: KeyMove) -> Result<KeyMoved, StoreError> {
    let given = match &key {
        KeySource::Given(k) => Some(k.clone()),
        _ => None,
    };
    let _lock = HarvestLock::acquire(store_path, Utc::now())?;
    // Opening proves the store and its key (creates nothing; the key is never made anew).
    let store = access::open_existing(store_path, key)?;
    let record = store.key_record()?;
    drop(store);
    let found_file = existing_key_path(store_path);
    let from = match record.location {
        Some(location) => location,
        None if found_file.is_none() && given.is_some() => KeyLocation::Env,
        None => KeyLocation::File,
    };
    let id = record.id.unwrap_or_else(key_location::new_store_id);
    let key_file = found_file.unwrap_or_else(|| default_key_path(store_path));
    // The key that opened the store: the given one, else read again where the store records
    // it (an open store keeps only keys derived from it).
    let key = match given {
        Some(key) => key,
        None => access::existing_key(store_path, KeySource::File)?.0,
    };
    let target = match to {
        KeyMove::ToKeychain => KeyLocation::Keychain,
        KeyMove::ToFile => KeyLocation::File,
    };
    if from == target {
        return Ok(KeyMoved {
            from,
            to: target,
            id,
            key_file,
            unchanged: true,
            note: None,
        });
    }
    let not_moved = |why: String| StoreError::KeyNotMoved {
        store: store_path.to_path_buf(),
        why,
    };
    let note = match to {
        KeyMove::ToKeychain => {
            key_keychain::save(&id, &key).map_err(|e| not_moved(e.to_string()))?;
            let back = key_keychain::load(store_path, &id)?;
            let mut store = Store::open_existing(store_path, back)?;
            store.record_key_location(&id, KeyLocation::Keychain)?;
            drop(store);
            match from {
                KeyLocation::File => remove_key_file(&key_file)?,
                _ => None,
            }
        }
        KeyMove::ToFile => {
            let written = default_key_path(store_path);
            write_key_file(&written, &key).map_err(|e| match e {
                StoreError::KeyNotMoved { why, .. } => not_moved(why),
                other => other,
            })?;
            let back = StoreKey::load(&written)?;
            let mut store = Store::open_existing(store_path, back)?;
            store.record_key_location(&id, KeyLocation::File)?;
            drop(store);
            match from {
                KeyLocation::Keychain => key_keychain::remove(&id).err().map(|e| {
                    format!(
                        "the keychain entry (service simsid, account {id}) was left: {e}; \
                         remove it once the keychain answers"
                    )
                }),
                _ => None,
            }
        }
    };
    let note = match (from, note) {
        (KeyLocation::Env, None) => {
            Some("unset SIMSID_STORE_KEY: while it is set, it is the key simsid uses".to_string())
        }
        (_, note) => note,
    };
    Ok(KeyMoved {
        from,
        to: target,
        id,
        key_file: match to {
            KeyMove::ToFile => default_key_path(store_path),
            KeyMove::ToKeychain => key_file,
        },
        unchanged: false,
        note,
    })
}

/// Writes `key` to a new key file at `path` (owner-only, synced, its directory synced). A
/// file already there holding the same key is kept; one holding another key is refused.
fn write_key_file(path: &Path, key: &StoreKey) -> Result<(), StoreError> {
    match StoreKey::load(path) {
        Ok(held) if held.bytes() == key.bytes() => return Ok(()),
        Ok(_) | Err(StoreError::BadKey(_)) => {
            return Err(StoreError::KeyNotMoved {
                store: path.to_path_buf(),
                why: format!(
                    "{} already holds another key; it is never replaced: move it away if it \
                     is not needed",
                    path.display()
                ),
            })
        }
        Err(StoreError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = files::create_private_file(path)?;
    file.write_all(key_text(key).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io("writing key file", path, e))?;
    sync_dir(path)
}

#[allow(clippy::disallowed_methods)] // the key file holds the key's base64
fn key_text(key: &StoreKey) -> zeroize::Zeroizing<String> {
    use secrecy::ExposeSecret;
    zeroize::Zeroizing::new(format!("{}\n", key.to_base64().expose_secret()))
}

/// Removes the key file at `path` and syncs its directory; `Ok(Some(note))` when it could not
/// be removed (the key is in the keychain already, so the move stands).
fn remove_key_file(path: &Path) -> Result<Option<String>, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(path)?;
            Ok(None)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Ok(Some(format!(
            "the key file {} could not be removed ({e}): remove it yourself",
            path.display()
        ))),
    }
}

/// Syncs the directory holding `path`, so a file created or removed there stays so after a
/// crash (a no-op where directories cannot be opened).
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = access::store_dir(path);
    match fs::File::open(&dir) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            // Some platforms (and file systems) cannot sync a directory handle.
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Ok(()),
            Err(e) if e.kind() == ErrorKind::InvalidInput => Ok(()),
            Err(e) => Err(StoreError::io("syncing directory", dir, e)),
        },
        Err(_) => Ok(()),
    }
}
