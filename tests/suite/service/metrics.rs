//! `harvest --metrics FILE` / `$SIMSID_METRICS` (docs/reference/cli.md "Signals, services and monitoring"):
//! the Prometheus text format after every run — complete, failed and cancelled — read back
//! with a Prometheus parser; written beside and renamed, mode 0644, no secret and no
//! credential id in it.

use crate::support::common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use prometheus_parse::{Scrape, Value};
use rustix::process::{kill_process, Pid, Signal};
use simsid_simulator::Fault;

/// The file parsed by `prometheus-parse`; every sample line must parse.
fn scrape(path: &Path) -> Scrape {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<std::io::Result<String>> = text.lines().map(|l| Ok(l.to_string())).collect();
    let scrape = Scrape::parse(lines.into_iter()).expect("Prometheus text");
    let sample_lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "every line parses:\n{text}"
    );
    scrape
}

/// The value of `metric` whose labels include `with`.
fn value(s: &Scrape, metric: &str, with: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = s
        .samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| with.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Gauge(v) | Value::Untyped(v) | Value::Counter(v) => v,
            _ => panic!("{metric} is not a gauge"),
        })
        .collect();
    assert_eq!(found.len(), 1, "one sample of {metric} {with:?}");
    found[0]
}

fn status_is(s: &Scrape, status: &str) {
    for other in ["complete", "partial", "failed", "cancelled"] {
        let want = if other == status { 1.0 } else { 0.0 };
        assert_eq!(
            value(s, "simsid_harvest_last_run_status", &[("status", other)]),
            want,
            "{other}"
        );
    }
}

fn no_secrets_or_ids(sim: &simsid_simulator::Simulator, path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    for secret in sim.control().all_secrets() {
        assert!(
            !contains_bytes(&bytes, secret.as_bytes()),
            "a secret in the metrics"
        );
    }
    for site in sim.control().sites() {
        for c in &site.clients {
            assert!(
                !contains_bytes(&bytes, c.client_id.as_bytes()),
                "a client id in the metrics"
            );
        }
    }
}

fn rfc3339_epoch(v: &serde_json::Value) -> f64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_complete_failed_and_cancelled_runs() {
    let sim = simulator(40, 31).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("simsid.prom");
    let app = sim.env().application_id.to_uppercase();

    // A complete run, the file named by the flag.
    let o = simsid(
        &env,
        &["harvest", "--json", "--metrics", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left beside it"
    );
    let s = scrape(&file);
    for sample in &s.samples {
        assert_eq!(sample.labels.get("profile"), Some("default"));
        assert_eq!(
            sample.labels.get("application").map(str::to_uppercase),
            Some(app.clone())
        );
    }
    status_is(&s, "complete");
    assert_eq!(
        value(&s, "simsid_harvest_last_run_scope", &[("scope", "full")]),
        1.0
    );
    let total = run["sites_total"].as_f64().unwrap();
    assert_eq!(
        value(&s, "simsid_harvest_sites", &[("state", "listed")]),
        total
    );
    assert_eq!(
        value(&s, "simsid_harvest_sites", &[("state", "harvested")]),
        total
    );
    assert_eq!(
        value(&s, "simsid_harvest_sites", &[("state", "cached")]),
        total
    );
    assert_eq!(value(&s, "simsid_harvest_failed_sites", &[]), 0.0);
    assert_eq!(
        value(&s, "simsid_harvest_credentials", &[]),
        run["credentials_total"].as_f64().unwrap()
    );
    assert_eq!(
        value(&s, "simsid_harvest_requests", &[]),
        run["stats"]["requests"].as_f64().unwrap()
    );
    assert!(value(&s, "simsid_harvest_requests", &[]) > total);
    assert_eq!(value(&s, "simsid_harvest_removals_held", &[]), 0.0);
    let finished = rfc3339_epoch(&run["finished_at"]);
    assert!((value(&s, "simsid_harvest_last_run_timestamp_seconds", &[]) - finished).abs() < 1.0);
    let complete_at = value(&s, "simsid_harvest_last_complete_timestamp_seconds", &[]);
    assert!((complete_at - finished).abs() < 1.0);
    no_secrets_or_ids(&sim, &file);

    // A failed run (the site list refused), the file named by $SIMSID_METRICS.
    let mut env2: BTreeMap<String, String> = env.clone();
    env2.insert("SIMSID_METRICS".into(), file.display().to_string());
    sim.control().fail_site_list(None);
    let o = simsid(&env2, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(1));
    let s = scrape(&file);
    status_is(&s, "failed");
    // The last complete run is still the first one: the alert on its age fires in time.
    assert_eq!(
        value(&s, "simsid_harvest_last_complete_timestamp_seconds", &[]),
        complete_at
    );
    sim.control().clear_site_list_fault();

    // A partial run: one failed site.
    let broken = sim.control().sites()[0].org_id.clone();
    sim.control()
        .set_site_fault(&broken, Fault::Status500, None);
    let o = simsid(&env2, &["harvest", "--json", "--concurrency", "4"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s = scrape(&file);
    status_is(&s, "partial");
    assert_eq!(value(&s, "simsid_harvest_failed_sites", &[]), 1.0);
    assert_eq!(
        value(&s, "simsid_harvest_sites", &[("state", "stale")]),
        1.0
    );
    sim.control().clear_site_fault(&broken);

    // A cancelled run (SIGTERM while the Clients calls are slow).
    sim.control()
        .set_global_fault(Some(Fault::Slow(Duration::from_millis(300))), None);
    sim.control().reset_stats();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(sandboxed_command(home.path()));
    cmd.envs(&env2)
        .args(["harvest", "--concurrency", "2"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().unwrap();
    let mut started = false;
    for _ in 0..600 {
        if sim.control().stats().api_requests >= 3 {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(started, "the harvest never reached the simulator");
    let pid = Pid::from_raw(child.id().unwrap() as i32).unwrap();
    kill_process(pid, Signal::TERM).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    let s = scrape(&file);
    status_is(&s, "cancelled");
    assert!(value(&s, "simsid_harvest_requests", &[]) >= 3.0);
    assert_eq!(
        value(&s, "simsid_harvest_last_complete_timestamp_seconds", &[]),
        complete_at
    );
    no_secrets_or_ids(&sim, &file);
    sim.control().set_global_fault(None, None);
    sim.shutdown().await;
}
