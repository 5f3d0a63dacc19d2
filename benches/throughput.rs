//! Benchmarks (measure, never assert): harvest throughput against the loopback simulator,
//! filtering 25,000 sites, and committing a 25,000-site harvest to the store.
//!
//! `cargo bench --bench throughput` (set `SIMSID_BENCH_SITES` to change the harvest size).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use secrecy::SecretString;
use simsid::domain::{Credential, HarvestData, OrgId, RunSummary, Site, SiteRow};
use simsid::filter::Filter;
use simsid::harvest::{HarvestEnd, HarvestOptions};
use simsid::store::{Store, StoreKey};
use simsid_testkit::fixtures::{complete_summary, harvest_of};
use simsid_testkit::{bench, sims};
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
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(&tmp.path().join("fp.sqlite3"), StoreKey::generate()).expect("store");
    let data = harvest_of(&store, sites(n), |_, s| {
        (0..2)
            .map(|j| Credential {
                client_id: format!("sas-simsprimary-{j}"),
                secret: SecretString::from(format!("secret-{}-{j}-abcdefghijklmnop", s.org_id)),
                description: Some("Primary".into()),
            })
            .collect()
    });
    let summary = complete_summary(&data);
    (data, summary)
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

fn bench_harvest(c: &mut Criterion) {
    let n = bench::sites_from_env(2_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(sims::simulator(n, 1));
    let client = sims::client(&sim, Duration::from_secs(30));
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
                        let store =
                            Store::open(&tmp.path().join("h.sqlite3"), StoreKey::generate())
                                .expect("open");
                        (tmp, store)
                    },
                    |(tmp, mut store)| {
                        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
                        let end = rt
                            .block_on(simsid::ops::harvest_and_commit(
                                &mut store,
                                client.clone(),
                                HarvestOptions {
                                    concurrency,
                                    ..HarvestOptions::default()
                                },
                                "bench",
                                tx,
                                CancellationToken::new(),
                            ))
                            .expect("harvest");
                        assert!(matches!(end, HarvestEnd::Finished(_)));
                        drop(store);
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
