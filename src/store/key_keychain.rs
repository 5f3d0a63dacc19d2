//! A store's key in the OS keychain (service `simsid`, account = the store's id), kept as
//! the same base64 text a key file holds. A key there is never replaced: a write first reads
//! the entry, and an entry that holds another key is refused.

use std::path::Path;

use super::error::StoreError;
use super::key::StoreKey;
use crate::platform::keychain::{self, KeychainError};

/// What to do when the keychain cannot give a store's key (docs/reference/cli.md, "Store").
fn what_to_do(why: &KeychainError) -> &'static str {
    match why {
        KeychainError::Absent(_) => {
            "run simsid in your desktop session (where the keychain is), or give the key in \
             SIMSID_STORE_KEY; a new key cannot open this store"
        }
        KeychainError::Locked(_) => {
            "unlock the keychain (log in to the desktop session, or unlock it in your keychain \
             tool) and run the command again; a new key cannot open this store"
        }
        KeychainError::NoEntry => {
            "restore the entry (from a backup of the keychain), or give the key in \
             SIMSID_STORE_KEY; a new key cannot open this store"
        }
        KeychainError::Refused(_) => {
            "fix the keychain entry, or give the key in SIMSID_STORE_KEY; a new key cannot open \
             this store"
        }
    }
}

fn unavailable(store: &Path, id: &str, why: KeychainError) -> StoreError {
    StoreError::Keychain {
        store: store.to_path_buf(),
        id: id.to_string(),
        todo: what_to_do(&why),
        why,
    }
}

/// The key of the store at `store` (id `id`) from the keychain.
pub(super) fn load(store: &Path, id: &str) -> Result<StoreKey, StoreError> {
    let text = keychain::read(id).map_err(|why| unavailable(store, id, why))?;
    StoreKey::from_base64(&text).map_err(|e| match e {
        StoreError::BadKey(why) => unavailable(
            store,
            id,
            KeychainError::Refused(format!("the entry does not hold a store key: {why}")),
        ),
        other => other,
    })
}

/// Puts `key` in the keychain for the store `id`, then reads it back. An entry that already
/// holds this key is fine (a move that was interrupted); one that holds another key is
/// refused and left as it is.
pub(super) fn save(id: &str, key: &StoreKey) -> Result<(), KeychainError> {
    match keychain::read(id) {
        Err(KeychainError::NoEntry) => {}
        Ok(held) => {
            return match StoreKey::from_base64(&held) {
                Ok(k) if k.bytes() == key.bytes() => Ok(()),
                _ => Err(KeychainError::Refused(format!(
                    "it already holds a different value for this store (service {}, account \
                     {id}); it is never replaced: remove that entry yourself if it is not needed",
                    keychain::SERVICE
                ))),
            };
        }
        Err(e) => return Err(e),
    }
    keychain::write(id, &key.to_base64())?;
    let back = keychain::read(id)?;
    let same = StoreKey::from_base64(&back).is_ok_and(|k| k.bytes() == key.bytes());
    if !same {
        return Err(KeychainError::Refused(
            "the key read back is not the key written".into(),
        ));
    }
    Ok(())
}

/// Removes the store's entry; an entry already gone is fine.
pub(super) fn remove(id: &str) -> Result<(), KeychainError> {
    match keychain::delete(id) {
        Ok(()) | Err(KeychainError::NoEntry) => Ok(()),
        Err(e) => Err(e),
    }
}
