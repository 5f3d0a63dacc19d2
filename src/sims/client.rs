//! The HTTP client of SIMS ID: the STS token request, the site list and a site's clients.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::{self, HeaderValue};
use reqwest::{Response, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::domain::{Credential, OrgId, Site};
use crate::sims::error::{parse_retry_after, SimsError};
use crate::sims::settings::{fill_acr_values, SimsSettings};
use crate::sims::token::TokenCache;
use crate::sims::wire::{self, OAuthError, TokenAnswer};

/// The largest answer read from the API (a site list of many thousand schools fits).
const MAX_API_BODY: usize = 64 * 1024 * 1024;
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
                SimsError::Network("the APIM key is not a valid header value".into())
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
        let (_, body) = self.api_get(&self.inner.sites_url).await?;
        wire::parse_sites(&body)
    }

    /// One site's clients: `GET {api_base}/{application_id}/{organisation_id}/Clients`.
    /// `403` is `Err(Forbidden)` and `404` is `Err(NotFound)`; `204` is no clients.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, SimsError> {
        let url = checked_url(
            &format!("{}/{}/Clients", self.inner.app_base, org.as_str()),
            "API base",
        )?;
        let (status, body) = self.api_get(&url).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        wire::parse_clients(&body)
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
        let answer = self.request_token(client_id, secret, org).await?;
        drop(answer);
        Ok(())
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
        self.request_token(&s.client_id, &s.client_secret, &s.organisation_id)
            .await
    }

    /// A GET on the API with the cached token, renewed once on a `401`. Returns the
    /// status and body of a `2xx` answer.
    async fn api_get(&self, url: &Url) -> Result<(StatusCode, Zeroizing<Vec<u8>>), SimsError> {
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
        if !status.is_success() {
            return Err(SimsError::from_api_status(status, retry_after(&response)));
        }
        let body = read_body(response, MAX_API_BODY).await?;
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
                SimsError::Network("the APIM key is not a valid header value".into())
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
    ) -> Result<TokenAnswer, SimsError> {
        let s = &self.inner.settings;
        let acr_values = fill_acr_values(&s.acr_values, org);
        let mut fields = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret.expose_secret()),
            ("scope", s.scopes.as_str()),
        ];
        if !acr_values.trim().is_empty() {
            fields.push(("acr_values", acr_values.as_str()));
        }
        // The encoded body holds the secret: it moves into the request and is never logged.
        let body = serde_urlencoded::to_string(&fields)
            .map_err(|_| SimsError::Network("could not encode the token request".into()))?;
        drop(fields);
        self.inner.token_requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .inner
            .http
            .post(self.inner.sts_url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
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
            401 => Err(SimsError::CredentialsRefused),
            400 => {
                let body = read_body(response, MAX_STS_BODY).await?;
                match wire::parse_oauth_error(&body) {
                    OAuthError::InvalidClient | OAuthError::UnauthorizedClient => {
                        Err(SimsError::CredentialsRefused)
                    }
                    OAuthError::Other => Err(SimsError::Status { status: 400 }),
                }
            }
            429 => Err(SimsError::RateLimited {
                retry_after: retry_after(&response),
            }),
            s @ 500..=599 => Err(SimsError::Server { status: s }),
            s => Err(SimsError::Status { status: s }),
        }
    }
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

/// Parses a configured URL: http(s) only, no user info, plain http only to loopback.
fn checked_url(text: &str, what: &str) -> Result<Url, SimsError> {
    let url = Url::parse(text.trim())
        .map_err(|_| SimsError::Network(format!("the {what} is not a valid URL")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SimsError::Network(format!(
            "the {what} must not contain a user name or password"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(SimsError::Network(format!(
            "the {what} must use https (plain http is allowed only on loopback)"
        ))),
        _ => Err(SimsError::Network(format!(
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
    fn urls_must_be_https_except_on_loopback() {
        assert!(checked_url("https://sts.sims.co.uk/connect/token", "STS URL").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/connect/token", "STS URL").is_ok());
        assert!(checked_url("http://[::1]:8080/connect/token", "STS URL").is_ok());
        assert!(checked_url("http://localhost/connect/token", "STS URL").is_ok());
        let clear = checked_url("http://sts.sims.co.uk/connect/token", "STS URL");
        assert!(matches!(clear, Err(SimsError::Network(m)) if m.contains("https")));
        assert!(checked_url("ftp://sts.sims.co.uk/", "STS URL").is_err());
        assert!(checked_url("not a url", "STS URL").is_err());
        let userinfo = checked_url("https://user:hunter22@sts.sims.co.uk/", "STS URL");
        assert!(matches!(userinfo, Err(SimsError::Network(m)) if !m.contains("hunter22")));
    }
}
