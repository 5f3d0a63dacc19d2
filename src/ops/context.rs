//! Opening the store and building the SIMS client from resolved settings.

use chrono::Utc;

use super::audit::os_user;
use super::OpError;
use crate::config::{LocalSettings, RemoteSettings, Settings};
use crate::sims::SimsClient;
use crate::store::{self, HarvestLock, KeyLocation, KeySource, Store, StoreError, StoreKey};

use super::OpResult;

/// The profile a command runs for: its one keeper of secrets, which holds the settings and
/// who is acting. `Context` adds nothing but borrowing: the settings are the keeper's, so
/// there is one copy of them and of the user.
#[derive(Debug, Clone)]
pub struct Context {
    keeper: super::keeper::Keeper,
}

impl Context {
    /// The context for `settings`, acting for the current OS user (the released binary acts
    /// for no one else: no setting or variable chooses the user).
    pub fn new(settings: Settings) -> Self {
        Context::acting_as(settings, os_user())
    }

    /// The context for `settings`, acting for `user` (the library's tests of who a record
    /// names).
    pub fn acting_as(settings: Settings, user: String) -> Self {
        Context {
            keeper: super::keeper::Keeper::new(settings, user),
        }
    }

    /// The profile's resolved settings.
    pub fn settings(&self) -> &Settings {
        self.keeper.settings()
    }

    /// The profile's keeper of secrets.
    pub fn keeper(&self) -> &super::keeper::Keeper {
        &self.keeper
    }

    /// The remote settings, or the usage error listing what is missing.
    pub fn remote(&self) -> OpResult<&RemoteSettings> {
        self.settings()
            .remote
            .as_ref()
            .map_err(|e| OpError::invalid(e.to_string()))
    }
}

/// Maps a store error to its exit code (6 when another harvest holds or changed the store,
/// else 1) with a message that says where.
pub fn store_error(local: &LocalSettings, e: StoreError) -> OpError {
    let names_its_file = matches!(
        e,
        StoreError::Missing(_)
            | StoreError::NotAStore { .. }
            | StoreError::KeyFileMissing { .. }
            | StoreError::Keychain { .. }
            | StoreError::KeychainForNewStore { .. }
            | StoreError::KeyNotMoved { .. }
            | StoreError::KeyInEnv(_)
            | StoreError::Unsafe { .. }
            | StoreError::Busy { .. }
            | StoreError::DiskFull { .. }
            | StoreError::Io { .. }
    );
    if names_its_file {
        OpError::store("", e)
    } else {
        OpError::store(&format!("store {}", local.store_path.display()), e)
    }
}

/// Where the store key comes from: `$SIMSID_STORE_KEY` when set; else where the store
/// records it, and for a new store where the setting `store_key` says (by default the OS
/// keychain where one answers, else a key file).
fn key_source(local: &LocalSettings) -> OpResult<KeySource> {
    match (&local.store_key, local.store_key_in) {
        (Some(b64), _) => StoreKey::from_base64(b64)
            .map(KeySource::Given)
            .map_err(|e| OpError::invalid(format!("SIMSID_STORE_KEY: {e}"))),
        (None, Some(KeyLocation::File)) => Ok(KeySource::File),
        (None, Some(KeyLocation::Keychain)) => Ok(KeySource::Keychain),
        // `env` without the variable is refused when settings are resolved.
        (None, Some(KeyLocation::Env) | None) => Ok(KeySource::KeychainElseFile),
    }
}

/// Where the store's key lives (`status`, the console header): what the store records, or
/// for a store not made yet where its key would go (the keychain only where one answers).
pub fn store_key_location(local: &LocalSettings) -> KeyLocation {
    if let Some(location) = store::key_location(&local.store_path, local.store_key.is_some()) {
        return location;
    }
    match local.store_key_in {
        Some(location) => location,
        None if store::keychain_answers().is_ok() => KeyLocation::Keychain,
        None => KeyLocation::File,
    }
}

/// Moves the key of the existing store (`simsid store key --move-to-keychain` / `--to-file`).
pub fn move_store_key(local: &LocalSettings, to: store::KeyMove) -> OpResult<store::KeyMoved> {
    store::move_key(&local.store_path, key_source(local)?, to).map_err(|e| store_error(local, e))
}

/// Opens the store of these settings, creating it and its key on first use (the demo's
/// throw-away store). Harvests use [`open_for_harvest`], which also takes the lock.
pub fn open_store(local: &LocalSettings) -> OpResult<Store> {
    let (lock, store) = open_for_harvest(local)?;
    drop(lock);
    Ok(store)
}

/// Opens the existing store for a command that only reads: creates nothing, and a missing
/// store, an empty or foreign file or a missing key file is an error naming the path.
pub fn open_existing_store(local: &LocalSettings) -> OpResult<Store> {
    store::open_existing(&local.store_path, key_source(local)?).map_err(|e| store_error(local, e))
}

/// Like [`open_existing_store`], but `None` when there is no store yet.
pub fn open_store_if_present(local: &LocalSettings) -> OpResult<Option<Store>> {
    store::open_if_present(&local.store_path, key_source(local)?).map_err(|e| store_error(local, e))
}

/// Takes the store's harvest lock (exit 6 naming the holder when another harvest has it),
/// then opens the store, creating it and its key on first use. Hold the lock for the run.
pub fn open_for_harvest(local: &LocalSettings) -> OpResult<(HarvestLock, Store)> {
    store::open_for_harvest(&local.store_path, key_source(local)?, Utc::now())
        .map_err(|e| store_error(local, e))
}

/// The SIMS ID client for these settings.
pub fn sims_client(remote: &RemoteSettings) -> OpResult<SimsClient> {
    SimsClient::new(remote.sims.clone())
        .map_err(|e| OpError::failed(format!("cannot build the SIMS ID client: {e}")))
}
