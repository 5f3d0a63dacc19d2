//! The executor's answers to what a real vault gives only in a race or an outage: a
//! check-and-set refusal whose read-back shows our own earlier write (from a node still
//! catching up, at first), another writer's key, and a vault that cannot be reached. The
//! vault is the crate's loopback stub (or a closed loopback port); the store is a real
//! SQLite file, whose fingerprint key the read-back uses.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::Method;
use secrecy::SecretString;
use tokio::sync::mpsc::unbounded_channel;

use super::*;
use crate::domain::{HarvestData, RunStatus, VaultMark};
use crate::ops::vault_sync::writer::{other_writer, Writer};
use crate::store::Fingerprinter;
use crate::store::{Store, StoreKey};
use crate::vault::stub::{client_for, closed_addr, settings, Seen, Stub};
use crate::vault::{CredentialRecord, OnRemove, VaultAuth, VaultClient};

const SECRET: &str = "s3cret-of-c1";
const CAS_REFUSAL: &str =
    r#"{"errors":["check-and-set parameter did not match the current version"]}"#;

fn org(n: u8) -> OrgId {
    OrgId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
}

/// The store's fingerprint key (a real store file in `dir`).
fn fingerprinter(dir: &tempfile::TempDir) -> Fingerprinter {
    Store::open(&dir.path().join("s.sqlite3"), StoreKey::generate())
        .unwrap()
        .fingerprinter()
}

/// What the run writes for `client_id` of site 1 (version `cas` expected in the vault).
fn job(fp: &Fingerprinter, client_id: &str, secret: &str, cas: u64) -> Job {
    let secret = SecretString::from(secret.to_string());
    Job {
        org: org(1),
        client_id: client_id.into(),
        fingerprint: fp.fingerprint(&secret),
        record: CredentialRecord {
            client_id: client_id.into(),
            secret,
            organisation_id: org(1).as_str().into(),
            school_name: "s1".into(),
            ..CredentialRecord::default()
        },
        cas,
    }
}

/// A KV v2 read answer holding `secret` for `c1` at `version`.
fn read_answer(secret: &str, version: u64) -> String {
    serde_json::json!({
        "data": {
            "data": {
                "client_id": "c1",
                "secret": secret,
                "organisation_id": org(1).as_str(),
                "school_name": "s1",
                "dfe_code": null,
                "deni_number": null,
                "description": null,
            },
            "metadata": { "version": version },
        }
    })
    .to_string()
}

fn data_path(client_id: &str) -> String {
    format!("secret/data/simsid/app/{}/{client_id}", org(1).as_str())
}
fn metadata_path(client_id: &str) -> String {
    format!("secret/metadata/simsid/app/{}/{client_id}", org(1).as_str())
}

/// An executor of a sync (not reconciling) through `client`, its progress to `events`.
fn executor(
    client: VaultClient,
    fp: Fingerprinter,
    events: &UnboundedSender<HarvestEvent>,
) -> Executor<'_> {
    Executor {
        writer: Writer {
            client: Arc::new(client),
            mount: "secret".into(),
            prefix: "simsid/app".into(),
            run_id: "run-now".into(),
            fingerprinter: fp,
            on_remove: OnRemove::Delete,
            ours: Arc::new(HashSet::from(["run-now".to_string()])),
        },
        concurrency: 4,
        reconcile: false,
        accept_removals: false,
        completed: true,
        events,
        counts: VaultCounts::default(),
        foreign: Vec::new(),
    }
}

fn writes(jobs: Vec<Job>, removals: Vec<(OrgId, String)>) -> SyncPlan {
    SyncPlan {
        writes: jobs,
        moves: vec![],
        removals,
        unchanged: 0,
    }
}

/// Site 1 fetched (what was fetched matters to the executor only when reconciling).
fn fetched() -> HarvestData {
    let mut data = HarvestData::default();
    data.fetched.insert(org(1), vec![]);
    data
}

/// One executor run's set-up: a real store's fingerprint key and the run's progress channel.
struct Harness {
    _dir: tempfile::TempDir,
    fp: Fingerprinter,
    tx: UnboundedSender<HarvestEvent>,
    events: tokio::sync::mpsc::UnboundedReceiver<HarvestEvent>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let fp = fingerprinter(&dir);
        let (tx, events) = unbounded_channel();
        Harness {
            _dir: dir,
            fp,
            tx,
            events,
        }
    }

    /// What the run writes for `client_id` of site 1 (see [`job`]).
    fn job(&self, client_id: &str, secret: &str, cas: u64) -> Job {
        job(&self.fp, client_id, secret, cas)
    }

    /// Carries out `plan` through `client` from `marks` (site 1 fetched, nothing held),
    /// recording into `summary`: what it synced and its counts.
    async fn run(
        &self,
        client: VaultClient,
        plan: SyncPlan,
        marks: VaultMarks,
        summary: &mut RunSummary,
    ) -> (OpResult<Synced>, VaultCounts) {
        let mut x = executor(client, self.fp.clone(), &self.tx);
        let synced = x
            .run(plan, marks, &fetched(), &HeldRemovals::default(), summary)
            .await;
        (synced, x.counts)
    }

    /// [`Harness::run`] against `stub`, from no marks.
    async fn run_on(
        &self,
        stub: &Stub,
        plan: SyncPlan,
        summary: &mut RunSummary,
    ) -> (OpResult<Synced>, VaultCounts) {
        self.run(client_for(&[&stub.addr]), plan, VaultMarks::new(), summary)
            .await
    }
}

/// The answer to the session's own requests; any other request a test does not expect is
/// refused at once (not retried), naming it.
fn unexpected(seen: &Seen) -> (u16, String) {
    match seen.path.as_str() {
        // The token's own lookup and the node's role, as a single OpenBao node answers them.
        "auth/token/lookup-self" => {
            return (
                200,
                r#"{"data":{"display_name":"token","ttl":0,"renewable":false}}"#.into(),
            )
        }
        "sys/leader" => return (200, r#"{"ha_enabled":false,"is_self":true}"#.into()),
        _ => {}
    }
    let what = format!("unexpected {} {}", seen.method, seen.path);
    (400, serde_json::json!({ "errors": [what] }).to_string())
}

fn requests(stub: &Stub, method: &Method, path: &str) -> usize {
    stub.seen()
        .iter()
        .filter(|s: &&Seen| s.method == *method && s.path == path)
        .count()
}

#[tokio::test]
async fn a_refusal_whose_read_back_shows_our_own_write_counts_as_written() {
    let stub = Stub::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", p) if p == data_path("c1") => (400, CAS_REFUSAL.into()),
        ("GET", p) if p == data_path("c1") => (200, read_answer(SECRET, 7)),
        ("POST", p) if p == metadata_path("c1") => (204, String::new()),
        _ => unexpected(seen),
    })
    .await;
    let mut h = Harness::new();
    let mut summary = crate::ops::vault_sync::test_summary();
    let plan = writes(vec![h.job("c1", SECRET, 3)], vec![]);
    let (synced, counts) = h.run_on(&stub, plan, &mut summary).await;
    let synced = synced.unwrap();
    let mark = &synced.marks.unwrap()[&(org(1), "c1".to_string())];
    assert_eq!(mark.version, 7, "the version the read-back shows");
    assert_eq!(
        mark.fingerprint,
        h.fp.fingerprint(&SecretString::from(SECRET))
    );
    assert_eq!(
        counts,
        VaultCounts {
            written: 1,
            ..VaultCounts::default()
        }
    );
    assert!(synced.failed_sites.is_empty());
    // One write (no second one on top), one read-back, and the run named in the metadata.
    assert_eq!(requests(&stub, &Method::POST, &data_path("c1")), 1);
    assert_eq!(requests(&stub, &Method::GET, &data_path("c1")), 1);
    assert_eq!(requests(&stub, &Method::POST, &metadata_path("c1")), 1);
    assert_eq!(summary.status, RunStatus::Complete);
    let mut last = None;
    while let Ok(e) = h.events.try_recv() {
        last = Some(e);
    }
    assert!(
        matches!(last, Some(HarvestEvent::Stored { done: 1, total: 1 })),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_read_back_that_lags_behind_the_refusal_is_read_again() {
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&reads);
    let stub = Stub::start(
        move |seen| match (seen.method.as_str(), seen.path.as_str()) {
            ("POST", p) if p == data_path("c1") => (400, CAS_REFUSAL.into()),
            // A node still catching up shows the version before ours first.
            ("GET", p) if p == data_path("c1") => match counted.fetch_add(1, Ordering::SeqCst) {
                0 => (200, read_answer("the-old-secret", 3)),
                _ => (200, read_answer(SECRET, 4)),
            },
            ("POST", p) if p == metadata_path("c1") => (204, String::new()),
            _ => unexpected(seen),
        },
    )
    .await;
    let h = Harness::new();
    let plan = writes(vec![h.job("c1", SECRET, 3)], vec![]);
    let mut summary = crate::ops::vault_sync::test_summary();
    let (synced, counts) = h.run_on(&stub, plan, &mut summary).await;
    assert_eq!(
        synced.unwrap().marks.unwrap()[&(org(1), "c1".to_string())].version,
        4
    );
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    assert_eq!(counts.written, 1);
    assert_eq!(requests(&stub, &Method::POST, &data_path("c1")), 1);
}

#[tokio::test]
async fn another_writers_key_fails_its_site_and_nothing_of_the_site_is_removed() {
    let stub = Stub::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", p) if p == data_path("c1") => (400, CAS_REFUSAL.into()),
        ("GET", p) if p == data_path("c1") => (200, read_answer("someone-elses", 5)),
        ("GET", p) if p == metadata_path("c1") => (
            200,
            r#"{"data":{"current_version":5,"custom_metadata":{"simsid_run":"another-store"}}}"#
                .into(),
        ),
        _ => unexpected(seen),
    })
    .await;
    let h = Harness::new();
    let mut summary = crate::ops::vault_sync::test_summary();
    let plan = writes(
        vec![h.job("c1", SECRET, 3)],
        vec![(org(1), "gone".to_string())],
    );
    let (synced, counts) = h.run_on(&stub, plan, &mut summary).await;
    let synced = synced.unwrap();
    let why = &synced.failed_sites[&org(1)];
    assert!(why.contains("another writer"), "{why}");
    assert_eq!(
        counts,
        VaultCounts {
            errors: 1,
            ..VaultCounts::default()
        }
    );
    // Not written on top, and the site's planned removal is not made (it is stale).
    assert_eq!(requests(&stub, &Method::POST, &data_path("c1")), 1);
    assert!(stub.seen().iter().all(|s| s.method != Method::DELETE));
    assert!(summary.diff.vault_removed.is_empty());
    assert!(!synced
        .marks
        .unwrap()
        .contains_key(&(org(1), "c1".to_string())));
}

#[tokio::test]
async fn an_outage_fails_the_whole_run_within_the_retry_budget() {
    let addr = closed_addr().await;
    let mut s = settings(
        &[&addr],
        VaultAuth::Token {
            token: Some("t".to_string().into()),
            token_file: "/nonexistent/.vault-token".into(),
        },
    );
    s.retry_budget = Some(std::time::Duration::from_millis(300));
    let h = Harness::new();
    let mut summary = crate::ops::vault_sync::test_summary();
    let plan = writes(
        vec![h.job("c1", SECRET, 0), h.job("c2", "other", 2)],
        vec![(org(1), "gone".to_string())],
    );
    // A bound on the test itself: the run ends by its retry budget, far inside this.
    let (result, counts) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        h.run(
            VaultClient::new(&s).unwrap(),
            plan,
            VaultMarks::new(),
            &mut summary,
        ),
    )
    .await
    .expect("the run ends when its retry budget is spent");
    let Err(err) = result else {
        panic!("an outage fails the run");
    };
    let err = err.to_string();
    assert!(err.contains("vault write failed for 2 of 2"), "{err}");
    assert!(err.contains("the local store was not committed"), "{err}");
    assert_eq!(
        counts,
        VaultCounts {
            errors: 2,
            ..VaultCounts::default()
        }
    );
    // Nothing was removed: the removals come after the writes.
    assert!(summary.diff.vault_removed.is_empty());
}

#[test]
fn only_an_unusable_vault_fails_the_run() {
    assert!(fails_the_run(&VaultError::Unavailable("down".into())));
    assert!(fails_the_run(&VaultError::Forbidden("p".into())));
    assert!(!fails_the_run(&VaultError::CasMismatch));
    assert!(!fails_the_run(&other_writer("secret", "k")));
}

#[tokio::test]
async fn an_unchanged_harvest_makes_no_request_and_keeps_its_marks() {
    let stub = Stub::start(unexpected).await;
    let h = Harness::new();
    let marks = VaultMarks::from([(
        (org(1), "c1".to_string()),
        VaultMark {
            fingerprint: h.fp.fingerprint(&SecretString::from(SECRET)),
            version: 2,
        },
    )]);
    let plan = SyncPlan {
        unchanged: 1,
        ..writes(vec![], vec![])
    };
    let mut summary = crate::ops::vault_sync::test_summary();
    let (synced, counts) = h
        .run(client_for(&[&stub.addr]), plan, marks.clone(), &mut summary)
        .await;
    assert_eq!(synced.unwrap().marks, Some(marks));
    assert_eq!(
        counts,
        VaultCounts {
            unchanged: 1,
            ..VaultCounts::default()
        }
    );
    assert_eq!(stub.seen().len(), 0);
}
