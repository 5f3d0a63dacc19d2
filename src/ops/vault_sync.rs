//! The vault as the harvest's commit sink (vault.md "Sync rules"): writes what changed with
//! check-and-set, removes what SIMS ID no longer lists, and with `--reconcile` lists the
//! prefix and repairs drift. Runs between fetching and the local commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::harvest::{CommitSink, Synced};
use super::OpError;
use super::OpResult;
use crate::domain::{
    Credential, Fingerprint, HarvestData, HeldRemovals, OrgId, RunStatus, RunSummary, Site,
    VaultMark, VaultMarks,
};
use crate::harvest::guard::{is_mass_removal, MAX_REMOVED_PERCENT};
use crate::harvest::HarvestEvent;
use crate::store::{Fingerprinter, SealedCredential};
use crate::vault::path::{credential_key, decode_segment};
use crate::vault::plan::plan;
use crate::vault::{CredentialRecord, OnRemove, Route, VaultClient, VaultError, VaultSettings};

/// Vault requests in flight at most during a sync.
pub const SYNC_CONCURRENCY: usize = 32;

/// What a sync did, as `harvest --json` reports it under `"vault"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VaultCounts {
    pub written: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub errors: usize,
}

/// The vault sink of one harvest.
#[derive(Debug)]
pub struct VaultSink {
    client: Arc<VaultClient>,
    mount: String,
    prefix: String,
    on_remove: OnRemove,
    reconcile: bool,
    accept_removals: bool,
    concurrency: usize,
    /// What the last sync did.
    pub counts: VaultCounts,
    /// Reconcile: keys under the prefix this store did not write (no `simsid_run`, or a
    /// run of another store), reported and left alone (vault.md sync rule 5).
    pub foreign: Vec<String>,
    /// The vault identity that wrote, when the last sync made requests.
    identity: Option<String>,
}

impl VaultSink {
    /// A sink writing under `settings`' mount and prefix; `reconcile` also lists the prefix
    /// and repairs drift.
    pub fn new(client: Arc<VaultClient>, settings: &VaultSettings, reconcile: bool) -> Self {
        VaultSink {
            client,
            mount: settings.mount.clone(),
            prefix: settings.prefix.clone(),
            on_remove: settings.on_remove,
            reconcile,
            accept_removals: false,
            concurrency: SYNC_CONCURRENCY,
            counts: VaultCounts::default(),
            foreign: Vec::new(),
            identity: None,
        }
    }

    /// The same sink with another number of requests in flight.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Whether this sink lists the prefix and repairs drift (`--reconcile`).
    pub fn reconciling(&self) -> bool {
        self.reconcile
    }

    /// The same sink taking the removals reconcile's guard would hold
    /// (`--accept-removals`, vault.md sync rule 6).
    pub fn accepting_removals(mut self, accept: bool) -> Self {
        self.accept_removals = accept;
        self
    }
}

/// Everything one write needs, owned, so that writes run concurrently.
struct Job {
    org: OrgId,
    client_id: String,
    record: CredentialRecord,
    fingerprint: Fingerprint,
    /// The version expected in the vault now (0: the key must not exist).
    cas: u64,
}

/// The shared state of one sync's requests.
#[derive(Clone)]
struct Writer {
    client: Arc<VaultClient>,
    mount: String,
    prefix: String,
    run_id: String,
    fingerprinter: Fingerprinter,
    on_remove: OnRemove,
    /// This store's run ids: a key whose `simsid_run` is one of them is ours.
    ours: Arc<HashSet<String>>,
}

/// The refusal of a key another writer changed since this store last wrote it.
fn other_writer(mount: &str, key: &str) -> VaultError {
    VaultError::Status {
        status: 400,
        path: format!("{mount}/data/{key}"),
        message: "the key was changed in the vault by another writer since simsid last wrote it; run `simsid harvest --reconcile` to overwrite it".into(),
    }
}

/// Whether a vault error fails the whole run (the vault cannot be used at all) rather than
/// the credential's site (vault.md sync rules 7 and 8).
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

/// How many times a key is read back after a check-and-set refusal before the sync
/// concludes that another writer holds it, and the first pause between reads (growing).
const READ_BACK_TRIES: u32 = 5;
const READ_BACK_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// What the vault holds at a credential's key, against what a job writes there.
enum Held {
    /// The same secret and metadata, at this version.
    Same(u64),
    /// Something else, at this version.
    Other(u64),
    /// Nothing (never written, deleted, or its latest version soft-deleted).
    Missing,
}

impl Writer {
    /// Whether `meta` says a run of this store wrote the key last.
    fn is_ours(&self, meta: &crate::vault::KvMetadata) -> bool {
        meta.custom_metadata
            .get(RUN_FIELD)
            .is_some_and(|r| self.ours.contains(r))
    }

    /// Writes one credential with check-and-set, then its custom metadata. A refusal is
    /// read back from the active node: if it holds what we meant to write (our earlier
    /// attempt landed), it counts as written; if a run of this store wrote it last (a run
    /// that died before its commit), we write on top of its current version (rule 9).
    async fn write(&self, job: &Job) -> Result<VaultMark, VaultError> {
        let key = credential_key(&self.prefix, &job.org, &job.client_id);
        let version = match self
            .client
            .kv_write(&self.mount, &key, &job.record, Some(job.cas))
            .await
        {
            Ok(v) => v,
            Err(VaultError::CasMismatch) => match self.held_settled(&key, job).await? {
                Held::Same(version) => version,
                Held::Other(_) | Held::Missing => {
                    let meta = self
                        .client
                        .kv_metadata_read(&self.mount, &key, Route::Active)
                        .await?;
                    let cas = match &meta {
                        None => 0,
                        Some(m) if self.is_ours(m) => m.current_version,
                        Some(_) => return Err(other_writer(&self.mount, &key)),
                    };
                    info!(key = %key, cas, "vault key last written by a run of this store: writing on top");
                    match self
                        .client
                        .kv_write(&self.mount, &key, &job.record, Some(cas))
                        .await
                    {
                        Ok(v) => v,
                        Err(VaultError::CasMismatch) => {
                            return Err(other_writer(&self.mount, &key))
                        }
                        Err(e) => return Err(e),
                    }
                }
            },
            Err(e) => return Err(e),
        };
        let custom = BTreeMap::from([
            (
                "fingerprint".to_string(),
                job.fingerprint.as_str().to_string(),
            ),
            (RUN_FIELD.to_string(), self.run_id.clone()),
        ]);
        self.client
            .kv_metadata_write(&self.mount, &key, &custom)
            .await?;
        Ok(VaultMark {
            fingerprint: job.fingerprint.clone(),
            version,
        })
    }

    /// [`Writer::held`] after a check-and-set refusal: a refusal means the key was written,
    /// so a read that does not show our write may come from a node still catching up (an
    /// election, a standby answering reads). It is read again, a few times with short
    /// pauses, before another writer is concluded.
    async fn held_settled(&self, key: &str, job: &Job) -> Result<Held, VaultError> {
        let mut attempt = 1;
        loop {
            let held = self.held(key, job).await?;
            if matches!(held, Held::Same(_)) || attempt >= READ_BACK_TRIES {
                return Ok(held);
            }
            tokio::time::sleep(READ_BACK_PAUSE * attempt).await;
            attempt += 1;
        }
    }

    /// What the active node holds at `key`, held against what `job` writes.
    async fn held(&self, key: &str, job: &Job) -> Result<Held, VaultError> {
        let back = self
            .client
            .kv_read::<CredentialRecord>(&self.mount, key, Route::Active)
            .await?;
        Ok(match back {
            Some(r)
                if self.fingerprinter.fingerprint(&r.data.secret) == job.fingerprint
                    && r.data.same_metadata(&job.record) =>
            {
                Held::Same(r.version)
            }
            Some(r) => Held::Other(r.version),
            None => Held::Missing,
        })
    }

    /// Removes one key as `vault_on_remove` says.
    async fn remove(&self, key: &str) -> Result<(), VaultError> {
        match self.on_remove {
            OnRemove::Delete => self.client.kv_delete_all(&self.mount, key).await,
            OnRemove::Soft => self.client.kv_soft_delete(&self.mount, key).await,
        }
    }

    /// Reconcile: reads the key back from the active node; `Some(job)` to rewrite it when
    /// it is missing or holds another secret or other data, `None` when it is right.
    async fn check(&self, mut job: Job) -> Result<Result<(Job, VaultMark), Job>, VaultError> {
        let key = credential_key(&self.prefix, &job.org, &job.client_id);
        match self.held(&key, &job).await? {
            Held::Same(version) => {
                let mark = VaultMark {
                    fingerprint: job.fingerprint.clone(),
                    version,
                };
                Ok(Ok((job, mark)))
            }
            Held::Other(version) => {
                job.cas = version;
                Ok(Err(job))
            }
            Held::Missing => {
                // Missing, or its latest version soft-deleted: write over the current version.
                job.cas = self
                    .client
                    .kv_metadata_read(&self.mount, &key, Route::Active)
                    .await?
                    .map_or(0, |m| m.current_version);
                Ok(Err(job))
            }
        }
    }
}

/// The custom metadata field naming the run that last wrote a key.
pub const RUN_FIELD: &str = "simsid_run";

fn record(org: &OrgId, site: Option<&Site>, c: &Credential) -> CredentialRecord {
    CredentialRecord {
        client_id: c.client_id.clone(),
        secret: c.secret.clone(),
        organisation_id: org.as_str().to_string(),
        school_name: site.map(|s| s.name.clone()).unwrap_or_default(),
        dfe_code: site.and_then(|s| s.dfe_code.clone()),
        deni_number: site.and_then(|s| s.deni_number.clone()),
        description: c.description.clone(),
    }
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

fn failure(what: &str, errors: &[VaultError], total: usize) -> OpError {
    let first = errors.first().map(ToString::to_string).unwrap_or_default();
    OpError::failed(format!(
        "vault {what} failed for {} of {total} credential(s) (first: {first}); the local store was not committed, the next harvest writes them again",
        errors.len()
    ))
}

/// What reconcile's scan of the prefix found.
#[derive(Debug, Default)]
struct Scan {
    /// Keys this store wrote that match no credential: to remove.
    strays: Vec<String>,
    /// Keys this store did not write: reported, never removed.
    foreign: Vec<String>,
    /// Keys of this store under the prefix (matching a credential or strays).
    ours: usize,
}

/// This store's view that a sync needs, read before any await.
struct StoreView {
    fingerprinter: Fingerprinter,
    marks: VaultMarks,
    ours: HashSet<String>,
    /// A harvest ever completed in this store.
    completed: bool,
    /// Secrets still sealed in the store (local mode's), to move into the vault.
    sealed: Vec<SealedCredential>,
}

/// A one-school run (`harvest --site`) sees only that school's marks: every other site is
/// absent from its site list but must not be removed from the vault.
fn scoped_marks(mut marks: VaultMarks, data: &HarvestData, summary: &RunSummary) -> VaultMarks {
    if summary.scope == crate::domain::RunScope::Site {
        let listed: HashSet<&OrgId> = data.sites.iter().map(|s| &s.org_id).collect();
        marks.retain(|(org, _), _| listed.contains(org));
    }
    marks
}

impl VaultSink {
    async fn run(
        &mut self,
        view: StoreView,
        data: &HarvestData,
        held: &HeldRemovals,
        summary: &mut RunSummary,
        events: &UnboundedSender<HarvestEvent>,
    ) -> OpResult<Synced> {
        self.counts = VaultCounts::default();
        self.foreign.clear();
        let StoreView {
            fingerprinter,
            marks,
            ours,
            completed,
            sealed,
        } = view;
        let writer = Writer {
            client: Arc::clone(&self.client),
            mount: self.mount.clone(),
            prefix: self.prefix.clone(),
            run_id: summary.run_id.to_string(),
            fingerprinter,
            on_remove: self.on_remove,
            ours: Arc::new(ours),
        };
        let sites: HashMap<&OrgId, &Site> = data.sites.iter().map(|s| (&s.org_id, s)).collect();
        let mut planned = plan(data, &marks);
        // What the removal guard holds stays in the store, so it stays in the vault too.
        planned
            .removals
            .retain(|(org, client_id)| !held.holds(org, client_id));
        let mut jobs: Vec<Job> = if self.reconcile {
            // Every fetched credential is checked against the vault.
            data.fetched
                .iter()
                .flat_map(|(org, creds)| {
                    creds.iter().map(|(c, fp)| Job {
                        org: org.clone(),
                        client_id: c.client_id.clone(),
                        record: record(org, sites.get(org).copied(), c),
                        fingerprint: fp.clone(),
                        cas: 0,
                    })
                })
                .collect()
        } else {
            self.counts.unchanged = planned.unchanged;
            planned
                .writes
                .iter()
                .map(|w| Job {
                    org: w.org.clone(),
                    client_id: w.credential.client_id.clone(),
                    record: record(w.org, sites.get(w.org).copied(), w.credential),
                    fingerprint: w.fingerprint.clone(),
                    cas: w.cas,
                })
                .collect()
        };

        let mut new_marks = marks.clone();
        let mut fatal: Vec<VaultError> = Vec::new();
        let mut failed_sites: BTreeMap<OrgId, String> = BTreeMap::new();
        let refused = |failed: &mut BTreeMap<OrgId, String>,
                       org: &OrgId,
                       client_id: &str,
                       e: &VaultError| {
            warn!(organisation_id = %org, client_id = %client_id, error = %e, "the vault refused a credential");
            failed
                .entry(org.clone())
                .or_insert_with(|| format!("the vault refused credential {client_id}: {e}"));
        };
        if self.reconcile {
            let checked: Vec<_> = stream::iter(jobs.drain(..))
                .map(|job| {
                    let w = writer.clone();
                    let who = (job.org.clone(), job.client_id.clone());
                    async move { (who, w.check(job).await) }
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            for ((org, client_id), c) in checked {
                match c {
                    Ok(Ok((job, mark))) => {
                        self.counts.unchanged += 1;
                        new_marks.insert((job.org, job.client_id), mark);
                    }
                    Ok(Err(job)) => jobs.push(job),
                    Err(e) if fails_the_run(&e) => fatal.push(e),
                    Err(e) => {
                        self.counts.errors += 1;
                        refused(&mut failed_sites, &org, &client_id, &e);
                    }
                }
            }
            if !fatal.is_empty() {
                self.counts.errors += fatal.len();
                return Err(failure("reconcile read", &fatal, data.fetched.len()));
            }
            jobs.retain(|j| !failed_sites.contains_key(&j.org));
        }

        // Local → vault (rule 10): every secret still sealed in the store that this run does
        // not write anyway (stale sites, held removals) moves into the vault too.
        let fetched_ids: HashSet<(&OrgId, &str)> = data
            .fetched
            .iter()
            .flat_map(|(org, creds)| creds.iter().map(move |(c, _)| (org, c.client_id.as_str())))
            .collect();
        let mut moving: HashSet<(OrgId, String)> = HashSet::new();
        // A one-school run touches no other site (cli.md "One school").
        let sealed = if summary.scope == crate::domain::RunScope::Site {
            Vec::new()
        } else {
            sealed
        };
        for s in sealed {
            if fetched_ids.contains(&(&s.org, s.credential.client_id.as_str())) {
                continue;
            }
            moving.insert((s.org.clone(), s.credential.client_id.clone()));
            jobs.push(Job {
                cas: marks
                    .get(&(s.org.clone(), s.credential.client_id.clone()))
                    .map_or(0, |m| m.version),
                record: CredentialRecord {
                    client_id: s.credential.client_id.clone(),
                    secret: s.credential.secret,
                    organisation_id: s.org.as_str().to_string(),
                    school_name: s.school_name,
                    dfe_code: s.dfe_code,
                    deni_number: s.deni_number,
                    description: s.credential.description,
                },
                client_id: s.credential.client_id,
                fingerprint: s.fingerprint,
                org: s.org,
            });
        }
        let mut moved = VaultMarks::new();

        let mut strays: Vec<String> = Vec::new();
        if self.reconcile {
            let scan = self
                .scan(data, held, &writer, completed)
                .await
                .map_err(|e| {
                    self.counts.errors += 1;
                    OpError::failed(format!("cannot list the vault prefix: {e}"))
                })?;
            self.foreign = scan.foreign;
            strays = scan.strays;
            if !strays.is_empty() && !self.accept_removals {
                let why = if !completed {
                    Some(format!(
                        "removal held: this store has never completed a harvest, so `--reconcile` removes nothing from the vault on its own: {} key(s) under the prefix match no credential",
                        strays.len()
                    ))
                } else if is_mass_removal(strays.len(), scan.ours) {
                    Some(format!(
                        "removal held: `--reconcile` would remove {} of the {} key(s) simsid wrote under the prefix (more than {MAX_REMOVED_PERCENT} %)",
                        strays.len(),
                        scan.ours
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    let note = format!(
                        "{why}; they stay in the vault. If the removals are expected, run `simsid harvest --reconcile --accept-removals`"
                    );
                    warn!(held = strays.len(), "reconcile removals held");
                    strays.clear();
                    summary.status = match summary.status {
                        RunStatus::Complete => RunStatus::Partial,
                        other => other,
                    };
                    summary.error = Some(match summary.error.take() {
                        Some(e) => format!("{e}; {note}"),
                        None => note,
                    });
                }
            }
        }
        let mut stored = Stored::start(jobs.len() + planned.removals.len() + strays.len(), events);

        let job_count = jobs.len();
        let write = |job: Job| {
            let w = writer.clone();
            async move {
                let r = w.write(&job).await;
                (job, r)
            }
        };
        let counts = &mut self.counts;
        let concurrency = self.concurrency;
        stored.each(jobs, concurrency, write, |job, result| {
            match result {
                Ok(mark) => {
                    counts.written += 1;
                    let id = (job.org.clone(), job.client_id.clone());
                    if moving.contains(&id) {
                        moved.insert(id, mark);
                    } else {
                        new_marks.insert(id, mark);
                    }
                }
                Err(e) if fails_the_run(&e) => {
                    warn!(organisation_id = %job.org, client_id = %job.client_id, error = %e, "vault write failed");
                    fatal.push(e);
                }
                Err(e) => {
                    counts.errors += 1;
                    refused(&mut failed_sites, &job.org, &job.client_id, &e);
                }
            }
        })
        .await;
        if !fatal.is_empty() {
            self.counts.errors += fatal.len();
            return Err(failure("write", &fatal, job_count));
        }

        // A site that failed here is stale: nothing of it is removed (rule 3).
        let mut removal_keys: Vec<String> = planned
            .removals
            .iter()
            .filter(|(org, _)| !failed_sites.contains_key(org))
            .map(|(org, c)| credential_key(&self.prefix, org, c))
            .collect();
        removal_keys.extend(strays.into_iter().filter(|k| {
            !failed_sites
                .keys()
                .any(|org| k.starts_with(&format!("{}/{}/", self.prefix, org.as_str())))
        }));
        removal_keys.sort();
        removal_keys.dedup();
        let removal_count = removal_keys.len();
        let mut removed_keys = Vec::new();
        let remove = |key: String| {
            let w = writer.clone();
            async move {
                let r = w.remove(&key).await;
                (key, r)
            }
        };
        let counts = &mut self.counts;
        stored
            .each(
                removal_keys,
                concurrency,
                remove,
                |key, result| match result {
                    Ok(()) => {
                        counts.removed += 1;
                        removed_keys.push(key);
                    }
                    Err(e) => {
                        warn!(key = %key, error = %e, "vault removal failed");
                        fatal.push(e);
                    }
                },
            )
            .await;
        removed_keys.sort();
        summary.diff.vault_removed = removed_keys;
        if !fatal.is_empty() {
            self.counts.errors += fatal.len();
            return Err(failure("removal", &fatal, removal_count));
        }
        info!(
            written = self.counts.written,
            removed = self.counts.removed,
            unchanged = self.counts.unchanged,
            refused = self.counts.errors,
            foreign = self.foreign.len(),
            vault_requests = self.client.requests(),
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

    /// Reconcile: lists the prefix. A stray is a key this store wrote (its `simsid_run`
    /// names one of this store's runs; in a store that never completed a harvest, any run)
    /// that matches no credential of a fetched site, no site whose clients call failed and
    /// nothing the removal guard holds, and that was not written after the listing began.
    /// Keys whose first segment starts with `_` are simsid's own (the team view) and left
    /// alone; any other key is foreign (vault.md sync rules 5 and 6).
    async fn scan(
        &self,
        data: &HarvestData,
        held: &HeldRemovals,
        writer: &Writer,
        completed: bool,
    ) -> Result<Scan, VaultError> {
        let known: HashSet<(String, String)> = data
            .fetched
            .iter()
            .flat_map(|(org, creds)| {
                creds
                    .iter()
                    .map(|(c, _)| (org.as_str().to_string(), c.client_id.clone()))
            })
            .collect();
        let stale: HashSet<&str> = data.failed.keys().map(OrgId::as_str).collect();
        let mut scan = Scan::default();
        let (top, date) = self
            .client
            .kv_list_dated(&self.mount, &self.prefix, Route::Active)
            .await?;
        // The vault's clock when the listing began (its `Date`, to the second): a key
        // updated at or after it may have been written after the listing began.
        let began = date.unwrap_or_else(chrono::Utc::now);
        let mut candidates = Vec::new();
        for folder in top {
            let seg = folder.trim_end_matches('/');
            if seg.starts_with('_') {
                continue;
            }
            let org_id = OrgId::parse(seg).ok();
            if stale.contains(seg) || org_id.as_ref().is_some_and(|o| held.sites.contains(o)) {
                continue;
            }
            if !folder.ends_with('/') {
                candidates.push(format!("{}/{seg}", self.prefix));
                continue;
            }
            let names = self
                .client
                .kv_list(
                    &self.mount,
                    &format!("{}/{seg}", self.prefix),
                    Route::Active,
                )
                .await?;
            for name in names {
                if name.ends_with('/') {
                    // A folder deeper than our layout: left alone (not ours to judge).
                    continue;
                }
                let matches = decode_segment(&name).is_some_and(|id| {
                    known.contains(&(seg.to_string(), id.clone()))
                        || org_id.as_ref().is_some_and(|o| held.holds(o, &id))
                });
                if matches {
                    scan.ours += 1;
                } else {
                    candidates.push(format!("{}/{seg}/{name}", self.prefix));
                }
            }
        }
        for key in candidates {
            let Some(meta) = self
                .client
                .kv_metadata_read(&self.mount, &key, Route::Active)
                .await?
            else {
                continue;
            };
            let run = meta.custom_metadata.get(RUN_FIELD);
            let ours = match run {
                Some(r) => !completed || writer.ours.contains(r),
                None => false,
            };
            if !ours {
                scan.foreign.push(key);
                continue;
            }
            scan.ours += 1;
            if meta.updated_time.is_none_or(|t| t >= began) {
                // Written (or rewritten) after the listing began: not a stray.
                continue;
            }
            // Already soft-deleted keys stay soft-deleted (nothing to do).
            if self.on_remove == OnRemove::Soft && meta.current_deleted {
                continue;
            }
            scan.strays.push(key);
        }
        scan.foreign.sort();
        Ok(scan)
    }
}

impl CommitSink for VaultSink {
    fn sync(
        &mut self,
        run: super::harvest::ToSync<'_>,
        summary: &mut RunSummary,
    ) -> impl std::future::Future<Output = OpResult<Synced>> {
        let super::harvest::ToSync {
            store,
            data,
            held,
            events,
        } = run;
        // Taken now so that no reference to the store lives across an await. The run is
        // recorded as a writer of this store before it writes anything (rule 9).
        let view = (|| {
            store.record_vault_writer(&summary.run_id.to_string())?;
            Ok::<_, crate::store::StoreError>(StoreView {
                fingerprinter: store.fingerprinter(),
                marks: scoped_marks(store.vault_marks()?, data, summary),
                ours: store.vault_writer_runs()?,
                completed: store.has_completed_harvest()?,
                sealed: store.sealed_credentials()?,
            })
        })()
        .map_err(|e| OpError::failed(format!("cannot read the store: {e}")));
        async move {
            let view = view?;
            let result = self.run(view, data, held, summary, events).await;
            // Only a sync that spoke to the vault names its identity: an unchanged
            // re-harvest stays at zero requests.
            if self.reconcile || self.counts.written + self.counts.removed > 0 {
                self.identity = self.client.identity().await.ok();
            }
            result
        }
    }

    fn identity(&self) -> Option<String> {
        self.identity.clone()
    }
}
