//! The one verify loop against the STS (moved here from the suite's
//! `verify::one_verify`, same name: the loop is the keeper's, and a front end reaches it
//! only through `Keeper::verify`): a refusal is told apart from a timeout. The simulator's
//! real STS on loopback, and a loopback listener that never answers.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use simsid_simulator::{SimConfig, Simulator};

use super::*;
use crate::domain::AppId;
use crate::sims::SimsSettings;

fn client_for(sts_url: String, sim: &Simulator, timeout: Duration) -> SimsClient {
    let env = sim.env();
    SimsClient::new(SimsSettings {
        sts_url,
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).unwrap(),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).unwrap(),
        scopes: String::new(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout,
        connect_timeout: timeout,
        client_auth: Default::default(),
        verify_scopes: String::new(),
    })
    .unwrap()
}

fn target(org: &OrgId, client_id: &str) -> Target {
    Target {
        organisation_id: org.clone(),
        client_id: client_id.to_string(),
    }
}

/// Secrets given by the test, by client id (the keeper's place in the one verify loop).
struct Given(BTreeMap<String, SecretString>);

impl SecretSource for Given {
    fn secret<'a>(
        &'a self,
        _org: &'a OrgId,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<(SecretString, Fingerprint), String>> {
        let found = self
            .0
            .get(client_id)
            .cloned()
            .map(|s| (s, Fingerprint::parse("0000000000000000").unwrap()))
            .ok_or_else(|| format!("{client_id} is not given"));
        Box::pin(std::future::ready(found))
    }
}

/// A loopback "STS" that accepts connections and never answers.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/connect/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 1024];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_told_apart_from_a_timeout() {
    let sim = Simulator::start(
        SimConfig {
            sites: 8,
            seed: 3,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the simulator starts");
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| s.authorised && !s.clients.is_empty())
        .unwrap();
    let org = OrgId::parse(site.org_id.as_str()).unwrap();
    let client_id = site.clients[0].client_id.clone();
    let secret = site.clients[0].secret.clone();
    let fast = RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        retry_after_cap: Duration::from_millis(5),
    };

    // The real STS: ok, then refused once suspended (and a refusal is not retried).
    let real = client_for(sim.env().sts_url.clone(), &sim, Duration::from_secs(10));
    let targets = vec![target(&org, &client_id)];
    let given = Given(BTreeMap::from([(client_id.clone(), secret.clone())]));
    let checks = run(&real, &given, &targets, 4, fast, None).await.checks;
    assert_eq!(checks[0].outcome, CheckOutcome::Ok);
    assert!(sim.control().suspend_client(&site.org_id, &client_id));
    let before = real.token_requests();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let checks = run(&real, &given, &targets, 4, fast, Some(tx)).await.checks;
    assert!(
        matches!(checks[0].outcome, CheckOutcome::Refused(_)),
        "{checks:?}"
    );
    assert_eq!(
        real.token_requests() - before,
        1,
        "a refusal is not retried"
    );
    let mut last = Tally::default();
    while let Ok(t) = rx.try_recv() {
        last = t;
    }
    assert_eq!((last.total, last.refused, last.done()), (1, 1, 1));
    // What `verify` exits with follows from the tally (5 on a refusal: `cli::exit`'s tests).
    let tally = Tally::of(1, &checks);
    assert_eq!((tally.refused, tally.errors), (1, 0), "{tally:?}");

    // An STS that never answers: every one is an error (timed out, retried), never a
    // refusal.
    let url = black_hole().await;
    let silent = client_for(url, &sim, Duration::from_millis(300));
    let many: Vec<Target> = (0..6).map(|i| target(&org, &format!("sas-{i}"))).collect();
    let given = Given(
        (0..6)
            .map(|i| (format!("sas-{i}"), SecretString::from(format!("s-{i}"))))
            .collect(),
    );
    let checks = run(&silent, &given, &many, 2, fast, None).await.checks;
    assert_eq!(checks.len(), 6);
    for c in &checks {
        match &c.outcome {
            CheckOutcome::Error(e) => assert!(e.contains("timed out"), "{e}"),
            other => panic!("a timeout is an error, not {other:?}"),
        }
    }
    assert_eq!(silent.token_requests(), 18, "each tried 1 + 2 times");
    // Errors and no refusal: `verify` exits 1 (`cli::exit`'s tests).
    let tally = Tally::of(6, &checks);
    assert_eq!((tally.refused, tally.errors), (0, 6), "{tally:?}");
    sim.shutdown().await;
}
