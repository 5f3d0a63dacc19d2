//! The real `simsid` binary against the in-process simulator: commands, JSON shapes, exit
//! codes, audit records, wrong key, and crash safety under SIGKILL.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use serde_json::Value;
use simsid_simulator::Fault;

fn org_with_dfe(sites: &Value) -> (String, String) {
    let s = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dfe_code"].is_string() && s["credential_count"].as_u64().unwrap_or(0) >= 1)
        .expect("a site with a DfE code and credentials");
    (
        s["organisation_id"].as_str().unwrap().to_string(),
        s["dfe_code"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_json_and_exit_codes() {
    let sim = simulator(30, 11).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);

    // harvest --json
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    for key in [
        "run_id",
        "status",
        "started_at",
        "finished_at",
        "sites_total",
        "sites_harvested",
        "sites_failed",
        "credentials_total",
        "diff",
        "failures",
        "error",
    ] {
        assert!(run.get(key).is_some(), "harvest --json lacks {key}: {run}");
    }
    assert_eq!(run["status"], "complete");
    assert_eq!(run["sites_total"], 30);
    assert!(run["started_at"].as_str().unwrap().ends_with('Z'));
    for key in [
        "sites_added",
        "sites_removed",
        "authorisation_changed",
        "credentials_added",
        "credentials_removed",
        "credentials_rotated",
    ] {
        assert!(run["diff"][key].is_array(), "diff lacks {key}");
    }

    // sites --json
    let o = simsid(&env, &["sites", "--json"]).await;
    assert_eq!(o.status.code(), Some(0));
    let sites = json(&o);
    assert_eq!(sites.as_array().unwrap().len(), 30);
    let first = &sites[0];
    for key in [
        "organisation_id",
        "name",
        "dfe_code",
        "deni_number",
        "authorised",
        "credential_count",
        "stale",
        "last_error",
    ] {
        assert!(first.get(key).is_some(), "sites --json lacks {key}");
    }
    assert!(first.get("secret").is_none());
    let (org, dfe) = org_with_dfe(&sites);
    assert_eq!(org, org.to_uppercase());

    // --status and --filter
    let o = simsid(&env, &["sites", "--json", "--status", "unauthorised"]).await;
    let unauth = json(&o);
    assert!(unauth
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["authorised"] != Value::Bool(true)));
    let o = simsid(&env, &["sites", "--json", "--filter", &dfe]).await;
    assert!(json(&o)
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["organisation_id"] == org.as_str()));
    let o = simsid(&env, &["sites", "--filter", "re:("]).await;
    assert_eq!(o.status.code(), Some(2));
    let o = simsid(&env, &["sites", "--status", "bogus"]).await;
    assert_eq!(o.status.code(), Some(2));

    // show by DfE, lower-case id, braced id; masked
    for query in [
        dfe.clone(),
        org.to_lowercase(),
        format!("{{{}}}", org.to_lowercase()),
    ] {
        let o = simsid(&env, &["show", &query, "--json"]).await;
        assert_eq!(o.status.code(), Some(0), "show {query}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["organisation_id"], org.as_str());
        let creds = v["credentials"].as_array().unwrap();
        assert!(!creds.is_empty());
        for c in creds {
            assert_eq!(c["secret"], Value::Null);
            assert_eq!(c["fingerprint"].as_str().unwrap().len(), 16);
            for key in ["client_id", "description", "first_seen", "last_changed"] {
                assert!(c.get(key).is_some(), "show lacks {key}");
            }
        }
    }
    let o = simsid(&env, &["show", "00000000-0000-0000-0000-000000000000"]).await;
    assert_eq!(o.status.code(), Some(4));
    let o = simsid(&env, &["show", "no-such-school"]).await;
    assert_eq!(o.status.code(), Some(4));

    // show --reveal: the secret the simulator serves, and an audit record.
    let o = simsid(&env, &["show", &org, "--json", "--reveal"]).await;
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    let client_id = v["credentials"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let revealed = v["credentials"][0]["secret"].as_str().unwrap().to_string();
    let served = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.org_id.as_str() == org)
        .unwrap()
        .clients
        .into_iter()
        .find(|c| c.client_id == client_id)
        .unwrap();
    assert_eq!(
        revealed,
        secrecy::ExposeSecret::expose_secret(&served.secret)
    );
    let o = simsid(&env, &["audit", "--json"]).await;
    let audit = json(&o);
    let reveal = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "reveal")
        .expect("a reveal record");
    assert_eq!(reveal["organisation_id"], org.as_str());
    assert_eq!(reveal["fingerprint"], v["credentials"][0]["fingerprint"]);
    assert!(!reveal["user"].as_str().unwrap().is_empty());
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "harvest"));

    // verify: works, then a withdrawn credential is refused (exit 5).
    let o = simsid(&env, &["verify", &org, "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["organisation_id"], org.as_str());
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["ok"] == true && r["error"].is_null()));
    let oid = simsid::domain::OrgId::parse(&org).unwrap();
    assert!(sim.control().withdraw_client(&oid.to_sim(), &client_id));
    let o = simsid(&env, &["verify", &dfe, "--json"]).await;
    assert_eq!(o.status.code(), Some(5));
    let v = json(&o);
    let r = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["client_id"] == client_id.as_str())
        .unwrap();
    assert_eq!(r["ok"], false);
    assert!(r["error"].is_string());
    let o = simsid(&env, &["audit", "--json"]).await;
    assert!(json(&o)
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "verify"));

    // A harvest now reports the withdrawal; history lists both runs.
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0));
    let run = json(&o);
    assert_eq!(
        run["diff"]["credentials_removed"][0]["client_id"],
        client_id.as_str()
    );
    let o = simsid(&env, &["history", "--json"]).await;
    let hist = json(&o);
    assert_eq!(hist.as_array().unwrap().len(), 2);
    assert_eq!(hist[0]["run_id"], run["run_id"]);
    let o = simsid(&env, &["history"]).await;
    assert!(stdout(&o).contains("complete"));

    // export: fingerprints, never secrets; recorded.
    let o = simsid(&env, &["export", "--format", "csv"]).await;
    assert_eq!(o.status.code(), Some(0));
    let csv = stdout(&o);
    assert!(csv.starts_with("organisation_id,name,"));
    assert!(!csv.contains(&revealed));
    let out_file = ts.dir.path().join("inventory.json");
    let o = export_to(&env, "json", &out_file).await;
    assert_eq!(o.status.code(), Some(0));
    let inv: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert!(inv.as_array().unwrap().len() >= 29);
    assert!(inv[0]["credentials"].is_array());
    let o = simsid(&env, &["audit", "--json"]).await;
    assert!(json(&o)
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "export"));

    // A failing site → partial, exit 3.
    let broken = sim.control().sites()[0].org_id.clone();
    sim.control()
        .set_site_fault(&broken, Fault::Status500, None);
    let o = simsid(&env, &["harvest", "--json", "--concurrency", "4"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "partial");
    assert_eq!(run["failures"][0]["organisation_id"], broken.as_str());
    let o = simsid(&env, &["sites", "--json", "--status", "stale"]).await;
    assert_eq!(json(&o)[0]["organisation_id"], broken.as_str());

    // The site list failing → failed, exit 1.
    sim.control().fail_site_list(None);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["status"], "failed");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_exit_2_before_any_network_call() {
    let sim = simulator(5, 1).await;
    let ts = TempStore::new();
    let mut env = env_for(&sim, &ts);
    env.insert("SIMSID_APPLICATION_ID".into(), "12345".into());
    sim.control().reset_stats();
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("integer"), "{err}");
    assert!(err.contains("App Management"), "{err}");
    assert_eq!(sim.control().stats().token_requests, 0, "no network call");

    // Plaintext secret in the config file.
    let cfg = ts.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[profile.default]\nclient_secret = \"do-not-store-me\"\n",
    )
    .unwrap();
    let env2: BTreeMap<String, String> = [
        ("SIMSID_CONFIG".to_string(), cfg.display().to_string()),
        ("SIMSID_STORE".to_string(), ts.path().display().to_string()),
    ]
    .into_iter()
    .collect();
    let o = simsid(&env2, &["sites"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("client_secret_env"));
    assert!(!stderr(&o).contains("do-not-store-me"));

    // Missing settings are each named.
    let env3: BTreeMap<String, String> =
        [("SIMSID_STORE".to_string(), ts.path().display().to_string())]
            .into_iter()
            .collect();
    let o = simsid(&env3, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(2));
    for needle in [
        "SIMSID_APPLICATION_ID",
        "SIMSID_CLIENT_ID",
        "SIMSID_CLIENT_SECRET",
    ] {
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    // Unknown flag: clap's usage error is exit 2 too.
    let o = simsid(&env3, &["sites", "--bogus"]).await;
    assert_eq!(o.status.code(), Some(2));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_store_key_fails_clearly_and_leaves_files_untouched() {
    let sim = simulator(10, 2).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0));
    let before = all_file_bytes(ts.dir.path());
    let mut wrong = env.clone();
    wrong.insert(
        "SIMSID_STORE_KEY".into(),
        secrecy::ExposeSecret::expose_secret(&simsid::store::StoreKey::generate().to_base64())
            .to_string(),
    );
    let wrong_log = tempfile::tempdir().unwrap();
    wrong.insert(
        "SIMSID_LOG".into(),
        wrong_log.path().join("wrong-key.log").display().to_string(),
    );
    for args in [&["sites"][..], &["harvest"][..]] {
        let o = simsid(&wrong, args).await;
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("store key does not match"),
            "{}",
            stderr(&o)
        );
    }
    let after = all_file_bytes(ts.dir.path());
    let main_db = |v: &Vec<(std::path::PathBuf, Vec<u8>)>| {
        v.iter()
            .find(|(p, _)| p.ends_with("store.sqlite3"))
            .map(|(_, b)| b.clone())
    };
    assert_eq!(main_db(&before), main_db(&after));
    // And the right key still works.
    let o = simsid(&env, &["sites", "--json"]).await;
    assert_eq!(json(&o).as_array().unwrap().len(), 10);
    sim.shutdown().await;
}

/// Waits until the simulator has answered `n` API calls: the harvest is under way, well past
/// start-up (signal handlers installed, site list fetched). The 60 s bound is only a last
/// guard against a hang; the wait ends on the counter.
fn wait_for_clients_calls(control: &simsid_simulator::SimControl, n: u64) {
    for _ in 0..1200 {
        if control.stats().api_requests >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the harvest never got going");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_harvest_leaves_the_previous_state_whole() {
    let sim = slow_simulator(120, 12, 50).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest", "--concurrency", "8"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = json(&simsid(&env, &["sites", "--json"]).await);
    let history_before = json(&simsid(&env, &["history", "--json"]).await);

    // Change the remote, start a slow harvest, kill it with SIGKILL part-way.
    sim.control().remove_site(&sim.control().sites()[0].org_id);
    let env2 = env.clone();
    let control = sim.control().clone();
    control.reset_stats();
    let killed = tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().unwrap();
        let mut child = sandboxed_command(home.path())
            .envs(&env2)
            .args(["harvest", "--concurrency", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_clients_calls(&control, 6);
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        (still_running, status)
    })
    .await
    .unwrap();
    assert!(killed.0, "the harvest was still running when killed");
    assert!(!killed.1.success());

    let after = json(&simsid(&env, &["sites", "--json"]).await);
    assert_eq!(before, after, "previous state whole and readable");
    let history_after = json(&simsid(&env, &["history", "--json"]).await);
    assert_eq!(history_before, history_after);
    // And the store still takes a new harvest.
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        json(&o)["diff"]["sites_removed"].as_array().unwrap().len(),
        1
    );
    sim.shutdown().await;
}

// Not on Windows: the harvest is stopped with `kill -INT` (no console event can be sent to
// one process there).
#[cfg(not(windows))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_with_130_and_commits_nothing() {
    let sim = slow_simulator(100, 13, 50).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let before = json(&simsid(&env, &["sites", "--json"]).await);
    let runs_before = json(&simsid(&env, &["history", "--json"]).await);
    sim.control().remove_site(&sim.control().sites()[0].org_id);

    let env2 = env.clone();
    let control = sim.control().clone();
    control.reset_stats();
    let (code, err) = tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().unwrap();
        let child = sandboxed_command(home.path())
            .envs(&env2)
            .args(["harvest", "--concurrency", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_clients_calls(&control, 4);
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("nothing committed"), "{err}");
    assert_eq!(json(&simsid(&env, &["sites", "--json"]).await), before);
    // Nothing committed, but the run is recorded: cancelled, by SIGINT, newest first.
    let runs_after = json(&simsid(&env, &["history", "--json"]).await);
    let runs_after = runs_after.as_array().unwrap();
    assert_eq!(runs_after.len(), runs_before.as_array().unwrap().len() + 1);
    assert_eq!(runs_after[0]["status"], "cancelled");
    assert_eq!(runs_after[0]["signal"], "SIGINT");
    assert_eq!(
        runs_after[0]["diff"]["sites_removed"],
        serde_json::json!([])
    );
    assert_eq!(&runs_after[1..], runs_before.as_array().unwrap().as_slice());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_turns_off_reveal_verify_and_harvest() {
    let sim = simulator(8, 14).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let sites = json(&simsid(&env, &["sites", "--json"]).await);
    let org = sites[0]["organisation_id"].as_str().unwrap().to_string();
    for args in [
        vec!["--readonly", "show", org.as_str(), "--reveal"],
        vec!["--readonly", "verify", org.as_str()],
        vec!["harvest", "--readonly"],
    ] {
        let o = simsid(&env, &args).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    }
    // Browsing still works.
    let o = simsid(&env, &["--readonly", "show", org.as_str()]).await;
    assert_eq!(o.status.code(), Some(0));
    let audit = json(&simsid(&env, &["audit", "--json"]).await);
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"] != "reveal"));
    sim.shutdown().await;
}
