//! `exposure --vault-audit` and `verify --exposed --vault-audit` against a real OpenBao
//! whose file audit device is declared in its configuration (docs/reference/vault.md, "Who saw which
//! secret, across the whole team"): every successful read of a credential by any identity,
//! through simsid or not, with `live` from the version read.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::vault_support;

use std::collections::BTreeMap;
use std::io::Write;

use crate::support::team_env::host_env_as;
use common::*;
use serde_json::{json, Value};
use simsid::vault::path::credential_key;
use vault_support::{audit_log_when, served, Bao, ROOT_TOKEN};

const PREFIX: &str = "t/audit";

/// The report's entries by client id.
fn by_client(v: &Value) -> BTreeMap<String, Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| (x["client_id"].as_str().unwrap().to_string(), x.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_of_a_credential_in_the_vault_audit_log_is_an_exposure() {
    let dir = tempfile::tempdir().unwrap();
    let bao = Bao::dev_audited().await;
    let audit_log = bao.audit_log();
    let sim = simulator(5, 77).await;
    let ts = TempStore::new();

    // The harvest host writes every credential (root token).
    let host = host_env_as(&sim, &ts, &bao, PREFIX, ROOT_TOKEN);
    let o = simsid(&host, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // alice is an operator (may read credentials), with a userpass identity.
    bao.policy(
        "simsid-operator",
        &format!("path \"secret/data/{PREFIX}/*\" {{ capabilities = [\"read\"] }}"),
    )
    .await;
    let alice = bao.userpass_login("alice", &["simsid-operator"]).await;
    let creds = served(&sim);
    assert!(creds.len() >= 3, "the dataset has credentials to read");
    let (rev_org, rev_client, _) = creds[0].clone();
    let (get_org, get_client, get_secret) = creds[1].clone();

    // 1. alice reveals one through simsid (her own identity) …
    let mine = host_env_as(&sim, &ts, &bao, PREFIX, &alice);
    let o = simsid(&mine, &["show", rev_org.as_str(), "--reveal", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // … and reads another straight from the vault, as `bao kv get` would: no simsid record.
    let key = credential_key(PREFIX, &get_org, &get_client);
    let (s, v) = bao
        .try_api("GET", &format!("secret/data/{key}"), None, Some(&alice))
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["data"]["secret"], json!(get_secret));
    // The harvester's own read-back (reconcile reads every key back) is not an exposure.
    let o = simsid(&host, &["harvest", "--reconcile", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = audit_log_when(audit_log, "held 10 lines", |t| t.lines().count() >= 10).await;
    assert!(!text.contains(&get_secret), "the audit device HMACs values");
    let file = audit_log.display().to_string();

    // Without --vault-audit only the simsid reveal is known.
    let o = simsid(&host, &["exposure", "--user", "alice", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plain = by_client(&json(&o));
    assert_eq!(plain.keys().collect::<Vec<_>>(), [&rev_client]);
    assert!(plain[&rev_client].get("sources").is_none());

    // With it, the direct read shows, by her userpass identity, live, from the vault's log.
    for user in ["alice", "userpass-alice", "ALICE"] {
        let o = with_vault_audit(&host, &["exposure", "--user", user], &file, 0).await;
        let got = by_client(&json(&o));
        assert_eq!(got.len(), 2, "--user {user}: {got:?}");
        let direct = &got[&get_client];
        assert_eq!(direct["users"], json!(["userpass-alice"]));
        assert_eq!(direct["actions"], json!(["vault-read"]));
        assert_eq!(direct["sources"], json!(["vault-audit"]));
        assert_eq!(direct["live"], json!(true));
        assert_eq!(direct["organisation_id"], json!(get_org.as_str()));
        let revealed = &got[&rev_client];
        assert_eq!(revealed["sources"], json!(["simsid", "vault-audit"]));
        assert_eq!(revealed["actions"], json!(["reveal", "vault-read"]));
        assert!(
            stderr(&o).contains("vault audit:") && stderr(&o).contains("skipped"),
            "{}",
            stderr(&o)
        );
    }

    // The harvester (root) read every key back under --reconcile: left out unless asked.
    let o = with_vault_audit(&host, &["exposure"], &file, 0).await;
    let everyone = by_client(&json(&o));
    assert_eq!(everyone.len(), 2, "{everyone:?}");
    let o = with_vault_audit(&host, &["exposure", "--include-harvester"], &file, 0).await;
    let with_host = by_client(&json(&o));
    assert_eq!(with_host.len(), creds.len(), "{with_host:?}");
    // The harvest's audit record names the identity that wrote and read back.
    let harvester = last_harvest_identity(&host).await;
    assert!(harvester.is_string(), "{harvester}");
    assert!(
        with_host.values().any(|x| x["users"] == json!([harvester])),
        "{with_host:?}"
    );
    let o = with_vault_audit(&host, &["exposure", "--exclude-user", "alice"], &file, 0).await;
    assert_eq!(json(&o), json!([]));

    // Rotated copies (.gz), standard input and junk lines: the same reads, junk counted.
    let gz = dir.path().join("audit.log.1.gz");
    {
        let mut enc =
            flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.write_all(b"not json\n{\"type\":\"response\"}\n")
            .unwrap();
        enc.finish().unwrap();
    }
    let o = with_vault_audit(
        &host,
        &["exposure", "--user", "alice"],
        gz.to_str().unwrap(),
        0,
    )
    .await;
    assert_eq!(by_client(&json(&o)).len(), 2);
    let lines = text.lines().count() + 2;
    assert!(
        stderr(&o).contains(&format!("vault audit: {lines} line(s)")),
        "{}",
        stderr(&o)
    );
    let o = sandboxed_command(dir.path())
        .envs(&host)
        .args([
            "exposure",
            "--user",
            "alice",
            "--json",
            "--vault-audit",
            "-",
        ])
        .stdin(std::fs::File::open(audit_log).unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(by_client(&json(&o)).len(), 2);

    // verify --exposed with the vault's reads: alice's two credentials, both valid.
    let o = with_vault_audit(&mine, &["verify", "--exposed", "--user", "alice"], &file, 0).await;
    let v = json(&o);
    assert_eq!(v["ok"], json!(2), "{v}");

    // After a rotation and a harvest, what alice read is no longer live.
    assert!(sim.control().rotate_secret(&get_org.to_sim(), &get_client));
    let o = simsid(&host, &["harvest", "--json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = with_vault_audit(&host, &["exposure", "--user", "alice", "--live"], &file, 0).await;
    let live = by_client(&json(&o));
    assert_eq!(live.keys().collect::<Vec<_>>(), [&rev_client], "{live:?}");
    let o = with_vault_audit(&host, &["exposure", "--user", "alice"], &file, 0).await;
    let all = by_client(&json(&o));
    assert_eq!(all[&get_client]["live"], json!(false));
    assert_eq!(all[&get_client]["fingerprint"], Value::Null);

    // A missing file is a clear error naming it.
    let o = simsid(
        &host,
        &["exposure", "--vault-audit", "/nonexistent/audit.log"],
    )
    .await;
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("/nonexistent/audit.log"),
        "{}",
        stderr(&o)
    );
}
