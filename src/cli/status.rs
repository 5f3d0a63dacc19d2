//! `simsid status [--json] [--max-age DURATION]`: the store's health as text or docs/reference/cli.md's
//! JSON document; exit 0 healthy, 1 not. It reads only: a missing store is a problem it
//! reports ("no store yet"), not something it creates. The age check is on by default
//! (`max_age`, 26 h; `--max-age 0` turns it off); on a viewer it judges the pulled view.

use std::io::Write;

use chrono::Utc;
use serde_json::{json, Value};

use super::commands::{io_err, CmdResult};
use super::exit;
use super::output;
use crate::domain::rfc3339;
use crate::ops::status::{assess, read_facts, StatusFacts, StatusReport};
use crate::ops::{self, Context};

/// `simsid status`.
pub fn status(ctx: &Context, json: bool, max_age: Option<std::time::Duration>) -> CmdResult {
    let facts = match ops::open_store_if_present(&ctx.settings().local) {
        Ok(Some(store)) => read_facts(&store),
        Ok(None) => StatusFacts {
            no_store: true,
            ..StatusFacts::default()
        },
        Err(e) => StatusFacts {
            store_error: Some(e.to_string()),
            ..StatusFacts::default()
        },
    };
    let now = Utc::now();
    let max_age = effective_max_age(max_age, ctx.settings().local.max_age);
    let refresh = ctx.keeper().refresh();
    let report = assess(&facts, now, refresh, max_age);
    // Where the store's key lives (docs/reference/cli.md, "Store"), worked out without it.
    let store_key = ops::store_key_location(&ctx.settings().local).as_str();
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = status_json(&report, now);
        // A viewer's history is the harvest host's, pulled (docs/reference/vault.md "Team mode").
        v["source"] = json!(refresh.source());
        v["store_key"] = json!(store_key);
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else {
        status_text(&mut out, &report, store_key, now).map_err(io_err)?;
    }
    Ok(if report.healthy {
        exit::OK
    } else {
        exit::RUNTIME
    })
}

/// The age limit `status` applies: `--max-age`, else the profile's `max_age`, else 26 h;
/// zero turns the check off (`None`).
pub fn effective_max_age(
    flag: Option<std::time::Duration>,
    setting: Option<std::time::Duration>,
) -> Option<std::time::Duration> {
    Some(flag.or(setting).unwrap_or(crate::config::DEFAULT_MAX_AGE)).filter(|d| !d.is_zero())
}

/// docs/reference/cli.md's `status --json` document (plus `age_seconds` of the last run, the onboarding
/// queue: `waiting`, `oldest_waiting_since`,
/// `metrics_error` and, on a viewer, `view`: the run it shows, when it was published and
/// pulled, and its age).
pub fn status_json(r: &StatusReport, now: chrono::DateTime<Utc>) -> Value {
    json!({
        "healthy": r.healthy,
        "problems": r.problems,
        "source": "sims",
        "last_run": r.last_run.as_ref().map(|l| json!({
            "run_id": l.run_id,
            "status": l.status.as_str(),
            "finished_at": rfc3339::format(&l.finished_at),
            "scope": l.scope.as_str(),
            "age_seconds": (now - l.finished_at).num_seconds().max(0),
        })),
        "last_complete_at": r.store.last_complete_at.as_ref().map(rfc3339::format),
        "sites": r.store.sites,
        "credentials": r.store.credentials,
        "stale_sites": r.store.stale_sites,
        "removals_held": r.store.removals_held,
        "waiting": r.store.waiting,
        "oldest_waiting_since": r.store.oldest_waiting_since.as_ref().map(rfc3339::format),
        "store_ok": r.store_ok,
        "audit_chain_intact": r.audit_chain_intact,
        "metrics_error": r.metrics_failure.as_ref().map(|f| json!({
            "path": f.path,
            "error": f.error,
            "at": rfc3339::format(&f.at),
        })),
        "view": r.view.as_ref().map(|v| json!({
            "run_id": v.run_id,
            "published_at": rfc3339::format(&v.published_at),
            "pulled_at": rfc3339::format(&v.pulled_at),
            "age_seconds": (now - v.published_at).num_seconds().max(0),
        })),
    })
}

/// The report as text: the verdict, the facts (with where the store key lives, `store_key`),
/// then every problem.
pub fn status_text(
    out: &mut impl Write,
    r: &StatusReport,
    store_key: &str,
    now: chrono::DateTime<Utc>,
) -> std::io::Result<()> {
    use crate::words::age;
    writeln!(out, "{}", if r.healthy { "healthy" } else { "UNHEALTHY" })?;
    if r.no_store {
        writeln!(out, "store key:      {store_key} (for the first harvest)")?;
        for p in &r.problems {
            writeln!(out, "problem: {}", crate::sanitize::for_terminal(p))?;
        }
        return Ok(());
    }
    if let Some(v) = &r.view {
        writeln!(
            out,
            "view:           run {}, published {}, {} ago (pulled {} ago)",
            v.run_id,
            output::human_time(&v.published_at),
            age(now - v.published_at),
            age(now - v.pulled_at)
        )?;
    }
    match &r.last_run {
        Some(l) => writeln!(
            out,
            "last run:       {} {} ({}), {} ago",
            output::human_time(&l.finished_at),
            l.status.as_str(),
            l.scope.as_str(),
            age(now - l.finished_at)
        )?,
        None => writeln!(out, "last run:       none")?,
    }
    match &r.store.last_complete_at {
        Some(t) => writeln!(
            out,
            "last complete:  {}, {} ago",
            output::human_time(t),
            age(now - *t)
        )?,
        None => writeln!(out, "last complete:  none")?,
    }
    writeln!(
        out,
        "sites:          {} ({} stale), {} credential(s), {} removal(s) held",
        r.store.sites, r.store.stale_sites, r.store.credentials, r.store.removals_held
    )?;
    match &r.store.oldest_waiting_since {
        Some(t) => writeln!(
            out,
            "waiting:        {} site(s) waiting for approval, the oldest for {}",
            r.store.waiting,
            age(now - *t)
        )?,
        None => writeln!(out, "waiting:        none")?,
    }
    let chain = match (r.audit_chain_intact, r.audit_checked) {
        (false, _) => "BROKEN",
        (true, true) => "intact",
        (true, false) => "not checked",
    };
    writeln!(
        out,
        "store:          {}; audit chain {chain}",
        if r.store_ok { "ok" } else { "NOT OK" },
    )?;
    writeln!(out, "store key:      {store_key}")?;
    if let Some(f) = &r.metrics_failure {
        writeln!(
            out,
            "metrics:        NOT WRITTEN since {}",
            output::human_time(&f.at)
        )?;
    }
    for p in &r.problems {
        writeln!(out, "problem: {}", crate::sanitize::for_terminal(p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_age_check_is_on_by_default_and_zero_turns_it_off() {
        let day = crate::config::DEFAULT_MAX_AGE;
        assert_eq!(day, Duration::from_secs(26 * 3600));
        assert_eq!(effective_max_age(None, None), Some(day));
        let hour = Duration::from_secs(3600);
        assert_eq!(effective_max_age(None, Some(hour)), Some(hour));
        assert_eq!(effective_max_age(Some(day), Some(hour)), Some(day));
        assert_eq!(effective_max_age(Some(Duration::ZERO), Some(hour)), None);
        assert_eq!(effective_max_age(None, Some(Duration::ZERO)), None);
    }
}
