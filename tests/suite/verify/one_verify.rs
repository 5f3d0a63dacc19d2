//! One verify for one site, a list, all or the exposed ones: a refusal is told apart from a
//! timeout, concurrency is bounded, and `verify ORG` takes the same path (retries, audit
//! wording, exit code) in local and in vault mode.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
#[cfg(not(windows))]
use crate::support::vault_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use secrecy::SecretString;
#[cfg(not(windows))]
use serde_json::Value;
use simsid::domain::{Fingerprint, OrgId};
use simsid::harvest::RetryPolicy;
use simsid::ops::secrets::CheckOutcome;
use simsid::ops::verify::{self, Tally, Target};
use simsid::sims::{SimsClient, SimsSettings};
use simsid_simulator::Simulator;

fn client_for(sts_url: String, sim: &Simulator, timeout: Duration) -> SimsClient {
    SimsClient::new(SimsSettings {
        sts_url,
        scopes: String::new(),
        ..settings(sim, timeout)
    })
    .unwrap()
}

fn target(org: &OrgId, client_id: &str) -> Target {
    Target {
        organisation_id: org.clone(),
        client_id: client_id.to_string(),
    }
}

/// Secrets given by the test, by client id (the keeper's place in the one verify loop).
struct Given(BTreeMap<String, SecretString>);

impl verify::SecretSource for Given {
    fn secret<'a>(
        &'a self,
        _org: &'a OrgId,
        client_id: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(SecretString, Fingerprint), String>> {
        let found = self
            .0
            .get(client_id)
            .cloned()
            .map(|s| (s, Fingerprint::parse("0000000000000000").unwrap()))
            .ok_or_else(|| format!("{client_id} is not given"));
        Box::pin(std::future::ready(found))
    }
}

/// A loopback "STS" that accepts connections and never answers.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/connect/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 1024];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_told_apart_from_a_timeout() {
    let sim = simulator(8, 3).await;
    let site = authorised_site(&sim, 0);
    let client_id = site.clients[0].client_id.clone();
    let secret = site.clients[0].secret.clone();
    let fast = RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        retry_after_cap: Duration::from_millis(5),
    };

    // The real STS: ok, then refused once suspended (and a refusal is not retried).
    let real = client_for(sim.env().sts_url.clone(), &sim, Duration::from_secs(10));
    let targets = vec![target(&site.org_id.to_domain(), &client_id)];
    let given = Given(BTreeMap::from([(client_id.clone(), secret.clone())]));
    let checks = verify::run(&real, &given, &targets, 4, fast, None)
        .await
        .checks;
    assert_eq!(checks[0].outcome, CheckOutcome::Ok);
    assert!(sim.control().suspend_client(&site.org_id, &client_id));
    let before = real.token_requests();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let checks = verify::run(&real, &given, &targets, 4, fast, Some(tx))
        .await
        .checks;
    assert!(
        matches!(checks[0].outcome, CheckOutcome::Refused(_)),
        "{checks:?}"
    );
    assert_eq!(
        real.token_requests() - before,
        1,
        "a refusal is not retried"
    );
    let mut last = Tally::default();
    while let Ok(t) = rx.try_recv() {
        last = t;
    }
    assert_eq!((last.total, last.refused, last.done()), (1, 1, 1));
    assert_eq!(simsid::cli::exit::of_verify(&Tally::of(1, &checks)), 5);

    // An STS that never answers: every one is an error (timed out, retried), never a
    // refusal.
    let url = black_hole().await;
    let silent = client_for(url, &sim, Duration::from_millis(300));
    let many: Vec<Target> = (0..6)
        .map(|i| target(&site.org_id.to_domain(), &format!("sas-{i}")))
        .collect();
    let given = Given(
        (0..6)
            .map(|i| (format!("sas-{i}"), SecretString::from(format!("s-{i}"))))
            .collect(),
    );
    let checks = verify::run(&silent, &given, &many, 2, fast, None)
        .await
        .checks;
    assert_eq!(checks.len(), 6);
    for c in &checks {
        match &c.outcome {
            CheckOutcome::Error(e) => assert!(e.contains("timed out"), "{e}"),
            other => panic!("a timeout is an error, not {other:?}"),
        }
    }
    assert_eq!(silent.token_requests(), 18, "each tried 1 + 2 times");
    assert_eq!(simsid::cli::exit::of_verify(&Tally::of(6, &checks)), 1);
    sim.shutdown().await;
}

/// The verify records of the audit trail, oldest first.
#[cfg(not(windows))]
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

// Not on Windows: vault mode needs `bao`, which a Windows test under Wine cannot start.
#[cfg(not(windows))]
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
