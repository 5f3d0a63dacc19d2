//! Test support: a stand-in vault node on a loopback port that answers each request with
//! what a closure says and records what it was asked, for the tests where the HTTP exchange
//! itself is the behaviour (routing across nodes, login and re-login). It stops with the
//! test's runtime.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::client::VaultClient;
use super::http::Answer;
use super::settings::{OnRemove, VaultAuth, VaultSettings};

/// One request as the stub saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    /// The path after `/v1/`, with its query.
    pub(crate) path: String,
    /// The `X-Vault-Token` header.
    pub(crate) token: Option<String>,
}

type Answerer = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

#[derive(Clone)]
struct Shared {
    answer: Arc<Answerer>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running stub node.
pub(crate) struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub(crate) addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    /// Starts a node that answers every request with `answer(request)`: a status and a
    /// JSON body.
    pub(crate) async fn start(
        answer: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
    ) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared {
            answer: Arc::new(answer),
            seen: Arc::default(),
        };
        let seen = shared.seen.clone();
        let app = axum::Router::new().fallback(handle).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Stub { addr, seen }
    }

    /// Every request so far, in order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests asked for `path`.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let full = uri.path_and_query().map_or("", |p| p.as_str());
    let seen = Seen {
        method,
        path: full.strip_prefix("/v1/").unwrap_or(full).to_string(),
        token: headers
            .get("X-Vault-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let (status, body) = (shared.answer)(&seen);
    shared.seen.lock().unwrap().push(seen);
    let status = StatusCode::from_u16(status).unwrap();
    (status, [("Content-Type", "application/json")], body).into_response()
}

/// Settings for the nodes at `addrs` with `auth`.
pub(crate) fn settings(addrs: &[&str], auth: VaultAuth) -> VaultSettings {
    VaultSettings {
        addrs: addrs.iter().map(|a| a.to_string()).collect(),
        mount: "secret".into(),
        prefix: "simsid/app".into(),
        namespace: None,
        ca_file: None,
        auth,
        on_remove: OnRemove::Delete,
        retry_budget: None,
    }
}

/// A client of the nodes at `addrs` with the token `t`.
pub(crate) fn client_for(addrs: &[&str]) -> VaultClient {
    let auth = VaultAuth::Token {
        token: Some("t".to_string().into()),
        token_file: "/nonexistent/.vault-token".into(),
    };
    VaultClient::new(&settings(addrs, auth)).unwrap()
}

/// A loopback address where nothing listens (bound, then let go).
pub(crate) async fn closed_addr() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    addr
}

/// An answer with `status` and `body`, as a node would send it.
pub(crate) fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        date: None,
        body: zeroize::Zeroizing::new(body.as_bytes().to_vec()),
    }
}
