//! The commit's seams that no front end can reach, as the keeper would run them (it holds
//! the lock, so no other writer commits under a run, and its commit path is the local one
//! or the vault's): a run whose store another writer changed while it fetched, and a cancel
//! that lands between the commit path's sync and the local commit. Against the SIMS ID
//! simulator on loopback, the real client and a real store file.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use simsid_simulator::{SimConfig, Simulator};
use tokio::sync::mpsc::unbounded_channel;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::domain::{AppId, Credential, Site};
use crate::harvest::{FetchError, RetryPolicy};
use crate::ops::keeper::CommitPath;
use crate::sims::{SimsClient, SimsSettings};
use crate::store::StoreKey;

/// The simulator with `sites` schools on loopback.
async fn simulator(sites: usize, seed: u64) -> Simulator {
    Simulator::start(
        SimConfig {
            sites,
            seed,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the simulator starts")
}

/// The real client for `sim`.
fn client(sim: &Simulator) -> SimsClient {
    let env = sim.env();
    SimsClient::new(SimsSettings {
        sts_url: env.sts_url.clone(),
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).unwrap(),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).unwrap(),
        scopes: crate::config::DEFAULT_SCOPES.into(),
        acr_values: crate::config::DEFAULT_ACR_VALUES.into(),
        apim_key: None,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        client_auth: Default::default(),
        verify_scopes: String::new(),
    })
    .unwrap()
}

fn run(user: &str) -> Run<'_> {
    Run {
        options: HarvestOptions {
            concurrency: 4,
            retry: RetryPolicy {
                max_retries: 2,
                min_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                retry_after_cap: Duration::from_secs(1),
            },
        },
        policy: HarvestPolicy::default(),
        user,
    }
}

/// A throw-away store file and its key.
struct TempStore {
    dir: tempfile::TempDir,
    key: secrecy::SecretString,
}

impl TempStore {
    fn new() -> TempStore {
        TempStore {
            dir: tempfile::tempdir().unwrap(),
            key: StoreKey::generate().to_base64(),
        }
    }
    fn open(&self) -> Store {
        Store::open(
            &self.dir.path().join("store.sqlite3"),
            StoreKey::from_base64(&self.key).unwrap(),
        )
        .unwrap()
    }
}

/// A local harvest of `source` into `store`, run to its end.
async fn harvest_locally<S: Source>(
    store: &mut Store,
    source: S,
    user: &str,
) -> OpResult<HarvestEnd> {
    let (tx, _rx) = unbounded_channel();
    run_and_commit(
        store,
        source,
        run(user),
        tx,
        CancellationToken::new(),
        &mut CommitPath::local(),
    )
    .await
}

/// A source that lets another writer commit to the store while this run fetches (a harvest
/// that ignored the lock, say), then answers from the simulator.
#[derive(Clone)]
struct CommitsUnderTheRun {
    client: SimsClient,
    other: Arc<Mutex<Option<Store>>>,
}

impl Source for CommitsUnderTheRun {
    async fn sites(&self) -> Result<Vec<Site>, FetchError> {
        let other = self.other.lock().unwrap().take();
        if let Some(mut store) = other {
            let end = harvest_locally(&mut store, self.client.clone(), "other")
                .await
                .unwrap();
            assert!(matches!(end, HarvestEnd::Finished(_)));
        }
        Source::sites(&self.client).await
    }
    async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, FetchError> {
        Source::clients(&self.client, org).await
    }
}

/// Moved here from the suite's `store::lock` (the keeper's lock keeps every front end from
/// ever meeting it): the generation check refuses the commit with exit 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_store_changed_under_it_commits_nothing() {
    let sim = simulator(10, 42).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let client = client(&sim);
    harvest_locally(&mut store, client.clone(), "t")
        .await
        .unwrap();
    // A secret rotates; another writer harvests it while this run is fetching.
    let site = sim
        .control()
        .sites()
        .into_iter()
        .find(|s| !s.clients.is_empty())
        .unwrap();
    let cid = site.clients[0].client_id.clone();
    assert!(sim.control().rotate_secret(&site.org_id, &cid));
    let source = CommitsUnderTheRun {
        client,
        other: Arc::new(Mutex::new(Some(ts.open()))),
    };
    let err = harvest_locally(&mut store, source, "t")
        .await
        .map_err(crate::cli::CliError::from)
        .unwrap_err();
    assert_eq!(err.code, 6, "{}", err.message);
    assert!(
        err.message.contains("store changed while this harvest ran"),
        "{}",
        err.message
    );
    // Only the other writer's run was recorded, and its diff named the rotation.
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    let rotated = OrgId::parse(site.org_id.as_str()).unwrap();
    assert!(runs[0]
        .diff
        .credentials_rotated
        .iter()
        .any(|r| r.organisation_id == rotated && r.client_id == cid));
    sim.shutdown().await;
}

/// A commit path whose sync ends its run's cancel as it returns (the vault's writes done,
/// in the real one): the moment between the sync and the local commit, made exact.
struct CancelAfterTheSync {
    cancel: CancellationToken,
    synced: bool,
}

impl CommitSink for CancelAfterTheSync {
    fn sync(
        &mut self,
        _run: ToSync<'_>,
        _summary: &mut RunSummary,
    ) -> impl std::future::Future<Output = OpResult<Synced>> {
        self.synced = true;
        self.cancel.cancel();
        std::future::ready(Ok(Synced::default()))
    }
}

/// The seam behind the suite's `vault::ownership_and_outages::
/// a_cancel_after_the_vault_writes_converges_at_the_next_harvest`: a cancel that lands after
/// the commit path's sync and before the local commit commits nothing and records the run
/// cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_the_sync_commits_nothing_and_records_the_run_cancelled() {
    let sim = simulator(12, 131).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let cancel = CancellationToken::new();
    let mut path = CancelAfterTheSync {
        cancel: cancel.clone(),
        synced: false,
    };
    let (tx, _rx) = unbounded_channel();
    let end = run_and_commit(
        &mut store,
        client(&sim),
        run("tester"),
        tx,
        cancel.clone(),
        &mut path,
    )
    .await
    .expect("the run ends");
    assert!(path.synced, "the sync ran");
    let HarvestEnd::Cancelled(cancelled) = end else {
        panic!("cancelled, not {end:?}");
    };
    assert!(store.sites().unwrap().is_empty(), "nothing committed");
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, cancelled.run_id);
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    sim.shutdown().await;
}
