//! The vault client: a small typed client of the OpenBao / Vault HTTP API on our reqwest
//! (rustls), built once from the settings and shared. Its parts, each in its own file:
//! one HTTP exchange (`http`), the cluster's nodes and retries within a time budget
//! (`routing`, vault.md "A cluster"), the login session with renewal and re-login
//! (`login`, `session`), KV v2 (`kv`), and sys calls (`sys`).

use std::time::Duration;

use super::error::VaultError;
use super::http::Http;
use super::routing::Nodes;
use super::session::{Login, Outage};
use super::settings::{VaultAuth, VaultSettings};

/// Default time budget for one request across retries and addresses (vault.md: ≥ 60 s).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
/// Per-request timeout.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The vault client. Cheap to share behind an `Arc`; `Debug` shows no token.
pub struct VaultClient {
    pub(crate) http: Http,
    pub(crate) nodes: Nodes,
    pub(crate) auth: VaultAuth,
    pub(crate) session: tokio::sync::Mutex<Option<Login>>,
    /// One retry budget for every request, the failure remembered once it is spent.
    pub(crate) outage: Outage,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("addrs", &self.nodes.addrs())
            .field("namespace", &self.http.namespace())
            .finish_non_exhaustive()
    }
}

impl VaultClient {
    /// A client for `settings`. Makes no request.
    pub fn new(settings: &VaultSettings) -> Result<VaultClient, VaultError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(64);
        if let Some(ca) = &settings.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                VaultError::Setup(format!("CA file {}: {}", ca.display(), e.kind()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
                VaultError::Setup(format!("CA file {} holds no PEM certificate", ca.display()))
            })?;
            if certs.is_empty() {
                return Err(VaultError::Setup(format!(
                    "CA file {} holds no PEM certificate",
                    ca.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| VaultError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(VaultClient {
            http: Http::new(http, settings.namespace.clone()),
            nodes: Nodes::new(settings.addrs.clone()),
            auth: settings.auth.clone(),
            session: tokio::sync::Mutex::new(None),
            outage: Outage::new(DEFAULT_BUDGET),
        })
    }

    /// The same client with another retry time budget.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.outage = Outage::new(budget);
        self
    }

    /// The shared outage state: its budget, and a remembered failure to
    /// [`Outage::reset`] before trying again.
    pub fn outage(&self) -> &Outage {
        &self.outage
    }

    /// HTTP requests sent so far (every attempt, logins included).
    pub fn requests(&self) -> u64 {
        self.http.requests()
    }

    /// The configured addresses.
    pub fn addrs(&self) -> &[String] {
        self.nodes.addrs()
    }
}
