//! Read commands create nothing (docs/reference/cli.md "Store safety"): on a missing store, `sites`,
//! `show`, `verify` and the like exit without creating a store, a key or a lock, in local
//! mode and in vault mode (a real OpenBao).
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::disk::*;
#[cfg(not(windows))]
use crate::support::vault_support;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_never_create_a_store_or_a_key() {
    let sim = simulator(4, 71).await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let typo = ts.dir.path().join("typo").join("store.sqlite3");
    let env = with_store(
        &key_file_env(&env_for(&sim, &ts), &logs.path().join("log")),
        &typo,
    );
    for args in [
        &["sites"][..],
        &["show", "1001"][..],
        &["history"][..],
        &["audit"][..],
        &["export", "--format", "json"][..],
        &["verify", "1001"][..],
    ] {
        let o = simsid(&env, args).await;
        assert_refused(&o, 1, &["no store at", &typo.display().to_string()]);
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    }
    assert!(
        names(ts.dir.path()).is_empty(),
        "{:?}",
        names(ts.dir.path())
    );
    sim.shutdown().await;
}

// Not on Windows: vault mode needs `bao`, which a Windows test under Wine cannot start.
#[cfg(not(windows))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_in_vault_mode_create_nothing_either() {
    let sim = simulator(4, 75).await;
    let bao = vault_support::shared().await;
    let ts = TempStore::new();
    let logs = tempfile::tempdir().unwrap();
    let typo = ts.dir.path().join("typo").join("store.sqlite3");
    let mut env = with_store(
        &key_file_env(&env_for(&sim, &ts), &logs.path().join("log")),
        &typo,
    );
    env.insert("SIMSID_SECRETS".into(), "vault".into());
    env.insert("VAULT_ADDR".into(), bao.addr.clone());
    env.insert("VAULT_TOKEN".into(), vault_support::ROOT_TOKEN.into());
    env.insert("SIMSID_VAULT_PREFIX".into(), "t/readsnothing".into());
    for args in [
        &["sites"][..],
        &["show", "1001"][..],
        &["show", "1001", "--reveal"][..],
        &["history"][..],
        &["audit"][..],
        &["exposure"][..],
        &["export", "--format", "json"][..],
        &["verify", "1001"][..],
        &["verify", "--all"][..],
        &["verify", "--exposed"][..],
    ] {
        let o = simsid(&env, args).await;
        assert_refused(&o, 1, &["no store at", &typo.display().to_string()]);
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        assert!(
            names(ts.dir.path()).is_empty(),
            "{args:?} created {:?}",
            names(ts.dir.path())
        );
    }
    // Nor anything in the vault.
    assert!(bao.keys("t/readsnothing").await.is_empty());
    sim.shutdown().await;
}
