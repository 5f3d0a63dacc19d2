//! The rate-limit benchmark of issue 11: prints one table.
//!
//! `cargo run --release --example ratebench` (add `-- --quick` for a smaller run). Three
//! scenarios against the simulator on loopback, each a full harvest through the real HTTP
//! client and the harvest engine (no store):
//!
//! 1. 5,000 sites, `--rate-limit 200`, 20 ms latency, ceiling 64: wall against N/R, `429`s.
//! 2. The same with the limit lifted (through `/_sim/rate-limit`) halfway: how long after
//!    the lift the harvest runs at the no-limit pace again (sites per second over a 0.5 s
//!    window ≥ 90 % of a no-limit run's, measured in the same process).
//! 3. 25,000 sites, 50 ms latency, ceiling 64, no limit: wall against the floor N × L / C.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use simsid::domain::{AppId, OrgId};
use simsid::harvest::{self, HarvestEvent, HarvestOptions, HarvestOutput};
use simsid::sims::{SimsClient, SimsSettings};
use simsid::simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

struct Outcome {
    wall: Duration,
    sites: usize,
    failed: usize,
    requests: u64,
    rate_limited: u64,
    concurrency_max: usize,
    /// When each site finished, since the start.
    done_at: Vec<Duration>,
}

fn client(sim: &Simulator) -> SimsClient {
    let env = sim.env();
    SimsClient::new(SimsSettings {
        sts_url: env.sts_url.clone(),
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).expect("application id"),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).expect("organisation id"),
        scopes: "rapapi partner partner-read partner-write".into(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(30),
        client_auth: Default::default(),
        verify_scopes: String::new(),
    })
    .expect("client")
}

/// One harvest; `lift_at` lifts the rate limit through `/_sim/` once that many sites are done.
async fn harvest(
    sites: usize,
    latency_ms: u64,
    rate: Option<u32>,
    lift_at: Option<usize>,
) -> (Outcome, Option<Duration>) {
    let sim = Simulator::start(
        SimConfig {
            sites,
            seed: 7,
            latency: Duration::from_millis(latency_ms),
            rate_limit: rate,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("simulator");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = HarvestOptions {
        concurrency: 64,
        ..HarvestOptions::default()
    };
    let start = Instant::now();
    let run = tokio::spawn(harvest::run(
        client(&sim),
        options,
        tx,
        CancellationToken::new(),
    ));
    let mut done_at = Vec::with_capacity(sites);
    let mut lifted = None;
    let admin = reqwest::Client::new();
    let url = format!("http://{}/_sim/rate-limit", sim.addr());
    // The simulator's own control token, not a SIMS secret: `/_sim/` needs it.
    #[allow(clippy::disallowed_methods)]
    let token = sim.control_token().expose_secret().to_string();
    let trace = std::env::var_os("RATEBENCH_TRACE").is_some();
    while let Some(event) = rx.recv().await {
        if trace
            && matches!(
                event,
                HarvestEvent::Limits(_) | HarvestEvent::RateLimited { .. }
            )
        {
            eprintln!(
                "{:>7.3} s  {} done  {event:?}",
                start.elapsed().as_secs_f64(),
                done_at.len()
            );
        }
        if matches!(
            event,
            HarvestEvent::SiteDone { .. } | HarvestEvent::SiteFailed { .. }
        ) {
            done_at.push(start.elapsed());
            if lifted.is_none() && lift_at.is_some_and(|n| done_at.len() >= n) {
                let answer = admin
                    .delete(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("lift");
                assert!(
                    answer.status().is_success(),
                    "lift refused: {}",
                    answer.status()
                );
                lifted = Some(start.elapsed());
            }
        }
    }
    let out = run.await.expect("harvest task");
    let wall = start.elapsed();
    let HarvestOutput::Fetched(f) = out else {
        panic!("the harvest did not fetch the site list");
    };
    sim.shutdown().await;
    (
        Outcome {
            wall,
            sites: f.sites.len(),
            failed: f.failed.len(),
            requests: f.stats.requests,
            rate_limited: f.stats.rate_limited,
            concurrency_max: f.stats.concurrency_max,
            done_at,
        },
        lifted,
    )
}

/// Sites per second over `window` ending at each completion.
fn pace_after(
    done_at: &[Duration],
    from: Duration,
    window: Duration,
    target: f64,
) -> Option<Duration> {
    let mut first = 0;
    for (i, &t) in done_at.iter().enumerate() {
        while done_at[first] + window < t {
            first += 1;
        }
        if t < from + window {
            continue;
        }
        let pace = (i + 1 - first) as f64 / window.as_secs_f64();
        if pace >= target {
            return Some(t - from);
        }
    }
    None
}

fn row(name: &str, o: &Outcome, target: &str, verdict: bool) {
    println!(
        "| {name} | {} | {} | {:.1} s | {target} | {} / {} ({:.1} %) | {} | {} |",
        o.sites,
        o.failed,
        o.wall.as_secs_f64(),
        o.rate_limited,
        o.requests,
        100.0 * o.rate_limited as f64 / o.requests.max(1) as f64,
        o.concurrency_max,
        if verdict { "yes" } else { "NO" },
    );
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n1, n3) = if quick {
        (1_000, 5_000)
    } else {
        (5_000, 25_000)
    };
    let rate = 200u32;
    println!(
        "| scenario | sites | failed | wall | target | 429s / requests | max in flight | met |"
    );
    println!("|---|---|---|---|---|---|---|---|");

    let (limited, _) = harvest(n1, 20, Some(rate), None).await;
    let ideal = n1 as f64 / f64::from(rate);
    let ok = limited.failed == 0
        && limited.wall.as_secs_f64() <= 1.2 * ideal
        && limited.rate_limited * 20 <= limited.requests;
    row(
        &format!("limit {rate}/s, 20 ms"),
        &limited,
        &format!("≤ {:.1} s (1.2 N/R), 429s ≤ 5 %", 1.2 * ideal),
        ok,
    );

    let (free, _) = harvest(n1, 20, None, None).await;
    let free_pace = n1 as f64 / free.wall.as_secs_f64();
    row(
        "no limit, 20 ms (reference)",
        &free,
        &format!("{free_pace:.0} sites/s"),
        free.failed == 0,
    );

    let (lift, lifted) = harvest(2 * n1, 20, Some(rate), Some(n1 / 2)).await;
    let lifted = lifted.expect("the limit was lifted");
    let back = pace_after(
        &lift.done_at,
        lifted,
        Duration::from_millis(500),
        0.9 * free_pace,
    );
    let back_text = back.map_or_else(
        || "never".to_string(),
        |d| format!("{:.1} s", d.as_secs_f64()),
    );
    row(
        &format!(
            "limit lifted at {:.1} s; back to no-limit pace after {back_text}",
            lifted.as_secs_f64()
        ),
        &lift,
        "≤ 5 s after the lift",
        lift.failed == 0 && back.is_some_and(|d| d <= Duration::from_secs(5)),
    );

    let (big, _) = harvest(n3, 50, None, None).await;
    let floor = n3 as f64 * 0.050 / 64.0;
    row(
        "no limit, 50 ms",
        &big,
        &format!("≤ {:.1} s (1.3 × floor {floor:.1} s)", 1.3 * floor),
        big.failed == 0 && big.wall.as_secs_f64() <= 1.3 * floor,
    );
}
