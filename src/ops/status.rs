//! `simsid status`: the store's health for on-call and monitoring (docs/reference/cli.md `status`). The
//! facts are read from the store; [`assess`] — pure — names every problem.

use chrono::{DateTime, Utc};

use crate::domain::Refresh;
use crate::domain::{RunScope, RunStatus, RunSummary};
use crate::store::{HealthFacts, MetricsFailure, PulledMark, Store};

/// The problem of a machine that has no store yet (docs/reference/cli.md `status`): nothing has run, which
/// is not tampering.
pub const NO_STORE_YET: &str = "no store yet (no harvest has run)";
/// The same on a viewer, whose store is made by its first pull.
pub const NO_VIEW_YET: &str = "no store yet (no pull has run): run `simsid pull`";

/// Everything `status` reads, before judging it.
#[derive(Debug, Clone, Default)]
pub struct StatusFacts {
    /// There is no store file yet: nothing has run on this machine.
    pub no_store: bool,
    /// Why the store could not be read (wrong key, not a store…), if it could not.
    pub store_error: Option<String>,
    pub health: Option<HealthFacts>,
    /// The newest run of any scope.
    pub last_run: Option<RunSummary>,
    /// The newest full harvest.
    pub last_full_run: Option<RunSummary>,
    /// What SQLite's `quick_check` found, if anything (`None`: whole).
    pub integrity: Option<String>,
    /// Records in the audit trail and the first bad one's index, if the chain is broken.
    pub audit_records: usize,
    pub audit_first_bad: Option<usize>,
    /// Why the audit chain could not be checked (an I/O error: not tampering).
    pub audit_error: Option<String>,
    /// The last metrics write failed (cleared by the next one that succeeds).
    pub metrics_failure: Option<MetricsFailure>,
    /// On a viewer: the view it last pulled.
    pub pulled: Option<PulledMark>,
}

/// The verdict `status` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub healthy: bool,
    /// Every problem, one sentence each; empty when healthy.
    pub problems: Vec<String>,
    pub last_run: Option<LastRun>,
    /// The counts, the onboarding queue and the last complete harvest, as read.
    pub store: HealthFacts,
    /// There is no store yet.
    pub no_store: bool,
    pub store_ok: bool,
    /// False only when a record of the chain was found edited, removed, inserted or
    /// reordered: tampering, nothing else.
    pub audit_chain_intact: bool,
    /// Whether the audit chain was checked at all (no store, or one that cannot be read:
    /// not checked).
    pub audit_checked: bool,
    /// The last metrics write failed.
    pub metrics_failure: Option<MetricsFailure>,
    /// On a viewer: the view it shows, and how old it is.
    pub view: Option<ViewAge>,
}

/// The pulled view, as a viewer's `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewAge {
    pub run_id: uuid::Uuid,
    /// When the harvest host published it: the age `--max-age` judges.
    pub published_at: DateTime<Utc>,
    /// When this machine pulled it.
    pub pulled_at: DateTime<Utc>,
}

/// The newest run, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    pub run_id: uuid::Uuid,
    pub status: RunStatus,
    pub finished_at: DateTime<Utc>,
    pub scope: RunScope,
}

/// Reads the facts from an open store (each failure becomes a fact, not an error).
pub fn read_facts(store: &Store) -> StatusFacts {
    let mut facts = StatusFacts::default();
    match store.health_facts() {
        Ok(h) => facts.health = Some(h),
        Err(e) => facts.store_error = Some(e.to_string()),
    }
    match store.runs() {
        Ok(runs) => {
            facts.last_full_run = runs.iter().find(|r| r.scope == RunScope::Full).cloned();
            facts.last_run = runs.into_iter().next();
        }
        Err(e) => facts.store_error = Some(e.to_string()),
    }
    match store.integrity_problem() {
        Ok(problem) => facts.integrity = problem,
        Err(e) => facts.integrity = Some(e.to_string()),
    }
    match store.verify_audit() {
        Ok(check) => {
            facts.audit_records = check.records;
            facts.audit_first_bad = check.first_bad.map(|b| b.index);
        }
        Err(e) => facts.audit_error = Some(e.to_string()),
    }
    match store.metrics_failure() {
        Ok(f) => facts.metrics_failure = f,
        Err(e) => facts.store_error = Some(e.to_string()),
    }
    match store.pulled() {
        Ok(p) => facts.pulled = p,
        Err(e) => facts.store_error = Some(e.to_string()),
    }
    facts
}

/// Judges the facts at `now` for a machine whose store is brought up to date by `refresh`: no store yet, a store
/// that cannot be read, no harvest yet, a last full harvest that did not complete, a last
/// complete harvest (on a viewer: the pulled view) older than `max_age` (`None`: no age
/// check), stale sites, held removals, a failed metrics write, a failed integrity check and
/// a broken audit chain are problems. Sites waiting for approval are reported, not a
/// problem.
pub fn assess(
    facts: &StatusFacts,
    now: DateTime<Utc>,
    refresh: Refresh,
    max_age: Option<std::time::Duration>,
) -> StatusReport {
    let viewer = refresh == Refresh::Pull;
    let mut problems = Vec::new();
    if facts.no_store {
        problems.push(if viewer { NO_VIEW_YET } else { NO_STORE_YET }.to_string());
    }
    if let Some(e) = &facts.store_error {
        problems.push(format!("the store cannot be read: {e}"));
    }
    let readable = !facts.no_store && facts.store_error.is_none();
    let health = facts.health.clone().unwrap_or(HealthFacts {
        sites: 0,
        credentials: 0,
        stale_sites: 0,
        removals_held: 0,
        waiting: 0,
        oldest_waiting_since: None,
        last_complete_at: None,
    });
    if readable {
        last_run_problems(facts, viewer, &mut problems);
        if let Some(max) = max_age.filter(|m| !m.is_zero()) {
            age_problems(facts, &health, now, viewer, max, &mut problems);
        }
    }
    if health.stale_sites > 0 {
        problems.push(format!(
            "{} site(s) stale: their last harvest failed, their credentials may be out of date \
             (`simsid sites --status stale`)",
            health.stale_sites
        ));
    }
    if health.removals_held > 0 {
        problems.push(format!(
            "{} credential removal(s) held by the removal guard: check them, then run \
             `simsid harvest --accept-removals`",
            health.removals_held
        ));
    }
    if let Some(f) = &facts.metrics_failure {
        problems.push(format!(
            "the metrics file {} could not be written at {}: {} (node_exporter reports stale \
             numbers until a write succeeds)",
            f.path,
            crate::domain::rfc3339::format(&f.at),
            f.error
        ));
    }
    let store_ok = readable && facts.integrity.is_none();
    if let Some(found) = &facts.integrity {
        problems.push(format!("the store's integrity check failed: {found}"));
    }
    let audit_checked = readable && facts.audit_error.is_none();
    if let (Some(e), true) = (&facts.audit_error, readable) {
        problems.push(format!("the audit chain could not be checked: {e}"));
    }
    let audit_chain_intact = facts.audit_first_bad.is_none();
    if let Some(index) = facts.audit_first_bad {
        problems.push(format!(
            "the audit chain is broken at record {index} (`simsid audit --verify`)"
        ));
    }
    StatusReport {
        healthy: problems.is_empty(),
        problems,
        last_run: facts.last_run.as_ref().map(|r| LastRun {
            run_id: r.run_id,
            status: r.status,
            finished_at: r.finished_at,
            scope: r.scope,
        }),
        store: health,
        no_store: facts.no_store,
        store_ok,
        audit_chain_intact,
        audit_checked,
        metrics_failure: facts.metrics_failure.clone(),
        view: facts.pulled.as_ref().map(|p| ViewAge {
            run_id: p.run_id,
            published_at: p.published_at,
            pulled_at: p.pulled_at,
        }),
    }
}

/// The newest full harvest's outcome (on a viewer: the harvest host's, from the view).
fn last_run_problems(facts: &StatusFacts, viewer: bool, problems: &mut Vec<String>) {
    let Some(run) = &facts.last_full_run else {
        problems.push(if viewer {
            "the pulled view holds no full harvest yet (the harvest host has not run one)".into()
        } else {
            "no full harvest has run yet: run `simsid harvest`".into()
        });
        return;
    };
    let when = format!(
        "run {}, finished {}",
        run.run_id,
        crate::domain::rfc3339::format(&run.finished_at)
    );
    match run.status {
        RunStatus::Complete => {}
        RunStatus::Partial => problems.push(format!(
            "the last harvest was partial ({when}): {} site(s) failed",
            run.sites_failed
        )),
        RunStatus::Failed => problems.push(format!(
            "the last harvest failed ({when}): {}",
            run.error.as_deref().unwrap_or("unknown error")
        )),
        RunStatus::Cancelled => problems.push(format!(
            "the last harvest was cancelled ({when}): {}",
            run.error.as_deref().unwrap_or("cancelled")
        )),
    }
}

/// The age check: the last complete harvest, or on a viewer the pulled view (when the
/// harvest host published it: a view pulled a minute ago of a harvest two days old is two
/// days old).
fn age_problems(
    facts: &StatusFacts,
    health: &HealthFacts,
    now: DateTime<Utc>,
    viewer: bool,
    max: std::time::Duration,
    problems: &mut Vec<String>,
) {
    let limit = crate::words::age(chrono::Duration::seconds(
        i64::try_from(max.as_secs()).unwrap_or(i64::MAX),
    ));
    let too_old = |at: DateTime<Utc>| (now - at).to_std().is_ok_and(|a| a > max);
    if viewer {
        match &facts.pulled {
            Some(p) if too_old(p.published_at) => problems.push(format!(
                "the pulled view was published {} ago (pulled {} ago), more than the maximum \
                 age of {limit}: run `simsid pull`, and check the harvest host if it stays old",
                crate::words::age(now - p.published_at),
                crate::words::age(now - p.pulled_at),
            )),
            Some(_) => {}
            None => problems.push(format!(
                "no view pulled yet (maximum age {limit}): run `simsid pull`"
            )),
        }
        return;
    }
    match health.last_complete_at {
        Some(at) if too_old(at) => problems.push(format!(
            "the last complete harvest finished {} ago, more than the maximum age of {limit}",
            crate::words::age(now - at)
        )),
        Some(_) => {}
        None => problems.push(format!("no complete harvest yet (maximum age {limit})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }

    fn run(status: RunStatus, finished: DateTime<Utc>) -> RunSummary {
        RunSummary {
            run_id: uuid::Uuid::from_u128(7),
            status,
            started_at: finished,
            finished_at: finished,
            sites_total: 3,
            sites_harvested: 2,
            sites_failed: 1,
            credentials_total: 4,
            diff: Default::default(),
            failures: vec![],
            stats: Default::default(),
            error: Some("boom".into()),
            scope: RunScope::Full,
            signal: None,
        }
    }

    fn healthy_facts() -> StatusFacts {
        StatusFacts {
            health: Some(HealthFacts {
                sites: 3,
                credentials: 4,
                stale_sites: 0,
                removals_held: 0,
                waiting: 1,
                oldest_waiting_since: Some(at(1)),
                last_complete_at: Some(at(2)),
            }),
            last_run: Some(run(RunStatus::Complete, at(2))),
            last_full_run: Some(run(RunStatus::Complete, at(2))),
            ..StatusFacts::default()
        }
    }

    #[test]
    fn a_recent_complete_harvest_is_healthy_and_waiting_sites_are_no_problem() {
        let r = assess(
            &healthy_facts(),
            at(3),
            Refresh::Harvest,
            Some(std::time::Duration::from_secs(26 * 3600)),
        );
        assert!(r.healthy, "{:?}", r.problems);
        assert!(r.store_ok && r.audit_chain_intact);
        assert_eq!(r.store.waiting, 1);
    }

    #[test]
    fn every_problem_is_named() {
        let mut f = healthy_facts();
        f.last_full_run = Some(run(RunStatus::Failed, at(5)));
        if let Some(h) = f.health.as_mut() {
            h.stale_sites = 2;
            h.removals_held = 7;
        }
        f.integrity = Some("row 3 missing from index".into());
        f.audit_first_bad = Some(4);
        let now = at(2) + chrono::Duration::hours(30);
        let r = assess(
            &f,
            now,
            Refresh::Harvest,
            Some(std::time::Duration::from_secs(26 * 3600)),
        );
        assert!(!r.healthy);
        let all = r.problems.join("\n");
        for needle in [
            "the last harvest failed",
            "boom",
            "finished 30 h ago",
            "2 site(s) stale",
            "7 credential removal(s) held",
            "--accept-removals",
            "integrity check failed: row 3",
            "audit chain is broken at record 4",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
        assert_eq!(r.problems.len(), 6);
        assert!(!r.store_ok && !r.audit_chain_intact);
    }

    #[test]
    fn no_harvest_yet_and_an_unreadable_store_are_problems() {
        let r = assess(&StatusFacts::default(), at(1), Refresh::Harvest, None);
        assert_eq!(
            r.problems,
            ["no full harvest has run yet: run `simsid harvest`"]
        );
        let f = StatusFacts {
            store_error: Some("wrong key for /x".into()),
            ..StatusFacts::default()
        };
        let r = assess(
            &f,
            at(1),
            Refresh::Harvest,
            Some(std::time::Duration::from_secs(60)),
        );
        assert_eq!(r.problems, ["the store cannot be read: wrong key for /x"]);
        assert!(!r.store_ok && !r.healthy);
        // An unreadable store is not a broken chain: that word means tampering.
        assert!(r.audit_chain_intact && !r.audit_checked);
    }

    #[test]
    fn no_store_yet_is_named_as_such_never_as_a_broken_chain() {
        let f = StatusFacts {
            no_store: true,
            ..StatusFacts::default()
        };
        let r = assess(
            &f,
            at(1),
            Refresh::Harvest,
            Some(crate::config::DEFAULT_MAX_AGE),
        );
        assert_eq!(r.problems, [NO_STORE_YET]);
        assert!(!r.healthy && r.no_store && !r.store_ok);
        assert!(r.audit_chain_intact && !r.audit_checked);
        let r = assess(
            &f,
            at(1),
            Refresh::Pull,
            Some(crate::config::DEFAULT_MAX_AGE),
        );
        assert_eq!(r.problems, [NO_VIEW_YET]);
    }

    #[test]
    fn the_age_check_is_off_at_zero_and_judges_a_viewer_by_its_view() {
        let mut f = healthy_facts();
        let now = at(2) + chrono::Duration::hours(27);
        let day = Some(crate::config::DEFAULT_MAX_AGE);
        assert!(!assess(&f, now, Refresh::Harvest, day).healthy);
        let off = Some(std::time::Duration::ZERO);
        assert!(assess(&f, now, Refresh::Harvest, off).healthy);
        assert!(assess(&f, now, Refresh::Harvest, None).healthy);

        // A viewer: the view published 27 h ago, pulled an hour ago, is 27 h old.
        f.pulled = Some(PulledMark {
            manifest_sha256: "0".repeat(64),
            run_id: uuid::Uuid::from_u128(7),
            published_at: at(2),
            identity: None,
            sites: 3,
            credentials: 4,
            pulled_at: now - chrono::Duration::hours(1),
            sequence: 1,
        });
        let r = assess(&f, now, Refresh::Pull, day);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(
            r.problems[0].contains("published 27 h ago (pulled 1 h ago)"),
            "{:?}",
            r.problems
        );
        assert_eq!(r.view.as_ref().map(|v| v.published_at), Some(at(2)));
        let fresh = at(2) + chrono::Duration::hours(3);
        assert!(assess(&f, fresh, Refresh::Pull, day).healthy);
        f.pulled = None;
        let r = assess(&f, fresh, Refresh::Pull, day);
        assert!(
            r.problems[0].contains("no view pulled yet"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn a_failed_metrics_write_is_a_problem() {
        let mut f = healthy_facts();
        f.metrics_failure = Some(MetricsFailure {
            path: "/srv/prom/simsid.prom".into(),
            error: "permission denied".into(),
            at: at(2),
        });
        let r = assess(&f, at(3), Refresh::Harvest, None);
        assert!(!r.healthy);
        assert!(
            r.problems[0].contains("/srv/prom/simsid.prom could not be written"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn partial_and_cancelled_last_harvests_are_problems() {
        for (status, word) in [
            (RunStatus::Partial, "partial"),
            (RunStatus::Cancelled, "cancelled"),
        ] {
            let mut f = healthy_facts();
            f.last_full_run = Some(run(status, at(2)));
            let r = assess(&f, at(3), Refresh::Harvest, None);
            assert!(!r.healthy);
            assert!(r.problems[0].contains(word), "{:?}", r.problems);
        }
    }
}
