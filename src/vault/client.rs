//! The only code that speaks to the vault: a small typed client of the OpenBao / Vault HTTP
//! API on our reqwest (rustls). Token or AppRole authentication with renewal / re-login
//! before expiry, KV v2, token lookup, capabilities, health; several node addresses with
//! retries across them within a time budget (vault.md "A cluster"); every HTTP request is
//! counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use super::error::VaultError;
use super::path::url_escape;
use super::session::{refresh_at, Login as Session, Outage};
use super::settings::{VaultAuth, VaultSettings};

/// Default time budget for one request across retries and addresses (vault.md: ≥ 60 s).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
/// Upper bound on attempts of one request, whatever the budget.
const MAX_ATTEMPTS: u32 = 10_000;
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Which node a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The node last seen working (a standby forwards writes to the active node).
    Any,
    /// The active node (`sys/leader`): for reads that must see our own writes.
    Active,
}

/// A node's role as `sys/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRole {
    Active,
    Standby,
    Sealed,
    Uninitialised,
    /// Another status code.
    Other(u16),
}

impl NodeRole {
    /// The word shown by `vault check`.
    pub fn as_str(&self) -> String {
        match self {
            NodeRole::Active => "active".into(),
            NodeRole::Standby => "standby".into(),
            NodeRole::Sealed => "sealed".into(),
            NodeRole::Uninitialised => "not initialised".into(),
            NodeRole::Other(s) => format!("status {s}"),
        }
    }
}

/// What `auth/token/lookup-self` says about our token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub display_name: String,
    pub accessor: String,
    pub ttl: u64,
    pub renewable: bool,
    pub policies: Vec<String>,
}

/// A KV v2 read: the data and its version.
#[derive(Debug, Clone)]
pub struct KvRead<T> {
    pub data: T,
    pub version: u64,
}

/// A KV v2 key's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvMetadata {
    pub current_version: u64,
    pub custom_metadata: BTreeMap<String, String>,
    /// The current version is soft-deleted or destroyed.
    pub current_deleted: bool,
    /// When the key was last written (the vault's clock), when it says.
    pub updated_time: Option<DateTime<Utc>>,
}

/// One answer: status, the server's `Date`, and body (zeroed on drop: it may hold a secret).
struct Answer {
    status: StatusCode,
    date: Option<DateTime<Utc>>,
    body: Zeroizing<Vec<u8>>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, VaultError> {
        serde_json::from_slice(&self.body).map_err(|e| VaultError::Invalid {
            path: path.to_string(),
            message: format!("not the expected JSON ({})", e.classify_name()),
        })
    }

    /// KV v2 on a node that just became active answers `400` "Waiting for the primary to
    /// upgrade from non-versioned to versioned data" for a moment: transient.
    fn is_kv_upgrading(&self) -> bool {
        self.status == StatusCode::BAD_REQUEST && self.errors().contains("Waiting for the primary")
    }

    /// The vault's `errors` list, sanitised, for messages.
    fn errors(&self) -> String {
        #[derive(Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<String>,
        }
        match serde_json::from_slice::<Errors>(&self.body) {
            Ok(e) if !e.errors.is_empty() => crate::sanitize::for_terminal(
                &e.errors.join("; ").chars().take(300).collect::<String>(),
            )
            .into_owned(),
            _ => self
                .status
                .canonical_reason()
                .unwrap_or("no detail")
                .to_string(),
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// The vault client. Cheap to share behind an `Arc`; `Debug` shows no token.
pub struct VaultClient {
    http: reqwest::Client,
    addrs: Vec<String>,
    namespace: Option<String>,
    auth: VaultAuth,
    session: tokio::sync::Mutex<Option<Session>>,
    /// Index of the node last seen answering.
    current: AtomicUsize,
    /// Index + 1 of the active node when known, 0 when not.
    leader: AtomicUsize,
    requests: AtomicU64,
    /// One retry budget for every request, the failure remembered once it is spent.
    outage: Outage,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("addrs", &self.addrs)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 307 | 308 | 429 | 500 | 502 | 503 | 504)
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
            http,
            addrs: settings.addrs.clone(),
            namespace: settings.namespace.clone(),
            auth: settings.auth.clone(),
            session: tokio::sync::Mutex::new(None),
            current: AtomicUsize::new(0),
            leader: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
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
        self.requests.load(Ordering::Relaxed)
    }

    /// The configured addresses.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// One HTTP request to one address, no retry.
    async fn send_once(
        &self,
        index: usize,
        method: &Method,
        path: &str,
        body: Option<&Zeroizing<Vec<u8>>>,
        token: Option<&SecretString>,
    ) -> Result<Answer, reqwest::Error> {
        let url = format!("{}/v1/{}", self.addrs[index], path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("X-Vault-Request", "true");
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(token) = token {
            // The token authenticates this request: its bytes go in the header.
            #[allow(clippy::disallowed_methods)]
            let value = reqwest::header::HeaderValue::from_str(token.expose_secret());
            if let Ok(mut v) = value {
                v.set_sensitive(true);
                req = req.header("X-Vault-Token", v);
            }
        }
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_vec());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = req.send().await?;
        let status = resp.status();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        let body = Zeroizing::new(resp.bytes().await?.to_vec());
        Ok(Answer { status, date, body })
    }

    /// Sends with retries across the addresses within the budget: connection failures,
    /// `5xx`, redirects (never followed), `429` and sealed nodes move on to the next address.
    /// The budget is shared by every request of this client ([`Outage`]): once it is spent
    /// every request fails at once with the remembered reason. A TLS failure is not retried.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Zeroizing<Vec<u8>>>,
        token: Option<&SecretString>,
        route: Route,
    ) -> Result<Answer, VaultError> {
        self.outage.check()?;
        let n = self.addrs.len();
        let mut index = match route {
            Route::Active => self.active_index().await,
            Route::Any => self.current.load(Ordering::Relaxed) % n,
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
            let sent =
                tokio::time::timeout(left, self.send_once(index, &method, path, body, token)).await;
            match sent {
                Ok(Ok(answer)) if !is_retryable(answer.status) && !answer.is_kv_upgrading() => {
                    self.current.store(index, Ordering::Relaxed);
                    self.outage.answered();
                    return Ok(answer);
                }
                Ok(Ok(answer)) => {
                    last = format!(
                        "{} answered {} ({})",
                        self.addrs[index],
                        answer.status.as_u16(),
                        answer.errors()
                    );
                }
                Ok(Err(e)) => {
                    if let Some(tls) = tls_failure(&e) {
                        let reason = format!("{}: {tls}", self.addrs[index]);
                        warn!(path, reason = %reason, "vault TLS failure");
                        return Err(VaultError::Tls(reason));
                    }
                    last = format!("{}: {}", self.addrs[index], transport_reason(&e));
                }
                Err(_) => {
                    last = format!("{}: timed out (no answer)", self.addrs[index]);
                }
            }
            self.outage.failed_attempt(Instant::now());
            // This node failed: forget it as the leader and try the next one.
            if self.leader.load(Ordering::Relaxed) == index + 1 {
                self.leader.store(0, Ordering::Relaxed);
            }
            debug!(attempt, path, reason = %last, "vault request retried");
            let deadline = self.outage.deadline(started);
            if Instant::now() >= deadline || self.outage.check().is_err() {
                break;
            }
            index = (index + 1) % n;
            if (attempt as usize).is_multiple_of(n) {
                let round = (attempt as usize / n).min(5) as u32;
                let delay = Duration::from_millis(50u64 << round).min(Duration::from_secs(1));
                tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
            }
            if route == Route::Active && n > 1 && (attempt as usize).is_multiple_of(n) {
                index = self.active_index().await;
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

    /// The index of the active node: cached, else asked of `sys/leader` node by node;
    /// the last node seen working when no node says.
    async fn active_index(&self) -> usize {
        let n = self.addrs.len();
        let fallback = self.current.load(Ordering::Relaxed) % n;
        if n == 1 {
            return 0;
        }
        let cached = self.leader.load(Ordering::Relaxed);
        if cached > 0 {
            return cached - 1;
        }
        #[derive(Deserialize)]
        struct Leader {
            #[serde(default)]
            ha_enabled: bool,
            #[serde(default)]
            is_self: bool,
            #[serde(default)]
            leader_address: String,
        }
        for offset in 0..n {
            let i = (fallback + offset) % n;
            let Ok(answer) = self
                .send_once(i, &Method::GET, "sys/leader", None, None)
                .await
            else {
                continue;
            };
            if !answer.status.is_success() {
                continue;
            }
            let Ok(l) = answer.json::<Leader>("sys/leader") else {
                continue;
            };
            let found = if !l.ha_enabled || l.is_self {
                Some(i)
            } else {
                let want = l.leader_address.trim_end_matches('/');
                self.addrs.iter().position(|a| a == want)
            };
            if let Some(found) = found {
                self.leader.store(found + 1, Ordering::Relaxed);
                return found;
            }
        }
        fallback
    }

    /// Loads the token (token auth) or logs in (AppRole).
    async fn open_session(&self) -> Result<Session, VaultError> {
        match &self.auth {
            VaultAuth::Token { token, token_file } => {
                let token = match token {
                    Some(t) => t.clone(),
                    None => read_token_file(token_file)?,
                };
                let info = self.lookup_with(&token).await?;
                Ok(Session {
                    refresh_at: refresh_at(info.ttl),
                    renewable: info.renewable,
                    display_name: Some(info.display_name),
                    token,
                })
            }
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let path = format!("auth/{mount}/login");
                // The secret id is the login credential: its bytes go in the login body.
                #[allow(clippy::disallowed_methods)]
                let body = Zeroizing::new(
                    serde_json::to_vec(
                        &json!({"role_id": role_id, "secret_id": secret_id.expose_secret()}),
                    )
                    .map_err(|_| VaultError::Auth("cannot encode the AppRole login".into()))?,
                );
                let answer = self
                    .send(Method::POST, &path, Some(&body), None, Route::Any)
                    .await?;
                if !answer.status.is_success() {
                    return Err(VaultError::Auth(format!(
                        "AppRole login at {path} refused ({}: {})",
                        answer.status.as_u16(),
                        answer.errors()
                    )));
                }
                #[derive(Deserialize)]
                struct Login {
                    auth: LoginAuth,
                }
                #[derive(Deserialize)]
                struct LoginAuth {
                    client_token: SecretString,
                    #[serde(default)]
                    lease_duration: u64,
                    #[serde(default)]
                    renewable: bool,
                }
                let login: Login = answer.json(&path)?;
                info!(ttl_secs = login.auth.lease_duration, "vault AppRole login");
                Ok(Session {
                    token: login.auth.client_token,
                    refresh_at: refresh_at(login.auth.lease_duration),
                    renewable: login.auth.renewable,
                    display_name: None,
                })
            }
        }
    }

    /// The token to use now: logged in on first use, renewed (token) or logged in again
    /// (AppRole) once two thirds of its time to live have passed.
    async fn token(&self) -> Result<SecretString, VaultError> {
        let mut guard = self.session.lock().await;
        // Waiters queued behind a login that gave up fail at once.
        self.outage.check()?;
        if let Some(s) = guard.as_ref() {
            if s.refresh_at.is_none_or(|t| Instant::now() < t) {
                return Ok(s.token.clone());
            }
            let renewed = match &self.auth {
                VaultAuth::Token { .. } if s.renewable => self.renew_self(&s.token).await.ok(),
                _ => None,
            };
            match renewed {
                Some(ttl) => {
                    let token = s.token.clone();
                    let display_name = s.display_name.clone();
                    *guard = Some(Session {
                        token: token.clone(),
                        refresh_at: refresh_at(ttl),
                        renewable: true,
                        display_name,
                    });
                    return Ok(token);
                }
                None => {
                    if matches!(self.auth, VaultAuth::Token { .. }) {
                        // Not renewable: keep using it until the vault says otherwise.
                        let token = s.token.clone();
                        if let Some(s) = guard.as_mut() {
                            s.refresh_at = None;
                        }
                        return Ok(token);
                    }
                }
            }
        }
        let session = self.open_session().await?;
        let token = session.token.clone();
        *guard = Some(session);
        Ok(token)
    }

    async fn renew_self(&self, token: &SecretString) -> Result<u64, VaultError> {
        let body = Zeroizing::new(b"{}".to_vec());
        let answer = self
            .send(
                Method::POST,
                "auth/token/renew-self",
                Some(&body),
                Some(token),
                Route::Any,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(VaultError::Auth("token renewal refused".into()));
        }
        #[derive(Deserialize)]
        struct Renew {
            auth: RenewAuth,
        }
        #[derive(Deserialize)]
        struct RenewAuth {
            #[serde(default)]
            lease_duration: u64,
        }
        let r: Renew = answer.json("auth/token/renew-self")?;
        info!(ttl_secs = r.auth.lease_duration, "vault token renewed");
        Ok(r.auth.lease_duration)
    }

    /// An authenticated request; a `403` is retried once after a fresh login (an expired
    /// token), never more.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Zeroizing<Vec<u8>>>,
        route: Route,
    ) -> Result<Answer, VaultError> {
        let token = self.token().await?;
        let answer = self
            .send(method.clone(), path, body, Some(&token), route)
            .await?;
        if answer.status != StatusCode::FORBIDDEN {
            return Ok(answer);
        }
        *self.session.lock().await = None;
        let token = self.token().await?;
        self.send(method, path, body, Some(&token), route).await
    }

    fn lookup_parse(answer: &Answer) -> Result<TokenInfo, VaultError> {
        #[derive(Deserialize)]
        struct Lookup {
            data: LookupData,
        }
        #[derive(Deserialize)]
        struct LookupData {
            #[serde(default)]
            display_name: String,
            #[serde(default)]
            accessor: String,
            #[serde(default)]
            ttl: u64,
            #[serde(default)]
            renewable: bool,
            #[serde(default)]
            policies: Vec<String>,
        }
        let l: Lookup = answer.json("auth/token/lookup-self")?;
        Ok(TokenInfo {
            display_name: l.data.display_name,
            accessor: l.data.accessor,
            ttl: l.data.ttl,
            renewable: l.data.renewable,
            policies: l.data.policies,
        })
    }

    async fn lookup_with(&self, token: &SecretString) -> Result<TokenInfo, VaultError> {
        let answer = self
            .send(
                Method::GET,
                "auth/token/lookup-self",
                None,
                Some(token),
                Route::Any,
            )
            .await?;
        match answer.status.as_u16() {
            200 => Self::lookup_parse(&answer),
            403 => Err(VaultError::Auth(
                "the vault refused the token (wrong, expired or revoked): run `bao login` / `vault login`, or set VAULT_TOKEN".into(),
            )),
            s => Err(VaultError::Status {
                status: s,
                path: "auth/token/lookup-self".into(),
                message: answer.errors(),
            }),
        }
    }

    /// `auth/token/lookup-self` with the current token.
    pub async fn lookup_self(&self) -> Result<TokenInfo, VaultError> {
        let answer = self
            .call(Method::GET, "auth/token/lookup-self", None, Route::Any)
            .await?;
        expect_ok(&answer, "auth/token/lookup-self")?;
        Self::lookup_parse(&answer)
    }

    /// The vault identity (`display_name`), looked up once.
    pub async fn identity(&self) -> Result<String, VaultError> {
        // Opening the session learns it on the way (token auth looks the token up).
        self.token().await?;
        if let Some(name) = self
            .session
            .lock()
            .await
            .as_ref()
            .and_then(|s| s.display_name.clone())
        {
            return Ok(name);
        }
        let info = self.lookup_self().await?;
        if let Some(s) = self.session.lock().await.as_mut() {
            s.display_name = Some(info.display_name.clone());
        }
        Ok(info.display_name)
    }

    /// `sys/capabilities-self` for `paths` (full API paths such as `secret/data/x/*`).
    pub async fn capabilities_self(
        &self,
        paths: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, VaultError> {
        let body =
            Zeroizing::new(serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default());
        let answer = self
            .call(
                Method::POST,
                "sys/capabilities-self",
                Some(&body),
                Route::Any,
            )
            .await?;
        expect_ok(&answer, "sys/capabilities-self")?;
        let v: Value = answer.json("sys/capabilities-self")?;
        let data = v.get("data").unwrap_or(&v);
        Ok(paths
            .iter()
            .map(|p| {
                let caps = data
                    .get(p)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (p.clone(), caps)
            })
            .collect())
    }

    /// Reads the latest version of `key` in the KV v2 `mount`; `None` when there is none
    /// (never written, deleted, or its latest version soft-deleted).
    pub async fn kv_read<T: DeserializeOwned>(
        &self,
        mount: &str,
        key: &str,
        route: Route,
    ) -> Result<Option<KvRead<T>>, VaultError> {
        let path = format!("{mount}/data/{}", url_escape(key));
        let answer = self.call(Method::GET, &path, None, route).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        expect_ok(&answer, &path)?;
        #[derive(Deserialize)]
        struct Outer<T> {
            data: Inner<T>,
        }
        #[derive(Deserialize)]
        struct Inner<T> {
            data: Option<T>,
            metadata: VersionMeta,
        }
        #[derive(Deserialize)]
        struct VersionMeta {
            version: u64,
        }
        let outer: Outer<T> = answer.json(&path)?;
        Ok(outer.data.data.map(|data| KvRead {
            data,
            version: outer.data.metadata.version,
        }))
    }

    /// Writes a new version of `key`; `cas` is the version expected now (0: must not
    /// exist), `None` for no check. Returns the new version.
    pub async fn kv_write<T: Serialize>(
        &self,
        mount: &str,
        key: &str,
        data: &T,
        cas: Option<u64>,
    ) -> Result<u64, VaultError> {
        let path = format!("{mount}/data/{}", url_escape(key));
        let mut doc = json!({ "data": data });
        if let Some(cas) = cas {
            doc["options"] = json!({ "cas": cas });
        }
        let body = Zeroizing::new(serde_json::to_vec(&doc).map_err(|_| VaultError::Invalid {
            path: path.clone(),
            message: "cannot encode the data".into(),
        })?);
        zeroize_value(doc);
        let answer = self
            .call(Method::POST, &path, Some(&body), Route::Any)
            .await?;
        if answer.status == StatusCode::BAD_REQUEST && answer.errors().contains("check-and-set") {
            return Err(VaultError::CasMismatch);
        }
        expect_ok(&answer, &path)?;
        #[derive(Deserialize)]
        struct Written {
            data: WrittenData,
        }
        #[derive(Deserialize)]
        struct WrittenData {
            version: u64,
        }
        Ok(answer.json::<Written>(&path)?.data.version)
    }

    /// Sets `key`'s custom metadata.
    pub async fn kv_metadata_write(
        &self,
        mount: &str,
        key: &str,
        custom: &BTreeMap<String, String>,
    ) -> Result<(), VaultError> {
        let path = format!("{mount}/metadata/{}", url_escape(key));
        let body = Zeroizing::new(
            serde_json::to_vec(&json!({ "custom_metadata": custom })).unwrap_or_default(),
        );
        let answer = self
            .call(Method::POST, &path, Some(&body), Route::Any)
            .await?;
        expect_ok(&answer, &path)
    }

    /// `key`'s metadata, `None` when the key does not exist.
    pub async fn kv_metadata_read(
        &self,
        mount: &str,
        key: &str,
        route: Route,
    ) -> Result<Option<KvMetadata>, VaultError> {
        let path = format!("{mount}/metadata/{}", url_escape(key));
        let answer = self.call(Method::GET, &path, None, route).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        expect_ok(&answer, &path)?;
        #[derive(Deserialize)]
        struct Outer {
            data: Meta,
        }
        #[derive(Deserialize)]
        struct Meta {
            current_version: u64,
            #[serde(default)]
            custom_metadata: Option<BTreeMap<String, String>>,
            #[serde(default)]
            versions: BTreeMap<String, VersionState>,
            #[serde(default)]
            updated_time: Option<String>,
        }
        #[derive(Deserialize)]
        struct VersionState {
            #[serde(default)]
            deletion_time: String,
            #[serde(default)]
            destroyed: bool,
        }
        let m: Outer = answer.json(&path)?;
        let current_deleted = m
            .data
            .versions
            .get(&m.data.current_version.to_string())
            .is_some_and(|v| v.destroyed || !v.deletion_time.is_empty());
        Ok(Some(KvMetadata {
            current_version: m.data.current_version,
            custom_metadata: m.data.custom_metadata.unwrap_or_default(),
            current_deleted,
            updated_time: m
                .data
                .updated_time
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        }))
    }

    /// Deletes `key`'s metadata and every version.
    pub async fn kv_delete_all(&self, mount: &str, key: &str) -> Result<(), VaultError> {
        let path = format!("{mount}/metadata/{}", url_escape(key));
        let answer = self.call(Method::DELETE, &path, None, Route::Any).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect_ok(&answer, &path)
    }

    /// Soft-deletes `key`'s latest version.
    pub async fn kv_soft_delete(&self, mount: &str, key: &str) -> Result<(), VaultError> {
        let path = format!("{mount}/data/{}", url_escape(key));
        let answer = self.call(Method::DELETE, &path, None, Route::Any).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect_ok(&answer, &path)
    }

    /// The names directly under `folder` (folders end with `/`); empty when none.
    pub async fn kv_list(
        &self,
        mount: &str,
        folder: &str,
        route: Route,
    ) -> Result<Vec<String>, VaultError> {
        Ok(self.kv_list_dated(mount, folder, route).await?.0)
    }

    /// [`VaultClient::kv_list`] and the time the vault answered (its `Date` header, to the
    /// second), to compare with keys' `updated_time` on the vault's own clock.
    pub async fn kv_list_dated(
        &self,
        mount: &str,
        folder: &str,
        route: Route,
    ) -> Result<(Vec<String>, Option<DateTime<Utc>>), VaultError> {
        let path = format!("{mount}/metadata/{}/?list=true", url_escape(folder));
        let answer = self.call(Method::GET, &path, None, route).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok((Vec::new(), answer.date));
        }
        expect_ok(&answer, &path)?;
        #[derive(Deserialize)]
        struct Outer {
            data: Keys,
        }
        #[derive(Deserialize)]
        struct Keys {
            #[serde(default)]
            keys: Vec<String>,
        }
        Ok((answer.json::<Outer>(&path)?.data.keys, answer.date))
    }

    /// One node's role from `sys/health` (no retry, no token).
    pub async fn health(&self, index: usize) -> Result<NodeRole, VaultError> {
        let answer = self
            .send_once(index, &Method::GET, "sys/health", None, None)
            .await
            .map_err(|e| match tls_failure(&e) {
                Some(tls) => VaultError::Tls(format!("{}: {tls}", self.addrs[index])),
                None => VaultError::Unavailable(format!(
                    "{}: {}",
                    self.addrs[index],
                    transport_reason(&e)
                )),
            })?;
        Ok(match answer.status.as_u16() {
            200 => NodeRole::Active,
            429 | 472 | 473 => NodeRole::Standby,
            503 => NodeRole::Sealed,
            501 => NodeRole::Uninitialised,
            s => NodeRole::Other(s),
        })
    }

    /// Whether the vault is sealed (`sys/seal-status`).
    pub async fn sealed(&self) -> Result<bool, VaultError> {
        let answer = self
            .send(Method::GET, "sys/seal-status", None, None, Route::Any)
            .await?;
        expect_ok(&answer, "sys/seal-status")?;
        #[derive(Deserialize)]
        struct Seal {
            sealed: bool,
        }
        Ok(answer.json::<Seal>("sys/seal-status")?.sealed)
    }

    /// The mount's engine type and KV version (`sys/internal/ui/mounts/MOUNT`).
    pub async fn mount_kind(&self, mount: &str) -> Result<(String, Option<String>), VaultError> {
        let path = format!("sys/internal/ui/mounts/{mount}");
        let answer = self.call(Method::GET, &path, None, Route::Any).await?;
        expect_ok(&answer, &path)?;
        let v: Value = answer.json(&path)?;
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let version = data
            .get("options")
            .and_then(|o| o.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok((kind, version))
    }
}

/// Why a request failed below HTTP, for messages: never "request failed" alone.
fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off".to_string()
    } else {
        "the connection was closed before an answer (the request may be too large for the vault)"
            .to_string()
    }
}

/// A TLS failure named as such (vault.md "Settings"): an untrusted certificate, a name
/// mismatch, or another handshake failure; `None` for any other error.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let all = chain.join(": ");
    let hint =
        "set `vault_ca_file` (or VAULT_CACERT) to the CA that signed the vault's certificate";
    if all.contains("UnknownIssuer") || all.contains("unknown issuer") {
        Some(format!(
            "TLS failure: the vault's certificate is not trusted (unknown issuer); {hint}"
        ))
    } else if all.contains("NotValidForName") || all.contains("not valid for name") {
        Some("TLS failure: the vault's certificate does not name this host (name mismatch); use the address the certificate names".to_string())
    } else if all.contains("invalid peer certificate")
        || all.contains("certificate") && all.contains("TLS")
    {
        Some(format!(
            "TLS failure: the vault's certificate was refused ({}); {hint}",
            crate::sanitize::for_terminal(&all.chars().take(200).collect::<String>())
        ))
    } else if all.contains("InvalidContentType") || all.contains("corrupt message") {
        Some("TLS failure: the server did not answer TLS (is it plain http://?)".to_string())
    } else {
        None
    }
}

fn read_token_file(path: &std::path::Path) -> Result<SecretString, VaultError> {
    let raw = std::fs::read(path).map_err(|e| {
        VaultError::Auth(format!(
            "no vault token: VAULT_TOKEN is not set and {} cannot be read ({}); run `bao login` or `vault login`, or set VAULT_TOKEN",
            path.display(),
            e.kind()
        ))
    })?;
    let raw = Zeroizing::new(raw);
    let text = std::str::from_utf8(&raw)
        .map_err(|_| VaultError::Auth(format!("{} is not UTF-8", path.display())))?
        .trim();
    if text.is_empty() {
        return Err(VaultError::Auth(format!("{} is empty", path.display())));
    }
    Ok(SecretString::from(text.to_string()))
}

fn expect_ok(answer: &Answer, path: &str) -> Result<(), VaultError> {
    match answer.status.as_u16() {
        200..=299 => Ok(()),
        403 => Err(VaultError::Forbidden(path.to_string())),
        s => Err(VaultError::Status {
            status: s,
            path: path.to_string(),
            message: answer.errors(),
        }),
    }
}

/// Overwrites the strings of a JSON value that held a secret before it is dropped.
fn zeroize_value(value: Value) {
    match value {
        Value::String(s) => drop(Zeroizing::new(s)),
        Value::Array(items) => items.into_iter().for_each(zeroize_value),
        Value::Object(map) => map.into_iter().for_each(|(_, v)| zeroize_value(v)),
        _ => {}
    }
}
