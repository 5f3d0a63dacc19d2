//! `simsid harvest --site ORG` (docs/reference/cli.md "One school") on the real binary: a new school (not
//! cached yet) is found in the fresh site list and committed alone, with two requests
//! instead of one per school; an unlisted school and an ambiguous code exit 4 changing
//! nothing; then `verify ORG` says the credentials work.

use crate::support::common;

use common::*;
use serde_json::{json, Value};
use simsid_simulator::SiteText;

fn by_org(sites: &Value) -> std::collections::BTreeMap<String, Value> {
    sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["organisation_id"].as_str().unwrap().to_string(),
                s.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_school_is_refreshed_alone_from_the_fresh_site_list() {
    let sim = simulator(60, 41).await;
    let store = TempStore::new();
    let env = env_for(&sim, &store);
    let full = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let before = by_org(&json(&simsid(&env, &["sites", "--json"]).await));
    let history_before = json(&simsid(&env, &["history", "--json"]).await);

    // Meanwhile in SIMS ID: a new school, another one gone, a secret rotated elsewhere.
    let control = sim.control();
    let new = control.add_site();
    let sites = control.sites();
    let gone = sites
        .iter()
        .find(|s| s.org_id != new)
        .unwrap()
        .org_id
        .clone();
    let rotated = sites
        .iter()
        .find(|s| s.org_id != new && s.org_id != gone && !s.clients.is_empty() && s.authorised)
        .unwrap();
    control.rotate_secret(&rotated.org_id, &rotated.clients[0].client_id);
    control.remove_site(&gone);
    let new_site = control
        .sites()
        .into_iter()
        .find(|s| s.org_id == new)
        .unwrap();

    control.reset_stats();
    let o = simsid(
        &env,
        &["harvest", "--site", &new.as_str().to_lowercase(), "--json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The site list and that school's Clients: two API requests, not one per school.
    assert_eq!(control.stats().api_requests, 2);
    let run = json(&o);
    assert_eq!(run["status"], "complete");
    assert_eq!(run["scope"], "site");
    assert_eq!(run["sites_total"], 1);
    assert_eq!(run["sites_harvested"], 1);
    assert_eq!(run["diff"]["sites_added"], json!([new.as_str()]));
    assert_eq!(run["diff"]["sites_removed"], json!([]));
    assert_eq!(run["diff"]["credentials_rotated"], json!([]));
    let added: Vec<&str> = run["diff"]["credentials_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    let mut served: Vec<&str> = new_site
        .clients
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    served.sort();
    assert_eq!(added, served);

    // No other site touched: the gone one is still cached, the rotated one unchanged.
    let after = by_org(&json(&simsid(&env, &["sites", "--json"]).await));
    assert_eq!(after.len(), before.len() + 1);
    for (org, site) in &before {
        let mut a = after[org].clone();
        let mut b = site.clone();
        // The badge of the last full harvest stays; compare everything.
        a.as_object_mut().unwrap().remove("last_changed");
        b.as_object_mut().unwrap().remove("last_changed");
        assert_eq!(a, b, "{org} untouched");
    }
    let shown = json(&simsid(&env, &["show", new.as_str(), "--json"]).await);
    assert_eq!(shown["credentials"].as_array().unwrap().len(), served.len());
    assert!(shown["first_seen"].is_string());
    assert_eq!(shown["waiting_since"], Value::Null);
    // credentials_total is what the store holds.
    let total: u64 = after
        .values()
        .map(|s| s["credential_count"].as_u64().unwrap())
        .sum();
    assert_eq!(run["credentials_total"], total);

    // In the history, scope "site" (and the full run before it "full").
    let history = json(&simsid(&env, &["history", "--json"]).await);
    assert_eq!(
        history.as_array().unwrap().len(),
        history_before.as_array().unwrap().len() + 1
    );
    assert_eq!(history[0]["scope"], "site");
    assert_eq!(history[0]["run_id"], run["run_id"]);
    assert_eq!(history[1]["scope"], "full");

    // Then the operator checks the credentials work.
    let v = simsid(&env, &["verify", new.as_str(), "--json"]).await;
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let results = json(&v)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), served.len());
    assert!(results.iter().all(|r| r["ok"] == true));

    // An unlisted school: exit 4, it says why, nothing changed.
    let stranger = "0b5e7c1a-9d2f-4e3b-8a6c-1f0e2d3c4b5a";
    let o = simsid(&env, &["harvest", "--site", stranger]).await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not list"), "{}", stderr(&o));
    // Not listed means not installed: a school awaiting approval is listed.
    assert!(
        stderr(&o).contains("has not installed it")
            && stderr(&o).contains("awaits approval is listed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(json(&simsid(&env, &["history", "--json"]).await), history);
    assert_eq!(
        by_org(&json(&simsid(&env, &["sites", "--json"]).await)),
        after
    );

    // An ambiguous DfE code: exit 4 listing the candidates, nothing changed.
    let pair: Vec<_> = control
        .sites()
        .into_iter()
        .filter(|s| s.org_id != gone)
        .take(2)
        .collect();
    for s in &pair {
        control.set_site_text(
            &s.org_id,
            SiteText {
                name: None,
                dfe_code: Some("999/9999".into()),
                deni_number: None,
            },
        );
    }
    let o = simsid(&env, &["harvest", "--site", "9999999", "--json"]).await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    for s in &pair {
        assert!(stderr(&o).contains(s.org_id.as_str()), "{}", stderr(&o));
    }
    assert_eq!(json(&simsid(&env, &["history", "--json"]).await), history);

    // A DfE code that names one school works as well as its organisation id.
    let one = control
        .sites()
        .into_iter()
        .find(|s| {
            s.dfe_code.is_some() && s.dfe_code.as_deref() != Some("999/9999") && s.org_id != gone
        })
        .unwrap();
    let o = simsid(
        &env,
        &[
            "harvest",
            "--site",
            one.dfe_code.as_deref().unwrap(),
            "--json",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["scope"], "site");
    sim.shutdown().await;
}
