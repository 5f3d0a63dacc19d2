//! Files and modes on disk for the store tests: modes, file listings, the environment that
//! points the binary at a store and its key file, and the shape of a refusal.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use super::common::*;

/// The permission bits of `p` (not following a symlink).
pub fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Sets the permission bits of `p`.
pub fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// The file names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `env` with the store key taken from the key file beside the store (`store_key = "file"`
/// in a config file beside `log`: a test's store never reaches a keychain), and the log in
/// `log`.
pub fn key_file_env(env: &BTreeMap<String, String>, log: &Path) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.remove("SIMSID_STORE_KEY");
    env.insert("SIMSID_LOG".into(), log.display().to_string());
    let dir = log.parent().expect("the log is in a directory");
    fs::create_dir_all(dir).unwrap();
    let config = dir.join("store-key-file.toml");
    fs::write(&config, "[profile.default]\nstore_key = \"file\"\n").unwrap();
    env.insert("SIMSID_CONFIG".into(), config.display().to_string());
    env
}

/// `env` with the store at `store`.
pub fn with_store(env: &BTreeMap<String, String>, store: &Path) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.insert("SIMSID_STORE".into(), store.display().to_string());
    env
}

/// The binary exited `code` and its stderr names every one of `needles`.
pub fn assert_refused(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}
