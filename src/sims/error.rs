//! What can go wrong talking to SIMS ID. No variant carries a response body, a secret or
//! a serde message built from an answer.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

/// The most characters of a remote OAuth code or description kept in a message.
pub const MAX_REMOTE_TEXT: usize = 200;

/// What an STS said when it refused a token request: its OAuth `error` code and
/// `error_description`, sanitised for a terminal and bounded ([`crate::sanitize::bounded`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthDetail {
    /// The `error` code (`invalid_client`, `invalid_scope`…), empty when the answer had none.
    pub code: String,
    /// The `error_description`, when there was one.
    pub description: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The STS challenged with `WWW-Authenticate: Basic` while the secret was sent in the
    /// form body: it wants HTTP Basic client authentication.
    pub wants_basic: bool,
}

impl OAuthDetail {
    /// Builds a detail from remote text, sanitising and bounding it.
    pub fn new(code: &str, description: Option<&str>, status: u16, wants_basic: bool) -> Self {
        OAuthDetail {
            code: crate::sanitize::bounded(code, MAX_REMOTE_TEXT),
            description: description
                .filter(|d| !d.trim().is_empty())
                .map(|d| crate::sanitize::bounded(d, MAX_REMOTE_TEXT)),
            status,
            wants_basic,
        }
    }
}

impl std::fmt::Display for OAuthDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.is_empty() {
            write!(f, "HTTP {} without an OAuth error code", self.status)?;
        } else {
            write!(f, "{} (HTTP {})", self.code, self.status)?;
        }
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        if self.wants_basic {
            f.write_str(
                "; the STS asks for HTTP Basic client authentication: set \
                 `sts_client_auth = \"basic\"`",
            )?;
        }
        Ok(())
    }
}

/// An error from the SIMS ID client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimsError {
    /// The STS refused the client itself (`invalid_client`, `unauthorized_client`, or a
    /// `401` without another code).
    #[error("the STS refused the client id and secret: {0}")]
    CredentialsRefused(OAuthDetail),
    /// The STS refused the token request with another OAuth error (`invalid_scope`,
    /// `invalid_request`, `unsupported_grant_type`…).
    #[error("the STS refused the token request: {0}")]
    OAuth(OAuthDetail),
    /// The STS granted fewer scopes than were asked for (RFC 6749 §3.3): the partner API
    /// would hide credentials, so nothing fetched with this token can be trusted.
    #[error(
        "the STS granted fewer scopes than asked for (missing: {missing}); the partner API \
         would hide credentials, so the harvest stops"
    )]
    ScopeNarrowed { missing: String },
    /// A `403` whose `WWW-Authenticate: Bearer error="…"` challenge is about our token
    /// (e.g. `insufficient_scope`), not about the site.
    #[error(
        "SIMS ID refused our access token (403, {error}); the harvest stops rather than read \
         this as \"no credentials\""
    )]
    TokenForbidden { error: String },
    /// A `3xx` answer: redirects are never followed (a secret could travel elsewhere).
    #[error("SIMS ID answered with a redirect (HTTP {status}), not followed")]
    Redirect { status: u16 },
    /// A Clients answer listed the same client id twice with different secrets.
    #[error(
        "the Clients answer lists client id `{client_id}` twice with different secrets; \
         neither is kept"
    )]
    DuplicateClient { client_id: String },
    /// A Clients answer holds a field longer than `simsid` accepts (docs/reference/vault.md sync rule 7):
    /// the site fails at parse time rather than every later vault write.
    #[error(
        "the Clients answer has a {field} of {len} bytes (at most {limit} are accepted); \
         the site's credentials are not taken"
    )]
    FieldTooLong {
        field: &'static str,
        len: usize,
        limit: usize,
    },
    /// The API answered `401` even with a freshly issued token.
    #[error("SIMS ID refused the access token (401 even after renewing it)")]
    Unauthorized,
    /// The API answered `403`.
    #[error("SIMS ID forbids this request (403)")]
    Forbidden,
    /// The API answered `404`.
    #[error("SIMS ID does not know this resource (404)")]
    NotFound,
    /// `429`, with the delay `Retry-After` asked for, if any.
    #[error("rate limited by SIMS ID{}", show_retry_after(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A `5xx` answer (gateway pages included; the body is never kept).
    #[error("SIMS ID server error {status}")]
    Server { status: u16 },
    /// Any other unexpected status.
    #[error("unexpected HTTP status {status} from SIMS ID")]
    Status { status: u16 },
    /// The request did not finish within the configured timeout.
    #[error("request timed out")]
    Timeout,
    /// A transport error (connection refused, TLS, DNS…), without the URL.
    #[error("network error: {0}")]
    Network(String),
    /// A request that cannot be built from the settings (a bad URL or header value): never
    /// retried, and the message names the setting, never its value.
    #[error("{0}")]
    Request(String),
    /// The answer did not have the expected shape; names fields, never values.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

fn show_retry_after(delay: &Option<Duration>) -> String {
    match delay {
        Some(d) => format!(" (retry after {} s)", ceil_secs(*d)),
        None => String::new(),
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl SimsError {
    /// Worth retrying: timeouts, `429`, `500`/`502`/`503`/`504` and transport errors.
    pub fn is_transient(&self) -> bool {
        match self {
            SimsError::Timeout | SimsError::RateLimited { .. } | SimsError::Network(_) => true,
            SimsError::Server { status } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The delay the server asked for (`Retry-After` of a `429`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SimsError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The error for an unexpected API status (`401` is handled by the caller).
    pub(crate) fn from_api_status(status: StatusCode, retry_after: Option<Duration>) -> Self {
        match status.as_u16() {
            401 => SimsError::Unauthorized,
            403 => SimsError::Forbidden,
            404 => SimsError::NotFound,
            429 => SimsError::RateLimited { retry_after },
            s @ 300..=399 => SimsError::Redirect { status: s },
            s @ 500..=599 => SimsError::Server { status: s },
            s => SimsError::Status { status: s },
        }
    }

    /// The error for a transport failure: timeouts recognised, the URL stripped.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            return SimsError::Timeout;
        }
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        let mut depth = 0;
        while let Some(cause) = source {
            if depth >= 8 {
                break;
            }
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
            depth += 1;
        }
        SimsError::Network(text)
    }
}

/// Reads a `Retry-After` value: delay seconds or an HTTP date (a date in the past gives 0).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        for e in [
            SimsError::Timeout,
            SimsError::RateLimited { retry_after: None },
            SimsError::Server { status: 500 },
            SimsError::Server { status: 502 },
            SimsError::Server { status: 503 },
            SimsError::Server { status: 504 },
            SimsError::Network("connection refused".into()),
        ] {
            assert!(e.is_transient(), "{e:?}");
        }
        for e in [
            SimsError::CredentialsRefused(OAuthDetail::default()),
            SimsError::Unauthorized,
            SimsError::Forbidden,
            SimsError::NotFound,
            SimsError::Request("the token URL is not a valid URL".into()),
            SimsError::Server { status: 501 },
            SimsError::Status { status: 400 },
            SimsError::Malformed("x".into()),
        ] {
            assert!(!e.is_transient(), "{e:?}");
        }
    }

    #[test]
    fn messages_are_one_line_and_readable() {
        let two = SimsError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        };
        assert_eq!(two.to_string(), "rate limited by SIMS ID (retry after 2 s)");
        assert_eq!(two.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(
            SimsError::RateLimited { retry_after: None }.to_string(),
            "rate limited by SIMS ID"
        );
        assert_eq!(
            SimsError::Server { status: 502 }.to_string(),
            "SIMS ID server error 502"
        );
        assert_eq!(
            SimsError::CredentialsRefused(OAuthDetail::new("invalid_client", None, 400, false))
                .to_string(),
            "the STS refused the client id and secret: invalid_client (HTTP 400)"
        );
        let hostile = OAuthDetail::new(
            "invalid_scope",
            Some("bad\u{1b}]52;c;SGVsbG8=\u{7}"),
            400,
            false,
        );
        assert_eq!(
            SimsError::OAuth(hostile).to_string(),
            "the STS refused the token request: invalid_scope (HTTP 400): bad\\u{1b}]52;c;SGVsbG8=\\u{7}"
        );
        assert_eq!(SimsError::Timeout.to_string(), "request timed out");
        assert_eq!(SimsError::Forbidden.retry_after(), None);
    }

    #[test]
    fn api_statuses_map_to_variants() {
        let map = |s: u16| SimsError::from_api_status(StatusCode::from_u16(s).unwrap(), None);
        assert_eq!(map(401), SimsError::Unauthorized);
        assert_eq!(map(403), SimsError::Forbidden);
        assert_eq!(map(404), SimsError::NotFound);
        assert_eq!(map(429), SimsError::RateLimited { retry_after: None });
        assert_eq!(map(503), SimsError::Server { status: 503 });
        assert_eq!(map(405), SimsError::Status { status: 405 });
        assert_eq!(map(302), SimsError::Redirect { status: 302 });
        assert_eq!(map(307), SimsError::Redirect { status: 307 });
        assert!(SimsError::Redirect { status: 307 }
            .to_string()
            .contains("redirect (HTTP 307), not followed"));
    }
}
