//! Vault-mode numbers (a command that prints them; no assertions): the first sync of N
//! sites (default 25,000; `SIMSID_BENCH_SITES` overrides) into `bao server -dev` over
//! loopback against a plain concurrent writer of the same KV payloads in the same run, and
//! an unchanged re-harvest in vault mode (vault requests, time) against local mode.
//!
//! `cargo bench --bench vault_sync`
#![allow(clippy::disallowed_methods)]

#[path = "../tests/suite/support/tools.rs"]
mod tools;
#[path = "../tests/suite/support/vault_support.rs"]
mod vault_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use simsid::config::{self, Dirs, Flags, Role};
use simsid::domain::OrgId;
use simsid::harvest::HarvestEvent;
use simsid::ops::{HarvestRequest, Keeper, SYNC_CONCURRENCY};
use simsid::store::StoreKey;
use simsid::vault::path::credential_key;
use simsid::vault::{VaultAuth, VaultSettings};
use simsid_simulator::{SimConfig, Simulator};
use tokio_util::sync::CancellationToken;
use vault_support::{Bao, ROOT_TOKEN};

/// The keeper of the settings the binary resolves for `sim` and a new store `name` in
/// `dir`, fetching 64 sites at once; in vault mode with `vault` when given.
fn keeper(sim: &Simulator, dir: &Path, name: &str, vault: Option<&VaultSettings>) -> Keeper {
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
        ("SIMSID_STORE", dir.join(name).display().to_string()),
        (
            "SIMSID_STORE_KEY",
            StoreKey::generate().to_base64().expose_secret().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let home = dir.join(format!("{name}.home"));
    let dirs = Dirs {
        config_dir: home.join("config"),
        data_dir: home.join("data"),
        state_dir: home.join("state"),
    };
    let mut settings = config::resolve(&Flags::default(), &vars, &dirs).unwrap();
    if let Some(vault) = vault {
        settings.role = Role::VaultHost(vault.clone());
    }
    let remote = settings.remote.as_mut().unwrap();
    remote.concurrency = 64;
    remote.sims.timeout = Duration::from_secs(30);
    remote.sims.connect_timeout = Duration::from_secs(5);
    Keeper::new(settings, "bench".into())
}

/// What one harvest through the keeper took.
struct Timed {
    /// The whole harvest (in vault mode the publish of the team's view included).
    total: Duration,
    /// The vault phase: from the sync's first report of what it stored to its last, as the
    /// harvest's events tell (zero in local mode).
    sync: Duration,
    /// Keys the sync wrote.
    written: usize,
    /// Vault requests of the sync (the session's, less the publish's).
    requests: u64,
}

async fn harvest(keeper: &Keeper) -> Timed {
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
    let requests = keeper.vault().map_or(0, |c| c.requests());
    let start = Instant::now();
    let harvested = keeper
        .harvest(
            HarvestRequest::default(),
            tx,
            CancellationToken::new().into(),
        )
        .await
        .unwrap();
    let total = start.elapsed();
    harvested.end.as_ref().unwrap();
    let vault = harvested.vault.clone().unwrap_or_default();
    drop(harvested);
    watch.await.unwrap();
    let published = match vault.view {
        Some(Ok(p)) => p.requests,
        _ => 0,
    };
    let requests = keeper.vault().map_or(0, |c| c.requests()) - requests - published;
    let sync = stored
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |(first, last)| last - first);
    Timed {
        total,
        sync,
        written: vault.counts.written,
        requests,
    }
}

/// A plain concurrent writer of the same payloads: data then custom metadata per key.
async fn plain_writer(bao: &Bao, sim: &Simulator, prefix: &str) -> (Duration, usize) {
    let http = reqwest::Client::new();
    let mut jobs = Vec::new();
    for site in sim.control().sites() {
        for c in site.visible_clients() {
            let org = OrgId::parse(site.org_id.as_str()).expect("the simulator serves GUIDs");
            let key = credential_key(prefix, &org, &c.client_id).replace('%', "%25");
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
    let sites: usize = std::env::var("SIMSID_BENCH_SITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let bao = Bao::dev().await;
        let sim = Simulator::start(
            SimConfig {
                sites,
                seed: 5,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let settings = VaultSettings {
            addrs: vec![bao.addr.clone()],
            mount: "secret".into(),
            prefix: "bench/simsid".into(),
            namespace: None,
            ca_file: None,
            auth: VaultAuth::Token {
                token: Some(SecretString::from(ROOT_TOKEN.to_string())),
                token_file: "/nonexistent".into(),
            },
            on_remove: Default::default(),
            retry_budget: None,
        };

        // Plain writer first, then simsid (both into an empty prefix of the same server).
        let (plain, keys) = plain_writer(&bao, &sim, "bench/plain").await;
        let vault_keeper = keeper(&sim, dir.path(), "vault.sqlite3", Some(&settings));
        let first = harvest(&vault_keeper).await;
        let (first_total, first_sync, written) = (first.total, first.sync, first.written);
        let local_keeper = keeper(&sim, dir.path(), "local.sqlite3", None);
        harvest(&local_keeper).await;

        // Unchanged re-harvests, vault and local mode alternating (the machine's load drifts
        // over a run; one of each back to back compared the vault's right after its 59,000
        // writes with a local one on a quieter machine). The best of ROUNDS each.
        const ROUNDS: usize = 3;
        let mut requests_again = 0;
        let mut vault_again = Vec::new();
        let mut vault_again_sync = Vec::new();
        let mut local_again = Vec::new();
        for _ in 0..ROUNDS {
            let again = harvest(&vault_keeper).await;
            requests_again += again.requests;
            vault_again.push(again.total.as_secs_f64());
            vault_again_sync.push(again.sync.as_secs_f64());
            local_again.push(harvest(&local_keeper).await.total.as_secs_f64());
        }
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
