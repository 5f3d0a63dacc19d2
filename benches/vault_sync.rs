//! Vault-mode numbers (a command that prints them; no assertions): the first sync of N
//! sites (default 25,000; `SIMSID_BENCH_SITES` overrides) into `bao server -dev` over
//! loopback against a plain concurrent writer of the same KV payloads in the same run, and
//! an unchanged re-harvest in vault mode (vault requests, time) against local mode.
//!
//! `cargo bench --bench vault_sync`
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use secrecy::ExposeSecret;
use serde_json::json;
use simsid::ops::vault_sync::SYNC_CONCURRENCY;
use simsid::store::{Store, StoreKey};
use simsid::vault::path::credential_key;
use simsid::vault::VaultClient;
use simsid_simulator::Simulator;
use simsid_testkit::bench::{self, local_harvest, vault_harvest};
use simsid_testkit::sims::{self, ToDomain};
use simsid_testkit::vault::{Bao, ROOT_TOKEN};
use simsid_testkit::vault_env;

/// A plain concurrent writer of the same payloads: data then custom metadata per key.
async fn plain_writer(bao: &Bao, sim: &Simulator, prefix: &str) -> (Duration, usize) {
    let http = reqwest::Client::new();
    let mut jobs = Vec::new();
    for site in sim.control().sites() {
        for c in site.visible_clients() {
            let key =
                credential_key(prefix, &site.org_id.to_domain(), &c.client_id).replace('%', "%25");
            let data = json!({"data": {
                "client_id": c.client_id, "secret": c.secret.expose_secret(),
                "organisation_id": site.org_id.as_str(), "school_name": site.name,
                "dfe_code": site.dfe_code, "deni_number": site.deni_number,
                "description": c.description}, "options": {"cas": 0}});
            jobs.push((key, data));
        }
    }
    let n = jobs.len();
    let start = Instant::now();
    stream::iter(jobs)
        .map(|(key, data)| {
            let http = http.clone();
            let addr = bao.addr.clone();
            async move {
                let r = http
                    .post(format!("{addr}/v1/secret/data/{key}"))
                    .header("X-Vault-Token", ROOT_TOKEN)
                    .json(&data)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                let r = http
                    .post(format!("{addr}/v1/secret/metadata/{key}"))
                    .header("X-Vault-Token", ROOT_TOKEN)
                    .json(&json!({"custom_metadata": {"fingerprint": "0123456789abcdef", "simsid_run": "plain"}}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        })
        .buffer_unordered(SYNC_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    (start.elapsed(), n)
}

fn main() {
    let sites = bench::sites_from_env(25_000);
    bench::runtime().block_on(async move {
        let bao = Bao::dev().await;
        let sim = sims::simulator(sites, 5).await;
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| Store::open(&dir.path().join(name), StoreKey::generate()).unwrap();
        let settings = vault_env::settings(vec![bao.addr.clone()], "bench/simsid", ROOT_TOKEN);

        // Plain writer first, then simsid (both into an empty prefix of the same server).
        let (plain, keys) = plain_writer(&bao, &sim, "bench/plain").await;
        let client = Arc::new(VaultClient::new(&settings).unwrap());
        let mut vault_store = open("vault.sqlite3");
        let first = vault_harvest(&sim, &mut vault_store, client.clone(), &settings).await;
        let (first_total, first_sync, written) = (first.total, first.vault_phase, first.written);
        let mut local_store = open("local.sqlite3");
        local_harvest(&sim, &mut local_store).await;

        // Unchanged re-harvests, vault and local mode alternating (the machine's load drifts
        // over a run; one of each back to back compared the vault's right after its 59,000
        // writes with a local one on a quieter machine). The best of ROUNDS each.
        const ROUNDS: usize = 3;
        let requests_before = client.requests();
        let mut vault_again = Vec::new();
        let mut vault_again_sync = Vec::new();
        let mut local_again = Vec::new();
        for _ in 0..ROUNDS {
            let again = vault_harvest(&sim, &mut vault_store, client.clone(), &settings).await;
            vault_again.push(again.total.as_secs_f64());
            vault_again_sync.push(again.vault_phase.as_secs_f64());
            local_again.push(local_harvest(&sim, &mut local_store).await.as_secs_f64());
        }
        let requests_again = client.requests() - requests_before;
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (again_total, local_again_best) = (best(&vault_again), best(&local_again));

        let mut out = BTreeMap::new();
        out.insert("sites", json!(sites));
        out.insert("credentials", json!(keys));
        out.insert("plain_writer_secs", json!(plain.as_secs_f64()));
        out.insert(
            "simsid_first_sync_vault_phase_secs",
            json!(first_sync.as_secs_f64()),
        );
        out.insert(
            "simsid_first_harvest_total_secs",
            json!(first_total.as_secs_f64()),
        );
        out.insert("simsid_written", json!(written));
        out.insert(
            "first_sync_vs_plain_writer",
            json!(first_sync.as_secs_f64() / plain.as_secs_f64()),
        );
        out.insert("unchanged_reharvest_vault_requests", json!(requests_again));
        out.insert("unchanged_reharvest_rounds", json!(ROUNDS));
        out.insert("unchanged_reharvest_vault_mode_secs", json!(again_total));
        out.insert(
            "unchanged_reharvest_vault_mode_all_secs",
            json!(vault_again),
        );
        out.insert(
            "unchanged_reharvest_vault_phase_secs",
            json!(best(&vault_again_sync)),
        );
        out.insert(
            "unchanged_reharvest_local_mode_secs",
            json!(local_again_best),
        );
        out.insert(
            "unchanged_reharvest_local_mode_all_secs",
            json!(local_again),
        );
        out.insert(
            "unchanged_vault_vs_local",
            json!(again_total / local_again_best),
        );
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
    });
}
