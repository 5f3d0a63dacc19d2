//! `verify` asks the STS for no partner scope, and a refusal (`invalid_client`) means the
//! credential is invalid, told apart from other failures.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use common::*;
use secrecy::ExposeSecret;
use serde_json::Value;
use simsid_simulator::StsMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_asks_no_partner_scope_and_refused_means_invalid_client() {
    let sim = simulator(8, 816).await;
    // As IdentityServer: a school credential asking for partner scopes gets invalid_scope.
    sim.control().set_sts_mode(StsMode {
        school_partner_scope_invalid: true,
        ..StsMode::default()
    });
    let site = authorised_site(&sim, 0);
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = simsid(&env, &["verify", site.org_id.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["ok"], true, "{doc}");
        assert_eq!(r["refused"], false, "{doc}");
    }

    // `verify_scopes` set to the partner scopes: invalid_scope is an error, not a refusal.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profile.default]\nverify_scopes = \"rapapi partner partner-read partner-write\"\n",
    )
    .unwrap();
    let mut scoped = env.clone();
    scoped.insert("SIMSID_CONFIG".into(), config.display().to_string());
    let o = simsid(&scoped, &["verify", site.org_id.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc = json(&o);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["ok"], false, "{doc}");
        assert_eq!(r["refused"], false, "{doc}");
        assert!(
            r["error"].as_str().unwrap().contains("invalid_scope"),
            "{doc}"
        );
    }
    let o = simsid(&scoped, &["verify", site.org_id.as_str()]).await;
    assert!(!stdout(&o).contains("REFUSED"), "{}", stdout(&o));

    // A rotated secret is refused (invalid_client): refused true, exit 5.
    let client_id = site.clients[0].client_id.clone();
    assert!(sim.control().rotate_secret(&site.org_id, &client_id));
    let o = simsid(&env, &["verify", site.org_id.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let doc = json(&o);
    let r = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["client_id"] == client_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (r["ok"].clone(), r["refused"].clone()),
        (Value::Bool(false), Value::Bool(true))
    );
    let _ = site.clients[0].secret.expose_secret();
    sim.shutdown().await;
}
