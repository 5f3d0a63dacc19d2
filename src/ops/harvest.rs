//! A full re-harvest committed to the store (and, in vault mode, the vault first), with its
//! history and audit records.

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::OpError;
use crate::domain::{AuditAction, HarvestData, HeldRemovals, RunSummary, VaultMarks};
use crate::harvest::{self, FetchOutcome, HarvestEnd, HarvestEvent, HarvestOptions, Source};
use crate::store::{Store, StoreError};

use super::OpResult;

/// What a harvest may commit beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HarvestPolicy {
    /// Take removals the guard would hold (`harvest --accept-removals`).
    pub accept_removals: bool,
}

/// Where a fetched harvest goes before the local commit (vault mode writes the vault there).
/// The harvest engine knows nothing of it.
pub trait CommitSink {
    /// Takes a fetched harvest before it is committed; `held` are the removals the guard
    /// holds back (they stay, so the sink must not remove them either). `Ok(None)`: commit
    /// as usual, secrets sealed in the store; `Ok(Some(marks))`: the secrets live elsewhere,
    /// commit without them, recording `marks`; `Err`: the run fails and the store is not
    /// committed.
    fn sync(
        &mut self,
        store: &Store,
        data: &HarvestData,
        held: &HeldRemovals,
        summary: &RunSummary,
        events: &UnboundedSender<HarvestEvent>,
    ) -> impl std::future::Future<Output = OpResult<Option<VaultMarks>>>;

    /// Who wrote the secrets elsewhere (the vault identity), named in the harvest's audit
    /// record so that `exposure --vault-audit` can tell its read-back from a person's read;
    /// `None` for the local store, or when the sync made no request.
    fn identity(&self) -> Option<String> {
        None
    }
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
        _held: &HeldRemovals,
        _summary: &RunSummary,
        _events: &UnboundedSender<HarvestEvent>,
    ) -> impl std::future::Future<Output = OpResult<Option<VaultMarks>>> {
        std::future::ready(Ok(None))
    }
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

/// [`harvest_and_commit_via`] the local store alone.
pub async fn harvest_and_commit_with<S: Source>(
    store: &mut Store,
    source: S,
    options: HarvestOptions,
    policy: HarvestPolicy,
    user: &str,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
) -> OpResult<HarvestEnd> {
    let run = Run {
        options,
        policy,
        user,
    };
    harvest_and_commit_via(store, source, run, events, cancel, &mut LocalOnly).await
}

/// How one harvest runs and who runs it.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub options: HarvestOptions,
    pub policy: HarvestPolicy,
    /// The audit user.
    pub user: &'a str,
}

fn commit_error(e: StoreError) -> OpError {
    OpError::store("cannot commit the harvest", e)
}

/// Runs a harvest from `source` and commits it: a cancelled run commits nothing; a failed
/// run (token or site list) only adds a history row; otherwise the diff is taken against the
/// store as it is once fetching ends, mass removals are held unless the policy accepts them
/// (cli.md, "A harvest never empties the cache by accident"), `sink` takes the result (vault
/// mode writes the vault; its error fails the run, the store not committed), and the data,
/// the run and its diff are committed in one transaction. The commit is refused (exit 6,
/// nothing written) when another harvest committed since this one started. Each finished run
/// is audited. The caller holds the store's harvest lock.
pub async fn harvest_and_commit_via<S: Source, K: CommitSink>(
    store: &mut Store,
    source: S,
    run: Run<'_>,
    events: UnboundedSender<HarvestEvent>,
    cancel: CancellationToken,
    sink: &mut K,
) -> OpResult<HarvestEnd> {
    let generation = store
        .generation()
        .map_err(|e| OpError::failed(format!("cannot read the store: {e}")))?;
    info!(concurrency = run.options.concurrency, "harvest started");
    let fetched = harvest::run(source, run.options, events.clone(), cancel).await;
    let summary: RunSummary = match fetched {
        FetchOutcome::Cancelled => {
            info!("harvest cancelled; nothing committed");
            return Ok(HarvestEnd::Cancelled);
        }
        FetchOutcome::Failed(summary) => {
            store
                .record_run(&summary)
                .map_err(|e| OpError::failed(format!("cannot record the run: {e}")))?;
            *summary
        }
        FetchOutcome::Fetched(fetched) => {
            // Another harvest that committed meanwhile makes this one's diff wrong: stop
            // before the sink writes anything (the commit checks again).
            let now = store
                .generation()
                .map_err(|e| OpError::failed(format!("cannot read the store: {e}")))?;
            if now != generation {
                return Err(commit_error(StoreError::ChangedUnderRun));
            }
            let previous = store
                .snapshot()
                .map_err(|e| OpError::failed(format!("cannot read the store: {e}")))?;
            let (mut summary, data) =
                harvest::conclude(*fetched, &previous, |s| store.fingerprint(s));
            let held =
                harvest::hold_mass_removals(&previous, &mut summary, run.policy.accept_removals);
            let marks = sink.sync(store, &data, &held, &summary, &events).await?;
            store
                .commit_prepared(generation, &summary, &data, &held, marks.as_ref())
                .map_err(commit_error)?;
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
        user: run.user.to_string(),
        action: AuditAction::Harvest,
        organisation_id: None,
        client_id: None,
        fingerprint: None,
        detail: Some(format!(
            "run {} {}",
            summary.run_id,
            summary.status.as_str()
        )),
        identity: sink.identity(),
    };
    store
        .append_audit(&entry)
        .map_err(|e| OpError::failed(format!("cannot write the audit record: {e}")))?;
    Ok(HarvestEnd::Finished(Box::new(summary)))
}
