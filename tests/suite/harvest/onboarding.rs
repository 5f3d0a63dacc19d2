//! The onboarding queue (docs/reference/cli.md `sites --json` `waiting_since`): a school that installed the
//! application's tile is listed unauthorised until the integrator approves it. Across three
//! harvests — listed unauthorised, still waiting, approved — `waiting_since` starts, holds,
//! and clears; `sites --status unauthorised` lists the queue oldest first with how long each
//! has waited; `status` counts it; the approval shows in the diff.

use crate::support::common;

use common::*;
use serde_json::{json, Value};

fn find<'a>(sites: &'a Value, org: &str) -> &'a Value {
    sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["organisation_id"] == org)
        .unwrap_or_else(|| panic!("{org} listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_since_starts_holds_and_clears_across_three_harvests() {
    let sim = simulator(25, 51).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);
    let control = sim.control();

    // A school installs the tile: listed, not authorised yet.
    let new = control.add_site();
    control.set_authorised(&new, Some(false));
    let first = json(&simsid(&env, &["harvest", "--json"]).await);
    assert_eq!(first["status"], "complete");
    let shown = json(&simsid(&env, &["show", new.as_str(), "--json"]).await);
    assert_eq!(shown["authorised"], false);
    assert_eq!(shown["waiting_since"], first["finished_at"]);
    assert_eq!(shown["first_seen"], first["finished_at"]);

    // Second harvest: still waiting, since the first one; another school drops out of
    // authorisation and starts waiting now.
    let later = control
        .sites()
        .into_iter()
        .find(|s| s.authorised && s.org_id != new)
        .unwrap()
        .org_id;
    control.set_authorised(&later, Some(false));
    let second = json(&simsid(&env, &["harvest", "--json"]).await);
    assert_eq!(second["status"], "complete");
    let sites = json(&simsid(&env, &["sites", "--json"]).await);
    assert_eq!(
        find(&sites, new.as_str())["waiting_since"],
        first["finished_at"]
    );
    assert_eq!(
        find(&sites, new.as_str())["first_seen"],
        first["finished_at"]
    );
    assert_eq!(
        find(&sites, later.as_str())["waiting_since"],
        second["finished_at"]
    );
    assert_eq!(
        find(&sites, later.as_str())["first_seen"],
        first["finished_at"]
    );
    for s in sites.as_array().unwrap() {
        assert_eq!(
            s["waiting_since"].is_null(),
            s["authorised"] != false,
            "waiting_since is set exactly for unauthorised sites: {s}"
        );
    }

    // The queue, oldest first: everything waiting since the first harvest before `later`.
    let queue = json(&simsid(&env, &["sites", "--status", "unauthorised", "--json"]).await);
    let queue = queue.as_array().unwrap();
    let waits: Vec<&str> = queue
        .iter()
        .map(|s| s["waiting_since"].as_str().unwrap())
        .collect();
    let mut sorted = waits.clone();
    sorted.sort();
    assert_eq!(waits, sorted, "oldest first");
    assert_eq!(queue.last().unwrap()["organisation_id"], later.as_str());
    let text = simsid(&env, &["sites", "--status", "unauthorised"]).await;
    let out = stdout(&text);
    assert!(out.starts_with("WAITING"), "{out}");
    assert!(out.contains(new.as_str()), "{out}");
    assert!(
        out.contains(&format!("{} site(s) waiting for approval", queue.len())),
        "{out}"
    );

    // status names the queue.
    let st = json(&simsid(&env, &["status", "--json"]).await);
    assert_eq!(st["waiting"], queue.len());
    assert_eq!(st["oldest_waiting_since"], first["finished_at"]);

    // The integrator approves the installation: the third harvest shows it in the diff and
    // the school leaves the queue.
    control.set_authorised(&new, Some(true));
    let third = json(&simsid(&env, &["harvest", "--json"]).await);
    assert_eq!(third["status"], "complete");
    let changes = third["diff"]["authorisation_changed"].as_array().unwrap();
    assert!(
        changes.contains(&json!({"organisation_id": new.as_str(), "from": 0, "to": 1})),
        "{changes:?}"
    );
    let shown = json(&simsid(&env, &["show", new.as_str(), "--json"]).await);
    assert_eq!(shown["authorised"], true);
    assert_eq!(shown["waiting_since"], Value::Null);
    assert_eq!(shown["first_seen"], first["finished_at"]);
    assert!(!shown["credentials"].as_array().unwrap().is_empty());
    let queue = json(&simsid(&env, &["sites", "--status", "unauthorised", "--json"]).await);
    assert!(queue
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["organisation_id"] != new.as_str()));
    sim.shutdown().await;
}
