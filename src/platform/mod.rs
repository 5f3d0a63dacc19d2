//! Everything that differs by operating system, behind functions named for what they do:
//! files only their owner can read, the check that a file is private, the store lock's
//! file, the stop signals, the current user, process hardening, native paths in help texts
//! (docs/ARCHITECTURE.md, `platform/`). No other module names an operating system; `unix.rs` and
//! `windows.rs` hold the two implementations of the same functions.
//!
//! What "private" means on each (docs/reference/cli.md, "Store safety"): on Unix, owned by the current uid
//! and not writable (a key: not readable either) by group or others; on Windows, owned by
//! the current user's SID and no access-control entry granting Everyone, Users or
//! Authenticated Users write access (a key: any read or write access); files and
//! directories simsid creates get an owner-only, protected DACL.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::domain::CancelSignal;

pub mod keychain;
pub mod tty_watch;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

// Every `windows-sys` call is `unsafe`; this module alone may use it.
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// How private a file must be for the store to use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Others may read it but never change it (the store, its directory, the lock).
    NoOtherWriter,
    /// Others may neither read nor change it (the key file).
    NoOtherAccess,
}

/// Who may read a file simsid writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Its owner alone (Unix mode 0600; an owner-only DACL on Windows).
    Private,
    /// Every user (Unix mode 0644; the folder's inherited access on Windows): for files
    /// holding no secret that another user's process reads, such as the metrics file.
    Readable,
}

/// Where `simsid` keeps its config, its store and its log by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDirs {
    /// The config file's folder.
    pub config: std::path::PathBuf,
    /// The store's folder.
    pub data: std::path::PathBuf,
    /// The log's folder.
    pub state: std::path::PathBuf,
}

/// The platform's folders for `simsid` (`None` without a home folder): on Linux the XDG
/// ones (`~/.config/simsid`, `~/.local/share/simsid`, `~/.local/state/simsid`), on macOS
/// `~/Library/Application Support/simsid`; on Windows `%APPDATA%\simsid` for the config and
/// `%LOCALAPPDATA%\simsid` (never roaming: a roaming profile would copy the store and its
/// key to a server) for the store and the log.
pub fn app_dirs() -> Option<AppDirs> {
    let p = directories::ProjectDirs::from("", "", "simsid")?;
    Some(imp::app_dirs(&p))
}

/// Hardens the process at start so no secret leaks to disk by accident: on Unix a private
/// umask (077, so every file the process creates, SQLite's `-wal` and `-shm` included, is
/// private) and no core dumps (`PR_SET_DUMPABLE` 0, `RLIMIT_CORE` 0). Windows has no umask
/// (files simsid creates get an owner-only DACL explicitly) and writes no crash dump unless
/// an administrator configured Windows Error Reporting's `LocalDumps`; there it only turns
/// off the crash dialog. Returns the problems it met, for the log; none is fatal.
pub fn harden_process() -> Vec<String> {
    imp::harden_process()
}

/// Creates `dir` (and missing parents) so that only its owner may use it (mode 0700; an
/// owner-only DACL). An existing directory is an error of kind `AlreadyExists`... only
/// when `dir` is not a directory; an existing directory is made private again.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    imp::create_private_dir(dir)
}

/// Creates a new file only its owner may read or change (mode 0600; an owner-only DACL),
/// failing with `AlreadyExists` if there is one.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    imp::create_private_file(path)
}

/// Opens for reading and writing, creating it private if missing, the file at `path`,
/// never through a symbolic link (or another reparse point) planted there.
pub fn open_private_no_follow(path: &Path) -> io::Result<File> {
    imp::open_private_no_follow(path)
}

/// Opens (creating it private) a file to append to, such as the log; one that other users
/// may read or change is made private, and the note says what it was.
pub fn open_private_append(path: &Path) -> io::Result<(File, Option<String>)> {
    imp::open_private_append(path)
}

/// Gives the existing file at `path` the access `sharing` says (the unit tests' files).
#[cfg(test)]
pub fn set_sharing(path: &Path, sharing: Sharing) -> io::Result<()> {
    imp::set_sharing(path, sharing)
}

/// A new temporary file in `dir`, named `prefix…​.tmp`, with the access `sharing` says
/// from its creation on.
pub fn temp_file_in(
    dir: &Path,
    prefix: &str,
    sharing: Sharing,
) -> io::Result<tempfile::NamedTempFile> {
    imp::temp_file_in(dir, prefix, sharing)
}

/// Makes the existing file at `path` private when other users have any access to it;
/// true when it changed.
pub fn tighten(path: &Path) -> io::Result<bool> {
    imp::tighten(path)
}

/// How the file at `path` is open to other users, for a warning (`mode 0644`, or
/// `Everyone may read it`); `None` when it is private or cannot be looked at.
pub fn openness(path: &Path) -> Option<String> {
    imp::openness(path)
}

/// The warning for the store's directory (`is_dir`) or one of its files, `what`, at `path`
/// when other users have any access to it; `None` when private or missing. It names the
/// command that fixes it.
pub fn loose_store_file_warning(what: &str, path: &Path, is_dir: bool) -> Option<String> {
    imp::loose_store_file_warning(what, path, is_dir)
}

/// The command, quoted for a message, that makes the file at `path` private (`chmod 600
/// PATH`, or `icacls …` on Windows); without a path, phrased as "… on it".
pub fn make_private_command(path: Option<&Path>) -> String {
    imp::make_private_command(path)
}

/// Why the store may not use the file at `path` (already open as `opened`, when it is) as
/// `privacy` asks: it belongs to another user, or others may change (or read) it. `None`
/// when it may. Errors are those of looking at the file (`NotFound` included).
pub fn refusal(path: &Path, opened: Option<&File>, privacy: Privacy) -> io::Result<Option<String>> {
    imp::refusal(path, opened, privacy)
}

/// Takes an exclusive lock on `file` without waiting: false when another open file (in
/// this process or another) holds it. The lock is released by [`unlock`], by closing the
/// file, or when the process ends, however it ends. The lock never stops another process
/// reading the file (the holder's record in it stays readable).
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    imp::try_lock_exclusive(file)
}

/// Releases the lock [`try_lock_exclusive`] took.
pub fn unlock(file: &File) {
    imp::unlock(file)
}

/// Bytes available to the current user on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    imp::free_bytes(dir)
}

/// Whether the raw OS error `code` means the disk (or the user's quota) is full.
pub fn is_disk_full_code(code: i32) -> bool {
    imp::is_disk_full_code(code)
}

/// The bytes of `path` as the path part of an SQLite `file:` URI, before percent-encoding
/// (on Windows `C:\d\s` becomes `/C:/d/s`).
pub fn uri_path_bytes(path: &Path) -> Vec<u8> {
    imp::uri_path_bytes(path)
}

/// The process's stop signals as one stream: on Unix `SIGINT`, `SIGTERM` and `SIGHUP`; on
/// Windows Ctrl-C, Ctrl-Break, the console window closing, log-off and shutdown.
#[derive(Debug)]
pub struct StopSignals(imp::StopSignals);

impl StopSignals {
    /// Starts listening (needs a Tokio runtime). Listening replaces the default action
    /// (ending the process) for as long as the process runs.
    pub fn listen() -> io::Result<Self> {
        imp::StopSignals::listen().map(StopSignals)
    }

    /// The next stop signal to arrive (`None` once no signal can arrive any more).
    pub async fn recv(&mut self) -> Option<CancelSignal> {
        self.0.recv().await
    }
}

/// Test helper: lets every user read the file at `path` (mode 0644; an Everyone entry in
/// its DACL).
#[cfg(test)]
pub(crate) fn open_to_others(path: &Path) {
    imp::testing::open_to_others(path)
}

/// Help texts that name the platform's own places and variables.
pub mod help {
    /// `--config`'s help.
    #[cfg(not(windows))]
    pub const CONFIG: &str =
        "Config file (default: $SIMSID_CONFIG, else config.toml in the platform config directory)";
    /// `--config`'s help.
    #[cfg(windows)]
    pub const CONFIG: &str =
        r"Config file (default: %SIMSID_CONFIG%, else %APPDATA%\simsid\config.toml)";
    /// `--profile`'s help.
    #[cfg(not(windows))]
    pub const PROFILE: &str = "Profile table to use (default: $SIMSID_PROFILE, else `default`)";
    /// `--profile`'s help.
    #[cfg(windows)]
    pub const PROFILE: &str = "Profile table to use (default: %SIMSID_PROFILE%, else `default`)";
    /// `--store`'s help.
    #[cfg(not(windows))]
    pub const STORE: &str =
        "Store file (default: $SIMSID_STORE, else store.sqlite3 in the platform data directory)";
    /// `--store`'s help.
    #[cfg(windows)]
    pub const STORE: &str =
        r"Store file (default: %SIMSID_STORE%, else %LOCALAPPDATA%\simsid\store.sqlite3)";
    /// `--log-file`'s help.
    #[cfg(not(windows))]
    pub const LOG_FILE: &str = "Log file, JSON lines (default: $SIMSID_LOG, else simsid.log in \
                                the platform state directory)";
    /// `--log-file`'s help.
    #[cfg(windows)]
    pub const LOG_FILE: &str =
        r"Log file, JSON lines (default: %SIMSID_LOG%, else %LOCALAPPDATA%\simsid\simsid.log)";
}
