//! A full re-harvest committed to the store (and, in vault mode, the vault first), with its
//! history and audit records.

use tokio::sync::mpsc::UnboundedSender;
use tracing::info;

use std::collections::BTreeMap;

use super::OpError;
use crate::domain::{
    AuditAction, HarvestData, HeldRemovals, OrgId, RunStatus, RunSummary, VaultMarks,
};
use crate::harvest::{
    self, Cancel, FetchOutcome, Fetched, HarvestEnd, HarvestEvent, HarvestOptions, Source,
};
use crate::store::{Store, StoreError};

use super::OpResult;

/// What a harvest may commit beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HarvestPolicy {
    /// Take removals the guard would hold (`harvest --accept-removals`).
    pub accept_removals: bool,
}

/// What a sink did with a fetched harvest.
#[derive(Debug, Clone, Default)]
pub(crate) struct Synced {
    /// `None`: commit as usual, secrets sealed in the store; `Some(marks)`: the secrets
    /// live elsewhere, commit without them, recording `marks`.
    pub marks: Option<VaultMarks>,
    /// Sites to commit as failed (stale) with the reason: one of their credentials was
    /// refused by the sink (docs/reference/vault.md sync rule 7).
    pub failed_sites: BTreeMap<OrgId, String>,
    /// Credentials whose sealed secret the sink moved elsewhere (local → vault, rule 10):
    /// dropped from the store once the run is committed.
    pub moved: VaultMarks,
}

/// What a sink is handed: a fetched harvest, concluded, before the local commit.
#[derive(Clone, Copy)]
pub(crate) struct ToSync<'a> {
    /// The store as it is (read only: the sink must not hold it across an await).
    pub store: &'a Store,
    pub data: &'a HarvestData,
    /// The removals the guard holds back (they stay, so the sink must not remove them).
    pub held: &'a HeldRemovals,
    /// Where the sink's progress goes (the stderr bar, the console's pane).
    pub events: &'a UnboundedSender<HarvestEvent>,
}

/// Where a fetched harvest goes before the local commit (vault mode writes the vault there).
/// The harvest engine knows nothing of it.
pub(crate) trait CommitSink {
    /// Takes a fetched harvest before it is committed. The sink may make the run partial
    /// and add to its error and diff (`summary`). `Err`: the run fails, the store is not
    /// committed and the run is recorded as failed with the reason.
    fn sync(
        &mut self,
        run: ToSync<'_>,
        summary: &mut RunSummary,
    ) -> impl std::future::Future<Output = OpResult<Synced>>;

    /// Who wrote the secrets elsewhere (the vault identity), named in the harvest's audit
    /// record so that `exposure --vault-audit` can tell its read-back from a person's read;
    /// `None` for the local store, or when the sync made no request.
    fn identity(&self) -> Option<String> {
        None
    }

    /// Whether a committed run is followed by a publish of the team's view (a vault-mode
    /// harvest host, docs/reference/vault.md "Team mode"). `false` for the local store.
    fn publishes_view(&self) -> bool {
        false
    }

    /// Publishes `view` (read from the store once the run committed) after `previous` (what
    /// this store last published). Returns what the store should remember (the manifest
    /// published, and the vault identity that published it), or `None` when nothing was
    /// published: the sink keeps why, for its front end to report. The commit stands
    /// whatever happens here; the next harvest publishes again.
    fn publish_view(
        &mut self,
        _view: crate::team::View,
        _previous: Option<crate::store::PublishedMark>,
        _run_id: uuid::Uuid,
    ) -> impl std::future::Future<Output = Option<(crate::store::PublishedMark, Option<String>)>>
    {
        std::future::ready(None)
    }
}

/// How one harvest runs and who runs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
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
/// (docs/reference/cli.md, "A harvest never empties the cache by accident"), `sink` takes the result (vault
/// mode writes the vault; its error fails the run, the store not committed), and the data,
/// the run and its diff are committed in one transaction. The commit is refused (exit 6,
/// nothing written) when another harvest committed since this one started. Each finished run
/// is audited. The caller holds the store's harvest lock.
pub(crate) async fn run_and_commit<S: Source, K: CommitSink>(
    store: &mut Store,
    source: S,
    run: Run<'_>,
    events: UnboundedSender<HarvestEvent>,
    cancel: impl Into<Cancel>,
    sink: &mut K,
) -> OpResult<HarvestEnd> {
    let cancel: Cancel = cancel.into();
    let generation = read(store.generation())?;
    info!(concurrency = run.options.concurrency, "harvest started");
    let fetched = harvest::run(source, run.options, events.clone(), cancel.token().clone()).await;
    let conclude = |store: &Store, fetched: Box<Fetched>| {
        let previous = read(store.snapshot())?;
        let (mut summary, data) = harvest::conclude(*fetched, &previous, |s| store.fingerprint(s));
        let held = harvest::hold_mass_removals(&previous, &mut summary, run.policy.accept_removals);
        Ok(Concluded {
            previous,
            summary,
            data,
            held,
        })
    };
    let ending = Ending {
        generation,
        cancel: &cancel,
        events: &events,
        user: run.user,
    };
    finish(store, sink, fetched, conclude, ending).await
}

/// The message for a school SIMS ID does not list for this application.
pub fn unlisted_message(query: &str) -> String {
    format!(
        "SIMS ID does not list {} for this application: the school has not installed it \
         (a school that installed it and awaits approval is listed, as unauthorised). Ask the \
         school to install the application in SIMS ID, then try again. Nothing was changed.",
        crate::sanitize::for_terminal(query)
    )
}

/// How a one-school run (`harvest --site ORG`) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteEnd {
    /// It ran: cancelled, or finished (complete, partial or failed) and recorded.
    Ran(HarvestEnd),
    /// SIMS ID does not list the school for this application (nothing changed).
    Unlisted,
    /// The DfE code or DENI number matches several listed sites: the candidates (nothing
    /// changed).
    Ambiguous(Vec<crate::domain::Site>),
}

/// Refreshes one school (docs/reference/cli.md "One school"): `query` (organisation id, DfE code or DENI
/// number) is looked up in the fresh site list, its clients are fetched and that site alone
/// is committed as a full copy of itself — added if new, its authorisation updated, its
/// credentials added, rotated and removed as its answer says — with no other site touched
/// and no removal guard. `sink` takes it first (vault mode writes that site's credentials).
/// Recorded in the history with scope `site`, audited; cancelled and failed runs as for a
/// full harvest. The caller holds the store's harvest lock.
pub(crate) async fn run_site_and_commit<S: Source, K: CommitSink>(
    store: &mut Store,
    source: S,
    run: Run<'_>,
    query: &str,
    events: UnboundedSender<HarvestEvent>,
    cancel: impl Into<Cancel>,
    sink: &mut K,
) -> OpResult<SiteEnd> {
    let cancel: Cancel = cancel.into();
    let generation = read(store.generation())?;
    info!(query = %crate::sanitize::for_terminal(query), "one-school harvest started");
    let pick = |sites: &[crate::domain::Site]| match crate::lookup::find(sites, |s| s, query) {
        crate::lookup::Found::One(site) => Ok(site.clone()),
        crate::lookup::Found::Nothing => Err(harvest::NotPicked::Unlisted),
        crate::lookup::Found::Many(found) => Err(harvest::NotPicked::Ambiguous(
            found.into_iter().cloned().collect(),
        )),
    };
    let fetched = match harvest::run_site(
        source,
        run.options,
        events.clone(),
        cancel.token().clone(),
        pick,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(harvest::NotPicked::Unlisted) => return Ok(SiteEnd::Unlisted),
        Err(harvest::NotPicked::Ambiguous(sites)) => return Ok(SiteEnd::Ambiguous(sites)),
    };
    let conclude = |store: &Store, fetched: Box<Fetched>| {
        let in_store = read(store.credential_count())?;
        // The diff is against that site alone: every other site is simply not in this run.
        let mut previous = read(store.snapshot())?;
        let listed: Vec<_> = fetched.sites.iter().map(|s| s.org_id.clone()).collect();
        previous.sites.retain(|org, _| listed.contains(org));
        let before: usize = previous.sites.values().map(|s| s.credentials.len()).sum();
        let (mut summary, data) = harvest::conclude(*fetched, &previous, |s| store.fingerprint(s));
        summary.scope = crate::domain::RunScope::Site;
        summary.credentials_total = (in_store + summary.credentials_total).saturating_sub(before);
        Ok(Concluded {
            previous,
            summary,
            data,
            // The removal guard does not apply to one site.
            held: HeldRemovals::default(),
        })
    };
    let ending = Ending {
        generation,
        cancel: &cancel,
        events: &events,
        user: run.user,
    };
    finish(store, sink, fetched, conclude, ending)
        .await
        .map(SiteEnd::Ran)
}

/// A fetch concluded against the store: the store as the diff saw it, the run, its data,
/// and the removals held back.
struct Concluded {
    previous: crate::domain::Snapshot,
    summary: RunSummary,
    data: crate::domain::HarvestData,
    held: HeldRemovals,
}

/// What the end of a run needs besides the store and the sink.
struct Ending<'a> {
    /// The store's generation when the run started.
    generation: u64,
    cancel: &'a Cancel,
    events: &'a UnboundedSender<HarvestEvent>,
    user: &'a str,
}

/// What a full and a one-school run share once fetching ends: a cancelled fetch is recorded
/// as cancelled, a failed one (token or site list) as failed; a fetched one is refused when
/// another harvest committed meanwhile (its diff would be wrong: stopped before the sink
/// writes anything, and the commit checks again), else concluded by `conclude` and handed
/// to [`sync_and_commit`].
async fn finish<K: CommitSink>(
    store: &mut Store,
    sink: &mut K,
    fetched: FetchOutcome,
    conclude: impl FnOnce(&Store, Box<Fetched>) -> OpResult<Concluded>,
    ending: Ending<'_>,
) -> OpResult<HarvestEnd> {
    let summary = match fetched {
        FetchOutcome::Cancelled(summary) => {
            return record_cancelled(store, *summary, ending.cancel, ending.user);
        }
        FetchOutcome::Failed(summary) => {
            store
                .record_run(&summary)
                .map_err(|e| OpError::failed(format!("cannot record the run: {e}")))?;
            *summary
        }
        FetchOutcome::Fetched(fetched) => {
            if read(store.generation())? != ending.generation {
                return Err(commit_error(StoreError::ChangedUnderRun));
            }
            let concluded = conclude(store, fetched)?;
            return sync_and_commit(store, sink, concluded, ending).await;
        }
    };
    audit_run(store, &summary, ending.user, sink.identity())?;
    Ok(HarvestEnd::Finished(Box::new(summary)))
}

/// A read of the store before the commit.
fn read<T>(r: Result<T, StoreError>) -> OpResult<T> {
    r.map_err(|e| OpError::failed(format!("cannot read the store: {e}")))
}

/// What a full and a one-school run share once their fetch is concluded: the sink (the
/// vault, raced against a cancel), then the local commit and its audit record. A cancel
/// before or during the sink, or after it, commits nothing and records the run cancelled
/// (what reached the vault converges at the next harvest, docs/reference/vault.md sync rule 9); a sink
/// that fails records the run failed with its reason (rule 8).
async fn sync_and_commit<K: CommitSink>(
    store: &mut Store,
    sink: &mut K,
    concluded: Concluded,
    ending: Ending<'_>,
) -> OpResult<HarvestEnd> {
    let Concluded {
        previous,
        mut summary,
        mut data,
        mut held,
    } = concluded;
    let Ending {
        generation,
        cancel,
        events,
        user,
    } = ending;
    if cancel.is_cancelled() {
        return record_cancelled(store, summary, cancel, user);
    }
    // A cancel (Ctrl-C, SIGTERM) stops the vault phase at once: what was written is
    // ours and the next harvest converges (docs/reference/vault.md sync rule 9).
    let synced = {
        let run = ToSync {
            store,
            data: &data,
            held: &held,
            events,
        };
        let sync = sink.sync(run, &mut summary);
        tokio::select! {
            r = sync => Some(r),
            () = cancel.token().cancelled() => None,
        }
    };
    let Some(synced) = synced else {
        return record_cancelled(store, summary, cancel, user);
    };
    let synced = match synced {
        Ok(synced) => synced,
        Err(e) => {
            // The vault could not be written (docs/reference/vault.md sync rule 8): nothing is
            // committed, the run is in the history as failed with the reason.
            let failed =
                record_not_committed(store, summary, RunStatus::Failed, e.to_string(), user)?;
            return Ok(HarvestEnd::Finished(Box::new(failed)));
        }
    };
    // A cancel while the vault was written: the local store is not committed; the
    // next harvest finds the vault ahead of it and converges.
    if cancel.is_cancelled() {
        return record_cancelled(store, summary, cancel, user);
    }
    harvest::fail_sites(
        &previous,
        &mut summary,
        &mut data,
        &mut held,
        synced.failed_sites,
    );
    store
        .commit_prepared(generation, &summary, &data, &held, synced.marks.as_ref())
        .map_err(commit_error)?;
    if !synced.moved.is_empty() {
        let n = store
            .forget_moved_secrets(&synced.moved)
            .map_err(commit_error)?;
        info!(
            moved = n,
            "sealed secrets moved to the vault and dropped from the store"
        );
    }
    audit_run(store, &summary, user, sink.identity())?;
    publish_after_commit(store, sink, summary.run_id, cancel).await;
    Ok(HarvestEnd::Finished(Box::new(summary)))
}

/// A harvest host publishes the team's view once its run committed (docs/reference/vault.md "Team mode"):
/// the view is read from the store, the sink publishes it, and the store remembers what was
/// published and the identity that harvested. A failure or a cancel leaves the committed
/// run as it is (the sink reports why; the next harvest publishes again).
async fn publish_after_commit<K: CommitSink>(
    store: &mut Store,
    sink: &mut K,
    run_id: uuid::Uuid,
    cancel: &Cancel,
) {
    if !sink.publishes_view() {
        return;
    }
    let read = store
        .view_rows()
        .and_then(|rows| Ok((crate::team::View::from_rows(rows), store.published()?)));
    let (view, previous) = match read {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the team's view from the store");
            return;
        }
    };
    let published = {
        let publish = sink.publish_view(view, previous, run_id);
        tokio::select! {
            r = publish => r,
            () = cancel.token().cancelled() => None,
        }
    };
    let Some((mark, identity)) = published else {
        return;
    };
    let remembered = store.set_published(&mark).and_then(|()| match &identity {
        Some(id) => store.set_run_identity(&run_id.to_string(), id),
        None => Ok(()),
    });
    if let Err(e) = remembered {
        // The next publish reads the manifest from the vault instead.
        tracing::warn!(error = %e, "cannot record the published view in the store");
    }
}

/// Records a cancelled run (its reason and signal from `cancel`) and ends the harvest as
/// [`HarvestEnd::Cancelled`]: nothing committed, the run in the history and audited.
fn record_cancelled(
    store: &mut Store,
    summary: RunSummary,
    cancel: &Cancel,
    user: &str,
) -> OpResult<HarvestEnd> {
    let summary = RunSummary {
        signal: cancel.signal(),
        ..summary
    };
    let summary =
        record_not_committed(store, summary, RunStatus::Cancelled, cancel.reason(), user)?;
    info!(run_id = %summary.run_id, "harvest cancelled; nothing committed");
    Ok(HarvestEnd::Cancelled(Box::new(summary)))
}

/// Records a run that did not commit — `status` [`RunStatus::Failed`] or
/// [`RunStatus::Cancelled`], `reason` as its error — in the history (`history` shows it;
/// no site or credential changes; its diff is emptied and `credentials_total` is what the
/// store still holds) and audits it like any finished run. `summary` is the run as far as
/// it got (its counts and stats are kept). Returns the summary as recorded, for the
/// caller's output and metrics. The caller holds the harvest lock.
fn record_not_committed(
    store: &mut Store,
    summary: RunSummary,
    status: RunStatus,
    reason: impl Into<String>,
    user: &str,
) -> OpResult<RunSummary> {
    let in_store = store
        .credential_count()
        .map_err(|e| OpError::failed(format!("cannot read the store: {e}")))?;
    let summary = summary.not_committed(status, reason, in_store);
    store
        .record_run(&summary)
        .map_err(|e| OpError::failed(format!("cannot record the run: {e}")))?;
    audit_run(store, &summary, user, None)?;
    Ok(summary)
}

/// Logs a finished run and appends its audit record, naming the vault identity that wrote
/// when there is one.
fn audit_run(
    store: &mut Store,
    summary: &RunSummary,
    user: &str,
    identity: Option<String>,
) -> OpResult<()> {
    info!(
        run_id = %summary.run_id,
        status = summary.status.as_str(),
        scope = summary.scope.as_str(),
        sites_total = summary.sites_total,
        sites_failed = summary.sites_failed,
        credentials_total = summary.credentials_total,
        "harvest finished"
    );
    let mut append = |detail: String, identity: Option<String>| {
        let entry = crate::domain::AuditEntry {
            at: summary.finished_at,
            user: user.to_string(),
            action: AuditAction::Harvest,
            organisation_id: None,
            client_id: None,
            fingerprint: None,
            detail: Some(detail),
            identity,
        };
        store
            .append_audit(&entry)
            .map_err(|e| OpError::failed(format!("cannot write the audit record: {e}")))
    };
    let run = summary.run_id;
    append(format!("run {run} {}", summary.status.as_str()), identity)?;
    // Every key removed from the vault, named in the audit trail (docs/reference/vault.md sync rule 6).
    for key in &summary.diff.vault_removed {
        let key = crate::sanitize::for_terminal(key);
        append(format!("run {run} removed vault key {key}"), None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
