//! The exposure report as evidence against an insider, against a real OpenBao with its file
//! audit device (docs/reference/vault.md "Trust: the view and the audit log are evidence"): a read
//! answered with response wrapping is a read; a vault identity is not a display name (every
//! AppRole login is `approle`); the harvester is the machine identity the log records
//! writing the view's manifest, never a name taken from a pulled view.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::vault_support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::team_env::{host_env_as, viewer_env};
use common::*;
use serde_json::{json, Value};
use simsid::vault::path::credential_key;
use simsid::vault::policy;
use vault_support::{audit_log_when, bao_bin, served, Bao, ROOT_TOKEN};

/// The report's entries by client id.
fn by_client(o: &std::process::Output) -> BTreeMap<String, Value> {
    let v = json(o);
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| (x["client_id"].as_str().unwrap().to_string(), x.clone()))
        .collect()
}

fn audit_line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

/// `bao kv get -wrap-ttl=5m` of `key` with `token`: the wrapping token.
fn wrapped_get(bao: &Bao, token: &str, key: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(bao_bin())
        .args(["kv", "get", "-wrap-ttl=5m", "-format=json"])
        .arg(format!("secret/{key}"))
        .env_clear()
        .env("HOME", home.path())
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", token)
        .output()
        .expect("bao runs");
    assert!(
        o.status.success(),
        "bao kv get -wrap-ttl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["wrap_info"]["token"].as_str().unwrap().to_string()
}

/// Enables AppRole at `approle/` and makes role `role` with `policies`; returns a token of a
/// login and the (role id, secret id) pair.
async fn approle(bao: &Bao, role: &str, policies: &[&str]) -> (String, String, String) {
    let (s, v) = bao.api("GET", "sys/auth", None).await;
    assert_eq!(s, 200, "{v}");
    if v["approle/"].is_null() && v["data"]["approle/"].is_null() {
        let (s, v) = bao
            .api("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
            .await;
        assert!(s == 204 || s == 200, "{s} {v}");
    }
    let (s, v) = bao
        .api(
            "POST",
            &format!("auth/approle/role/{role}"),
            Some(json!({"token_policies": policies, "token_ttl": "1h"})),
        )
        .await;
    assert!(s == 204 || s == 200, "{s} {v}");
    let (_, v) = bao
        .api("GET", &format!("auth/approle/role/{role}/role-id"), None)
        .await;
    let role_id = v["data"]["role_id"].as_str().unwrap().to_string();
    let (_, v) = bao
        .api("POST", &format!("auth/approle/role/{role}/secret-id"), None)
        .await;
    let secret_id = v["data"]["secret_id"].as_str().unwrap().to_string();
    let (s, v) = bao
        .try_api(
            "POST",
            "auth/approle/login",
            Some(json!({"role_id": role_id, "secret_id": secret_id})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let token = v["auth"]["client_token"].as_str().unwrap().to_string();
    (token, role_id, secret_id)
}

/// A read of `key` with `token`, asserting it returned the secret.
async fn read_as(bao: &Bao, token: &str, key: &str) {
    let (s, v) = bao
        .try_api("GET", &format!("secret/data/{key}"), None, Some(token))
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert!(v["data"]["data"]["secret"].is_string(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_read_by_an_operator_is_an_exposure_and_its_unwrap_is_tied_back() {
    let prefix = "t/wrapped";
    let bao = Bao::dev_audited().await;
    let audit_log = bao.audit_log();
    let sim = simulator(4, 91).await;
    let ts = TempStore::new();
    let host = host_env_as(&sim, &ts, &bao, prefix, ROOT_TOKEN);
    run(&host, &["harvest", "--json"], 0).await;

    bao.policy("team-operator", &policy::operator("secret", prefix))
        .await;
    bao.policy("team-service", &policy::service("secret", prefix))
        .await;
    let alice = bao.userpass_login("alice", &["team-operator"]).await;
    let creds = served(&sim);
    let (org, client, _) = creds[0].clone();
    let key = credential_key(prefix, &org, &client);

    // alice reads it wrapped: the answer holds only a wrapping token, no value.
    let wrapping = wrapped_get(&bao, &alice, &key);
    // A production service holding her wrapping token unwraps it with its own token.
    let service = bao.token_with(&["team-service"]).await;
    let (s, v) = bao
        .try_api(
            "POST",
            "sys/wrapping/unwrap",
            Some(json!({"token": wrapping})),
            Some(&service),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert!(v["data"]["data"]["secret"].is_string(), "{v}");
    audit_log_when(audit_log, "held it", |t| t.contains("sys/wrapping/unwrap")).await;
    let file = audit_log.display().to_string();

    let o = with_vault_audit(&host, &["exposure"], &file, 0).await;
    let got = by_client(&o);
    assert_eq!(got.keys().collect::<Vec<_>>(), [&client], "{got:?}");
    let entry = &got[&client];
    assert_eq!(entry["actions"], json!(["vault-read-wrapped"]), "{entry}");
    assert_eq!(entry["live"], json!(true), "{entry}");
    let users: Vec<&str> = entry["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    // A token made without a display name and without an entity is `token:unknown`.
    assert_eq!(users, ["token:unknown", "userpass-alice"], "{entry}");
    let err = stderr(&o);
    assert!(
        err.contains("1 wrapped read(s), 1 unwrap(s) tied to one"),
        "{err}"
    );

    // --user names her; verify --exposed checks what she read wrapped.
    let o = with_vault_audit(&host, &["exposure", "--user", "alice"], &file, 0).await;
    assert_eq!(by_client(&o)[&client]["users"], json!(["userpass-alice"]));
    let o = with_vault_audit(&host, &["verify", "--exposed", "--user", "alice"], &file, 0).await;
    let v = json(&o);
    assert_eq!(v["ok"], json!(1), "{v}");
    assert_eq!(v["results"][0]["client_id"], json!(client), "{v}");

    // The printed policies deny what the report could not see, whatever else an identity
    // holds: the audit devices and moving the mount (a deny wins over a grant).
    bao.policy(
        "too-wide",
        "path \"sys/audit\" { capabilities = [\"read\", \"sudo\"] }\n\
         path \"sys/mounts/*\" { capabilities = [\"read\", \"update\"] }\n",
    )
    .await;
    let wide = bao.token_with(&["too-wide"]).await;
    let wide_operator = bao.token_with(&["too-wide", "team-operator"]).await;
    for path in ["sys/audit", "sys/mounts/secret/tune"] {
        let (s, v) = bao.try_api("GET", path, None, Some(&wide)).await.unwrap();
        assert_eq!(s, 200, "{path} granted alone: {v}");
        let (s, v) = bao
            .try_api("GET", path, None, Some(&wide_operator))
            .await
            .unwrap();
        assert_eq!(s, 403, "{path} denied beside the operator policy: {v}");
    }

    // The credential rotates after the wrapped read: it is no longer live.
    assert!(sim.control().rotate_secret(&org.to_sim(), &client));
    run(&host, &["harvest", "--json"], 0).await;
    let o = with_vault_audit(&host, &["exposure"], &file, 0).await;
    assert_eq!(by_client(&o)[&client]["live"], json!(false));

    // Every KV v2 path that returns the value is a read: an older version (`?version=1`)
    // is an exposure, not live; the current one is live.
    let before = audit_line_count(audit_log);
    let (s, v) = bao
        .try_api(
            "GET",
            &format!("secret/data/{key}?version=1"),
            None,
            Some(&alice),
        )
        .await
        .unwrap();
    assert_eq!(
        (s, &v["data"]["metadata"]["version"]),
        (200, &json!(1)),
        "{v}"
    );
    audit_log_when(audit_log, "grew", |t| t.lines().count() >= before + 2).await;
    let o = with_vault_audit(&host, &["exposure", "--user", "alice"], &file, 0).await;
    let entry = &by_client(&o)[&client];
    assert_eq!(
        entry["actions"],
        json!(["vault-read", "vault-read-wrapped"]),
        "{entry}"
    );
    assert_eq!(entry["live"], json!(false), "{entry}");
    let before = audit_line_count(audit_log);
    read_as(&bao, &alice, &key).await;
    audit_log_when(audit_log, "grew", |t| t.lines().count() >= before + 2).await;
    let o = with_vault_audit(&host, &["exposure", "--user", "alice"], &file, 0).await;
    assert_eq!(by_client(&o)[&client]["live"], json!(true));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approle_service_is_reported_beside_an_approle_harvest_host_and_a_forged_view_hides_nobody(
) {
    let prefix = "t/identities";
    let bao = Bao::dev_audited().await;
    let audit_log = bao.audit_log();
    let sim = simulator(4, 92).await;

    // The four roles; the harvest host and the product are both AppRole logins (display
    // name `approle`), told apart by their role names.
    bao.policy("team-harvester", &policy::harvester("secret", prefix, None))
        .await;
    bao.policy("team-viewer", &policy::viewer("secret", prefix))
        .await;
    bao.policy("team-operator", &policy::operator("secret", prefix))
        .await;
    bao.policy("team-service", &policy::service("secret", prefix))
        .await;
    let (_, role_id, secret_id) = approle(&bao, "simsid-harvester", &["team-harvester"]).await;
    let (product, _, _) = approle(&bao, "product", &["team-service"]).await;

    let host_store = TempStore::new();
    let secret_id_file = host_store.dir.path().join("secret-id");
    std::fs::write(&secret_id_file, &secret_id).unwrap();
    std::fs::set_permissions(&secret_id_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut host = env_for(&sim, &host_store);
    host.insert("SIMSID_SECRETS".into(), "vault".into());
    host.insert("VAULT_ADDR".into(), bao.addr.clone());
    host.insert("SIMSID_VAULT_PREFIX".into(), prefix.into());
    host.insert("SIMSID_VAULT_AUTH".into(), "approle".into());
    host.insert("SIMSID_VAULT_ROLE_ID".into(), role_id);
    host.insert(
        "SIMSID_VAULT_SECRET_ID_FILE".into(),
        secret_id_file.display().to_string(),
    );
    run(&host, &["harvest", "--json"], 0).await;
    // Reconcile reads every key back: the harvest's own read-back.
    run(&host, &["harvest", "--reconcile", "--json"], 0).await;
    let recorded = last_harvest_identity(&host).await;
    assert_eq!(recorded, json!("approle:simsid-harvester"));

    let creds = served(&sim);
    let (org, client, _) = creds[0].clone();
    read_as(&bao, &product, &credential_key(prefix, &org, &client)).await;
    audit_log_when(audit_log, "held it", |t| {
        t.contains("\"role_name\":\"product\"")
    })
    .await;
    let file = audit_log.display().to_string();

    // By default the product's read is there, named by its role; the host's is not.
    let o = with_vault_audit(&host, &["exposure"], &file, 0).await;
    let got = by_client(&o);
    assert_eq!(got.keys().collect::<Vec<_>>(), [&client], "{got:?}");
    assert_eq!(got[&client]["users"], json!(["approle:product"]));
    assert_eq!(got[&client]["actions"], json!(["vault-read"]));
    let o = with_vault_audit(&host, &["exposure", "--include-harvester"], &file, 0).await;
    let all = by_client(&o);
    assert_eq!(all.len(), creds.len(), "{all:?}");
    assert_eq!(
        all[&client]["users"],
        json!(["approle:product", "approle:simsid-harvester"])
    );
    // --exclude-user by role name leaves the product out; by the shared display name,
    // every AppRole.
    for who in ["product", "approle:PRODUCT"] {
        let o = with_vault_audit(&host, &["exposure", "--exclude-user", who], &file, 0).await;
        assert_eq!(json(&o), json!([]), "--exclude-user {who}");
    }

    // A viewer learns who the harvester is from the log (the manifest's writer), not from
    // the view: the product is reported, the host's read-back is not.
    let olga = bao.userpass_login("olga", &["team-operator"]).await;
    let viewer_store = TempStore::new();
    let viewer = viewer_env(&sim, &viewer_store, &bao, prefix, &olga);
    run(&viewer, &["pull"], 0).await;
    let o = with_vault_audit(&viewer, &["exposure"], &file, 0).await;
    let got = by_client(&o);
    assert_eq!(got.keys().collect::<Vec<_>>(), [&client], "{got:?}");
    assert_eq!(got[&client]["users"], json!(["approle:product"]));
    assert!(!stderr(&o).contains("SUSPECT"), "{}", stderr(&o));

    // xena holds the harvester policy through her own login: she reads a secret and
    // publishes a view that names her as the harvester.
    let xena = bao
        .userpass_login("xena", &["team-harvester", "team-operator"])
        .await;
    let (org2, client2, _) = creds[1].clone();
    read_as(&bao, &xena, &credential_key(prefix, &org2, &client2)).await;
    let forger_store = TempStore::new();
    let forger = host_env_as(&sim, &forger_store, &bao, prefix, &xena);
    run(&forger, &["harvest", "--json"], 0).await;
    run(&viewer, &["pull"], 0).await;
    audit_log_when(audit_log, "held it", |t| t.contains("userpass-xena")).await;
    let o = with_vault_audit(&viewer, &["exposure"], &file, 0).await;
    let got = by_client(&o);
    assert!(
        got.get(&client2).is_some_and(|x| x["users"]
            .as_array()
            .unwrap()
            .contains(&json!("userpass-xena"))),
        "xena's read is reported: {got:?}"
    );
    // Her forged publish read keys back too (her reads, reported); the real harvester's
    // read-back stays out.
    assert_eq!(
        got[&client]["users"],
        json!(["approle:product", "userpass-xena"])
    );
    let err = stderr(&o);
    assert!(
        err.contains("SUSPECT") && err.contains("userpass-xena"),
        "{err}"
    );
    assert!(
        err.contains("the pulled view names userpass-xena as the harvester"),
        "the pulled view names xena: {err}"
    );
    sim.shutdown().await;
}
