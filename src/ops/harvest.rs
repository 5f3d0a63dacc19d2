//! A full re-harvest committed to the store, with its history and audit records.

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::CliError;
use crate::domain::{AuditAction, RunSummary};
use crate::harvest::{self, HarvestEnd, HarvestEvent, HarvestOptions, HarvestOutput, Source};
use crate::store::Store;

use super::OpResult;

/// What a harvest may commit beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HarvestPolicy {
    /// Take removals the guard would hold (`harvest --accept-removals`).
    pub accept_removals: bool,
}

/// [`harvest_and_commit_with`] the default policy: the removal guard holds mass removals.
/// The console's harvest uses this.
pub async fn harvest_and_commit<S: Source>(
    store: &mut Store,
    source: S,
    options: HarvestOptions,
    user: &str,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
) -> OpResult<HarvestEnd> {
    harvest_and_commit_with(
        store,
        source,
        options,
        HarvestPolicy::default(),
        user,
        events,
        cancel,
    )
    .await
}

/// Runs a harvest from `source` and commits it to `store` in one transaction: a cancelled run
/// commits nothing; a failed run (token or site list) only adds a history row; otherwise the
/// data, the run and its diff are committed together. The diff is taken against the store as
/// it is at commit time, and the commit is refused (exit 6, nothing written) when another
/// harvest committed since this one started. Mass removals are held unless the policy accepts
/// them (cli.md, "A harvest never empties the cache by accident"). Each finished run is
/// audited. The caller holds the store's harvest lock.
pub async fn harvest_and_commit_with<S: Source>(
    store: &mut Store,
    source: S,
    options: HarvestOptions,
    policy: HarvestPolicy,
    user: &str,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
) -> OpResult<HarvestEnd> {
    let generation = store
        .generation()
        .map_err(|e| CliError::runtime(format!("cannot read the store: {e}")))?;
    info!(concurrency = options.concurrency, "harvest started");
    let summary: RunSummary = match harvest::run(source, options, events, cancel).await {
        HarvestOutput::Cancelled => {
            info!("harvest cancelled; nothing committed");
            return Ok(HarvestEnd::Cancelled);
        }
        HarvestOutput::Failed(summary) => {
            store
                .record_run(&summary)
                .map_err(|e| CliError::runtime(format!("cannot record the run: {e}")))?;
            *summary
        }
        HarvestOutput::Fetched(fetched) => store
            .commit_concluded(generation, |previous, fingerprint| {
                let (mut summary, data) = harvest::conclude(*fetched, previous, fingerprint);
                let held =
                    harvest::hold_mass_removals(previous, &mut summary, policy.accept_removals);
                (summary, data, held)
            })
            .map_err(|e| {
                let message = format!("cannot commit the harvest: {e}");
                if e.is_busy() {
                    CliError::busy(message)
                } else {
                    CliError::runtime(message)
                }
            })?,
    };
    info!(
        run_id = %summary.run_id,
        status = summary.status.as_str(),
        sites_total = summary.sites_total,
        sites_failed = summary.sites_failed,
        credentials_total = summary.credentials_total,
        "harvest finished"
    );
    let entry = crate::domain::AuditEntry {
        at: summary.finished_at,
        user: user.to_string(),
        action: AuditAction::Harvest,
        organisation_id: None,
        client_id: None,
        fingerprint: None,
        detail: Some(format!(
            "run {} {}",
            summary.run_id,
            summary.status.as_str()
        )),
    };
    store
        .append_audit(&entry)
        .map_err(|e| CliError::runtime(format!("cannot write the audit record: {e}")))?;
    Ok(HarvestEnd::Finished(Box::new(summary)))
}
