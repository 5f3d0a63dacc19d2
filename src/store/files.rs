//! Private files and directories: creation with safe modes and permission checks.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::key_path::{default_key_path, legacy_key_path};

/// Mode of the store directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the store, its `-wal`/`-shm` files and the key file.
pub const FILE_MODE: u32 = 0o600;

/// SQLite's companion files of a database in WAL mode.
pub(crate) fn sidecars(db: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist yet.
/// An existing directory is left as it is (`check_permissions` reports it).
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    match DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(StoreError::io("creating directory", dir, e)),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| StoreError::io("setting permissions of", dir, e))
}

/// Creates a new file with mode 0600, failing with `AlreadyExists` if there is one.
pub(crate) fn create_private_file(path: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| StoreError::io("creating", path, e))?;
    // The umask may have taken bits away; never added any. Make it exactly 0600.
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .map_err(|e| StoreError::io("setting permissions of", path, e))?;
    Ok(file)
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

/// Gives SQLite's `-wal` and `-shm` files mode 0600 when they exist with another mode.
pub(crate) fn tighten_sidecars(db: &Path) -> Result<(), StoreError> {
    for path in sidecars(db) {
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("reading metadata of", path, e)),
        };
        if meta.permissions().mode() & 0o777 != FILE_MODE {
            fs::set_permissions(&path, fs::Permissions::from_mode(FILE_MODE)).map_err(|e| {
                StoreError::Permissions(format!("cannot chmod 600 {}: {e}", path.display()))
            })?;
        }
    }
    Ok(())
}

/// Warnings about the store at `store_path` that do not stop it being used (cli.md refuses
/// only files another user owns or may change, see `safety`): its directory should be 0700,
/// and the store, its `-wal`/`-shm` files and the key file 0600. Missing files are not
/// reported.
pub fn check_permissions(store_path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let dir = match store_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    check_one(&dir, DIR_MODE, "store directory", &mut warnings);
    check_one(store_path, FILE_MODE, "store file", &mut warnings);
    for sidecar in sidecars(store_path) {
        check_one(&sidecar, FILE_MODE, "store file", &mut warnings);
    }
    for key in std::iter::once(default_key_path(store_path)).chain(legacy_key_path(store_path)) {
        check_one(&key, FILE_MODE, "key file", &mut warnings);
    }
    warnings
}

fn check_one(path: &Path, want: u32, what: &str, warnings: &mut Vec<String>) {
    let Ok(meta) = fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let shown = path.display();
        warnings.push(format!(
            "{what} {shown} is mode {mode:04o}, open to other users; expected {want:04o} \
             (chmod {want:o} {shown})"
        ));
    }
}

/// Writes `bytes` to `target` as a private file (cli.md, "Store safety"): into a new 0600
/// file beside it, synced, then renamed over it. A symbolic link at `target` is replaced,
/// never followed, and the file always ends with mode 0600 whatever was there before.
/// A full disk is [`StoreError::DiskFull`] naming `target`.
pub fn write_private_file(target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_file_beside(target, bytes, FILE_MODE)
}

/// Writes `bytes` to `target` as [`write_private_file`] does, but readable by everyone
/// (mode 0644): for files that hold no secret and that another user's process must read,
/// such as the metrics file node_exporter's textfile collector reads.
pub fn write_shared_file(target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_file_beside(target, bytes, 0o644)
}

/// Writes a temporary file beside `target` with `mode` (set explicitly: the process umask
/// is 077), syncs it and renames it over `target` (a symbolic link there is replaced, not
/// followed; a reader never sees half a file).
fn write_file_beside(target: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
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
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(&dir)
        .map_err(err("creating a file beside"))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(err("setting permissions of a file beside"))?;
    tmp.write_all(bytes).map_err(err("writing"))?;
    tmp.as_file().sync_all().map_err(err("syncing"))?;
    tmp.persist(target)
        .map_err(|e| StoreError::io("renaming over", target, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_names() {
        let [wal, shm] = sidecars(Path::new("/d/store.sqlite3"));
        assert_eq!(wal, PathBuf::from("/d/store.sqlite3-wal"));
        assert_eq!(shm, PathBuf::from("/d/store.sqlite3-shm"));
    }

    #[test]
    fn loose_modes_are_reported_and_tight_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        ensure_private_dir(&dir).unwrap();
        let store = dir.join("store.sqlite3");
        assert!(create_db_file_if_missing(&store).unwrap());
        assert!(!create_db_file_if_missing(&store).unwrap());
        assert!(
            check_permissions(&store).is_empty(),
            "{:?}",
            check_permissions(&store)
        );

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&store, fs::Permissions::from_mode(0o644)).unwrap();
        let key = default_key_path(&store);
        fs::write(&key, "x").unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
        let warnings = check_permissions(&store);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("store directory") && warnings[0].contains("0755"));
        assert!(warnings[1].contains("store.sqlite3") && warnings[1].contains("0644"));
        assert!(warnings[2].contains("store.sqlite3.key") && warnings[2].contains("0640"));
    }

    #[test]
    fn a_private_file_replaces_a_symbolic_link_and_ends_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let target = tmp.path().join("out.csv");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_private_file(&target, b"new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        let meta = fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left");
    }

    #[test]
    fn sidecars_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store.sqlite3");
        let [wal, _] = sidecars(&store);
        fs::write(&wal, "").unwrap();
        fs::set_permissions(&wal, fs::Permissions::from_mode(0o644)).unwrap();
        tighten_sidecars(&store).unwrap();
        assert_eq!(
            fs::metadata(&wal).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
