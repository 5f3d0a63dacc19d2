//! One writer at a time (docs/reference/cli.md "Store safety"): a second harvest exits 6 at once naming the
//! running one, and the console opens on a missing store and its harvest honours the same
//! lock (that a run whose store changed under it commits nothing, which the lock keeps
//! every front end from meeting, is a unit test of `ops::harvest`). The real binary and the
//! console's services over a real store, against the in-process simulator.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::disk::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use simsid::config::{Dirs, Flags};
use simsid::harvest::HarvestEnd;
use simsid::ops::Context;
use simsid::tui::Services;
use simsid_simulator::{Fault, SimControl};
use tokio_util::sync::CancellationToken;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_harvest_exits_6_at_once_naming_the_running_one() {
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
        #[allow(unused_mut)] // ended through `&mut` on Windows
        let mut child = sandboxed_command(home.path())
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
        // Unix: SIGINT, which the harvest answers by cancelling (exit 130). Windows: no
        // console event can be sent to one process, so it is ended (TerminateProcess), and
        // the system releases its lock all the same.
        #[cfg(not(windows))]
        {
            let status = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        #[cfg(windows)]
        child.kill().unwrap();
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
    #[cfg(not(windows))]
    assert_eq!(first.status.code(), Some(130), "{}", stderr(&first));
    #[cfg(windows)]
    assert!(!first.status.success(), "{}", stderr(&first));

    // The lock left with its holder: the next harvest runs.
    sim.control().set_global_fault(None, None);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
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
async fn the_console_opens_on_a_missing_store_and_its_harvest_honours_the_lock() {
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
