//! Team mode against a real OpenBao (docs/reference/vault.md "Team mode"): the harvest host publishes the
//! team's view under `{prefix}/_simsid/`, viewers pull it and read secrets only with their
//! own vault identity; fingerprints agree everywhere; the view is bounded, verified and
//! consistent, and `--reconcile` never removes it.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::vault_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::support::team_env::{host_env, viewer_env};
use common::*;
use serde_json::{json, Value};
use simsid::domain::Pulled;
use simsid::ops::{Keeper, OpError, PullRequest};
use simsid::store::Store;
use simsid::vault::path::credential_key;
use simsid::vault::policy;
use simsid_simulator::Simulator;
use vault_support::{served, shared, Bao, ROOT_TOKEN};

/// Every credential's fingerprint in `show --json` of every site, by (org, client id).
async fn fingerprints(env: &BTreeMap<String, String>) -> BTreeMap<(String, String), String> {
    let sites = json(&run(env, &["sites", "--json"], 0).await);
    let mut out = BTreeMap::new();
    for s in sites.as_array().unwrap() {
        let org = s["organisation_id"].as_str().unwrap().to_string();
        let shown = json(&run(env, &["show", &org, "--json"], 0).await);
        for c in shown["credentials"].as_array().unwrap() {
            out.insert(
                (org.clone(), c["client_id"].as_str().unwrap().to_string()),
                c["fingerprint"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}

/// The fingerprint the host wrote in each credential's custom metadata.
async fn metadata_fingerprints(
    bao: &Bao,
    sim: &Simulator,
    prefix: &str,
) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (org, client, _) in served(sim) {
        let meta = bao
            .metadata(&credential_key(prefix, &org, &client))
            .await
            .unwrap();
        out.insert(
            (org.as_str().to_string(), client),
            meta["custom_metadata"]["fingerprint"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    out
}

/// The audit device's request records so far (one per request the vault received).
fn audit_requests(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == json!("request"))
        .collect()
}

/// Waits (bounded) until the audit log holds at least `n` request records.
async fn requests_at_least(log: &std::path::Path, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let got = audit_requests(log);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    audit_requests(log)
}

fn paths(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["request"]["operation"].as_str().unwrap_or("?"),
                r["request"]["path"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// Writes the four role policies for `prefix` and returns (viewer token, operator token)
/// of userpass identities `vera` (viewer) and `olga` (operator).
async fn team_identities(bao: &Bao, prefix: &str) -> (String, String) {
    bao.policy("team-viewer", &policy::viewer("secret", prefix))
        .await;
    bao.policy("team-operator", &policy::operator("secret", prefix))
        .await;
    let vera = bao.userpass_login("vera", &["team-viewer"]).await;
    let olga = bao.userpass_login("olga", &["team-operator"]).await;
    (vera, olga)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_exactly_the_hosts_view_and_reads_secrets_only_with_its_own_identity() {
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.log");
    let bao = Bao::dev_with_audit(&audit_log).await;
    let sim = simulator(9, 515).await;
    let prefix = "t/team";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);

    // The host harvests and publishes.
    let o = run(&host, &["harvest", "--json"], 0).await;
    let published = &json(&o)["view"];
    assert!(published["chunks"].as_u64().unwrap() >= 1, "{published}");
    assert_eq!(published["written"], published["chunks"]);
    let (vera, olga) = team_identities(&bao, prefix).await;

    // A viewer (viewer policy) pulls: exactly the host's sites, shows and history.
    let vera_store = TempStore::new();
    let viewer = viewer_env(&sim, &vera_store, &bao, prefix, &vera);
    let o = run(&viewer, &["pull", "--json"], 0).await;
    let pulled = json(&o);
    let host_sites = json(&run(&host, &["sites", "--json"], 0).await);
    assert_eq!(pulled["changed"], json!(true));
    assert_eq!(pulled["sites"], json!(host_sites.as_array().unwrap().len()));
    assert_eq!(pulled["credentials"], json!(served(&sim).len()));
    assert_eq!(
        json(&run(&viewer, &["sites", "--json"], 0).await),
        host_sites
    );
    assert_eq!(
        json(&run(&viewer, &["history", "--json"], 0).await),
        json(&run(&host, &["history", "--json"], 0).await)
    );
    assert_eq!(
        pulled["run_id"],
        json(&run(&host, &["history", "--json"], 0).await)[0]["run_id"]
    );

    // Fingerprints agree: host, viewer and the vault's custom metadata.
    let host_fps = fingerprints(&host).await;
    assert_eq!(host_fps.len(), served(&sim).len());
    assert_eq!(fingerprints(&viewer).await, host_fps);
    assert_eq!(metadata_fingerprints(&bao, &sim, prefix).await, host_fps);

    // The viewer may not read a secret, and does not harvest.
    let (org, client, secret) = served(&sim).remove(0);
    let o = run(&viewer, &["show", org.as_str(), "--reveal"], 1).await;
    assert!(stderr(&o).contains("may not read"), "{}", stderr(&o));
    assert!(!stdout(&o).contains(&secret));
    let o = run(&viewer, &["harvest"], 2).await;
    assert!(
        stderr(&o).contains("harvests run on the harvest host"),
        "{}",
        stderr(&o)
    );
    let o = run(&viewer, &["vault", "check"], 0).await;
    assert!(
        stdout(&o).contains("may not read secrets"),
        "{}",
        stdout(&o)
    );

    // An unchanged pull reads the manifest alone.
    let before = audit_requests(&audit_log).len();
    let o = run(&viewer, &["pull", "--json"], 0).await;
    assert_eq!(json(&o)["changed"], json!(false));
    let after = requests_at_least(&audit_log, before + 1).await;
    let new = &after[before..];
    let view_reads: Vec<_> = new
        .iter()
        .filter(|r| {
            r["request"]["path"]
                .as_str()
                .unwrap_or("")
                .contains("_simsid")
        })
        .collect();
    assert_eq!(view_reads.len(), 1, "{:?}", paths(new));
    // Besides it, only the token's lookup as the process opens its vault session.
    assert!(new.len() <= 2, "{:?}", paths(new));

    // An operator reveals with her own identity; her record names the view's fingerprint,
    // so `exposure` sees it live on her machine.
    let olga_store = TempStore::new();
    let operator = viewer_env(&sim, &olga_store, &bao, prefix, &olga);
    run(&operator, &["pull"], 0).await;
    let o = run(&operator, &["vault", "check"], 0).await;
    assert!(
        stdout(&o).contains("may also read secrets"),
        "{}",
        stdout(&o)
    );
    let o = run(&operator, &["show", org.as_str(), "--reveal", "--json"], 0).await;
    assert!(stdout(&o).contains(&secret));
    let audit = json(&run(&operator, &["audit", "--json"], 0).await);
    let reveal = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == json!("reveal") && e["client_id"] == json!(client))
        .unwrap_or_else(|| panic!("a reveal record: {audit}"));
    let key = (org.as_str().to_string(), client.clone());
    assert_eq!(reveal["fingerprint"], json!(host_fps[&key]));
    assert_eq!(reveal["identity"], json!("userpass-olga"));
    let exposed = json(&run(&operator, &["exposure", "--json"], 0).await);
    let entry = exposed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["client_id"] == json!(client))
        .unwrap_or_else(|| panic!("an exposure: {exposed}"));
    assert_eq!(entry["live"], json!(true));
    // She verifies with the school's own credentials read from the vault (a viewer has
    // only `sts_url` of SIMS ID); the record names the view's fingerprint too.
    let o = run(&operator, &["verify", org.as_str(), "--json"], 0).await;
    assert!(stdout(&o).contains(&client), "{}", stdout(&o));
    let audit = json(&run(&operator, &["audit", "--json"], 0).await);
    let verified = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == json!("verify") && e["client_id"] == json!(client))
        .unwrap_or_else(|| panic!("a verify record: {audit}"));
    assert_eq!(verified["fingerprint"], json!(host_fps[&key]));

    // The vault's audit device on her machine: her read is there; the host's read-back
    // (its identity comes with the pulled view's runs) is not an exposure.
    run(&host, &["harvest", "--reconcile"], 0).await;
    run(&operator, &["pull"], 0).await;
    let file = audit_log.display().to_string();
    let exposed_clients = |o: &std::process::Output| -> Vec<String> {
        let mut ids: Vec<String> = json(o)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["client_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let o = run(
        &operator,
        &["exposure", "--vault-audit", &file, "--json"],
        0,
    )
    .await;
    let mut hers: Vec<String> = served(&sim)
        .into_iter()
        .filter(|(o, _, _)| *o == org)
        .map(|(_, c, _)| c)
        .collect();
    hers.sort();
    assert_eq!(
        exposed_clients(&o),
        hers,
        "only what she read: {}",
        stdout(&o)
    );
    let o = run(
        &operator,
        &[
            "exposure",
            "--vault-audit",
            &file,
            "--include-harvester",
            "--json",
        ],
        0,
    )
    .await;
    assert_eq!(
        exposed_clients(&o).len(),
        served(&sim).len(),
        "with the harvester's read-back: {}",
        stdout(&o)
    );

    // A rotation and a harvest: the pull shows the new fingerprint everywhere, and the
    // exposure is no longer live.
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    run(&host, &["harvest"], 0).await;
    let o = run(&operator, &["pull", "--json"], 0).await;
    assert_eq!(json(&o)["changed"], json!(true));
    let host_fps2 = fingerprints(&host).await;
    assert_ne!(host_fps2[&key], host_fps[&key]);
    assert_eq!(fingerprints(&operator).await, host_fps2);
    assert_eq!(metadata_fingerprints(&bao, &sim, prefix).await, host_fps2);
    let exposed = json(&run(&operator, &["exposure", "--json"], 0).await);
    let entry = exposed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["client_id"] == json!(client))
        .unwrap();
    assert_eq!(entry["live"], json!(false));

    // An unchanged re-harvest adds at most 3 requests to the vault, right after a harvest
    // that changed a school: a site's line carries no mark of the last run (format 3).
    let before = audit_requests(&audit_log).len();
    let o = run(&host, &["harvest", "--json"], 0).await;
    assert_eq!(json(&o)["vault"]["written"], json!(0));
    let after = requests_at_least(&audit_log, before + 1).await;
    let new = &after[before..];
    assert!(
        (1..=3).contains(&new.len()),
        "an unchanged re-harvest made {} requests: {:?}",
        new.len(),
        paths(new)
    );
}

/// The manifest's body and its chunk names, read as root.
async fn manifest(bao: &Bao, prefix: &str) -> (Value, Vec<String>) {
    let (data, _) = bao
        .read(&format!("{prefix}/_simsid/manifest"))
        .await
        .expect("a manifest");
    let m: Value = serde_json::from_str(data["body"].as_str().unwrap()).unwrap();
    let names = m["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    (m, names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_chunk_fails_the_pull_and_leaves_the_viewers_store_as_it_was() {
    let bao = shared().await;
    let sim = simulator(7, 616).await;
    let prefix = "t/team-tamper";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    let metrics = viewer_store.dir.path().join("pull.prom");
    let metrics_arg = metrics.display().to_string();
    run(&viewer, &["pull", "--metrics", &metrics_arg], 0).await;
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("simsid_harvest_last_run_status{") && text.contains("status=\"complete\"} 1"),
        "{text}"
    );
    let sites_before = json(&run(&viewer, &["sites", "--json"], 0).await);
    let fps_before = fingerprints(&viewer).await;

    // A new view whose every chunk is then altered in the vault.
    let (org, client, _) = served(&sim).remove(0);
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    run(&host, &["harvest"], 0).await;
    let (_, names) = manifest(&bao, prefix).await;
    for name in &names {
        let key = format!("{prefix}/_simsid/chunks/{name}");
        let (data, _) = bao.read(&key).await.unwrap();
        let altered = data["body"].as_str().unwrap().replacen("\"", "'", 1);
        let (s, v) = bao
            .api(
                "POST",
                &format!("secret/data/{key}"),
                Some(json!({"data": {"body": altered}})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let o = run(&viewer, &["pull", "--metrics", &metrics_arg], 1).await;
    assert!(stderr(&o).contains("altered"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(text.contains("status=\"failed\"} 1"), "{text}");
    assert_eq!(
        json(&run(&viewer, &["sites", "--json"], 0).await),
        sites_before
    );
    assert_eq!(fingerprints(&viewer).await, fps_before);

    // `--reconcile` rewrites every chunk: the pull then succeeds.
    run(&host, &["harvest", "--reconcile"], 0).await;
    let o = run(&viewer, &["pull", "--json"], 0).await;
    assert_eq!(json(&o)["changed"], json!(true));
    assert_eq!(fingerprints(&viewer).await, fingerprints(&host).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_never_removes_the_team_view_and_clears_orphaned_chunks() {
    let bao = shared().await;
    let sim = simulator(6, 717).await;
    let prefix = "t/team-reconcile";
    let ts = TempStore::new();
    let host = host_env(&sim, &ts, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    // A chunk no manifest names (left behind by a failed removal).
    let orphan = format!("{prefix}/_simsid/chunks/{}", "ab".repeat(32));
    let (s, v) = bao
        .api(
            "POST",
            &format!("secret/data/{orphan}"),
            Some(json!({"data": {"body": "x"}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let o = run(&host, &["harvest", "--reconcile", "--json"], 0).await;
    let doc = json(&o);
    assert_eq!(doc["vault"]["removed"], json!(0), "{doc}");
    let foreign = doc["vault_foreign"].as_array().unwrap();
    assert!(
        foreign
            .iter()
            .all(|k| !k.as_str().unwrap().contains("_simsid")),
        "{foreign:?}"
    );
    let (_, names) = manifest(&bao, prefix).await;
    for name in &names {
        assert!(
            bao.read(&format!("{prefix}/_simsid/chunks/{name}"))
                .await
                .is_some(),
            "chunk {name} was removed"
        );
    }
    assert!(bao.metadata(&orphan).await.is_none(), "the orphan stays");
    // Still readable whole.
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    run(&viewer, &["pull"], 0).await;
    assert_eq!(fingerprints(&viewer).await, fingerprints(&host).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_harvest_that_changes_one_school_rewrites_only_the_chunks_holding_it() {
    let bao = shared().await;
    let sim = simulator(1_000, 1_212).await;
    let prefix = "t/team-one-school";
    let ts = TempStore::new();
    let host = host_env(&sim, &ts, &bao, prefix);
    // The first harvest adds every school (each marked "added" in the console).
    let first = json(&run(&host, &["harvest", "--json"], 0).await);
    let chunks = first["view"]["chunks"].as_u64().unwrap();
    assert!(chunks >= 5, "{}", first["view"]);
    // One school's credential rotates: that school's chunk and the run lines are written,
    // not every chunk whose schools lost their "added" mark.
    let (org, client, _) = served(&sim).remove(0);
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    let second = json(&run(&host, &["harvest", "--json"], 0).await);
    let written = second["view"]["written"].as_u64().unwrap();
    println!("1,000 schools, {chunks} chunks: the harvest rotating one school wrote {written}");
    assert!((1..=2).contains(&written), "{}", second["view"]);
    // A viewer shows that school alone as changed, as the host does.
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    run(&viewer, &["pull"], 0).await;
    let changed = |env| {
        let env: &BTreeMap<String, String> = env;
        async move { json(&run(env, &["sites", "--status", "changed", "--json"], 0).await) }
    };
    let on_host = changed(&host).await;
    assert_eq!(on_host.as_array().unwrap().len(), 1, "{on_host}");
    assert_eq!(on_host[0]["organisation_id"], json!(org.as_str()));
    assert_eq!(changed(&viewer).await, on_host);
    // That school harvested alone, unchanged: its badge goes, on the host and the viewer.
    let one = json(&run(&host, &["harvest", "--site", org.as_str(), "--json"], 0).await);
    assert!(
        one["diff"]["credentials_rotated"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{one}"
    );
    assert_eq!(changed(&host).await, json!([]));
    run(&viewer, &["pull"], 0).await;
    assert_eq!(changed(&viewer).await, json!([]));
    assert_eq!(
        json(&run(&viewer, &["sites", "--json"], 0).await),
        json(&run(&host, &["sites", "--json"], 0).await)
    );
}

/// A viewer's keeper for `env` (its one vault session shared by every pull), and the
/// directory its settings resolve in.
fn viewer_keeper(env: &BTreeMap<String, String>) -> (Keeper, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let dirs = simsid::config::Dirs {
        config_dir: home.path().join("config"),
        data_dir: home.path().join("data"),
        state_dir: home.path().join("state"),
    };
    let settings = simsid::config::resolve(&simsid::config::Flags::default(), env, &dirs).unwrap();
    (Keeper::new(settings, "tester".into()), home)
}

/// A pull through `keeper`: what it brought, and the store it wrote (its lock released).
async fn pull(keeper: &Keeper) -> (Result<Pulled, OpError>, Store) {
    let outcome = keeper.pull(PullRequest::default()).await.unwrap();
    (outcome.pulled, outcome.store.store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_pull_is_one_request_and_a_pull_racing_publishes_sees_one_whole_view() {
    let bao = shared().await;
    let sim = simulator(12, 818).await;
    let prefix = "t/team-race";
    let ts = TempStore::new();
    let host = host_env(&sim, &ts, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    let (keeper, _home) = viewer_keeper(&viewer);

    let first = pull(&keeper).await.0.unwrap();
    assert!(first.changed);
    let client = keeper.vault().unwrap();
    let before = client.requests();
    let again = pull(&keeper).await.0.unwrap();
    assert!(!again.changed);
    assert_eq!(client.requests() - before, 1, "an unchanged pull");
    assert_eq!(again.run_id, first.run_id);
    assert!(first.run_id.is_some());

    // Publishes (a rotation each) while the viewer pulls: every pull is one whole view.
    let creds = served(&sim);
    let publisher = {
        let host = host.clone();
        let sim_control = sim.control().clone();
        let creds = creds.clone();
        tokio::spawn(async move {
            let mut runs = Vec::new();
            for (org, client, _) in creds.iter().take(4) {
                assert!(sim_control.rotate_secret(&org.to_sim(), client));
                let o = simsid(&host, &["harvest", "--json"]).await;
                assert_eq!(code(&o), 0, "{}", stderr(&o));
                runs.push(json(&o)["run_id"].as_str().unwrap().to_string());
            }
            runs
        })
    };
    let mut seen = Vec::new();
    for _ in 0..200 {
        let (pulled, store) = pull(&keeper).await;
        let pulled = pulled.unwrap_or_else(|e| panic!("a pull during publishes failed: {e}"));
        let (sites, runs) = store.view_rows().unwrap();
        assert_eq!(sites.len(), pulled.sites);
        let credentials: usize = sites.iter().map(|s| s.credentials.len()).sum();
        assert_eq!(credentials, pulled.credentials);
        assert_eq!(
            Some(runs.last().unwrap().summary.run_id.to_string()),
            pulled.run_id
        );
        if pulled.changed {
            seen.push(pulled.run_id.clone().unwrap());
        }
        if publisher.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let runs = publisher.await.unwrap();
    for run_id in &seen {
        assert!(runs.contains(run_id), "{run_id} is one of {runs:?}");
    }
    // The last view, whole.
    pull(&keeper).await.0.unwrap();
    assert_eq!(fingerprints(&viewer).await, fingerprints(&host).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_through_a_standby_completes_while_the_active_node_is_killed() {
    use vault_support::Cluster;

    let cluster = Cluster::start().await;
    let leader = cluster.wait_leader().await;
    let prefix = "t/team-ha";
    // The harvest host harvests into the cluster and publishes its view there.
    let sim = simulator(1_500, 919).await;
    let host_store = TempStore::new();
    let mut host = host_env(&sim, &host_store, cluster.node(leader), prefix);
    host.remove("VAULT_ADDR");
    host.insert("SIMSID_VAULT_ADDR".into(), cluster.addrs.join(","));
    host.insert("VAULT_TOKEN".into(), cluster.root_token.clone());
    let harvested = json(&run(&host, &["harvest", "--json"], 0).await);
    assert!(
        harvested["view"]["chunks"].as_u64().unwrap() > 10,
        "{}",
        harvested["view"]
    );
    let run_id = harvested["run_id"].as_str().unwrap().to_string();
    let store = host_store.open();

    // The viewer talks to a standby first; the active node is killed once its pull began.
    let standby = (leader + 1) % 3;
    let mut addrs = vec![cluster.addrs[standby].clone()];
    addrs.extend(
        (0..3)
            .filter(|i| *i != standby)
            .map(|i| cluster.addrs[i].clone()),
    );
    // The standby is reached through a proxy that holds the pull's fourth request until
    // the active node is killed: the kill lands during the pull, however loaded the machine.
    let release = Arc::new(tokio::sync::Notify::new());
    addrs[0] = crate::support::proxy::holding_after(&addrs[0], 3, release.clone()).await;
    let viewer_store = TempStore::new();
    let mut env = viewer_env(&sim, &viewer_store, cluster.node(standby), prefix, "-");
    env.remove("VAULT_ADDR");
    env.insert("SIMSID_VAULT_ADDR".into(), addrs.join(","));
    env.insert("VAULT_TOKEN".into(), cluster.root_token.clone());
    let (keeper, _home) = viewer_keeper(&env);
    let keeper = Arc::new(keeper);
    let viewer = keeper.vault().unwrap();
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let pulling = {
        let keeper = Arc::clone(&keeper);
        tokio::spawn(async move { pull(&keeper).await.0 })
    };
    let mut killed_at = None;
    for _ in 0..2_000 {
        let sent = viewer.requests();
        if sent >= 3 || pulling.is_finished() {
            cluster.lock().await.kill(leader);
            killed_at = Some(sent);
            release.notify_one();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let killed_at = killed_at.expect("the leader was killed");
    let pulled = pulling
        .await
        .unwrap()
        .expect("the pull completes through the other nodes");
    assert!(pulled.changed);
    assert_eq!(pulled.sites, 1_500);
    // Requests went on after the kill: it happened during the pull.
    assert!(
        viewer.requests() > killed_at,
        "killed at request {killed_at}"
    );
    // The pulled view is the host's, whole: its sites and credentials as the host's store
    // lists them (the badges derived from the runs), and its runs.
    let viewer_view = viewer_store.open().view_rows().unwrap();
    assert_eq!(viewer_view, store.view_rows().unwrap());

    // And a pull from scratch while the cluster elects a new leader, through the others.
    let again = TempStore::new();
    let mut env = env.clone();
    env.insert("SIMSID_STORE".into(), again.path().display().to_string());
    env.insert(
        "SIMSID_STORE_KEY".into(),
        secrecy::ExposeSecret::expose_secret(&again.key_b64).to_string(),
    );
    let (fresh, _home) = viewer_keeper(&env);
    let (pulled, again_store) = pull(&fresh).await;
    let pulled = pulled.expect("a pull after the kill completes");
    assert_eq!(pulled.run_id, Some(run_id));
    assert_eq!(again_store.view_rows().unwrap(), viewer_view);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_of_a_viewer_says_view_from_vault_and_pulls_through_the_keeper() {
    use simsid::tui::Services;

    let bao = shared().await;
    let sim = simulator(5, 1_010).await;
    let prefix = "t/team-console";
    let host_store = TempStore::new();
    let host = host_env(&sim, &host_store, &bao, prefix);
    run(&host, &["harvest"], 0).await;
    let home = tempfile::tempdir().unwrap();
    let viewer_store = TempStore::new();
    let env = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    let dirs = simsid::config::Dirs {
        config_dir: home.path().join("config"),
        data_dir: home.path().join("data"),
        state_dir: home.path().join("state"),
    };
    let settings = simsid::config::resolve(&simsid::config::Flags::default(), &env, &dirs).unwrap();
    let services =
        simsid::cli::console::ConsoleServices::new(simsid::ops::Context::new(settings), None, None)
            .unwrap();
    let before = services.overview().unwrap();
    assert!(before.sites.is_empty(), "nothing pulled yet");
    assert!(
        before.capabilities.header.starts_with("view from vault "),
        "{}",
        before.capabilities.header
    );

    assert_eq!(before.capabilities.refresh, simsid::tui::Refresh::Pull);
    let pulled = services.pull().await.expect("R pulls on a viewer");
    assert!(pulled.changed);
    let history = json(&run(&host, &["history", "--json"], 0).await);
    assert_eq!(json!(pulled.run_id), history[0]["run_id"]);
    let again = services.pull().await.unwrap();
    assert!(!again.changed);
    let after = services.overview().unwrap();
    assert_eq!(after.sites.len(), 5);
    assert_eq!(
        Some(after.last_run.unwrap().run_id.to_string()),
        pulled.run_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_fails_is_a_warning_and_the_next_harvest_publishes() {
    let bao = shared().await;
    let sim = simulator(4, 1_111).await;
    let prefix = "t/team-publish-fails";
    let ts = TempStore::new();
    // A harvester that may write the credentials but not the team's view.
    let hcl = format!(
        "{}\npath \"secret/data/{prefix}/_simsid/*\" {{\n  capabilities = [\"deny\"]\n}}\n",
        policy::harvester("secret", prefix, None)
    );
    bao.policy("team-no-view", &hcl).await;
    let token = bao.token_with(&["team-no-view"]).await;
    let mut host = host_env(&sim, &ts, &bao, prefix);
    host.insert("VAULT_TOKEN".into(), token);
    let o = run(&host, &["harvest", "--json"], 0).await;
    assert!(
        stderr(&o).contains("warning: the team's view was not published"),
        "{}",
        stderr(&o)
    );
    let doc = json(&o);
    assert!(
        doc["view_error"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{doc}"
    );
    assert!(doc.get("view").is_none());
    assert_eq!(doc["status"], json!("complete"), "the run stands");
    assert!(bao
        .read(&format!("{prefix}/_simsid/manifest"))
        .await
        .is_none());

    // With the harvester policy the next harvest publishes.
    host.insert("VAULT_TOKEN".into(), ROOT_TOKEN.into());
    let o = run(&host, &["harvest", "--json"], 0).await;
    assert!(json(&o)["view"]["chunks"].as_u64().unwrap() >= 1);
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, ROOT_TOKEN);
    run(&viewer, &["pull"], 0).await;
    assert_eq!(fingerprints(&viewer).await, fingerprints(&host).await);
}
