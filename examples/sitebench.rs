//! One school (`harvest --site`) against a full harvest at 25,000
//! sites. `cargo run --release --example sitebench` (add `-- --quick` for 5,000 sites).
//!
//! The simulator on loopback answers every call after ~20 ms and admits 500 API requests
//! per second (token bucket, burst 50; the rest `429`, `Retry-After: 1`), as a gateway
//! does. A real store in a temporary directory; the operation the commands run (the
//! keeper's harvest, `ops::Keeper::harvest`, whole and of one school), ceiling 16. First a full harvest;
//! then a new school appears and `--site` refreshes it. Prints requests (counted by the
//! simulator) and wall time of each; measures, asserts nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use simsid::config::{self, Dirs, Flags};
use simsid::harvest::HarvestEnd;
use simsid::ops::{HarvestRequest, Keeper, SiteEnd};
use simsid::store::StoreKey;
use simsid_simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

/// The keeper of the settings the binary resolves for `sim` and a new store in `dir`,
/// fetching at most `concurrency` sites at once.
fn keeper(sim: &Simulator, dir: &Path, concurrency: usize) -> Keeper {
    let env = sim.env();
    // The simulator's integrator secret and a throw-away store key, handed to the settings
    // as the binary's environment would.
    #[allow(clippy::disallowed_methods)]
    let vars: BTreeMap<String, String> = [
        ("SIMSID_APPLICATION_ID", env.application_id.clone()),
        ("SIMSID_CLIENT_ID", env.client_id.clone()),
        ("SIMSID_ORGANISATION_ID", env.organisation_id.clone()),
        (
            "SIMSID_CLIENT_SECRET",
            env.client_secret.expose_secret().to_string(),
        ),
        ("SIMSID_STS_URL", env.sts_url.clone()),
        ("SIMSID_API_BASE", env.api_base.clone()),
        (
            "SIMSID_STORE",
            dir.join("store.sqlite3").display().to_string(),
        ),
        (
            "SIMSID_STORE_KEY",
            StoreKey::generate().to_base64().expose_secret().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let dirs = Dirs {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        state_dir: dir.join("state"),
    };
    let mut settings = config::resolve(&Flags::default(), &vars, &dirs).expect("settings");
    let remote = settings.remote.as_mut().expect("remote settings");
    remote.concurrency = concurrency;
    remote.sims.timeout = Duration::from_secs(30);
    remote.sims.connect_timeout = Duration::from_secs(30);
    Keeper::new(settings, "bench".into())
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sites = if quick { 5_000 } else { 25_000 };
    let rate = 500;
    let sim = Simulator::start(
        SimConfig {
            sites,
            seed: 17,
            latency: Duration::from_millis(20),
            rate_limit: Some(rate),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("temporary directory");
    let keeper = keeper(&sim, dir.path(), 16);

    sim.control().reset_stats();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let start = Instant::now();
    let end = keeper
        .harvest(
            HarvestRequest::default(),
            tx,
            CancellationToken::new().into(),
        )
        .await
        .expect("full harvest")
        .end
        .expect("full harvest");
    let full_wall = start.elapsed();
    let full = sim.control().stats();
    let SiteEnd::Ran(HarvestEnd::Finished(summary)) = end else {
        panic!("the full harvest was cancelled");
    };

    let new = sim.control().add_site();
    sim.control().reset_stats();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let start = Instant::now();
    let request = HarvestRequest {
        site: Some(new.as_str()),
        ..HarvestRequest::default()
    };
    let end = keeper
        .harvest(request, tx, CancellationToken::new().into())
        .await
        .expect("one school")
        .end
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
