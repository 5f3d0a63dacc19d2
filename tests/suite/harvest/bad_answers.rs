//! A harvest facing answers it must not trust: duplicate client ids fail their site (exact
//! duplicates count once), a clients answer over one mebibyte is refused, a redirect is
//! reported and not followed, a narrowed scope or a bearer 403 fails the run and keeps the
//! cache, and OAuth errors keep their code and description. The real binary against the
//! in-process simulator.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;
use crate::support::hostile::*;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use secrecy::SecretString;
use simsid_simulator::{Fault, StsMode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_client_ids_fail_the_site_exact_duplicates_count_once() {
    let sim = simulator(10, 806).await;
    let clash = authorised_site(&sim, 0);
    let twin = authorised_site(&sim, 1);
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Same id, different secrets at one site; an exact copy at another; a hostile id twice.
    let clash_id = clash.clients[0].client_id.clone();
    assert!(sim
        .control()
        .duplicate_client(&clash.org_id, &clash_id, false));
    assert!(sim
        .control()
        .duplicate_client(&twin.org_id, &twin.clients[0].client_id, true));
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "partial");
    let failures = run["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{run}");
    assert_eq!(failures[0]["organisation_id"], clash.org_id.as_str());
    let error = failures[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&clash_id) && error.contains("twice"),
        "{error}"
    );
    assert_eq!(
        run["credentials_total"].as_u64().unwrap(),
        cached_credentials(&env).await,
        "credentials_total equals what the store holds"
    );
    let o = simsid(&env, &["show", clash.org_id.as_str(), "--json"]).await;
    let shown = json(&o);
    assert_eq!(shown["stale"], true);
    assert_eq!(
        shown["credentials"].as_array().unwrap().len(),
        clash.clients.len(),
        "the previous credentials are kept"
    );
    let o = simsid(&env, &["show", twin.org_id.as_str(), "--json"]).await;
    assert_eq!(
        json(&o)["credentials"].as_array().unwrap().len(),
        twin.clients.len()
    );

    // A hostile client id twice: the error names it, sanitised.
    let third = authorised_site(&sim, 2);
    assert!(sim
        .control()
        .push_client(&third.org_id, hostile_client("a-Lk20")));
    assert!(sim
        .control()
        .push_client(&third.org_id, hostile_client("b-Lk21")));
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stdout(&o);
    assert_terminal_safe(&text);
    assert!(text.contains("sas-\\u{1b}]52;c;SGVsbG8=\\u{7}-x"), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_answer_over_one_mebibyte_is_refused_as_malformed() {
    let sim = simulator(6, 810).await;
    let site = authorised_site(&sim, 0);
    sim.control()
        .set_site_fault(&site.org_id, Fault::EndlessBody, None);
    let client = client(&sim, Duration::from_secs(30));
    let err = client.clients(&site.org_id.to_domain()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("malformed answer: answer larger than {} bytes", 1024 * 1024)
    );
    assert_eq!(simsid::sims::MAX_CLIENTS_BODY, 1024 * 1024);
    assert_eq!(simsid::sims::MAX_SITE_LIST_BODY, 64 * 1024 * 1024);
    // The site list is still read in full.
    assert_eq!(client.sites().await.unwrap().len(), 6);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_reported_as_a_redirect_not_followed() {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "https://elsewhere.example/connect/token")],
        )
            .into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let sim = simulator(1, 811).await;
    let ts = TempStore::new();
    let mut env = env_for(&sim, &ts);
    env.insert(
        "SIMSID_STS_URL".into(),
        format!("http://{addr}/connect/token"),
    );
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("redirect (HTTP 307), not followed"),
        "{}",
        stderr(&o)
    );
    server.abort();
    sim.shutdown().await;
}

/// A harvest on a store harvested in full before: the run fails (exit 1, `failed`) and the
/// store keeps every credential. Returns the run's error.
async fn harvest_fails_and_keeps_the_cache(env: &BTreeMap<String, String>) -> String {
    let before = cached_credentials(env).await;
    assert!(before > 5);
    let o = simsid(env, &["harvest", "--json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let run = json(&o);
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["diff"]["credentials_removed"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(cached_credentials(env).await, before, "cache kept");
    run["error"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_scope_or_a_bearer_403_fails_the_run_not_the_cache() {
    let sim = simulator(20, 814).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The STS grants less than asked (RFC 6749 §3.3).
    sim.control().set_sts_mode(StsMode {
        granted_scope: Some("rapapi partner".into()),
        ..StsMode::default()
    });
    let error = harvest_fails_and_keeps_the_cache(&env).await;
    assert!(error.contains("partner-read partner-write"), "{error}");

    // A client that asks only for what it gets: every Clients call answers 403 with a
    // Bearer insufficient_scope challenge.
    let mut narrow = env.clone();
    narrow.insert("SIMSID_SCOPES".into(), "rapapi partner".into());
    let error = harvest_fails_and_keeps_the_cache(&narrow).await;
    assert!(error.contains("insufficient_scope"), "{error}");

    // The same challenge injected on the partner API with the full scopes.
    sim.control().set_sts_mode(StsMode::default());
    sim.control()
        .set_global_fault(Some(Fault::ForbiddenInsufficientScope), None);
    let error = harvest_fails_and_keeps_the_cache(&env).await;
    assert!(error.contains("403, insufficient_scope"), "{error}");

    // A plain 403 (no challenge) is still "no credentials" for that site.
    sim.control().set_global_fault(None, None);
    let site = authorised_site(&sim, 0);
    sim.control()
        .set_site_fault(&site.org_id, Fault::Forbidden, None);
    let o = simsid(&env, &["harvest", "--json"]).await;
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert_ne!(json(&o)["status"], "failed");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_errors_keep_code_and_description_and_basic_auth_works() {
    let sim = simulator(8, 815).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);

    // The simulator, like IdentityServer, accepts HTTP Basic by default.
    let mut basic = env.clone();
    basic.insert("SIMSID_STS_CLIENT_AUTH".into(), "basic".into());
    let o = simsid(&basic, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // An STS that insists on Basic: "post" reports the OAuth error and the way out.
    sim.control().set_sts_mode(StsMode {
        require_basic: true,
        ..StsMode::default()
    });
    let o = simsid(&env, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("invalid_client (HTTP 401)"), "{err}");
    assert!(err.contains("client_secret_basic"), "{err}");
    assert!(err.contains("sts_client_auth = \"basic\""), "{err}");
    let o = simsid(&basic, &["harvest"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Other OAuth codes keep their code; a hostile description is sanitised.
    sim.control().set_sts_mode(StsMode {
        error_description: Some("nope\u{1b}]52;c;SGVsbG8=\u{7}".into()),
        ..StsMode::default()
    });
    let client = client(&sim, Duration::from_secs(10));
    let site = authorised_site(&sim, 0);
    let err = client
        .verify(
            &site.org_id.to_domain(),
            &site.clients[0].client_id,
            &SecretString::from("wrong-Zz90"),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "the STS refused the client id and secret: invalid_client (HTTP 400): \
         nope\\u{1b}]52;c;SGVsbG8=\\u{7}"
    );
    sim.shutdown().await;
}
