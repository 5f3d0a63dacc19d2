//! The store on disk: file modes, the key file, wrong keys, leaks, migration, sealing.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

#[cfg(not(windows))]
use crate::support::child;
use crate::support::store_support;

use std::fs;
#[cfg(not(windows))]
use std::os::unix::fs::PermissionsExt;
#[cfg(not(windows))]
use std::path::Path;

use base64::Engine;
use rusqlite::Connection;
use secrecy::{ExposeSecret, SecretString};
use simsid::domain::{Diff, RunStatus};
#[cfg(not(windows))]
use simsid::store::check_permissions;
use simsid::store::{default_key_path, Store, StoreError, StoreKey};
use store_support::*;

#[cfg(not(windows))]
fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A closed store holding [`sample`] in a temporary folder: the folder, the store's path
/// and its key.
fn sampled_store() -> (tempfile::TempDir, std::path::PathBuf, StoreKey) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("store.sqlite3");
    let key = StoreKey::generate();
    let mut store = Store::open(&path, key.clone()).unwrap();
    sample(&mut store);
    (tmp, path, key)
}

fn sample(store: &mut Store) {
    let data = harvest(
        store,
        &[
            (
                site(1, "Ysgol Gymraeg Aberystwyth", Some(true)),
                vec![
                    ("sas-alpha", "S3cret-Alpha-Plaintext-0001"),
                    ("sas-beta", "S3cret-Beta-Plaintext-0002"),
                ],
            ),
            (site(2, "St Mary's Primary", Some(false)), vec![]),
        ],
    );
    store
        .commit_harvest(&data, &summary(at(0), RunStatus::Complete, Diff::default()))
        .unwrap();
}

/// Set in the child process that runs [`permissive_umask_child`].
#[cfg(not(windows))]
const UMASK_CHILD_ENV: &str = "SIMSID_TEST_UMASK_CHILD";

// Not on Windows: Unix modes and the umask (the Windows DACLs are tested in
// src/platform/windows.rs).
#[cfg(not(windows))]
#[test]
fn files_are_private_even_with_a_permissive_umask() {
    // The umask is the whole process's: it is changed in a child process, not under the
    // other tests of this binary.
    child::run_ignored(
        module_path!(),
        "permissive_umask_child",
        &[(UMASK_CHILD_ENV, "1")],
    );
}

/// The body of `files_are_private_even_with_a_permissive_umask`, in its own process.
#[cfg(not(windows))]
#[test]
#[ignore = "run in a child process by files_are_private_even_with_a_permissive_umask"]
fn permissive_umask_child() {
    if std::env::var_os(UMASK_CHILD_ENV).is_none() {
        return;
    }
    // The binary sets umask 077; the store must not rely on it.
    rustix::process::umask(rustix::fs::Mode::empty());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("simsid");
    let path = dir.join("store.sqlite3");
    let key_path = default_key_path(&path);
    let key = StoreKey::load_or_create(&key_path).unwrap();
    let mut store = Store::open(&path, key).unwrap();
    sample(&mut store);

    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&key_path), 0o600);
    let wal = dir.join("store.sqlite3-wal");
    let shm = dir.join("store.sqlite3-shm");
    assert!(wal.exists() && shm.exists(), "WAL mode while open");
    assert_eq!(mode(&wal), 0o600);
    assert_eq!(mode(&shm), 0o600);
    assert_eq!(check_permissions(&path), Vec::<String>::new());

    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
    let warnings = check_permissions(&path);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings
        .iter()
        .any(|w| w.contains("directory") && w.contains("0755")));
    assert!(warnings
        .iter()
        .any(|w| w.contains("store.sqlite3.key") && w.contains("0644")));
}

#[test]
fn key_file_is_created_once_then_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let key_path = tmp.path().join("keys").join("store.key");
    let first = StoreKey::load_or_create(&key_path).unwrap();
    #[cfg(not(windows))]
    {
        assert_eq!(mode(&key_path), 0o600);
        assert_eq!(mode(key_path.parent().unwrap()), 0o700);
    }
    #[cfg(windows)]
    assert_eq!(simsid::platform::openness(&key_path), None);
    let text = fs::read_to_string(&key_path).unwrap();
    assert_eq!(text.trim(), first.to_base64().expose_secret());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    assert_eq!(decoded.len(), 32);

    let second = StoreKey::load_or_create(&key_path).unwrap();
    assert_eq!(
        second.to_base64().expose_secret(),
        first.to_base64().expose_secret()
    );
    assert_eq!(
        fs::read_to_string(&key_path).unwrap(),
        text,
        "not rewritten"
    );

    // Opening with the reloaded key works and fingerprints agree.
    let path = tmp.path().join("store.sqlite3");
    let probe = SecretString::from("probe".to_owned());
    let fp = Store::open(&path, first).unwrap().fingerprint(&probe);
    assert_eq!(Store::open(&path, second).unwrap().fingerprint(&probe), fp);
}

#[test]
fn a_bad_key_file_is_refused_without_quoting_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key_path = tmp.path().join("store.key");
    fs::write(&key_path, "VGhpcyBpcyBub3QgMzIgYnl0ZXM=\n").unwrap();
    let err = StoreKey::load_or_create(&key_path).unwrap_err();
    assert!(matches!(err, StoreError::BadKey(_)), "{err:?}");
    assert!(
        !err.to_string().contains("VGhpcyBpcyBub3QgMzIgYnl0ZXM"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("VGhpcyBpcyBub3QgMzIgYnl0ZXM"));
    assert_eq!(
        fs::read_to_string(&key_path).unwrap(),
        "VGhpcyBpcyBub3QgMzIgYnl0ZXM=\n",
        "a bad key file is never replaced"
    );
}

#[test]
fn environment_style_keys_must_be_32_bytes() {
    let ok = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    assert!(StoreKey::from_base64(&SecretString::from(ok)).is_ok());
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
    let err = StoreKey::from_base64(&SecretString::from(short.clone())).unwrap_err();
    assert!(matches!(err, StoreError::BadKey(_)));
    assert!(!err.to_string().contains(&short));
}

#[test]
fn wrong_key_fails_and_leaves_every_file_identical() {
    let (tmp, path, key) = sampled_store();
    let before = hash_dir(tmp.path());
    assert!(before.contains_key("store.sqlite3"));

    let err = Store::open(&path, StoreKey::generate()).unwrap_err();
    assert!(matches!(err, StoreError::KeyMismatch), "{err:?}");
    assert!(err.to_string().contains("store key does not match"));
    assert_eq!(hash_dir(tmp.path()), before, "a wrong key must not write");

    // Twice, to be sure nothing accumulates; then the right key still opens it intact.
    assert!(matches!(
        Store::open(&path, StoreKey::generate()),
        Err(StoreError::KeyMismatch)
    ));
    assert_eq!(hash_dir(tmp.path()), before);
    let store = Store::open(&path, key).unwrap();
    assert_eq!(store.sites().unwrap().len(), 2);
    assert_eq!(store.runs().unwrap().len(), 1);
}

#[test]
fn wrong_key_while_another_connection_is_open_changes_no_data() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("store.sqlite3");
    let key = StoreKey::generate();
    let mut live = Store::open(&path, key.clone()).unwrap();
    sample(&mut live);
    let wal = tmp.path().join("store.sqlite3-wal");
    let db_before = fs::read(&path).unwrap();
    let wal_before = fs::read(&wal).unwrap();

    let err = Store::open(&path, StoreKey::generate()).unwrap_err();
    assert!(matches!(err, StoreError::KeyMismatch), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), db_before);
    assert_eq!(fs::read(&wal).unwrap(), wal_before);
    assert_eq!(live.sites().unwrap().len(), 2);

    // The same files as a crash would leave them (WAL not checkpointed), nobody holding them.
    let crashed = tempfile::tempdir().unwrap();
    for (name, bytes) in read_dir_bytes(tmp.path()) {
        fs::write(crashed.path().join(name), bytes).unwrap();
    }
    drop(live);
    let before = hash_dir(crashed.path());
    assert!(before.contains_key("store.sqlite3-wal"));
    let copy = crashed.path().join("store.sqlite3");
    let err = Store::open(&copy, StoreKey::generate()).unwrap_err();
    assert!(matches!(err, StoreError::KeyMismatch), "{err:?}");
    let after = hash_dir(crashed.path());
    assert_eq!(after["store.sqlite3"], before["store.sqlite3"]);
    assert_eq!(after["store.sqlite3-wal"], before["store.sqlite3-wal"]);
    let recovered = Store::open(&copy, key).unwrap();
    assert_eq!(
        recovered.sites().unwrap().len(),
        2,
        "the WAL is replayed with the right key"
    );
}

#[test]
fn no_secret_or_key_reaches_the_files_in_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("store.sqlite3");
    let key_path = default_key_path(&path);
    let key = StoreKey::load_or_create(&key_path).unwrap();
    let key_b64 = key.to_base64().expose_secret().to_owned();
    let key_raw = base64::engine::general_purpose::STANDARD
        .decode(&key_b64)
        .unwrap();
    let mut store = Store::open(&path, key).unwrap();
    let secrets = [
        "Leak-Canary-Secret-One-7f3a9c",
        "Leak-Canary-Secret-Two-b81d04",
        "Leak-Canary-Secret-Three-2c6e",
    ];
    let sites = [
        (
            site(10, "Canary School", Some(true)),
            vec![("sas-1", secrets[0]), ("sas-2", secrets[1])],
        ),
        (site(11, "Other School", None), vec![("sas-3", secrets[2])]),
    ];
    store
        .commit_harvest(
            &harvest(&store, &sites),
            &summary(at(0), RunStatus::Complete, Diff::default()),
        )
        .unwrap();
    // A rotation leaves old pages behind: those must not hold plaintext either.
    let rotated = [
        (
            site(10, "Canary School", Some(true)),
            vec![("sas-1", "Leak-Canary-Rotated-One-55aa")],
        ),
        (site(11, "Other School", None), vec![("sas-3", secrets[2])]),
    ];
    store
        .commit_harvest(
            &harvest(&store, &rotated),
            &summary(at(60), RunStatus::Complete, Diff::default()),
        )
        .unwrap();
    assert_eq!(
        store.secret(&org(10), "sas-1").unwrap().expose_secret(),
        "Leak-Canary-Rotated-One-55aa"
    );

    let check = |phase: &str| {
        for (name, bytes) in read_dir_bytes(tmp.path()) {
            for s in secrets
                .iter()
                .chain(["Leak-Canary-Rotated-One-55aa"].iter())
            {
                assert!(!contains(&bytes, s.as_bytes()), "{phase}: secret in {name}");
                assert!(
                    !contains(&bytes, &s.as_bytes()[..16]),
                    "{phase}: prefix in {name}"
                );
            }
            assert!(!contains(&bytes, &key_raw), "{phase}: raw key in {name}");
            if name != "store.sqlite3.key" {
                assert!(
                    !contains(&bytes, key_b64.as_bytes()),
                    "{phase}: key in {name}"
                );
            }
        }
    };
    check("while open (WAL)");
    let debug = format!("{store:?}");
    assert!(!debug.contains(&key_b64) && !debug.contains("Leak-Canary"));
    drop(store);
    check("after close");
}

#[test]
fn an_empty_file_is_migrated_and_an_existing_store_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("store.sqlite3");
    fs::File::create(&path).unwrap();
    let key = StoreKey::generate();
    let mut store = Store::open(&path, key.clone()).unwrap();
    sample(&mut store);
    let fp = store.site(&org(1)).unwrap().unwrap().credentials[0]
        .fingerprint
        .clone();
    drop(store);

    let raw = Connection::open(&path).unwrap();
    let version: u32 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, simsid::store::SCHEMA_VERSION);
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(raw);

    let store = Store::open(&path, key).unwrap();
    let detail = store.site(&org(1)).unwrap().unwrap();
    assert_eq!(detail.credentials.len(), 2);
    assert_eq!(
        detail.credentials[0].fingerprint, fp,
        "fingerprints survive reopening"
    );
    assert_eq!(
        store.secret(&org(1), "sas-alpha").unwrap().expose_secret(),
        "S3cret-Alpha-Plaintext-0001"
    );
}

#[test]
fn foreign_and_newer_files_are_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("other.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    let before = fs::read(&foreign).unwrap();
    assert!(matches!(
        Store::open(&foreign, StoreKey::generate()),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(fs::read(&foreign).unwrap(), before);

    let text = tmp.path().join("notes.txt");
    fs::write(
        &text,
        "this is not a database at all, just some text padding it out....",
    )
    .unwrap();
    assert!(Store::open(&text, StoreKey::generate()).is_err());
    assert_eq!(
        fs::read_to_string(&text).unwrap(),
        "this is not a database at all, just some text padding it out...."
    );

    let newer = tmp.path().join("newer.sqlite3");
    let key = StoreKey::generate();
    drop(Store::open(&newer, key.clone()).unwrap());
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", simsid::store::SCHEMA_VERSION + 1)
        .unwrap();
    assert!(matches!(
        Store::open(&newer, key),
        Err(StoreError::SchemaTooNew { .. })
    ));
}

#[test]
fn a_sealed_secret_moved_to_another_row_does_not_open() {
    let (_tmp, path, key) = sampled_store();

    // Swap the sealed columns of two rows behind the store's back.
    let raw = Connection::open(&path).unwrap();
    let read = |client: &str| -> (Vec<u8>, Vec<u8>) {
        raw.query_row(
            "SELECT secret, nonce FROM credentials WHERE client_id = ?1",
            [client],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (a, b) = (read("sas-alpha"), read("sas-beta"));
    let write = |client: &str, (secret, nonce): &(Vec<u8>, Vec<u8>)| {
        raw.execute(
            "UPDATE credentials SET secret = ?1, nonce = ?2 WHERE client_id = ?3",
            rusqlite::params![secret, nonce, client],
        )
        .unwrap();
    };
    write("sas-alpha", &b);
    write("sas-beta", &a);
    drop(raw);

    let store = Store::open(&path, key).unwrap();
    for client in ["sas-alpha", "sas-beta"] {
        let err = store.secret(&org(1), client).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("S3cret"), "{text}");
    }
    assert!(matches!(
        store.credentials(&org(1)),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.secret(&org(1), "sas-nope"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.credentials(&org(99)),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn fingerprints_depend_on_secret_and_store_key_only() {
    let tmp = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let a = Store::open(&tmp.path().join("a.sqlite3"), key.clone()).unwrap();
    let b = Store::open(&tmp.path().join("b.sqlite3"), key).unwrap();
    let c = Store::open(&tmp.path().join("c.sqlite3"), StoreKey::generate()).unwrap();
    let s1 = SecretString::from("same-secret".to_owned());
    let s2 = SecretString::from("other-secret".to_owned());
    assert_eq!(a.fingerprint(&s1), b.fingerprint(&s1));
    assert_eq!(a.fingerprint(&s1).as_str().len(), 16);
    assert_ne!(a.fingerprint(&s1), a.fingerprint(&s2));
    assert_ne!(a.fingerprint(&s1), c.fingerprint(&s1));
}

#[test]
fn store_and_key_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    assert_send::<StoreKey>();
    assert_send::<StoreError>();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("store.sqlite3");
    let mut store = Store::open(&path, StoreKey::generate()).unwrap();
    let handle = std::thread::spawn(move || {
        sample(&mut store);
        store
    });
    let store = handle.join().unwrap();
    assert_eq!(store.sites().unwrap().len(), 2);
    assert_eq!(store.path(), path.as_path());
}
