//! `simsid status [--json] [--max-age DURATION]`: the store's health as text or cli.md's
//! JSON document; exit 0 healthy, 1 not. It reads only: a missing store is a problem it
//! reports, not something it creates.

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
    let facts = match ops::open_existing_store(&ctx.settings.local) {
        Ok(store) => read_facts(&store),
        Err(e) => StatusFacts {
            store_error: Some(e.to_string()),
            audit_first_bad: Some(0),
            ..StatusFacts::default()
        },
    };
    let now = Utc::now();
    let report = assess(&facts, now, max_age);
    // Where the store's key lives (cli.md, "Store"), worked out without it.
    let store_key = ops::store_key_location(&ctx.settings.local).as_str();
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = status_json(&report, now);
        // A viewer's history is the harvest host's, pulled (vault.md "Team mode").
        v["source"] = json!(ctx.settings.source.as_str());
        v["store_key"] = json!(store_key);
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else {
        status_text(&mut out, &report, now).map_err(io_err)?;
        writeln!(out, "store key:      {store_key}").map_err(io_err)?;
    }
    Ok(if report.healthy {
        exit::OK
    } else {
        exit::RUNTIME
    })
}

/// cli.md's `status --json` document (plus `age_seconds` of the last run and the
/// onboarding queue: `waiting`, `oldest_waiting_since`).
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
    })
}

/// The report as text: the verdict, the facts, then every problem.
pub fn status_text(
    out: &mut impl Write,
    r: &StatusReport,
    now: chrono::DateTime<Utc>,
) -> std::io::Result<()> {
    use crate::words::age;
    writeln!(out, "{}", if r.healthy { "healthy" } else { "UNHEALTHY" })?;
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
    writeln!(
        out,
        "store:          {}; audit chain {}",
        if r.store_ok { "ok" } else { "NOT OK" },
        if r.audit_chain_intact {
            "intact"
        } else {
            "BROKEN"
        }
    )?;
    for p in &r.problems {
        writeln!(out, "problem: {}", crate::sanitize::for_terminal(p))?;
    }
    Ok(())
}
