//! The requests of a vault sync (docs/reference/vault.md "Sync rules") in their order: reconcile's
//! read-back and listing, the writes, the removals, with the sync's progress, and what an
//! outage or a refusal does to the run. What to request is decided in `plan.rs`; one key's
//! requests (check-and-set and its read-back) are in `writer.rs`.

use std::collections::{BTreeMap, HashSet};

use futures::stream::{self, StreamExt};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::plan::{self, Entry, Job, Judge, Judged, Listing, Scan, SyncPlan, Top};
use super::writer::Writer;
use super::VaultCounts;
use crate::domain::{HarvestData, HeldRemovals, OrgId, RunSummary, VaultMarks};
use crate::harvest::HarvestEvent;
use crate::ops::harvest::Synced;
use crate::ops::{OpError, OpResult};
use crate::vault::{Route, VaultError};

/// Whether a vault error fails the whole run (the vault cannot be used at all) rather than
/// the credential's site (docs/reference/vault.md sync rules 7 and 8).
fn fails_the_run(e: &VaultError) -> bool {
    matches!(
        e,
        VaultError::Unavailable(_)
            | VaultError::Auth(_)
            | VaultError::Forbidden(_)
            | VaultError::Tls(_)
            | VaultError::Setup(_)
    )
}

/// The progress of the vault phase: a `Stored` event at the start, every 64 completions
/// and at the end.
struct Stored<'a> {
    done: usize,
    total: usize,
    events: &'a UnboundedSender<HarvestEvent>,
}

impl<'a> Stored<'a> {
    fn start(total: usize, events: &'a UnboundedSender<HarvestEvent>) -> Stored<'a> {
        let _ = events.send(HarvestEvent::Stored { done: 0, total });
        Stored {
            done: 0,
            total,
            events,
        }
    }

    /// Runs `request` on every item, `concurrency` at a time, and hands each item with its
    /// result to `handle` as it completes, counting it.
    async fn each<T, R, Fut>(
        &mut self,
        items: Vec<T>,
        concurrency: usize,
        request: impl FnMut(T) -> Fut,
        mut handle: impl FnMut(T, R),
    ) where
        Fut: std::future::Future<Output = (T, R)>,
    {
        let mut completed = stream::iter(items)
            .map(request)
            .buffer_unordered(concurrency);
        while let Some((item, result)) = completed.next().await {
            self.done += 1;
            if self.done.is_multiple_of(64) || self.done == self.total {
                let _ = self.events.send(HarvestEvent::Stored {
                    done: self.done,
                    total: self.total,
                });
            }
            handle(item, result);
        }
    }
}

/// The run's failure when the vault could not be used for `what`.
fn failure(what: &str, errors: &[VaultError], total: usize) -> OpError {
    let first = errors.first().map(ToString::to_string).unwrap_or_default();
    OpError::failed(format!(
        "vault {what} failed for {} of {total} credential(s) (first: {first}); the local store was not committed, the next harvest writes them again",
        errors.len()
    ))
}

/// Records a credential the vault refused: its site is committed as failed (rule 7).
fn refused(failed: &mut BTreeMap<OrgId, String>, org: &OrgId, client_id: &str, e: &VaultError) {
    warn!(organisation_id = %org, client_id = %client_id, error = %e, "the vault refused a credential");
    failed
        .entry(org.clone())
        .or_insert_with(|| format!("the vault refused credential {client_id}: {e}"));
}

/// Carries out one sync's plan.
pub(super) struct Executor<'e> {
    pub(super) writer: Writer,
    pub(super) concurrency: usize,
    pub(super) reconcile: bool,
    pub(super) accept_removals: bool,
    /// A harvest ever completed in this store.
    pub(super) completed: bool,
    pub(super) events: &'e UnboundedSender<HarvestEvent>,
    /// What the sync did so far (kept when it fails).
    pub(super) counts: VaultCounts,
    /// Reconcile: keys under the prefix this store did not write.
    pub(super) foreign: Vec<String>,
}

impl Executor<'_> {
    /// Carries out `plan` over `marks` (what the store remembers writing) for the run
    /// `summary` that fetched `data` and holds `held`. A credential the vault refuses fails
    /// its site; an error that makes the vault unusable (an outage, a lost login, a
    /// forbidden path) fails the whole run, and the local store is not committed.
    pub(super) async fn run(
        &mut self,
        plan: SyncPlan,
        marks: VaultMarks,
        data: &HarvestData,
        held: &HeldRemovals,
        summary: &mut RunSummary,
    ) -> OpResult<Synced> {
        let SyncPlan {
            writes,
            moves,
            removals,
            unchanged,
        } = plan;
        self.counts.unchanged = unchanged;
        let mut new_marks = marks;
        let mut failed_sites: BTreeMap<OrgId, String> = BTreeMap::new();
        let mut jobs = if self.reconcile {
            self.check(
                writes,
                &mut new_marks,
                &mut failed_sites,
                data.fetched.len(),
            )
            .await?
        } else {
            writes
        };
        let moving: HashSet<(OrgId, String)> = moves
            .iter()
            .map(|j| (j.org.clone(), j.client_id.clone()))
            .collect();
        jobs.extend(moves);

        let mut strays = Vec::new();
        if self.reconcile {
            let listing = Listing::new(&self.writer.prefix, data, held);
            let scan = self.scan(&listing).await.map_err(|e| {
                self.counts.errors += 1;
                OpError::failed(format!("cannot list the vault prefix: {e}"))
            })?;
            match plan::guard(&scan, self.completed, self.accept_removals) {
                Some(note) => {
                    warn!(held = scan.strays.len(), "reconcile removals held");
                    plan::hold(summary, note);
                }
                None => strays = scan.strays,
            }
            self.foreign = scan.foreign;
        }
        let mut stored = Stored::start(jobs.len() + removals.len() + strays.len(), self.events);

        let mut moved = VaultMarks::new();
        self.write(
            &mut stored,
            jobs,
            &moving,
            &mut new_marks,
            &mut moved,
            &mut failed_sites,
        )
        .await?;

        // A site that failed here is stale: nothing of it is removed (rule 3).
        let keys = plan::removal_keys(&self.writer.prefix, &removals, strays, &failed_sites);
        self.remove(&mut stored, keys, summary).await?;
        info!(
            written = self.counts.written,
            removed = self.counts.removed,
            unchanged = self.counts.unchanged,
            refused = self.counts.errors,
            foreign = self.foreign.len(),
            vault_requests = self.writer.client.requests(),
            "vault sync finished"
        );
        if !moved.is_empty() {
            info!(
                moved = moved.len(),
                "sealed secrets of the store written to the vault"
            );
        }
        Ok(Synced {
            marks: Some(new_marks),
            failed_sites,
            moved,
        })
    }

    /// Reconcile: reads every job back; those the vault holds right become marks, the
    /// others are returned to write (less those of a site the vault refused).
    async fn check(
        &mut self,
        jobs: Vec<Job>,
        marks: &mut VaultMarks,
        failed_sites: &mut BTreeMap<OrgId, String>,
        sites: usize,
    ) -> OpResult<Vec<Job>> {
        let checked: Vec<_> = stream::iter(jobs)
            .map(|job| {
                let w = self.writer.clone();
                let who = (job.org.clone(), job.client_id.clone());
                async move { (who, w.check(job).await) }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut fatal = Vec::new();
        let mut to_write = Vec::new();
        for ((org, client_id), c) in checked {
            match c {
                Ok(Ok((job, mark))) => {
                    self.counts.unchanged += 1;
                    marks.insert((job.org, job.client_id), mark);
                }
                Ok(Err(job)) => to_write.push(job),
                Err(e) if fails_the_run(&e) => fatal.push(e),
                Err(e) => {
                    self.counts.errors += 1;
                    refused(failed_sites, &org, &client_id, &e);
                }
            }
        }
        if !fatal.is_empty() {
            self.counts.errors += fatal.len();
            return Err(failure("reconcile read", &fatal, sites));
        }
        to_write.retain(|j| !failed_sites.contains_key(&j.org));
        Ok(to_write)
    }

    /// Writes `jobs`: a written credential's mark goes to `moved` when it was moving out of
    /// the store, to `marks` otherwise.
    async fn write(
        &mut self,
        stored: &mut Stored<'_>,
        jobs: Vec<Job>,
        moving: &HashSet<(OrgId, String)>,
        marks: &mut VaultMarks,
        moved: &mut VaultMarks,
        failed_sites: &mut BTreeMap<OrgId, String>,
    ) -> OpResult<()> {
        let job_count = jobs.len();
        let writer = &self.writer;
        let write = |job: Job| {
            let w = writer.clone();
            async move {
                let r = w.write(&job).await;
                (job, r)
            }
        };
        let counts = &mut self.counts;
        let mut fatal = Vec::new();
        stored
            .each(jobs, self.concurrency, write, |job, result| match result {
                Ok(mark) => {
                    counts.written += 1;
                    let id = (job.org, job.client_id);
                    if moving.contains(&id) {
                        moved.insert(id, mark);
                    } else {
                        marks.insert(id, mark);
                    }
                }
                Err(e) if fails_the_run(&e) => {
                    warn!(organisation_id = %job.org, client_id = %job.client_id, error = %e, "vault write failed");
                    fatal.push(e);
                }
                Err(e) => {
                    counts.errors += 1;
                    refused(failed_sites, &job.org, &job.client_id, &e);
                }
            })
            .await;
        if !fatal.is_empty() {
            self.counts.errors += fatal.len();
            return Err(failure("write", &fatal, job_count));
        }
        Ok(())
    }

    /// Removes `keys` and names those removed, sorted, on the run, also when another
    /// removal fails, which fails the run (what was removed cannot be undone).
    async fn remove(
        &mut self,
        stored: &mut Stored<'_>,
        keys: Vec<String>,
        summary: &mut RunSummary,
    ) -> OpResult<()> {
        let key_count = keys.len();
        let writer = &self.writer;
        let remove = |key: String| {
            let w = writer.clone();
            async move {
                let r = w.remove(&key).await;
                (key, r)
            }
        };
        let counts = &mut self.counts;
        let mut fatal = Vec::new();
        let mut removed = Vec::new();
        stored
            .each(keys, self.concurrency, remove, |key, result| match result {
                Ok(()) => {
                    counts.removed += 1;
                    removed.push(key);
                }
                Err(e) => {
                    warn!(key = %key, error = %e, "vault removal failed");
                    fatal.push(e);
                }
            })
            .await;
        removed.sort();
        summary.diff.vault_removed = removed;
        if !fatal.is_empty() {
            self.counts.errors += fatal.len();
            return Err(failure("removal", &fatal, key_count));
        }
        Ok(())
    }

    /// Reconcile: lists the prefix. A stray is a key this store wrote (its `simsid_run`
    /// names one of this store's runs; in a store that never completed a harvest, any run)
    /// that matches no credential of a fetched site, no site whose clients call failed and
    /// nothing the removal guard holds, and that was not written after the listing began.
    /// Keys whose first segment starts with `_` are simsid's own (the team view) and left
    /// alone; any other key is foreign (docs/reference/vault.md sync rules 5 and 6).
    async fn scan(&self, listing: &Listing<'_>) -> Result<Scan, VaultError> {
        let w = &self.writer;
        let mut scan = Scan::default();
        let (top, date) = w
            .client
            .kv_list_dated(&w.mount, &w.prefix, Route::Active)
            .await?;
        // The vault's clock when the listing began (its `Date`, to the second): a key
        // updated at or after it may have been written after the listing began.
        let judge = Judge {
            ours: &w.ours,
            completed: self.completed,
            began: date.unwrap_or_else(chrono::Utc::now),
            on_remove: w.on_remove,
        };
        let mut candidates = Vec::new();
        for entry in top {
            let (seg, org, path) = match listing.top(&entry) {
                Top::Skip => continue,
                Top::Key(key) => {
                    candidates.push(key);
                    continue;
                }
                Top::Folder { seg, org, path } => (seg, org, path),
            };
            for name in w.client.kv_list(&w.mount, &path, Route::Active).await? {
                match listing.entry(&seg, org.as_ref(), &name) {
                    Entry::Skip => {}
                    Entry::Matches => scan.ours += 1,
                    Entry::Key(key) => candidates.push(key),
                }
            }
        }
        for key in candidates {
            let meta = w
                .client
                .kv_metadata_read(&w.mount, &key, Route::Active)
                .await?;
            match judge.judge(meta.as_ref()) {
                Judged::Gone => {}
                Judged::Foreign => scan.foreign.push(key),
                Judged::Kept => scan.ours += 1,
                Judged::Stray => {
                    scan.ours += 1;
                    scan.strays.push(key);
                }
            }
        }
        scan.foreign.sort();
        Ok(scan)
    }
}

#[cfg(test)]
mod tests;
