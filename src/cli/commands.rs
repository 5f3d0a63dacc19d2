//! The headless commands of docs/reference/cli.md: each opens what it needs, does one thing, prints text or
//! JSON on stdout, and returns its exit code.

use std::io::Write;

use secrecy::SecretString;

use super::args::ExportFormat;
use super::exit::{self, CliError};
use super::names::SchoolNames;
use super::output;
use crate::domain::{AuditAction, OrgId, RunStatus, SiteRow};
use crate::filter::Filter;
use crate::filter::StatusFilter;
use crate::harvest::{Cancel, HarvestEnd, Progress};
use crate::ops::{self, Context};
use crate::store::Store;

pub use super::exit::{io_err, CmdResult};

/// The one site `query` names; an ambiguous DfE code or DENI number lists the candidates
/// and exits 4 (nothing is shown, revealed or verified).
pub(super) fn resolve_org(store: &Store, query: &str) -> Result<OrgId, CliError> {
    let found = store.resolve(query)?;
    match found {
        crate::lookup::Found::One(row) => Ok(row.site.org_id),
        crate::lookup::Found::Nothing => Err(CliError::not_found(query)),
        crate::lookup::Found::Many(rows) => {
            let sites: Vec<&crate::domain::Site> = rows.iter().map(|r| &r.site).collect();
            Err(CliError {
                code: exit::NOT_FOUND,
                message: crate::lookup::ambiguous_message(query, &sites),
            })
        }
    }
}

/// Shows harvest progress as a bar on stderr when stderr is a terminal (and drains the
/// events silently otherwise). Ends when the sender is dropped.
pub fn spawn_progress_bar(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<crate::harvest::HarvestEvent>,
) -> tokio::task::JoinHandle<()> {
    let bar = super::progress::stderr_bar("harvest", "sites");
    tokio::spawn(async move {
        let mut p = Progress::new(std::time::Instant::now());
        while let Some(event) = rx.recv().await {
            p.apply(&event, std::time::Instant::now());
            if let Some(bar) = &bar {
                if let Some(total) = p.total {
                    bar.set_length(total as u64);
                }
                bar.set_position(p.finished() as u64);
                let limit = p.limits.map_or_else(String::new, |l| {
                    format!("/{} (max {})", l.concurrency, l.ceiling)
                });
                let vault = match p.stored {
                    Some((done, total)) if total > 0 => format!("  vault writes {done}/{total}"),
                    _ => String::new(),
                };
                bar.set_message(format!(
                    "in flight {}{limit}  429s {}  retries {}  failed {}{vault}",
                    p.in_flight, p.rate_limited, p.retries, p.failed
                ));
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    })
}

/// `simsid harvest [--reconcile] [--accept-removals]`: the profile's keeper gives the sink
/// (the store alone, or the vault written before the local commit; a failed vault write
/// fails the run, exit 1, with nothing committed).
pub async fn harvest(
    ctx: &Context,
    json: bool,
    reconcile: bool,
    policy: ops::HarvestPolicy,
) -> CmdResult {
    let started_at = chrono::Utc::now();
    let request = ops::HarvestRequest {
        policy,
        reconcile,
        on_locked: Some(&super::store_key::say_key_notice),
        ..ops::HarvestRequest::default()
    };
    let harvested = run_harvest(ctx, request).await?;
    let foreign = harvested.vault.as_ref().and_then(|r| r.foreign.clone());
    let code = print_harvest(ctx, json, started_at, harvested);
    if let Some(foreign) = foreign {
        if !foreign.is_empty() {
            const SHOWN: usize = 20;
            let names: Vec<String> = foreign
                .iter()
                .take(SHOWN)
                .map(|k| crate::sanitize::for_terminal(k).into_owned())
                .collect();
            let more = foreign.len().saturating_sub(SHOWN);
            eprintln!(
                "reconcile: {} foreign key(s) under the prefix (not written by this store) were left alone: {}{}",
                foreign.len(),
                names.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
    }
    if let Some(remaining) = ctx.keeper().sealed_remaining() {
        eprintln!("vault mode: {remaining}");
    }
    code
}

/// Runs one harvest through the keeper (which takes the store's lock and commits) with a
/// progress bar on stderr; Ctrl-C, SIGTERM and SIGHUP cancel it (nothing is committed, the
/// run is recorded with the signal).
pub(super) async fn run_harvest(
    ctx: &Context,
    request: ops::HarvestRequest<'_>,
) -> Result<ops::Harvested, CliError> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = Cancel::new();
    let signals = crate::signals::StopSignals::listen()
        .map_err(|e| CliError::runtime(format!("cannot listen for signals: {e}")))?
        .cancel_on_signal(cancel.clone());
    let progress = spawn_progress_bar(rx);
    let harvested = ctx.keeper().harvest(request, tx, cancel).await;
    signals.abort();
    let _ = progress.await;
    Ok(harvested?)
}

/// Records and prints a full harvest (text or JSON, with the vault's counts when it wrote
/// the vault), its metrics written, still under the store's lock; returns docs/reference/cli.md's exit
/// code.
fn print_harvest(
    ctx: &Context,
    json: bool,
    started_at: chrono::DateTime<chrono::Utc>,
    harvested: ops::Harvested,
) -> CmdResult {
    let ops::Harvested { end, vault, store } = harvested;
    let store = &store.store;
    let end = match end {
        Ok(ops::SiteEnd::Ran(end)) => end,
        Ok(_) => {
            return Err(CliError::runtime(
                "internal error: a full harvest picked one site",
            ))
        }
        Err(e) => {
            // No run summary: monitoring still learns that this run failed.
            let failed =
                crate::harvest::failed_summary(uuid::Uuid::new_v4(), started_at, e.to_string());
            super::metrics::write(ctx, store, &failed, vault.map(|v| v.counts));
            return Err(e.into());
        }
    };
    let summary = match end {
        HarvestEnd::Cancelled(s) | HarvestEnd::Finished(s) => s,
    };
    super::metrics::write(ctx, store, &summary, vault.as_ref().map(|v| v.counts));
    let names = names_for_run(store, &summary);
    print_run(json, &summary, vault.as_ref(), &names)
}

/// The names a run's output needs: the schools it mentions as the store holds them, and
/// those it removed as its commit recorded them (none when they cannot be read: ids are
/// shown instead).
pub(super) fn names_for_run(store: &Store, run: &crate::domain::RunSummary) -> SchoolNames {
    let held = store
        .site_names_of(&super::names::mentioned(run))
        .map(SchoolNames)
        .unwrap_or_default();
    let recorded = store
        .run_names()
        .ok()
        .and_then(|mut all| all.remove(&run.run_id.to_string()));
    held.or_recorded(recorded.as_ref())
}

/// The store's school names (none when they cannot be read: ids are shown instead).
pub(super) fn names_in(store: &Store) -> SchoolNames {
    store.site_names().map(SchoolNames).unwrap_or_default()
}

/// Prints a finished or cancelled run (text, or the JSON document with the vault's counts
/// and foreign keys when given) and returns docs/reference/cli.md's exit code for it.
pub fn print_run(
    json: bool,
    summary: &crate::domain::RunSummary,
    vault: Option<&ops::SinkReport>,
    names: &SchoolNames,
) -> CmdResult {
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(summary)
            .map_err(|e| CliError::runtime(format!("cannot encode the run: {e}")))?;
        names.annotate(&mut v, summary);
        if let (Some(map), Some(vault)) = (v.as_object_mut(), vault) {
            let counts = serde_json::to_value(vault.counts)
                .map_err(|e| CliError::runtime(format!("cannot encode the run: {e}")))?;
            map.insert("vault".into(), counts);
            if let Some(foreign) = &vault.foreign {
                map.insert("vault_foreign".into(), serde_json::json!(foreign));
            }
            match &vault.view {
                Some(Ok(published)) => {
                    map.insert("view".into(), serde_json::json!(published));
                }
                Some(Err(why)) => {
                    map.insert("view_error".into(), serde_json::json!(why));
                }
                None => {}
            }
        }
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else {
        output::run_text(&mut out, summary, names).map_err(io_err)?;
        if let Some(c) = vault.map(|v| v.counts) {
            writeln!(
                out,
                "vault: {} written, {} removed, {} unchanged, {} errors",
                c.written, c.removed, c.unchanged, c.errors
            )
            .map_err(io_err)?;
        }
        if let Some(Some(Ok(p))) = vault.map(|v| &v.view) {
            writeln!(
                out,
                "team view: published ({} chunks, {} written, {} removed)",
                p.chunks, p.written, p.removed
            )
            .map_err(io_err)?;
        }
    }
    // The run is committed and the secrets are in the vault: a publish that failed is a
    // warning, not the run's exit code; the next harvest publishes again.
    if let Some(Some(Err(why))) = vault.map(|v| &v.view) {
        eprintln!(
            "simsid: warning: the team's view was not published: {}; the next harvest publishes it again",
            crate::sanitize::for_terminal(why)
        );
    }
    Ok(match summary.status {
        RunStatus::Cancelled => {
            eprintln!(
                "harvest {}; nothing committed",
                summary.error.as_deref().unwrap_or("cancelled")
            );
            crate::signals::exit_code(summary.signal)
        }
        RunStatus::Complete => exit::OK,
        RunStatus::Partial => exit::PARTIAL,
        RunStatus::Failed => {
            eprintln!(
                "harvest failed: {}",
                crate::sanitize::for_terminal(summary.error.as_deref().unwrap_or("unknown error"))
            );
            exit::RUNTIME
        }
    })
}

/// `simsid sites`.
pub fn sites(
    ctx: &Context,
    json: bool,
    filter: Option<&str>,
    status: Option<StatusFilter>,
) -> CmdResult {
    let filter = Filter::parse(filter.unwrap_or(""))
        .map_err(|e| CliError::usage(format!("--filter: {e}")))?;
    let view = status.unwrap_or_default();
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let mut rows: Vec<SiteRow> = store
        .sites()?
        .into_iter()
        .filter(|r| filter.matches(&r.site) && view.includes(r))
        .collect();
    // The onboarding queue: the longest waiting first.
    let queue = view == StatusFilter::Unauthorised;
    if queue {
        crate::filter::sort_by_wait(&mut rows);
    }
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::Value::Array(rows.iter().map(output::site_json).collect());
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else if queue {
        output::waiting_text(&mut out, &rows, chrono::Utc::now()).map_err(io_err)?;
    } else {
        output::sites_text(&mut out, &rows).map_err(io_err)?;
    }
    Ok(exit::OK)
}

/// `simsid show ORG [--reveal]`: each secret revealed through the profile's keeper and
/// audited.
pub async fn show(ctx: &Context, org: &str, json: bool, reveal: bool) -> CmdResult {
    if reveal {
        ctx.keeper().refuse_if_readonly("reveal")?;
    }
    // A read: a missing store is an error naming it, nothing is created (docs/reference/cli.md).
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let org_id = resolve_org(&store, org)?;
    let detail = store
        .site(&org_id)?
        .ok_or_else(|| CliError::not_found(org))?;
    let store = std::sync::Mutex::new(store);
    let mut secrets_shown: Vec<Option<SecretString>> = Vec::new();
    if reveal {
        for c in &detail.credentials {
            let request = ops::ReadRequest {
                action: AuditAction::Reveal,
                org: &org_id,
                client_id: &c.client_id,
            };
            let s = ctx.keeper().read(&store, request).await?;
            secrets_shown.push(Some(s));
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        output::write_json(&mut out, &output::show_json(&detail, &secrets_shown))
            .map_err(io_err)?;
    } else {
        output::show_text(&mut out, &detail, &secrets_shown, chrono::Utc::now()).map_err(io_err)?;
    }
    Ok(exit::OK)
}

/// `simsid verify ORG`.
pub async fn verify(ctx: &Context, org: &str, json: bool) -> CmdResult {
    ctx.keeper().refuse_if_readonly("verify")?;
    let org_id = {
        let store = ops::open_existing_store(&ctx.settings().local)?;
        resolve_org(&store, org)?
    };
    // The one verify (the harvest's retries: a 429 is waited out), in either mode.
    let selection = crate::ops::verify::Selection::Site(org_id.clone());
    let (checks, _) = super::incident::checked(ctx, &selection).await?;
    print_verify(json, &org_id, &checks)
}

/// Prints `verify ORG`'s results and returns the one verify exit code
/// ([`exit::of_verify`]): 5 when any was refused, else 1 when any errored, else 0.
pub fn print_verify(
    json: bool,
    org_id: &OrgId,
    checks: &[crate::ops::verify::CredentialCheck],
) -> CmdResult {
    let results = crate::ops::verify::results_of(checks);
    let mut out = std::io::stdout().lock();
    if json {
        output::write_json(&mut out, &output::verify_json(org_id.as_str(), &results))
            .map_err(io_err)?;
    } else {
        output::verify_text(&mut out, org_id.as_str(), &results).map_err(io_err)?;
    }
    Ok(exit::of_verify(&crate::ops::verify::Tally::of(
        checks.len(),
        checks,
    )))
}

pub fn history(ctx: &Context, json: bool) -> CmdResult {
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let runs = store.runs()?;
    // The store's names, and those the runs recorded of the schools they removed.
    let names = store
        .run_names()
        .unwrap_or_default()
        .values()
        .fold(names_in(&store), |names, removed| {
            names.or_recorded(Some(removed))
        });
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&runs)
            .map_err(|e| CliError::runtime(format!("cannot encode runs: {e}")))?;
        if let Some(docs) = v.as_array_mut() {
            for (doc, run) in docs.iter_mut().zip(&runs) {
                names.annotate(doc, run);
            }
        }
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else if runs.is_empty() {
        writeln!(out, "no harvest yet: run `simsid harvest`").map_err(io_err)?;
    } else {
        for r in &runs {
            output::run_text(&mut out, r, &names).map_err(io_err)?;
        }
    }
    Ok(exit::OK)
}

/// `simsid audit`.
pub fn audit(ctx: &Context, json: bool) -> CmdResult {
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let entries = store.audit()?;
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::Value::Array(entries.iter().map(output::audit_json).collect());
        output::write_json(&mut out, &v).map_err(io_err)?;
    } else {
        output::audit_text(&mut out, &entries).map_err(io_err)?;
    }
    Ok(exit::OK)
}

/// `simsid export`.
pub fn export(
    ctx: &Context,
    format: ExportFormat,
    output_path: Option<&std::path::Path>,
) -> CmdResult {
    let mut store = ops::open_existing_store(&ctx.settings().local)?;
    let details = store.site_details()?;
    let mut buf: Vec<u8> = Vec::new();
    match format {
        ExportFormat::Json => {
            let v = serde_json::Value::Array(details.iter().map(output::export_json).collect());
            output::write_json(&mut buf, &v).map_err(io_err)?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut buf);
            let csv_err = |e: csv::Error| CliError::runtime(format!("cannot write CSV: {e}"));
            w.write_record(output::EXPORT_CSV_HEADER).map_err(csv_err)?;
            for d in &details {
                for row in output::export_csv_rows(d) {
                    w.write_record(&row).map_err(csv_err)?;
                }
            }
            w.flush()
                .map_err(|e| CliError::runtime(format!("cannot write CSV: {e}")))?;
        }
    }
    match output_path {
        // Written beside, then renamed over: never through a symbolic link, always 0600.
        Some(path) => super::outfile::write_private(path, &buf)?,
        None => std::io::stdout().lock().write_all(&buf).map_err(io_err)?,
    }
    let format_word = match format {
        ExportFormat::Json => "json",
        ExportFormat::Csv => "csv",
    };
    let detail = format!(
        "{format_word}, {} site(s){}",
        details.len(),
        output_path.map_or(String::new(), |p| format!(", to {}", p.display()))
    );
    let entry = ops::Auditor::audit_entry(
        ctx.keeper(),
        AuditAction::Export,
        None,
        None,
        None,
        Some(detail),
    );
    store.append_audit(&entry)?;
    Ok(exit::OK)
}
