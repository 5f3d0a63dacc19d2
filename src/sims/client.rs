//! The HTTP client of SIMS ID: the STS token request, the site list and a site's clients.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::{self, HeaderValue};
use reqwest::{Response, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::error::{parse_retry_after, OAuthDetail, SimsError, MAX_REMOTE_TEXT};
use super::settings::{fill_acr_values, ClientAuth, SimsSettings};
use super::token::TokenCache;
use crate::domain::{Credential, OrgId, Site};
use crate::sims::wire::{self, TokenAnswer};

/// The largest site list read (a list of many thousand schools fits).
pub const MAX_SITE_LIST_BODY: usize = 64 * 1024 * 1024;
/// The largest Clients answer read: a site has a handful of clients, and many are read at
/// once, so memory stays bounded whatever a server sends.
pub const MAX_CLIENTS_BODY: usize = 1024 * 1024;
/// The largest answer read from the STS.
const MAX_STS_BODY: usize = 256 * 1024;
/// The header carrying the APIM subscription key.
const APIM_HEADER: &str = "Ocp-Apim-Subscription-Key";

/// The SIMS ID client: cheap to clone, shared by concurrent tasks, with one cached token.
#[derive(Clone)]
pub struct SimsClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimsClient")
            .field("sts_url", &self.inner.sts_url.as_str())
            .field("application_id", &self.inner.settings.application_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: SimsSettings,
    http: reqwest::Client,
    sts_url: Url,
    sites_url: Url,
    /// `{api_base}/{application_id}`: the clients URL is this plus `/{org}/Clients`.
    app_base: String,
    token: TokenCache,
    token_requests: AtomicU64,
}

impl SimsClient {
    /// Builds a client. Refuses URLs that are not http(s), carry user info, or use plain
    /// http to anything but a loopback address (secrets would travel in clear).
    #[allow(clippy::disallowed_methods)] // the bytes go into a token request body or an Authorization header
    pub fn new(settings: SimsSettings) -> Result<Self, SimsError> {
        let sts_url = checked_url(&settings.sts_url, "STS URL")?;
        let app_base = format!(
            "{}/{}",
            settings.api_base.trim_end_matches('/'),
            settings.application_id.as_str()
        );
        let sites_url = checked_url(&format!("{app_base}/GetSiteByApplication"), "API base")?;
        if let Some(key) = &settings.apim_key {
            HeaderValue::from_str(key.expose_secret()).map_err(|_| {
                SimsError::Request("the APIM key is not a valid header value".into())
            })?;
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("simsid-console/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(SimsError::from_reqwest)?;
        Ok(SimsClient {
            inner: Arc::new(Inner {
                settings,
                http,
                sts_url,
                sites_url,
                app_base,
                token: TokenCache::default(),
                token_requests: AtomicU64::new(0),
            }),
        })
    }

    /// The sites using the application: `GET {api_base}/{application_id}/GetSiteByApplication`.
    #[tracing::instrument(skip_all)]
    pub async fn sites(&self) -> Result<Vec<Site>, SimsError> {
        let (_, body) = self
            .api_get(&self.inner.sites_url, MAX_SITE_LIST_BODY)
            .await?;
        wire::parse_sites(&body)
    }

    /// One site's clients: `GET {api_base}/{application_id}/{organisation_id}/Clients`.
    /// `403` is `Err(Forbidden)` and `404` is `Err(NotFound)`; `204` is no clients. A `403`
    /// with a `WWW-Authenticate: Bearer error="…"` challenge is `Err(TokenForbidden)`: it is
    /// about our token, not the site. The same client id twice with different secrets is
    /// `Err(DuplicateClient)`; exact duplicates count once.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, SimsError> {
        let url = checked_url(
            &format!("{}/{}/Clients", self.inner.app_base, org.as_str()),
            "API base",
        )?;
        let (status, body) = self.api_get(&url, MAX_CLIENTS_BODY).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        dedupe_clients(check_lengths(wire::parse_clients(&body)?)?)
    }

    /// A token request with a school's own credential (the scopes of the settings, the
    /// `acr_values` template filled with `org`). `Ok(())` when a token is issued (it is
    /// dropped, never cached); `Err(CredentialsRefused)` when the STS refuses it.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn verify(
        &self,
        org: &OrgId,
        client_id: &str,
        secret: &SecretString,
    ) -> Result<(), SimsError> {
        let scopes = self.inner.settings.verify_scopes.clone();
        let answer = self.request_token(client_id, secret, org, &scopes).await?;
        drop(answer);
        Ok(())
    }

    /// The STS token endpoint this client asks (for messages: it holds no secret).
    pub fn sts_url(&self) -> &str {
        &self.inner.settings.sts_url
    }

    /// How many token requests this client has sent (its own and verify's).
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// The integrator's token, from the cache or the STS.
    async fn token(&self) -> Result<Arc<SecretString>, SimsError> {
        self.inner.token.get(|| self.integrator_token()).await
    }

    async fn integrator_token(&self) -> Result<TokenAnswer, SimsError> {
        let s = &self.inner.settings;
        let answer = self
            .request_token(
                &s.client_id,
                &s.client_secret,
                &s.organisation_id,
                &s.scopes,
            )
            .await?;
        if let Some(missing) = missing_scopes(&s.scopes, answer.scope.as_deref()) {
            return Err(SimsError::ScopeNarrowed { missing });
        }
        Ok(answer)
    }

    /// A GET on the API with the cached token, renewed once on a `401`. Returns the
    /// status and body of a `2xx` answer.
    async fn api_get(
        &self,
        url: &Url,
        limit: usize,
    ) -> Result<(StatusCode, Zeroizing<Vec<u8>>), SimsError> {
        let token = self.token().await?;
        let mut response = self.send_api(url, &token).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            drop(response);
            tracing::debug!("API refused the token; renewing it once");
            let fresh = self
                .inner
                .token
                .renew(&token, || self.integrator_token())
                .await?;
            drop(token);
            response = self.send_api(url, &fresh).await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                return Err(SimsError::Unauthorized);
            }
        }
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "API answered");
        if status == StatusCode::FORBIDDEN {
            if let Some(error) = bearer_challenge_error(response.headers()) {
                return Err(SimsError::TokenForbidden { error });
            }
            // Some servers (Authlib) leave the challenge out and say it in the body.
            let code = match read_body(response, MAX_STS_BODY).await {
                Ok(body) => wire::parse_oauth_error(&body).code,
                Err(_) => None,
            };
            return Err(match code.as_deref() {
                Some(code @ ("insufficient_scope" | "invalid_token")) => {
                    SimsError::TokenForbidden {
                        error: code.to_string(),
                    }
                }
                _ => SimsError::Forbidden,
            });
        }
        if !status.is_success() {
            return Err(SimsError::from_api_status(status, retry_after(&response)));
        }
        let body = read_body(response, limit).await?;
        Ok((status, body))
    }

    #[allow(clippy::disallowed_methods)] // the bytes go into a token request body or an Authorization header
    async fn send_api(&self, url: &Url, token: &SecretString) -> Result<Response, SimsError> {
        let bearer = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
        let mut authorization = HeaderValue::from_str(&bearer).map_err(|_| {
            SimsError::Malformed("token answer: field `access_token` is not a valid token".into())
        })?;
        drop(bearer);
        authorization.set_sensitive(true);
        let mut request = self
            .inner
            .http
            .get(url.clone())
            .header(header::AUTHORIZATION, authorization)
            .header(header::ACCEPT, "application/json");
        if let Some(key) = &self.inner.settings.apim_key {
            let mut value = HeaderValue::from_str(key.expose_secret()).map_err(|_| {
                SimsError::Request("the APIM key is not a valid header value".into())
            })?;
            value.set_sensitive(true);
            request = request.header(APIM_HEADER, value);
        }
        request.send().await.map_err(SimsError::from_reqwest)
    }

    /// One client-credentials token request to the STS.
    #[allow(clippy::disallowed_methods)] // the bytes go into a token request body or an Authorization header
    async fn request_token(
        &self,
        client_id: &str,
        secret: &SecretString,
        org: &OrgId,
        scopes: &str,
    ) -> Result<TokenAnswer, SimsError> {
        let s = &self.inner.settings;
        let acr_values = fill_acr_values(&s.acr_values, org);
        let mut fields = vec![("grant_type", "client_credentials")];
        if s.client_auth == ClientAuth::Post {
            fields.push(("client_id", client_id));
            fields.push(("client_secret", secret.expose_secret()));
        }
        if !scopes.trim().is_empty() {
            fields.push(("scope", scopes));
        }
        if !acr_values.trim().is_empty() {
            fields.push(("acr_values", acr_values.as_str()));
        }
        // The encoded body holds the secret: it moves into the request and is never logged.
        let body = serde_urlencoded::to_string(&fields)
            .map_err(|_| SimsError::Request("could not encode the token request".into()))?;
        drop(fields);
        self.inner.token_requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .inner
            .http
            .post(self.inner.sts_url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if s.client_auth == ClientAuth::Basic {
            request = request.header(
                header::AUTHORIZATION,
                basic_authorization(client_id, secret)?,
            );
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(SimsError::from_reqwest)?;
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "STS answered a token request");
        if status.is_success() {
            let body = read_body(response, MAX_STS_BODY).await?;
            return wire::parse_token(&body);
        }
        match status.as_u16() {
            code @ (400 | 401) => {
                let wants_basic =
                    s.client_auth == ClientAuth::Post && challenges_basic(response.headers());
                let body = read_body(response, MAX_STS_BODY).await?;
                let error = wire::parse_oauth_error(&body);
                let detail = OAuthDetail::new(
                    error.code.as_deref().unwrap_or(""),
                    error.description.as_deref(),
                    code,
                    wants_basic,
                );
                // A bare 401 is a refused client too (standard OAuth).
                if error.refuses_client() || (code == 401 && error.code.is_none()) {
                    Err(SimsError::CredentialsRefused(detail))
                } else if error.code.is_some() {
                    Err(SimsError::OAuth(detail))
                } else {
                    Err(SimsError::Status { status: code })
                }
            }
            429 => Err(SimsError::RateLimited {
                retry_after: retry_after(&response),
            }),
            s @ 300..=399 => Err(SimsError::Redirect { status: s }),
            s @ 500..=599 => Err(SimsError::Server { status: s }),
            s => Err(SimsError::Status { status: s }),
        }
    }
}

/// `Authorization: Basic …` for a token request (RFC 6749 §2.3.1: id and secret are
/// form-urlencoded before base64), marked sensitive and wiped after use.
#[allow(clippy::disallowed_methods)] // the bytes go into the Authorization header of a token request
fn basic_authorization(client_id: &str, secret: &SecretString) -> Result<HeaderValue, SimsError> {
    use base64::Engine as _;
    // `=value`, the form encoding of one unnamed field, without its `=`.
    let encode = |s: &str| -> Zeroizing<String> {
        let field = Zeroizing::new(serde_urlencoded::to_string([("", s)]).unwrap_or_default());
        Zeroizing::new(field.strip_prefix('=').unwrap_or_default().to_string())
    };
    let pair = Zeroizing::new(format!(
        "{}:{}",
        encode(client_id).as_str(),
        encode(secret.expose_secret()).as_str()
    ));
    let value = Zeroizing::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
    ));
    let mut header = HeaderValue::from_str(&value)
        .map_err(|_| SimsError::Request("the client id cannot be sent as HTTP Basic".into()))?;
    header.set_sensitive(true);
    Ok(header)
}

/// Whether an answer challenges with `WWW-Authenticate: Basic`.
fn challenges_basic(headers: &header::HeaderMap) -> bool {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.trim_start()
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
        })
}

/// The `error` of a `WWW-Authenticate: Bearer error="…"` challenge (sanitised, bounded), if
/// the answer has one: such a `403` is about our token (RFC 6750 §3.1).
fn bearer_challenge_error(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let v = v.trim_start();
            let rest = v
                .get(..6)
                .filter(|s| s.eq_ignore_ascii_case("bearer"))
                .map(|_| &v[6..])?;
            let at = rest.to_ascii_lowercase().find("error=")?;
            let value = rest[at + 6..].trim_start();
            let value = match value.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or(""),
                None => value.split([',', ' ']).next().unwrap_or(""),
            };
            Some(crate::sanitize::bounded(
                if value.is_empty() { "error" } else { value },
                MAX_REMOTE_TEXT,
            ))
        })
}

/// The scopes asked for that a token answer's `scope` does not grant (space separated), or
/// `None` when all were granted or the answer did not say (RFC 6749 §5.1: omitted means
/// as asked).
fn missing_scopes(asked: &str, granted: Option<&str>) -> Option<String> {
    let granted: std::collections::BTreeSet<&str> = granted?.split_whitespace().collect();
    let missing: Vec<&str> = asked
        .split_whitespace()
        .filter(|s| !granted.contains(s))
        .collect();
    (!missing.is_empty()).then(|| crate::sanitize::bounded(&missing.join(" "), MAX_REMOTE_TEXT))
}

/// The longest client id accepted (bytes).
pub const MAX_CLIENT_ID_BYTES: usize = 256;
/// The longest credential description accepted (bytes).
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// Refuses a Clients answer with a client id over [`MAX_CLIENT_ID_BYTES`] or a description
/// over [`MAX_DESCRIPTION_BYTES`]: its site fails with a clear error.
fn check_lengths(creds: Vec<Credential>) -> Result<Vec<Credential>, SimsError> {
    for c in &creds {
        if c.client_id.len() > MAX_CLIENT_ID_BYTES {
            return Err(SimsError::FieldTooLong {
                field: "client id",
                len: c.client_id.len(),
                limit: MAX_CLIENT_ID_BYTES,
            });
        }
        let description = c.description.as_deref().map_or(0, str::len);
        if description > MAX_DESCRIPTION_BYTES {
            return Err(SimsError::FieldTooLong {
                field: "description",
                len: description,
                limit: MAX_DESCRIPTION_BYTES,
            });
        }
    }
    Ok(creds)
}

/// Keeps one of each exact duplicate (same client id and secret); the same client id with
/// different secrets is an error naming it (sanitised): keeping either would be a guess.
#[allow(clippy::disallowed_methods)] // compares two secrets of one answer for equality
fn dedupe_clients(creds: Vec<Credential>) -> Result<Vec<Credential>, SimsError> {
    let mut kept: Vec<Credential> = Vec::with_capacity(creds.len());
    for c in creds {
        match kept.iter().find(|k| k.client_id == c.client_id) {
            Some(k) if k.secret.expose_secret() == c.secret.expose_secret() => {}
            Some(_) => {
                return Err(SimsError::DuplicateClient {
                    client_id: crate::sanitize::bounded(&c.client_id, MAX_REMOTE_TEXT),
                })
            }
            None => kept.push(c),
        }
    }
    Ok(kept)
}

/// The `Retry-After` of an answer, if it has a readable one.
fn retry_after(response: &Response) -> Option<std::time::Duration> {
    let value = response.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// Reads an answer's body into a buffer wiped on drop, refusing more than `limit` bytes.
async fn read_body(mut response: Response, limit: usize) -> Result<Zeroizing<Vec<u8>>, SimsError> {
    let too_big = || SimsError::Malformed(format!("answer larger than {limit} bytes"));
    let expected = response.content_length().unwrap_or(0);
    if expected > limit as u64 {
        return Err(too_big());
    }
    // Reserve up front so that growing the buffer leaves no unwiped copies behind.
    let mut body = Zeroizing::new(Vec::with_capacity(
        usize::try_from(expected).unwrap_or(limit).min(limit),
    ));
    while let Some(chunk) = response.chunk().await.map_err(SimsError::from_reqwest)? {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        if body.capacity() < body.len() + chunk.len() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (body.len() + chunk.len())
                    .max(body.capacity() * 2)
                    .min(limit),
            ));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Checks a configured endpoint URL before any network call: http(s) only, no user info,
/// plain `http://` only to loopback. The error names the setting, never a password.
pub fn check_endpoint(text: &str, what: &str) -> Result<(), String> {
    checked_url(text, what).map(|_| ()).map_err(|e| match e {
        SimsError::Request(m) => m,
        other => other.to_string(),
    })
}

/// Parses a configured URL: http(s) only, no user info, plain http only to loopback.
fn checked_url(text: &str, what: &str) -> Result<Url, SimsError> {
    let url = Url::parse(text.trim())
        .map_err(|_| SimsError::Request(format!("the {what} is not a valid URL")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SimsError::Request(format!(
            "the {what} must not contain a user name or password"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(SimsError::Request(format!(
            "the {what} must use https (plain http is allowed only on loopback)"
        ))),
        _ => Err(SimsError::Request(format!(
            "the {what} must be an https URL"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_and_basic_challenges_are_recognised() {
        let mut h = header::HeaderMap::new();
        assert_eq!(bearer_challenge_error(&h), None);
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"x\", error=\"insufficient_scope\", scope=\"a\"",
            ),
        );
        assert_eq!(
            bearer_challenge_error(&h).as_deref(),
            Some("insufficient_scope")
        );
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer_challenge_error(&h), None);
        assert!(!challenges_basic(&h));
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sts\""),
        );
        assert!(challenges_basic(&h));
    }

    #[test]
    fn narrowed_scopes_are_named() {
        let asked = "rapapi partner partner-read partner-write";
        assert_eq!(missing_scopes(asked, None), None);
        assert_eq!(
            missing_scopes(asked, Some("partner-write rapapi partner partner-read")),
            None
        );
        assert_eq!(
            missing_scopes(asked, Some("rapapi partner")).as_deref(),
            Some("partner-read partner-write")
        );
    }

    #[test]
    fn duplicate_client_ids_fail_exact_duplicates_count_once() {
        let c = |id: &str, secret: &str| Credential {
            client_id: id.into(),
            secret: SecretString::from(secret.to_string()),
            description: None,
        };
        let kept = dedupe_clients(vec![c("a", "1"), c("a", "1"), c("b", "2")]).unwrap();
        assert_eq!(kept.len(), 2);
        let err = dedupe_clients(vec![
            c("a", "1"),
            c("x\u{1b}[2J", "2"),
            c("x\u{1b}[2J", "3"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            SimsError::DuplicateClient {
                client_id: "x\\u{1b}[2J".into()
            }
        );
        assert!(!err.to_string().contains('\u{1b}'));
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(checked_url("https://sts.sims.co.uk/connect/token", "STS URL").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/connect/token", "STS URL").is_ok());
        assert!(checked_url("http://[::1]:8080/connect/token", "STS URL").is_ok());
        assert!(checked_url("http://localhost/connect/token", "STS URL").is_ok());
        let clear = checked_url("http://sts.sims.co.uk/connect/token", "STS URL");
        assert!(matches!(clear, Err(SimsError::Request(m)) if m.contains("https")));
        assert!(checked_url("ftp://sts.sims.co.uk/", "STS URL").is_err());
        assert!(checked_url("not a url", "STS URL").is_err());
        let userinfo = checked_url("https://user:hunter22@sts.sims.co.uk/", "STS URL");
        assert!(matches!(userinfo, Err(SimsError::Request(m)) if !m.contains("hunter22")));
    }
}
