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
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use simsid::domain::{AppId, OrgId, RunSummary};
use simsid::harvest::HarvestOptions;
use simsid::ops::vault_sync::VaultSink;
use simsid::ops::{harvest_and_commit_via, CommitSink, OpResult, Synced};
use simsid::sims::{SimsClient, SimsSettings};
use simsid::store::{Store, StoreKey};
use simsid::vault::{VaultAuth, VaultClient, VaultSettings};
use simsid_simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;
use vault_support::{Bao, Cluster, ROOT_TOKEN};

/// Times the inner sink's sync (the vault phase of a harvest).
struct Timed<K> {
    inner: K,
    took: Duration,
}

impl<K: CommitSink> CommitSink for Timed<K> {
    async fn sync(
        &mut self,
        run: simsid::ops::ToSync<'_>,
        summary: &mut RunSummary,
    ) -> OpResult<Synced> {
        let start = Instant::now();
        let r = self.inner.sync(run, summary).await;
        self.took = start.elapsed();
        r
    }
}

fn sims(sim: &Simulator) -> SimsClient {
    let env = sim.env();
    SimsClient::new(SimsSettings {
        sts_url: env.sts_url.clone(),
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).unwrap(),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).unwrap(),
        scopes: "rapapi partner partner-read partner-write".into(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        client_auth: Default::default(),
        verify_scopes: String::new(),
    })
    .unwrap()
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

/// A vault-mode harvest; returns the vault phase's time and the run id.
async fn harvest(
    sim: &Simulator,
    store: &mut Store,
    client: Arc<VaultClient>,
    settings: &VaultSettings,
) -> (Duration, uuid::Uuid) {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sink = Timed {
        inner: VaultSink::new(client, settings, false),
        took: Duration::ZERO,
    };
    let end = harvest_and_commit_via(
        store,
        sims(sim),
        simsid::ops::Run {
            options: HarvestOptions {
                concurrency: 64,
                ..HarvestOptions::default()
            },
            policy: simsid::ops::HarvestPolicy::default(),
            user: "bench",
        },
        tx,
        CancellationToken::new(),
        &mut sink,
    )
    .await
    .unwrap();
    let run_id = match end {
        simsid::harvest::HarvestEnd::Finished(s) => s.run_id,
        simsid::harvest::HarvestEnd::Cancelled(_) => panic!("cancelled"),
    };
    (sink.took, run_id)
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
        let mut store =
            Store::open(&dir.path().join("host.sqlite3"), StoreKey::generate()).unwrap();
        let host = settings(vec![bao.addr.clone()], ROOT_TOKEN);
        let client = Arc::new(VaultClient::new(&host).unwrap());

        // The first sync, then the first publish of its view.
        let (vault_phase, run_id) = harvest(&sim, &mut store, client.clone(), &host).await;
        let t = Instant::now();
        let first = simsid::team::publish::publish(&client, &host, &store, run_id, false)
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

        // Unchanged re-harvests: each publish's requests (the first clears every "added"
        // badge, which a site's line does not carry: format 3).
        let mut again = Vec::new();
        for _ in 0..4 {
            let (_, run_id) = harvest(&sim, &mut store, client.clone(), &host).await;
            let before = client.requests();
            let p = simsid::team::publish::publish(&client, &host, &store, run_id, false)
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
        simsid::team::publish::publish(&cluster_client, &into, &store, run_id, true)
            .await
            .unwrap();
        // Let the standby apply the writes before timing reads from it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let through = settings(vec![cluster.addrs[standby].clone()], &cluster.root_token);
        let viewer = VaultClient::new(&through).unwrap();
        let mut viewer_store =
            Store::open(&dir.path().join("viewer.sqlite3"), StoreKey::generate()).unwrap();
        let t = Instant::now();
        let pulled = simsid::team::pull::pull(
            &viewer,
            &through,
            &mut viewer_store,
            Default::default(),
            "bench",
        )
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
        let unchanged = simsid::team::pull::pull(
            &viewer,
            &through,
            &mut viewer_store,
            Default::default(),
            "bench",
        )
        .await
        .unwrap();
        assert!(!unchanged.changed);
        out.insert("unchanged_pull_requests", json!(viewer.requests() - before));
        out.insert("unchanged_pull_secs", json!(t.elapsed().as_secs_f64()));
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        drop(cluster);
    });
}
