//! The runbook (docs/runbook.md) "After a suspected compromise", end to end against the simulator:
//! secrets revealed and copied as two users (through the library, with an explicit user:
//! no setting of the released binary chooses the audit user), `exposure` for one user,
//! the vendor suspends, `verify --exposed --user` shows them refused (exit 5), the vendor
//! re-issues, `harvest` shows them rotated, `exposure --live` is empty, and the trail
//! verifies throughout. Also: nothing is shown when the audit record cannot be written.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;
use simsid::config::{self, Dirs, Flags};
use simsid::domain::AuditAction;
use simsid::domain::OrgId;
use simsid::ops::{Context, OpResult, ReadRequest};
use simsid::store::Store;
use std::sync::Mutex;

/// The context of the binary's settings, acting as `user`.
fn context_as(env: &BTreeMap<String, String>, dir: &Path, user: &str) -> Context {
    let dirs = Dirs {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        state_dir: dir.join("state"),
    };
    let settings = config::resolve(&Flags::default(), env, &dirs).unwrap();
    Context::acting_as(settings, user.to_string())
}

/// A reveal or copy through the profile's keeper, as the console makes one.
async fn read(
    ctx: &Context,
    store: &Mutex<Store>,
    action: AuditAction,
    org: &OrgId,
    client_id: &str,
) -> OpResult<()> {
    let request = ReadRequest {
        action,
        org,
        client_id,
    };
    ctx.keeper().read(store, request).await.map(drop)
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
        let store = Mutex::new(ts.open());
        let alice = context_as(&env, ts.dir.path(), "alice");
        let bob = context_as(&env, ts.dir.path(), "bob");
        read(&alice, &store, AuditAction::Reveal, &a.0, &a.1)
            .await
            .unwrap();
        read(&alice, &store, AuditAction::Copy, &b.0, &b.1)
            .await
            .unwrap();
        read(&alice, &store, AuditAction::Reveal, &b.0, &b.1)
            .await
            .unwrap();
        read(&bob, &store, AuditAction::Reveal, &c.0, &c.1)
            .await
            .unwrap();
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
    crate::support::disk::assert_private(&reissue);
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
        assert!(sim.control().suspend_client(&org.to_sim(), client));
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
        assert!(sim.control().rotate_secret(&org.to_sim(), client));
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
    let store = Mutex::new(ts.open());
    let ctx = context_as(&env, ts.dir.path(), "alice");
    for action in [AuditAction::Reveal, AuditAction::Copy] {
        let r = read(&ctx, &store, action, &org, &client).await;
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
