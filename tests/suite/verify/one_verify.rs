//! One verify for one site, a list, all or the exposed ones: `verify ORG` takes the same
//! path (retries, audit wording, exit code) in local and in vault mode. (That a refusal is
//! told apart from a timeout, in the one loop, is the unit test
//! `ops::verify::against_the_sts::a_refusal_is_told_apart_from_a_timeout`.)
// Not on Windows: vault mode needs `bao`, which a Windows test under Wine cannot start.
#![cfg(not(windows))]

use crate::support::common;
use crate::support::vault_support;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// The verify records of the audit trail, oldest first.
async fn verify_records(env: &BTreeMap<String, String>) -> Vec<Value> {
    let o = simsid(env, &["audit", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json(&o)
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "verify")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_of_one_site_is_the_one_verify_in_both_modes() {
    let sim = simulator(6, 1616).await;
    let bao = vault_support::shared().await;
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.authorised && s.clients.len() >= 2)
        .expect("an authorised site with two credentials");
    let org = site.org_id.to_string();
    let n = site.clients.len();
    let local_store = TempStore::new();
    let local = env_for(&sim, &local_store);
    let vault_store = TempStore::new();
    let mut vault = env_for(&sim, &vault_store);
    vault.insert("SIMSID_SECRETS".into(), "vault".into());
    vault.insert("VAULT_ADDR".into(), bao.addr.clone());
    vault.insert("VAULT_TOKEN".into(), vault_support::ROOT_TOKEN.into());
    vault.insert("SIMSID_VAULT_PREFIX".into(), "t/oneverify".into());
    for env in [&local, &vault] {
        let o = simsid(env, &["harvest"]).await;
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }

    for (mode, env) in [("local", &local), ("vault", &vault)] {
        // A gateway in front of the STS answers 429 twice: `verify ORG` waits them out
        // (Retry-After) as `--all` does, instead of reporting errors.
        sim.control().reset_stats();
        sim.control().rate_limit_tokens(2);
        let o = simsid(env, &["verify", &org, "--json"]).await;
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", stderr(&o));
        let v = json(&o);
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), n, "{mode}: {v}");
        assert!(results.iter().all(|r| r["ok"] == true), "{mode}: {v}");
        let stats = sim.control().stats();
        assert_eq!(stats.rate_limited, 2, "{mode}: {stats:?}");
        assert_eq!(stats.token_requests, n as u64 + 2, "{mode}: {stats:?}");
    }

    // A refused credential: one wording in the audit and one exit code, for one site and
    // for --all, in both modes.
    let refused = site.clients[0].client_id.clone();
    assert!(sim.control().suspend_client(&site.org_id, &refused));
    for (mode, env) in [("local", &local), ("vault", &vault)] {
        for args in [&["verify", org.as_str()][..], &["verify", "--all"][..]] {
            let before = verify_records(env).await.len();
            let o = simsid(env, args).await;
            assert_eq!(o.status.code(), Some(5), "{mode} {args:?}: {}", stderr(&o));
            let records = verify_records(env).await;
            let new: Vec<&Value> = records[before..]
                .iter()
                .filter(|e| e["client_id"] == refused.as_str())
                .collect();
            assert_eq!(new.len(), 1, "{mode} {args:?}: {records:?}");
            let detail = new[0]["detail"].as_str().unwrap();
            assert!(
                detail.starts_with("refused: ") && detail.contains("invalid_client"),
                "{mode} {args:?}: {detail}"
            );
            if mode == "vault" {
                assert!(detail.contains("; vault identity root"), "{detail}");
            }
        }
    }
    sim.shutdown().await;
}
