//! The SIMS ID simulator: an HTTP server on loopback that serves the production paths
//! (`POST /connect/token`, `GET /api/v1/partner/{app}/GetSiteByApplication`,
//! `GET /api/v1/partner/{app}/{org}/Clients`) from a dataset generated deterministically
//! from a seed, with latency, injectable faults, expiring tokens and a control surface
//! ([`SimControl`] in process, `/_sim/` over HTTP) to change it between harvests. Clients
//! talk to it over real HTTP, exactly as they talk to SIMS ID.
//!
//! Modules: `ids` holds its own identifiers, `names` and `dataset` generate the data
//! (pure), `state` decides every answer (pure), `control` is the shared handle, `server`
//! and `admin` are the HTTP routes.
//!
//! It is a separate crate, and a separate program in spirit: it shares nothing with the
//! product but the wire, so the product cannot lean on its insides.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// A fake SIMS ID generates, serves and checks secrets in clear by design.
#![allow(clippy::disallowed_methods)]

mod admin;
mod control;
mod dataset;
mod env;
mod ids;
mod model;
mod names;
mod ratelimit;
mod respond;
mod server;
mod state;
mod stats;
mod wire;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use control::SimControl;
pub use env::SimEnv;
pub use ids::{AuthorisationChange, CredentialRef, OrgId};
pub use model::{DemoChanges, Fault, SimClient, SimSite, SimStats, SiteText, StsMode};

use dataset::Integrator;
use respond::Ctx;
use state::State;

/// How long [`Simulator::shutdown`] waits for open requests before aborting the server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of sites in the initial dataset.
    pub sites: usize,
    /// Seed of the dataset: the same seed gives the same sites, ids and secrets.
    pub seed: u64,
    /// Mean latency added to every call (each call waits between half and one and a half
    /// times it).
    pub latency: Duration,
    /// `expires_in` of issued tokens; a token is refused (`401`) after it.
    pub token_ttl_secs: u64,
    /// The gateway's rate limit on API requests per second (`None` = no limit): a token
    /// bucket with a burst of a tenth of it; the rest are answered `429`, `Retry-After: 1`.
    pub rate_limit: Option<u32>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            sites: 200,
            seed: 1,
            latency: Duration::ZERO,
            token_ttl_secs: 3600,
            rate_limit: None,
        }
    }
}

impl SimConfig {
    /// Settings for `simsid demo`: realistic latency (20–60 ms per call).
    pub fn demo(sites: usize, seed: u64) -> Self {
        SimConfig {
            sites,
            seed,
            latency: Duration::from_millis(40),
            ..SimConfig::default()
        }
    }
}

/// A running simulator. Dropping it stops the server too; [`Simulator::shutdown`] also
/// waits for it.
pub struct Simulator {
    addr: SocketAddr,
    control: SimControl,
    integrator: Integrator,
    control_token: SecretString,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Generates the dataset, binds `addr` (port 0 picks a free port) and serves in a
    /// tokio task.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<Simulator> {
        let state = State::new(
            config.sites,
            config.seed,
            Duration::from_secs(config.token_ttl_secs),
        );
        let integrator = state.integrator().clone();
        let control = SimControl::new(state);
        control.set_rate_limit(config.rate_limit);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;

        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let control_token =
            SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let cancel = CancellationToken::new();
        let ctx = Ctx {
            control: control.clone(),
            latency: config.latency,
            cancel: cancel.clone(),
            control_digest: state::digest(control_token.expose_secret()),
        };
        let app = server::router(ctx.clone(), admin::router(ctx));
        let stop = cancel.clone();
        // Small answers go out at once instead of waiting on Nagle's algorithm.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "simulator server stopped with an error");
            }
        });
        Ok(Simulator {
            addr,
            control,
            integrator,
            control_token,
            cancel,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The integrator settings that reach this simulator (URLs use loopback when bound
    /// to an unspecified address).
    pub fn env(&self) -> SimEnv {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base = format!("http://{}", SocketAddr::new(ip, self.addr.port()));
        SimEnv {
            application_id: self.integrator.application_id.as_str().to_string(),
            client_id: self.integrator.client_id.clone(),
            organisation_id: self.integrator.organisation_id.as_str().to_string(),
            client_secret: self.integrator.secret.clone(),
            sts_url: format!("{base}/connect/token"),
            api_base: format!("{base}/api/v1/partner"),
        }
    }

    /// The handle that reads and changes the dataset, faults and counters.
    pub fn control(&self) -> &SimControl {
        &self.control
    }

    /// The bearer token the `/_sim/` routes require.
    pub fn control_token(&self) -> SecretString {
        self.control_token.clone()
    }

    /// Stops accepting connections, wakes sleeping and hanging requests, and returns when
    /// the server task has ended (aborting it if open requests outlast a short grace).
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                // The abort's JoinError is the expected outcome here.
                let _ = task.await;
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// `simsid simulate`: start on `listen`, print `env().shell_lines()` to `out` (flushed),
/// serve until Ctrl-C, then shut down. The `/_sim/` control token goes to `notes` as a
/// `#` comment (the CLI passes stderr), so `out` holds only the six `export` lines.
pub async fn serve_until_interrupted(
    config: SimConfig,
    listen: SocketAddr,
    out: &mut impl Write,
    notes: &mut impl Write,
) -> anyhow::Result<()> {
    let sim = Simulator::start(config, listen)
        .await
        .with_context(|| format!("cannot start the simulator on {listen}"))?;
    let printed = out
        .write_all(sim.env().shell_lines().as_bytes())
        .and_then(|()| out.flush());
    if let Err(error) = printed {
        sim.shutdown().await;
        return Err(error).context("cannot write the simulator settings");
    }
    // The simulator's own control token, not a SIMS secret: it is what /_sim/ needs.
    let _ = writeln!(
        notes,
        "# simulator control token (Authorization: Bearer …, for /_sim/): {}",
        sim.control_token().expose_secret()
    );
    let interrupted = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    interrupted.context("cannot wait for Ctrl-C")
}
