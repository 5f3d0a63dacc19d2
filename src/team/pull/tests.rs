//! A pull against a vault that answers garbage (docs/reference/vault.md "Trust": a pull is bounded by
//! what the manifest declares). A real vault never answers this way, so a loopback stub
//! node stands in; each case counts the requests it was asked and prints the time and the
//! process's peak memory (Linux: `VmHWM`, reset before each case) for the report.

use std::time::Instant;

use super::*;
use crate::vault::stub::{client_for, settings, Stub};
use crate::vault::VaultAuth;

const MANIFEST_PATH: &str = "secret/data/simsid/app/_simsid/manifest";
const CHUNKS_PATH: &str = "secret/data/simsid/app/_simsid/chunks/";

/// A chunk name for `n` (a SHA-256, as a manifest names them).
fn name(n: usize) -> String {
    sha256_hex(format!("chunk {n}").as_bytes())
}

/// A manifest naming `chunks` (name, declared bytes), as JSON.
fn manifest(chunks: &[(String, usize)]) -> String {
    serde_json::json!({
        "format": crate::team::FORMAT,
        "sequence": 1,
        "run_id": uuid::Uuid::from_u128(1),
        "published_at": "2026-01-01T00:00:00Z",
        "identity": "approle",
        "sites": 0,
        "credentials": 0,
        "runs": 0,
        "chunks": chunks.iter().map(|(n, b)| serde_json::json!({"name": n, "bytes": b})).collect::<Vec<_>>(),
        "tail": "",
        "stream_sha256": sha256_hex(b""),
    })
    .to_string()
}

/// A KV v2 read's answer holding `body`.
fn kv_answer(body: &str) -> String {
    serde_json::json!({"data": {"data": {"body": body}, "metadata": {"version": 1}}}).to_string()
}

/// Peak resident memory of this process in KiB (Linux), reset to the current size first
/// when `reset`.
fn peak_kib(reset: bool) -> Option<u64> {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Pulls through a stub answering the manifest with `manifest` and every chunk with
/// `chunk(name)`; returns the pull's outcome and the stub (for its request count), and
/// prints what the case cost.
async fn pull_from(
    case: &str,
    manifest: String,
    chunk: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (TeamResult<Fetched>, Stub) {
    let stub = Stub::start(move |seen| {
        if seen.path == MANIFEST_PATH {
            (200, kv_answer(&manifest))
        } else if let Some(name) = seen.path.strip_prefix(CHUNKS_PATH) {
            chunk(name)
        } else if seen.path == "auth/token/lookup-self" {
            (
                200,
                r#"{"data":{"display_name":"token","ttl":0,"renewable":false}}"#.into(),
            )
        } else if seen.path == "sys/leader" {
            (200, r#"{"ha_enabled":false,"is_self":true}"#.into())
        } else {
            (404, r#"{"errors":[]}"#.into())
        }
    })
    .await;
    let client = client_for(&[&stub.addr]);
    let settings = settings(
        &[&stub.addr],
        VaultAuth::Token {
            token: Some("t".to_string().into()),
            token_file: "/nonexistent/.vault-token".into(),
        },
    );
    peak_kib(true);
    let started = Instant::now();
    let outcome = fetch_view(&client, &settings, None, HashMap::new(), false).await;
    let took = started.elapsed();
    println!(
        "{case}: {} requests ({} for chunks), {:.2} s, peak memory {} MiB",
        stub.seen().len(),
        chunk_requests(&stub),
        took.as_secs_f64(),
        peak_kib(false).map_or("unknown".to_string(), |k| (k / 1024).to_string())
    );
    (outcome, stub)
}

/// The requests for chunks the stub was asked.
fn chunk_requests(stub: &Stub) -> usize {
    stub.seen()
        .iter()
        .filter(|s| s.path.starts_with(CHUNKS_PATH))
        .count()
}

fn failure(outcome: TeamResult<Fetched>) -> String {
    match outcome {
        Ok(f) => panic!("the pull succeeded: {:?}", f.summary()),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn forty_oversized_chunks_are_refused_as_they_arrive() {
    let chunks: Vec<(String, usize)> = (0..40).map(|n| (name(n), 1_000)).collect();
    // Each answer is 1 MiB: far above what a chunk declared as 1,000 bytes can be.
    let garbage = kv_answer(&"x".repeat(1 << 20));
    let (outcome, stub) = pull_from("40 oversized chunks", manifest(&chunks), move |_| {
        (200, garbage.clone())
    })
    .await;
    let message = failure(outcome);
    assert!(message.contains("bytes its manifest declares"), "{message}");
    let asked = stub.seen().len();
    assert!(asked <= 2 * chunks.len(), "{asked} requests");
    // The first refusal ends the pull: no retry, at most the requests then in flight.
    assert!(chunk_requests(&stub) <= CONCURRENCY + 1, "{asked} requests");
}

#[tokio::test]
async fn a_chunk_a_little_longer_than_declared_is_refused_before_its_hash() {
    let chunks = vec![(name(1), 1_000)];
    let (outcome, stub) = pull_from("1 long chunk", manifest(&chunks), |_| {
        (200, kv_answer(&"y".repeat(1_001)))
    })
    .await;
    let message = failure(outcome);
    assert!(message.contains("not the 1000 bytes"), "{message}");
    assert_eq!(chunk_requests(&stub), 1);
}

#[tokio::test]
async fn one_chunk_named_eleven_thousand_times_is_refused_before_any_chunk_is_asked() {
    let chunks: Vec<(String, usize)> = (0..11_000).map(|_| (name(7), 100)).collect();
    let (outcome, stub) = pull_from("1 chunk named 11,000 times", manifest(&chunks), |_| {
        (200, kv_answer(&"z".repeat(100)))
    })
    .await;
    let message = failure(outcome);
    assert!(message.contains("more than once"), "{message}");
    assert_eq!(stub.hits(MANIFEST_PATH), 1);
    assert_eq!(chunk_requests(&stub), 0, "no chunk asked for");
    assert!(
        stub.seen().len() <= 2,
        "the token's lookup and the manifest"
    );
}

#[tokio::test]
async fn eleven_thousand_missing_chunks_get_one_retry_pass_not_one_each() {
    let chunks: Vec<(String, usize)> = (0..11_000).map(|n| (name(n), 100)).collect();
    let (outcome, stub) = pull_from("11,000 missing chunks", manifest(&chunks), |_| {
        (404, r#"{"errors":[]}"#.into())
    })
    .await;
    let message = failure(outcome);
    assert!(message.contains("missing"), "{message}");
    let asked = stub.seen().len();
    assert!(asked <= 2 * chunks.len(), "{asked} requests");
    // The retry pass reads the manifest again and stops at the first chunk still missing.
    assert_eq!(stub.hits(MANIFEST_PATH), 2);
    assert!(
        chunk_requests(&stub) <= chunks.len() + CONCURRENCY,
        "{asked} requests"
    );
}

#[tokio::test]
async fn a_declared_total_above_the_cap_is_refused_before_any_chunk_is_asked() {
    // 2,100 chunks of 128 KiB declare about 262 MiB.
    let chunks: Vec<(String, usize)> = (0..2_100)
        .map(|n| (name(n), crate::team::CHUNK_MAX))
        .collect();
    let (outcome, stub) = pull_from("262 MiB declared", manifest(&chunks), |_| {
        (404, String::new())
    })
    .await;
    let message = failure(outcome);
    assert!(message.contains("256 MiB"), "{message}");
    assert_eq!(chunk_requests(&stub), 0);
}

#[tokio::test]
async fn a_newer_format_asks_for_an_upgrade() {
    let body = manifest(&[]).replace(
        &format!("\"format\":{}", crate::team::FORMAT),
        &format!("\"format\":{}", crate::team::FORMAT + 1),
    );
    let (outcome, _) = pull_from("newer format", body, |_| (404, String::new())).await;
    let message = failure(outcome);
    assert!(message.contains("upgrade simsid"), "{message}");
}

#[tokio::test]
async fn forty_chunks_declared_above_the_chunk_bound_are_refused_unasked() {
    let chunks: Vec<(String, usize)> = (0..40).map(|n| (name(n), 64 << 20)).collect();
    let garbage = kv_answer(&"x".repeat(1 << 20));
    let (outcome, stub) = pull_from(
        "40 chunks declared at 64 MiB",
        manifest(&chunks),
        move |_| (200, garbage.clone()),
    )
    .await;
    let message = failure(outcome);
    assert!(message.contains("too large"), "{message}");
    assert_eq!(chunk_requests(&stub), 0);
}
