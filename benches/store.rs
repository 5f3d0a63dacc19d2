//! Store benchmarks: committing a large harvest and listing its sites. Measures only.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use secrecy::SecretString;
use simsid::domain::{Credential, HarvestData};
use simsid::store::{Store, StoreKey};
use simsid_testkit::fixtures::{complete_summary, harvest_of, site};

const SITES: u32 = 25_000;

/// 25,000 schools with two credentials each.
fn data(store: &Store) -> HarvestData {
    let sites = (0..SITES)
        .map(|i| site(i, &format!("School {i}"), Some(true)))
        .collect();
    harvest_of(store, sites, |i, _| {
        (0..2)
            .map(|k| Credential {
                client_id: format!("sas-{i}-{k}"),
                secret: SecretString::from(format!("bench-secret-{i}-{k}")),
                description: None,
            })
            .collect()
    })
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
            || complete_summary(&harvest),
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
