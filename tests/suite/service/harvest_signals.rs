//! docs/reference/cli.md "Signals, services and monitoring": SIGTERM, SIGHUP and SIGINT sent to the real
//! binary in the middle of a harvest cancel it as Ctrl-C does — nothing committed, the run
//! recorded in `history` as `cancelled` with the signal, the lock released, exit 143 / 129 /
//! 130.

use crate::support::common;

use std::time::Duration;

use common::*;
use rustix::process::{kill_process, Pid, Signal};

/// Starts `simsid harvest --json` against a slow simulator, waits until its Clients calls
/// are in flight (the simulator's own request counter, not a sleep), sends `signal`, and
/// returns the finished process's output.
async fn harvest_then_signal(
    sim: &simsid_simulator::Simulator,
    env: &std::collections::BTreeMap<String, String>,
    signal: Signal,
) -> std::process::Output {
    sim.control().reset_stats();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(sandboxed_command(home.path()));
    cmd.envs(env)
        .args(["harvest", "--json", "--concurrency", "2"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("simsid starts");
    // The site list and a few Clients calls: the harvest is under way, far from done.
    let mut started = false;
    for _ in 0..600 {
        if sim.control().stats().api_requests >= 4 {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(started, "the harvest never reached the simulator");
    let pid = Pid::from_raw(child.id().expect("running") as i32).expect("a pid");
    kill_process(pid, signal).expect("signal sent");
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the harvest stops soon after the signal")
        .expect("simsid ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_signals_cancel_the_harvest_record_it_and_release_the_lock() {
    // 400 sites at ~40 ms each, two at a time: several seconds of harvest.
    let sim = slow_simulator(400, 17, 40).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);

    for (signal, name, code) in [
        (Signal::TERM, "SIGTERM", 143),
        (Signal::HUP, "SIGHUP", 129),
        (Signal::INT, "SIGINT", 130),
    ] {
        let out = harvest_then_signal(&sim, &env, signal).await;
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name}: exit code; stderr: {}",
            stderr(&out)
        );
        let doc = json(&out);
        assert_eq!(doc["status"], "cancelled", "{name}");
        assert_eq!(doc["signal"], name);
        assert_eq!(doc["scope"], "full");
        assert!(
            stderr(&out).contains(&format!("cancelled by {name}; nothing committed")),
            "{name}: {}",
            stderr(&out)
        );

        // Nothing committed: no site cached.
        let sites = simsid(&env, &["sites", "--json"]).await;
        assert_eq!(sites.status.code(), Some(0), "{}", stderr(&sites));
        assert_eq!(
            json(&sites),
            serde_json::json!([]),
            "{name}: nothing committed"
        );

        // Recorded, newest first, with the signal.
        let history = simsid(&env, &["history", "--json"]).await;
        let runs = json(&history);
        let last = &runs[0];
        assert_eq!(last["run_id"], doc["run_id"]);
        assert_eq!(last["status"], "cancelled");
        assert_eq!(last["signal"], name);
        assert_eq!(last["error"], format!("cancelled by {name}"));
        assert_eq!(last["scope"], "full");
        assert_eq!(last["credentials_total"], 0);
    }
    let runs = json(&simsid(&env, &["history", "--json"]).await);
    assert_eq!(
        runs.as_array().unwrap().len(),
        3,
        "one record per cancelled run"
    );

    // The lock was released: the next harvest runs to the end.
    let again = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let doc = json(&again);
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["scope"], "full");
    assert_eq!(doc["signal"], serde_json::Value::Null);
    sim.shutdown().await;
}
