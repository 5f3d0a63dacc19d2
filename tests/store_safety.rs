//! Store safety (issue 8: items 4, 5, 7, 8, 12 and the removal guard of 14; cli.md "Store
//! safety" and "A harvest never empties the cache by accident"), against the real binary and
//! the in-process simulator, and the console's services over the real store.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

mod common;
mod vault_support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;
use simsid::config::{Dirs, Flags};
use simsid::domain::{Credential, OrgId, Site};
use simsid::harvest::{FetchError, HarvestEnd, HarvestOptions, RetryPolicy, Source};
use simsid::ops::harvest_and_commit;
use simsid::ops::Context;
use simsid::sims::SimsClient;
use simsid::simulator::{Fault, SimControl};
use simsid::store::Store;
use simsid::tui::Services;
use tokio_util::sync::CancellationToken;

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// The file names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `env` with the store key taken from the key file beside the store, and the log in `log`.
fn key_file_env(env: &BTreeMap<String, String>, log: &Path) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.remove("SIMSID_STORE_KEY");
    env.insert("SIMSID_LOG".into(), log.display().to_string());
    env
}

fn with_store(env: &BTreeMap<String, String>, store: &Path) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.insert("SIMSID_STORE".into(), store.display().to_string());
    env
}

/// Polls `done` until it holds; the 60 s bound is only a last guard against a hang.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting until {what}");
}

fn quick() -> HarvestOptions {
    HarvestOptions {
        concurrency: 4,
        retry: RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            retry_after_cap: Duration::from_secs(1),
        },
    }
}

fn assert_refused(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}

// ---------- item 4: one harvest at a time ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_a_second_harvest_exits_6_at_once_naming_the_running_one() {
    let sim = simulator(12, 41).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));

    // The first harvest's Clients calls hang until it is interrupted: it holds the lock.
    sim.control().set_global_fault(Some(Fault::Hang), None);
    sim.control().reset_stats();
    let control: SimControl = sim.control().clone();
    let env2 = env.clone();
    let (first_pid, second, read, first) = tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().unwrap();
        let child = sandboxed_command(home.path())
            .envs(&env2)
            .args(["harvest"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Site list answered and a Clients call hanging: well inside the run.
        wait_until("the first harvest is fetching", || {
            let s = control.stats();
            s.api_requests >= 2 && s.in_flight >= 1
        });
        let second = simsid_blocking(&env2, &["harvest".to_string()]);
        let read = simsid_blocking(&env2, &["sites".to_string(), "--json".to_string()]);
        let pid = child.id();
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        (pid, second, read, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    assert_refused(
        &second,
        6,
        &[
            "another harvest holds the store",
            &format!("pid {first_pid}"),
            "started 20",
            &ts.path().display().to_string(),
        ],
    );
    assert_eq!(read.status.code(), Some(0), "reads are never blocked");
    assert_eq!(json(&read).as_array().unwrap().len(), 12);
    assert_eq!(first.status.code(), Some(130), "{}", stderr(&first));

    // The lock left with its holder: the next harvest runs.
    sim.control().set_global_fault(None, None);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    sim.shutdown().await;
}

/// A source that lets another writer commit to the store while this run fetches (a harvest
/// that ignored the lock, say), then answers from the simulator.
#[derive(Clone)]
struct CommitsUnderTheRun {
    client: SimsClient,
    other: Arc<Mutex<Option<Store>>>,
}

impl Source for CommitsUnderTheRun {
    async fn sites(&self) -> Result<Vec<Site>, FetchError> {
        let other = self.other.lock().unwrap().take();
        if let Some(mut store) = other {
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let end = harvest_and_commit(
                &mut store,
                self.client.clone(),
                quick(),
                "other",
                tx,
                CancellationToken::new(),
            )
            .await
            .unwrap();
            assert!(matches!(end, HarvestEnd::Finished(_)));
        }
        Source::sites(&self.client).await
    }
    async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, FetchError> {
        Source::clients(&self.client, org).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item4_a_run_whose_store_changed_under_it_commits_nothing() {
    let sim = simulator(10, 42).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let client = client(&sim, Duration::from_secs(10));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    harvest_and_commit(
        &mut store,
        client.clone(),
        quick(),
        "t",
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    // A secret rotates; another writer harvests it while this run is fetching.
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| !s.clients.is_empty())
        .unwrap();
    let cid = site.clients[0].client_id.clone();
    assert!(sim.control().rotate_secret(&site.org_id, &cid));
    let source = CommitsUnderTheRun {
        client,
        other: Arc::new(Mutex::new(Some(ts.open()))),
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = harvest_and_commit(
        &mut store,
        source,
        quick(),
        "t",
        tx,
        CancellationToken::new(),
    )
    .await
    .map_err(simsid::cli::CliError::from)
    .unwrap_err();
    assert_eq!(err.code, 6, "{}", err.message);
    assert!(
        err.message.contains("store changed while this harvest ran"),
        "{}",
        err.message
    );
    // Only the other writer's run was recorded, and its diff named the rotation.
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0]
        .diff
        .credentials_rotated
        .iter()
        .any(|r| r.organisation_id == site.org_id && r.client_id == cid));
    sim.shutdown().await;
}

// ---------- item 5: files that are ours ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item5_files_others_may_change_or_read_are_refused() {
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

// ---------- item 7: reading creates nothing ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item7_read_only_commands_never_create_a_store_or_a_key() {
    let sim = simulator(4, 71).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let typo = ts.dir.path().join("typo").join("store.sqlite3");
    let env = with_store(
        &key_file_env(&env_for(&sim, &ts), &logs.path().join("log")),
        &typo,
    );
    for args in [
        &["sites"][..],
        &["show", "1001"][..],
        &["history"][..],
        &["audit"][..],
        &["export", "--format", "json"][..],
        &["verify", "1001"][..],
    ] {
        let o = simsid(&env, args).await;
        assert_refused(&o, 1, &["no store at", &typo.display().to_string()]);
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    }
    assert!(
        names(ts.dir.path()).is_empty(),
        "{:?}",
        names(ts.dir.path())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_in_vault_mode_create_nothing_either() {
    let sim = simulator(4, 75).await;
    let bao = vault_support::shared().await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let typo = ts.dir.path().join("typo").join("store.sqlite3");
    let mut env = with_store(
        &key_file_env(&env_for(&sim, &ts), &logs.path().join("log")),
        &typo,
    );
    env.insert("SIMSID_SECRETS".into(), "vault".into());
    env.insert("VAULT_ADDR".into(), bao.addr.clone());
    env.insert("VAULT_TOKEN".into(), vault_support::ROOT_TOKEN.into());
    env.insert("SIMSID_VAULT_PREFIX".into(), "t/readsnothing".into());
    for args in [
        &["sites"][..],
        &["show", "1001"][..],
        &["show", "1001", "--reveal"][..],
        &["history"][..],
        &["audit"][..],
        &["exposure"][..],
        &["export", "--format", "json"][..],
        &["verify", "1001"][..],
        &["verify", "--all"][..],
        &["verify", "--exposed"][..],
    ] {
        let o = simsid(&env, args).await;
        assert_refused(&o, 1, &["no store at", &typo.display().to_string()]);
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        assert!(
            names(ts.dir.path()).is_empty(),
            "{args:?} created {:?}",
            names(ts.dir.path())
        );
    }
    // Nor anything in the vault.
    assert!(bao.keys("t/readsnothing").await.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item7_empty_or_foreign_store_files_and_directories_are_errors() {
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
async fn item7_a_deleted_key_file_is_an_error_not_a_new_key() {
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
async fn item7_two_stores_in_one_directory_do_not_share_a_key() {
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

/// The console's services over a real store path, with the simulator's settings.
fn console_services(
    env: &BTreeMap<String, String>,
    home: &Path,
) -> simsid::cli::console::ConsoleServices {
    let dirs = Dirs {
        config_dir: home.join("config"),
        data_dir: home.join("data"),
        state_dir: home.join("state"),
    };
    let settings = simsid::config::resolve(&Flags::default(), env, &dirs).unwrap();
    simsid::cli::console::ConsoleServices::new(Context::new(settings), None, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item7_the_console_opens_on_a_missing_store_and_its_harvest_honours_the_lock() {
    let sim = simulator(7, 75).await;
    let ts = TempStore::new();
    let home = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let env = key_file_env(&env_for(&sim, &ts), &logs.path().join("log"));
    let services = console_services(&env, home.path());
    let overview = services.overview().unwrap();
    assert!(overview.sites.is_empty() && overview.last_run.is_none());
    assert!(names(ts.dir.path()).is_empty(), "nothing created until R");

    // Another harvest holds the store: the console's harvest says so and does nothing.
    let lock = simsid::store::HarvestLock::acquire(&ts.path(), chrono::Utc::now()).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = services
        .harvest(tx, CancellationToken::new().into())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("another harvest holds the store"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(lock);

    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let end = services
        .harvest(tx, CancellationToken::new().into())
        .await
        .unwrap();
    assert!(matches!(end, HarvestEnd::Finished(_)));
    assert_eq!(services.overview().unwrap().sites.len(), 7);
    sim.shutdown().await;
}

// ---------- item 8: export and log files ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item8_export_output_never_follows_a_symlink_and_leaves_0600() {
    let sim = simulator(4, 81).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let out = tempfile::tempdir().unwrap();
    let victim = out.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    chmod(&victim, 0o644);
    let link = out.path().join("inventory.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = simsid(
        &env,
        &[
            "export",
            "--format",
            "json",
            "--output",
            link.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(mode(&victim), 0o644);
    let meta = fs::symlink_metadata(&link).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced, not followed"
    );
    assert_eq!(mode(&link), 0o600);
    let doc: Value = serde_json::from_slice(&fs::read(&link).unwrap()).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 4);

    // An existing wider file ends 0600 too, and no temporary file is left behind.
    let csv = out.path().join("inventory.csv");
    fs::write(&csv, "old").unwrap();
    chmod(&csv, 0o644);
    let o = simsid(
        &env,
        &[
            "export",
            "--format",
            "csv",
            "--output",
            csv.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(mode(&csv), 0o600);
    assert!(fs::read_to_string(&csv)
        .unwrap()
        .starts_with("organisation_id"));
    assert_eq!(
        names(out.path()),
        ["inventory.csv", "inventory.json", "victim"]
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item8_an_existing_log_file_with_a_wider_mode_is_tightened_to_0600() {
    let sim = simulator(3, 82).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    fs::write(ts.log(), "").unwrap();
    chmod(&ts.log(), 0o644);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(mode(&ts.log()), 0o600);
    let err = stderr(&o);
    assert!(
        err.contains("tightened") && err.contains(&ts.log().display().to_string()),
        "{err}"
    );
    sim.shutdown().await;
}

// ---------- item 12: a full disk ----------

/// Runs the binary in a private mount namespace (`unshare`, as root or in a user namespace)
/// where `full` is a small tmpfs filled to the last byte; `prepare` (shell) runs first,
/// after the mount and before the filling.
fn on_a_full_disk(
    env: &BTreeMap<String, String>,
    full: &Path,
    prepare: &str,
    args: &[&str],
) -> Output {
    let home = tempfile::tempdir().unwrap();
    let script = format!(
        "set -e\nmount -t tmpfs -o size=512k,mode=0700 tmpfs '{dir}'\n{prepare}\n\
         cat /dev/zero > '{dir}/filler' 2>/dev/null || true\nexec \"$@\"\n",
        dir = full.display()
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        &script,
        "sh",
    ])
    .arg(assert_cmd::cargo::cargo_bin("simsid"))
    .args(args)
    .env_clear()
    .env("HOME", home.path())
    .env("XDG_STATE_HOME", home.path().join("state"))
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .envs(env)
    .stdin(Stdio::null());
    let o = cmd.output().expect("unshare runs");
    assert!(
        !stderr(&o).contains("unshare:") && !stderr(&o).contains("mount:"),
        "a private tmpfs is needed for the disk-full tests (unshare and mount, as root or \
         with user namespaces): {}",
        stderr(&o)
    );
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item12_a_full_disk_is_named_as_such_with_the_file() {
    let sim = simulator(6, 121).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let org = json(&simsid(&env, &["sites", "--json"]).await)[0]["organisation_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Everything committed into the main file, so a copy is the whole store.
    drop(ts.open());
    let full = tempfile::tempdir().unwrap();
    let on_full = full.path().join("store.sqlite3");
    let copy = format!(
        "cp '{}' '{}'\nchmod 600 '{}'",
        ts.path().display(),
        on_full.display(),
        on_full.display()
    );
    let full_env = with_store(&env, &on_full);
    // Each command on a copy of the store on the full disk.
    for args in [
        vec!["harvest"],
        vec!["sites"],
        vec!["show", &org, "--reveal"],
        vec!["export", "--format", "json"],
    ] {
        let o =
            tokio::task::block_in_place(|| on_a_full_disk(&full_env, full.path(), &copy, &args));
        assert_refused(&o, 1, &["disk is full", &on_full.display().to_string()]);
    }
    // export --output onto the full disk, the store elsewhere.
    let target = full.path().join("inventory.json");
    let o = tokio::task::block_in_place(|| {
        on_a_full_disk(
            &env,
            full.path(),
            "true",
            &[
                "export",
                "--format",
                "json",
                "--output",
                target.to_str().unwrap(),
            ],
        )
    });
    assert_refused(&o, 1, &["disk is full", &target.display().to_string()]);
    sim.shutdown().await;
}

// ---------- item 14: the removal guard ----------

fn credential_total(sites: &Value) -> u64 {
    sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["credential_count"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item14_a_mass_removal_is_held_and_accept_removals_takes_it() {
    let sim = simulator(30, 141).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let before = json(&simsid(&env, &["sites", "--json"]).await);
    let cached = credential_total(&before);
    assert!(cached > 10, "{cached}");

    // Every Clients call answers 403 (a narrowed scope, say): read as "no credentials".
    sim.control().set_global_fault(Some(Fault::Forbidden), None);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "partial");
    assert_eq!(
        run["diff"]["credentials_removed"].as_array().unwrap().len(),
        0
    );
    assert_eq!(run["credentials_total"].as_u64().unwrap(), cached);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("remove {cached} of the {cached}")),
        "{error}"
    );
    assert!(
        error.contains("simsid harvest --accept-removals"),
        "{error}"
    );
    let held = json(&simsid(&env, &["sites", "--json"]).await);
    assert_eq!(credential_total(&held), cached, "the credentials stay");
    for s in held.as_array().unwrap() {
        if s["credential_count"].as_u64().unwrap() > 0 {
            assert_eq!(s["stale"], true, "{s}");
            assert_eq!(s["last_error"], "removal held", "{s}");
        }
    }
    // The text form says it too.
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("--accept-removals"), "{}", stdout(&o));

    // Accepting takes them.
    let o = simsid(&env, &["harvest", "--json", "--accept-removals"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(
        run["diff"]["credentials_removed"].as_array().unwrap().len() as u64,
        cached
    );
    assert_eq!(run["credentials_total"], 0);
    assert_eq!(
        credential_total(&json(&simsid(&env, &["sites", "--json"]).await)),
        0
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item14_sites_leaving_en_masse_are_held_too_but_one_school_leaves() {
    let sim = simulator(30, 142).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let with_creds: Vec<OrgId> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| !s.clients.is_empty())
        .map(|s| s.org_id)
        .collect();
    // One school leaves: below the threshold, removed as usual.
    assert!(sim.control().remove_site(&with_creds[0]));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        json(&o)["diff"]["sites_removed"].as_array().unwrap().len(),
        1
    );
    // A dozen leave at once: held, still listed.
    for org in &with_creds[1..13] {
        assert!(sim.control().remove_site(org));
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert!(run["diff"]["sites_removed"].as_array().unwrap().is_empty());
    assert!(run["error"].as_str().unwrap().contains("12 site(s)"));
    let sites = json(&simsid(&env, &["sites", "--json", "--status", "stale"]).await);
    assert_eq!(sites.as_array().unwrap().len(), 12);
    sim.shutdown().await;
}
