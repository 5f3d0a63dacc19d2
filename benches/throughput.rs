//! Benchmarks (measure, never assert): harvest throughput against the loopback simulator,
//! filtering 25,000 sites, and committing a 25,000-site harvest to the store.
//!
//! `cargo bench --bench throughput` (set `SIMSID_BENCH_SITES` to change the harvest size).

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use secrecy::{ExposeSecret, SecretString};
use simsid::config::{self, Dirs, Flags};
use simsid::domain::{Credential, Diff, HarvestData, OrgId, RunStatus, RunSummary, Site, SiteRow};
use simsid::filter::Filter;
use simsid::harvest::HarvestEnd;
use simsid::ops::{HarvestRequest, Keeper, SiteEnd};
use simsid::store::{Store, StoreKey};
use simsid_simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;

fn org(i: usize) -> OrgId {
    OrgId::parse(&format!("{:08X}-1234-4321-ABCD-{:012X}", i, i * 7)).expect("guid")
}

fn sites(n: usize) -> Vec<Site> {
    (0..n)
        .map(|i| Site {
            org_id: org(i),
            name: format!("Ysgol Gynradd {i} St Mary's C of E Primary"),
            dfe_code: Some(format!("{:07}", 3_000_000 + i)),
            deni_number: (i % 50 == 0).then(|| format!("{:07}", 1_000_000 + i)),
            authorised: Some(i % 10 != 0),
        })
        .collect()
}

fn bench_filter(c: &mut Criterion) {
    let rows: Vec<SiteRow> = sites(25_000)
        .into_iter()
        .map(|site| SiteRow {
            site,
            credential_count: 2,
            stale: false,
            last_error: None,
            last_changed: None,
            badge: None,
            first_seen: None,
            waiting_since: None,
        })
        .collect();
    // The console lower-cases each row once when it loads; a keystroke filters those.
    let lower: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            simsid::filter::site_fields(&r.site)
                .iter()
                .map(|f| f.to_lowercase())
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("filter_25k");
    g.throughput(Throughput::Elements(rows.len() as u64));
    for text in ["mary", "!ysgol", "re:^30012", "3001234"] {
        let f = Filter::parse(text).expect("filter");
        g.bench_with_input(BenchmarkId::from_parameter(text), &f, |b, f| {
            b.iter(|| {
                rows.iter()
                    .zip(&lower)
                    .filter(|(r, l)| f.matches_fields(&simsid::filter::site_fields(&r.site), l))
                    .count()
            })
        });
    }
    g.finish();
}

fn harvest_data(n: usize) -> (HarvestData, RunSummary) {
    let sites = sites(n);
    let key = StoreKey::generate();
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("fp.sqlite3"), key).expect("store");
    let mut fetched = BTreeMap::new();
    for s in &sites {
        let creds = (0..2)
            .map(|j| {
                let secret =
                    SecretString::from(format!("secret-{}-{j}-abcdefghijklmnop", s.org_id));
                let fp = store.fingerprint(&secret);
                (
                    Credential {
                        client_id: format!("sas-simsprimary-{j}"),
                        secret,
                        description: Some("Primary".into()),
                    },
                    fp,
                )
            })
            .collect();
        fetched.insert(s.org_id.clone(), creds);
    }
    let now = chrono::Utc::now();
    let summary = RunSummary {
        run_id: uuid::Uuid::new_v4(),
        status: RunStatus::Complete,
        started_at: now,
        finished_at: now,
        sites_total: n,
        sites_harvested: n,
        sites_failed: 0,
        credentials_total: 2 * n,
        diff: Diff::default(),
        failures: Vec::new(),
        stats: Default::default(),
        error: None,
        scope: Default::default(),
        signal: None,
    };
    (
        HarvestData {
            sites,
            fetched,
            failed: BTreeMap::new(),
        },
        summary,
    )
}

fn bench_store(c: &mut Criterion) {
    let n = 25_000;
    let (data, summary) = harvest_data(n);
    let mut g = c.benchmark_group("store_25k");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("commit_harvest", |b| {
        b.iter_with_setup(
            || {
                let tmp = tempfile::tempdir().expect("tmp");
                let store =
                    Store::open(&tmp.path().join("s.sqlite3"), StoreKey::generate()).expect("open");
                (tmp, store)
            },
            |(tmp, mut store)| {
                store.commit_harvest(&data, &summary).expect("commit");
                drop(store);
                drop(tmp);
            },
        )
    });
    let tmp = tempfile::tempdir().expect("tmp");
    let mut store = Store::open(&tmp.path().join("s.sqlite3"), StoreKey::generate()).expect("open");
    store.commit_harvest(&data, &summary).expect("commit");
    g.bench_function("load_sites", |b| {
        b.iter(|| store.sites().expect("sites").len())
    });
    g.finish();
}

/// The keeper of the settings the binary resolves for `sim` and a new store in `dir`,
/// fetching at most `concurrency` sites at once.
fn keeper(sim: &Simulator, dir: &std::path::Path, concurrency: usize) -> Keeper {
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
        ("SIMSID_STORE", dir.join("h.sqlite3").display().to_string()),
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
    remote.sims.connect_timeout = Duration::from_secs(5);
    Keeper::new(settings, "bench".into())
}

fn bench_harvest(c: &mut Criterion) {
    let n: usize = std::env::var("SIMSID_BENCH_SITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt
        .block_on(Simulator::start(
            SimConfig {
                sites: n,
                seed: 1,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().expect("addr"),
        ))
        .expect("simulator");
    let mut g = c.benchmark_group("harvest_loopback");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(n as u64));
    for concurrency in [1usize, 16] {
        g.bench_with_input(
            BenchmarkId::new("sites", format!("{n}@c{concurrency}")),
            &concurrency,
            |b, &concurrency| {
                b.iter_with_setup(
                    || {
                        let tmp = tempfile::tempdir().expect("tmp");
                        let keeper = keeper(&sim, tmp.path(), concurrency);
                        (tmp, keeper)
                    },
                    |(tmp, keeper)| {
                        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
                        let end = rt
                            .block_on(keeper.harvest(
                                HarvestRequest::default(),
                                tx,
                                CancellationToken::new().into(),
                            ))
                            .expect("harvest")
                            .end
                            .expect("harvest");
                        assert!(matches!(end, SiteEnd::Ran(HarvestEnd::Finished(_))));
                        drop(keeper);
                        drop(tmp);
                    },
                )
            },
        );
    }
    g.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, bench_filter, bench_store, bench_harvest);
criterion_main!(benches);
