//! Where a store's key file is: named for the store file (pure path naming, no I/O but
//! the existence check of [`existing_key_path`]).

use std::path::{Path, PathBuf};

/// Where the key file of a new store at `store_path` lives: beside it, named for the store's
/// full file name plus `.key` (`…/cache.a` → `…/cache.a.key`), so that two stores never share
/// a key file.
pub fn default_key_path(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The key file name earlier versions used (the store's name with its extension replaced by
/// `.key`: `…/store.sqlite3` → `…/store.key`), still read for stores created then.
pub fn legacy_key_path(store_path: &Path) -> Option<PathBuf> {
    let legacy = store_path.with_extension("key");
    (legacy != store_path && legacy != default_key_path(store_path)).then_some(legacy)
}

/// The key file of an existing store: [`default_key_path`] when it exists, else the
/// [`legacy_key_path`] when that exists, else `None`.
pub fn existing_key_path(store_path: &Path) -> Option<PathBuf> {
    std::iter::once(default_key_path(store_path))
        .chain(legacy_key_path(store_path))
        .find(|p| p.symlink_metadata().is_ok())
}
