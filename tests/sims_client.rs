//! The SIMS client against the real simulator on loopback (token cache, 401 renewal,
//! refusals, verify) and against a listener that never answers (timeouts).

use std::time::Duration;

use secrecy::SecretString;
use simsid::domain::{AppId, OrgId};
use simsid::sims::{SimsClient, SimsError, SimsSettings};

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
