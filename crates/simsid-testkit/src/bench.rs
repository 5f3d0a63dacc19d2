//! What the benches share: their size and runtime, the timed sink (the vault phase of a
//! harvest), and a harvest in local or vault mode through the library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use simsid::domain::RunSummary;
use simsid::harvest::{HarvestEnd, HarvestOptions};
use simsid::ops::vault_sync::VaultSink;
use simsid::ops::{
    harvest_and_commit, harvest_and_commit_via, CommitSink, HarvestPolicy, OpResult, Run, Synced,
    ToSync,
};
use simsid::store::Store;
use simsid::vault::{VaultClient, VaultSettings};
use simsid_simulator::Simulator;
use tokio_util::sync::CancellationToken;

/// How long a bench's client waits for one SIMS request.
const SIMS_TIMEOUT: Duration = Duration::from_secs(30);

/// The harvest's ceiling of requests in flight in the vault benches.
const CONCURRENCY: usize = 64;

/// How many sites a bench harvests: `SIMSID_BENCH_SITES`, else `default`.
pub fn sites_from_env(default: usize) -> usize {
    std::env::var("SIMSID_BENCH_SITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A multi-threaded runtime with every driver enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// `"debug"` or `"release"`: how the bench was built (a debug build is slower).
pub fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// A sink that times the inner sink's sync (the vault phase of a harvest). It forwards only
/// the sync: a harvest through it publishes no team view.
pub struct Timed<K> {
    /// The sink timed.
    pub inner: K,
    /// How long its last sync took.
    pub took: Duration,
}

impl<K> Timed<K> {
    /// Times `inner`.
    pub fn new(inner: K) -> Self {
        Timed {
            inner,
            took: Duration::ZERO,
        }
    }
}

impl<K: CommitSink> CommitSink for Timed<K> {
    async fn sync(&mut self, run: ToSync<'_>, summary: &mut RunSummary) -> OpResult<Synced> {
        let start = Instant::now();
        let r = self.inner.sync(run, summary).await;
        self.took = start.elapsed();
        r
    }
}

/// A local-mode harvest of `sim` into `store` (ceiling 64); how long it took.
pub async fn local_harvest(sim: &Simulator, store: &mut Store) -> Duration {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let end = harvest_and_commit(
        store,
        crate::sims::client(sim, SIMS_TIMEOUT),
        options(),
        "bench",
        tx,
        CancellationToken::new(),
    )
    .await
    .expect("the harvest");
    assert!(matches!(end, HarvestEnd::Finished(_)), "the harvest ended");
    start.elapsed()
}

/// What a vault-mode harvest took and did.
pub struct VaultRun {
    /// The whole harvest.
    pub total: Duration,
    /// Its vault phase (the sink's sync).
    pub vault_phase: Duration,
    /// The keys the sync wrote.
    pub written: usize,
    /// The run's id.
    pub run_id: uuid::Uuid,
}

/// A vault-mode harvest of `sim` into `store` and the vault `settings` name (ceiling 64).
pub async fn vault_harvest(
    sim: &Simulator,
    store: &mut Store,
    client: Arc<VaultClient>,
    settings: &VaultSettings,
) -> VaultRun {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sink = Timed::new(VaultSink::new(client, settings, false));
    let start = Instant::now();
    let end = harvest_and_commit_via(
        store,
        crate::sims::client(sim, SIMS_TIMEOUT),
        Run {
            options: options(),
            policy: HarvestPolicy::default(),
            user: "bench",
        },
        tx,
        CancellationToken::new(),
        &mut sink,
    )
    .await
    .expect("the harvest");
    let HarvestEnd::Finished(summary) = end else {
        panic!("the harvest was cancelled");
    };
    VaultRun {
        total: start.elapsed(),
        vault_phase: sink.took,
        written: sink.inner.counts.written,
        run_id: summary.run_id,
    }
}

fn options() -> HarvestOptions {
    HarvestOptions {
        concurrency: CONCURRENCY,
        ..HarvestOptions::default()
    }
}
