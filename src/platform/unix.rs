//! The Unix side of [`crate::platform`]: file modes and owners (uid), `flock`, the stop
//! signals `SIGINT`/`SIGTERM`/`SIGHUP`, a private umask and no core dumps.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustix::fs::Mode;
use rustix::process::{DumpableBehavior, Resource, Rlimit};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::{Privacy, Sharing};
use crate::domain::CancelSignal;

/// Mode of a private directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of a private file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a file every user may read (it holds no secret).
const SHARED_MODE: u32 = 0o644;

/// See [`crate::platform::harden_process`]: `umask(0o077)`, `PR_SET_DUMPABLE` 0 and
/// `RLIMIT_CORE` 0.
pub fn harden_process() -> Vec<String> {
    let mut problems = Vec::new();
    rustix::process::umask(Mode::from_raw_mode(0o077));
    if let Err(e) = rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    ) {
        problems.push(format!("could not disable core dumps (RLIMIT_CORE): {e}"));
    }
    if let Err(e) = rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        problems.push(format!(
            "could not disable core dumps (PR_SET_DUMPABLE): {e}"
        ));
    }
    problems
}

/// See [`crate::platform::app_dirs`].
pub fn app_dirs(p: &directories::ProjectDirs) -> super::AppDirs {
    super::AppDirs {
        config: p.config_dir().to_path_buf(),
        data: p.data_dir().to_path_buf(),
        state: p
            .state_dir()
            .unwrap_or_else(|| p.data_local_dir())
            .to_path_buf(),
    }
}

/// Creates `dir` and missing parents with mode 0700, then makes `dir` exactly 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
}

/// Creates a new file with mode 0600 (`AlreadyExists` if there is one).
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The umask may have taken bits away; never added any. Make it exactly 0600.
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Opens (creating with mode 0600) a file for reading and writing, never through a
/// symbolic link (`O_NOFOLLOW`).
pub fn open_private_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Opens (creating with mode 0600) a file for appending; one that others may read or change
/// is made 0600, and the note says what it was.
pub fn open_private_append(path: &Path) -> io::Result<(File, Option<String>)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok((file, None));
    }
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok((
        file,
        Some(format!(
            "was mode {mode:04o}, open to other users; tightened to 0600"
        )),
    ))
}

/// Gives `path` the access `sharing` says (0600 or 0644).
#[cfg(test)]
pub fn set_sharing(path: &Path, sharing: Sharing) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode_of(sharing)))
}

/// A temporary file in `dir` whose name starts with `prefix`, created with the access
/// `sharing` says.
pub fn temp_file_in(
    dir: &Path,
    prefix: &str,
    sharing: Sharing,
) -> io::Result<tempfile::NamedTempFile> {
    let mode = mode_of(sharing);
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    // Set explicitly: the process umask is 077.
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(tmp)
}

fn mode_of(sharing: Sharing) -> u32 {
    match sharing {
        Sharing::Private => FILE_MODE,
        Sharing::Readable => SHARED_MODE,
    }
}

/// Makes an existing file 0600 when group or others have any access to it; true when it
/// changed.
pub fn tighten(path: &Path) -> io::Result<bool> {
    let meta = fs::metadata(path)?;
    if meta.permissions().mode() & 0o777 == FILE_MODE {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE))?;
    Ok(true)
}

/// How `path` is open to other users (`mode 644`), `None` when it is private or missing.
pub fn openness(path: &Path) -> Option<String> {
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| format!("mode {mode:o}"))
}

/// The warning for a directory or file of the store that others may use (see
/// [`crate::platform::loose_store_file_warning`]).
pub fn loose_store_file_warning(what: &str, path: &Path, is_dir: bool) -> Option<String> {
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    let want = if is_dir { DIR_MODE } else { FILE_MODE };
    (mode & 0o077 != 0).then(|| {
        let shown = path.display();
        format!(
            "{what} {shown} is mode {mode:04o}, open to other users; expected {want:04o} \
             (chmod {want:o} {shown})"
        )
    })
}

/// The command that makes `path` private, quoted for a message.
pub fn make_private_command(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("`chmod 600 {}`", p.display()),
        None => "`chmod 600` on it".to_string(),
    }
}

/// Why the file at `path` (open as `opened`, if it is) may not be used as `privacy` asks,
/// `None` when it may.
pub fn refusal(path: &Path, opened: Option<&File>, privacy: Privacy) -> io::Result<Option<String>> {
    let meta = match opened {
        Some(file) => file.metadata()?,
        None => fs::metadata(path)?,
    };
    Ok(refusal_of_mode(
        privacy,
        meta.uid(),
        meta.mode(),
        current_uid(),
        path,
    ))
}

/// Why a file with this owner and mode may not be used by the user `me`; `None` when it may.
/// Pure: the owner and mode come from the caller.
pub fn refusal_of_mode(
    privacy: Privacy,
    owner: u32,
    mode: u32,
    me: u32,
    path: &Path,
) -> Option<String> {
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
    if privacy == Privacy::NoOtherAccess && mode & 0o044 != 0 {
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

/// Takes the exclusive lock of `file` without waiting (`flock`): false when another open
/// file holds it.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Releases the lock [`try_lock_exclusive`] took (closing the file releases it too).
pub fn unlock(file: &File) {
    let _ = file.unlock();
}

/// Bytes available to an unprivileged user on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// Whether a raw OS error means "no space" (ENOSPC) or "over quota" (EDQUOT).
pub fn is_disk_full_code(code: i32) -> bool {
    use rustix::io::Errno;
    [Errno::NOSPC, Errno::DQUOT]
        .iter()
        .any(|errno| code == errno.raw_os_error())
}

/// The bytes of `path` for an SQLite `file:` URI (before percent-encoding).
pub fn uri_path_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// The stop signals `SIGINT`, `SIGTERM` and `SIGHUP`, listened to.
#[derive(Debug)]
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    /// Starts listening (needs a Tokio runtime).
    pub fn listen() -> io::Result<Self> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next stop signal to arrive (`None` once no signal can arrive any more).
    pub async fn recv(&mut self) -> Option<CancelSignal> {
        tokio::select! {
            Some(()) = self.interrupt.recv() => Some(CancelSignal::Interrupt),
            Some(()) = self.terminate.recv() => Some(CancelSignal::Terminate),
            Some(()) = self.hangup.recv() => Some(CancelSignal::Hangup),
            else => None,
        }
    }
}

/// Test helpers that set Unix modes and plant symbolic links.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// Sets `path`'s mode.
    pub fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Lets every user read `path` (mode 0644).
    pub fn open_to_others(path: &Path) {
        set_mode(path, 0o644);
    }

    /// `path`'s permission bits.
    pub fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }
}

#[cfg(test)]
mod tests {
    //! Unix-only behaviour of the store's files, the config's secret files and `--output`
    //! (modes, owners, symbolic links); the same functions' Windows rules are tested in
    //! `windows.rs`.
    use super::testing::{mode, set_mode};
    use super::*;
    use crate::store::{check_permissions, write_private_file};

    const ME: u32 = 1000;

    fn why(privacy: Privacy, owner: u32, mode: u32) -> Option<String> {
        refusal_of_mode(privacy, owner, mode, ME, Path::new("/srv/simsid/x"))
    }

    #[test]
    fn private_files_of_the_current_user_pass() {
        use Privacy::*;
        assert_eq!(why(NoOtherWriter, ME, 0o700), None);
        assert_eq!(why(NoOtherWriter, ME, 0o755), None, "readable is allowed");
        assert_eq!(why(NoOtherWriter, ME, 0o600), None);
        assert_eq!(why(NoOtherWriter, ME, 0o644), None);
        assert_eq!(why(NoOtherAccess, ME, 0o600), None);
        assert_eq!(why(NoOtherAccess, ME, 0o400), None);
    }

    #[test]
    fn files_of_another_user_are_refused_whatever_their_mode() {
        for privacy in [Privacy::NoOtherWriter, Privacy::NoOtherAccess] {
            let w = why(privacy, 0, 0o600).expect("refused");
            assert!(w.contains("uid 0") && w.contains("uid 1000"), "{w}");
        }
    }

    #[test]
    fn writable_by_group_or_others_is_refused() {
        for m in [0o620, 0o602, 0o666, 0o777, 0o1777, 0o775] {
            let w = why(Privacy::NoOtherWriter, ME, m).expect("refused");
            assert!(w.contains("writable by group or others"), "{w}");
            assert!(w.contains(&format!("{:04o}", m)), "{w}");
        }
        let w = why(Privacy::NoOtherWriter, ME, 0o1777).unwrap();
        assert!(w.contains("chmod go-w /srv/simsid/x"), "{w}");
    }

    #[test]
    fn a_key_readable_by_others_is_refused() {
        for m in [0o640, 0o604, 0o644] {
            let w = why(Privacy::NoOtherAccess, ME, m).expect("refused");
            assert!(w.contains("readable by group or others"), "{w}");
            assert!(w.contains("chmod 600"), "{w}");
        }
    }

    #[test]
    fn enforce_names_the_file_and_skips_missing_ones() {
        use crate::store::safety::{enforce, Role};
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("k.key");
        fs::write(&key, "x").unwrap();
        set_mode(&key, 0o644);
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

    #[test]
    fn loose_modes_are_reported_and_tight_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        create_private_dir(&dir).unwrap();
        let store = dir.join("store.sqlite3");
        create_private_file(&store).unwrap();
        assert!(
            check_permissions(&store).is_empty(),
            "{:?}",
            check_permissions(&store)
        );

        set_mode(&dir, 0o755);
        set_mode(&store, 0o644);
        let key = crate::store::default_key_path(&store);
        fs::write(&key, "x").unwrap();
        set_mode(&key, 0o640);
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
        set_mode(&victim, 0o644);
        let target = tmp.path().join("out.csv");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_private_file(&target, b"new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        let meta = fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(mode(&target), 0o600);
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left");
    }

    #[test]
    fn output_replaces_a_symlink_instead_of_following_it_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").unwrap();
        let out = dir.path().join("report.csv");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        crate::cli::outfile::write_private(&out, b"a,b\n").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        let meta = fs::symlink_metadata(&out).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(mode(&out), 0o600);
        assert_eq!(fs::read(&out).unwrap(), b"a,b\n");
        // An existing file, group-readable, becomes 0600 with the new content.
        fs::remove_file(&out).unwrap();
        fs::write(&out, "old").unwrap();
        set_mode(&out, 0o644);
        crate::cli::outfile::write_private(&out, b"new").unwrap();
        assert_eq!(mode(&out), 0o600);
        assert_eq!(fs::read(&out).unwrap(), b"new");
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary file is left behind");
    }

    #[test]
    fn sidecars_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store.sqlite3");
        let wal = tmp.path().join("store.sqlite3-wal");
        fs::write(&wal, "").unwrap();
        set_mode(&wal, 0o644);
        crate::store::files::tighten_sidecars(&store).unwrap();
        assert_eq!(mode(&wal), 0o600);
    }

    #[test]
    fn a_symbolic_link_as_lock_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store.sqlite3");
        let target = tmp.path().join("victim");
        fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, crate::store::lock_path(&store)).unwrap();
        assert!(crate::store::HarvestLock::acquire(&store, chrono::Utc::now()).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_secret_file_others_may_read_is_a_warning_a_private_one_is_not() {
        use crate::config::secret_file::loose_file_warning;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        fs::write(&path, "x").unwrap();
        set_mode(&path, 0o640);
        let w = loose_file_warning(&path, "the file", "`chmod 600` on it").unwrap();
        assert_eq!(
            w,
            "the file is readable by group or others (mode 640); run `chmod 600` on it"
        );
        set_mode(&path, 0o600);
        assert_eq!(loose_file_warning(&path, "the file", "x"), None);
        assert_eq!(loose_file_warning(&dir.path().join("none"), "f", "x"), None);
    }

    #[test]
    fn a_log_file_open_to_others_is_tightened_and_said() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("simsid.log");
        fs::write(&log, "").unwrap();
        set_mode(&log, 0o644);
        let (_, note) = open_private_append(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
        assert!(note.unwrap().contains("0644"));
        let (_, note) = open_private_append(&log).unwrap();
        assert_eq!(note, None);
    }
}
