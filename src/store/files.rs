//! Private files and directories: creation with safe modes and permission checks.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::key_path::{default_key_path, legacy_key_path};
use crate::platform::{self, Sharing};

/// SQLite's companion files of a database in WAL mode.
pub(crate) fn sidecars(db: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Creates `dir` (and missing parents) private to its owner (mode 0700; an owner-only DACL
/// on Windows) if it does not exist yet. An existing directory is left as it is
/// (`check_permissions` reports it).
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    match platform::create_private_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::io("creating directory", dir, e)),
    }
}

/// Creates a new file only its owner may use (mode 0600; an owner-only DACL on Windows),
/// failing with `AlreadyExists` if there is one.
pub(crate) fn create_private_file(path: &Path) -> Result<File, StoreError> {
    platform::create_private_file(path).map_err(|e| StoreError::io("creating", path, e))
}

/// Creates the (empty) database file with mode 0600 unless it exists.
/// Returns true when it was created now.
pub(crate) fn create_db_file_if_missing(path: &Path) -> Result<bool, StoreError> {
    match create_private_file(path) {
        Ok(file) => {
            file.sync_all()
                .map_err(|e| StoreError::io("syncing", path, e))?;
            Ok(true)
        }
        Err(StoreError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Makes SQLite's `-wal` and `-shm` files private (mode 0600) when they exist open to
/// other users.
pub(crate) fn tighten_sidecars(db: &Path) -> Result<(), StoreError> {
    for path in sidecars(db) {
        match fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("reading metadata of", path, e)),
        }
        platform::tighten(&path).map_err(|e| {
            StoreError::Permissions(format!("cannot make {} private: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// Warnings about the store at `store_path` that do not stop it being used (docs/reference/cli.md refuses
/// only files another user owns or may change, see `safety`): its directory should be 0700,
/// and the store, its `-wal`/`-shm` files and the key file 0600 (on Windows: no access for
/// Everyone, Users or Authenticated Users). Missing files are not reported.
pub fn check_permissions(store_path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let dir = match store_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    warnings.extend(platform::loose_store_file_warning(
        "store directory",
        &dir,
        true,
    ));
    warnings.extend(platform::loose_store_file_warning(
        "store file",
        store_path,
        false,
    ));
    for sidecar in sidecars(store_path) {
        warnings.extend(platform::loose_store_file_warning(
            "store file",
            &sidecar,
            false,
        ));
    }
    for key in std::iter::once(default_key_path(store_path)).chain(legacy_key_path(store_path)) {
        warnings.extend(platform::loose_store_file_warning("key file", &key, false));
    }
    warnings
}

/// Writes `bytes` to `target` as a private file (docs/reference/cli.md, "Store safety"): into a new 0600
/// file beside it, synced, then renamed over it. A symbolic link at `target` is replaced,
/// never followed, and the file always ends with mode 0600 whatever was there before.
/// A full disk is [`StoreError::DiskFull`] naming `target`.
pub fn write_private_file(target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_file_beside(target, bytes, Sharing::Private)
}

/// Writes `bytes` to `target` as [`write_private_file`] does, but readable by everyone
/// (mode 0644): for files that hold no secret and that another user's process must read,
/// such as the metrics file node_exporter's textfile collector reads.
pub fn write_shared_file(target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_file_beside(target, bytes, Sharing::Readable)
}

/// Writes a temporary file beside `target` shared as `sharing` says, syncs it and renames
/// it over `target` (a symbolic link there is replaced, not followed; a reader never sees
/// half a file).
fn write_file_beside(target: &Path, bytes: &[u8], sharing: Sharing) -> Result<(), StoreError> {
    use std::io::Write;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let err = |action: &'static str| move |e: std::io::Error| StoreError::io(action, target, e);
    let mut tmp = platform::temp_file_in(&dir, &format!(".{name}."), sharing)
        .map_err(err("creating a file beside"))?;
    tmp.write_all(bytes).map_err(err("writing"))?;
    tmp.as_file().sync_all().map_err(err("syncing"))?;
    tmp.persist(target)
        .map_err(|e| StoreError::io("renaming over", target, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The Unix modes these functions give are tested in `platform/unix.rs`, the Windows
    //! DACLs in `platform/windows.rs`.
    use super::*;

    #[test]
    fn sidecar_names() {
        let [wal, shm] = sidecars(Path::new("/d/store.sqlite3"));
        assert_eq!(wal, PathBuf::from("/d/store.sqlite3-wal"));
        assert_eq!(shm, PathBuf::from("/d/store.sqlite3-shm"));
    }

    #[test]
    fn files_created_here_are_private_and_raise_no_warning() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        ensure_private_dir(&dir).unwrap();
        let store = dir.join("store.sqlite3");
        assert!(create_db_file_if_missing(&store).unwrap());
        assert!(!create_db_file_if_missing(&store).unwrap());
        let key = default_key_path(&store);
        drop(create_private_file(&key).unwrap());
        write_private_file(&dir.join("out.csv"), b"a").unwrap();
        assert!(
            check_permissions(&store).is_empty(),
            "{:?}",
            check_permissions(&store)
        );
        assert_eq!(platform::openness(&dir.join("out.csv")), None);
        assert_eq!(fs::read(dir.join("out.csv")).unwrap(), b"a");
    }
}
