//! A full re-harvest committed to the store, with its history and audit records.

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::CliError;
use crate::domain::{AuditAction, HarvestData, RunSummary, VaultMarks};
use crate::harvest::{self, HarvestEnd, HarvestEvent, HarvestOptions, HarvestOutput, Source};
use crate::store::Store;

use super::OpResult;

/// Where a fetched harvest goes before the local commit (vault mode writes the vault there).
/// The harvest engine knows nothing of it.
pub trait CommitSink {
    /// Takes a fetched harvest before it is committed. `Ok(None)`: commit as usual, secrets
    /// sealed in the store; `Ok(Some(marks))`: the secrets live elsewhere, commit without
    /// them, recording `marks`; `Err`: the run fails and the store is not committed.
    fn sync(
        &mut self,
        store: &Store,
        data: &HarvestData,
        summary: &RunSummary,
        events: &UnboundedSender<HarvestEvent>,
    ) -> impl std::future::Future<Output = OpResult<Option<VaultMarks>>>;
}

/// The local store alone (`secrets = "local"`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalOnly;

impl CommitSink for LocalOnly {
    // Not `async fn`: the future must not hold the store (it is not `Sync`).
    fn sync(
        &mut self,
        _store: &Store,
        _data: &HarvestData,
        _summary: &RunSummary,
        _events: &UnboundedSender<HarvestEvent>,
    ) -> impl std::future::Future<Output = OpResult<Option<VaultMarks>>> {
        std::future::ready(Ok(None))
    }
}

/// Runs a harvest from `source` and commits it to `store` in one transaction: a cancelled run
/// commits nothing; a failed run (token or site list) only adds a history row; otherwise the
/// data, the run and its diff are committed together. Each finished run is audited.
pub async fn harvest_and_commit<S: Source>(
    store: &mut Store,
    source: S,
    options: HarvestOptions,
    user: &str,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
) -> OpResult<HarvestEnd> {
    harvest_and_commit_via(store, source, options, user, events, cancel, &mut LocalOnly).await
}

/// [`harvest_and_commit`] with `sink` taking the fetched harvest before the local commit.
/// A sink error fails the run: the store is not committed (exit 1).
pub async fn harvest_and_commit_via<S: Source, K: CommitSink>(
    store: &mut Store,
    source: S,
    options: HarvestOptions,
    user: &str,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
    sink: &mut K,
) -> OpResult<HarvestEnd> {
    let previous = store
        .snapshot()
        .map_err(|e| CliError::runtime(format!("cannot read the store: {e}")))?;
    info!(
        sites_cached = previous.sites.len(),
        concurrency = options.concurrency,
        "harvest started"
    );
    let summary: RunSummary = match harvest::run(source, options, events.clone(), cancel).await {
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
        HarvestOutput::Fetched(fetched) => {
            let (summary, data) = harvest::conclude(*fetched, &previous, |s| store.fingerprint(s));
            let committed = match sink.sync(store, &data, &summary, &events).await? {
                None => store.commit_harvest(&data, &summary),
                Some(marks) => store.commit_harvest_vault(&data, &summary, &marks),
            };
            committed.map_err(|e| CliError::runtime(format!("cannot commit the harvest: {e}")))?;
            summary
        }
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
