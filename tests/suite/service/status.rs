//! `simsid status` (docs/reference/cli.md): health for on-call and monitoring, on the real binary against
//! the simulator — no store, a complete run, a partial run (a stale site), a last complete
//! harvest older than `--max-age`, and a failed run.

use crate::support::common;

use common::*;
use serde_json::Value;
use simsid_simulator::Fault;

fn problems(doc: &Value) -> String {
    doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_judges_complete_partial_stale_and_failed_runs() {
    let sim = simulator(30, 21).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);

    // No store: unhealthy, said as such (never a broken audit chain), nothing created.
    let o = simsid(&env, &["status", "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["healthy"], false);
    assert_eq!(doc["store_ok"], false);
    assert_eq!(doc["audit_chain_intact"], true, "{doc}");
    assert_eq!(problems(&doc), "no store yet (no harvest has run)");
    let o = simsid(&env, &["status"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("no store yet (no harvest has run)") && !stdout(&o).contains("BROKEN"),
        "{}",
        stdout(&o)
    );
    assert!(!store.path().exists(), "status creates nothing");

    // A complete harvest: healthy, within a day's maximum age.
    let h = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    let run = json(&h);
    let o = simsid(&env, &["status", "--json", "--max-age", "26h"]).await;
    let doc = json(&o);
    assert_eq!(o.status.code(), Some(0), "{doc}");
    assert_eq!(doc["healthy"], true);
    assert_eq!(doc["problems"], serde_json::json!([]));
    assert_eq!(doc["source"], "sims");
    assert_eq!(doc["last_run"]["run_id"], run["run_id"]);
    assert_eq!(doc["last_run"]["status"], "complete");
    assert_eq!(doc["last_run"]["scope"], "full");
    assert_eq!(doc["last_run"]["finished_at"], run["finished_at"]);
    assert_eq!(doc["last_complete_at"], run["finished_at"]);
    let sites = json(&simsid(&env, &["sites", "--json"]).await);
    assert_eq!(doc["sites"], sites.as_array().unwrap().len());
    assert_eq!(doc["credentials"], run["credentials_total"]);
    assert_eq!(doc["stale_sites"], 0);
    assert_eq!(doc["removals_held"], 0);
    assert_eq!(doc["store_ok"], true);
    assert_eq!(doc["audit_chain_intact"], true);
    let unauthorised = sites
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["authorised"] == false)
        .count();
    assert_eq!(doc["waiting"], unauthorised);

    // The text form says the same.
    let o = simsid(&env, &["status"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("healthy\n"), "{}", stdout(&o));

    // Older than the maximum age (the profile's `max_age`): unhealthy, and it says so;
    // `--max-age 0` turns the check off, and the flag wins over the profile.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[profile.default]\nmax_age = \"1s\"\n").unwrap();
    let mut aged = env.clone();
    aged.insert("SIMSID_CONFIG".into(), config.display().to_string());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let o = simsid(&aged, &["status", "--json"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        problems(&json(&o)).contains("more than the maximum age of 1 s"),
        "{}",
        problems(&json(&o))
    );
    let o = simsid(&aged, &["status", "--json", "--max-age", "0"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", problems(&json(&o)));
    let o = simsid(&aged, &["status", "--json", "--max-age", "26h"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", problems(&json(&o)));
    // A bad duration is a usage error.
    let o = simsid(&env, &["status", "--max-age", "soon"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A partial run: one site stale.
    let broken = sim.control().sites()[0].org_id.clone();
    sim.control()
        .set_site_fault(&broken, Fault::Status500, None);
    let h = simsid(&env, &["harvest", "--json", "--concurrency", "4"]).await;
    assert_eq!(h.status.code(), Some(3), "{}", stderr(&h));
    let o = simsid(&env, &["status", "--json", "--max-age", "26h"]).await;
    assert_eq!(o.status.code(), Some(1));
    let doc = json(&o);
    assert_eq!(doc["healthy"], false);
    assert_eq!(doc["last_run"]["status"], "partial");
    assert_eq!(doc["stale_sites"], 1);
    // The last complete run is still the first one.
    assert_eq!(doc["last_complete_at"], run["finished_at"]);
    let p = problems(&doc);
    assert!(p.contains("the last harvest was partial"), "{p}");
    assert!(p.contains("1 site(s) stale"), "{p}");
    let o = simsid(&env, &["status"]).await;
    assert!(stdout(&o).starts_with("UNHEALTHY\n"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("problem: 1 site(s) stale"),
        "{}",
        stdout(&o)
    );

    // A failed run (the site list refused): named with its error.
    sim.control().clear_site_fault(&broken);
    sim.control().fail_site_list(None);
    let h = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(h.status.code(), Some(1));
    let doc = json(&simsid(&env, &["status", "--json"]).await);
    assert_eq!(doc["last_run"]["status"], "failed");
    assert!(
        problems(&doc).contains("the last harvest failed"),
        "{}",
        problems(&doc)
    );

    // Recovered: healthy again.
    sim.control().clear_site_list_fault();
    let h = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    let o = simsid(&env, &["status", "--json", "--max-age", "26h"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", problems(&json(&o)));
    sim.shutdown().await;
}
