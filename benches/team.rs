//! Team-mode numbers (docs/reference/vault.md "Team mode at scale"; prints them, asserts nothing): the
//! publish of N sites' view (default 25,000; `SIMSID_BENCH_SITES` overrides) as a share of
//! the first sync's vault phase, in the same run against the same `bao server -dev`; the
//! requests of a publish after unchanged re-harvests; then a pull of that view through a
//! standby of a three-node Raft cluster on loopback (the view published into the cluster
//! from the same store), and the requests of an unchanged pull.
//!
//! `cargo bench --bench team` (release); `cargo test --bench team` runs it in a debug build
//! (slower: the output says which). Needs nothing but the suite's own `bao` (tests/tools).
#![allow(clippy::disallowed_methods)]

#[path = "../tests/suite/support/tools.rs"]
mod tools;
#[path = "../tests/suite/support/vault_support.rs"]
mod vault_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use simsid::config::{self, Dirs, Flags, Role};
use simsid::harvest::HarvestEvent;
use simsid::ops::{HarvestRequest, Keeper, SiteEnd};
use simsid::store::{Store, StoreKey};
use simsid::vault::{VaultAuth, VaultClient, VaultSettings};
use simsid_simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;
use vault_support::{Bao, Cluster, ROOT_TOKEN};

/// The keeper of the settings the binary resolves for `sim` and the store at `path` (its
/// key `key`), fetching 64 sites at once; in vault mode with `vault` when given.
fn keeper(
    sim: &Simulator,
    path: &Path,
    key: &SecretString,
    vault: Option<VaultSettings>,
) -> Keeper {
    let env = sim.env();
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
        ("SIMSID_STORE", path.display().to_string()),
        ("SIMSID_STORE_KEY", key.expose_secret().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let home = path.with_extension("home");
    let dirs = Dirs {
        config_dir: home.join("config"),
        data_dir: home.join("data"),
        state_dir: home.join("state"),
    };
    let mut settings = config::resolve(&Flags::default(), &vars, &dirs).unwrap();
    if let Some(vault) = vault {
        settings.role = Role::VaultHost(vault);
    }
    let remote = settings.remote.as_mut().unwrap();
    remote.concurrency = 64;
    remote.sims.timeout = Duration::from_secs(30);
    remote.sims.connect_timeout = Duration::from_secs(5);
    Keeper::new(settings, "bench".into())
}

fn settings(addrs: Vec<String>, token: &str) -> VaultSettings {
    VaultSettings {
        addrs,
        mount: "secret".into(),
        prefix: "bench/team".into(),
        namespace: None,
        ca_file: None,
        auth: VaultAuth::Token {
            token: Some(SecretString::from(token.to_string())),
            token_file: "/nonexistent".into(),
        },
        on_remove: Default::default(),
        retry_budget: None,
    }
}

/// A harvest through `keeper`: the vault phase's time (from the sync's first report of what
/// it stored to its last, as the harvest's events tell; zero in local mode) and the run id.
async fn harvest(keeper: &Keeper) -> (Duration, uuid::Uuid) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stored: Arc<Mutex<Option<(Instant, Instant)>>> = Arc::default();
    let watch = {
        let stored = Arc::clone(&stored);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let HarvestEvent::Stored { .. } = event {
                    let now = Instant::now();
                    let mut seen = stored.lock().unwrap();
                    let first = seen.map_or(now, |(first, _)| first);
                    *seen = Some((first, now));
                }
            }
        })
    };
    let end = keeper
        .harvest(
            HarvestRequest::default(),
            tx,
            CancellationToken::new().into(),
        )
        .await
        .unwrap()
        .end
        .unwrap();
    watch.await.unwrap();
    let run_id = match end {
        SiteEnd::Ran(simsid::harvest::HarvestEnd::Finished(s)) => s.run_id,
        other => panic!("not finished: {other:?}"),
    };
    let took = stored
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |(first, last)| last - first);
    (took, run_id)
}

fn main() {
    let sites: usize = std::env::var("SIMSID_BENCH_SITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut out = BTreeMap::new();
        out.insert(
            "build",
            json!(if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }),
        );
        out.insert("sites", json!(sites));
        let bao = Bao::dev().await;
        let sim = Simulator::start(
            SimConfig {
                sites,
                seed: 9,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let host = settings(vec![bao.addr.clone()], ROOT_TOKEN);
        let client = Arc::new(VaultClient::new(&host).unwrap());

        // The first sync's vault phase: a vault-mode harvest (which publishes its own view)
        // under a prefix of its own.
        let synced = keeper(
            &sim,
            &dir.path().join("synced.sqlite3"),
            &StoreKey::generate().to_base64(),
            Some(VaultSettings {
                prefix: "bench/team-sync".into(),
                ..host.clone()
            }),
        );
        let (vault_phase, _) = harvest(&synced).await;
        // The first publish of the same sites' view: the host's store harvested (the view
        // is the store's), then published by hand, timed alone.
        let path = dir.path().join("host.sqlite3");
        let key = StoreKey::generate().to_base64();
        let local = keeper(&sim, &path, &key, None);
        let (_, run_id) = harvest(&local).await;
        let store = Store::open(&path, StoreKey::from_base64(&key).unwrap()).unwrap();
        let t = Instant::now();
        let first = simsid::ops::team::publish(&client, &host, &store, run_id, false)
            .await
            .unwrap();
        let publish = t.elapsed();
        out.insert(
            "first_sync_vault_phase_secs",
            json!(vault_phase.as_secs_f64()),
        );
        out.insert("first_publish_secs", json!(publish.as_secs_f64()));
        out.insert(
            "publish_share_of_first_sync_vault_phase",
            json!(publish.as_secs_f64() / vault_phase.as_secs_f64()),
        );
        out.insert("view_chunks", json!(first.chunks));
        out.insert("credentials", json!(store.credential_count().unwrap()));

        // Unchanged re-harvests: each publish's requests (the first settles the badges).
        let mut again = Vec::new();
        for _ in 0..4 {
            let (_, run_id) = harvest(&local).await;
            let before = client.requests();
            let p = simsid::ops::team::publish(&client, &host, &store, run_id, false)
                .await
                .unwrap();
            again.push(json!({
                "requests": client.requests() - before,
                "chunks_written": p.written,
                "chunks_removed": p.removed,
            }));
        }
        out.insert("unchanged_reharvest_publishes", json!(again));

        // The same view into a three-node cluster, pulled through a standby.
        let cluster = Cluster::start().await;
        let leader = cluster.wait_leader().await;
        let standby = (leader + 1) % 3;
        let into = settings(cluster.addrs.clone(), &cluster.root_token);
        let cluster_client = VaultClient::new(&into).unwrap();
        simsid::ops::team::publish(&cluster_client, &into, &store, run_id, true)
            .await
            .unwrap();
        // Let the standby apply the writes before timing reads from it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let through = settings(vec![cluster.addrs[standby].clone()], &cluster.root_token);
        let viewer = VaultClient::new(&through).unwrap();
        let mut viewer_store =
            Store::open(&dir.path().join("viewer.sqlite3"), StoreKey::generate()).unwrap();
        let t = Instant::now();
        let pulled =
            simsid::ops::team::pull(&viewer, &through, &mut viewer_store, Default::default())
                .await
                .unwrap();
        out.insert(
            "pull_through_standby_secs",
            json!(t.elapsed().as_secs_f64()),
        );
        out.insert("pull_requests", json!(viewer.requests()));
        out.insert("pulled_sites", json!(pulled.sites));
        let before = viewer.requests();
        let t = Instant::now();
        let unchanged =
            simsid::ops::team::pull(&viewer, &through, &mut viewer_store, Default::default())
                .await
                .unwrap();
        assert!(!unchanged.changed);
        out.insert("unchanged_pull_requests", json!(viewer.requests() - before));
        out.insert("unchanged_pull_secs", json!(t.elapsed().as_secs_f64()));
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        drop(cluster);
    });
}
