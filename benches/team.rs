//! Team-mode numbers (docs/reference/vault.md "Team mode at scale"; prints them, asserts nothing): the
//! publish of N sites' view (default 25,000; `SIMSID_BENCH_SITES` overrides) as a share of
//! the first sync's vault phase, in the same run against the same `bao server -dev`; the
//! requests of a publish after unchanged re-harvests; then a pull of that view through a
//! standby of a three-node Raft cluster on loopback (the view published into the cluster
//! from the same store), and the requests of an unchanged pull.
//!
//! `cargo bench --bench team` (release); `cargo test --bench team` runs it in a debug build
//! (slower: the output says which). Needs nothing but the `bao` the test kit provisions
//! (crates/simsid-testkit).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use simsid::harvest::HarvestEnd;
use simsid::store::{Store, StoreKey};
use simsid::vault::{VaultClient, VaultSettings};
use simsid_testkit::bench::{self, vault_harvest};
use simsid_testkit::store::TempStore;
use simsid_testkit::vault::{Bao, Cluster, ROOT_TOKEN};
use simsid_testkit::vault_env;
use simsid_testkit::{keeper, sims};
use tokio_util::sync::CancellationToken;

/// Where the bench publishes in each vault.
const PREFIX: &str = "bench/team";

/// How many first publishes and first pulls are timed (their median is reported).
const REPEATS: usize = 5;

/// A local harvest through `keeper`: its run's id.
async fn local_run(keeper: &simsid::ops::Keeper) -> uuid::Uuid {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    match keeper::harvest(keeper, tx, CancellationToken::new()).await {
        HarvestEnd::Finished(summary) => summary.run_id,
        HarvestEnd::Cancelled(_) => panic!("the harvest was cancelled"),
    }
}

/// One pull of the team's view into `store` through `viewer`, and how long it took.
async fn timed_pull(
    viewer: &VaultClient,
    through: &simsid::vault::VaultSettings,
    store: &mut Store,
) -> (simsid::domain::Pulled, f64) {
    let t = Instant::now();
    let pulled = simsid::team::pull::pull(viewer, through, store, Default::default(), "bench")
        .await
        .unwrap();
    (pulled, t.elapsed().as_secs_f64())
}

fn main() {
    let sites = bench::sites_from_env(25_000);
    bench::runtime().block_on(async move {
        let mut out = BTreeMap::new();
        out.insert("build", json!(bench::build()));
        out.insert("sites", json!(sites));
        let bao = Bao::dev().await;
        let sim = sims::simulator(sites, 9).await;
        let dir = tempfile::tempdir().unwrap();
        let host = vault_env::settings(vec![bao.addr.clone()], PREFIX, ROOT_TOKEN);
        let client = Arc::new(VaultClient::new(&host).unwrap());

        // The first sync's vault phase: a vault-mode harvest through the keeper (which
        // publishes its own view) under a prefix of its own.
        let synced_store = TempStore::new();
        let synced = bench::keeper(
            &sim,
            &synced_store,
            Some(VaultSettings {
                prefix: format!("{PREFIX}-sync"),
                ..host.clone()
            }),
            bench::CONCURRENCY,
        );
        let vault_phase = vault_harvest(&synced).await.vault_phase;
        // The first publish of the same sites' view, timed alone: the host's store harvested
        // (the view is the store's), then published by hand.
        let host_store = TempStore::new();
        let local = bench::keeper(&sim, &host_store, None, bench::CONCURRENCY);
        let run_id = local_run(&local).await;
        let store = host_store.open();
        let t = Instant::now();
        let first = simsid::team::publish::publish(&client, &host, &store, run_id, false)
            .await
            .unwrap();
        let mut publishes = vec![t.elapsed().as_secs_f64()];
        // More first publishes of the same view, each under a prefix of its own: one publish
        // is a fraction of a second, so its median is the figure (one shot varies by 15 %).
        for k in 1..REPEATS {
            let fresh = VaultSettings {
                prefix: format!("{PREFIX}-first-{k}"),
                ..host.clone()
            };
            let t = Instant::now();
            simsid::team::publish::publish(&client, &fresh, &store, run_id, false)
                .await
                .unwrap();
            publishes.push(t.elapsed().as_secs_f64());
        }
        let publish = Duration::from_secs_f64(bench::median(&publishes));
        out.insert(
            "first_sync_vault_phase_secs",
            json!(vault_phase.as_secs_f64()),
        );
        out.insert("first_publish_secs", json!(publish.as_secs_f64()));
        out.insert("first_publish_all_secs", json!(publishes));
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
            let run_id = local_run(&local).await;
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
        let into = vault_env::settings(cluster.addrs.clone(), PREFIX, &cluster.root_token);
        let cluster_client = VaultClient::new(&into).unwrap();
        simsid::team::publish::publish(&cluster_client, &into, &store, run_id, true)
            .await
            .unwrap();
        // Let the standby apply the writes before timing reads from it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let through = vault_env::settings(
            vec![cluster.addrs[standby].clone()],
            PREFIX,
            &cluster.root_token,
        );
        let viewer = VaultClient::new(&through).unwrap();
        // First pulls into fresh viewer stores (the median, as for the publish), then the
        // requests of an unchanged pull into the last of them.
        let mut pulls = Vec::new();
        let mut first_pull = None;
        let mut viewer_store = None;
        for k in 0..REPEATS {
            let mut fresh = Store::open(
                &dir.path().join(format!("viewer-{k}.sqlite3")),
                StoreKey::generate(),
            )
            .unwrap();
            let before = viewer.requests();
            let (pulled, secs) = timed_pull(&viewer, &through, &mut fresh).await;
            pulls.push(secs);
            first_pull.get_or_insert((pulled, viewer.requests() - before));
            viewer_store = Some(fresh);
        }
        let (pulled, requests) = first_pull.unwrap();
        let mut viewer_store = viewer_store.unwrap();
        out.insert("pull_through_standby_secs", json!(bench::median(&pulls)));
        out.insert("pull_through_standby_all_secs", json!(pulls));
        out.insert("pull_requests", json!(requests));
        out.insert("pulled_sites", json!(pulled.sites));
        let before = viewer.requests();
        let (unchanged, secs) = timed_pull(&viewer, &through, &mut viewer_store).await;
        assert!(!unchanged.changed);
        out.insert("unchanged_pull_requests", json!(viewer.requests() - before));
        out.insert("unchanged_pull_secs", json!(secs));
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        drop(cluster);
    });
}
