//! Vault mode never destroys what it did not write, and never stalls (docs/reference/vault.md sync rules
//! 5–10 and "Settings"), against a real OpenBao (`bao server -dev` on loopback, started
//! here), the real simulator over HTTP and the real binary. The outage tests also run
//! against tiny TCP servers started here: one that refuses connections, one that accepts
//! and never answers, and one that answers `307` to a dead address.
// Tests compare secrets with what the simulator served and the vault holds.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::keeper_support;
use crate::support::team_env::host_env_at;
use crate::support::vault_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use simsid::domain::OrgId;
use simsid::vault::path::credential_key;
use simsid_simulator::SimClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vault_support::{free_port, served, shared, Bao, ROOT_TOKEN};

/// Writes `key` with `data` and, when given, `simsid_run` in its custom metadata.
async fn put(bao: &Bao, key: &str, data: Value, run: Option<&str>) {
    let (s, v) = bao
        .api(
            "POST",
            &format!("secret/data/{key}"),
            Some(json!({ "data": data })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    if let Some(run) = run {
        let (s, v) = bao
            .api(
                "POST",
                &format!("secret/metadata/{key}"),
                Some(json!({"custom_metadata": {"simsid_run": run, "fingerprint": "x"}})),
            )
            .await;
        assert_eq!(s, 204, "{v}");
    }
}

/// The run id of the latest run in the store's history.
async fn last_run(env: &BTreeMap<String, String>) -> Value {
    let o = simsid(env, &["history", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let runs = json(&o);
    runs.as_array()
        .and_then(|r| r.first())
        .cloned()
        .expect("a run in the history")
}

/// Every audit record's detail.
async fn audit_details(env: &BTreeMap<String, String>) -> Vec<String> {
    let o = simsid(env, &["audit", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    json(&o)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["detail"].as_str().map(str::to_string))
        .collect()
}

/// Sleeps past the current second: keys written before are older than a listing that
/// begins after (the vault's clock has one-second resolution in its `Date`).
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_never_removes_what_this_store_did_not_write() {
    let bao = shared().await;
    let prefix = "h/foreign";
    let sim_a = simulator(6, 101).await;
    let sim_b = simulator(6, 102).await;
    let (ts_a, ts_b) = (TempStore::new(), TempStore::new());
    let env_a = host_env_at(&sim_a, &ts_a, &bao.addr, prefix, ROOT_TOKEN);
    let env_b = host_env_at(&sim_b, &ts_b, &bao.addr, prefix, ROOT_TOKEN);
    // Two profiles (two stores, two applications' schools) share one prefix.
    assert_eq!(code(&simsid(&env_a, &["harvest"]).await), 0);
    assert_eq!(code(&simsid(&env_b, &["harvest"]).await), 0);
    let run_a = last_run(&env_a).await["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let org = served(&sim_a)[0].0.clone();
    // The integrator's own secret kept under the prefix, another tool's key beside a
    // school's, simsid's own team view, and one key this store wrote and then forgot.
    let integrator = format!("{prefix}/integrator");
    let other_tool = format!("{prefix}/{}/other-tool", org.as_str());
    let view = format!("{prefix}/_simsid/manifest");
    let ours = format!("{prefix}/{}/withdrawn-long-ago", org.as_str());
    put(
        &bao,
        &integrator,
        json!({"client_secret": "integrator"}),
        None,
    )
    .await;
    put(&bao, &other_tool, json!({"token": "t"}), None).await;
    put(&bao, &view, json!({"chunks": "[]"}), Some(&run_a)).await;
    put(&bao, &ours, json!({"secret": "old"}), Some(&run_a)).await;
    next_second().await;

    let before_b: Vec<String> = served(&sim_b)
        .iter()
        .map(|(o, c, _)| credential_key(prefix, o, c))
        .collect();
    let o = simsid(&env_a, &["harvest", "--json", "--reconcile"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["vault"]["removed"], json!(1), "{v}");
    assert_eq!(v["diff"]["vault_removed"], json!([ours]));
    let foreign: Vec<String> = serde_json::from_value(v["vault_foreign"].clone()).unwrap();
    for k in [&integrator, &other_tool] {
        assert!(foreign.contains(k), "{k} reported as foreign: {foreign:?}");
        assert!(bao.read(k).await.is_some(), "{k} kept");
    }
    for k in &before_b {
        assert!(foreign.contains(k), "the other profile's {k} is foreign");
        assert!(bao.read(k).await.is_some(), "the other profile's {k} kept");
    }
    assert!(
        !foreign.contains(&view),
        "`_` keys are simsid's own, not foreign"
    );
    assert!(bao.read(&view).await.is_some(), "the team view is kept");
    assert!(
        bao.metadata(&ours).await.is_none(),
        "our own stray is removed"
    );
    assert!(stderr(&o).contains("foreign key(s)"), "{}", stderr(&o));

    // The other profile's reconcile leaves the first one's keys alone just the same.
    let o = simsid(&env_b, &["harvest", "--json", "--reconcile"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["vault"]["removed"], json!(0));
    for (o_, c, _) in served(&sim_a) {
        assert!(bao.read(&credential_key(prefix, &o_, &c)).await.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_store_reconcile_removes_nothing_without_accept_removals() {
    let bao = shared().await;
    let prefix = "h/fresh";
    let sim = simulator(12, 103).await;
    let (ts_a, ts_fresh) = (TempStore::new(), TempStore::new());
    let env_a = host_env_at(&sim, &ts_a, &bao.addr, prefix, ROOT_TOKEN);
    let env_fresh = host_env_at(&sim, &ts_fresh, &bao.addr, prefix, ROOT_TOKEN);
    assert_eq!(code(&simsid(&env_a, &["harvest"]).await), 0);
    let before = bao.keys(prefix).await;
    // Most sites vanish from one (truncated) site list.
    let orgs: Vec<OrgId> = sim
        .control()
        .sites()
        .iter()
        .map(|s| s.org_id.to_domain())
        .collect();
    for org in &orgs[..9] {
        assert!(sim.control().remove_site(&org.to_sim()));
    }
    next_second().await;
    let o = simsid(&env_fresh, &["harvest", "--json", "--reconcile"]).await;
    assert_eq!(code(&o), 3, "held: {}", stderr(&o));
    let v = json(&o);
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("never completed a harvest"), "{error}");
    assert!(error.contains("--accept-removals"), "{error}");
    assert_eq!(v["vault"]["removed"], json!(0));
    assert_eq!(
        bao.keys(prefix).await,
        before,
        "nothing removed from the vault"
    );

    // Accepted: the withdrawn sites' keys go, each named in the history and the audit.
    let o = simsid(
        &env_fresh,
        &["harvest", "--json", "--reconcile", "--accept-removals"],
    )
    .await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut want: Vec<String> = before
        .iter()
        .filter(|k| orgs[..9].iter().any(|o| k.contains(o.as_str())))
        .cloned()
        .collect();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(json(&o)["diff"]["vault_removed"], json!(want));
    let run = last_run(&env_fresh).await;
    assert_eq!(
        run["diff"]["vault_removed"],
        json!(want),
        "named in history"
    );
    let details = audit_details(&env_fresh).await;
    for k in &want {
        assert!(
            details.iter().any(|d| d.contains(k.as_str())),
            "{k} named in the audit trail"
        );
        assert!(bao.metadata(k).await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_holds_a_mass_of_strays_and_names_what_it_removes() {
    let bao = shared().await;
    let prefix = "h/massstray";
    let sim = simulator(8, 104).await;
    let ts = TempStore::new();
    let env = host_env_at(&sim, &ts, &bao.addr, prefix, ROOT_TOKEN);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let run = last_run(&env).await["run_id"].as_str().unwrap().to_string();
    let total = served(&sim).len();
    // As many keys this store wrote and forgot as it has credentials: far above 10 %.
    let org = served(&sim)[0].0.clone();
    let strays: Vec<String> = (0..total.max(6))
        .map(|i| format!("{prefix}/{}/forgotten-{i:03}", org.as_str()))
        .collect();
    for k in &strays {
        put(&bao, k, json!({"secret": "s"}), Some(&run)).await;
    }
    next_second().await;
    let o = simsid(&env, &["harvest", "--json", "--reconcile"]).await;
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v = json(&o);
    assert!(v["error"].as_str().unwrap().contains("removal held"), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("simsid harvest --reconcile --accept-removals"),
        "{v}"
    );
    assert_eq!(v["vault"]["removed"], json!(0));
    for k in &strays {
        assert!(bao.read(k).await.is_some(), "{k} held");
    }
    let o = simsid(
        &env,
        &["harvest", "--json", "--reconcile", "--accept-removals"],
    )
    .await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["vault"]["removed"], json!(strays.len()));
    assert_eq!(last_run(&env).await["diff"]["vault_removed"], json!(strays));
    let details = audit_details(&env).await;
    for k in &strays {
        assert!(bao.metadata(k).await.is_none());
        assert!(
            details.iter().any(|d| d.contains(k.as_str())),
            "{k} audited"
        );
    }

    // A plain harvest's removal (a client withdrawn at SIMS) is named the same way.
    let (org, client, _) = served(&sim).remove(0);
    assert!(sim.control().withdraw_client(&org.to_sim(), &client));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let key = credential_key(prefix, &org, &client);
    assert_eq!(last_run(&env).await["diff"]["vault_removed"], json!([key]));
    assert!(audit_details(&env).await.iter().any(|d| d.contains(&key)));
}

/// A `bao server -dev` with a second listener that refuses bodies over `limit` bytes, and
/// that listener's address.
async fn limited_bao(limit: usize) -> (Bao, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("limited.hcl");
    std::fs::write(
        &cfg,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n  max_request_size = {limit}\n}}\n"
        ),
    )
    .unwrap();
    let bao = Bao::dev_with(&[format!("-config={}", cfg.display())]).await;
    // The config is read at start; the directory may go.
    drop(dir);
    (bao, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_the_vault_refuses_fails_its_site_not_the_run() {
    let (bao, limited) = limited_bao(4096).await;
    let prefix = "h/refused";
    let sim = simulator(8, 105).await;
    let ts = TempStore::new();
    let env = host_env_at(&sim, &ts, &limited, prefix, ROOT_TOKEN);
    let sites: Vec<OrgId> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .map(|s| s.org_id.to_domain())
        .collect();
    // One site gets a description the parser accepts (4 000 bytes) but this vault refuses
    // (its body is over 4 096 bytes); another a client id over 256 bytes.
    let (big, long) = (sites[0].clone(), sites[1].clone());
    assert!(sim.control().push_client(
        &big.to_sim(),
        SimClient {
            client_id: "big-description".into(),
            secret: SecretString::from("s3cret-big".to_string()),
            description: "d".repeat(4000),
            ocpaimkey: None,
        }
    ));
    assert!(sim.control().push_client(
        &long.to_sim(),
        SimClient {
            client_id: "c".repeat(300),
            secret: SecretString::from("s3cret-long".to_string()),
            description: String::new(),
            ocpaimkey: None,
        }
    ));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 3, "partial, not failed: {}", stderr(&o));
    let v = json(&o);
    let failure = |org: &OrgId| {
        v["failures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["organisation_id"] == json!(org.as_str()))
            .map(|f| f["error"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{org} failed: {v}"))
    };
    let refused = failure(&big);
    assert!(refused.contains("413"), "{refused}");
    assert!(refused.contains("big-description"), "{refused}");
    assert!(!refused.contains("unreachable"), "{refused}");
    let too_long = failure(&long);
    assert!(too_long.contains("client id of 300 bytes"), "{too_long}");
    assert_eq!(v["sites_failed"], json!(2), "{v}");

    // Every other site is written and committed.
    let sites_json = json(&simsid(&env, &["sites", "--json"]).await);
    for s in sites_json.as_array().unwrap() {
        let org = s["organisation_id"].as_str().unwrap();
        let failed = org == big.as_str() || org == long.as_str();
        assert_eq!(s["stale"], json!(failed), "{s}");
    }
    for (org, client, secret) in served(&sim) {
        if org == big || org == long {
            continue;
        }
        let (data, _) = bao
            .read(&credential_key(prefix, &org, &client))
            .await
            .unwrap_or_else(|| panic!("{org}/{client} written"));
        assert_eq!(data["secret"], json!(secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_run_converges_without_reconcile_even_after_a_rotation() {
    let bao = shared().await;
    let prefix = "h/crash";
    let sim = simulator(6, 106).await;
    let ts = TempStore::new();
    let env = host_env_at(&sim, &ts, &bao.addr, prefix, ROOT_TOKEN);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let (org, client, _) = served(&sim).remove(0);
    let key = credential_key(prefix, &org, &client);
    let added = sim
        .control()
        .add_client(&org.to_sim())
        .expect("a new client");
    let added_key = credential_key(prefix, &org, &added);

    // The state a run leaves when it dies between its vault writes and its local commit:
    // the run is recorded as a writer of this store, the rotated key and the new key hold
    // its writes, the store knows neither.
    let crashed = uuid::Uuid::new_v4().to_string();
    ts.open().record_vault_writer(&crashed).unwrap();
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    for (k, c) in [(&key, &client), (&added_key, &added)] {
        let secret = served(&sim)
            .into_iter()
            .find(|(o, id, _)| o == &org && id == c)
            .unwrap()
            .2;
        put(
            &bao,
            k,
            json!({"client_id": c, "secret": secret}),
            Some(&crashed),
        )
        .await;
    }
    // Then the school's secrets rotate again before the next run.
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    assert!(sim.control().rotate_secret(&org.to_sim(), &added));

    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["vault"]["written"], json!(2), "{}", stdout(&o));
    for (o_, c, secret) in served(&sim) {
        let (data, _) = bao.read(&credential_key(prefix, &o_, &c)).await.unwrap();
        assert_eq!(data["secret"], json!(secret), "{c}");
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(json(&o)["vault"]["written"], json!(0));

    // A key another writer changed is still refused, as that site's failure.
    let (org2, client2, _) = served(&sim)
        .into_iter()
        .find(|(o, _, _)| o != &org)
        .unwrap();
    let key2 = credential_key(prefix, &org2, &client2);
    put(
        &bao,
        &key2,
        json!({"client_id": client2, "secret": "someone else"}),
        Some("other-store-run"),
    )
    .await;
    assert!(sim.control().rotate_secret(&org2.to_sim(), &client2));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stdout(&o).contains("another writer"), "{}", stdout(&o));
}

/// How a fake vault behaves.
#[derive(Clone, Copy, Debug)]
enum Dead {
    /// Nothing listens: connections are refused.
    Refused,
    /// Accepts connections and never answers.
    Silent,
    /// Answers every request with `307` to an address where nothing listens.
    Redirect307,
}

/// Starts the fake vault on loopback; returns its address (the task runs until the test's
/// runtime ends).
async fn dead_vault(kind: Dead) -> String {
    match kind {
        Dead::Refused => format!("http://127.0.0.1:{}", free_port()),
        Dead::Silent => {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = format!("http://{}", l.local_addr().unwrap());
            tokio::spawn(async move {
                let mut held = Vec::new();
                // Bounded: at most this many connections are held open.
                for _ in 0..10_000 {
                    let Ok((s, _)) = l.accept().await else { break };
                    held.push(s);
                }
            });
            addr
        }
        Dead::Redirect307 => {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = format!("http://{}", l.local_addr().unwrap());
            let target = format!("http://127.0.0.1:{}", free_port());
            tokio::spawn(async move {
                for _ in 0..100_000 {
                    let Ok((mut s, _)) = l.accept().await else {
                        break;
                    };
                    let target = target.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        // Bounded: answer each request of a kept-alive connection.
                        for _ in 0..10_000 {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(_) => {}
                            }
                            let answer = format!(
                                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}/v1/secret\r\nContent-Length: 0\r\n\r\n"
                            );
                            if s.write_all(answer.as_bytes()).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            addr
        }
    }
}

/// Harvests a store with at least 300 credentials pending into a dead vault with a retry
/// budget of `budget` (`None`: the real default); returns the time to fail.
async fn fail_fast(kind: Dead, budget: Option<Duration>, seed: u64) -> Duration {
    let sim = simulator(260, seed).await;
    let pending = served(&sim).len();
    assert!(pending >= 300, "{pending} credentials pending");
    let ts = TempStore::new();
    let addr = dead_vault(kind).await;
    let mut env = host_env_at(&sim, &ts, &addr, "h/outage", ROOT_TOKEN);
    if let Some(b) = budget {
        env.insert(
            "SIMSID_VAULT_RETRY_BUDGET_MS".into(),
            b.as_millis().to_string(),
        );
    }
    let started = Instant::now();
    let o = simsid(&env, &["harvest", "--json"]).await;
    let took = started.elapsed();
    println!(
        "{kind:?}: {pending} pending credentials, budget {:?}: failed in {:.1} s",
        budget.unwrap_or(Duration::from_secs(60)),
        took.as_secs_f64()
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // The document is printed, the run is in the history as failed with its reason, and
    // nothing was committed.
    let v = json(&o);
    assert_eq!(v["status"], json!("failed"), "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("unreachable"), "{error}");
    assert!(error.contains("not committed"), "{error}");
    assert_eq!(v["vault"]["written"], json!(0));
    let run = last_run(&env).await;
    assert_eq!(run["status"], json!("failed"));
    assert_eq!(run["run_id"], v["run_id"]);
    assert!(run["error"].as_str().unwrap().contains("unreachable"));
    let sites = json(&simsid(&env, &["sites", "--json"]).await);
    assert_eq!(sites, json!([]), "nothing committed");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_the_run_within_one_budget_not_one_per_credential() {
    // A 3 s budget: 300 credentials one budget each would take 15 minutes.
    let budget = Duration::from_secs(3);
    for (i, kind) in [Dead::Refused, Dead::Silent, Dead::Redirect307]
        .into_iter()
        .enumerate()
    {
        let took = fail_fast(kind, Some(budget), 110 + i as u64).await;
        assert!(
            took < budget * 8,
            "{kind:?}: {took:?} is not one budget of {budget:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_within_the_real_sixty_second_budget() {
    let took = fail_fast(Dead::Refused, None, 120).await;
    assert!(took < Duration::from_secs(180), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_settings_never_echo_a_secret_and_name_tls_failures() {
    let bao = shared().await;
    let sim = simulator(2, 107).await;
    let ts = TempStore::new();

    // User information in the address: refused (exit 2), never echoed.
    let mut env = host_env_at(
        &sim,
        &ts,
        "https://admin:hunter2@vault.example:8200",
        "h/s",
        ROOT_TOKEN,
    );
    for args in [&["vault", "check"][..], &["sites"][..]] {
        let o = simsid(&env, args).await;
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(all.contains("user information"), "{all}");
        assert!(!all.contains("hunter2") && !all.contains("admin"), "{all}");
    }

    // A secret id pasted into `vault_secret_id_env` or `vault_secret_id_file`.
    env.insert("VAULT_ADDR".into(), bao.addr.clone());
    let cfg = ts.dir.path().join("config.toml");
    for line in [
        "vault_secret_id_env = \"8c3e-PASTED-SECRET-ID\"",
        "vault_secret_id_file = \"/8c3e-PASTED-SECRET-ID\"",
    ] {
        std::fs::write(
            &cfg,
            format!("[profile.default]\nvault_auth = \"approle\"\nvault_role_id = \"r\"\n{line}\n"),
        )
        .unwrap();
        env.insert("SIMSID_CONFIG".into(), cfg.display().to_string());
        for args in [&["vault", "check"][..], &["sites"][..]] {
            let o = simsid(&env, args).await;
            let all = format!("{}{}", stdout(&o), stderr(&o));
            assert!(!all.contains("PASTED"), "{line} {args:?}: {all}");
            assert!(all.contains("vault_secret_id_"), "{line} {args:?}: {all}");
        }
    }
    env.remove("SIMSID_CONFIG");

    // A group-readable token file works, with the same warning as client_secret_file.
    let token_file = ts.dir.path().join("vault-token");
    std::fs::write(&token_file, ROOT_TOKEN).unwrap();
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[profile.default]\nvault_token_file = \"{}\"\n",
            token_file.display()
        ),
    )
    .unwrap();
    env.insert("SIMSID_CONFIG".into(), cfg.display().to_string());
    env.remove("VAULT_TOKEN");
    let o = simsid(&env, &["vault", "check"]).await;
    assert!(
        stderr(&o).contains("readable by group or others"),
        "{}",
        stderr(&o)
    );
    assert!(!format!("{}{}", stdout(&o), stderr(&o)).contains(ROOT_TOKEN));
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let o = simsid(&env, &["vault", "check"]).await;
    assert!(!stderr(&o).contains("readable by group"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_failure_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("bao.log")).unwrap();
    /// Kills the server however the test ends.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = std::process::Command::new(vault_support::bao_bin())
        .args([
            "server",
            "-dev",
            &format!("-dev-root-token-id={ROOT_TOKEN}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-tls",
            &format!("-dev-tls-cert-dir={}", dir.path().display()),
        ])
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("bao starts");
    let _server = Killed(child);
    let ca = dir.path().join("vault-ca.pem");
    let mut ready = false;
    for _ in 0..300 {
        if ca.is_file() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "bao -dev-tls did not start");
    let sim = simulator(2, 108).await;
    let ts = TempStore::new();
    let mut env = host_env_at(
        &sim,
        &ts,
        &format!("https://127.0.0.1:{port}"),
        "h/tls",
        ROOT_TOKEN,
    );
    env.insert("SIMSID_VAULT_RETRY_BUDGET_MS".into(), "3000".into());
    let o = simsid(&env, &["vault", "check"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("TLS failure"), "{out}");
    assert!(out.contains("not trusted"), "{out}");
    assert!(out.contains("vault_ca_file"), "{out}");
    assert!(!out.contains("connection failed"), "{out}");
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("TLS failure"), "{}", stderr(&o));
    // Trusting the dev CA: every check passes.
    env.insert("VAULT_CACERT".into(), ca.display().to_string());
    let o = simsid(&env, &["vault", "check"]).await;
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_from_local_to_vault_mode_moves_every_sealed_secret() {
    let bao = shared().await;
    let prefix = "h/move";
    let sim = simulator(12, 109).await;
    let ts = TempStore::new();
    // Local mode first: every secret sealed in the store.
    let local = env_for(&sim, &ts);
    assert_eq!(code(&simsid(&local, &["harvest"]).await), 0);
    let before = served(&sim);
    let sealed = ts.open().sealed_secret_count().unwrap();
    assert_eq!(sealed, before.len());
    let env = host_env_at(&sim, &ts, &bao.addr, prefix, ROOT_TOKEN);
    let o = simsid(&env, &["vault", "check"]).await;
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!(
            "{sealed} secret(s) are still sealed in the local store"
        )),
        "{}",
        stdout(&o)
    );

    // The switch meets a stale site and a held mass removal: their secrets move too.
    let sites: Vec<OrgId> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .map(|s| s.org_id.to_domain())
        .collect();
    sim.control()
        .set_site_fault(&sites[0].to_sim(), simsid_simulator::Fault::Status500, None);
    for org in &sites[1..7] {
        assert!(sim.control().remove_site(&org.to_sim()));
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 3, "stale and held: {}", stderr(&o));
    assert!(
        json(&o)["error"].as_str().unwrap().contains("removal held"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        ts.open().sealed_secret_count().unwrap(),
        0,
        "no secret left sealed"
    );
    for (org, client, secret) in &before {
        let (data, _) = bao
            .read(&credential_key(prefix, org, client))
            .await
            .unwrap_or_else(|| panic!("{org}/{client} moved into the vault"));
        assert_eq!(data["secret"], json!(secret), "{org}/{client}");
    }
    for (path, bytes) in all_file_bytes(ts.dir.path()) {
        for (_, _, secret) in &before {
            assert!(
                !contains_bytes(&bytes, secret.as_bytes()),
                "a secret is in {}",
                path.display()
            );
        }
    }
    let o = simsid(&env, &["vault", "check"]).await;
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(!stdout(&o).contains("still sealed"), "{}", stdout(&o));
    // A stale site keeps its credentials; the next harvest after the fault writes nothing
    // twice.
    sim.control().clear_site_fault(&sites[0].to_sim());
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 3, "still held: {}", stderr(&o));
    assert_eq!(json(&o)["vault"]["errors"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_the_vault_phase_cancels_at_once() {
    use rustix::process::{kill_process, Pid, Signal};
    let sim = simulator(6, 121).await;
    let ts = TempStore::new();
    // A vault that accepts and never answers: the vault phase would wait its 60 s budget.
    let addr = dead_vault(Dead::Silent).await;
    let env = host_env_at(&sim, &ts, &addr, "h/cancel", ROOT_TOKEN);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::from(sandboxed_command(home.path()));
    cmd.envs(&env)
        .args(["harvest", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("simsid starts");
    // Every site fetched: the harvest is in its vault phase.
    let sites = sim.control().sites().len() as u64;
    let mut fetched = false;
    for _ in 0..600 {
        if sim.control().stats().api_requests > sites {
            fetched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(fetched, "the harvest never fetched every site");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = Pid::from_raw(child.id().expect("running") as i32).expect("a pid");
    let sent = Instant::now();
    kill_process(pid, Signal::TERM).expect("signal sent");
    let o = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the harvest stops soon after the signal, not after the vault's budget")
        .expect("simsid ran");
    println!(
        "cancelled {:.1} s after SIGTERM",
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    let run = last_run(&env).await;
    assert_eq!(run["status"], json!("cancelled"), "{run}");
    assert_eq!(json(&simsid(&env, &["sites", "--json"]).await), json!([]));
}

/// A proxy to `bao` that holds every listing of a folder below `slow_below` for `delay`
/// before forwarding it (a slow listing of a large prefix); `on_hold` is notified when
/// the first one is held. Returns the proxy's address.
async fn slow_listing_proxy(
    bao: &str,
    slow_below: String,
    delay: Duration,
    on_hold: std::sync::Arc<tokio::sync::Notify>,
) -> String {
    let gate: crate::support::proxy::Gate = std::sync::Arc::new(move |_, path, _| {
        let slow = path.contains("list=true") && path.contains(&format!("{slow_below}/"));
        let on_hold = on_hold.clone();
        Box::pin(async move {
            if slow {
                on_hold.notify_one();
                tokio::time::sleep(delay).await;
            }
        })
    });
    crate::support::proxy::start(bao, gate, std::sync::Arc::new(|_, _| {})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_written_after_the_listing_began_is_not_a_stray() {
    let bao = shared().await;
    let prefix = "h/slowlist";
    let sim = simulator(4, 122).await;
    let ts = TempStore::new();
    let env = host_env_at(&sim, &ts, &bao.addr, prefix, ROOT_TOKEN);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let run = last_run(&env).await["run_id"].as_str().unwrap().to_string();
    let org = served(&sim)[0].0.clone();
    let old = format!("{prefix}/{}/forgotten-before", org.as_str());
    put(&bao, &old, json!({"secret": "s"}), Some(&run)).await;
    next_second().await;

    // The reconcile's listing of the site's folder is slow; meanwhile a key is written
    // there with this store's run (a writer the listing must not judge).
    let held = std::sync::Arc::new(tokio::sync::Notify::new());
    let proxy = slow_listing_proxy(
        &bao.addr,
        format!("{prefix}/{}", org.as_str()),
        Duration::from_secs(3),
        held.clone(),
    )
    .await;
    let env = host_env_at(&sim, &ts, &proxy, prefix, ROOT_TOKEN);
    let reconcile = tokio::spawn({
        let env = env.clone();
        async move { simsid(&env, &["harvest", "--json", "--reconcile"]).await }
    });
    tokio::time::timeout(Duration::from_secs(60), held.notified())
        .await
        .expect("the reconcile lists the site's folder");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let during = format!("{prefix}/{}/written-during-the-listing", org.as_str());
    put(&bao, &during, json!({"secret": "new"}), Some(&run)).await;
    let o = reconcile.await.unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        json(&o)["diff"]["vault_removed"],
        json!([old]),
        "{}",
        stdout(&o)
    );
    assert!(
        bao.read(&during).await.is_some(),
        "written after the listing began: kept"
    );
    assert!(bao.metadata(&old).await.is_none());
}

/// A proxy to `bao` that forwards the first `writes` writes of a secret's data (and every
/// other request), then holds every later one unanswered: a vault phase that has written
/// `writes` keys and cannot end on its own. Returns the proxy's address and what is
/// notified once the `writes` keys' custom metadata (their run) is written too.
async fn proxy_holding_writes_after(
    bao: &str,
    writes: usize,
) -> (String, std::sync::Arc<tokio::sync::Notify>) {
    use axum::http::Method;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let is_write = |m: &Method| *m == Method::POST || *m == Method::PUT;
    let data = Arc::new(AtomicUsize::new(0));
    let gate: crate::support::proxy::Gate = Arc::new(move |method, path, _| {
        let held = is_write(method)
            && path.starts_with("/v1/secret/data/")
            && data.fetch_add(1, Ordering::SeqCst) >= writes;
        Box::pin(async move {
            if held {
                // Held until the harvest gives up on it (its cancel drops the request).
                std::future::pending::<()>().await;
            }
        })
    });
    let metadata = AtomicUsize::new(0);
    let written = Arc::new(tokio::sync::Notify::new());
    let notify = written.clone();
    let after = Arc::new(move |method: &Method, path: &str| {
        if is_write(method)
            && path.starts_with("/v1/secret/metadata/")
            && metadata.fetch_add(1, Ordering::SeqCst) + 1 == writes
        {
            written.notify_one();
        }
    });
    let addr = crate::support::proxy::start(bao, gate, after).await;
    (addr, notify)
}

/// docs/reference/cli.md "Signals": a cancel (SIGTERM, Ctrl-C) that lands after the vault
/// was written and before the local commit leaves keys the store never recorded; the next
/// plain harvest converges (sync rule 9: they were written by a run of this store), and the
/// one after it writes nothing. The harvest is the keeper's, through a proxy that lets
/// three keys be written and holds the rest, cancelled once those three are written (that
/// a cancel landing after the sync returned, before the commit, commits nothing too is the
/// unit test `ops::harvest::tests::
/// a_cancel_after_the_sync_commits_nothing_and_records_the_run_cancelled`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_the_vault_writes_converges_at_the_next_harvest() {
    use simsid::harvest::HarvestEnd;
    use tokio_util::sync::CancellationToken;

    const WRITTEN: usize = 3;
    let bao = shared().await;
    let sim = simulator(40, 131).await;
    let ts = TempStore::new();
    let prefix = "h/cancel-commit";
    let (proxy, written) = proxy_holding_writes_after(&bao.addr, WRITTEN).await;
    let through_proxy = host_env_at(&sim, &ts, &proxy, prefix, ROOT_TOKEN);
    let keeper = keeper_support::keeper(
        keeper_support::settings(&through_proxy, ts.dir.path()),
        "tester",
    );
    let cancel = CancellationToken::new();
    let canceller = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(60), written.notified())
                .await
                .expect("the vault phase writes its first keys");
            cancel.cancel();
        })
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let end = keeper_support::harvest(&keeper, tx, cancel.clone()).await;
    canceller.await.unwrap();
    assert!(matches!(end, HarvestEnd::Cancelled(_)), "cancelled");
    let want = served(&sim);
    assert!(want.len() > WRITTEN);
    assert_eq!(
        bao.keys(prefix).await.len(),
        WRITTEN,
        "the vault was written"
    );

    let env = host_env_at(&sim, &ts, &bao.addr, prefix, ROOT_TOKEN);
    assert_eq!(json(&simsid(&env, &["sites", "--json"]).await), json!([]));
    let run = last_run(&env).await;
    assert_eq!(run["status"], json!("cancelled"), "{run}");
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["status"], json!("complete"));
    for (org, client, secret) in &want {
        let (data, _) = bao
            .read(&credential_key(prefix, org, client))
            .await
            .unwrap_or_else(|| panic!("{org}/{client} missing"));
        assert_eq!(data["secret"], json!(secret), "{org}/{client}");
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        json(&o)["vault"]["written"],
        json!(0),
        "store and vault agree"
    );
}
