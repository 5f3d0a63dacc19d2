//! The rate-limit benchmark: prints one table.
//!
//! `cargo run --release --example ratebench` (add `-- --quick` for a smaller run). Every
//! scenario is a full harvest of the simulator on loopback through the real HTTP client and
//! the harvest engine (no store), with a ceiling of 64 in flight:
//!
//! 1. 5,000 sites, `--rate-limit 200`, 20 ms latency: wall against N/R, `429`s.
//! 2. No limit, 20 ms latency: the no-limit pace, sites per second between the 10 % and the
//!    90 % completion (start-up and tail left out).
//! 3. 10,000 sites under the same limit, lifted through `/_sim/rate-limit` once 2,500 are
//!    done (halfway through scenario 1's work). Recovery: the time from the lift until the
//!    end of the first 0.25 s window (starting after the lift) in which sites completed at
//!    ≥ 90 % of the no-limit pace of scenario 2.
//! 4. 25,000 sites, 50 ms latency, no limit: wall against the floor N × L / C, and against a
//!    plain client (the same HTTP client, `buffer_unordered(64)`, no engine, no gate) on
//!    the same simulator in the same run, which shows what the simulator and the HTTP stack
//!    allow on this machine.

use std::time::{Duration, Instant};

use futures::StreamExt;
use secrecy::ExposeSecret;
use simsid::harvest::{self, FetchOutcome, HarvestEvent, HarvestOptions};
use simsid::sims::{SimsClient, SimsError};
use simsid_simulator::{SimConfig, Simulator};
use simsid_testkit::sims;
use tokio_util::sync::CancellationToken;

/// The ceiling of every run.
const CEILING: usize = 64;
/// The gateway's rate in the limited scenarios.
const RATE: u32 = 200;
/// The rolling window of the recovery measure.
const WINDOW: Duration = Duration::from_millis(250);

struct Outcome {
    wall: Duration,
    sites: usize,
    failed: usize,
    complete: bool,
    requests: u64,
    rate_limited: u64,
    concurrency_max: usize,
    /// When each site finished, since the start.
    done_at: Vec<Duration>,
    /// When the limit was lifted, since the start.
    lifted: Option<Duration>,
}

fn client(sim: &Simulator) -> SimsClient {
    sims::client(sim, Duration::from_secs(30))
}

async fn simulator(sites: usize, latency_ms: u64, rate: Option<u32>) -> Simulator {
    sims::start(SimConfig {
        sites,
        seed: 7,
        latency: Duration::from_millis(latency_ms),
        rate_limit: rate,
        ..SimConfig::default()
    })
    .await
}

/// One harvest; `lift_at` lifts the rate limit through `/_sim/` once that many sites are done.
async fn harvest(
    sites: usize,
    latency_ms: u64,
    rate: Option<u32>,
    lift_at: Option<usize>,
) -> Outcome {
    let sim = simulator(sites, latency_ms, rate).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = HarvestOptions {
        concurrency: CEILING,
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
                if trace {
                    eprintln!("{:>7.3} s  lifted", start.elapsed().as_secs_f64());
                }
            }
        }
    }
    let out = run.await.expect("harvest task");
    let wall = start.elapsed();
    let FetchOutcome::Fetched(f) = out else {
        panic!("the harvest did not fetch the site list");
    };
    sim.shutdown().await;
    Outcome {
        wall,
        sites: f.sites.len(),
        failed: f.failed.len(),
        complete: f.failed.is_empty() && f.clients.len() == f.sites.len(),
        requests: f.stats.requests,
        rate_limited: f.stats.rate_limited,
        concurrency_max: f.stats.concurrency_max,
        done_at,
        lifted,
    }
}

/// The same sites fetched by a plain client: the token, the site list, then every site's
/// clients with `CEILING` in flight; no engine, no gate, no events. Returns the wall and
/// how many sites were answered (a site the application may not read answers 403/404).
async fn plain(sites: usize, latency_ms: u64) -> (Duration, usize) {
    let sim = simulator(sites, latency_ms, None).await;
    let c = client(&sim);
    let start = Instant::now();
    let list = c.sites().await.expect("site list");
    let ok = futures::stream::iter(list.iter().map(|s| c.clients(&s.org_id)))
        .buffer_unordered(CEILING)
        .filter(|r| {
            std::future::ready(matches!(
                r,
                Ok(_) | Err(SimsError::Forbidden | SimsError::NotFound)
            ))
        })
        .count()
        .await;
    let wall = start.elapsed();
    sim.shutdown().await;
    (wall, ok)
}

/// Sites per second between the 10 % and the 90 % completion.
fn steady_pace(done_at: &[Duration]) -> f64 {
    let n = done_at.len();
    let (a, b) = (n / 10, (n * 9 / 10).max(n / 10 + 1).min(n - 1));
    (b - a) as f64 / (done_at[b] - done_at[a]).as_secs_f64().max(1e-9)
}

/// The end of the first `WINDOW` starting at or after `from` in which sites completed at
/// `target` per second or more, as a time since `from`.
fn recovered_after(done_at: &[Duration], from: Duration, target: f64) -> Option<Duration> {
    let needed = (target * WINDOW.as_secs_f64()).ceil() as usize;
    let after = done_at.partition_point(|&t| t <= from);
    let times = &done_at[after..];
    // The window ending at each completion i holds the completions in (t_i − WINDOW, t_i].
    let mut first = 0;
    for (i, &t) in times.iter().enumerate() {
        while times[first] + WINDOW <= t {
            first += 1;
        }
        if i + 1 - first >= needed {
            return Some((t.max(from + WINDOW)) - from);
        }
    }
    None
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

fn row(name: &str, o: &Outcome, target: &str, verdict: bool) {
    println!(
        "| {name} | {} | {} | {} | {:.1} s | {target} | {} / {} ({:.1} %) | {} | {} |",
        o.sites,
        o.failed,
        if o.complete { "complete" } else { "partial" },
        o.wall.as_secs_f64(),
        o.rate_limited,
        o.requests,
        percent(o.rate_limited, o.requests),
        o.concurrency_max,
        if verdict { "yes" } else { "NO" },
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n1, n3) = if quick {
        (1_000, 5_000)
    } else {
        (5_000, 25_000)
    };
    println!(
        "ratebench{}: ceiling {CEILING}, {} cores, load average {} at start",
        if quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );
    println!();
    println!(
        "| scenario | sites | failed | status | wall | target | 429s / requests | max in flight | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");

    let limited = harvest(n1, 20, Some(RATE), None).await;
    let ideal = n1 as f64 / f64::from(RATE);
    let ok = limited.complete
        && limited.wall.as_secs_f64() <= 1.2 * ideal
        && limited.rate_limited * 20 <= limited.requests;
    row(
        &format!("1. limit {RATE}/s, 20 ms (N/R = {ideal:.1} s)"),
        &limited,
        &format!("≤ {:.1} s (1.2 N/R), 429s ≤ 5 %", 1.2 * ideal),
        ok,
    );

    let free = harvest(n1, 20, None, None).await;
    let free_pace = steady_pace(&free.done_at);
    row(
        &format!("2. no limit, 20 ms: {free_pace:.0} sites/s (10–90 %)"),
        &free,
        "reference for 3",
        free.complete,
    );

    let lift = harvest(2 * n1, 20, Some(RATE), Some(n1 / 2)).await;
    let lifted = lift.lifted.expect("the limit was lifted");
    let back = recovered_after(&lift.done_at, lifted, 0.9 * free_pace);
    let back_text = back.map_or_else(
        || "never".to_string(),
        |d| format!("{:.2} s", d.as_secs_f64()),
    );
    row(
        &format!(
            "3. limit {RATE}/s lifted at {:.1} s (after {} sites): ≥ 90 % of 2's pace {back_text} after the lift",
            lifted.as_secs_f64(),
            n1 / 2
        ),
        &lift,
        "recovery ≤ 5 s",
        lift.complete && back.is_some_and(|d| d <= Duration::from_secs(5)),
    );

    let big = harvest(n3, 50, None, None).await;
    let (plain_wall, plain_ok) = plain(n3, 50).await;
    let floor = n3 as f64 * 0.050 / CEILING as f64;
    row(
        &format!(
            "4. no limit, 50 ms (floor N×L/C = {floor:.1} s; plain client {:.1} s, {plain_ok} answered)",
            plain_wall.as_secs_f64()
        ),
        &big,
        &format!(
            "≤ {:.1} s (1.3 × floor); {:.2} × floor, {:.2} × plain",
            1.3 * floor,
            big.wall.as_secs_f64() / floor,
            big.wall.as_secs_f64() / plain_wall.as_secs_f64()
        ),
        big.complete && big.wall.as_secs_f64() <= 1.3 * floor,
    );
    println!();
    println!("load average {} at the end", load_average());
}
