//! Store files that are not safe to use are refused, never repaired silently (docs/reference/cli.md
//! "Store safety"): files others may change or read, empty or foreign files and
//! directories, a deleted key file (an error, not a new key), and two stores in one
//! directory that must not share a key. The real binary against the in-process simulator.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::disk::*;

use std::fs;
use std::path::Path;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_others_may_change_or_read_are_refused() {
    let sim = simulator(6, 51).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = key_file_env(&env_for(&sim, &ts), &logs.path().join("log"));
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let store = ts.path();
    let key = ts.dir.path().join("store.sqlite3.key");
    assert_eq!(mode(&key), 0o600);
    let dir = ts.dir.path().to_path_buf();
    let before = fs::read(&store).unwrap();

    let cases: [(&Path, u32, u32, &str, &str); 4] = [
        (
            &store,
            0o666,
            0o600,
            "store file",
            "writable by group or others",
        ),
        (
            &key,
            0o644,
            0o600,
            "key file",
            "readable by group or others",
        ),
        (
            &key,
            0o660,
            0o600,
            "key file",
            "writable by group or others",
        ),
        (
            &dir,
            0o1777,
            0o700,
            "store directory",
            "writable by group or others",
        ),
    ];
    for (path, loose, tight, what, why) in cases {
        chmod(path, loose);
        for args in [&["sites"][..], &["harvest"][..]] {
            let o = simsid(&env, args).await;
            assert_refused(&o, 1, &[what, &path.display().to_string(), why]);
        }
        chmod(path, tight);
    }
    assert_eq!(
        fs::read(&store).unwrap(),
        before,
        "refused runs wrote nothing"
    );

    // A file of another user is refused whatever its mode.
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&key, Some(65534), None).unwrap();
        let o = simsid(&env, &["sites"]).await;
        assert_refused(&o, 1, &["key file", "belongs to uid 65534"]);
        std::os::unix::fs::chown(&key, Some(0), None).unwrap();
    } else {
        // Not root: "/" belongs to root, so a store directly in it is refused.
        let o = simsid(
            &with_store(&env, Path::new("/simsid-test.sqlite3")),
            &["sites"],
        )
        .await;
        assert_refused(&o, 1, &["store directory", "belongs to uid 0"]);
    }
    assert_eq!(simsid(&env, &["sites"]).await.status.code(), Some(0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_or_foreign_store_files_and_directories_are_errors() {
    let sim = simulator(4, 72).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let empty = ts.dir.path().join("empty.sqlite3");
    fs::write(&empty, b"").unwrap();
    chmod(&empty, 0o600);
    let o = simsid(&with_store(&env, &empty), &["sites"]).await;
    assert_refused(&o, 1, &[&empty.display().to_string(), "empty"]);
    let text = ts.dir.path().join("notes.sqlite3");
    fs::write(&text, "these are notes, not a database; ".repeat(40)).unwrap();
    chmod(&text, 0o600);
    let o = simsid(&with_store(&env, &text), &["sites"]).await;
    assert_refused(&o, 1, &[&text.display().to_string(), "not"]);
    assert_eq!(fs::read(&text).unwrap().len(), 33 * 40, "left untouched");

    // --store DIR: refused, and no key appears beside (outside) the directory.
    let dir = ts.dir.path().join("stores");
    fs::create_dir(&dir).unwrap();
    let mut file_env = env.clone();
    file_env.remove("SIMSID_STORE_KEY");
    for args in [&["sites"][..], &["harvest"][..]] {
        let o = simsid(&with_store(&file_env, &dir), args).await;
        assert_refused(&o, 1, &["is a directory", &dir.display().to_string()]);
    }
    assert!(names(&dir).is_empty());
    assert!(
        !names(ts.dir.path()).iter().any(|n| n.ends_with(".key")),
        "{:?}",
        names(ts.dir.path())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_file_is_an_error_not_a_new_key() {
    let sim = simulator(5, 73).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = key_file_env(&env_for(&sim, &ts), &logs.path().join("log"));
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let key = ts.dir.path().join("store.sqlite3.key");
    fs::remove_file(&key).unwrap();
    for args in [&["sites"][..], &["harvest"][..]] {
        let o = simsid(&env, args).await;
        assert_refused(&o, 1, &["key file", &key.display().to_string(), "missing"]);
    }
    assert!(!key.exists(), "no new key replaced the lost one");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_in_one_directory_do_not_share_a_key() {
    let sim = simulator(3, 74).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = key_file_env(&env_for(&sim, &ts), &logs.path().join("log"));
    let a = ts.dir.path().join("cache.a");
    let b = ts.dir.path().join("cache.b");
    for store in [&a, &b] {
        let o = simsid(&with_store(&env, store), &["harvest"]).await;
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let ka = fs::read(ts.dir.path().join("cache.a.key")).unwrap();
    let kb = fs::read(ts.dir.path().join("cache.b.key")).unwrap();
    assert_ne!(ka, kb);
    assert!(!ts.dir.path().join("cache.key").exists());
    sim.shutdown().await;
}
