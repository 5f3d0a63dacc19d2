//! Who may own and change the store's files (docs/reference/cli.md, "Store safety"). The store's directory,
//! the store (with its `-wal` and `-shm`), the key file and the harvest lock must belong to
//! the current user and must not be writable by group or others; the key file must not be
//! readable by them either (on Windows: by Everyone, Users or Authenticated Users; see
//! [`crate::platform`]). Anything else is refused, naming the file and why, as ssh refuses
//! a key file others can read: another user who can plant or change these files could read
//! every harvested secret.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use super::error::StoreError;
use crate::platform::{self, Privacy};

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

impl Role {
    /// What the role asks of the file's access.
    fn privacy(self) -> Privacy {
        match self {
            Role::Key => Privacy::NoOtherAccess,
            Role::Directory | Role::Store | Role::Lock => Privacy::NoOtherWriter,
        }
    }
}

/// Refuses the first of `files` that exists and may not be used (missing ones are skipped).
pub fn enforce(files: &[(Role, &Path)]) -> Result<(), StoreError> {
    for (role, path) in files {
        match platform::refusal(path, None, role.privacy()) {
            Ok(why) => refuse(*role, path, why)?,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("reading metadata of", *path, e)),
        }
    }
    Ok(())
}

/// Refuses a file already open as `file` that may not be used as `role`.
pub fn check_open_file(role: Role, path: &Path, file: &File) -> Result<(), StoreError> {
    let why = platform::refusal(path, Some(file), role.privacy())
        .map_err(|e| StoreError::io("reading metadata of", path, e))?;
    refuse(role, path, why)
}

fn refuse(role: Role, path: &Path, why: Option<String>) -> Result<(), StoreError> {
    match why {
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
    //! The Unix rules (owner uid, mode bits) are tested in `platform/unix.rs`, the Windows
    //! ones (owner SID, DACL) in `platform/windows.rs`.
    use super::*;

    #[test]
    fn files_created_private_pass_and_missing_ones_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("k.key");
        drop(platform::create_private_file(&key).unwrap());
        let missing = tmp.path().join("missing");
        enforce(&[
            (Role::Directory, tmp.path()),
            (Role::Store, &missing),
            (Role::Key, &key),
        ])
        .unwrap();
    }

    #[test]
    fn only_the_key_must_be_unreadable_by_others() {
        assert_eq!(Role::Key.privacy(), Privacy::NoOtherAccess);
        for role in [Role::Directory, Role::Store, Role::Lock] {
            assert_eq!(role.privacy(), Privacy::NoOtherWriter);
        }
    }
}
