//! The gateway's rate limit: the simulator's token bucket and `/_sim/rate-limit`,
//! and a harvest under it, by counts: it completes, no site fails, the `429`s are seen and
//! counted on both sides, and requests in flight never exceed the ceiling.
// The simulator's settings and control token are test fixtures, not SIMS secrets.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use std::time::Duration;

use common::*;
use secrecy::ExposeSecret;
use simsid::domain::RunStatus;
use simsid::harvest::{HarvestEnd, HarvestEvent, HarvestOptions, RetryPolicy};
use simsid::ops::harvest_and_commit;
use simsid_simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

async fn limited(sites: usize, per_second: u32) -> Simulator {
    start(SimConfig {
        sites,
        seed: 5,
        latency: Duration::from_millis(5),
        rate_limit: Some(per_second),
        ..SimConfig::default()
    })
    .await
}

/// A call to `/_sim/rate-limit` with the control token.
async fn rate_limit_call(
    sim: &Simulator,
    method: reqwest::Method,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let url = format!("http://{}/_sim/rate-limit", sim.addr());
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(sim.control_token().expose_secret());
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn site_list_url(sim: &Simulator) -> String {
    let env = sim.env();
    format!(
        "{}/{}/GetSiteByApplication",
        env.api_base, env.application_id
    )
}

async fn token(sim: &Simulator) -> String {
    let env = sim.env();
    let acr = format!("orgselect:{}", env.organisation_id);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", env.client_id.as_str()),
        ("client_secret", env.client_secret.expose_secret()),
        ("scope", "rapapi partner partner-read partner-write"),
        ("acr_values", acr.as_str()),
    ];
    let answer: serde_json::Value = reqwest::Client::new()
        .post(&env.sts_url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_429_beyond_its_burst_and_the_control_lifts_it() {
    // 20/s: a burst of 2.
    let sim = limited(5, 20).await;
    let http = reqwest::Client::new();
    let bearer = token(&sim).await;
    let url = site_list_url(&sim);
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        let r = http.get(&url).bearer_auth(&bearer).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 && refused.is_none() {
            let retry_after = r.headers()["retry-after"].to_str().unwrap().to_string();
            let body: serde_json::Value = r.json().await.unwrap();
            refused = Some((retry_after, body));
        }
    }
    assert_eq!(
        &statuses[..2],
        &[200, 200],
        "the burst passes: {statuses:?}"
    );
    let (retry_after, body) = refused.expect("requests beyond the burst are refused");
    assert_eq!(retry_after, "1");
    assert_eq!(body["statusCode"], 429);
    assert!(body["message"].as_str().unwrap().contains("Rate limit"));
    let stats = sim.control().stats();
    let n429 = statuses.iter().filter(|s| **s == 429).count() as u64;
    assert_eq!(stats.rate_limited, n429);

    // `/_sim/rate-limit` reads, lifts and sets the limit (with the control token only).
    let control = format!("http://{}/_sim/rate-limit", sim.addr());
    let anonymous = http.delete(&control).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let now = rate_limit_call(&sim, reqwest::Method::GET, None).await;
    let now: serde_json::Value = now.json().await.unwrap();
    assert_eq!(now["per_second"], 20);
    let lifted = rate_limit_call(&sim, reqwest::Method::DELETE, None).await;
    assert_eq!(lifted.status(), 204);
    assert_eq!(sim.control().rate_limit(), None);
    for _ in 0..10 {
        let r = http.get(&url).bearer_auth(&bearer).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let body = serde_json::json!({"per_second": 7});
    let set = rate_limit_call(&sim, reqwest::Method::POST, Some(body)).await;
    assert_eq!(set.status(), 204);
    assert_eq!(sim.control().rate_limit(), Some(7));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_harvest_under_a_rate_limit_completes_without_failures() {
    // 80 sites at 40/s (burst 4) with a ceiling of 16: the opening volley alone overruns
    // the burst, so 429s are certain.
    let sim = limited(80, 40).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = HarvestOptions {
        concurrency: 16,
        retry: RetryPolicy {
            // Two ordinary retries would not survive a rate limit on their own.
            max_retries: 2,
            ..RetryPolicy::default()
        },
    };
    let end = harvest_and_commit(
        &mut store,
        client(&sim, Duration::from_secs(5)),
        options,
        "tester",
        tx,
        CancellationToken::new(),
    )
    .await
    .expect("harvest runs");
    let HarvestEnd::Finished(summary) = end else {
        panic!("not cancelled");
    };
    assert_eq!(
        summary.status,
        RunStatus::Complete,
        "{:?}",
        summary.failures
    );
    assert_eq!((summary.sites_total, summary.sites_failed), (80, 0));

    let sim_stats = sim.control().stats();
    let stats = summary.stats;
    assert!(stats.rate_limited >= 1, "no 429 was seen: {stats:?}");
    assert_eq!(stats.rate_limited, sim_stats.rate_limited);
    assert_eq!(stats.requests, sim_stats.api_requests);
    assert!(stats.retries >= stats.rate_limited);
    assert!(
        (1..=16).contains(&stats.concurrency_max),
        "in flight at most the ceiling: {stats:?}"
    );
    assert!(sim_stats.max_in_flight <= 16);
    assert!((1..=16).contains(&stats.concurrency_final));
    // The window was cut after the first 429.
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    let cut = events.iter().any(
        |e| matches!(e, HarvestEvent::Limits(l) if l.concurrency < l.ceiling && l.rate.is_some()),
    );
    assert!(cut, "the limiter never slowed down");
    let seen = events
        .iter()
        .filter(|e| matches!(e, HarvestEvent::RateLimited { .. }))
        .count() as u64;
    assert_eq!(seen, stats.rate_limited);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harvest_json_reports_stats() {
    let sim = limited(30, 30).await;
    let ts = TempStore::new();
    let env = env_for(&sim, &ts);
    let o = simsid(&env, &["harvest", "--json", "--concurrency", "8"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = json(&o);
    let stats = &run["stats"];
    for key in [
        "requests",
        "retries",
        "rate_limited",
        "concurrency_max",
        "concurrency_final",
    ] {
        assert!(stats[key].is_u64(), "stats lacks {key}: {run}");
    }
    assert_eq!(run["sites_failed"], 0);
    assert_eq!(
        stats["rate_limited"].as_u64().unwrap(),
        sim.control().stats().rate_limited
    );
    assert!(stats["requests"].as_u64().unwrap() >= 31);
    assert!(stats["concurrency_max"].as_u64().unwrap() <= 8);
    sim.shutdown().await;
}
