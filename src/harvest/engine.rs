//! Runs one full re-harvest against a [`Source`]: the site list, then every site's clients
//! through one shared [`Gate`] (the number in flight and the pace adapt to the gateway's
//! `429`s, up to the configured ceiling) with retries; then [`conclude`] turns what was
//! fetched into the run summary and the data to commit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::diff::compute_diff;
use super::gate::{Gate, Permit};
use super::limiter::LimiterConfig;
use super::retry::RetryPolicy;
use super::source::{FetchError, Source};
use super::{HarvestEvent, Limits};
use crate::domain::{
    Credential, Fingerprint, HarvestData, HarvestStats, OrgId, RunScope, RunStatus, RunSummary,
    Site, SiteFailure, Snapshot,
};

/// Clients requests in flight at most when nothing else is set (docs/reference/cli.md `concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How a harvest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HarvestOptions {
    /// Clients requests in flight at most (at least 1): a ceiling, not a target.
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

impl Default for HarvestOptions {
    fn default() -> Self {
        HarvestOptions {
            concurrency: DEFAULT_CONCURRENCY,
            retry: RetryPolicy::default(),
        }
    }
}

/// How many `429`s one site's request may get before the site fails. They do not use up
/// the retries of [`RetryPolicy`]: the limiter makes every request wait them out, so they
/// say "later", not "broken".
pub const RATE_LIMITED_TRIES: u32 = 60;

/// What was fetched by a run whose site list succeeded (before fingerprints and the diff).
#[derive(Debug)]
pub struct Fetched {
    pub run_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub sites: Vec<Site>,
    pub clients: BTreeMap<OrgId, Vec<Credential>>,
    pub failed: BTreeMap<OrgId, String>,
    pub stats: HarvestStats,
}

/// What fetching produced ([`run`]): nothing (cancelled), a failed run to record, or the data to conclude and commit (which then ends as a [`super::HarvestEnd`]).
#[derive(Debug)]
pub enum FetchOutcome {
    /// Cancelled: nothing to commit; the summary (status `cancelled`, what was fetched so
    /// far, the request counts) is for the history.
    Cancelled(Box<RunSummary>),
    /// The token or the site list failed: the store stays unchanged; record the summary only.
    Failed(Box<RunSummary>),
    /// The site list was fetched: conclude and commit.
    Fetched(Box<Fetched>),
}

fn send(events: &UnboundedSender<HarvestEvent>, event: HarvestEvent) {
    // A closed receiver means nobody watches progress any more; the harvest goes on.
    let _ = events.send(event);
}

/// Request counters of one run.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

impl Counters {
    fn stats(&self, gate: &Gate) -> HarvestStats {
        HarvestStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            concurrency_max: gate.max_in_flight(),
            concurrency_final: gate.state().concurrency,
        }
    }
}

/// What every request of a run shares.
struct Shared {
    gate: Gate,
    counters: Counters,
    events: UnboundedSender<HarvestEvent>,
    policy: RetryPolicy,
    /// The limits last announced, to announce only changes.
    announced: std::sync::Mutex<Option<Limits>>,
    /// Sites not done yet (the limiter's backlog).
    left: AtomicUsize,
}

impl Shared {
    /// Sends a [`HarvestEvent::Limits`] when what the limiter allows changed noticeably.
    fn announce(&self) {
        let state = self.gate.state();
        let now = Limits {
            concurrency: state.concurrency,
            ceiling: state.ceiling,
            // Rates are shown in whole requests per second; the cast saturates.
            rate: state.rate.map(|r| r.round() as u32),
        };
        let mut last = self
            .announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = match *last {
            None => true,
            Some(before) => {
                before.concurrency != now.concurrency
                    || before.rate.is_some() != now.rate.is_some()
                    || before
                        .rate
                        .zip(now.rate)
                        .is_some_and(|(a, b)| a.abs_diff(b) * 20 > a.max(1))
            }
        };
        if changed {
            *last = Some(now);
            send(&self.events, HarvestEvent::Limits(now));
        }
    }
}

/// Fetches the site list and every site's clients. Cancelling `cancel` stops at once:
/// requests in flight are dropped and [`FetchOutcome::Cancelled`] is returned.
pub async fn run<S: Source>(
    source: S,
    options: HarvestOptions,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
) -> FetchOutcome {
    let run_id = Uuid::new_v4();
    let started_at = Utc::now();
    let concurrency = options.concurrency.max(1);
    let shared = new_shared(options, &events);
    let sites = match list_sites(&source, &shared, &cancel, run_id, started_at).await {
        Ok(sites) => sites,
        Err(outcome) => return outcome,
    };
    send(&events, HarvestEvent::Listed { total: sites.len() });
    shared.left.store(sites.len(), Ordering::Relaxed);
    shared.gate.set_backlog(sites.len());

    let orgs: Vec<OrgId> = sites.iter().map(|s| s.org_id.clone()).collect();
    let mut stream = futures::stream::iter(orgs.into_iter().map(|org| {
        let source = source.clone();
        let shared = Arc::clone(&shared);
        async move {
            let result = fetch_site(&source, &org, &shared).await;
            let left = shared
                .left
                .fetch_sub(1, Ordering::Relaxed)
                .saturating_sub(1);
            shared.gate.set_backlog(left);
            let event = match &result {
                Ok(creds) => HarvestEvent::SiteDone {
                    org: org.clone(),
                    credentials: creds.len(),
                },
                Err(error) => HarvestEvent::SiteFailed {
                    org: org.clone(),
                    error: error.message(),
                },
            };
            send(&shared.events, event);
            (org, result)
        }
    }))
    // The ceiling bounds the tasks; the gate decides how many requests are in flight.
    .buffer_unordered(concurrency);

    let mut clients = BTreeMap::new();
    let mut failed = BTreeMap::new();
    let total = sites.len();
    let cancelled = |clients: &BTreeMap<OrgId, Vec<Credential>>,
                     failed: &BTreeMap<OrgId, String>| {
        let mut summary =
            cancelled_summary(run_id, started_at, shared.counters.stats(&shared.gate));
        summary.sites_total = total;
        summary.sites_harvested = clients.len();
        summary.sites_failed = failed.len();
        FetchOutcome::Cancelled(Box::new(summary))
    };
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return cancelled(&clients, &failed),
            n = stream.next() => n,
        };
        match next {
            Some((org, Ok(creds))) => {
                clients.insert(org, creds);
            }
            Some((_, Err(FetchError::Fatal { message }))) => {
                let mut summary = failed_summary(run_id, started_at, message);
                summary.stats = shared.counters.stats(&shared.gate);
                return FetchOutcome::Failed(Box::new(summary));
            }
            Some((org, Err(e))) => {
                failed.insert(org, e.message());
            }
            None => break,
        }
    }
    if cancel.is_cancelled() {
        return cancelled(&clients, &failed);
    }
    FetchOutcome::Fetched(Box::new(Fetched {
        run_id,
        started_at,
        finished_at: Utc::now(),
        sites,
        clients,
        failed,
        stats: shared.counters.stats(&shared.gate),
    }))
}

fn new_shared(options: HarvestOptions, events: &UnboundedSender<HarvestEvent>) -> Arc<Shared> {
    let policy = options.retry;
    let shared = Arc::new(Shared {
        gate: Gate::new(LimiterConfig {
            retry_after_cap: policy.retry_after_cap,
            ..LimiterConfig::new(options.concurrency.max(1))
        }),
        counters: Counters::default(),
        events: events.clone(),
        policy,
        announced: std::sync::Mutex::new(None),
        left: AtomicUsize::new(0),
    });
    shared.announce();
    shared
}

/// The token and the site list (deduplicated), or the run's end: cancelled, or failed with
/// the reason.
async fn list_sites<S: Source>(
    source: &S,
    shared: &Shared,
    cancel: &CancellationToken,
    run_id: Uuid,
    started_at: DateTime<Utc>,
) -> Result<Vec<Site>, FetchOutcome> {
    let listed = tokio::select! {
        _ = cancel.cancelled() => {
            let stats = shared.counters.stats(&shared.gate);
            return Err(FetchOutcome::Cancelled(Box::new(cancelled_summary(run_id, started_at, stats))));
        }
        r = fetch_list(source, shared) => r,
    };
    match listed {
        Ok(sites) => Ok(dedupe(sites)),
        Err(e) => {
            let message = match e {
                FetchError::NoCredentials => {
                    "the site list was refused (403/404): check the application id".to_string()
                }
                FetchError::Fatal { message } => message,
                other => format!("could not fetch the site list: {}", other.message()),
            };
            let mut summary = failed_summary(run_id, started_at, message);
            summary.stats = shared.counters.stats(&shared.gate);
            Err(FetchOutcome::Failed(Box::new(summary)))
        }
    }
}

/// Why a one-school run picked no site from the fresh site list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPicked {
    /// The site list does not hold the school.
    Unlisted,
    /// Several listed sites match (a shared DfE code or DENI number): the candidates.
    Ambiguous(Vec<Site>),
}

/// One school (`harvest --site`): the token, the fresh site list (a new school is not
/// cached yet), `pick` chooses the school in it, then that school's clients with the same
/// retries and pacing as a full run. The outcome's runs have scope [`RunScope::Site`];
/// `Fetched` holds that one site. `Err` when `pick` found no single site (nothing fetched
/// beyond the list).
pub async fn run_site<S: Source>(
    source: S,
    options: HarvestOptions,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
    pick: impl FnOnce(&[Site]) -> Result<Site, NotPicked>,
) -> Result<FetchOutcome, NotPicked> {
    let run_id = Uuid::new_v4();
    let started_at = Utc::now();
    let shared = new_shared(options, &events);
    let scoped = |outcome: FetchOutcome| match outcome {
        FetchOutcome::Cancelled(mut s) => {
            s.scope = RunScope::Site;
            FetchOutcome::Cancelled(s)
        }
        FetchOutcome::Failed(mut s) => {
            s.scope = RunScope::Site;
            FetchOutcome::Failed(s)
        }
        fetched => fetched,
    };
    let sites = match list_sites(&source, &shared, &cancel, run_id, started_at).await {
        Ok(sites) => sites,
        Err(outcome) => return Ok(scoped(outcome)),
    };
    let site = pick(&sites)?;
    drop(sites);
    let org = site.org_id.clone();
    send(&events, HarvestEvent::Listed { total: 1 });
    shared.left.store(1, Ordering::Relaxed);
    shared.gate.set_backlog(1);
    let result = tokio::select! {
        _ = cancel.cancelled() => {
            let mut summary =
                cancelled_summary(run_id, started_at, shared.counters.stats(&shared.gate));
            summary.sites_total = 1;
            return Ok(scoped(FetchOutcome::Cancelled(Box::new(summary))));
        }
        r = fetch_site(&source, &org, &shared) => r,
    };
    shared.gate.set_backlog(0);
    let mut clients = BTreeMap::new();
    let mut failed = BTreeMap::new();
    match result {
        Ok(creds) => {
            send(
                &events,
                HarvestEvent::SiteDone {
                    org: org.clone(),
                    credentials: creds.len(),
                },
            );
            clients.insert(org, creds);
        }
        Err(FetchError::Fatal { message }) => {
            let mut summary = failed_summary(run_id, started_at, message);
            summary.stats = shared.counters.stats(&shared.gate);
            return Ok(scoped(FetchOutcome::Failed(Box::new(summary))));
        }
        Err(e) => {
            send(
                &events,
                HarvestEvent::SiteFailed {
                    org: org.clone(),
                    error: e.message(),
                },
            );
            failed.insert(org, e.message());
        }
    }
    Ok(FetchOutcome::Fetched(Box::new(Fetched {
        run_id,
        started_at,
        finished_at: Utc::now(),
        sites: vec![site],
        clients,
        failed,
        stats: shared.counters.stats(&shared.gate),
    })))
}

/// What to do after a failed try.
enum Next {
    /// Try again after this delay (zero: as soon as the gate lets it go).
    Retry(Duration),
    /// Give up with this error.
    GiveUp(FetchError),
}

/// Tracks one request's tries: backoff for transient errors, the gate's pause for `429`s.
struct Tries {
    backoff: backon::ExponentialBackoff,
    retries: u32,
    rate_limited: u32,
}

impl Tries {
    fn new(policy: &RetryPolicy) -> Self {
        Tries {
            backoff: policy.backoff().build(),
            retries: 0,
            rate_limited: 0,
        }
    }

    /// Reports how a try ended to the gate and the counters; says what to do next.
    fn after(
        &mut self,
        shared: &Shared,
        org: Option<&OrgId>,
        permit: Permit<'_>,
        error: FetchError,
    ) -> Next {
        let (next, shown) = match &error {
            FetchError::RateLimited { retry_after, .. } => {
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(shared.policy.retry_after_cap);
                permit.rate_limited(*retry_after);
                shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                send(
                    &shared.events,
                    HarvestEvent::RateLimited {
                        org: org.cloned(),
                        retry_after: wait,
                    },
                );
                self.rate_limited += 1;
                if self.rate_limited >= RATE_LIMITED_TRIES {
                    return Next::GiveUp(error);
                }
                // No sleep of our own: the gate holds every request until the pause ends.
                (Next::Retry(Duration::ZERO), wait)
            }
            FetchError::Transient { retry_after, .. } => {
                permit.failed();
                match shared.policy.adjust(*retry_after, self.backoff.next()) {
                    Some(delay) => (Next::Retry(delay), delay),
                    None => return Next::GiveUp(error),
                }
            }
            FetchError::NoCredentials | FetchError::Permanent { .. } | FetchError::Fatal { .. } => {
                permit.answered();
                return Next::GiveUp(error);
            }
        };
        shared.announce();
        self.retries += 1;
        shared.counters.retries.fetch_add(1, Ordering::Relaxed);
        send(
            &shared.events,
            HarvestEvent::Retrying {
                org: org.cloned(),
                attempt: self.retries,
                delay: shown,
                reason: error.message(),
            },
        );
        next
    }
}

/// The site list, through the gate, with retries.
async fn fetch_list<S: Source>(source: &S, shared: &Shared) -> Result<Vec<Site>, FetchError> {
    let mut tries = Tries::new(&shared.policy);
    loop {
        let permit = shared.gate.admit().await;
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let error = match source.sites().await {
            Ok(sites) => {
                permit.answered();
                return Ok(sites);
            }
            Err(e) => e,
        };
        match tries.after(shared, None, permit, error) {
            Next::Retry(delay) => tokio::time::sleep(delay).await,
            Next::GiveUp(e) => return Err(e),
        }
    }
}

/// One site's clients with retries: 403/404 means no credentials; a persistent error is
/// returned (its message never holds a secret).
async fn fetch_site<S: Source>(
    source: &S,
    org: &OrgId,
    shared: &Shared,
) -> Result<Vec<Credential>, FetchError> {
    let mut tries = Tries::new(&shared.policy);
    let mut started = false;
    loop {
        let permit = shared.gate.admit().await;
        if !started {
            started = true;
            send(
                &shared.events,
                HarvestEvent::SiteStarted { org: org.clone() },
            );
        }
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let error = match source.clients(org).await {
            Ok(creds) => {
                permit.answered();
                shared.announce();
                return Ok(creds);
            }
            Err(e) => e,
        };
        match tries.after(shared, Some(org), permit, error) {
            Next::Retry(delay) => tokio::time::sleep(delay).await,
            Next::GiveUp(FetchError::NoCredentials) => return Ok(Vec::new()),
            Next::GiveUp(e) => return Err(e),
        }
    }
}

/// Keeps the first of any repeated organisation id.
fn dedupe(sites: Vec<Site>) -> Vec<Site> {
    let mut seen = BTreeSet::new();
    sites
        .into_iter()
        .filter(|s| seen.insert(s.org_id.clone()))
        .collect()
}

/// The summary of a run that failed before any site was harvested.
pub fn failed_summary(run_id: Uuid, started_at: DateTime<Utc>, error: String) -> RunSummary {
    RunSummary {
        run_id,
        status: RunStatus::Failed,
        started_at,
        finished_at: Utc::now(),
        sites_total: 0,
        sites_harvested: 0,
        sites_failed: 0,
        credentials_total: 0,
        diff: Default::default(),
        failures: Vec::new(),
        stats: HarvestStats::default(),
        error: Some(error),
        scope: RunScope::Full,
        signal: None,
    }
}

/// The summary of a run cancelled before it committed (the caller fills in the counts
/// fetched so far and who cancelled it).
pub fn cancelled_summary(
    run_id: Uuid,
    started_at: DateTime<Utc>,
    stats: HarvestStats,
) -> RunSummary {
    RunSummary {
        status: RunStatus::Cancelled,
        stats,
        ..failed_summary(run_id, started_at, "cancelled".into())
    }
}

/// Fingerprints what was fetched, computes the diff against `previous`, and returns the run
/// summary with the data to commit. `credentials_total` counts the credentials cached after
/// the commit (fetched ones plus the kept ones of failed sites).
pub fn conclude(
    fetched: Fetched,
    previous: &Snapshot,
    fingerprint: impl Fn(&SecretString) -> Fingerprint,
) -> (RunSummary, HarvestData) {
    let Fetched {
        run_id,
        started_at,
        finished_at,
        sites,
        clients,
        failed,
        stats,
    } = fetched;
    let fetched: BTreeMap<OrgId, Vec<(Credential, Fingerprint)>> = clients
        .into_iter()
        .map(|(org, creds)| {
            let with_fp = creds
                .into_iter()
                .map(|c| {
                    let fp = fingerprint(&c.secret);
                    (c, fp)
                })
                .collect();
            (org, with_fp)
        })
        .collect();
    let diff = compute_diff(previous, &sites, &fetched);
    let kept: usize = failed
        .keys()
        .filter_map(|org| previous.sites.get(org))
        .map(|s| s.credentials.len())
        .sum();
    let credentials_total = fetched.values().map(Vec::len).sum::<usize>() + kept;
    let failures: Vec<SiteFailure> = failed
        .iter()
        .map(|(org, error)| SiteFailure {
            organisation_id: org.clone(),
            error: error.clone(),
        })
        .collect();
    let summary = RunSummary {
        run_id,
        status: if failed.is_empty() {
            RunStatus::Complete
        } else {
            RunStatus::Partial
        },
        started_at,
        finished_at,
        sites_total: sites.len(),
        sites_harvested: fetched.len(),
        sites_failed: failed.len(),
        credentials_total,
        diff,
        failures,
        stats,
        error: None,
        scope: RunScope::Full,
        signal: None,
    };
    let data = HarvestData {
        sites,
        fetched,
        failed,
    };
    (summary, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// An in-memory source for the engine's own logic (the simulator-backed tests live in
    /// `tests/`): per-site scripted answers, in-flight accounting.
    type Script = Arc<Mutex<BTreeMap<OrgId, Vec<Result<usize, FetchError>>>>>;

    #[derive(Clone, Default)]
    struct Scripted {
        sites: Vec<Site>,
        answers: Script,
        in_flight: Arc<AtomicUsize>,
        max_in_flight: Arc<AtomicUsize>,
        list_error: Option<FetchError>,
    }

    impl Source for Scripted {
        async fn sites(&self) -> Result<Vec<Site>, FetchError> {
            match &self.list_error {
                Some(e) => Err(e.clone()),
                None => Ok(self.sites.clone()),
            }
        }
        async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, FetchError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let next = {
                let mut answers = self.answers.lock().unwrap();
                let queue = answers.entry(org.clone()).or_default();
                if queue.is_empty() {
                    Ok(1)
                } else {
                    queue.remove(0)
                }
            };
            next.map(|n| {
                (0..n)
                    .map(|i| Credential {
                        client_id: format!("client-{i}"),
                        secret: SecretString::from(format!("secret-{org}-{i}")),
                        description: None,
                    })
                    .collect()
            })
        }
    }

    fn sites(n: usize) -> Vec<Site> {
        (0..n)
            .map(|i| Site {
                org_id: OrgId::parse(&format!("{i:08X}-0000-0000-0000-000000000001")).unwrap(),
                name: format!("School {i}"),
                dfe_code: None,
                deni_number: None,
                authorised: Some(true),
            })
            .collect()
    }

    fn fast() -> HarvestOptions {
        HarvestOptions {
            concurrency: 4,
            retry: RetryPolicy {
                max_retries: 2,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                retry_after_cap: Duration::from_millis(20),
            },
        }
    }

    #[tokio::test]
    async fn bounded_concurrency_retries_and_failures() {
        let src = Scripted {
            sites: sites(20),
            ..Default::default()
        };
        let flaky = src.sites[0].org_id.clone();
        let dead = src.sites[1].org_id.clone();
        let none = src.sites[2].org_id.clone();
        {
            let mut a = src.answers.lock().unwrap();
            a.insert(
                flaky.clone(),
                vec![Err(FetchError::Transient {
                    message: "rate limited".into(),
                    retry_after: Some(Duration::from_secs(60)),
                })],
            );
            a.insert(
                dead.clone(),
                (0..5)
                    .map(|_| {
                        Err(FetchError::Transient {
                            message: "SIMS ID server error 500".into(),
                            retry_after: None,
                        })
                    })
                    .collect(),
            );
            a.insert(none.clone(), vec![Err(FetchError::NoCredentials)]);
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let out = run(src.clone(), fast(), tx, CancellationToken::new()).await;
        let FetchOutcome::Fetched(f) = out else {
            panic!("expected fetched");
        };
        assert_eq!(f.clients.len(), 19);
        assert_eq!(f.clients[&flaky].len(), 1);
        assert!(f.clients[&none].is_empty());
        assert_eq!(
            f.failed.get(&dead).map(String::as_str),
            Some("SIMS ID server error 500")
        );
        let max = src.max_in_flight.load(Ordering::SeqCst);
        assert!((2..=4).contains(&max), "max in flight {max}");

        let mut progress = super::super::Progress::new(std::time::Instant::now());
        while let Ok(e) = rx.try_recv() {
            progress.apply(&e, std::time::Instant::now());
        }
        assert_eq!(progress.total, Some(20));
        assert_eq!((progress.harvested, progress.failed), (19, 1));
        assert_eq!(
            progress.retries, 3,
            "1 for the flaky site, 2 for the dead one"
        );
        assert_eq!(progress.in_flight, 0);

        let (summary, data) = conclude(*f, &Snapshot::default(), |s| {
            use secrecy::ExposeSecret;
            Fingerprint::local(s.expose_secret().len().to_string())
        });
        assert_eq!(summary.status, RunStatus::Partial);
        assert_eq!(summary.sites_total, 20);
        assert_eq!(summary.sites_harvested, 19);
        assert_eq!(summary.sites_failed, 1);
        assert_eq!(summary.credentials_total, 18);
        assert_eq!(summary.diff.sites_added.len(), 20);
        assert_eq!(data.failed.len(), 1);
    }

    #[tokio::test]
    async fn failed_site_list_fails_the_run() {
        let src = Scripted {
            sites: sites(3),
            list_error: Some(FetchError::Permanent {
                message: "the STS refused the client id and secret".into(),
            }),
            ..Default::default()
        };
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let out = run(src, fast(), tx, CancellationToken::new()).await;
        let FetchOutcome::Failed(s) = out else {
            panic!("expected failed");
        };
        assert_eq!(s.status, RunStatus::Failed);
        assert!(s.error.unwrap().contains("refused"));
    }

    #[tokio::test]
    async fn cancel_returns_cancelled() {
        let src = Scripted {
            sites: sites(200),
            ..Default::default()
        };
        let cancel = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = tokio::spawn(run(
            src,
            HarvestOptions {
                concurrency: 1,
                ..fast()
            },
            tx,
            cancel.clone(),
        ));
        // Wait until a few sites are done, then cancel.
        let mut done = 0;
        while done < 3 {
            if let Some(HarvestEvent::SiteDone { .. }) = rx.recv().await {
                done += 1;
            }
        }
        cancel.cancel();
        let out = tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .unwrap()
            .unwrap();
        let FetchOutcome::Cancelled(s) = out else {
            panic!("expected cancelled");
        };
        assert_eq!(s.status, RunStatus::Cancelled);
        assert_eq!(s.sites_total, 200);
        assert!(s.sites_harvested >= 3 && s.sites_harvested < 200);
        assert!(s.stats.requests > 3);
        assert!(s.diff.is_empty());
    }

    #[tokio::test]
    async fn a_fatal_clients_error_fails_the_whole_run() {
        let src = Scripted {
            sites: sites(10),
            ..Default::default()
        };
        let victim = src.sites[3].org_id.clone();
        src.answers.lock().unwrap().insert(
            victim,
            vec![Err(FetchError::Fatal {
                message: "SIMS ID refused our access token (403, insufficient_scope)".into(),
            })],
        );
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let out = run(src, fast(), tx, CancellationToken::new()).await;
        let FetchOutcome::Failed(s) = out else {
            panic!("expected the run to fail");
        };
        assert_eq!(s.status, RunStatus::Failed);
        assert!(s.error.unwrap().contains("insufficient_scope"));
    }
}
