//! A harvest never empties the cache by accident (docs/reference/cli.md): a mass removal of credentials,
//! or of sites leaving, is held until `--accept-removals`; one school leaving is not held.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use common::*;
use simsid::domain::OrgId;
use simsid_simulator::Fault;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_removal_is_held_and_accept_removals_takes_it() {
    let sim = simulator(30, 141).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let before = json(&simsid(&env, &["sites", "--json"]).await);
    let cached = credential_total(&before);
    assert!(cached > 10, "{cached}");

    // Every Clients call answers 403 (a narrowed scope, say): read as "no credentials".
    sim.control().set_global_fault(Some(Fault::Forbidden), None);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "partial");
    assert_eq!(
        run["diff"]["credentials_removed"].as_array().unwrap().len(),
        0
    );
    assert_eq!(run["credentials_total"].as_u64().unwrap(), cached);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("remove {cached} of the {cached}")),
        "{error}"
    );
    assert!(
        error.contains("simsid harvest --accept-removals"),
        "{error}"
    );
    let held = json(&simsid(&env, &["sites", "--json"]).await);
    assert_eq!(credential_total(&held), cached, "the credentials stay");
    for s in held.as_array().unwrap() {
        if s["credential_count"].as_u64().unwrap() > 0 {
            assert_eq!(s["stale"], true, "{s}");
            assert_eq!(s["last_error"], "removal held", "{s}");
        }
    }
    // The text form says it too.
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("--accept-removals"), "{}", stdout(&o));

    // Accepting takes them.
    let o = simsid(&env, &["harvest", "--json", "--accept-removals"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(
        run["diff"]["credentials_removed"].as_array().unwrap().len() as u64,
        cached
    );
    assert_eq!(run["credentials_total"], 0);
    assert_eq!(cached_credentials(&env).await, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_leaving_en_masse_are_held_too_but_one_school_leaves() {
    let sim = simulator(30, 142).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    assert_eq!(simsid(&env, &["harvest"]).await.status.code(), Some(0));
    let with_creds: Vec<OrgId> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| !s.clients.is_empty())
        .map(|s| s.org_id.to_domain())
        .collect();
    // One school leaves: below the threshold, removed as usual.
    assert!(sim.control().remove_site(&with_creds[0].to_sim()));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        json(&o)["diff"]["sites_removed"].as_array().unwrap().len(),
        1
    );
    // A dozen leave at once: held, still listed.
    for org in &with_creds[1..13] {
        assert!(sim.control().remove_site(&org.to_sim()));
    }
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert!(run["diff"]["sites_removed"].as_array().unwrap().is_empty());
    assert!(run["error"].as_str().unwrap().contains("12 site(s)"));
    let sites = json(&simsid(&env, &["sites", "--json", "--status", "stale"]).await);
    assert_eq!(sites.as_array().unwrap().len(), 12);
    sim.shutdown().await;
}
