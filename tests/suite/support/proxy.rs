//! A loopback HTTP proxy in front of a real `bao`, for the moments a real vault gives only in
//! a race: every request is forwarded as it came, and the proxy decides which to hold.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;

/// What a proxy is told of each request before it is forwarded: its method and path (with
/// the query), and how many requests came before it. The future it returns is awaited
/// first (it may never end: the request is then held unanswered).
pub type Gate =
    Arc<dyn Fn(&Method, &str, usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What a proxy is told of each answered request (its method and path).
pub type After = Arc<dyn Fn(&Method, &str) + Send + Sync>;

/// Starts a proxy to `upstream` on a loopback port; `gate` may hold any request, and
/// `after` is told of each answered one (method, path). Returns the proxy's address.
pub async fn start(upstream: &str, gate: Gate, after: After) -> String {
    let upstream = upstream.to_string();
    let http = reqwest::Client::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move |req: Request| {
        let (upstream, http, seen, gate, after) = (
            upstream.clone(),
            http.clone(),
            seen.clone(),
            gate.clone(),
            after.clone(),
        );
        async move {
            let path_q = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let method = req.method().clone();
            gate(&method, &path_q, seen.fetch_add(1, Ordering::SeqCst)).await;
            let mut fwd = http.request(method.clone(), format!("{upstream}{path_q}"));
            for (k, v) in req.headers() {
                if k.as_str().starts_with("x-vault") || k.as_str() == "content-type" {
                    fwd = fwd.header(k.clone(), v.clone());
                }
            }
            let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
            let answer = fwd.body(body.to_vec()).send().await.expect("bao answers");
            let mut out = Response::builder().status(answer.status().as_u16());
            for (k, v) in answer.headers() {
                if k.as_str() != "content-length" && k.as_str() != "transfer-encoding" {
                    out = out.header(k.clone(), v.clone());
                }
            }
            let body = answer.bytes().await.unwrap_or_default();
            after(&method, &path_q);
            out.body(Body::from(body)).unwrap()
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

/// A proxy to `upstream` that forwards the first `first` requests and holds every later
/// one until `release` is notified (then forwards it).
pub async fn holding_after(
    upstream: &str,
    first: usize,
    release: Arc<tokio::sync::Notify>,
) -> String {
    let gate: Gate = Arc::new(move |_, _, n| {
        let release = release.clone();
        Box::pin(async move {
            if n >= first {
                release.notified().await;
                // Let every other held request through too.
                release.notify_one();
            }
        })
    });
    start(upstream, gate, Arc::new(|_, _| {})).await
}
