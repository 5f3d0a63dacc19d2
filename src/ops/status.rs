//! `simsid status`: the store's health for on-call and monitoring (cli.md `status`). The
//! facts are read from the store; [`assess`] — pure — names every problem.

use chrono::{DateTime, Utc};

use crate::domain::{RunScope, RunStatus, RunSummary};
use crate::store::{HealthFacts, Store};

/// Everything `status` reads, before judging it.
#[derive(Debug, Clone, Default)]
pub struct StatusFacts {
    /// Why the store could not be read (missing, wrong key, not a store…), if it could not.
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
    pub store_ok: bool,
    pub audit_chain_intact: bool,
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
        Err(e) => {
            facts.store_error.get_or_insert(e.to_string());
            facts.audit_first_bad = Some(0);
        }
    }
    facts
}

/// Judges the facts at `now`: a store that cannot be read, no harvest yet, a last full
/// harvest that did not complete, a last complete harvest older than `max_age` (when
/// given), stale sites, held removals, a failed integrity check and a broken audit chain
/// are problems. Sites waiting for approval are reported, not a problem.
pub fn assess(
    facts: &StatusFacts,
    now: DateTime<Utc>,
    max_age: Option<std::time::Duration>,
) -> StatusReport {
    let mut problems = Vec::new();
    if let Some(e) = &facts.store_error {
        problems.push(format!("the store cannot be read: {e}"));
    }
    let health = facts.health.clone().unwrap_or(HealthFacts {
        sites: 0,
        credentials: 0,
        stale_sites: 0,
        removals_held: 0,
        waiting: 0,
        oldest_waiting_since: None,
        last_complete_at: None,
    });
    match &facts.last_full_run {
        None if facts.store_error.is_none() => {
            problems.push("no full harvest has run yet: run `simsid harvest`".into())
        }
        None => {}
        Some(run) => {
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
    }
    if let Some(max) = max_age {
        let limit = crate::words::age(chrono::Duration::seconds(
            i64::try_from(max.as_secs()).unwrap_or(i64::MAX),
        ));
        match health.last_complete_at {
            Some(at) => {
                let age = now - at;
                if age.to_std().is_ok_and(|a| a > max) {
                    problems.push(format!(
                        "the last complete harvest finished {} ago, more than the maximum age of {limit}",
                        crate::words::age(age)
                    ));
                }
            }
            None if facts.store_error.is_none() => {
                problems.push(format!("no complete harvest yet (maximum age {limit})"))
            }
            None => {}
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
    let store_ok = facts.store_error.is_none() && facts.integrity.is_none();
    if let Some(found) = &facts.integrity {
        problems.push(format!("the store's integrity check failed: {found}"));
    }
    let audit_chain_intact = facts.audit_first_bad.is_none();
    if let (Some(index), None) = (facts.audit_first_bad, &facts.store_error) {
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
        store_ok,
        audit_chain_intact,
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
        let r = assess(&f, now, Some(std::time::Duration::from_secs(26 * 3600)));
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
        let r = assess(&StatusFacts::default(), at(1), None);
        assert_eq!(
            r.problems,
            ["no full harvest has run yet: run `simsid harvest`"]
        );
        let f = StatusFacts {
            store_error: Some("no store at /x".into()),
            audit_first_bad: Some(0),
            ..StatusFacts::default()
        };
        let r = assess(&f, at(1), Some(std::time::Duration::from_secs(60)));
        assert_eq!(r.problems, ["the store cannot be read: no store at /x"]);
        assert!(!r.store_ok && !r.healthy);
    }

    #[test]
    fn partial_and_cancelled_last_harvests_are_problems() {
        for (status, word) in [
            (RunStatus::Partial, "partial"),
            (RunStatus::Cancelled, "cancelled"),
        ] {
            let mut f = healthy_facts();
            f.last_full_run = Some(run(status, at(2)));
            let r = assess(&f, at(3), None);
            assert!(!r.healthy);
            assert!(r.problems[0].contains(word), "{:?}", r.problems);
        }
    }
}
