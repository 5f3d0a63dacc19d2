//! What the benches share: their size and runtime, and a harvest in local or vault mode
//! through the profile's keeper (the binary's settings), its vault phase timed from the
//! harvest's own progress events.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use simsid::config::Role;
use simsid::harvest::{HarvestEnd, HarvestEvent};
use simsid::ops::Keeper;
use simsid::vault::VaultSettings;
use simsid_simulator::Simulator;
use tokio_util::sync::CancellationToken;

use crate::store::TempStore;

/// How long a bench's client waits for one SIMS request.
const SIMS_TIMEOUT: Duration = Duration::from_secs(30);

/// The harvest's ceiling of requests in flight in the vault benches.
pub const CONCURRENCY: usize = 64;

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

/// The median of `values` (the mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `"debug"` or `"release"`: how the bench was built (a debug build is slower).
pub fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// The keeper of the binary's settings for `sim` and the store `ts` (at most `concurrency`
/// requests in flight, each SIMS request waited for 30 s), in vault mode with `vault` when
/// given, acting as `bench`.
pub fn keeper(
    sim: &Simulator,
    ts: &TempStore,
    vault: Option<VaultSettings>,
    concurrency: usize,
) -> Keeper {
    let mut settings = crate::keeper::settings(&crate::process::env_for(sim, ts), ts.dir.path());
    if let Some(vault) = vault {
        settings.role = Role::VaultHost(vault);
    }
    let remote = settings.remote.as_mut().expect("complete remote settings");
    remote.concurrency = concurrency;
    remote.sims.timeout = SIMS_TIMEOUT;
    remote.sims.connect_timeout = SIMS_TIMEOUT;
    crate::keeper::keeper(settings, "bench")
}

/// A local-mode harvest through `keeper`; how long it took.
pub async fn local_harvest(keeper: &Keeper) -> Duration {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let end = crate::keeper::harvest(keeper, tx, CancellationToken::new()).await;
    assert!(matches!(end, HarvestEnd::Finished(_)), "the harvest ended");
    start.elapsed()
}

/// What a vault-mode harvest took and did.
pub struct VaultRun {
    /// The whole harvest (the publish of the team's view after the commit included).
    pub total: Duration,
    /// Its vault phase: from the sync's first report of what it stored to its last.
    pub vault_phase: Duration,
    /// The keys the sync wrote.
    pub written: usize,
    /// The vault requests of the sync (the session's, less the publish's).
    pub requests: u64,
    /// The run's id.
    pub run_id: uuid::Uuid,
}

/// A vault-mode harvest through `keeper`.
pub async fn vault_harvest(keeper: &Keeper) -> VaultRun {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stored: Arc<Mutex<Option<(Instant, Instant)>>> = Arc::default();
    let watch = {
        let stored = Arc::clone(&stored);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let HarvestEvent::Stored { .. } = event {
                    let now = Instant::now();
                    let mut seen = stored.lock().expect("the watch's lock");
                    let first = seen.map_or(now, |(first, _)| first);
                    *seen = Some((first, now));
                }
            }
        })
    };
    let client = keeper.vault().expect("a vault-mode keeper");
    let before = client.requests();
    let start = Instant::now();
    let harvested = crate::keeper::harvested(keeper, tx, CancellationToken::new()).await;
    let total = start.elapsed();
    let vault = harvested.vault.clone().expect("a vault-mode harvest");
    let HarvestEnd::Finished(summary) = crate::keeper::ran(harvested) else {
        panic!("the harvest was cancelled");
    };
    watch.await.expect("the watch ends with the harvest");
    let published = match &vault.view {
        Some(Ok(p)) => p.requests,
        _ => 0,
    };
    let vault_phase = stored
        .lock()
        .expect("the watch's lock")
        .map_or(Duration::ZERO, |(first, last)| last - first);
    VaultRun {
        total,
        vault_phase,
        written: vault.counts.written,
        requests: client.requests() - before - published,
        run_id: summary.run_id,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(super::median(&[]).is_nan());
    }
}
