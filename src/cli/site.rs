//! `simsid harvest --site ORG` (cli.md "One school"): refresh one school from the fresh
//! site list, for the operator waiting for a newly onboarded school.

use super::commands::{print_run, spawn_progress_bar, CmdResult, VaultReport};
use super::exit::{self, CliError};
use crate::harvest::{Cancel, HarvestEnd, HarvestOptions};
use crate::ops::vault_sync::VaultSink;
use crate::ops::{self, vault_ops, Context, SiteEnd};

/// `simsid harvest --site ORG [--json]`, local or vault mode.
pub async fn harvest_site(ctx: &Context, json: bool, query: &str) -> CmdResult {
    ctx.refuse_if_readonly("harvest")?;
    if vault_ops::vault_mode(ctx) {
        let remote = vault_ops::with_vault_secret(ctx, ctx.remote()?).await?;
        let vault = vault_ops::vault_client(ctx)?;
        let settings = vault_ops::vault_settings(ctx)?;
        let sink = VaultSink::new(vault.clone(), settings, false);
        // A one-school run republishes the team's view too (cli.md "One school").
        let mut sink = ops::team::Publishing::new(sink, vault, settings, false);
        run(ctx, json, query, &remote, &mut sink, |s| {
            Some(VaultReport {
                counts: s.inner.counts,
                foreign: None,
                view: s.outcome.clone(),
            })
        })
        .await
    } else {
        let remote = ctx.remote()?.clone();
        run(ctx, json, query, &remote, &mut ops::LocalOnly, |_| None).await
    }
}

async fn run<K: ops::CommitSink>(
    ctx: &Context,
    json: bool,
    query: &str,
    remote: &crate::config::RemoteSettings,
    sink: &mut K,
    counts: impl FnOnce(&K) -> Option<VaultReport>,
) -> CmdResult {
    let client = ops::sims_client(remote)?;
    let (_lock, mut store) = ops::open_for_harvest(&ctx.settings.local)?;
    let run = ops::Run {
        options: HarvestOptions {
            concurrency: remote.concurrency,
            ..HarvestOptions::default()
        },
        policy: ops::HarvestPolicy::default(),
        user: &ctx.user,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = Cancel::new();
    let signals = crate::signals::StopSignals::listen()
        .map_err(|e| CliError::runtime(format!("cannot listen for signals: {e}")))?
        .cancel_on_signal(cancel.clone());
    let progress = spawn_progress_bar(rx);
    let end = ops::harvest_site_via(&mut store, client, run, query, tx, cancel, sink).await;
    signals.abort();
    let _ = progress.await;
    let summary = match end? {
        SiteEnd::Unlisted => {
            return Err(CliError {
                code: exit::NOT_FOUND,
                message: ops::harvest::unlisted_message(query),
            })
        }
        SiteEnd::Ambiguous(sites) => {
            let sites: Vec<&crate::domain::Site> = sites.iter().collect();
            return Err(CliError {
                code: exit::NOT_FOUND,
                message: crate::lookup::ambiguous_message(query, &sites),
            });
        }
        SiteEnd::Ran(HarvestEnd::Cancelled(s) | HarvestEnd::Finished(s)) => s,
    };
    let code = print_run(json, &summary, counts(sink).as_ref())?;
    if code == exit::OK && !json {
        if let Some(org) = summary
            .diff
            .sites_added
            .first()
            .or_else(|| summary.failures.first().map(|f| &f.organisation_id))
        {
            eprintln!("next: `simsid verify {org}` checks that its credentials work");
        } else {
            eprintln!(
                "next: `simsid verify {}` checks that its credentials work",
                crate::sanitize::for_terminal(query)
            );
        }
    }
    Ok(code)
}
