//! One keeper of secrets per profile (docs/ARCHITECTURE.md): every operation of a console session —
//! harvest, reveal, copy, verify, a one-school refresh — goes through the profile's keeper
//! and so shares its one vault session. Shown against a real OpenBao with an AppRole whose
//! secret id may log in exactly once: a second login (a new session per operation) fails.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::tui_support::console_services;
use crate::support::vault_support;

use std::os::unix::fs::PermissionsExt;

use common::*;
use secrecy::ExposeSecret;
use serde_json::json;
use simsid::cli::console::ConsoleServices;
use simsid::domain::RunStatus;
use simsid::harvest::HarvestEnd;
use simsid::tui::Services;
use tokio_util::sync::CancellationToken;
use vault_support::{served, shared, Bao};

/// An AppRole at `mount` whose secret id logs in once, for a policy over `prefix`; returns
/// the role id and the secret id.
async fn one_use_approle(bao: &Bao, mount: &str, prefix: &str) -> (String, String) {
    let (s, v) = bao
        .api(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "approle"})),
        )
        .await;
    assert!(s == 204 || s == 400, "{s} {v}");
    bao.policy(
        "k-keeper",
        &format!(
            "path \"secret/data/{prefix}/*\" {{ capabilities = [\"create\", \"update\", \"read\", \"delete\"] }}\n\
             path \"secret/metadata/{prefix}/*\" {{ capabilities = [\"create\", \"update\", \"read\", \"delete\", \"list\"] }}\n\
             path \"secret/metadata/{prefix}\" {{ capabilities = [\"list\", \"read\"] }}\n"
        ),
    )
    .await;
    let (s, v) = bao
        .api(
            "POST",
            &format!("auth/{mount}/role/keeper"),
            Some(json!({
                "token_policies": ["k-keeper"],
                "token_ttl": "10m",
                "secret_id_num_uses": 1,
            })),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = bao
        .api("GET", &format!("auth/{mount}/role/keeper/role-id"), None)
        .await;
    let role_id = v["data"]["role_id"].as_str().unwrap().to_string();
    let (_, v) = bao
        .api("POST", &format!("auth/{mount}/role/keeper/secret-id"), None)
        .await;
    let secret_id = v["data"]["secret_id"].as_str().unwrap().to_string();
    (role_id, secret_id)
}

async fn harvest(services: &ConsoleServices) -> HarvestEnd {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    services
        .harvest(tx, CancellationToken::new().into())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_session_logs_in_to_the_vault_once_for_every_operation() {
    let bao = shared().await;
    let prefix = "k/one-session";
    let (role_id, secret_id) = one_use_approle(&bao, "approle", prefix).await;
    let sim = simulator(6, 31).await;
    let ts = TempStore::new();
    let secret_id_file = ts.dir.path().join("secret-id");
    std::fs::write(&secret_id_file, &secret_id).unwrap();
    std::fs::set_permissions(&secret_id_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut env = env_for(&sim, &ts);
    env.insert("SIMSID_SECRETS".into(), "vault".into());
    env.insert("VAULT_ADDR".into(), bao.addr.clone());
    env.insert("SIMSID_VAULT_PREFIX".into(), prefix.into());
    env.insert("SIMSID_VAULT_AUTH".into(), "approle".into());
    env.insert("SIMSID_VAULT_ROLE_ID".into(), role_id);
    env.insert(
        "SIMSID_VAULT_SECRET_ID_FILE".into(),
        secret_id_file.display().to_string(),
    );
    let home = tempfile::tempdir().unwrap();
    let services = console_services(&env, home.path());

    // The harvest logs in (the secret id's one use) and writes the vault.
    match harvest(&services).await {
        HarvestEnd::Finished(s) => assert_eq!(s.status, RunStatus::Complete, "{s:?}"),
        other => panic!("{other:?}"),
    }
    // Reveal, copy, verify and a second harvest all ride on that one login.
    let (org, client_id, secret) = served(&sim).into_iter().next().unwrap();
    let revealed = services.reveal(&org, &client_id).await.unwrap();
    assert_eq!(revealed.expose_secret(), secret);
    let copied = services.copy_secret(&org, &client_id).await.unwrap();
    assert_eq!(copied.expose_secret(), secret);
    let verified = services.verify(&org).await.unwrap();
    assert!(
        !verified.is_empty() && verified.iter().all(|r| r.ok),
        "{verified:?}"
    );
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let one = services
        .harvest_site(&org, tx, CancellationToken::new().into())
        .await
        .unwrap();
    assert!(
        matches!(one, HarvestEnd::Finished(ref s) if s.status == RunStatus::Complete),
        "{one:?}"
    );
    match harvest(&services).await {
        HarvestEnd::Finished(s) => assert_eq!(s.status, RunStatus::Complete, "{s:?}"),
        other => panic!("{other:?}"),
    }

    // A second session of the same profile must log in again: the secret id is spent, which
    // is what every operation above would have met had it made its own session.
    let again = services.clone();
    let fresh = console_services(&env, home.path());
    let refused = fresh.reveal(&org, &client_id).await.unwrap_err();
    let message = format!("{refused:#}");
    assert!(
        !message.contains(&secret) && !message.contains(&secret_id),
        "{message}"
    );
    assert!(again.reveal(&org, &client_id).await.is_ok());
    sim.shutdown().await;
}
