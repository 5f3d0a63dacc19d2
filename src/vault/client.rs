//! The vault client: a small typed client of the OpenBao / Vault HTTP API on our reqwest
//! (rustls), built once from the settings and shared. Its parts, each in its own file:
//! one HTTP exchange (`http`), the cluster's nodes and retries within a time budget
//! (`routing`, docs/reference/vault.md "A cluster"), the login session with renewal and re-login
//! (`login`, `session`), KV v2 (`kv`), and sys calls (`sys`).

use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::SecretString;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::error::VaultError;
use super::http::{Answer, Http};
use super::routing::{pause_after, verdict, Leader, Nodes, Route, Verdict};
use super::session::{Login, Outage};
use super::settings::{VaultAuth, VaultSettings};

/// Default time budget for one request across retries and addresses (docs/reference/vault.md: ≥ 60 s).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
/// Upper bound on attempts of one request, whatever the budget.
const MAX_ATTEMPTS: u32 = 10_000;
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
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
            outage: Outage::new(settings.retry_budget.unwrap_or(DEFAULT_BUDGET)),
        })
    }

    /// The same client with another retry time budget.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.outage = Outage::new(budget);
        self
    }

    /// The shared outage state: its budget, and a remembered failure to
    /// `Outage::reset` before trying again.
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

    /// Sends with retries across the nodes within the budget, as `routing` decides. The budget
    /// is shared by every request of this client ([`super::Outage`]): once it is spent
    /// every request fails at once with the remembered reason.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Zeroizing<Vec<u8>>>,
        token: Option<&SecretString>,
        route: Route,
    ) -> Result<Answer, VaultError> {
        self.outage.check()?;
        let n = self.nodes.addrs().len();
        let mut index = match self.nodes.start(route) {
            Some(index) => index,
            None => self.active_index().await,
        };
        let started = Instant::now();
        let mut last = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let left = self
                .outage
                .deadline(started)
                .saturating_duration_since(Instant::now())
                .min(REQUEST_TIMEOUT)
                .max(Duration::from_millis(100));
            let addr = self.nodes.addr(index);
            let sent = self.http.send_once(addr, &method, path, body, token);
            match verdict(addr, tokio::time::timeout(left, sent).await.ok()) {
                Verdict::Done(answer) => {
                    self.nodes.answered(index);
                    self.outage.answered();
                    return Ok(answer);
                }
                Verdict::Stop(e) => {
                    warn!(path, reason = %e, "vault TLS failure");
                    return Err(e);
                }
                Verdict::Next(reason) => last = reason,
            }
            self.outage.failed_attempt(Instant::now());
            self.nodes.failed(index);
            debug!(attempt, path, reason = %last, "vault request retried");
            let deadline = self.outage.deadline(started);
            if Instant::now() >= deadline || self.outage.check().is_err() {
                break;
            }
            index = self.nodes.next(index);
            if let Some(pause) = pause_after(attempt, n) {
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(pause.min(left)).await;
                if route == Route::Active && n > 1 {
                    index = self.active_index().await;
                }
            }
        }
        warn!(path, reason = %last, "vault unreachable within the time budget");
        self.outage.give_up(format!(
            "{last} (gave up after {} s)",
            self.outage.budget().as_secs()
        ));
        self.outage.check()?;
        Err(VaultError::Unavailable(last))
    }

    /// The index of the active node: known, else asked of `sys/leader` node by node; the
    /// last node seen answering when no node says.
    async fn active_index(&self) -> usize {
        if let Some(index) = self.nodes.start(Route::Active) {
            return index;
        }
        let addrs = self.nodes.addrs();
        let fallback = self.nodes.last_answering();
        for offset in 0..addrs.len() {
            let i = (fallback + offset) % addrs.len();
            let asked = self
                .http
                .send_once(&addrs[i], &Method::GET, "sys/leader", None, None)
                .await;
            let Ok(answer) = asked else { continue };
            if !answer.status.is_success() {
                continue;
            }
            let Ok(leader) = answer.json::<Leader>("sys/leader") else {
                continue;
            };
            if let Some(found) = leader.node(i, addrs) {
                self.nodes.leader_is(found);
                return found;
            }
        }
        fallback
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;
    use crate::vault::stub::{client_for, closed_addr, Stub};

    #[tokio::test]
    async fn a_node_answering_503_or_307_is_passed_over_and_the_next_request_starts_at_the_one_that_answered(
    ) {
        for refusal in [503, 307] {
            let bad = Stub::start(move |_| (refusal, String::new())).await;
            let good = Stub::start(|_| (200, r#"{"sealed":false}"#.to_string())).await;
            let client = client_for(&[&bad.addr, &good.addr]);
            assert_eq!(client.sealed().await, Ok(false), "{refusal}");
            assert_eq!(
                (bad.hits("sys/seal-status"), good.hits("sys/seal-status")),
                (1, 1)
            );
            assert_eq!(client.sealed().await, Ok(false));
            assert_eq!(
                (bad.hits("sys/seal-status"), good.hits("sys/seal-status")),
                (1, 2),
                "{refusal}: the node that answered is asked first"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_connection_moves_on_to_the_next_node() {
        let good = Stub::start(|_| (200, r#"{"sealed":true}"#.to_string())).await;
        let client = client_for(&[&closed_addr().await, &good.addr]);
        assert_eq!(client.sealed().await, Ok(true));
        assert_eq!(client.requests(), 2);
    }

    #[tokio::test]
    async fn route_active_asks_sys_leader_once_and_goes_to_the_active_node() {
        let active = Stub::start(|seen| match seen.path.as_str() {
            "sys/leader" => (200, r#"{"ha_enabled":true,"is_self":true}"#.into()),
            _ => (200, "{}".into()),
        })
        .await;
        let leader_address = active.addr.clone();
        let standby = Stub::start(move |seen| match seen.path.as_str() {
            "sys/leader" => (
                200,
                format!(
                    r#"{{"ha_enabled":true,"is_self":false,"leader_address":"{leader_address}"}}"#
                ),
            ),
            _ => (200, "{}".into()),
        })
        .await;
        let client = client_for(&[&standby.addr, &active.addr]);
        for _ in 0..2 {
            let answer = client
                .send(Method::GET, "x", None, None, Route::Active)
                .await
                .unwrap();
            assert_eq!(answer.status, StatusCode::OK);
        }
        assert_eq!(standby.hits("sys/leader"), 1, "asked once, then known");
        assert_eq!((standby.hits("x"), active.hits("x")), (0, 2));
    }

    #[tokio::test]
    async fn once_the_budget_is_spent_every_request_fails_at_once_without_a_request() {
        let a = Stub::start(|_| (503, r#"{"errors":["sealed"]}"#.to_string())).await;
        let b = Stub::start(|_| (502, String::new())).await;
        let client = client_for(&[&a.addr, &b.addr]).with_budget(Duration::from_millis(300));
        let e = client.sealed().await.unwrap_err();
        assert!(
            matches!(&e, VaultError::Unavailable(r) if r.contains("answered 50") && r.contains("gave up")),
            "{e}"
        );
        let sent = client.requests();
        assert!(sent >= 2, "both nodes tried: {sent}");
        assert_eq!(client.sealed().await.unwrap_err(), e, "remembered");
        assert_eq!(client.requests(), sent, "no request once given up");
    }
}
