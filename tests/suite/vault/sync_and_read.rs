//! Vault mode against a real OpenBao (`bao server -dev` on loopback, started here), never a
//! mock: sync rules, reconcile, removal policies, failures, authentication, reading through
//! the vault, and no secret on local disk (docs/reference/vault.md).
// Tests compare secrets with what the simulator served and the vault holds.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::team_env::host_env;
use crate::support::vault_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use simsid::domain::OrgId;
use simsid::harvest::{HarvestEnd, HarvestOptions};
use simsid::ops::harvest_and_commit_via;
use simsid::ops::vault_sync::VaultSink;
use simsid::store::Store;
use simsid::vault::path::credential_key;
use simsid::vault::{Route, VaultAuth, VaultClient, VaultSettings};
use simsid_simulator::{Fault, Simulator};
use tokio_util::sync::CancellationToken;
use vault_support::{served, shared, Bao, ROOT_TOKEN};

/// Asserts the vault under `prefix` holds exactly what the simulator serves, each once.
async fn assert_vault_matches(bao: &Bao, sim: &Simulator, prefix: &str) {
    let want = served(sim);
    let mut want_keys: Vec<String> = want
        .iter()
        .map(|(o, c, _)| credential_key(prefix, o, c))
        .collect();
    want_keys.sort();
    assert_eq!(bao.keys(prefix).await, want_keys, "keys under {prefix}");
    for (org, client, secret) in &want {
        let (data, _) = bao
            .read(&credential_key(prefix, org, client))
            .await
            .unwrap_or_else(|| panic!("{org}/{client} missing"));
        assert_eq!(data["secret"], json!(secret), "{org}/{client}");
        assert_eq!(data["client_id"], json!(client));
        assert_eq!(data["organisation_id"], json!(org.as_str()));
    }
}

fn vault_counts(o: &std::process::Output) -> Value {
    json(o)["vault"].clone()
}

async fn versions(bao: &Bao, prefix: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for k in bao.keys(prefix).await {
        let m = bao.metadata(&k).await.unwrap();
        out.insert(k, m["current_version"].as_u64().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_changes_only_and_removes_what_sims_withdraws() {
    let bao = shared().await;
    let sim = simulator(12, 31).await;
    let ts = TempStore::new();
    let prefix = "t/lifecycle";
    let env = host_env(&sim, &ts, &bao, prefix);

    // First sync: every credential written once, with its fingerprint and run id.
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let total = served(&sim).len();
    assert!(total > 5);
    assert_eq!(
        vault_counts(&o),
        json!({"written": total, "removed": 0, "unchanged": 0, "errors": 0})
    );
    assert_vault_matches(&bao, &sim, prefix).await;
    let run_id = json(&o)["run_id"].as_str().unwrap().to_string();
    let (org, client, _) = served(&sim).remove(0);
    let key = credential_key(prefix, &org, &client);
    let meta = bao.metadata(&key).await.unwrap();
    assert_eq!(meta["custom_metadata"]["simsid_run"], json!(run_id));
    let shown = json(&simsid(&env, &["show", org.as_str(), "--json"]).await);
    let fp = shown["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == json!(client))
        .unwrap()["fingerprint"]
        .clone();
    assert_eq!(meta["custom_metadata"]["fingerprint"], fp);

    // No secret on local disk.
    assert_eq!(ts.open().sealed_secret_count().unwrap(), 0);
    for (path, bytes) in all_file_bytes(ts.dir.path()) {
        for (_, _, secret) in served(&sim) {
            assert!(
                !contains_bytes(&bytes, secret.as_bytes()),
                "a secret is in {}",
                path.display()
            );
        }
    }

    // Unchanged: nothing written, every version where it was.
    let before = versions(&bao, prefix).await;
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        vault_counts(&o),
        json!({"written": 0, "removed": 0, "unchanged": total, "errors": 0})
    );
    assert_eq!(versions(&bao, prefix).await, before);

    // Rotate: one new version of that key only.
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(vault_counts(&o)["written"], json!(1));
    let mut after = versions(&bao, prefix).await;
    assert_eq!(after.remove(&key), Some(2));
    let mut expected = before.clone();
    expected.remove(&key);
    assert_eq!(after, expected);
    assert_vault_matches(&bao, &sim, prefix).await;

    // A client withdrawn: its key and all versions deleted (vault_on_remove = delete).
    assert!(sim.control().withdraw_client(&org.to_sim(), &client));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(vault_counts(&o)["removed"], json!(1));
    assert!(bao.metadata(&key).await.is_none());
    assert_vault_matches(&bao, &sim, prefix).await;

    // A site withdrawn: all its keys go.
    let gone = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.authorised && s.clients.len() >= 2)
        .unwrap();
    assert!(sim.control().remove_site(&gone.org_id));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(vault_counts(&o)["removed"], json!(gone.clients.len()));
    assert_vault_matches(&bao, &sim, prefix).await;

    // A partial harvest deletes nothing: the failing site's keys stay, even when its
    // clients changed meanwhile.
    let stale = authorised_site(&sim, 0);
    let stale_keys: Vec<String> = stale
        .clients
        .iter()
        .map(|c| credential_key(prefix, &stale.org_id.to_domain(), &c.client_id))
        .collect();
    sim.control()
        .set_site_fault(&stale.org_id, Fault::Status500, None);
    sim.control()
        .withdraw_client(&stale.org_id, &stale.clients[0].client_id);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 3, "partial: {}", stderr(&o));
    assert_eq!(
        vault_counts(&o),
        json!({"written": 0, "removed": 0, "unchanged": total - 1 - gone.clients.len() - stale.clients.len(), "errors": 0})
    );
    for k in &stale_keys {
        assert!(bao.read(k).await.is_some(), "{k} kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_removal_keeps_the_versions() {
    let bao = shared().await;
    let sim = simulator(6, 32).await;
    let ts = TempStore::new();
    let prefix = "t/soft";
    let mut env = host_env(&sim, &ts, &bao, prefix);
    let cfg = ts.dir.path().join("config.toml");
    std::fs::write(&cfg, "[profile.default]\nvault_on_remove = \"soft\"\n").unwrap();
    env.insert("SIMSID_CONFIG".into(), cfg.display().to_string());
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let (org, client, _) = served(&sim).remove(0);
    let key = credential_key(prefix, &org, &client);
    sim.control().withdraw_client(&org.to_sim(), &client);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(vault_counts(&o)["removed"], json!(1));
    assert!(
        bao.read(&key).await.is_none(),
        "latest version soft-deleted"
    );
    let meta = bao
        .metadata(&key)
        .await
        .expect("metadata and versions kept");
    assert_eq!(meta["current_version"], json!(1));
    assert_ne!(meta["versions"]["1"]["deletion_time"], json!(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_vault_write_fails_the_run_and_the_next_harvest_converges() {
    let bao = shared().await;
    let sim = simulator(8, 33).await;
    let ts = TempStore::new();
    let prefix = "t/failing";
    let blocked = served(&sim).remove(0).0;
    bao.policy(
        "failing-writer",
        &format!(
            "path \"secret/data/{prefix}/*\" {{ capabilities = [\"create\", \"update\", \"read\", \"delete\"] }}\n\
             path \"secret/metadata/{prefix}/*\" {{ capabilities = [\"create\", \"update\", \"read\", \"list\", \"delete\"] }}\n\
             path \"secret/data/{prefix}/{}/*\" {{ capabilities = [\"deny\"] }}\n",
            blocked.as_str()
        ),
    )
    .await;
    let token = bao.token_with(&["failing-writer"]).await;
    let mut env = host_env(&sim, &ts, &bao, prefix);
    env.insert("VAULT_TOKEN".into(), token);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("vault write failed"), "{}", stderr(&o));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    // The store was not committed.
    assert!(ts.open().sites().unwrap().is_empty());
    // Some keys did land; the next harvest (allowed now) counts them written after reading
    // them back, and writes the rest.
    assert!(!bao.keys(prefix).await.is_empty());
    let env = host_env(&sim, &ts, &bao, prefix);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(vault_counts(&o)["written"], json!(served(&sim).len()));
    assert_vault_matches(&bao, &sim, prefix).await;
    for v in versions(&bao, prefix).await.values() {
        assert_eq!(*v, 1, "nothing written twice");
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(vault_counts(&o)["written"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_repairs_deleted_edited_and_stray_keys() {
    let bao = shared().await;
    let sim = simulator(8, 34).await;
    let ts = TempStore::new();
    let prefix = "t/reconcile";
    let env = host_env(&sim, &ts, &bao, prefix);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0);
    let run_id = json(&o)["run_id"].as_str().unwrap().to_string();
    let all = served(&sim);
    let deleted = credential_key(prefix, &all[0].0, &all[0].1);
    let edited = credential_key(prefix, &all[1].0, &all[1].1);
    let stray = format!("{prefix}/{}/not-a-client", all[2].0.as_str());
    let (s, _) = bao
        .api("DELETE", &format!("secret/metadata/{deleted}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = bao
        .api(
            "POST",
            &format!("secret/data/{edited}"),
            Some(json!({"data": {"client_id": all[1].1, "secret": "edited-by-hand"}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = bao
        .api(
            "POST",
            &format!("secret/data/{stray}"),
            Some(json!({"data": {"x": "y"}})),
        )
        .await;
    assert_eq!(s, 200);
    // The stray is one this store wrote (its run named in the custom metadata); a key
    // without that is foreign and stays (docs/reference/vault.md sync rule 5).
    let (s, _) = bao
        .api(
            "POST",
            &format!("secret/metadata/{stray}"),
            Some(json!({"custom_metadata": {"simsid_run": run_id}})),
        )
        .await;
    assert_eq!(s, 204);
    let foreign = format!("{prefix}/{}/another-tool", all[2].0.as_str());
    let (s, _) = bao
        .api(
            "POST",
            &format!("secret/data/{foreign}"),
            Some(json!({"data": {"x": "y"}})),
        )
        .await;
    assert_eq!(s, 200);
    // A key written in the second the listing begins may be newer than it: wait past it.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A plain harvest trusts the store: nothing to write.
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(vault_counts(&o)["written"], json!(0));
    let o = simsid(&env, &["harvest", "--json", "--reconcile"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        vault_counts(&o),
        json!({"written": 2, "removed": 1, "unchanged": all.len() - 2, "errors": 0})
    );
    assert_eq!(json(&o)["vault_foreign"], json!([foreign]));
    assert!(bao.read(&foreign).await.is_some(), "foreign key kept");
    let (s, _) = bao
        .api("DELETE", &format!("secret/metadata/{foreign}"), None)
        .await;
    assert_eq!(s, 204);
    assert_vault_matches(&bao, &sim, prefix).await;
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(vault_counts(&o)["written"], json!(0));
    let o = simsid(&env, &["harvest", "--json", "--reconcile"]).await;
    assert_eq!(
        vault_counts(&o),
        json!({"written": 0, "removed": 0, "unchanged": all.len(), "errors": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_and_token_without_permission_are_clear() {
    let bao = shared().await;
    let sim = simulator(4, 35).await;
    let ts = TempStore::new();
    let prefix = "t/auth";
    let mut env = host_env(&sim, &ts, &bao, prefix);
    env.insert("VAULT_TOKEN".into(), "not-a-token".into());
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("refused the token"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("not-a-token"), "{}", stderr(&o));
    let o = simsid(&env, &["vault", "check"]).await;
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("FAIL authentication"), "{}", stdout(&o));

    let weak = bao.token_with(&["default"]).await;
    env.insert("VAULT_TOKEN".into(), weak.clone());
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    let o = simsid(&env, &["vault", "check", "--json"]).await;
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["ok"], json!(false));
    let caps = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().starts_with("capabilities"))
        .unwrap();
    assert_eq!(caps["ok"], json!(false), "{caps}");

    // The printed harvester policy is enough for a harvest and for `vault check`.
    let policy = stdout(&simsid(&env, &["vault", "policy"]).await);
    let harvester = policy.split("# simsid viewer").next().unwrap();
    bao.policy("t-auth-harvester", harvester).await;
    env.insert(
        "VAULT_TOKEN".into(),
        bao.token_with(&["t-auth-harvester"]).await,
    );
    let o = simsid(&env, &["vault", "check"]).await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("ok   address"), "{}", stdout(&o));
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // A reader-less identity may not reveal.
    let org = served(&sim).remove(0).0;
    env.insert("VAULT_TOKEN".into(), weak);
    let o = simsid(&env, &["show", org.as_str(), "--reveal"]).await;
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("your vault identity may not read this credential"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveal_and_verify_read_the_vault_and_audit_the_identity() {
    let bao = shared().await;
    let sim = simulator(6, 36).await;
    let ts = TempStore::new();
    let prefix = "t/reveal";
    let env = host_env(&sim, &ts, &bao, prefix);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let (org, client, secret) = served(&sim).remove(0);
    let o = simsid(&env, &["show", org.as_str(), "--reveal", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let c = v["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == json!(client))
        .unwrap()
        .clone();
    assert_eq!(c["secret"], json!(secret));
    let o = simsid(&env, &["verify", org.as_str(), "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let audit = json(&simsid(&env, &["audit", "--json"]).await);
    let text = audit.to_string();
    assert!(
        text.contains("\"detail\":\"vault identity root\""),
        "{text}"
    );
    assert!(text.contains("ok; vault identity root"), "{text}");
    assert!(!text.contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrator_secret_comes_from_the_vault() {
    let bao = shared().await;
    let sim = simulator(4, 37).await;
    let ts = TempStore::new();
    let prefix = "t/integrator";
    let mut env = host_env(&sim, &ts, &bao, prefix);
    let secret = env.remove("SIMSID_CLIENT_SECRET").unwrap();
    let (s, _) = bao
        .api(
            "POST",
            "secret/data/t/integrator-own",
            Some(json!({"data": {"client_secret": secret}})),
        )
        .await;
    assert_eq!(s, 200);
    env.insert(
        "SIMSID_CLIENT_SECRET_VAULT".into(),
        "secret/t/integrator-own#client_secret".into(),
    );
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // In local mode too.
    env.insert("SIMSID_SECRETS".into(), "local".into());
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A wrong field is a clear error.
    env.insert(
        "SIMSID_CLIENT_SECRET_VAULT".into(),
        "secret/t/integrator-own#nope".into(),
    );
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no non-empty string field `nope`"),
        "{}",
        stderr(&o)
    );
}

fn root_settings(bao: &Bao, prefix: &str) -> VaultSettings {
    simsid_testkit::vault_env::settings(vec![bao.addr.clone()], prefix, ROOT_TOKEN)
}

async fn harvest_into(
    sim: &Simulator,
    store: &mut Store,
    client: Arc<VaultClient>,
    settings: &VaultSettings,
) -> simsid::ops::vault_sync::VaultCounts {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sink = VaultSink::new(client, settings, false);
    let end = harvest_and_commit_via(
        store,
        common::client(sim, Duration::from_secs(5)),
        simsid::ops::Run {
            options: HarvestOptions::default(),
            policy: simsid::ops::HarvestPolicy::default(),
            user: "tester",
        },
        tx,
        CancellationToken::new(),
        &mut sink,
    )
    .await
    .expect("harvest runs");
    assert!(matches!(end, HarvestEnd::Finished(_)));
    sink.counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_reharvest_makes_no_vault_request() {
    let bao = shared().await;
    let sim = simulator(20, 38).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let settings = root_settings(&bao, "t/idempotent");
    let client = Arc::new(VaultClient::new(&settings).unwrap());
    let first = harvest_into(&sim, &mut store, client.clone(), &settings).await;
    assert_eq!(first.written, served(&sim).len());
    let after_first = client.requests();
    assert!(after_first > 0);
    let before = versions(&bao, "t/idempotent").await;
    let second = harvest_into(&sim, &mut store, client.clone(), &settings).await;
    assert_eq!(second.written, 0);
    assert_eq!(second.unchanged, served(&sim).len());
    assert_eq!(client.requests(), after_first, "no vault request at all");
    assert_eq!(versions(&bao, "t/idempotent").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_logs_in_and_again_when_its_token_is_gone() {
    let bao = shared().await;
    let (s, v) = bao
        .api(
            "POST",
            "sys/auth/t-approle",
            Some(json!({"type": "approle"})),
        )
        .await;
    assert!(s == 204 || s == 400, "{s} {v}");
    bao.policy(
        "t-approle",
        "path \"secret/data/t/approle/*\" { capabilities = [\"create\", \"update\", \"read\"] }\n",
    )
    .await;
    let (s, v) = bao
        .api(
            "POST",
            "auth/t-approle/role/harvester",
            Some(
                json!({"token_policies": ["t-approle"], "token_ttl": "3s", "token_max_ttl": "3s"}),
            ),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = bao
        .api("GET", "auth/t-approle/role/harvester/role-id", None)
        .await;
    let role_id = v["data"]["role_id"].as_str().unwrap().to_string();
    let (_, v) = bao
        .api("POST", "auth/t-approle/role/harvester/secret-id", None)
        .await;
    let secret_id = v["data"]["secret_id"].as_str().unwrap().to_string();
    let mut settings = root_settings(&bao, "t/approle");
    settings.auth = VaultAuth::AppRole {
        mount: "t-approle".into(),
        role_id,
        secret_id: secret_id.into(),
    };
    let client = VaultClient::new(&settings).unwrap();
    let data = json!({"a": "b"});
    client
        .kv_write("secret", "t/approle/one", &data, None)
        .await
        .expect("login and write");
    let first = client.lookup_self().await.unwrap();
    assert!(first.ttl <= 3);

    // Revoked behind our back: the 403 makes one fresh login, then the write succeeds.
    let (s, v) = bao
        .api(
            "POST",
            "auth/token/revoke-accessor",
            Some(json!({"accessor": first.accessor})),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    client
        .kv_write("secret", "t/approle/two", &data, None)
        .await
        .expect("re-login after revocation");
    let second = client.lookup_self().await.unwrap();
    assert_ne!(second.accessor, first.accessor);

    // Expired by its TTL: wait (bounded) until the vault says the token is gone.
    let mut gone = false;
    for _ in 0..100 {
        let (s, _) = bao
            .api(
                "POST",
                "auth/token/lookup-accessor",
                Some(json!({"accessor": second.accessor})),
            )
            .await;
        if s != 200 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the 3 s token expired");
    let read = client
        .kv_read::<Value>("secret", "t/approle/two", Route::Any)
        .await
        .expect("logged in again")
        .unwrap();
    assert_eq!(read.data, data);
    assert_ne!(
        client.lookup_self().await.unwrap().accessor,
        second.accessor
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_escapes_in_vault_mode() {
    let bao = shared().await;
    let sim = simulator(10, 39).await;
    let ts = TempStore::new();
    let prefix = "t/leak";
    let env = host_env(&sim, &ts, &bao, prefix);
    let org = served(&sim).remove(0).0;
    let mut outputs = Vec::new();
    for args in [
        vec!["harvest", "-vv"],
        vec!["harvest", "--json", "-vv", "--reconcile"],
        vec!["sites", "--json"],
        vec!["show", org.as_str(), "--json"],
        vec!["verify", org.as_str(), "-vv"],
        vec!["export", "--format", "csv"],
        vec!["vault", "check", "-vv"],
        vec!["history", "--json"],
        vec!["audit", "--json"],
    ] {
        let o = simsid(&env, &args).await;
        outputs.push((args.join(" "), o));
    }
    let reveal = simsid(&env, &["show", org.as_str(), "--reveal", "-vv"]).await;
    assert_eq!(code(&reveal), 0);
    // The bulk verifies read every secret from the vault: none of it reaches an output,
    // the log or the store (an exposure now exists for --exposed).
    for args in [
        vec!["verify", "--all", "-vv"],
        vec!["verify", "--all", "--json", "-vv"],
        vec!["verify", "--exposed", "-vv"],
        vec!["verify", "--exposed", "--json", "-vv"],
    ] {
        let o = simsid(&env, &args).await;
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        outputs.push((args.join(" "), o));
    }
    let secrets: Vec<String> = served(&sim).into_iter().map(|(_, _, s)| s).collect();
    let integrator = env["SIMSID_CLIENT_SECRET"].clone();
    let mut needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    needles.push(ROOT_TOKEN);
    needles.push(&integrator);
    for (args, o) in &outputs {
        for n in &needles {
            assert!(!contains_bytes(&o.stdout, n.as_bytes()), "stdout of {args}");
            assert!(!contains_bytes(&o.stderr, n.as_bytes()), "stderr of {args}");
        }
    }
    assert!(!contains_bytes(&reveal.stderr, ROOT_TOKEN.as_bytes()));
    for (path, bytes) in all_file_bytes(ts.dir.path()) {
        for n in &needles {
            assert!(!contains_bytes(&bytes, n.as_bytes()), "{}", path.display());
        }
    }
    assert!(ts.log().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_sync_survives_the_node_in_use_being_killed() {
    use simsid::harvest::HarvestEvent;
    use vault_support::Cluster;

    let cluster = Cluster::start().await;
    let leader = cluster.wait_leader().await;
    // The node in use (listed first) is the active one.
    let mut addrs = vec![cluster.addrs[leader].clone()];
    addrs.extend(
        (0..3)
            .filter(|i| *i != leader)
            .map(|i| cluster.addrs[i].clone()),
    );
    let sim = simulator(150, 40).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let prefix = "t/ha";
    let mut settings = root_settings(cluster.node(leader), prefix);
    settings.addrs = addrs;
    settings.auth = VaultAuth::Token {
        token: Some(cluster.root_token.clone().into()),
        token_file: "/nonexistent".into(),
    };
    let client = Arc::new(VaultClient::new(&settings).unwrap());
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let killer = {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            let mut killed = false;
            while let Some(ev) = rx.recv().await {
                if let HarvestEvent::Stored { done, total } = ev {
                    if !killed && done >= 64 && done < total {
                        cluster.lock().await.kill(leader);
                        killed = true;
                    }
                }
            }
            killed
        })
    };
    let mut sink = VaultSink::new(client.clone(), &settings, false).with_concurrency(8);
    let end = harvest_and_commit_via(
        &mut store,
        common::client(&sim, Duration::from_secs(5)),
        simsid::ops::Run {
            options: HarvestOptions::default(),
            policy: simsid::ops::HarvestPolicy::default(),
            user: "tester",
        },
        tx,
        CancellationToken::new(),
        &mut sink,
    )
    .await
    .expect("the sync completes through the other nodes");
    let HarvestEnd::Finished(summary) = end else {
        panic!("the harvest did not finish");
    };
    assert!(
        summary.failures.is_empty(),
        "no site fails over a failover: {:?}",
        summary.failures
    );
    assert!(killer.await.unwrap(), "the node in use was killed mid-sync");
    let want = served(&sim);
    assert_eq!(sink.counts.written, want.len());

    // Every credential present exactly once (one version), read on the new active node.
    let cluster = cluster.lock().await;
    let now = cluster.wait_leader().await;
    assert_ne!(now, leader);
    let node = cluster.node(now);
    let mut want_keys: Vec<String> = want
        .iter()
        .map(|(o, c, _)| credential_key(prefix, o, c))
        .collect();
    want_keys.sort();
    assert_eq!(node.keys(prefix).await, want_keys);
    for (org, client_id, secret) in &want {
        let key = credential_key(prefix, org, client_id);
        let (data, version) = node.read(&key).await.expect("present");
        assert_eq!(data["secret"], json!(secret));
        assert_eq!(version, 1, "{key} written once");
    }

    // The next harvest is idempotent: no vault request.
    let before = client.requests();
    let again = harvest_into(&sim, &mut store, client.clone(), &settings).await;
    assert_eq!(again.written, 0);
    assert_eq!(again.unchanged, want.len());
    assert_eq!(client.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_settings_are_checked_up_front_and_shown_in_help() {
    let sim = simulator(2, 41).await;
    let ts = TempStore::new();
    let mut env = env_for(&sim, &ts);
    env.insert("SIMSID_SECRETS".into(), "vault".into());
    env.insert("VAULT_ADDR".into(), "http://vault.example.org:8200".into());
    env.insert("SIMSID_VAULT_AUTH".into(), "kerberos".into());
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("plain http://"), "{err}");
    assert!(err.contains("vault_auth `kerberos`"), "{err}");
    let help = stdout(&simsid(&env, &["--help"]).await);
    for key in [
        "SIMSID_SECRETS",
        "vault_addr",
        "VAULT_ADDR",
        "vault_token_file",
        "vault_on_remove",
        "client_secret_vault",
    ] {
        assert!(help.contains(key), "{key} not in --help");
    }
}

/// The `results` of a bulk verify by (organisation, client id).
fn bulk_results(v: &Value) -> BTreeMap<(String, String), Value> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["organisation_id"].as_str().unwrap().to_string(),
                    r["client_id"].as_str().unwrap().to_string(),
                ),
                r.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_verify_reads_each_secret_from_the_vault_with_the_current_identity() {
    let bao = shared().await;
    let sim = simulator(6, 40).await;
    let ts = TempStore::new();
    let prefix = "t/bulkverify";
    let mut env = host_env(&sim, &ts, &bao, prefix);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let all = served(&sim);
    let mut orgs: Vec<OrgId> = all.iter().map(|(o, _, _)| o.clone()).collect();
    orgs.dedup();
    let (exposed_org, rotated_org, denied_org) =
        (orgs[0].clone(), orgs[1].clone(), orgs[2].clone());
    let key = |o: &OrgId, c: &str| (o.as_str().to_string(), c.to_string());

    // Everything works: every credential once, each read from the vault.
    let o = simsid(&env, &["verify", "--all", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(
        (
            v["ok"].as_u64(),
            v["refused"].as_u64(),
            v["errors"].as_u64()
        ),
        (Some(all.len() as u64), Some(0), Some(0))
    );
    let want: Vec<_> = all.iter().map(|(o, c, _)| key(o, c)).collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(
        bulk_results(&v).into_keys().collect::<Vec<_>>(),
        want_sorted
    );

    // Reveal two sites (an exposure), then the vendor rotates one credential: the vault
    // still holds the old secret, which the STS refuses (exit 5).
    for org in [&exposed_org, &rotated_org] {
        assert_eq!(
            code(&simsid(&env, &["show", org.as_str(), "--reveal"]).await),
            0
        );
    }
    let rotated = all
        .iter()
        .find(|(o, _, _)| o == &rotated_org)
        .unwrap()
        .1
        .clone();
    assert!(sim.control().rotate_secret(&rotated_org.to_sim(), &rotated));
    let o = simsid(&env, &["verify", "--exposed", "--json"]).await;
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    let v = json(&o);
    let exposed: Vec<_> = all
        .iter()
        .filter(|(o, _, _)| o == &exposed_org || o == &rotated_org)
        .map(|(o, c, _)| key(o, c))
        .collect();
    let results = bulk_results(&v);
    let mut exposed_sorted = exposed.clone();
    exposed_sorted.sort();
    assert_eq!(results.keys().cloned().collect::<Vec<_>>(), exposed_sorted);
    assert_eq!(v["refused"], json!(1));
    assert_eq!(v["ok"], json!(exposed.len() - 1));
    let r = &results[&key(&rotated_org, &rotated)];
    assert_eq!(
        (r["ok"].clone(), r["refused"].clone()),
        (json!(false), json!(true))
    );
    let o = simsid(&env, &["verify", "--all"]).await;
    assert_eq!(code(&o), 5);
    assert!(
        stdout(&o).contains(&format!("REFUSED  {}  {rotated}", rotated_org.as_str())),
        "{}",
        stdout(&o)
    );

    // An identity that may read every credential but the rotated site's and one other
    // site's: those are errors that say so, the rest are verified (exit 1: none refused).
    let deny = |o: &OrgId| {
        format!(
            "path \"secret/data/{prefix}/{}/*\" {{\n  capabilities = [\"deny\"]\n}}\n",
            o.as_str()
        )
    };
    let hcl = format!(
        "path \"secret/data/{prefix}/*\" {{\n  capabilities = [\"read\"]\n}}\n{}{}",
        deny(&rotated_org),
        deny(&denied_org)
    );
    bao.policy("t-bulkverify-partial", &hcl).await;
    env.insert(
        "VAULT_TOKEN".into(),
        bao.token_with(&["default", "t-bulkverify-partial"]).await,
    );
    let o = simsid(&env, &["verify", "--all", "--json"]).await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = json(&o);
    let denied: Vec<_> = all
        .iter()
        .filter(|(o, _, _)| o == &rotated_org || o == &denied_org)
        .map(|(o, c, _)| key(o, c))
        .collect();
    assert_eq!(v["errors"], json!(denied.len()));
    assert_eq!(v["ok"], json!(all.len() - denied.len()));
    assert_eq!(v["refused"], json!(0));
    for (k, r) in bulk_results(&v) {
        if denied.contains(&k) {
            assert_eq!(r["ok"], json!(false));
            assert_eq!(
                r["error"],
                json!("your vault identity may not read this credential"),
                "{k:?}"
            );
        } else {
            assert_eq!(r["ok"], json!(true), "{k:?}: {r}");
        }
    }
    let o = simsid(&env, &["verify", "--exposed"]).await;
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("your vault identity may not read this credential"),
        "{}",
        stdout(&o)
    );

    // Each verify is audited with the fingerprint of the secret read and the identity.
    let audit = json(&simsid(&env, &["audit", "--json"]).await);
    let verifies: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == json!("verify"))
        .collect();
    assert_eq!(
        verifies.len(),
        all.len() + exposed.len() + all.len() + all.len() + exposed.len()
    );
    for e in &verifies {
        let detail = e["detail"].as_str().unwrap();
        // Identities are qualified where the display name is shared: the root token is
        // `root`, a token made without a display name or entity `token:unknown`.
        let who = e["identity"].as_str().unwrap();
        assert!(["root", "token:unknown"].contains(&who), "{e}");
        assert!(
            detail.ends_with(&format!("; vault identity {who}")),
            "{detail}"
        );
        if detail.contains("may not read") {
            assert_eq!(e["fingerprint"], Value::Null, "{e}");
        } else {
            assert!(e["fingerprint"].is_string(), "{e}");
        }
    }
    let text = audit.to_string();
    for (_, _, secret) in &all {
        assert!(!text.contains(secret.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_keeps_what_the_removal_guard_holds() {
    let bao = shared().await;
    let sim = simulator(12, 41).await;
    let ts = TempStore::new();
    let prefix = "t/heldreconcile";
    let env = host_env(&sim, &ts, &bao, prefix);
    assert_eq!(code(&simsid(&env, &["harvest"]).await), 0);
    let before = bao.keys(prefix).await;
    let all = served(&sim);
    let mut orgs: Vec<OrgId> = all.iter().map(|(o, _, _)| o.clone()).collect();
    orgs.dedup();
    // A mass removal: four sites leave and four others lose a credential at once.
    for org in &orgs[..4] {
        assert!(sim.control().remove_site(&org.to_sim()));
    }
    let mut withdrawn = 0;
    for org in &orgs[4..8] {
        let client = &all.iter().find(|(o, _, _)| o == org).unwrap().1;
        assert!(sim.control().withdraw_client(&org.to_sim(), client));
        withdrawn += 1;
    }
    let removing = all.iter().filter(|(o, _, _)| orgs[..4].contains(o)).count() + withdrawn;

    // Held: the run is partial and reconcile removes none of them from the vault.
    for args in [
        vec!["harvest", "--json", "--reconcile"],
        vec!["harvest", "--json"],
    ] {
        let o = simsid(&env, &args).await;
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        assert!(
            json(&o)["error"].as_str().unwrap().contains("removal held"),
            "{}",
            stdout(&o)
        );
        assert_eq!(vault_counts(&o)["removed"], json!(0), "{args:?}");
        assert_eq!(vault_counts(&o)["errors"], json!(0), "{args:?}");
        assert_eq!(bao.keys(prefix).await, before, "{args:?}: held keys stay");
    }

    // Accepted: they go, and the vault holds what SIMS ID serves.
    let o = simsid(
        &env,
        &["harvest", "--json", "--reconcile", "--accept-removals"],
    )
    .await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(vault_counts(&o)["removed"], json!(removing));
    assert_vault_matches(&bao, &sim, prefix).await;
}

/// The roles' policies of `vault policy`, split at their heading comments.
fn role_policies(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in text.split("# simsid ").filter(|p| !p.trim().is_empty()) {
        let role = part.split(' ').next().unwrap().to_string();
        out.insert(role, format!("# simsid {part}"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_role_policies_grant_each_role_what_it_needs_and_no_more() {
    let bao = shared().await;
    let sim = simulator(3, 41).await;
    let ts = TempStore::new();
    let prefix = "t/roles";
    let mut env = host_env(&sim, &ts, &bao, prefix);
    let o = simsid(&env, &["vault", "policy"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let policies = role_policies(&stdout(&o));
    assert_eq!(
        policies.keys().collect::<Vec<_>>(),
        ["harvester", "operator", "service", "viewer"],
        "{}",
        stdout(&o)
    );
    let mut tokens = BTreeMap::new();
    for (role, hcl) in &policies {
        let name = format!("t-roles-{role}");
        bao.policy(&name, hcl).await;
        tokens.insert(role.clone(), bao.token_with(&[&name]).await);
    }
    // The harvester's policy is enough to harvest (and to write the team's view).
    env.insert("VAULT_TOKEN".into(), tokens["harvester"].clone());
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let view = format!("secret/data/{prefix}/_simsid/manifest");
    let (s, v) = bao
        .try_api(
            "POST",
            &view,
            Some(json!({"data": {"run": "x"}})),
            Some(&tokens["harvester"]),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let (org, client, _) = served(&sim).remove(0);
    let credential = format!("secret/data/{}", credential_key(prefix, &org, &client));
    let listing = format!("secret/metadata/{prefix}?list=true");
    let status = |role: &str, path: &str| {
        let (bao, token, path) = (bao.clone(), tokens[role].clone(), path.to_string());
        async move {
            bao.try_api("GET", &path, None, Some(&token))
                .await
                .unwrap()
                .0
        }
    };
    // role: (the view, a credential, listing the prefix)
    for (role, want) in [
        ("viewer", (200, 403, 403)),
        ("operator", (200, 200, 200)),
        ("service", (200, 200, 403)),
        ("harvester", (200, 200, 200)),
    ] {
        let got = (
            status(role, &view).await,
            status(role, &credential).await,
            status(role, &listing).await,
        );
        assert_eq!(got, want, "{role}: view, credential, listing");
    }
    // Only the harvester writes.
    for role in ["viewer", "operator", "service"] {
        let (s, _) = bao
            .try_api(
                "POST",
                &credential,
                Some(json!({"data": {"secret": "x"}})),
                Some(&tokens[role]),
            )
            .await
            .unwrap();
        assert_eq!(s, 403, "{role} may not write");
    }
}
