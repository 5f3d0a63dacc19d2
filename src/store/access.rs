//! Opening the store the way a command needs it (docs/reference/cli.md, "Store safety"): commands that only
//! read never create a store or a key; a harvest creates both on first use, under the
//! harvest lock, the key where the setting says (docs/reference/cli.md, "Store"); an existing store's key is
//! read where the store records it, never made anew. Every way in refuses a store path that is a directory, and files another
//! user owns or may change.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::files::{self, sidecars};
use super::key::StoreKey;
use super::key_keychain;
use super::key_location::{self, KeyLocation, KeyRecord};
use super::key_path::{default_key_path, existing_key_path};
use super::lock::HarvestLock;
use super::safety::{self, Role};
use super::Store;

/// Where the store key comes from. For an existing store every variant but `Given` means
/// "where the store records it" (its key file, or the OS keychain); they differ only in
/// where a new store's key goes.
#[derive(Debug)]
pub enum KeySource {
    /// Given by the caller (`SIMSID_STORE_KEY`): the key lives in the environment.
    Given(StoreKey),
    /// A new store's key goes in a key file beside it (`store_key = "file"`).
    File,
    /// A new store's key goes in the OS keychain; when none answers, nothing is created
    /// (`store_key = "keychain"`).
    Keychain,
    /// A new store's key goes in the OS keychain where one answers, else in a key file with
    /// a one-line notice (the default).
    KeychainElseFile,
}

/// Whether an OS keychain answers here (`Err` says why not).
pub fn keychain_answers() -> Result<(), crate::platform::keychain::KeychainError> {
    crate::platform::keychain::answers()
}

/// What the store at `store_path` records about its key (its id, where the key lives), read
/// without the key; `None` when there is no readable store.
pub fn key_record(store_path: &Path) -> Option<KeyRecord> {
    key_location::read_at(store_path)
}

/// Where the key of the store at `store_path` lives, worked out without the key: `Env` when
/// `given` (`SIMSID_STORE_KEY` is set), else what the store records (a store that records
/// nothing keeps its key in a file); `None` when there is no store yet.
pub fn key_location(store_path: &Path, given: bool) -> Option<KeyLocation> {
    if given {
        return Some(KeyLocation::Env);
    }
    if !store_path.is_file() || store_size(store_path).ok()?.unwrap_or(0) == 0 {
        return None;
    }
    let record = key_location::read_at(store_path).unwrap_or_default();
    Some(record.location.unwrap_or(KeyLocation::File))
}

/// The directory holding `store_path` (`.` for a bare file name).
pub fn store_dir(store_path: &Path) -> PathBuf {
    match store_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses a store path that names a directory: `--store` names the store file, and a key
/// derived from a directory's name would land outside it.
fn refuse_directory(store_path: &Path) -> Result<(), StoreError> {
    if store_path.is_dir() {
        return Err(StoreError::NotAStore {
            path: store_path.to_path_buf(),
            why: format!(
                "it is a directory (--store names the store file, e.g. {})",
                store_path.join("store.sqlite3").display()
            ),
        });
    }
    Ok(())
}

/// Refuses the store's directory, the store and its companions, and the key file when one
/// of them (that exists) belongs to another user or may be changed by others.
fn enforce_ownership(store_path: &Path, key_file: Option<&Path>) -> Result<(), StoreError> {
    let dir = store_dir(store_path);
    let [wal, shm] = sidecars(store_path);
    let mut checks: Vec<(Role, &Path)> = vec![
        (Role::Directory, &dir),
        (Role::Store, store_path),
        (Role::Store, &wal),
        (Role::Store, &shm),
    ];
    if let Some(key) = key_file {
        checks.push((Role::Key, key));
    }
    safety::enforce(&checks)
}

/// The size of the store file, or `None` when there is none.
fn store_size(store_path: &Path) -> Result<Option<u64>, StoreError> {
    match fs::metadata(store_path) {
        Ok(meta) => Ok(Some(meta.len())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading metadata of", store_path, e)),
    }
}

/// Loads the key file of an existing store, never creating one.
fn existing_key_file(store_path: &Path) -> Result<StoreKey, StoreError> {
    let missing = || StoreError::KeyFileMissing {
        key: default_key_path(store_path),
        store: store_path.to_path_buf(),
    };
    let path = existing_key_path(store_path).ok_or_else(missing)?;
    StoreKey::load(&path).map_err(|e| match e {
        StoreError::Io { source, .. } if source.kind() == ErrorKind::NotFound => missing(),
        other => other,
    })
}

/// The key of an existing store and where it came from: the given one, else where the store
/// records it (the OS keychain, its key file, or `SIMSID_STORE_KEY`, which is then missing).
/// Never a new key.
pub(super) fn existing_key(
    store_path: &Path,
    key: KeySource,
) -> Result<(StoreKey, KeyLocation), StoreError> {
    if let KeySource::Given(key) = key {
        return Ok((key, KeyLocation::Env));
    }
    let record = key_location::read_at(store_path).unwrap_or_default();
    match (record.location, record.id) {
        (Some(KeyLocation::Keychain), Some(id)) => {
            Ok((key_keychain::load(store_path, &id)?, KeyLocation::Keychain))
        }
        (Some(KeyLocation::Keychain), None) => Err(StoreError::Corrupt(
            "the store records its key in the OS keychain but has no id".into(),
        )),
        (Some(KeyLocation::Env), _) => Err(StoreError::KeyInEnv(store_path.to_path_buf())),
        (Some(KeyLocation::File) | None, _) => {
            Ok((existing_key_file(store_path)?, KeyLocation::File))
        }
    }
}

/// A new store's key, where `source` says, with the id and location the store is to record
/// and, when the key is not where the setting asked (no keychain answered), a notice.
struct NewKey {
    key: StoreKey,
    id: String,
    location: KeyLocation,
    notice: Option<String>,
}

/// Makes (or finds) the key of a store about to be created. A key file already beside the
/// store is used whatever the setting (it would otherwise shadow a key put elsewhere).
fn new_key(store_path: &Path, source: KeySource) -> Result<NewKey, StoreError> {
    let id = key_location::new_store_id();
    let in_file = |id: String, notice: Option<String>| -> Result<NewKey, StoreError> {
        Ok(NewKey {
            key: StoreKey::load_or_create(&default_key_path(store_path))?,
            id,
            location: KeyLocation::File,
            notice,
        })
    };
    match source {
        KeySource::Given(key) => Ok(NewKey {
            key,
            id,
            location: KeyLocation::Env,
            notice: None,
        }),
        KeySource::File => in_file(id, None),
        KeySource::Keychain | KeySource::KeychainElseFile
            if existing_key_path(store_path).is_some() =>
        {
            Ok(NewKey {
                key: existing_key_file(store_path)?,
                id,
                location: KeyLocation::File,
                notice: None,
            })
        }
        KeySource::Keychain | KeySource::KeychainElseFile => {
            let key = StoreKey::generate();
            match key_keychain::save(&id, &key) {
                Ok(()) => Ok(NewKey {
                    key,
                    id,
                    location: KeyLocation::Keychain,
                    notice: None,
                }),
                Err(why) if matches!(source, KeySource::KeychainElseFile) => {
                    let notice = format!(
                        "the store key is kept in the file {} beside the store: {why} (set \
                         store_key = \"file\" to choose this)",
                        default_key_path(store_path).display()
                    );
                    in_file(id, Some(notice))
                }
                Err(why) => Err(StoreError::KeychainForNewStore {
                    store: store_path.to_path_buf(),
                    why,
                }),
            }
        }
    }
}

/// Opens an existing store for a command that only reads (and may append audit records).
/// Creates nothing: a missing store, an empty or non-SQLite file, a directory, or a missing
/// key file is an error that names the path.
pub fn open_existing(store_path: &Path, key: KeySource) -> Result<Store, StoreError> {
    refuse_directory(store_path)?;
    let key_file = match key {
        KeySource::Given(_) => None,
        _ => existing_key_path(store_path),
    };
    enforce_ownership(store_path, key_file.as_deref())?;
    match store_size(store_path)? {
        None => return Err(StoreError::Missing(store_path.to_path_buf())),
        Some(0) => {
            return Err(StoreError::NotAStore {
                path: store_path.to_path_buf(),
                why: "it is empty".into(),
            })
        }
        Some(_) => {}
    }
    let (key, location) = existing_key(store_path, key)?;
    let mut store = Store::open_existing(store_path, key)?;
    store.key_location = Some(location);
    Ok(store)
}

/// Like [`open_existing`], but `None` when there is no store yet (the console opens on an
/// empty list then, and creates nothing until a harvest).
pub fn open_if_present(store_path: &Path, key: KeySource) -> Result<Option<Store>, StoreError> {
    match open_existing(store_path, key) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Missing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Takes the harvest lock of the store at `store_path` (creating its private directory if
/// needed), then opens the store, creating it and its key file on first use. The key file
/// of an existing store is never replaced by a new one.
pub fn open_for_harvest(
    store_path: &Path,
    key: KeySource,
    started_at: DateTime<Utc>,
) -> Result<(HarvestLock, Store), StoreError> {
    refuse_directory(store_path)?;
    let dir = store_dir(store_path);
    safety::enforce(&[(Role::Directory, &dir)])?;
    files::ensure_private_dir(&dir)?;
    let lock = HarvestLock::acquire(store_path, started_at)?;
    let existing = store_size(store_path)?.is_some_and(|size| size > 0);
    let key_file = match key {
        KeySource::Given(_) => None,
        _ => existing_key_path(store_path).or_else(|| Some(default_key_path(store_path))),
    };
    enforce_ownership(store_path, key_file.as_deref())?;
    if existing {
        let (key, location) = existing_key(store_path, key)?;
        let mut store = Store::open(store_path, key)?;
        store.key_location = Some(location);
        return Ok((lock, store));
    }
    let new = new_key(store_path, key)?;
    let mut store = Store::open_recording(store_path, new.key, Some((&new.id, new.location)))?;
    store.key_location = Some(new.location);
    store.key_notice = new.notice;
    Ok((lock, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn reading_never_creates_a_store_or_a_key() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub").join("store.sqlite3");
        let err = open_existing(&path, KeySource::File).unwrap_err();
        assert!(matches!(err, StoreError::Missing(_)), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()));
        assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
        assert!(open_if_present(&path, KeySource::File).unwrap().is_none());
        assert!(names(tmp.path()).is_empty());
    }

    #[test]
    fn empty_and_foreign_files_are_not_stores() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty.sqlite3");
        fs::write(&empty, "").unwrap();
        let err = open_existing(&empty, KeySource::Given(StoreKey::generate())).unwrap_err();
        assert!(err.to_string().contains("empty.sqlite3") && err.to_string().contains("empty"));
        let text = tmp.path().join("notes.txt");
        fs::write(
            &text,
            "hello, this is not SQLite at all, not even close.......",
        )
        .unwrap();
        let err = open_existing(&text, KeySource::Given(StoreKey::generate())).unwrap_err();
        assert!(
            matches!(err, StoreError::NotAStore { .. }),
            "{err:?} {}",
            err
        );
        assert!(err.to_string().contains("notes.txt"), "{err}");
    }

    #[test]
    fn a_directory_is_refused_and_no_key_lands_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("stores");
        fs::create_dir(&dir).unwrap();
        for err in [
            open_existing(&dir, KeySource::File).unwrap_err(),
            open_for_harvest(&dir, KeySource::File, Utc::now()).unwrap_err(),
        ] {
            assert!(err.to_string().contains("is a directory"), "{err}");
        }
        assert_eq!(names(tmp.path()), ["stores"]);
        assert!(names(&dir).is_empty());
    }

    #[test]
    fn a_missing_key_file_of_an_existing_store_is_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cache.a");
        let (lock, store) = open_for_harvest(&path, KeySource::File, Utc::now()).unwrap();
        drop((lock, store));
        let key = default_key_path(&path);
        assert!(key.exists());
        fs::remove_file(&key).unwrap();
        for err in [
            open_existing(&path, KeySource::File).unwrap_err(),
            open_for_harvest(&path, KeySource::File, Utc::now()).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::KeyFileMissing { .. }), "{err:?}");
            assert!(err.to_string().contains("cache.a.key"), "{err}");
        }
        assert!(!key.exists(), "no new key was made");
    }

    #[test]
    fn two_stores_in_one_directory_get_their_own_keys() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["cache.a", "cache.b"] {
            let (_lock, _store) =
                open_for_harvest(&tmp.path().join(name), KeySource::File, Utc::now()).unwrap();
        }
        let keys: Vec<String> = names(tmp.path())
            .into_iter()
            .filter(|n| n.ends_with(".key"))
            .collect();
        assert_eq!(keys, ["cache.a.key", "cache.b.key"]);
    }

    #[test]
    fn a_store_made_with_the_legacy_key_name_still_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("store.sqlite3");
        let (_lock, store) = open_for_harvest(&path, KeySource::File, Utc::now()).unwrap();
        drop(store);
        fs::rename(default_key_path(&path), tmp.path().join("store.key")).unwrap();
        assert!(open_existing(&path, KeySource::File).is_ok());
    }
}
