//! `harvest --site ORG` in vault mode against a real OpenBao (`bao server -dev` on
//! loopback, started by the tests): the new school's credentials are written to the vault,
//! and no other site's key is removed although the one-school run lists only that site.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::vault_support;

use common::*;
use simsid::vault::path::credential_key;
use vault_support::{shared, ROOT_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_school_writes_its_keys_and_removes_no_other() {
    let bao = shared().await;
    let sim = simulator(20, 61).await;
    let ts = TempStore::new();
    let prefix = "simsid-host-site";
    let mut env = env_for(&sim, &ts);
    env.insert("SIMSID_SECRETS".into(), "vault".into());
    env.insert("VAULT_ADDR".into(), bao.addr.clone());
    env.insert("VAULT_TOKEN".into(), ROOT_TOKEN.into());
    env.insert("SIMSID_VAULT_PREFIX".into(), prefix.into());

    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = bao.keys(prefix).await;
    assert!(!before.is_empty());

    let new = sim.control().add_site();
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.org_id == new)
        .unwrap();
    let o = simsid(&env, &["harvest", "--site", new.as_str(), "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["scope"], "site");
    assert_eq!(run["vault"]["written"], site.clients.len());
    assert_eq!(run["vault"]["removed"], 0);

    let after = bao.keys(prefix).await;
    for k in &before {
        assert!(after.contains(k), "{k} kept");
    }
    assert_eq!(after.len(), before.len() + site.clients.len());
    for c in &site.clients {
        let (data, _) = bao
            .read(&credential_key(prefix, &new.to_domain(), &c.client_id))
            .await
            .expect("written");
        assert_eq!(
            data["secret"],
            serde_json::json!(secrecy::ExposeSecret::expose_secret(&c.secret))
        );
    }
    // The store keeps no secret in vault mode; verify reads them from the vault.
    let v = simsid(&env, &["verify", new.as_str(), "--json"]).await;
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    sim.shutdown().await;
}
