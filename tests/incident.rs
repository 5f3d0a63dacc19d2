//! The README's runbook "After a suspected compromise", end to end against the simulator:
//! secrets revealed and copied as two users (through the library, with an explicit user:
//! no setting of the released binary chooses the audit user), `exposure` for one user,
//! the vendor suspends, `verify --exposed --user` shows them refused (exit 5), the vendor
//! re-issues, `harvest` shows them rotated, `exposure --live` is empty, and the trail
//! verifies throughout. Also: a refusal is told apart from a timeout, verify concurrency is
//! bounded, and nothing is shown when the audit record cannot be written.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

mod common;
mod vault_support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use secrecy::SecretString;
use serde_json::Value;
use simsid::config::{self, Dirs, Flags};
use simsid::domain::{AppId, AuditAction, Fingerprint, OrgId};
use simsid::harvest::RetryPolicy;
use simsid::ops::secrets::{self, CheckOutcome};
use simsid::ops::verify_many::{self, Tally, Target};
use simsid::ops::Context;
use simsid::sims::{SimsClient, SimsSettings};
use simsid::simulator::Simulator;

/// The context of the binary's settings, acting as `user`.
fn context_as(env: &BTreeMap<String, String>, dir: &Path, user: &str) -> Context {
    let dirs = Dirs {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        state_dir: dir.join("state"),
    };
    let settings = config::resolve(&Flags::default(), env, &dirs).unwrap();
    let mut ctx = Context::new(settings);
    ctx.user = user.to_string();
    ctx
}

/// `n` credentials (site, client id) of different authorised sites.
fn credentials(sim: &Simulator, n: usize) -> Vec<(OrgId, String)> {
    let found: Vec<(OrgId, String)> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .map(|s| (s.org_id.clone(), s.clients[0].client_id.clone()))
        .take(n)
        .collect();
    assert_eq!(found.len(), n, "the dataset has {n} sites with credentials");
    found
}

fn results_by_client(v: &Value) -> BTreeMap<String, Value> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["client_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_suspected_compromise_runbook() {
    let sim = simulator(12, 21).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Alice reveals one secret and copies another; Bob reveals a third.
    let creds = credentials(&sim, 3);
    let (a, b, c) = (&creds[0], &creds[1], &creds[2]);
    {
        let mut store = ts.open();
        let alice = context_as(&env, ts.dir.path(), "alice");
        let bob = context_as(&env, ts.dir.path(), "bob");
        secrets::unseal_audited(&mut store, &alice, AuditAction::Reveal, &a.0, &a.1).unwrap();
        secrets::unseal_audited(&mut store, &alice, AuditAction::Copy, &b.0, &b.1).unwrap();
        secrets::unseal_audited(&mut store, &alice, AuditAction::Reveal, &b.0, &b.1).unwrap();
        secrets::unseal_audited(&mut store, &bob, AuditAction::Reveal, &c.0, &c.1).unwrap();
    }

    // 1. Alice leaves: what did she see that is still live? And the list for the vendor.
    let o = simsid(&env, &["exposure", "--user", "alice", "--live", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let live = json(&o);
    let live = live.as_array().unwrap();
    assert_eq!(live.len(), 2, "{live:?}");
    for x in live {
        assert_eq!(x["users"], serde_json::json!(["alice"]));
        assert_eq!(x["live"], true);
        assert!(x["name"].is_string() && x["fingerprint"].is_string());
        for key in ["dfe_code", "first_exposed", "last_exposed"] {
            assert!(x.get(key).is_some(), "exposure --json lacks {key}");
        }
    }
    let b_entry = live
        .iter()
        .find(|x| x["client_id"] == b.1.as_str())
        .unwrap();
    assert_eq!(b_entry["actions"], serde_json::json!(["reveal", "copy"]));
    assert_eq!(b_entry["organisation_id"], b.0.as_str());

    let reissue = ts.dir.path().join("reissue.csv");
    let o = simsid(
        &env,
        &[
            "exposure",
            "--user",
            "alice",
            "--live",
            "--format",
            "csv",
            "--output",
            reissue.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let meta = std::fs::symlink_metadata(&reissue).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let csv = std::fs::read_to_string(&reissue).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "organisation_id,name,dfe_code,client_id,fingerprint,users,first_exposed,last_exposed,actions,live"
    );
    assert_eq!(lines.count(), 2);
    for secret in sim.control().all_secrets() {
        assert!(!csv.contains(&secret), "the vendor list holds no secret");
    }

    // 2. The vendor suspends them: each is refused (exit 5); Bob's still works.
    for (org, client) in [a, b] {
        assert!(sim.control().suspend_client(org, client));
    }
    let o = simsid(&env, &["verify", "--exposed", "--user", "alice", "--json"]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(
        (
            v["ok"].as_u64(),
            v["refused"].as_u64(),
            v["errors"].as_u64()
        ),
        (Some(0), Some(2), Some(0))
    );
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["refused"], true);
        assert_eq!(r["ok"], false);
        assert!(r["error"].is_string());
        assert!(r["organisation_id"].is_string());
    }
    assert!(
        stderr(&o).contains("2 refused"),
        "one summary line: {}",
        stderr(&o)
    );
    let o = simsid(&env, &["verify", "--exposed"]).await;
    assert_eq!(o.status.code(), Some(5));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("ok       {}  {}", c.0, c.1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("REFUSED  {}  {}", a.0, a.1)),
        "{text}"
    );
    assert!(
        text.ends_with("verified 3 credential(s): 1 ok, 2 refused, 0 error(s)\n"),
        "{text}"
    );

    // 3. The vendor re-issues: the harvest shows them rotated; nothing of Alice's is live.
    for (org, client) in [a, b] {
        assert!(sim.control().rotate_secret(org, client));
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rotated: Vec<String> = json(&o)["diff"]["credentials_rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["client_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        rotated.contains(&a.1) && rotated.contains(&b.1),
        "{rotated:?}"
    );
    let o = simsid(&env, &["exposure", "--user", "alice", "--live", "--json"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        json(&o),
        serde_json::json!([]),
        "the proof for the incident record"
    );
    let o = simsid(&env, &["exposure", "--user", "alice", "--json"]).await;
    assert!(json(&o)
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["live"] == false));
    let o = simsid(&env, &["verify", "--exposed", "--user", "alice", "--json"]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "nothing of alice's left to verify"
    );
    assert_eq!(json(&o)["results"], serde_json::json!([]));
    let o = simsid(&env, &["exposure", "--live", "--json"]).await;
    let still: Vec<Value> = json(&o).as_array().unwrap().clone();
    assert_eq!(still.len(), 1);
    assert_eq!(still[0]["users"], serde_json::json!(["bob"]));
    let o = simsid(&env, &["verify", "--all", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all = json(&o);
    assert_eq!(all["refused"], 0);
    let by_client = results_by_client(&all);
    assert!(by_client.contains_key(&a.1) && by_client.contains_key(&c.1));

    // 4. Throughout, the trail is whole: nobody edited it to hide a reveal.
    let o = simsid(&env, &["audit", "--verify", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let check = json(&o);
    assert_eq!(check["intact"], true);
    assert_eq!(check["first_bad"], Value::Null);
    let o = simsid(&env, &["audit", "--json"]).await;
    let trail = json(&o);
    assert_eq!(check["records"], trail.as_array().unwrap().len());

    // And a reveal hidden by deleting its record is named by `audit --verify`.
    let conn = rusqlite::Connection::open(ts.path()).unwrap();
    let (id, index): (i64, i64) = conn
        .query_row(
            "SELECT id, (SELECT count(*) FROM audit a2 WHERE a2.id < a.id) FROM audit a \
             WHERE user = 'bob' AND action = 'reveal'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    conn.execute("DELETE FROM audit WHERE id = ?1", [id])
        .unwrap();
    drop(conn);
    let o = simsid(&env, &["audit", "--verify", "--json"]).await;
    assert_eq!(o.status.code(), Some(1));
    let check = json(&o);
    assert_eq!(check["intact"], false);
    assert_eq!(check["first_bad"]["index"], index);
    assert!(check["first_bad"]["time"].as_str().unwrap().ends_with('Z'));
    let o = simsid(&env, &["exposure", "--user", "bob", "--json"]).await;
    assert_eq!(
        json(&o),
        serde_json::json!([]),
        "the hidden reveal is gone from the report, but not from `audit --verify`"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_revealed_when_the_audit_record_cannot_be_written() {
    let sim = simulator(6, 5).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (org, client) = credentials(&sim, 1).remove(0);
    let conn = rusqlite::Connection::open(ts.path()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit \
         BEGIN SELECT RAISE(ABORT, 'audit disabled'); END;",
    )
    .unwrap();
    drop(conn);
    // The library: no secret comes back.
    let mut store = ts.open();
    let ctx = context_as(&env, ts.dir.path(), "alice");
    for action in [AuditAction::Reveal, AuditAction::Copy] {
        let r = secrets::unseal_audited(&mut store, &ctx, action, &org, &client);
        assert!(r.is_err(), "{action:?} without its audit record");
    }
    drop(store);
    // The binary: exit 1 and no secret anywhere.
    let o = simsid(&env, &["show", org.as_str(), "--reveal", "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    for secret in sim.control().all_secrets() {
        assert!(!contains_bytes(&o.stdout, secret.as_bytes()));
        assert!(!contains_bytes(&o.stderr, secret.as_bytes()));
    }
    sim.shutdown().await;
}

fn client_for(sts_url: String, sim: &Simulator, timeout: Duration) -> SimsClient {
    let env = sim.env();
    SimsClient::new(SimsSettings {
        sts_url,
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).unwrap(),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).unwrap(),
        scopes: String::new(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout,
        connect_timeout: timeout,
        client_auth: Default::default(),
        verify_scopes: String::new(),
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

impl verify_many::SecretSource for Given {
    fn secret<'a>(
        &'a self,
        _org: &'a OrgId,
        client_id: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(SecretString, Fingerprint), String>> {
        let found = self
            .0
            .get(client_id)
            .cloned()
            .map(|s| (s, Fingerprint("0000000000000000".into())))
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
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.authorised && !s.clients.is_empty())
        .unwrap();
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
    let targets = vec![target(&site.org_id, &client_id)];
    let given = Given(BTreeMap::from([(client_id.clone(), secret.clone())]));
    let checks = verify_many::verify_many(&real, &given, &targets, 4, fast, None)
        .await
        .checks;
    assert_eq!(checks[0].outcome, CheckOutcome::Ok);
    assert!(sim.control().suspend_client(&site.org_id, &client_id));
    let before = real.token_requests();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let checks = verify_many::verify_many(&real, &given, &targets, 4, fast, Some(tx))
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
        .map(|i| target(&site.org_id, &format!("sas-{i}")))
        .collect();
    let given = Given(
        (0..6)
            .map(|i| (format!("sas-{i}"), SecretString::from(format!("s-{i}"))))
            .collect(),
    );
    let checks = verify_many::verify_many(&silent, &given, &many, 2, fast, None)
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
                assert!(detail.contains("; vault identity token"), "{detail}");
            }
        }
    }
    sim.shutdown().await;
}
