//! Store benchmarks: committing a large harvest and listing its sites. Measures only.

use std::collections::BTreeMap;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use secrecy::SecretString;
use simsid::domain::{Credential, Diff, HarvestData, OrgId, RunStatus, RunSummary, Site};
use simsid::store::{Store, StoreKey};

const SITES: u32 = 25_000;

fn data(store: &Store) -> HarvestData {
    let mut fetched = BTreeMap::new();
    let mut sites = Vec::new();
    for i in 0..SITES {
        let org = OrgId::parse(&format!("{i:08x}-aaaa-4bbb-8ccc-ddddeeeeffff"))
            .unwrap_or_else(|e| panic!("{e}"));
        let creds = (0..2)
            .map(|k| {
                let secret = SecretString::from(format!("bench-secret-{i}-{k}"));
                let fp = store.fingerprint(&secret);
                (
                    Credential {
                        client_id: format!("sas-{i}-{k}"),
                        secret,
                        description: None,
                    },
                    fp,
                )
            })
            .collect::<Vec<_>>();
        fetched.insert(org.clone(), creds);
        sites.push(Site {
            org_id: org,
            name: format!("School {i}"),
            dfe_code: Some(format!("{}/{}", 800 + i % 100, 1000 + i)),
            deni_number: None,
            authorised: Some(true),
        });
    }
    HarvestData {
        sites,
        fetched,
        failed: BTreeMap::new(),
    }
}

fn summary() -> RunSummary {
    let now = Utc::now();
    RunSummary {
        run_id: uuid::Uuid::new_v4(),
        status: RunStatus::Complete,
        started_at: now,
        finished_at: now,
        sites_total: SITES as usize,
        sites_harvested: SITES as usize,
        sites_failed: 0,
        credentials_total: 2 * SITES as usize,
        diff: Diff::default(),
        failures: Vec::new(),
        stats: Default::default(),
        error: None,
        scope: Default::default(),
        signal: None,
    }
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut store = Store::open(&tmp.path().join("store.sqlite3"), StoreKey::generate())
        .unwrap_or_else(|e| panic!("{e}"));
    let harvest = data(&store);
    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.bench_function("commit_harvest 25k sites x 2 credentials", |b| {
        b.iter_batched(
            summary,
            |s| {
                store
                    .commit_harvest(&harvest, &s)
                    .unwrap_or_else(|e| panic!("{e}"))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("sites() 25k", |b| {
        b.iter(|| store.sites().unwrap_or_else(|e| panic!("{e}")).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
