//! One HTTP exchange with one node: the request (the `X-Vault-*` headers, the token as a
//! sensitive header), the answer (status, the server's `Date`, the body zeroed on drop), and
//! how a failure below HTTP is named. Every request is counted. No retry here: routing
//! decides where the next attempt goes.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::VaultError;

/// The HTTP side of a client: one connection pool, the namespace header, a request count.
pub(crate) struct Http {
    client: reqwest::Client,
    namespace: Option<String>,
    requests: AtomicU64,
}

impl Http {
    pub(crate) fn new(client: reqwest::Client, namespace: Option<String>) -> Http {
        Http {
            client,
            namespace,
            requests: AtomicU64::new(0),
        }
    }

    /// HTTP requests sent so far (every attempt, logins included).
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The namespace sent with every request.
    pub(crate) fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// One request to the node at `addr`, no retry.
    pub(crate) async fn send_once(
        &self,
        addr: &str,
        method: &Method,
        path: &str,
        body: Option<&Zeroizing<Vec<u8>>>,
        token: Option<&SecretString>,
    ) -> Result<Answer, reqwest::Error> {
        let url = format!("{addr}/v1/{path}");
        let mut req = self
            .client
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
        let limit = ANSWER_LIMIT.try_with(|l| *l).unwrap_or(MAX_ANSWER);
        match read_bounded(resp, limit).await? {
            Some(body) => Ok(Answer { status, date, body }),
            // Refused unread: the caller sees it as the node's refusal (413, not a node to
            // move on from), and its message says why.
            None => Ok(Answer {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                date,
                body: Zeroizing::new(
                    if limit == MAX_ANSWER {
                        format!(
                            r#"{{"errors":["the answer is larger than {} MiB: not read"]}}"#,
                            MAX_ANSWER >> 20
                        )
                    } else {
                        format!(
                            r#"{{"errors":["the answer is larger than {limit} bytes, more than it can hold: not read"]}}"#
                        )
                    }
                    .into_bytes(),
                ),
            }),
        }
    }
}

/// The largest answer read from the vault: far above any KV record or list simsid makes (a
/// view's chunk is at most 128 KiB, a list of 25,000 keys about 1 MiB), and a bound on what
/// a hostile or broken server can make us hold.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

tokio::task_local! {
    /// A tighter bound than [`MAX_ANSWER`] for the answers of one operation (a view's chunk
    /// is refused as soon as it passes what its manifest declares): set with
    /// [`with_answer_limit`].
    static ANSWER_LIMIT: usize;
}

/// Runs `fut` with every answer it reads bounded by `limit` bytes (at most [`MAX_ANSWER`]):
/// an answer above it is refused as it arrives, unread (a 413 naming the bound).
pub(crate) async fn with_answer_limit<F: std::future::Future>(limit: usize, fut: F) -> F::Output {
    ANSWER_LIMIT.scope(limit.min(MAX_ANSWER), fut).await
}

/// Reads an answer's body (zeroed on drop as it grows); `None` when it is above `limit`.
async fn read_bounded(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Zeroizing::new(Vec::new());
    while let Some(piece) = resp.chunk().await? {
        if body.len() + piece.len() > limit {
            return Ok(None);
        }
        // Grown by hand so that no unzeroed copy of a secret is left by a reallocation.
        if body.capacity() < body.len() + piece.len() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (body.len() + piece.len()).max(body.capacity() * 2),
            ));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&piece);
    }
    Ok(Some(body))
}

/// One answer: status, the server's `Date`, and body (zeroed on drop: it may hold a secret).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) date: Option<DateTime<Utc>>,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl Answer {
    /// The body as `T`; the error names the path and the kind of problem, never a value.
    pub(crate) fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, VaultError> {
        serde_json::from_slice(&self.body).map_err(|e| VaultError::Invalid {
            path: path.to_string(),
            message: format!("not the expected JSON ({})", classify_name(&e)),
        })
    }

    /// KV v2 on a node that just became active answers `400` "Waiting for the primary to
    /// upgrade from non-versioned to versioned data" for a moment: transient.
    pub(crate) fn is_kv_upgrading(&self) -> bool {
        self.status == StatusCode::BAD_REQUEST && self.errors().contains("Waiting for the primary")
    }

    /// The vault's `errors` list, sanitised, for messages.
    pub(crate) fn errors(&self) -> String {
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

    /// `Ok` for a `2xx`; `403` is [`VaultError::Forbidden`], any other status an error
    /// naming it.
    pub(crate) fn expect_ok(&self, path: &str) -> Result<(), VaultError> {
        match self.status.as_u16() {
            200..=299 => Ok(()),
            403 => Err(VaultError::Forbidden(path.to_string())),
            s => Err(VaultError::Status {
                status: s,
                path: path.to_string(),
                message: self.errors(),
            }),
        }
    }
}

/// The kind of a JSON error, without serde's message (it may quote a value).
fn classify_name(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "unexpected fields",
        serde_json::error::Category::Eof => "truncated",
    }
}

/// Why a request failed below HTTP, for messages: never "request failed" alone.
pub(crate) fn transport_reason(e: &reqwest::Error) -> String {
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

/// A TLS failure named as such (docs/reference/vault.md "Settings"): an untrusted certificate, a name
/// mismatch, or another handshake failure; `None` for any other error.
pub(crate) fn tls_failure(e: &reqwest::Error) -> Option<String> {
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

/// The error for a request that got no answer from the node at `addr`: a TLS failure named
/// as such, anything else as the vault being unreachable.
pub(crate) fn unanswered(addr: &str, e: &reqwest::Error) -> VaultError {
    match tls_failure(e) {
        Some(tls) => VaultError::Tls(format!("{addr}: {tls}")),
        None => VaultError::Unavailable(format!("{addr}: {}", transport_reason(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::stub::answer;

    #[tokio::test]
    async fn an_answer_above_the_bound_is_refused_unread_and_one_below_is_read() {
        use crate::vault::stub::Stub;
        let big = Stub::start(|_| (200, "x".repeat(MAX_ANSWER + 1))).await;
        let small = Stub::start(|_| (200, r#"{"ok":true}"#.to_string())).await;
        let http = Http::new(reqwest::Client::new(), None);
        let refused = http
            .send_once(&big.addr, &Method::GET, "secret/data/p", None, None)
            .await
            .unwrap();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(refused.body.len() < 1024);
        assert!(
            refused.errors().contains("larger than 64 MiB"),
            "{}",
            refused.errors()
        );
        let read = http
            .send_once(&small.addr, &Method::GET, "secret/data/p", None, None)
            .await
            .unwrap();
        assert_eq!(
            (read.status, &read.body[..]),
            (StatusCode::OK, &br#"{"ok":true}"#[..])
        );
    }

    #[test]
    fn the_vaults_errors_are_quoted_sanitised_else_the_status_reason() {
        let a = answer(400, r#"{"errors":["bad \u001b[31mthing","two"]}"#);
        assert_eq!(a.errors(), "bad \\u{1b}[31mthing; two");
        assert_eq!(answer(503, "<html>").errors(), "Service Unavailable");
    }

    #[test]
    fn a_kv_upgrade_in_progress_is_told_apart_from_another_400() {
        let upgrading = r#"{"errors":["Waiting for the primary to upgrade from non-versioned to versioned data. This backend will be unavailable for a brief period and will resume service shortly."]}"#;
        assert!(answer(400, upgrading).is_kv_upgrading());
        assert!(!answer(400, r#"{"errors":["check-and-set"]}"#).is_kv_upgrading());
        assert!(!answer(500, upgrading).is_kv_upgrading());
    }

    #[test]
    fn expect_ok_names_403_and_other_statuses() {
        assert_eq!(answer(204, "").expect_ok("p"), Ok(()));
        assert_eq!(
            answer(403, "").expect_ok("p"),
            Err(VaultError::Forbidden("p".into()))
        );
        assert!(matches!(
            answer(500, "").expect_ok("p"),
            Err(VaultError::Status { status: 500, .. })
        ));
    }

    #[test]
    fn a_json_error_never_quotes_the_body() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Want {
            n: u64,
        }
        let e = answer(200, r#"{"n":"s3cret-value"}"#)
            .json::<Want>("p")
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("unexpected fields"), "{e}");
    }
}
