//! The on-call's commands after a suspected compromise: `exposure`, `verify --exposed` /
//! `verify --all` and `audit --verify` (docs/reference/cli.md; the runbook is docs/runbook.md).

use std::io::Write;

use super::args::ExportFormat;
use super::exit::{self, io_err, CliError, CmdResult};
use super::incident_output as out;
use super::{outfile, output, vault_audit_files};
use crate::exposure::vault_audit::{AuditScope, CredentialLayout};
use crate::exposure::{self, ExposureQuery};
use crate::ops::verify::{self, Selection, Tally};
use crate::ops::{self, Context};

pub use super::args::{ExposureArgs, VaultAuditArgs};

/// `simsid exposure`: which credentials were shown or copied to whom, and which are live.
pub fn exposure(ctx: &Context, args: &ExposureArgs) -> CmdResult {
    let since = args
        .since
        .as_deref()
        .map(exposure::parse_since)
        .transpose()
        .map_err(|e| CliError::usage(format!("--since: {e}")))?;
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let query = ExposureQuery {
        user: args.user.clone(),
        since,
        live_only: args.live,
    };
    let list = exposure_report(ctx, &store, &query, &args.vault_audit)?;
    let with_sources = !args.vault_audit.files.is_empty();
    let format = match (args.json, args.format) {
        (true, _) | (false, Some(ExportFormat::Json)) => Some(ExportFormat::Json),
        (false, f) => f,
    };
    // The report is written as it is rendered (a large one is never held twice); a file
    // named by --output is written privately in one piece.
    let render = |out: &mut dyn Write| -> Result<(), CliError> {
        match format {
            Some(ExportFormat::Json) => out::exposure_json_array(out, &list, with_sources),
            Some(ExportFormat::Csv) => {
                let bytes = out::exposure_csv(&list, with_sources)
                    .map_err(|e| CliError::runtime(format!("cannot write CSV: {e}")))?;
                out.write_all(&bytes)
            }
            None => out::exposure_text(out, &list, with_sources),
        }
        .map_err(io_err)
    };
    match &args.output {
        Some(path) => {
            let mut buf: Vec<u8> = Vec::new();
            render(&mut buf)?;
            outfile::write_private(path, &buf)?;
        }
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            render(&mut stdout)?;
            stdout.flush().map_err(io_err)?;
        }
    }
    Ok(exit::OK)
}

/// The exposure report, with the vault audit device's reads added when files are given
/// (their summary line goes to stderr).
fn exposure_report(
    ctx: &Context,
    store: &crate::store::Store,
    query: &ExposureQuery,
    vault_audit: &VaultAuditArgs,
) -> Result<Vec<exposure::Exposure>, CliError> {
    let audit = store.audit()?;
    let snapshot = store.snapshot()?;
    if vault_audit.files.is_empty() {
        let selected: Vec<_> = audit
            .into_iter()
            .filter(|e| {
                !vault_audit
                    .exclude_user
                    .iter()
                    .any(|x| exposure::names(e, x))
            })
            .collect();
        return Ok(exposure::report(&selected, &snapshot, query));
    }
    let scope = audit_scope(ctx)?;
    let reads = vault_audit_files::read_all(&vault_audit.files, &scope, query.since)?;
    eprintln!("{}", vault_audit_files::summary(&reads));
    let marks = store.vault_marks()?;
    let rotated_at = exposure::rotation_times(&store.runs()?);
    // The harvester: this host's own runs, or on a viewer what the audit log records
    // writing the view's manifest (never a name from the pulled view alone).
    let viewer = ctx.keeper().refresh() == crate::domain::Refresh::Pull;
    let view_claims = if viewer {
        store.harvest_identities()?
    } else {
        Default::default()
    };
    let found = exposure::harvesters(
        &exposure::harvester_identities(&audit),
        viewer,
        &view_claims,
        &reads,
    );
    for note in &found.notes {
        eprintln!("vault audit: {}", crate::sanitize::for_terminal(note));
    }
    let filter = exposure::VaultAuditFilter {
        reads: &reads,
        marks: &marks,
        rotated_at: &rotated_at,
        exclude: &vault_audit.exclude_user,
        harvesters: &found.names,
        include_harvester: vault_audit.include_harvester,
    };
    Ok(exposure::report_with_vault(
        &audit, &snapshot, query, &filter,
    ))
}

/// `verify --exposed` with `--vault-audit` or `--exclude-user`: the report decides, the
/// vault's reads included.
pub fn exposed_selection(
    ctx: &Context,
    user: Option<String>,
    vault_audit: &VaultAuditArgs,
) -> Result<Selection, CliError> {
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let query = ExposureQuery {
        user,
        ..ExposureQuery::default()
    };
    Ok(Selection::Reported(exposure_report(
        ctx,
        &store,
        &query,
        vault_audit,
    )?))
}

/// Which audit paths are this profile's credentials and view: its vault mount and prefix
/// (the defaults when no vault address is configured), with the vault layer's own key
/// layout passed in.
fn audit_scope(ctx: &Context) -> Result<AuditScope, CliError> {
    let (mount, prefix) = match ctx.keeper().configured_vault() {
        Some(v) => (v.mount.clone(), v.prefix.clone()),
        None => {
            let app = ctx.settings().application_id.as_deref().ok_or_else(|| {
                CliError::usage(
                    "--vault-audit needs the profile's application id (it names the vault prefix)",
                )
            })?;
            (
                "secret".to_string(),
                crate::vault::settings::DEFAULT_PREFIX.replace("{application_id}", app),
            )
        }
    };
    let manifest = format!("{}/manifest", crate::team::VIEW_FOLDER);
    Ok(AuditScope::new(&CredentialLayout {
        mount: &mount,
        prefix: &prefix,
        manifest: &manifest,
        decode_client: crate::vault::path::decode_segment,
    }))
}

/// `simsid audit --verify`: checks the tamper-evident chain; exit 1 when it is broken.
pub fn audit_verify(ctx: &Context, json: bool) -> CmdResult {
    let store = ops::open_existing_store(&ctx.settings().local)?;
    let check = store.verify_audit()?;
    let mut stdout = std::io::stdout().lock();
    if json {
        output::write_json(&mut stdout, &out::audit_check_json(&check)).map_err(io_err)?;
    } else {
        out::audit_check_text(&mut stdout, &check).map_err(io_err)?;
    }
    Ok(if check.intact() {
        exit::OK
    } else {
        exit::RUNTIME
    })
}

/// A progress bar on stderr (when it is a terminal) fed by the verify's running tally.
pub(super) fn spawn_verify_bar(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Tally>,
) -> tokio::task::JoinHandle<()> {
    let bar = super::progress::stderr_bar("verify", "credentials");
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            if let Some(bar) = &bar {
                bar.set_length(t.total as u64);
                bar.set_position(t.done() as u64);
                bar.set_message(format!("refused {}  errors {}", t.refused, t.errors));
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    })
}

/// `simsid verify --exposed [--user U]` and `simsid verify --all`.
pub async fn verify_selection(ctx: &Context, selection: Selection, json: bool) -> CmdResult {
    ctx.keeper().refuse_if_readonly("verify")?;
    let (checks, not_held) = checked(ctx, &selection).await?;
    print_many(&checks, not_held, json)
}

/// The one verify of the commands (`verify ORG`, `--exposed`, `--all`): the selected
/// credentials checked with the harvest's concurrency and retries, in local or vault mode,
/// each audited; returns the checks and how many selected credentials the store no longer
/// holds. A progress bar on stderr when it is a terminal.
pub(super) async fn checked(
    ctx: &Context,
    selection: &Selection,
) -> Result<(Vec<verify::CredentialCheck>, usize), CliError> {
    // No `ctx.remote()` here: verify needs the STS alone, never the integrator's identity
    // (a support laptop has none), so an incomplete SIMS ID profile is no obstacle.
    // A read: a missing store is an error naming it, nothing is created (docs/reference/cli.md).
    let store = std::sync::Mutex::new(ops::open_existing_store(&ctx.settings().local)?);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let bar = spawn_verify_bar(rx);
    let request = ops::VerifyRequest {
        selection,
        progress: Some(tx),
    };
    let found = ctx.keeper().verify(&store, request).await;
    let _ = bar.await;
    let (found, not_held) = found?;
    Ok((found.checks, not_held))
}

/// Prints a bulk verify's results (text, or JSON with the summary on stderr) and returns
/// docs/reference/cli.md's exit code: 5 when any was refused, else 1 when any errored, else 0.
pub(super) fn print_many(
    checks: &[verify::CredentialCheck],
    not_held: usize,
    json: bool,
) -> CmdResult {
    let tally = Tally::of(checks.len(), checks);
    let mut stdout = std::io::stdout().lock();
    if json {
        output::write_json(&mut stdout, &out::verify_list_json(&tally, checks)).map_err(io_err)?;
        eprintln!("{}", out::verify_summary(&tally, not_held));
    } else {
        out::verify_list_text(&mut stdout, &tally, checks, not_held).map_err(io_err)?;
    }
    Ok(exit::of_verify(&tally))
}
