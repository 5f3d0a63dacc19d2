//! The headless commands in vault mode (vault.md): harvest into the vault, reveal and
//! verify reading the vault, `vault check` and `vault policy`.

use std::io::Write;

use secrecy::SecretString;

use super::args::VaultCommand;
use super::commands::{harvest_into, io_err, resolve_org, CmdResult, VaultReport};
use super::exit::{self, CliError};
use super::output;
use crate::domain::AuditAction;
use crate::harvest::RetryPolicy;
use crate::ops::vault_sync::VaultSink;
use crate::ops::verify_many::{CredentialCheck, Selection};
use crate::ops::{self, Context};
use crate::ops::{vault_ops, vault_verify};

/// `simsid harvest` in vault mode (and `--reconcile`): the vault is written before the
/// local commit; a failed vault write fails the run (exit 1) with nothing committed.
pub async fn harvest(
    ctx: &Context,
    json: bool,
    reconcile: bool,
    policy: ops::HarvestPolicy,
) -> CmdResult {
    ctx.refuse_if_readonly("harvest")?;
    if !vault_ops::vault_mode(ctx) {
        return Err(CliError::usage(
            "--reconcile repairs the vault: it needs vault mode (`secrets = \"vault\"` or SIMSID_SECRETS=vault)",
        ));
    }
    let remote = vault_ops::with_vault_secret(ctx, ctx.remote()?).await?;
    let vault = vault_ops::vault_client(ctx)?;
    let settings = vault_ops::vault_settings(ctx)?;
    let sink = VaultSink::new(vault.clone(), settings, reconcile)
        .with_concurrency(remote.concurrency.max(ops::vault_sync::SYNC_CONCURRENCY))
        .accepting_removals(policy.accept_removals);
    // Every committed run also publishes the team's view (vault.md "Team mode").
    let mut sink = ops::team::Publishing::new(sink, vault, settings, reconcile);
    let code = harvest_into(ctx, json, policy, &remote, &mut sink, |s| {
        Some(VaultReport {
            counts: s.inner.counts,
            foreign: reconcile.then(|| s.inner.foreign.clone()),
            view: s.outcome.clone(),
        })
    })
    .await;
    let sink = sink.inner;
    if reconcile && !sink.foreign.is_empty() {
        const SHOWN: usize = 20;
        let names: Vec<String> = sink
            .foreign
            .iter()
            .take(SHOWN)
            .map(|k| crate::sanitize::for_terminal(k).into_owned())
            .collect();
        let more = sink.foreign.len().saturating_sub(SHOWN);
        eprintln!(
            "reconcile: {} foreign key(s) under the prefix (not written by this store) were left alone: {}{}",
            sink.foreign.len(),
            names.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
    }
    if let Some(remaining) = vault_ops::sealed_remaining(ctx) {
        eprintln!("vault mode: {remaining}");
    }
    code
}

/// `simsid show ORG --reveal` in vault mode: each secret read from the vault with the
/// current identity and audited.
pub async fn show_reveal(ctx: &Context, org: &str, json: bool) -> CmdResult {
    ctx.refuse_if_readonly("reveal")?;
    // A read: a missing store is an error naming it, nothing is created (cli.md).
    let mut store = ops::open_existing_store(&ctx.settings.local)?;
    let org_id = resolve_org(&store, org)?;
    let detail = store
        .site(&org_id)?
        .ok_or_else(|| CliError::not_found(org))?;
    let vault = vault_ops::vault_client(ctx)?;
    let mut shown: Vec<Option<SecretString>> = Vec::new();
    for c in &detail.credentials {
        let s = vault_ops::reveal_audited(
            &mut store,
            ctx,
            &vault,
            AuditAction::Reveal,
            &org_id,
            &c.client_id,
        )
        .await?;
        shown.push(Some(s));
    }
    let mut out = std::io::stdout().lock();
    if json {
        output::write_json(&mut out, &output::show_json(&detail, &shown)).map_err(io_err)?;
    } else {
        output::show_text(&mut out, &detail, &shown).map_err(io_err)?;
    }
    Ok(exit::OK)
}

/// The vault side of the one verify (`super::incident::checked`): the store says which
/// credentials; each secret is read from the vault with the current identity, one
/// credential at a time (bounded concurrency), and never written anywhere. A credential the
/// identity may not read is that credential's error.
pub(super) async fn checked(
    ctx: &Context,
    selection: &Selection,
) -> Result<(Vec<CredentialCheck>, usize), CliError> {
    // A read: a missing store is an error naming it, nothing is created (cli.md).
    let mut store = ops::open_existing_store(&ctx.settings.local)?;
    let remote = vault_ops::with_vault_secret(ctx, ctx.remote()?).await?;
    let client = ops::sims_client(&remote)?;
    let vault = vault_ops::vault_client(ctx)?;
    let settings = vault_ops::vault_settings(ctx)?;
    let targets = vault_verify::vault_targets(&store, selection)?;
    let reader = vault_verify::VaultReader {
        client: &vault,
        settings,
        fingerprinter: store.fingerprinter(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let bar = super::incident::spawn_verify_bar(rx);
    let found = vault_verify::verify_many_from_vault(
        &reader,
        &client,
        &targets.targets,
        remote.concurrency,
        RetryPolicy::default(),
        Some(tx),
    )
    .await;
    let _ = bar.await;
    let found = found?;
    vault_verify::audit_vault_checks(&mut store, ctx, &found)?;
    Ok((found.checks, targets.not_held))
}

/// `simsid vault check|policy`.
pub async fn vault(ctx: &Context, command: VaultCommand) -> CmdResult {
    match command {
        VaultCommand::Policy => {
            let text = vault_ops::policies(ctx)?;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).map_err(io_err)?;
            Ok(exit::OK)
        }
        VaultCommand::Check { json } => {
            let lines = vault_ops::check(ctx).await?;
            let ok = lines.iter().all(|l| l.ok);
            let mut out = std::io::stdout().lock();
            if json {
                let v = serde_json::json!({ "ok": ok, "checks": lines });
                output::write_json(&mut out, &v).map_err(io_err)?;
            } else {
                for l in &lines {
                    writeln!(
                        out,
                        "{:<4} {}: {}",
                        if l.ok { "ok" } else { "FAIL" },
                        l.check,
                        l.detail
                    )
                    .map_err(io_err)?;
                }
            }
            Ok(if ok { exit::OK } else { exit::RUNTIME })
        }
    }
}
