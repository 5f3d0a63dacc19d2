//! The Windows side of [`crate::platform`]: owners (SIDs) and DACLs through `windows-sys`,
//! a byte-range lock, the console's control events (Ctrl-C, Ctrl-Break, close, log-off,
//! shutdown) as stop signals.
//!
//! Every call into `windows-sys` is `unsafe`; each block says what makes it sound. Buffers
//! handed to the API are owned `Vec`s that outlive the call; what the API allocates
//! (security descriptors, SID strings) is freed with `LocalFree` by a guard.

use std::ffi::c_void;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::ptr;

use tokio::signal::windows::{
    ctrl_break, ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown, CtrlBreak, CtrlC, CtrlClose,
    CtrlLogoff, CtrlShutdown,
};
use windows_sys::Win32::Foundation::{
    CloseHandle, LocalFree, ERROR_DISK_FULL, ERROR_DISK_QUOTA_EXCEEDED, ERROR_HANDLE_DISK_FULL,
    ERROR_LOCK_VIOLATION, ERROR_SUCCESS, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HANDLE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    AddAccessAllowedAceEx, CopySid, CreateWellKnownSid, EqualSid, GetAce, GetLengthSid,
    GetTokenInformation, InitializeAcl, TokenUser, WinAuthenticatedUserSid, WinBuiltinUsersSid,
    WinWorldSid, ACE_HEADER, ACL, ACL_REVISION, CONTAINER_INHERIT_ACE, DACL_SECURITY_INFORMATION,
    INHERIT_ONLY_ACE, OBJECT_INHERIT_ACE, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_QUERY, TOKEN_USER,
    WELL_KNOWN_SID_TYPE,
};
use windows_sys::Win32::Storage::FileSystem::{
    GetDiskFreeSpaceExW, LockFileEx, UnlockFileEx, DELETE, FILE_ALL_ACCESS, FILE_APPEND_DATA,
    FILE_DELETE_CHILD, FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_DATA, FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA, FILE_WRITE_EA, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, WRITE_DAC,
    WRITE_OWNER,
};
use windows_sys::Win32::System::Diagnostics::Debug::{
    SetErrorMode, SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX,
};
use windows_sys::Win32::System::SystemServices::{ACCESS_ALLOWED_ACE_TYPE, MAXIMUM_ALLOWED};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
use windows_sys::Win32::System::IO::OVERLAPPED;

use super::{Privacy, Sharing};
use crate::domain::CancelSignal;

/// Rights that let a holder change a file or a directory's entries.
const WRITE_RIGHTS: u32 = FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_WRITE_EA
    | FILE_WRITE_ATTRIBUTES
    | FILE_DELETE_CHILD
    | DELETE
    | WRITE_DAC
    | WRITE_OWNER
    | GENERIC_WRITE
    | GENERIC_ALL
    | MAXIMUM_ALLOWED;
/// Rights that let a holder read a file's content.
const READ_RIGHTS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | MAXIMUM_ALLOWED;

/// Where the store lock's byte lies: far past any record written in the lock file, so the
/// lock never stops another process reading who holds it (a lock on the whole file would).
const LOCK_OFFSET: u64 = 1 << 40;

/// See [`crate::platform::harden_process`]: no crash dialog (Windows has no umask; crash
/// dumps are written only where an administrator configured them).
pub fn harden_process() -> Vec<String> {
    // SAFETY: SetErrorMode only sets the process's error mode flags.
    unsafe {
        SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    }
    Vec::new()
}

/// See [`crate::platform::app_dirs`]: `%APPDATA%\simsid` and `%LOCALAPPDATA%\simsid`
/// (`directories` adds `config` and `data` below them, which are dropped).
pub fn app_dirs(p: &directories::ProjectDirs) -> super::AppDirs {
    let roaming = p.config_dir().parent().unwrap_or(p.config_dir());
    let local = p.data_local_dir().parent().unwrap_or(p.data_local_dir());
    super::AppDirs {
        config: roaming.to_path_buf(),
        data: local.to_path_buf(),
        state: local.to_path_buf(),
    }
}

/// The path as a NUL-terminated UTF-16 string.
fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// A SID held in an owned, aligned buffer.
struct Sid(Vec<u64>);

impl Sid {
    /// Copies the SID at `sid` (valid for the call).
    fn copy_of(sid: PSID) -> io::Result<Sid> {
        // SAFETY: `sid` points at a valid SID (checked by the callers' API results);
        // the buffer is as long as GetLengthSid says and outlives CopySid.
        unsafe {
            let len = GetLengthSid(sid);
            let mut buf = vec![0u64; (len as usize).div_ceil(8)];
            if CopySid(len, buf.as_mut_ptr().cast(), sid) == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Sid(buf))
        }
    }

    /// A well-known SID (Everyone, Users, Authenticated Users).
    fn well_known(kind: WELL_KNOWN_SID_TYPE) -> io::Result<Sid> {
        // 68 bytes is SECURITY_MAX_SID_SIZE.
        let mut buf = vec![0u64; 9];
        let mut len = (buf.len() * 8) as u32;
        // SAFETY: `buf` holds `len` writable bytes; no domain SID is needed for these kinds.
        let ok =
            unsafe { CreateWellKnownSid(kind, ptr::null_mut(), buf.as_mut_ptr().cast(), &mut len) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Sid(buf))
    }

    fn as_psid(&self) -> PSID {
        self.0.as_ptr() as PSID
    }

    /// Whether `other` (a valid SID) is this one.
    fn is(&self, other: PSID) -> bool {
        // SAFETY: both point at valid SIDs for the call.
        unsafe { EqualSid(self.as_psid(), other) != 0 }
    }
}

/// The `S-1-5-…` form of the SID at `sid`.
fn sid_string(sid: PSID) -> String {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` is valid; on success `text` is a NUL-terminated string the API
    // allocated, read up to its NUL and freed once.
    unsafe {
        if ConvertSidToStringSidW(sid, &mut text) == 0 || text.is_null() {
            return "an unknown user".to_string();
        }
        let mut len = 0;
        while *text.add(len) != 0 {
            len += 1;
        }
        let s = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        s
    }
}

/// The current process's user.
fn current_sid() -> io::Result<Sid> {
    // SAFETY: the token handle is closed once; the buffer is as long as the first call
    // asked for, aligned for TOKEN_USER, and outlives the SID copied out of it.
    unsafe {
        let mut token: HANDLE = ptr::null_mut();
        if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut len = 0u32;
        GetTokenInformation(token, TokenUser, ptr::null_mut(), 0, &mut len);
        let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
        let ok = GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            &mut len,
        );
        let err = io::Error::last_os_error();
        CloseHandle(token);
        if ok == 0 {
            return Err(err);
        }
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        Sid::copy_of(user.User.Sid)
    }
}

/// Gives `path` a protected DACL with one entry: full access for the current user (for a
/// directory, inherited by what is created in it).
fn set_owner_only(path: &Path, is_dir: bool) -> io::Result<()> {
    let me = current_sid()?;
    // SAFETY: `me` is a valid SID; the ACL buffer is DWORD-aligned and as long as the ACL
    // header, one ACCESS_ALLOWED_ACE and the SID; it and `name` outlive the calls.
    unsafe {
        let sid_len = GetLengthSid(me.as_psid()) as usize;
        let acl_len = std::mem::size_of::<ACL>() + 8 + 4 + sid_len;
        let mut acl = vec![0u64; acl_len.div_ceil(8)];
        let acl_ptr = acl.as_mut_ptr() as *mut ACL;
        if InitializeAcl(acl_ptr, (acl.len() * 8) as u32, ACL_REVISION) == 0 {
            return Err(io::Error::last_os_error());
        }
        let inherit = if is_dir {
            OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
        } else {
            0
        };
        if AddAccessAllowedAceEx(
            acl_ptr,
            ACL_REVISION,
            inherit,
            FILE_ALL_ACCESS,
            me.as_psid(),
        ) == 0
        {
            return Err(io::Error::last_os_error());
        }
        set_protected_dacl(path, acl_ptr)
    }
}

/// Sets `acl` as `path`'s DACL, protected (nothing inherited from the folder above).
///
/// # Safety
/// `acl` points to an initialised ACL that outlives the call.
unsafe fn set_protected_dacl(path: &Path, acl: *mut ACL) -> io::Result<()> {
    let name = wide(path);
    let status = SetNamedSecurityInfoW(
        name.as_ptr(),
        SE_FILE_OBJECT,
        DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
        ptr::null_mut(),
        ptr::null_mut(),
        acl,
        ptr::null(),
    );
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    Ok(())
}

/// Who owns a file and what its DACL grants the broad groups.
struct Access {
    /// The owner, when it is not the current user (its SID string).
    foreign_owner: Option<String>,
    /// The current user's SID string.
    me: String,
    /// The broad group granted write access, if one is.
    writer: Option<&'static str>,
    /// The broad group granted read access, if one is.
    reader: Option<&'static str>,
}

/// Reads the owner and DACL of `path`.
fn access_of(path: &Path) -> io::Result<Access> {
    let me = current_sid()?;
    let broad = [
        (Sid::well_known(WinWorldSid)?, "Everyone"),
        (Sid::well_known(WinBuiltinUsersSid)?, "Users"),
        (
            Sid::well_known(WinAuthenticatedUserSid)?,
            "Authenticated Users",
        ),
    ];
    let name = wide(path);
    let mut owner: PSID = ptr::null_mut();
    let mut dacl: *mut ACL = ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; on success `owner` and `dacl` point into `sd`, which
    // the API allocated and which is freed once, after the last read through them.
    unsafe {
        let status = GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut sd,
        );
        if status != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(status as i32));
        }
        let mut access = Access {
            foreign_owner: (!owner.is_null() && !me.is(owner)).then(|| sid_string(owner)),
            me: sid_string(me.as_psid()),
            writer: None,
            reader: None,
        };
        if dacl.is_null() {
            // No DACL at all: everyone has full access.
            access.writer = Some("Everyone");
            access.reader = Some("Everyone");
        } else {
            for index in 0..u32::from((*dacl).AceCount) {
                let mut ace: *mut c_void = ptr::null_mut();
                if GetAce(dacl, index, &mut ace) == 0 || ace.is_null() {
                    continue;
                }
                let header = &*(ace as *const ACE_HEADER);
                if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE
                    || u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0
                {
                    continue;
                }
                // ACCESS_ALLOWED_ACE: the header, the mask, then the SID.
                let mask = *(ace.cast::<u8>().add(4) as *const u32);
                let sid = ace.cast::<u8>().add(8) as PSID;
                for (group, label) in &broad {
                    if group.is(sid) {
                        if mask & WRITE_RIGHTS != 0 && access.writer.is_none() {
                            access.writer = Some(label);
                        }
                        if mask & READ_RIGHTS != 0 && access.reader.is_none() {
                            access.reader = Some(label);
                        }
                    }
                }
            }
        }
        LocalFree(sd);
        Ok(access)
    }
}

/// Creates `dir` and missing parents, then gives `dir` an owner-only DACL.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    set_owner_only(dir, true)
}

/// Creates a new file with an owner-only DACL (`AlreadyExists` if there is one).
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    set_owner_only(path, false)?;
    Ok(file)
}

/// Opens (creating with an owner-only DACL) a file for reading and writing, never through
/// a symbolic link or junction (`FILE_FLAG_OPEN_REPARSE_POINT` opens the link itself, which
/// is then refused as not a file).
pub fn open_private_no_follow(path: &Path) -> io::Result<File> {
    let existed = fs::symlink_metadata(path).is_ok();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a link is never followed)",
        ));
    }
    if !existed {
        set_owner_only(path, false)?;
    }
    Ok(file)
}

/// Opens (creating with an owner-only DACL) a file for appending; one the broad groups may
/// read or change gets an owner-only DACL, and the note says what it was.
pub fn open_private_append(path: &Path) -> io::Result<(File, Option<String>)> {
    let existed = path.exists();
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    if !existed {
        set_owner_only(path, false)?;
        return Ok((file, None));
    }
    match openness(path) {
        None => Ok((file, None)),
        Some(how) => {
            set_owner_only(path, false)?;
            Ok((
                file,
                Some(format!(
                    "was open to other users ({how}); made private to its owner"
                )),
            ))
        }
    }
}

/// Gives `path` an owner-only DACL, or leaves the inherited one for a readable file.
pub fn set_sharing(path: &Path, sharing: Sharing) -> io::Result<()> {
    match sharing {
        Sharing::Private => set_owner_only(path, false),
        Sharing::Readable => Ok(()),
    }
}

/// A temporary file in `dir` named `prefix….tmp`, private from creation when asked.
pub fn temp_file_in(
    dir: &Path,
    prefix: &str,
    sharing: Sharing,
) -> io::Result<tempfile::NamedTempFile> {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    set_sharing(tmp.path(), sharing)?;
    Ok(tmp)
}

/// Gives `path` an owner-only DACL when the broad groups have any access to it.
pub fn tighten(path: &Path) -> io::Result<bool> {
    let access = access_of(path)?;
    if access.reader.is_none() && access.writer.is_none() {
        return Ok(false);
    }
    set_owner_only(path, false)?;
    Ok(true)
}

/// How the broad groups may use `path` (`Everyone may read it`), `None` when they may not.
pub fn openness(path: &Path) -> Option<String> {
    let access = access_of(path).ok()?;
    match (access.writer, access.reader) {
        (Some(group), _) => Some(format!("{group} may change it")),
        (None, Some(group)) => Some(format!("{group} may read it")),
        (None, None) => None,
    }
}

/// The warning for a store directory or file the broad groups may use.
pub fn loose_store_file_warning(what: &str, path: &Path, _is_dir: bool) -> Option<String> {
    let how = openness(path)?;
    Some(format!(
        "{what} {} is open to other users ({how}); expected only its owner ({})",
        path.display(),
        make_private_command(Some(path))
    ))
}

/// The `icacls` command that leaves only the current user's access on `path`.
pub fn make_private_command(path: Option<&Path>) -> String {
    let fix = "/inheritance:r /grant:r \"%USERNAME%:F\"";
    match path {
        Some(p) => format!("`icacls \"{}\" {fix}`", p.display()),
        None => format!("`icacls FILE {fix}` on it"),
    }
}

/// Why the store may not use `path` as `privacy` asks (owner, then the broad groups' ACEs).
pub fn refusal(
    path: &Path,
    _opened: Option<&File>,
    privacy: Privacy,
) -> io::Result<Option<String>> {
    let access = access_of(path)?;
    let fix = make_private_command(Some(path));
    if let Some(owner) = access.foreign_owner {
        return Ok(Some(format!(
            "it belongs to {owner}, not to the current user ({}); another user could read or \
             replace what it holds",
            access.me
        )));
    }
    if let Some(group) = access.writer {
        return Ok(Some(format!(
            "an access-control entry lets {group} change it; run {fix}"
        )));
    }
    if privacy == Privacy::NoOtherAccess {
        if let Some(group) = access.reader {
            return Ok(Some(format!(
                "an access-control entry lets {group} read it; run {fix}"
            )));
        }
    }
    Ok(None)
}

/// The current user's SID.
pub fn current_user() -> String {
    current_sid()
        .map(|sid| sid_string(sid.as_psid()))
        .unwrap_or_else(|_| "an unknown user".to_string())
}

/// An OVERLAPPED naming the lock's byte.
fn lock_overlapped() -> OVERLAPPED {
    let mut overlapped = OVERLAPPED::default();
    overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
    overlapped
}

/// Takes the exclusive lock on one byte at [`LOCK_OFFSET`] without waiting
/// (`LockFileEx`); Windows releases it when the handle closes or the process ends.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    let mut overlapped = lock_overlapped();
    // SAFETY: the handle is open for the call; the file was opened for synchronous I/O, so
    // the call completes before returning and `overlapped` outlives it.
    let ok = unsafe {
        LockFileEx(
            file.as_raw_handle() as HANDLE,
            LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
            0,
            1,
            0,
            &mut overlapped,
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// Releases the lock [`try_lock_exclusive`] took.
pub fn unlock(file: &File) {
    let mut overlapped = lock_overlapped();
    // SAFETY: as in `try_lock_exclusive`.
    unsafe {
        UnlockFileEx(file.as_raw_handle() as HANDLE, 0, 1, 0, &mut overlapped);
    }
}

/// Bytes available to the current user on the volume holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let name = wide(dir);
    let mut available = 0u64;
    // SAFETY: `name` is NUL-terminated; the out pointers are valid or null.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            name.as_ptr(),
            &mut available,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    (ok != 0).then_some(available)
}

/// Whether a raw OS error means the disk (or the quota) is full.
pub fn is_disk_full_code(code: i32) -> bool {
    [
        ERROR_DISK_FULL,
        ERROR_HANDLE_DISK_FULL,
        ERROR_DISK_QUOTA_EXCEEDED,
    ]
    .iter()
    .any(|c| code == *c as i32)
}

/// `C:\d\s` as `/C:/d/s` for an SQLite `file:` URI.
pub fn uri_path_bytes(path: &Path) -> Vec<u8> {
    let text = path.to_string_lossy().replace('\\', "/");
    let drive = text.as_bytes().get(1) == Some(&b':');
    let mut bytes = Vec::with_capacity(text.len() + 1);
    if drive {
        bytes.push(b'/');
    }
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// The console's control events, listened to: Ctrl-C, Ctrl-Break, the console window
/// closing, the user logging off, the system shutting down.
#[derive(Debug)]
pub struct StopSignals {
    ctrl_c: CtrlC,
    ctrl_break: CtrlBreak,
    close: CtrlClose,
    logoff: CtrlLogoff,
    shutdown: CtrlShutdown,
}

impl StopSignals {
    /// Starts listening (needs a Tokio runtime).
    pub fn listen() -> io::Result<Self> {
        Ok(StopSignals {
            ctrl_c: ctrl_c()?,
            ctrl_break: ctrl_break()?,
            close: ctrl_close()?,
            logoff: ctrl_logoff()?,
            shutdown: ctrl_shutdown()?,
        })
    }

    /// The next control event to arrive (`None` once none can arrive any more).
    pub async fn recv(&mut self) -> Option<CancelSignal> {
        tokio::select! {
            Some(()) = self.ctrl_c.recv() => Some(CancelSignal::CtrlC),
            Some(()) = self.ctrl_break.recv() => Some(CancelSignal::CtrlBreak),
            Some(()) = self.close.recv() => Some(CancelSignal::CtrlClose),
            Some(()) = self.logoff.recv() => Some(CancelSignal::CtrlLogoff),
            Some(()) = self.shutdown.recv() => Some(CancelSignal::CtrlShutdown),
            else => None,
        }
    }
}

/// Test helpers that change DACLs.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// Lets Everyone read `path`.
    pub fn open_to_others(path: &Path) {
        grant_everyone(path, FILE_READ_DATA | GENERIC_READ);
    }

    /// Gives `path` a DACL with the owner's entry and one for Everyone with `mask`.
    pub fn grant_everyone(path: &Path, mask: u32) {
        let me = current_sid().unwrap();
        let world = Sid::well_known(WinWorldSid).unwrap();
        // SAFETY: as in `set_owner_only`, with room for two entries.
        unsafe {
            let len = std::mem::size_of::<ACL>()
                + 2 * 12
                + GetLengthSid(me.as_psid()) as usize
                + GetLengthSid(world.as_psid()) as usize;
            let mut acl = vec![0u64; len.div_ceil(8)];
            let acl_ptr = acl.as_mut_ptr() as *mut ACL;
            assert_ne!(
                InitializeAcl(acl_ptr, (acl.len() * 8) as u32, ACL_REVISION),
                0
            );
            assert_ne!(
                AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, 0, FILE_ALL_ACCESS, me.as_psid()),
                0
            );
            assert_ne!(
                AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, 0, mask, world.as_psid()),
                0
            );
            set_protected_dacl(path, acl_ptr).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::grant_everyone;
    use super::*;

    #[test]
    fn files_simsid_creates_are_private_and_pass_the_check() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        create_private_dir(&dir).unwrap();
        let key = dir.join("store.sqlite3.key");
        drop(create_private_file(&key).unwrap());
        for (path, privacy) in [
            (&dir, Privacy::NoOtherWriter),
            (&key, Privacy::NoOtherAccess),
        ] {
            assert_eq!(refusal(path, None, privacy).unwrap(), None, "{path:?}");
            assert_eq!(openness(path), None, "{path:?}");
        }
    }

    /// A file (in a folder of its own) whose DACL lets Everyone `mask`.
    fn file_everyone_may(mask: u32) -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        fs::write(&path, "x").unwrap();
        grant_everyone(&path, mask);
        (tmp, path)
    }

    /// Why `path` may not hold a key (it must be refused).
    fn refused_as_key(path: &Path) -> String {
        refusal(path, None, Privacy::NoOtherAccess)
            .unwrap()
            .expect("refused")
    }

    #[test]
    #[ignore = "Wine keeps no DACL set on a file; on Windows run \
                `cargo test --target x86_64-pc-windows-gnu --lib -- --ignored`"]
    fn a_file_everyone_may_use_is_refused_and_tightened() {
        let (_tmp, path) = file_everyone_may(FILE_ALL_ACCESS);
        let why = refused_as_key(&path);
        assert!(why.contains("Everyone") && why.contains("icacls"), "{why}");
        assert!(openness(&path).unwrap().contains("Everyone"));
        assert!(tighten(&path).unwrap());
        assert_eq!(refusal(&path, None, Privacy::NoOtherAccess).unwrap(), None);
    }

    #[test]
    #[ignore = "Wine keeps no DACL set on a file; on Windows run \
                `cargo test --target x86_64-pc-windows-gnu --lib -- --ignored`"]
    fn a_store_file_everyone_may_read_passes_but_a_key_does_not() {
        let (_tmp, path) = file_everyone_may(FILE_READ_DATA);
        assert_eq!(refusal(&path, None, Privacy::NoOtherWriter).unwrap(), None);
        let why = refused_as_key(&path);
        assert!(
            why.contains("Everyone may read") || why.contains("lets Everyone read"),
            "{why}"
        );
    }

    #[test]
    fn the_lock_leaves_the_holder_record_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l");
        let first = open_private_no_follow(&path).unwrap();
        assert!(try_lock_exclusive(&first).unwrap());
        fs::write(&path, "pid=1").unwrap();
        let second = open_private_no_follow(&path).unwrap();
        assert!(!try_lock_exclusive(&second).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "pid=1");
        unlock(&first);
        assert!(try_lock_exclusive(&second).unwrap());
    }

    #[test]
    fn the_config_roams_and_the_store_and_log_stay_local() {
        let dirs = crate::platform::app_dirs().unwrap();
        assert!(dirs.config.ends_with(r"AppData\Roaming\simsid"), "{dirs:?}");
        assert!(dirs.data.ends_with(r"AppData\Local\simsid"), "{dirs:?}");
        assert_eq!(dirs.state, dirs.data);
    }

    #[test]
    fn uri_paths_put_the_drive_after_a_slash() {
        assert_eq!(uri_path_bytes(Path::new(r"C:\d\s.db")), b"/C:/d/s.db");
        assert_eq!(uri_path_bytes(Path::new("/tmp/s.db")), b"/tmp/s.db");
    }
}
