//! The login session's I/O: the token from `VAULT_TOKEN` or the token file, or an AppRole
//! login; renewal (token) or a new login (AppRole) once two thirds of its time to live have
//! passed ([`Login::step`]); and an authenticated request, where a `403` is retried once
//! after a fresh login (an expired token), never more.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tracing::info;
use zeroize::Zeroizing;

use super::client::VaultClient;
use super::error::VaultError;
use super::http::Answer;
use super::routing::Route;
use super::session::{refresh_at, Login, Step};
use super::settings::VaultAuth;

/// What `auth/token/lookup-self` says about our token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub display_name: String,
    pub accessor: String,
    pub ttl: u64,
    pub renewable: bool,
    pub policies: Vec<String>,
    /// `entity_id` (empty for a token without an entity, the root token's say).
    pub entity_id: String,
    /// `meta.role_name` (AppRole) and `meta.username` (userpass, LDAP).
    pub role_name: Option<String>,
    pub username: Option<String>,
}

impl TokenInfo {
    /// The identity as reports name it: the display name, qualified where it is shared
    /// (`approle:ROLE`, `root`, `token:ENTITY`; docs/reference/vault.md "Trust").
    pub fn identity(&self) -> String {
        crate::domain::vault_identity::VaultIdentity::qualify(
            &crate::domain::vault_identity::AuthFacts {
                display_name: &self.display_name,
                role_name: self.role_name.as_deref(),
                username: self.username.as_deref(),
                entity_id: Some(self.entity_id.as_str()),
                root: self.policies.iter().any(|p| p == "root"),
            },
        )
        .name
    }
}

const LOOKUP_SELF: &str = "auth/token/lookup-self";
const RENEW_SELF: &str = "auth/token/renew-self";

impl VaultClient {
    /// An authenticated request; a `403` is retried once after a fresh login (an expired
    /// token), never more.
    pub(crate) async fn call(
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

    /// The token to use now: logged in on first use, renewed (token) or logged in again
    /// (AppRole) once two thirds of its time to live have passed.
    async fn token(&self) -> Result<SecretString, VaultError> {
        let mut guard = self.session.lock().await;
        // Waiters queued behind a login that gave up fail at once.
        self.outage.check()?;
        let given = matches!(self.auth, VaultAuth::Token { .. });
        if let Some(login) = guard.as_mut() {
            match Login::step(Some(login), given, Instant::now()) {
                Step::Use => return Ok(login.token.clone()),
                Step::Keep => {
                    login.keep();
                    return Ok(login.token.clone());
                }
                Step::Renew => {
                    let renewed = self
                        .token_request(Method::POST, RENEW_SELF, &login.token)
                        .await
                        .and_then(|answer| Self::renewal(&answer));
                    match renewed {
                        Ok(ttl) => login.renewed(ttl, Instant::now()),
                        // Not renewed: keep using it until the vault says otherwise.
                        Err(_) => login.keep(),
                    }
                    return Ok(login.token.clone());
                }
                Step::LogIn => {}
            }
        }
        let login = self.log_in().await?;
        let token = login.token.clone();
        *guard = Some(login);
        Ok(token)
    }

    /// Loads the token (token auth: `VAULT_TOKEN`, else the token file, read now so that a
    /// new `bao login` is seen) or logs in (AppRole).
    async fn log_in(&self) -> Result<Login, VaultError> {
        match &self.auth {
            VaultAuth::Token { token, token_file } => {
                let token = match token {
                    Some(t) => t.clone(),
                    None => read_token_file(token_file)?,
                };
                let info = self.lookup_with(&token).await?;
                Ok(Login {
                    refresh_at: refresh_at(info.ttl, Instant::now()),
                    renewable: info.renewable,
                    display_name: Some(info.identity()),
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
                struct LoginAnswer {
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
                let login: LoginAnswer = answer.json(&path)?;
                info!(ttl_secs = login.auth.lease_duration, "vault AppRole login");
                Ok(Login {
                    token: login.auth.client_token,
                    refresh_at: refresh_at(login.auth.lease_duration, Instant::now()),
                    renewable: login.auth.renewable,
                    display_name: None,
                })
            }
        }
    }

    /// A request about `token` itself (lookup, renewal): sent with it, not with the
    /// session's, and never retried after a new login.
    async fn token_request(
        &self,
        method: Method,
        path: &str,
        token: &SecretString,
    ) -> Result<Answer, VaultError> {
        let body = (method == Method::POST).then(|| Zeroizing::new(b"{}".to_vec()));
        self.send(method, path, body.as_ref(), Some(token), Route::Any)
            .await
    }

    /// The new time to live from a `renew-self` answer.
    fn renewal(answer: &Answer) -> Result<u64, VaultError> {
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
        let r: Renew = answer.json(RENEW_SELF)?;
        info!(ttl_secs = r.auth.lease_duration, "vault token renewed");
        Ok(r.auth.lease_duration)
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
            #[serde(default)]
            entity_id: Option<String>,
            #[serde(default)]
            meta: Option<LookupMeta>,
        }
        #[derive(Deserialize)]
        struct LookupMeta {
            #[serde(default)]
            role_name: Option<String>,
            #[serde(default)]
            username: Option<String>,
        }
        let l: Lookup = answer.json(LOOKUP_SELF)?;
        let (role_name, username) = l
            .data
            .meta
            .map_or((None, None), |m| (m.role_name, m.username));
        Ok(TokenInfo {
            display_name: l.data.display_name,
            accessor: l.data.accessor,
            ttl: l.data.ttl,
            renewable: l.data.renewable,
            policies: l.data.policies,
            entity_id: l.data.entity_id.unwrap_or_default(),
            role_name,
            username,
        })
    }

    /// `lookup-self` with a token that is not yet the session's.
    async fn lookup_with(&self, token: &SecretString) -> Result<TokenInfo, VaultError> {
        let answer = self.token_request(Method::GET, LOOKUP_SELF, token).await?;
        match answer.status.as_u16() {
            200 => Self::lookup_parse(&answer),
            403 => Err(VaultError::Auth(
                "the vault refused the token (wrong, expired or revoked): run `bao login` / `vault login`, or set VAULT_TOKEN".into(),
            )),
            s => Err(VaultError::Status {
                status: s,
                path: LOOKUP_SELF.into(),
                message: answer.errors(),
            }),
        }
    }

    /// `auth/token/lookup-self` with the current token.
    pub async fn lookup_self(&self) -> Result<TokenInfo, VaultError> {
        let answer = self
            .call(Method::GET, LOOKUP_SELF, None, Route::Any)
            .await?;
        answer.expect_ok(LOOKUP_SELF)?;
        Self::lookup_parse(&answer)
    }

    /// The vault identity (its display name, qualified where it is shared: `approle:ROLE`,
    /// `root`, `token:ENTITY`), looked up once.
    pub async fn identity(&self) -> Result<String, VaultError> {
        // Opening the session learns it on the way (token auth looks the token up): no
        // second lookup.
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
            s.display_name = Some(info.identity());
        }
        Ok(info.identity())
    }
}

/// The token file's token (`bao login` / `vault login` write it). Errors name the file (a
/// path we chose or the profile named, not a value pasted in the wrong place) and point at
/// the fix.
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::vault::stub::{client_for, settings, Stub};

    const LOOKUP_OK: &str = r#"{"data":{"display_name":"token-ops","ttl":0,"renewable":false}}"#;
    const KV_ANSWER: &str = r#"{"data":{"data":{"v":"x"},"metadata":{"version":3}}}"#;

    #[tokio::test]
    async fn a_403_is_retried_once_after_a_fresh_login_never_in_a_loop() {
        let vault = Stub::start(|seen| match seen.path.as_str() {
            LOOKUP_SELF => (200, LOOKUP_OK.into()),
            _ => (403, r#"{"errors":["permission denied"]}"#.into()),
        })
        .await;
        let client = client_for(&[&vault.addr]);
        let e = client
            .kv_read::<serde_json::Value>("secret", "k", Route::Any)
            .await
            .unwrap_err();
        assert_eq!(e, VaultError::Forbidden("secret/data/k".into()));
        assert_eq!(vault.hits("secret/data/k"), 2, "once, and once more");
        assert_eq!(vault.hits(LOOKUP_SELF), 2, "a fresh login before the retry");
    }

    #[tokio::test]
    async fn approle_logs_in_again_when_the_vault_refuses_its_token() {
        let logins = Arc::new(AtomicUsize::new(0));
        let counter = logins.clone();
        let vault = Stub::start(move |seen| match seen.path.as_str() {
            "auth/approle/login" => {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let token =
                    format!(r#"{{"auth":{{"client_token":"t{n}","lease_duration":3600}}}}"#);
                (200, token)
            }
            _ if seen.token.as_deref() == Some("t1") => (403, "{}".into()),
            _ => (200, KV_ANSWER.into()),
        })
        .await;
        let auth = VaultAuth::AppRole {
            mount: "approle".into(),
            role_id: "role".into(),
            secret_id: SecretString::from("sid".to_string()),
        };
        let client = VaultClient::new(&settings(&[&vault.addr], auth)).unwrap();
        let read = client
            .kv_read::<serde_json::Value>("secret", "k", Route::Any)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.version, 3);
        assert_eq!(logins.load(Ordering::SeqCst), 2);
        let tokens: Vec<_> = vault
            .seen()
            .into_iter()
            .filter(|s| s.path == "secret/data/k")
            .map(|s| s.token.unwrap_or_default())
            .collect();
        assert_eq!(tokens, ["t1", "t2"]);
    }

    #[tokio::test]
    async fn a_due_token_is_renewed_before_the_request_and_kept_when_renewal_is_refused() {
        for (renewal, ttl_after) in [(200, Some(Duration::from_secs(40))), (403, None)] {
            let vault = Stub::start(move |seen| match seen.path.as_str() {
                RENEW_SELF if renewal == 200 => (200, r#"{"auth":{"lease_duration":60}}"#.into()),
                RENEW_SELF => (403, "{}".into()),
                _ => (200, KV_ANSWER.into()),
            })
            .await;
            let client = client_for(&[&vault.addr]);
            let before = Instant::now();
            *client.session.lock().await = Some(Login {
                token: SecretString::from("t".to_string()),
                refresh_at: Some(before),
                renewable: true,
                display_name: None,
            });
            client
                .kv_read::<serde_json::Value>("secret", "k", Route::Any)
                .await
                .unwrap();
            let asked: Vec<_> = vault
                .seen()
                .into_iter()
                .map(|s| format!("{} {}", s.method, s.path))
                .collect();
            let want = [format!("POST {RENEW_SELF}"), "GET secret/data/k".into()];
            assert_eq!(asked, want, "{renewal}");
            let session = client.session.lock().await;
            let refresh = session.as_ref().unwrap().refresh_at;
            match ttl_after {
                Some(two_thirds) => assert!(refresh.unwrap() >= before + two_thirds),
                None => assert_eq!(refresh, None, "kept, not renewed again"),
            }
        }
    }

    #[tokio::test]
    async fn a_refused_token_is_an_authentication_error_naming_the_fix() {
        let vault = Stub::start(|_| (403, "{}".into())).await;
        let client = client_for(&[&vault.addr]);
        let e = client.identity().await.unwrap_err();
        assert!(
            matches!(&e, VaultError::Auth(m) if m.contains("bao login")),
            "{e}"
        );
    }
}
