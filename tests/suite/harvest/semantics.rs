//! Harvest semantics against the real simulator over loopback HTTP, the real client and the
//! real store (docs/reference/cli.md "Harvest semantics").

use crate::support::common;

use std::time::{Duration, Instant};

use common::*;
use simsid::domain::{OrgId, RunStatus, RunSummary};
use simsid::harvest::{HarvestEnd, HarvestOptions, RetryPolicy};
use simsid::ops::harvest_and_commit;
use simsid::store::Store;
use simsid_simulator::{Fault, Simulator};
use tokio_util::sync::CancellationToken;

fn quick() -> HarvestOptions {
    HarvestOptions {
        concurrency: 8,
        retry: RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            retry_after_cap: Duration::from_secs(2),
        },
    }
}

async fn harvest(sim: &Simulator, store: &mut Store, options: HarvestOptions) -> RunSummary {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let end = harvest_and_commit(
        store,
        client(sim, Duration::from_secs(5)),
        options,
        "tester",
        tx,
        CancellationToken::new(),
    )
    .await
    .expect("harvest runs");
    match end {
        HarvestEnd::Finished(s) => *s,
        HarvestEnd::Cancelled(_) => panic!("not cancelled"),
    }
}

/// An authorised site with at least `min_clients` clients.
fn pick(sim: &Simulator, min_clients: usize, skip: usize) -> OrgId {
    sim.control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && s.clients.len() >= min_clients)
        .nth(skip)
        .expect("dataset has such a site")
        .org_id
        .to_domain()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_between_harvests_show_in_the_diff_and_the_store() {
    let sim = simulator(40, 7).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let first = harvest(&sim, &mut store, quick()).await;
    assert_eq!(first.status, RunStatus::Complete);
    assert_eq!(first.sites_total, 40);
    assert_eq!(first.diff.sites_added.len(), 40);
    let cached_before = store.sites().unwrap();
    assert_eq!(cached_before.len(), 40);

    let c = sim.control();
    let removed = pick(&sim, 1, 0);
    let rotated_site = pick(&sim, 1, 1);
    let withdrawn_site = pick(&sim, 2, 0);
    let flipped = pick(&sim, 0, 3);
    let rotated_client = c
        .sites()
        .into_iter()
        .find(|s| s.org_id == rotated_site.to_sim())
        .unwrap()
        .clients[0]
        .client_id
        .clone();
    let withdrawn_client = c
        .sites()
        .into_iter()
        .find(|s| s.org_id == withdrawn_site.to_sim())
        .unwrap()
        .clients[1]
        .client_id
        .clone();
    let fp_before = store
        .site(&rotated_site)
        .unwrap()
        .unwrap()
        .credentials
        .iter()
        .find(|cr| cr.client_id == rotated_client)
        .unwrap()
        .clone();
    assert!(c.remove_site(&removed.to_sim()));
    assert!(c.rotate_secret(&rotated_site.to_sim(), &rotated_client));
    assert!(c.withdraw_client(&withdrawn_site.to_sim(), &withdrawn_client));
    assert!(c.set_authorised(&flipped.to_sim(), Some(false)));
    let added = c.add_site().to_domain();

    // Times are stored to the nanosecond: no wait is needed for `last_changed` to move.
    let second = harvest(&sim, &mut store, quick()).await;
    assert_eq!(second.status, RunStatus::Complete);
    let d = &second.diff;
    assert_eq!(d.sites_removed, vec![removed.clone()]);
    assert_eq!(d.sites_added, vec![added.clone()]);
    assert!(d
        .credentials_rotated
        .iter()
        .any(|r| r.organisation_id == rotated_site && r.client_id == rotated_client));
    assert_eq!(d.credentials_rotated.len(), 1);
    assert!(d
        .credentials_removed
        .iter()
        .any(|r| r.organisation_id == withdrawn_site && r.client_id == withdrawn_client));
    assert_eq!(d.authorisation_changed.len(), 1);
    assert_eq!(d.authorisation_changed[0].organisation_id, flipped);
    assert_eq!(d.authorisation_changed[0].from, Some(1));
    assert_eq!(d.authorisation_changed[0].to, Some(0));

    // The store agrees with the diff.
    assert!(store.site(&removed).unwrap().is_none());
    assert!(store.site(&added).unwrap().is_some());
    let after = store.site(&rotated_site).unwrap().unwrap();
    let cred = after
        .credentials
        .iter()
        .find(|cr| cr.client_id == rotated_client)
        .unwrap();
    assert_ne!(cred.fingerprint, fp_before.fingerprint);
    assert_eq!(cred.first_seen, fp_before.first_seen);
    assert!(cred.last_changed > fp_before.last_changed);
    assert!(store
        .site(&withdrawn_site)
        .unwrap()
        .unwrap()
        .credentials
        .iter()
        .all(|cr| cr.client_id != withdrawn_client));
    assert_eq!(
        store.site(&flipped).unwrap().unwrap().row.site.authorised,
        Some(false)
    );
    // History has both runs, newest first, with the diff.
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_id, second.run_id);
    assert_eq!(runs[0].diff, second.diff);

    // A third harvest with no change has an empty diff.
    let third = harvest(&sim, &mut store, quick()).await;
    assert!(third.diff.is_empty(), "{:?}", third.diff);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_site_keeps_its_credentials_and_goes_stale() {
    let sim = simulator(20, 3).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    harvest(&sim, &mut store, quick()).await;
    let broken = pick(&sim, 1, 0);
    let before = store.site(&broken).unwrap().unwrap();
    sim.control()
        .set_site_fault(&broken.to_sim(), Fault::Status500, None);
    // Rotate its secret too: the failed fetch must not report or apply it.
    let cid = before.credentials[0].client_id.clone();
    sim.control().rotate_secret(&broken.to_sim(), &cid);

    let run = harvest(&sim, &mut store, quick()).await;
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(run.sites_failed, 1);
    assert_eq!(run.failures[0].organisation_id, broken);
    assert!(
        run.failures[0].error.contains("500"),
        "{}",
        run.failures[0].error
    );
    assert!(run.diff.credentials_rotated.is_empty());
    let after = store.site(&broken).unwrap().unwrap();
    assert!(after.row.stale);
    assert!(after
        .row
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("500"));
    assert_eq!(after.credentials.len(), before.credentials.len());
    assert_eq!(
        after.credentials[0].fingerprint,
        before.credentials[0].fingerprint
    );

    // Once it answers again, the next harvest clears stale and sees the rotation.
    sim.control().clear_site_fault(&broken.to_sim());
    let run = harvest(&sim, &mut store, quick()).await;
    assert_eq!(run.status, RunStatus::Complete);
    assert_eq!(run.diff.credentials_rotated.len(), 1);
    assert!(!store.site(&broken).unwrap().unwrap().row.stale);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_site_list_leaves_the_store_unchanged() {
    let sim = simulator(15, 4).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    harvest(&sim, &mut store, quick()).await;
    let snapshot = store.snapshot().unwrap();
    let rows = store.sites().unwrap();
    sim.control().remove_site(&pick(&sim, 0, 0).to_sim());
    sim.control().fail_site_list(None);
    let run = harvest(&sim, &mut store, quick()).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.error.as_deref().unwrap().contains("503"),
        "{:?}",
        run.error
    );
    assert_eq!(store.snapshot().unwrap(), snapshot);
    assert_eq!(store.sites().unwrap(), rows);
    assert_eq!(store.runs().unwrap()[0].status, RunStatus::Failed);

    // Wrong integrator secret: failed too, store unchanged, error names the refusal.
    sim.control().clear_site_list_fault();
    let bad = simsid::sims::SimsClient::new(simsid::sims::SimsSettings {
        client_secret: "not-the-secret".to_string().into(),
        scopes: "rapapi".into(),
        ..settings(&sim, Duration::from_secs(5))
    })
    .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let end = harvest_and_commit(&mut store, bad, quick(), "t", tx, CancellationToken::new())
        .await
        .unwrap();
    let HarvestEnd::Finished(s) = end else {
        panic!("finished")
    };
    assert_eq!(s.status, RunStatus::Failed);
    assert!(s.error.unwrap().contains("refused"));
    assert_eq!(store.snapshot().unwrap(), snapshot);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_and_token_expiry_still_complete() {
    let sim = simulator(60, 5).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let c = sim.control();
    let a = pick(&sim, 1, 0);
    let b = pick(&sim, 1, 1);
    c.set_site_fault(
        &a.to_sim(),
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        Some(2),
    );
    c.set_site_fault(&b.to_sim(), Fault::Html502, Some(2));
    c.set_global_fault(Some(Fault::Status500), Some(3));
    c.expire_tokens_after(Some(15));
    c.reset_stats();
    let started = Instant::now();
    let run = harvest(&sim, &mut store, quick()).await;
    assert_eq!(run.status, RunStatus::Complete, "{:?}", run.failures);
    assert_eq!(run.sites_harvested, 60);
    // Retry-After of 1 s was honoured at least twice for site `a`.
    assert!(started.elapsed() >= Duration::from_secs(2));
    let stats = c.stats();
    assert!(
        stats.token_requests >= 2,
        "the token expired and was renewed"
    );
    assert!(
        stats.token_requests * 4 < 60,
        "token requests {} should be far fewer than sites",
        stats.token_requests
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_never_answers_ends_within_timeout_and_backoff() {
    let sim = simulator(10, 6).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    let hung = pick(&sim, 0, 0);
    sim.control()
        .set_site_fault(&hung.to_sim(), Fault::Hang, None);
    let options = HarvestOptions {
        concurrency: 4,
        retry: RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            retry_after_cap: Duration::from_millis(50),
        },
    };
    let started = Instant::now();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let end = harvest_and_commit(
        &mut store,
        client(&sim, Duration::from_millis(400)),
        options,
        "t",
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let HarvestEnd::Finished(run) = end else {
        panic!("finished")
    };
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(run.failures[0].organisation_id, hung);
    assert!(
        run.failures[0].error.contains("timed out"),
        "{}",
        run.failures[0].error
    );
    // 3 tries × 0.4 s + backoff, with generous slack for a loaded machine.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_stay_within_the_bound() {
    let sim = slow_simulator(40, 9, 30).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    for bound in [3usize, 6] {
        sim.control().reset_stats();
        let run = harvest(
            &sim,
            &mut store,
            HarvestOptions {
                concurrency: bound,
                ..quick()
            },
        )
        .await;
        assert_eq!(run.status, RunStatus::Complete);
        let max = sim.control().stats().max_in_flight as usize;
        assert!(max <= bound, "max in flight {max} > bound {bound}");
        assert!(max > 1, "requests ran concurrently (max {max})");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_harvest_commits_nothing() {
    let sim = slow_simulator(80, 10, 40).await;
    let ts = TempStore::new();
    let mut store = ts.open();
    harvest(&sim, &mut store, quick()).await;
    let snapshot = store.snapshot().unwrap();
    let runs = store.runs().unwrap().len();
    sim.control().remove_site(&pick(&sim, 0, 0).to_sim());
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        let mut seen = 0;
        while let Some(e) = rx.recv().await {
            if matches!(e, simsid::harvest::HarvestEvent::SiteDone { .. }) {
                seen += 1;
                if seen == 5 {
                    c2.cancel();
                }
            }
        }
    });
    let end = harvest_and_commit(
        &mut store,
        client(&sim, Duration::from_secs(5)),
        HarvestOptions {
            concurrency: 2,
            ..quick()
        },
        "t",
        tx,
        cancel,
    )
    .await
    .unwrap();
    let HarvestEnd::Cancelled(cancelled) = end else {
        panic!("expected a cancelled run, got {end:?}");
    };
    assert_eq!(store.snapshot().unwrap(), snapshot);
    // Nothing committed, but the run is in the history as cancelled, without a diff.
    let history = store.runs().unwrap();
    assert_eq!(history.len(), runs + 1);
    assert_eq!(history[0].run_id, cancelled.run_id);
    assert_eq!(history[0].status, simsid::domain::RunStatus::Cancelled);
    assert_eq!(history[0].signal, None);
    assert_eq!(history[0].error.as_deref(), Some("cancelled"));
    assert!(history[0].diff.is_empty());
    assert_eq!(
        history[0].credentials_total,
        snapshot
            .sites
            .values()
            .map(|s| s.credentials.len())
            .sum::<usize>()
    );
    sim.shutdown().await;
}
