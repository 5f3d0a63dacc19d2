//! Who may own and change the store's files (cli.md, "Store safety"). The store's directory,
//! the store (with its `-wal` and `-shm`), the key file and the harvest lock must belong to
//! the current user and must not be writable by group or others; the key file must not be
//! readable by them either. Anything else is refused, naming the file and why, as ssh refuses
//! a key file others can read: another user who can plant or change these files could read
//! every harvested secret.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::error::StoreError;

/// What a file is to the store; decides what is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The directory holding the store.
    Directory,
    /// The store or one of its SQLite companion files.
    Store,
    /// The key file.
    Key,
    /// The harvest lock file.
    Lock,
}

impl Role {
    /// How a message names a file of this role.
    pub fn noun(self) -> &'static str {
        match self {
            Role::Directory => "store directory",
            Role::Store => "store file",
            Role::Key => "key file",
            Role::Lock => "harvest lock file",
        }
    }
}

/// Why a file with this owner and mode may not be used by the user `me`; `None` when it may.
/// Pure: the owner and mode come from the caller.
pub fn refusal(role: Role, owner: u32, mode: u32, me: u32, path: &Path) -> Option<String> {
    let shown = path.display();
    let mode = mode & 0o7777;
    if owner != me {
        return Some(format!(
            "it belongs to uid {owner}, not to the current user (uid {me}); another user could \
             read or replace what it holds"
        ));
    }
    if mode & 0o022 != 0 {
        return Some(format!(
            "it is writable by group or others (mode {mode:04o}); run `chmod go-w {shown}`"
        ));
    }
    if role == Role::Key && mode & 0o044 != 0 {
        return Some(format!(
            "it is readable by group or others (mode {mode:04o}); run `chmod 600 {shown}`"
        ));
    }
    None
}

/// The current user (effective uid).
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses the first of `files` that exists and may not be used (missing ones are skipped).
pub fn enforce(files: &[(Role, &Path)]) -> Result<(), StoreError> {
    let me = current_uid();
    for (role, path) in files {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("reading metadata of", *path, e)),
        };
        check_metadata(*role, path, &meta, me)?;
    }
    Ok(())
}

/// Refuses a file (already open, or just looked at) whose metadata fails [`refusal`].
pub fn check_metadata(
    role: Role,
    path: &Path,
    meta: &fs::Metadata,
    me: u32,
) -> Result<(), StoreError> {
    match refusal(role, meta.uid(), meta.mode(), me, path) {
        Some(why) => Err(StoreError::Unsafe {
            what: role.noun(),
            path: path.to_path_buf(),
            why,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;

    fn why(role: Role, owner: u32, mode: u32) -> Option<String> {
        refusal(role, owner, mode, ME, Path::new("/srv/simsid/x"))
    }

    #[test]
    fn private_files_of_the_current_user_pass() {
        assert_eq!(why(Role::Directory, ME, 0o700), None);
        assert_eq!(why(Role::Directory, ME, 0o755), None, "readable is allowed");
        assert_eq!(why(Role::Store, ME, 0o600), None);
        assert_eq!(why(Role::Store, ME, 0o644), None);
        assert_eq!(why(Role::Key, ME, 0o600), None);
        assert_eq!(why(Role::Key, ME, 0o400), None);
        assert_eq!(why(Role::Lock, ME, 0o600), None);
    }

    #[test]
    fn files_of_another_user_are_refused_whatever_their_mode() {
        for role in [Role::Directory, Role::Store, Role::Key, Role::Lock] {
            let w = why(role, 0, 0o600).expect("refused");
            assert!(w.contains("uid 0") && w.contains("uid 1000"), "{w}");
        }
    }

    #[test]
    fn writable_by_group_or_others_is_refused() {
        for mode in [0o620, 0o602, 0o666, 0o777, 0o1777, 0o775] {
            let w = why(Role::Store, ME, mode).expect("refused");
            assert!(w.contains("writable by group or others"), "{w}");
            assert!(w.contains(&format!("{:04o}", mode)), "{w}");
        }
        let w = why(Role::Directory, ME, 0o1777).unwrap();
        assert!(w.contains("chmod go-w /srv/simsid/x"), "{w}");
    }

    #[test]
    fn a_key_readable_by_others_is_refused() {
        for mode in [0o640, 0o604, 0o644] {
            let w = why(Role::Key, ME, mode).expect("refused");
            assert!(w.contains("readable by group or others"), "{w}");
            assert!(w.contains("chmod 600"), "{w}");
        }
    }

    #[test]
    fn enforce_names_the_file_and_skips_missing_ones() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("k.key");
        fs::write(&key, "x").unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let missing = tmp.path().join("missing");
        assert!(enforce(&[(Role::Store, &missing)]).is_ok());
        let err = enforce(&[(Role::Store, &missing), (Role::Key, &key)]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("key file") && text.contains("k.key"),
            "{text}"
        );
        assert!(text.contains("readable by group or others"), "{text}");
    }
}
