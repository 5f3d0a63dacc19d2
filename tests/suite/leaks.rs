//! Leak test: after harvests, reveals, failures and a wrong-secret run, all logging to a
//! file at debug level, no secret served by the simulator, no integrator secret, no access
//! token and no store key appears in the log, in the raw bytes of any file in the store's
//! directory, or in the output of any command other than an explicit reveal.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use common::*;
use secrecy::ExposeSecret;
use simsid_simulator::Fault;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_escapes() {
    let sim = simulator(25, 21).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let c = sim.control();
    let sites = c.sites();
    let target = sites
        .iter()
        .find(|s| s.authorised && !s.clients.is_empty() && s.dfe_code.is_some())
        .unwrap()
        .clone();
    let org = target.org_id.to_string();
    c.set_site_fault(&sites[1].org_id, Fault::Status500, None);
    c.set_site_fault(&sites[2].org_id, Fault::Html502, Some(1));
    c.set_site_fault(
        &sites[3].org_id,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        Some(1),
    );
    c.expire_tokens_after(Some(10));

    let mut outputs: Vec<(String, std::process::Output)> = Vec::new();
    let mut run = |args: &[&str], o: std::process::Output| outputs.push((args.join(" "), o));

    run(&["harvest", "-v"], simsid(&env, &["harvest", "-v"]).await);
    run(
        &["harvest", "--json", "-vv"],
        simsid(&env, &["harvest", "--json", "-vv"]).await,
    );
    run(
        &["sites", "--json"],
        simsid(&env, &["sites", "--json"]).await,
    );
    run(&["show"], simsid(&env, &["show", &org, "-v"]).await);
    run(
        &["show", "--json"],
        simsid(&env, &["show", &org, "--json"]).await,
    );
    run(&["verify"], simsid(&env, &["verify", &org, "-v"]).await);
    // Rotate then verify the stale copy: a refusal must not echo the secret either.
    c.rotate_secret(&target.org_id, &target.clients[0].client_id);
    run(
        &["verify", "refused"],
        simsid(&env, &["verify", &org, "--json", "-v"]).await,
    );
    run(
        &["history", "--json"],
        simsid(&env, &["history", "--json"]).await,
    );
    run(
        &["audit", "--json"],
        simsid(&env, &["audit", "--json"]).await,
    );
    run(
        &["export", "csv"],
        simsid(&env, &["export", "--format", "csv"]).await,
    );
    run(
        &["export", "json"],
        simsid(&env, &["export", "--format", "json"]).await,
    );
    let mut wrong = env.clone();
    wrong.insert(
        "SIMSID_CLIENT_SECRET".into(),
        "wrong-integrator-secret-0001".into(),
    );
    let o = simsid(&wrong, &["harvest", "-vv"]).await;
    assert_eq!(o.status.code(), Some(1));
    run(&["harvest", "wrong secret"], o);
    // The explicit reveal: its output is allowed to hold the secret, nothing else is.
    let reveal = simsid(&env, &["show", &org, "--reveal", "-v"]).await;
    assert_eq!(reveal.status.code(), Some(0));
    let shown = target.clients[0].secret.expose_secret().to_string();

    let mut secrets: Vec<String> = c.all_secrets();
    secrets.push(shown.clone());
    secrets.push("wrong-integrator-secret-0001".into());
    secrets.push(ts.key_b64.expose_secret().to_string());
    secrets.push(sim.env().client_secret.expose_secret().to_string());
    secrets.retain(|s| s.len() >= 8);
    assert!(
        secrets.len() > 25,
        "the simulator served secrets and tokens"
    );

    let log = std::fs::read(ts.log()).expect("log file written");
    assert!(log.len() > 100, "the log has content");
    let files = all_file_bytes(ts.dir.path());
    assert!(files.iter().any(|(p, _)| p.ends_with("store.sqlite3")));
    for s in &secrets {
        let b = s.as_bytes();
        assert!(!contains_bytes(&log, b), "secret in the log");
        for (path, bytes) in &files {
            assert!(!contains_bytes(bytes, b), "secret in {}", path.display());
        }
        for (what, o) in &outputs {
            assert!(!contains_bytes(&o.stdout, b), "secret in stdout of {what}");
            assert!(!contains_bytes(&o.stderr, b), "secret in stderr of {what}");
        }
        assert!(
            !contains_bytes(&reveal.stderr, b),
            "secret in stderr of reveal"
        );
    }
    // The reveal really showed it (so the check above is not vacuous).
    assert!(contains_bytes(&reveal.stdout, shown.as_bytes()));
    sim.shutdown().await;
}
