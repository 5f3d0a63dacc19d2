//! The store key in the OS keychain (docs/reference/cli.md, "Store"): where a new store's key goes, that an
//! existing store's key is never made anew, `simsid store key --move-to-keychain` /
//! `--to-file`, and `status`'s `store_key`.
//!
//! The tests marked `#[ignore]` need a real Secret Service; `.ci/keychain-tests` runs them in a
//! private session bus with GNOME Keyring unlocked (`cargo test --test suite store::keychain
//! -- --ignored` inside `dbus-run-session`). The others run anywhere: the binary gets a session
//! bus address that leads nowhere, which is "no keychain answers".
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::common::*;
use crate::support::disk::*;

/// `env` with the store key left to the store (no `SIMSID_STORE_KEY`) and the log in `logs`.
fn stored_key_env(env: &BTreeMap<String, String>, logs: &Path) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.remove("SIMSID_STORE_KEY");
    env.insert(
        "SIMSID_LOG".into(),
        logs.join("simsid.log").display().to_string(),
    );
    env
}

/// `env` with a config file (in `dir`) holding `store_key = WORD`.
fn with_store_key(
    env: &BTreeMap<String, String>,
    dir: &Path,
    word: &str,
) -> BTreeMap<String, String> {
    let config = dir.join(format!("store-key-{word}.toml"));
    fs::write(
        &config,
        format!("[profile.default]\nstore_key = \"{word}\"\n"),
    )
    .unwrap();
    let mut env = env.clone();
    env.insert("SIMSID_CONFIG".into(), config.display().to_string());
    env
}

/// `env` with the session bus of this test process (where the Secret Service is); on Windows
/// the Credential Manager needs nothing.
fn with_keychain(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = env.clone();
    if cfg!(windows) {
        return env;
    }
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .expect("a session bus with a Secret Service: run these tests with .ci/keychain-tests");
    env.insert("DBUS_SESSION_BUS_ADDRESS".into(), bus);
    env
}

/// The store's id and recorded key location, read as a database tool would (no key needed).
fn key_record(store: &Path) -> (Option<String>, Option<String>) {
    let conn =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let value = |key: &str| -> Option<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get::<_, String>(0)
        })
        .ok()
    };
    (value("store_id"), value("key_location"))
}

/// Sets the recorded key location of the store at `store` (as an older or moved store has it).
#[cfg(not(windows))]
fn set_key_location(store: &Path, location: &str) {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('key_location', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [location],
    )
    .unwrap();
}

/// `status --json`'s `store_key`.
async fn status_store_key(env: &BTreeMap<String, String>) -> String {
    let o = simsid(env, &["status", "--json"]).await;
    json(&o)["store_key"]
        .as_str()
        .unwrap_or_else(|| panic!("no store_key in {}", stdout(&o)))
        .to_string()
}

/// The binary succeeded.
fn assert_ok(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(o));
}

/// `secret-tool` (libsecret) run against the test's session bus: the Secret Service's own view.
#[cfg(target_os = "linux")]
fn secret_tool(args: &[&str]) -> Output {
    std::process::Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool (libsecret-tools) runs")
}

/// The keychain's entry for the store `id` (service simsid), as `secret-tool lookup` gives it.
/// (An entry written here by hand carries the attributes `keyring` searches on too:
/// `username` and `target`.)
#[cfg(target_os = "linux")]
fn keychain_entry(id: &str) -> Option<String> {
    let o = secret_tool(&["lookup", "service", "simsid", "account", id]);
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[cfg(target_os = "linux")]
fn clear_keychain_entry(id: &str) {
    let _ = secret_tool(&["clear", "service", "simsid", "account", id]);
}

// Not on Windows: its Credential Manager always answers, so "no keychain" cannot be made
// there (a session bus address that leads nowhere is how it is made on Linux).
#[cfg(not(windows))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_keychain_a_new_store_keeps_its_key_in_a_file_and_says_why() {
    let sim = simulator(4, 81).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = stored_key_env(&env_for(&sim, &ts), logs.path());
    let o = simsid(&env, &["harvest"]).await;
    assert_ok(&o, "harvest");
    let err = stderr(&o);
    let notices: Vec<&str> = err.lines().filter(|l| l.contains("notice")).collect();
    assert_eq!(notices.len(), 1, "one line: {err}");
    assert!(
        notices[0].contains("no OS keychain answers") && notices[0].contains("store.sqlite3.key"),
        "{err}"
    );
    assert!(default_key(&ts).exists());
    let (id, location) = key_record(&ts.path());
    assert!(uuid::Uuid::parse_str(&id.unwrap()).is_ok());
    assert_eq!(location.as_deref(), Some("file"));
    assert_eq!(status_store_key(&env).await, "file");
    // The second run opens it with that file, silently.
    let o = simsid(&env, &["harvest"]).await;
    assert_ok(&o, "second harvest");
    assert!(!stderr(&o).contains("notice"), "{}", stderr(&o));
    sim.shutdown().await;
}

fn default_key(ts: &TempStore) -> std::path::PathBuf {
    simsid::store::default_key_path(&ts.path())
}

// Not on Windows: its Credential Manager always answers, so "no keychain" cannot be made
// there (a session bus address that leads nowhere is how it is made on Linux).
#[cfg(not(windows))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_key_keychain_with_no_keychain_is_exit_1_and_creates_nothing() {
    let sim = simulator(3, 82).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = with_store_key(
        &stored_key_env(&env_for(&sim, &ts), logs.path()),
        logs.path(),
        "keychain",
    );
    let o = simsid(&env, &["harvest"]).await;
    assert_refused(
        &o,
        1,
        &[
            "OS keychain",
            "no OS keychain answers",
            "nothing was created",
            "store_key = \"file\"",
        ],
    );
    assert!(!ts.path().exists(), "no store");
    assert!(!default_key(&ts).exists(), "no key file");
    assert_eq!(sim.control().stats().api_requests, 0, "nothing fetched");
    sim.shutdown().await;
}

// Not on Windows: its Credential Manager always answers, so "no keychain" cannot be made
// there (a session bus address that leads nowhere is how it is made on Linux).
#[cfg(not(windows))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keychain_store_with_no_keychain_is_exit_1_and_never_a_new_key() {
    let sim = simulator(3, 83).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let file_env = key_file_env(&env_for(&sim, &ts), &logs.path().join("log"));
    assert_ok(&simsid(&file_env, &["harvest"]).await, "harvest");
    // The store as it is once its key was moved to a keychain that now does not answer.
    set_key_location(&ts.path(), "keychain");
    let key = default_key(&ts);
    let kept = fs::read(&key).unwrap();
    fs::remove_file(&key).unwrap();
    let (id, _) = key_record(&ts.path());
    let id = id.unwrap();
    let before = fs::read(ts.path()).unwrap();
    for args in [&["sites"][..], &["harvest"][..]] {
        let o = simsid(&file_env, args).await;
        assert_refused(
            &o,
            1,
            &[
                "is in the OS keychain",
                &format!("account {id}"),
                "no OS keychain answers",
                "SIMSID_STORE_KEY",
                "a new key cannot open this store",
            ],
        );
    }
    assert!(!key.exists(), "no new key file");
    assert_eq!(fs::read(ts.path()).unwrap(), before, "store untouched");
    // `status` still says where the key lives, and that the store cannot be read.
    let o = simsid(&file_env, &["status", "--json"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["store_key"], "keychain");
    assert_eq!(json(&o)["store_ok"], false);
    // The key given in SIMSID_STORE_KEY opens it.
    let mut env = file_env.clone();
    env.insert(
        "SIMSID_STORE_KEY".into(),
        String::from_utf8(kept).unwrap().trim().to_string(),
    );
    assert_ok(&simsid(&env, &["sites"]).await, "sites with the key given");
    assert_eq!(status_store_key(&env).await, "env");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_key_settings_are_checked_and_status_says_where_the_key_lives() {
    let sim = simulator(3, 84).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    // SIMSID_STORE_KEY set: env.
    let env = env_for(&sim, &ts);
    assert_ok(&simsid(&env, &["harvest"]).await, "harvest");
    assert_eq!(status_store_key(&env).await, "env");
    assert_eq!(key_record(&ts.path()).1.as_deref(), Some("env"));
    let o = simsid(&env, &["status"]).await;
    assert!(stdout(&o).contains("store key:      env"), "{}", stdout(&o));
    // `env` without the variable, and an unknown word: configuration errors.
    let bare = stored_key_env(&env, logs.path());
    let o = simsid(&with_store_key(&bare, logs.path(), "env"), &["sites"]).await;
    assert_refused(&o, 2, &["store_key = \"env\"", "SIMSID_STORE_KEY"]);
    let o = simsid(&with_store_key(&bare, logs.path(), "cloud"), &["sites"]).await;
    assert_refused(
        &o,
        2,
        &["store_key `cloud`", "\"keychain\", \"file\" or \"env\""],
    );
    // A store made with `env` says so when the variable is missing.
    let o = simsid(&bare, &["sites"]).await;
    assert_refused(&o, 1, &["is given in SIMSID_STORE_KEY", "which is not set"]);
    // `simsid store key` says where it lives.
    let o = simsid(&env, &["store", "key"]).await;
    assert_ok(&o, "store key");
    assert!(
        stdout(&o).contains("is given in SIMSID_STORE_KEY"),
        "{}",
        stdout(&o)
    );
    sim.shutdown().await;
}

// Linux only: it looks at the Secret Service with libsecret's own client (`secret-tool`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run `.ci/keychain-tests` (cargo test --test suite store::keychain -- --ignored inside dbus-run-session with an unlocked gnome-keyring-daemon)"]
async fn a_new_store_key_lands_in_the_keychain_and_no_key_file_is_written() {
    let sim = simulator(4, 85).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = with_keychain(&stored_key_env(&env_for(&sim, &ts), logs.path()));
    let o = simsid(&env, &["harvest"]).await;
    assert_ok(&o, "harvest");
    assert!(!stderr(&o).contains("notice"), "{}", stderr(&o));
    let (id, location) = key_record(&ts.path());
    let id = id.expect("the store records its id");
    assert_eq!(location.as_deref(), Some("keychain"));
    assert_eq!(
        names(ts.dir.path())
            .iter()
            .filter(|n| n.ends_with(".key"))
            .count(),
        0
    );
    // The Secret Service's own view: service simsid, account = the store's id.
    let found = secret_tool(&["search", "--all", "service", "simsid", "account", &id]);
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&found.stdout),
        String::from_utf8_lossy(&found.stderr)
    );
    assert!(
        shown.contains(&format!("attribute.account = {id}"))
            && shown.contains("attribute.service = simsid"),
        "{shown}"
    );
    let key = keychain_entry(&id).expect("an entry");
    assert!(simsid::store::StoreKey::from_base64(&key.clone().into()).is_ok());
    // It opens the store, and everything says where it is.
    assert_ok(&simsid(&env, &["sites"]).await, "sites");
    assert_eq!(status_store_key(&env).await, "keychain");
    let o = simsid(&env, &["store", "key"]).await;
    assert!(stdout(&o).contains(&format!("OS keychain (service simsid, account {id})")));
    // The entry removed: exit 1 saying so, never a new key.
    clear_keychain_entry(&id);
    let o = simsid(&env, &["harvest"]).await;
    assert_refused(
        &o,
        1,
        &["holds no entry", "a new key cannot open this store"],
    );
    assert!(keychain_entry(&id).is_none(), "no new entry");
    assert!(!default_key(&ts).exists(), "no new key file");
    sim.shutdown().await;
}

// Linux only: it looks at the Secret Service with libsecret's own client (`secret-tool`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run `.ci/keychain-tests` (cargo test --test suite store::keychain -- --ignored inside dbus-run-session with an unlocked gnome-keyring-daemon)"]
async fn an_existing_store_with_a_key_file_keeps_it_where_a_keychain_answers() {
    let sim = simulator(3, 86).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let file_env = with_keychain(&key_file_env(&env_for(&sim, &ts), &logs.path().join("log")));
    assert_ok(&simsid(&file_env, &["harvest"]).await, "harvest");
    let key = fs::read(default_key(&ts)).unwrap();
    // As a store made before the keychain: no record of its id or key.
    let conn = rusqlite::Connection::open(ts.path()).unwrap();
    conn.execute(
        "DELETE FROM meta WHERE key IN ('store_id', 'key_location')",
        [],
    )
    .unwrap();
    drop(conn);
    // With the default setting and a keychain that answers, it keeps using its key file.
    let env = with_keychain(&stored_key_env(&env_for(&sim, &ts), logs.path()));
    assert_ok(&simsid(&env, &["harvest"]).await, "harvest");
    assert_ok(&simsid(&env, &["sites"]).await, "sites");
    assert_eq!(fs::read(default_key(&ts)).unwrap(), key);
    assert_eq!(status_store_key(&env).await, "file");
    let all = secret_tool(&["search", "--all", "service", "simsid"]);
    let (id, _) = key_record(&ts.path());
    if let Some(id) = id {
        assert!(!String::from_utf8_lossy(&all.stdout).contains(&id));
    }
    sim.shutdown().await;
}

// Linux only: it looks at the Secret Service with libsecret's own client (`secret-tool`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run `.ci/keychain-tests` (cargo test --test suite store::keychain -- --ignored inside dbus-run-session with an unlocked gnome-keyring-daemon)"]
async fn move_to_keychain_and_back_to_a_file_keeps_the_store_openable() {
    let sim = simulator(4, 87).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = with_keychain(&key_file_env(&env_for(&sim, &ts), &logs.path().join("log")));
    assert_ok(&simsid(&env, &["harvest"]).await, "harvest");
    let sites = stdout(&simsid(&env, &["sites", "--json"]).await);
    let key_text = fs::read_to_string(default_key(&ts)).unwrap();
    let (id, location) = key_record(&ts.path());
    let id = id.unwrap();
    assert_eq!(location.as_deref(), Some("file"));

    // To the keychain: the entry holds the same key, the file is gone, the store opens.
    let o = simsid(&env, &["store", "key", "--move-to-keychain"]).await;
    assert_ok(&o, "move to keychain");
    assert!(stdout(&o).contains("to the OS keychain"), "{}", stdout(&o));
    assert_eq!(keychain_entry(&id).as_deref(), Some(key_text.trim()));
    assert!(!default_key(&ts).exists(), "the key file is removed");
    assert_eq!(key_record(&ts.path()).1.as_deref(), Some("keychain"));
    assert_eq!(stdout(&simsid(&env, &["sites", "--json"]).await), sites);
    assert_eq!(status_store_key(&env).await, "keychain");
    // Again: nothing to do.
    let o = simsid(&env, &["store", "key", "--move-to-keychain"]).await;
    assert_ok(&o, "again");
    assert!(
        stdout(&o).contains("already in the OS keychain"),
        "{}",
        stdout(&o)
    );

    // Back to a file: the same key, owner-only; the entry is gone; the store opens.
    let o = simsid(&env, &["store", "key", "--to-file"]).await;
    assert_ok(&o, "to file");
    assert_eq!(
        fs::read_to_string(default_key(&ts)).unwrap().trim(),
        key_text.trim()
    );
    assert_eq!(mode(&default_key(&ts)), 0o600);
    assert!(keychain_entry(&id).is_none(), "the entry is removed");
    assert_eq!(key_record(&ts.path()).1.as_deref(), Some("file"));
    assert_eq!(stdout(&simsid(&env, &["sites", "--json"]).await), sites);
    assert_eq!(status_store_key(&env).await, "file");

    // A move interrupted after the entry was written (the store still records the file):
    // the file still opens it, and the move completes from there.
    let key = simsid::store::StoreKey::from_base64(&key_text.trim().to_string().into()).unwrap();
    let o = std::process::Command::new("secret-tool")
        .args([
            "store",
            "--label=simsid",
            "service",
            "simsid",
            "account",
            &id,
            "username",
            &id,
            "target",
            "default",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use secrecy::ExposeSecret;
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(key.to_base64().expose_secret().as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(o.status.success());
    assert_ok(&simsid(&env, &["sites"]).await, "sites from the file");
    assert_eq!(status_store_key(&env).await, "file");
    assert_ok(
        &simsid(&env, &["store", "key", "--move-to-keychain"]).await,
        "move completes",
    );
    assert!(!default_key(&ts).exists());
    assert_eq!(stdout(&simsid(&env, &["sites", "--json"]).await), sites);
    clear_keychain_entry(&id);
    sim.shutdown().await;
}

// Linux only: it looks at the Secret Service with libsecret's own client (`secret-tool`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run `.ci/keychain-tests` (cargo test --test suite store::keychain -- --ignored inside dbus-run-session with an unlocked gnome-keyring-daemon)"]
async fn a_keychain_entry_holding_another_key_is_never_replaced() {
    let sim = simulator(3, 88).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = with_keychain(&key_file_env(&env_for(&sim, &ts), &logs.path().join("log")));
    assert_ok(&simsid(&env, &["harvest"]).await, "harvest");
    let (id, _) = key_record(&ts.path());
    let id = id.unwrap();
    let other = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
    let o = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "printf %s '{other}' | secret-tool store --label=x service simsid account {id} \
                 username {id} target default"
            ),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = simsid(&env, &["store", "key", "--move-to-keychain"]).await;
    assert_refused(&o, 1, &["was not moved", "never replaced"]);
    assert_eq!(keychain_entry(&id).as_deref(), Some(other));
    assert!(default_key(&ts).exists(), "the key file stays");
    assert_ok(&simsid(&env, &["sites"]).await, "sites");
    clear_keychain_entry(&id);
    sim.shutdown().await;
}

// Linux only: it looks at the Secret Service with libsecret's own client (`secret-tool`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run `.ci/keychain-tests` (cargo test --test suite store::keychain -- --ignored inside dbus-run-session with an unlocked gnome-keyring-daemon)"]
async fn a_locked_keychain_is_exit_1_saying_unlock_it_and_never_a_new_key() {
    // Its own session bus and keyring (locking the shared one would stop the other tests).
    let sim = simulator(3, 89).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = stored_key_env(&env_for(&sim, &ts), logs.path());
    let keyring_home = tempfile::tempdir().unwrap();
    let script = logs.path().join("locked.sh");
    let mut text = String::from("set -u\n");
    for (k, v) in &env {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    text.push_str(&format!(
        "export HOME='{home}' XDG_DATA_HOME='{home}/data' XDG_RUNTIME_DIR='{home}/run'\n\
         mkdir -p \"$XDG_DATA_HOME\" \"$XDG_RUNTIME_DIR\" && chmod 700 \"$XDG_RUNTIME_DIR\"\n\
         eval \"$(printf pw | gnome-keyring-daemon --unlock --components=secrets --daemonize)\"\n\
         simsid='{bin}'\n\
         \"$simsid\" harvest >/dev/null; echo \"HARVEST=$?\"\n\
         dbus-send --session --print-reply --dest=org.freedesktop.secrets \
         /org/freedesktop/secrets org.freedesktop.Secret.Service.Lock \
         array:objpath:/org/freedesktop/secrets/collection/login >/dev/null; echo \"LOCK=$?\"\n\
         \"$simsid\" sites 2>&1; echo \"SITES=$?\"\n\
         \"$simsid\" harvest 2>&1; echo \"HARVEST_AGAIN=$?\"\n",
        home = keyring_home.path().display(),
        bin = assert_cmd::cargo::cargo_bin("simsid").display()
    ));
    fs::write(&script, text).unwrap();
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(["120", "dbus-run-session", "--", "sh"])
            .arg(&script)
            .output()
            .expect("dbus-run-session runs")
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    for line in ["HARVEST=0", "LOCK=0", "SITES=1", "HARVEST_AGAIN=1"] {
        assert!(out.contains(line), "{line} not in: {out}");
    }
    assert!(
        out.contains("the OS keychain is locked or refused access")
            && out.contains("unlock the keychain")
            && out.contains("a new key cannot open this store"),
        "{out}"
    );
    assert_eq!(key_record(&ts.path()).1.as_deref(), Some("keychain"));
    assert!(!default_key(&ts).exists(), "no key file, never a new key");
    sim.shutdown().await;
}

/// The keychain round trip seen through simsid alone (no platform tool): on Linux against
/// the Secret Service (`.ci/keychain-tests`), on Windows against the Credential Manager (the
/// Windows leg, under Wine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(windows),
    ignore = "needs a Secret Service: run `.ci/keychain-tests` (cargo test --test suite store::keychain -- --ignored inside dbus-run-session with an unlocked gnome-keyring-daemon)"
)]
async fn the_key_goes_to_the_os_keychain_and_back_through_simsid_alone() {
    let sim = simulator(3, 90).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let env = with_keychain(&stored_key_env(&env_for(&sim, &ts), logs.path()));
    assert_ok(&simsid(&env, &["harvest"]).await, "harvest");
    assert!(!default_key(&ts).exists(), "no key file");
    assert_eq!(status_store_key(&env).await, "keychain");
    let (id, _) = key_record(&ts.path());
    let o = simsid(&env, &["store", "key"]).await;
    assert!(
        stdout(&o).contains(&format!("account {}", id.unwrap())),
        "{}",
        stdout(&o)
    );
    let sites = stdout(&simsid(&env, &["sites", "--json"]).await);
    assert!(sites.starts_with('['), "{sites}");
    assert_ok(
        &simsid(&env, &["store", "key", "--to-file"]).await,
        "to file",
    );
    assert!(default_key(&ts).exists());
    assert_eq!(status_store_key(&env).await, "file");
    assert_eq!(stdout(&simsid(&env, &["sites", "--json"]).await), sites);
    assert_ok(
        &simsid(&env, &["store", "key", "--move-to-keychain"]).await,
        "to keychain",
    );
    assert!(!default_key(&ts).exists());
    assert_eq!(status_store_key(&env).await, "keychain");
    assert_eq!(stdout(&simsid(&env, &["sites", "--json"]).await), sites);
    // Leave no entry behind.
    assert_ok(&simsid(&env, &["store", "key", "--to-file"]).await, "tidy");
    sim.shutdown().await;
}
