//! The SIMS client against the real simulator on loopback (token cache, 401 renewal,
//! refusals, verify) and against a listener that never answers (timeouts).
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use simsid::domain::{AppId, OrgId};
use simsid::sims::{SimsClient, SimsError, SimsSettings};
use simsid_simulator::{Fault, SimConfig, SimSite, Simulator};

use crate::support::common::{settings, start, ToDomain};

/// Client settings that reach `sim` as its integrator.
fn sim_settings(sim: &Simulator) -> SimsSettings {
    SimsSettings {
        connect_timeout: Duration::from_secs(2),
        ..settings(sim, Duration::from_secs(10))
    }
}

/// Authorised sites that have at least one client.
fn sites_with_clients(sim: &Simulator) -> Vec<SimSite> {
    sim.control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_calls_share_one_token() {
    let sim = start(SimConfig {
        sites: 40,
        seed: 11,
        // Every answer takes 10–30 ms, so all sixteen callers wait on the one token request.
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    let sites: Vec<SimSite> = sim.control().sites().into_iter().take(16).collect();
    assert_eq!(sites.len(), 16);

    let mut tasks = Vec::new();
    for site in sites.clone() {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            (
                site.org_id.clone(),
                client.clients(&site.org_id.to_domain()).await,
            )
        }));
    }
    for (task, site) in tasks.into_iter().zip(&sites) {
        let (org, result) = task.await.unwrap();
        assert_eq!(&org, &site.org_id);
        match result {
            Ok(creds) => {
                let want: Vec<&str> = site
                    .visible_clients()
                    .iter()
                    .map(|c| c.client_id.as_str())
                    .collect();
                let got: Vec<&str> = creds.iter().map(|c| c.client_id.as_str()).collect();
                assert_eq!(got, want);
                for (got, want) in creds.iter().zip(site.visible_clients()) {
                    assert_eq!(got.secret.expose_secret(), want.secret.expose_secret());
                }
            }
            // A site that has not authorised the application may answer 403 or 404.
            Err(SimsError::Forbidden | SimsError::NotFound) => assert!(!site.authorised),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    let stats = sim.control().stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.api_requests, 16);
    assert_eq!(client.token_requests(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_that_stops_working_is_renewed_once_and_the_call_succeeds() {
    let sim = start(SimConfig {
        sites: 10,
        seed: 12,
        ..SimConfig::default()
    })
    .await;
    sim.control().expire_tokens_after(Some(3));
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    let sites = sites_with_clients(&sim);
    assert!(sites.len() >= 2, "the dataset has sites with clients");

    for call in 0..5 {
        let site = &sites[call % sites.len()];
        let creds = client.clients(&site.org_id.to_domain()).await.unwrap();
        assert_eq!(creds.len(), site.clients.len(), "call {call}");
    }
    // Calls 1–3 used the first token; call 4 got a 401, renewed, and was retried.
    let stats = sim.control().stats();
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.api_requests, 6);
    assert_eq!(client.token_requests(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_that_the_api_refuses_even_when_fresh_is_unauthorized() {
    let sim = start(SimConfig {
        sites: 5,
        seed: 13,
        ..SimConfig::default()
    })
    .await;
    // Every token is used up before its first call.
    sim.control().expire_tokens_after(Some(0));
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    assert_eq!(client.sites().await.unwrap_err(), SimsError::Unauthorized);
    assert_eq!(sim.control().stats().token_requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let sim = start(SimConfig {
        sites: 5,
        seed: 14,
        token_ttl_secs: 2,
        ..SimConfig::default()
    })
    .await;
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    client.sites().await.unwrap();
    // A 2 s token is used for 1 s (half its life, as it is shorter than two minutes):
    // after that the client asks for a new one although the old one still works.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.sites().await.unwrap();
    let stats = sim.control().stats();
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.api_requests, 2, "no call was refused and retried");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_site_list_matches_the_simulator() {
    let sim = start(SimConfig {
        sites: 30,
        seed: 15,
        ..SimConfig::default()
    })
    .await;
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    let sites = client.sites().await.unwrap();
    let want = sim.control().sites();
    assert_eq!(sites.len(), want.len());
    for (got, want) in sites.iter().zip(&want) {
        assert_eq!(got.org_id, want.org_id.to_domain());
        assert_eq!(got.name, want.name);
        assert_eq!(got.dfe_code, want.dfe_code);
        assert_eq!(got.deni_number, want.deni_number);
        assert_eq!(got.authorised.unwrap_or(false), want.authorised);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn simulator_faults_map_to_typed_errors() {
    let sim = start(SimConfig {
        sites: 10,
        seed: 16,
        ..SimConfig::default()
    })
    .await;
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    let org = sites_with_clients(&sim)[0].org_id.clone();
    let control = sim.control();

    control.set_site_fault(&org, Fault::Html502, Some(1));
    assert_eq!(
        client.clients(&org.to_domain()).await.unwrap_err(),
        SimsError::Server { status: 502 }
    );
    control.set_site_fault(
        &org,
        Fault::RateLimited {
            retry_after_secs: 4,
        },
        Some(1),
    );
    let limited = client.clients(&org.to_domain()).await.unwrap_err();
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(4)));
    control.set_site_fault(&org, Fault::Unavailable503, Some(1));
    assert!(client
        .clients(&org.to_domain())
        .await
        .unwrap_err()
        .is_transient());
    control.set_site_fault(&org, Fault::Forbidden, Some(1));
    assert_eq!(
        client.clients(&org.to_domain()).await.unwrap_err(),
        SimsError::Forbidden
    );
    // The fault was for one call each: the next call is served normally.
    assert!(!client.clients(&org.to_domain()).await.unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_integrator_secret_is_refused_without_quoting_it() {
    let sim = start(SimConfig {
        sites: 5,
        seed: 17,
        ..SimConfig::default()
    })
    .await;
    let wrong = "wrong-integrator-secret-Vb63";
    let mut settings = sim_settings(&sim);
    settings.client_secret = SecretString::from(wrong);
    let client = SimsClient::new(settings).unwrap();
    let err = client.sites().await.unwrap_err();
    assert!(matches!(err, SimsError::CredentialsRefused(_)), "{err:?}");
    assert!(!err.is_transient());
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains(wrong), "{shown}");
    for secret in sim.control().all_secrets() {
        assert!(!shown.contains(&secret), "{shown}");
    }
    assert_eq!(sim.control().stats().api_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn verify_accepts_a_real_credential_and_refuses_wrong_or_withdrawn_ones() {
    let sim = start(SimConfig {
        sites: 10,
        seed: 18,
        ..SimConfig::default()
    })
    .await;
    let client = SimsClient::new(sim_settings(&sim)).unwrap();
    let site = sites_with_clients(&sim).remove(0);
    let school = &site.clients[0];

    client
        .verify(&site.org_id.to_domain(), &school.client_id, &school.secret)
        .await
        .unwrap();

    let wrong = SecretString::from("not-the-school-secret-Tr09");
    let err = client
        .verify(&site.org_id.to_domain(), &school.client_id, &wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, SimsError::CredentialsRefused(_)), "{err:?}");
    assert!(!err.to_string().contains(school.secret.expose_secret()));

    assert!(sim
        .control()
        .withdraw_client(&site.org_id, &school.client_id));
    let err = client
        .verify(&site.org_id.to_domain(), &school.client_id, &school.secret)
        .await
        .unwrap_err();
    assert!(matches!(err, SimsError::CredentialsRefused(_)), "{err:?}");

    // Three token requests, none of them cached as the integrator's token.
    assert_eq!(sim.control().stats().token_requests, 3);
    assert_eq!(client.token_requests(), 3);
    client.sites().await.unwrap();
    assert_eq!(sim.control().stats().token_requests, 4);
    sim.shutdown().await;
}

fn silent_settings(addr: std::net::SocketAddr, timeout: Duration) -> SimsSettings {
    SimsSettings {
        sts_url: format!("http://{addr}/connect/token"),
        api_base: format!("http://{addr}/api/v1/partner"),
        application_id: AppId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
        client_id: "integrator".into(),
        client_secret: SecretString::from("integrator-secret"),
        organisation_id: OrgId::parse("AAAAAAAA-0000-0000-0000-000000000001").unwrap(),
        scopes: "rapapi partner partner-read partner-write".into(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout,
        connect_timeout: Duration::from_secs(2),
        client_auth: Default::default(),
        verify_scopes: String::new(),
    }
}

/// A loopback listener that accepts connections and holds them without ever answering.
async fn silent_listener() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        // Bounded: a test opens a handful of connections at most.
        for _ in 0..16 {
            match listener.accept().await {
                Ok((stream, _)) => held.push(stream),
                Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    (addr, task)
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (addr, task) = silent_listener().await;
    let client = SimsClient::new(silent_settings(addr, Duration::from_millis(300))).unwrap();

    let err = client.sites().await.unwrap_err();
    assert_eq!(err, SimsError::Timeout);
    assert!(err.is_transient());
    assert_eq!(err.to_string(), "request timed out");

    let org = OrgId::parse("BBBBBBBB-0000-0000-0000-000000000001").unwrap();
    let err = client
        .verify(&org, "school", &SecretString::from("school-secret"))
        .await
        .unwrap_err();
    assert_eq!(err, SimsError::Timeout);
    assert_eq!(client.token_requests(), 2);
    task.abort();
}
