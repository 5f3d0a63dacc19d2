//! Files the binary writes beside the store (docs/reference/cli.md "Store safety"): an export never
//! follows a symlink and is left 0600, an existing log file with a wider mode is tightened
//! to 0600, and a full disk is named as such with the file.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::disk::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};

use common::*;
use serde_json::Value;

// ---------- export and log files ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_output_never_follows_a_symlink_and_is_left_0600() {
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
    let o = export_to(&env, "json", &link).await;
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
    let o = export_to(&env, "csv", &csv).await;
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
async fn an_existing_log_file_with_a_wider_mode_is_tightened_to_0600() {
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

// ---------- a full disk ----------

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
async fn a_full_disk_is_named_as_such_with_the_file() {
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
