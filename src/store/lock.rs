//! One harvest at a time per store (docs/reference/cli.md, "Store safety"): an exclusive lock on a lock
//! file beside the store ([`crate::platform::try_lock_exclusive`]: `flock` on Unix, a byte
//! range on Windows), held for the harvest's whole run and released by the system when the
//! process ends, however it ends. The file names the holder (pid and start time) for the
//! message a second harvest gives. Readers never take it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::StoreError;
use super::safety::{self, Role};
use crate::platform;

/// The lock file of the store at `store_path`: its full file name plus `.lock`.
pub fn lock_path(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The held harvest lock of a store; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct HarvestLock {
    file: File,
    path: PathBuf,
}

impl HarvestLock {
    /// Takes the lock of the store at `store_path` without waiting, recording this process
    /// and `started_at` in it. When another harvest holds it, fails at once with
    /// [`StoreError::Busy`] naming that harvest. The store's directory must exist.
    pub fn acquire(store_path: &Path, started_at: DateTime<Utc>) -> Result<Self, StoreError> {
        let path = lock_path(store_path);
        // A planted symbolic link is never followed.
        let mut file = platform::open_private_no_follow(&path)
            .map_err(|e| StoreError::io("opening the harvest lock", &path, e))?;
        safety::check_open_file(Role::Lock, &path, &file)?;
        match platform::try_lock_exclusive(&file) {
            Ok(true) => {}
            Ok(false) => {
                return Err(StoreError::Busy {
                    store: store_path.to_path_buf(),
                    holder: holder(&mut file),
                    lock: path,
                });
            }
            Err(e) => return Err(StoreError::io("locking", &path, e)),
        }
        let record = format!(
            "pid={} started={}\n",
            std::process::id(),
            started_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(record.as_bytes()))
            .and_then(|()| file.set_len(record.len() as u64))
            .map_err(|e| StoreError::io("writing the harvest lock", &path, e))?;
        Ok(HarvestLock { file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for HarvestLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it explicit.
        platform::unlock(&self.file);
    }
}

/// "pid N, started T" from the holder's record; only parsed values are shown.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(256).read_to_string(&mut text));
    describe_holder(&text)
}

/// Parses a lock record (`pid=N started=RFC3339`) into words for a message (pure).
pub fn describe_holder(record: &str) -> String {
    let mut pid = None;
    let mut started = None;
    for word in record.split_whitespace() {
        if let Some(v) = word.strip_prefix("pid=") {
            pid = v.parse::<u32>().ok();
        } else if let Some(v) = word.strip_prefix("started=") {
            started = DateTime::parse_from_rfc3339(v)
                .ok()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    let pid = pid.map_or("unknown".to_string(), |p| p.to_string());
    let started = started.map_or("at an unknown time".to_string(), |t| {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    });
    format!("pid {pid}, started {started}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_store() {
        assert_eq!(
            lock_path(Path::new("/d/store.sqlite3")),
            PathBuf::from("/d/store.sqlite3.lock")
        );
    }

    #[test]
    fn holder_records_are_parsed_and_junk_is_not_echoed() {
        assert_eq!(
            describe_holder("pid=4242 started=2026-11-30T01:02:03Z\n"),
            "pid 4242, started 2026-11-30T01:02:03Z"
        );
        assert_eq!(
            describe_holder("pid=\u{1b}]52;c;x started=yesterday"),
            "pid unknown, started at an unknown time"
        );
        assert_eq!(
            describe_holder(""),
            "pid unknown, started at an unknown time"
        );
    }

    #[test]
    fn a_second_lock_is_refused_at_once_naming_the_first_and_freed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store.sqlite3");
        let t = DateTime::parse_from_rfc3339("2026-11-30T01:02:03Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = HarvestLock::acquire(&store, t).unwrap();
        // The lock belongs to the open file, so a second open in this process conflicts too.
        let err = HarvestLock::acquire(&store, Utc::now()).unwrap_err();
        assert!(err.is_busy(), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains("2026-11-30T01:02:03Z"),
            "{text}"
        );
        drop(first);
        let again = HarvestLock::acquire(&store, Utc::now()).unwrap();
        assert_eq!(again.path(), lock_path(&store));
    }
}
