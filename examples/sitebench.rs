//! One school (`harvest --site`) against a full harvest at 25,000
//! sites. `cargo run --release --example sitebench` (add `-- --quick` for 5,000 sites).
//!
//! The simulator on loopback answers every call after ~20 ms and admits 500 API requests
//! per second (token bucket, burst 50; the rest `429`, `Retry-After: 1`), as a gateway
//! does. A real store in a temporary directory; the same operations the commands run
//! (`ops::harvest_and_commit`, `ops::harvest_site_via`), ceiling 16. First a full harvest;
//! then a new school appears and `--site` refreshes it. Prints requests (counted by the
//! simulator) and wall time of each; measures, asserts nothing.

use std::time::{Duration, Instant};

use simsid::harvest::{HarvestEnd, HarvestOptions};
use simsid::ops::{self, SiteEnd};
use simsid::sims::SimsClient;
use simsid::store::{Store, StoreKey};
use simsid_simulator::{SimConfig, Simulator};
use simsid_testkit::sims;
use tokio_util::sync::CancellationToken;

fn client(sim: &Simulator) -> SimsClient {
    sims::client(sim, Duration::from_secs(30))
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sites = if quick { 5_000 } else { 25_000 };
    let rate = 500;
    let sim = sims::start(SimConfig {
        sites,
        seed: 17,
        latency: Duration::from_millis(20),
        rate_limit: Some(rate),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store =
        Store::open(&dir.path().join("store.sqlite3"), StoreKey::generate()).expect("store");
    let options = HarvestOptions {
        concurrency: 16,
        ..HarvestOptions::default()
    };

    sim.control().reset_stats();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let start = Instant::now();
    let end = ops::harvest_and_commit(
        &mut store,
        client(&sim),
        options,
        "bench",
        tx,
        CancellationToken::new(),
    )
    .await
    .expect("full harvest");
    let full_wall = start.elapsed();
    let full = sim.control().stats();
    let HarvestEnd::Finished(summary) = end else {
        panic!("the full harvest was cancelled");
    };

    let new = sim.control().add_site();
    sim.control().reset_stats();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let start = Instant::now();
    let run = ops::Run {
        options,
        policy: ops::HarvestPolicy::default(),
        user: "bench",
    };
    let end = ops::harvest_site_via(
        &mut store,
        client(&sim),
        run,
        new.as_str(),
        tx,
        CancellationToken::new(),
        &mut ops::CommitPath::local(),
    )
    .await
    .expect("one school");
    let site_wall = start.elapsed();
    let one = sim.control().stats();
    let SiteEnd::Ran(HarvestEnd::Finished(site_summary)) = end else {
        panic!("the one-school run did not finish");
    };

    println!("{sites} sites, 20 ms latency, gateway {rate} requests/s, ceiling 16, release build");
    println!(
        "{:<24} {:>10} {:>8} {:>10} {:>12}",
        "run", "status", "API req", "429s", "wall"
    );
    println!(
        "{:<24} {:>10} {:>8} {:>10} {:>10.1} s",
        "full harvest",
        summary.status.as_str(),
        full.api_requests,
        full.rate_limited,
        full_wall.as_secs_f64()
    );
    println!(
        "{:<24} {:>10} {:>8} {:>10} {:>10.3} s",
        "harvest --site (new)",
        site_summary.status.as_str(),
        one.api_requests,
        one.rate_limited,
        site_wall.as_secs_f64()
    );
    println!(
        "token requests: full {}, --site {}; site list bytes dominate --site's time",
        full.token_requests, one.token_requests
    );
    sim.shutdown().await;
}
