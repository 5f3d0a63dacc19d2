//! `simsid demo`: the simulator in-process on loopback with realistic latency and a few
//! faults, a throw-away store in a temporary directory (removed on exit), a first harvest,
//! then the console. Before each later harvest the simulator changes a few sites, so `R`
//! shows a real diff.

use std::sync::Arc;
use std::time::Duration;

use super::console::ConsoleServices;
use super::exit::CliError;
use crate::config::{LocalSettings, RemoteSettings, Settings};
use crate::domain::{AppId, OrgId};
use crate::harvest::HarvestEnd;
use crate::ops::{self, Context};
use crate::sims::SimsSettings;
use crate::tui::{self, ConsoleOptions};
use simsid_simulator::{Fault, SimConfig, Simulator};

/// Runs the demo until the console is closed.
pub async fn run(sites: usize, seed: u64, readonly: bool, verbose: u8) -> Result<u8, CliError> {
    let tmp = tempfile::Builder::new()
        .prefix("simsid-demo-")
        .tempdir()
        .map_err(|e| CliError::runtime(format!("cannot create a temporary directory: {e}")))?;
    let log_path = tmp.path().join("simsid.log");
    if let Err(e) = crate::logging::init(&log_path, verbose) {
        eprintln!("simsid: warning: cannot open log file: {e}");
    }
    eprintln!("simsid demo: starting the simulator with {sites} schools…");
    let sim = Simulator::start(
        SimConfig::demo(sites, seed),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .map_err(|e| CliError::runtime(format!("cannot start the simulator: {e}")))?;
    let control = sim.control().clone();
    // One school that always fails, and a few transient faults the retries absorb.
    let school_sites = control.sites();
    let broken = school_sites.get(sites / 2).map(|broken| {
        control.set_site_fault(&broken.org_id, Fault::Status500, None);
        broken.name.clone()
    });
    control.set_global_fault(
        Some(Fault::RateLimited {
            retry_after_secs: 1,
        }),
        Some(3),
    );

    let env = sim.env();
    let sims = SimsSettings {
        application_id: AppId::parse(&env.application_id)
            .map_err(|e| CliError::runtime(format!("simulator: {e}")))?,
        client_id: env.client_id.clone(),
        organisation_id: OrgId::parse(&env.organisation_id)
            .map_err(|e| CliError::runtime(format!("simulator: {e}")))?,
        client_secret: env.client_secret.clone(),
        sts_url: env.sts_url.clone(),
        api_base: env.api_base.clone(),
        scopes: crate::config::DEFAULT_SCOPES.to_string(),
        acr_values: crate::config::DEFAULT_ACR_VALUES.to_string(),
        apim_key: None,
        timeout: Duration::from_secs(10),
        connect_timeout: crate::config::connect_timeout_for(Duration::from_secs(10)),
        client_auth: Default::default(),
        verify_scopes: String::new(),
    };
    let mut settings = Settings {
        local: LocalSettings {
            profile: "demo".to_string(),
            config_path: None,
            store_path: tmp.path().join("store.sqlite3"),
            store_key: None,
            // The throw-away store's key stays beside it (and goes with it): never the
            // developer's keychain.
            store_key_in: Some(crate::store::KeyLocation::File),
            log_path,
            // The first harvest fills the throw-away store; --readonly is the console's.
            readonly: false,
            profiles: vec!["demo".to_string()],
            metrics_file: None,
            max_age: None,
        },
        // verify never sends the integrator's identity.
        verify: SimsSettings {
            client_id: String::new(),
            client_secret: secrecy::SecretString::from(String::new()),
            ..sims.clone()
        },
        remote: Ok(RemoteSettings {
            sims,
            concurrency: crate::config::DEFAULT_CONCURRENCY,
            client_secret_vault: None,
        }),
        application_id: Some(env.application_id.clone()),
        warnings: Vec::new(),
        role: crate::config::Role::Local(None),
    };

    // The first harvest, before the console opens, through the keeper like any other (it
    // takes the store's harvest lock).
    {
        let ctx = Context::new(settings.clone());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        eprintln!("simsid demo: first harvest…");
        let progress = super::commands::spawn_progress_bar(rx);
        let harvested = ctx
            .keeper()
            .harvest(
                ops::HarvestRequest::default(),
                tx,
                crate::harvest::Cancel::new(),
            )
            .await;
        let _ = progress.await;
        if let ops::SiteEnd::Ran(HarvestEnd::Finished(s)) = harvested?.end? {
            eprintln!(
                "simsid demo: {} sites, {} credentials ({})",
                s.sites_total,
                s.credentials_total,
                s.status.as_str()
            );
        }
    }

    settings.local.readonly = readonly;
    let ctx = Context::new(settings);
    let hook_control = control.clone();
    let hook: super::console::HarvestHook = Arc::new(move || {
        hook_control.demo_mutate();
    });
    let mut services = ConsoleServices::new(ctx, None, Some(hook))
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if let Some(name) = broken {
        services = services.with_notice(demo_notice(&name));
    }
    let result = tui::run(Arc::new(services), ConsoleOptions { readonly }).await;
    sim.shutdown().await;
    drop(tmp);
    super::exit::console_exit(result)
}

/// The demo's first screen: one school fails on purpose, so the stale state can be seen.
pub fn demo_notice(broken: &str) -> String {
    format!(
        "demo: {} fails on purpose, to show a stale site",
        crate::sanitize::for_terminal(broken)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_notice_names_the_school_that_fails_on_purpose() {
        let n = super::demo_notice("Oak\u{1b}[2J Primary");
        assert!(n.contains("fails on purpose"), "{n}");
        assert!(n.contains("Oak\\u{1b}[2J Primary"), "{n}");
    }
}
