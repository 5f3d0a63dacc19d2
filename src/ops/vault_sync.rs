//! The vault as the harvest's commit sink (vault.md "Sync rules"): writes what changed with
//! check-and-set, removes what SIMS ID no longer lists, and with `--reconcile` lists the
//! prefix and repairs drift. Runs between fetching and the local commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::harvest::CommitSink;
use super::OpError;
use super::OpResult;
use crate::domain::{
    Credential, Fingerprint, HarvestData, HeldRemovals, OrgId, RunSummary, Site, VaultMark,
    VaultMarks,
};
use crate::harvest::HarvestEvent;
use crate::store::{Fingerprinter, Store};
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
    concurrency: usize,
    /// What the last sync did.
    pub counts: VaultCounts,
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
            concurrency: SYNC_CONCURRENCY,
            counts: VaultCounts::default(),
            identity: None,
        }
    }

    /// The same sink with another number of requests in flight.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
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
}

impl Writer {
    /// Writes one credential with check-and-set, then its custom metadata. A refusal is
    /// read back from the active node: if it holds what we meant to write (our earlier
    /// attempt landed), it counts as written.
    async fn write(&self, job: &Job) -> Result<VaultMark, VaultError> {
        let key = credential_key(&self.prefix, &job.org, &job.client_id);
        let version = match self
            .client
            .kv_write(&self.mount, &key, &job.record, Some(job.cas))
            .await
        {
            Ok(v) => v,
            Err(VaultError::CasMismatch) => {
                let back = self
                    .client
                    .kv_read::<CredentialRecord>(&self.mount, &key, Route::Active)
                    .await?;
                match back {
                    Some(r)
                        if self.fingerprinter.fingerprint(&r.data.secret) == job.fingerprint
                            && r.data.same_metadata(&job.record) =>
                    {
                        r.version
                    }
                    _ => {
                        return Err(VaultError::Status {
                            status: 400,
                            path: format!("{}/data/{key}", self.mount),
                            message: "the key was changed in the vault by another writer since simsid last wrote it; run `simsid harvest --reconcile` to overwrite it".into(),
                        })
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let custom = BTreeMap::from([
            ("fingerprint".to_string(), job.fingerprint.0.clone()),
            ("simsid_run".to_string(), self.run_id.clone()),
        ]);
        self.client
            .kv_metadata_write(&self.mount, &key, &custom)
            .await?;
        Ok(VaultMark {
            fingerprint: job.fingerprint.clone(),
            version,
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
        let back = self
            .client
            .kv_read::<CredentialRecord>(&self.mount, &key, Route::Active)
            .await?;
        match back {
            Some(r)
                if self.fingerprinter.fingerprint(&r.data.secret) == job.fingerprint
                    && r.data.same_metadata(&job.record) =>
            {
                let mark = VaultMark {
                    fingerprint: job.fingerprint.clone(),
                    version: r.version,
                };
                Ok(Ok((job, mark)))
            }
            Some(r) => {
                job.cas = r.version;
                Ok(Err(job))
            }
            None => {
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

fn failure(what: &str, errors: &[VaultError], total: usize) -> OpError {
    let first = errors.first().map(ToString::to_string).unwrap_or_default();
    OpError::failed(format!(
        "vault {what} failed for {} of {total} credential(s) (first: {first}); the local store was not committed, the next harvest writes them again",
        errors.len()
    ))
}

impl VaultSink {
    async fn run(
        &mut self,
        fingerprinter: Fingerprinter,
        marks: VaultMarks,
        data: &HarvestData,
        held: &HeldRemovals,
        summary: &RunSummary,
        events: &UnboundedSender<HarvestEvent>,
    ) -> OpResult<Option<VaultMarks>> {
        self.counts = VaultCounts::default();
        let writer = Writer {
            client: Arc::clone(&self.client),
            mount: self.mount.clone(),
            prefix: self.prefix.clone(),
            run_id: summary.run_id.to_string(),
            fingerprinter,
            on_remove: self.on_remove,
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
        let mut errors: Vec<VaultError> = Vec::new();
        if self.reconcile {
            let checked: Vec<_> = stream::iter(jobs.drain(..))
                .map(|job| {
                    let w = writer.clone();
                    async move { w.check(job).await }
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            for c in checked {
                match c {
                    Ok(Ok((job, mark))) => {
                        self.counts.unchanged += 1;
                        new_marks.insert((job.org, job.client_id), mark);
                    }
                    Ok(Err(job)) => jobs.push(job),
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                self.counts.errors = errors.len();
                return Err(failure("reconcile read", &errors, data.fetched.len()));
            }
        }

        let removal_keys: Vec<String> = {
            let mut keys: Vec<String> = planned
                .removals
                .iter()
                .map(|(org, c)| credential_key(&self.prefix, org, c))
                .collect();
            if self.reconcile {
                keys.extend(self.strays(data, held).await.map_err(|e| {
                    self.counts.errors += 1;
                    OpError::failed(format!("cannot list the vault prefix: {e}"))
                })?);
                keys.sort();
                keys.dedup();
            }
            keys
        };
        let total = jobs.len() + removal_keys.len();
        let mut done = 0;
        let _ = events.send(HarvestEvent::Stored { done, total });

        let job_count = jobs.len();
        let mut written = stream::iter(jobs)
            .map(|job| {
                let w = writer.clone();
                async move {
                    let r = w.write(&job).await;
                    (job, r)
                }
            })
            .buffer_unordered(self.concurrency);
        while let Some((job, result)) = written.next().await {
            done += 1;
            if done % 64 == 0 || done == total {
                let _ = events.send(HarvestEvent::Stored { done, total });
            }
            match result {
                Ok(mark) => {
                    self.counts.written += 1;
                    new_marks.insert((job.org.clone(), job.client_id.clone()), mark);
                }
                Err(e) => {
                    warn!(organisation_id = %job.org, client_id = %job.client_id, error = %e, "vault write failed");
                    errors.push(e);
                }
            }
        }
        drop(written);
        if !errors.is_empty() {
            self.counts.errors = errors.len();
            return Err(failure("write", &errors, job_count));
        }

        let removal_count = removal_keys.len();
        let mut removed = stream::iter(removal_keys)
            .map(|key| {
                let w = writer.clone();
                async move {
                    let r = w.remove(&key).await;
                    (key, r)
                }
            })
            .buffer_unordered(self.concurrency);
        while let Some((key, result)) = removed.next().await {
            done += 1;
            if done % 64 == 0 || done == total {
                let _ = events.send(HarvestEvent::Stored { done, total });
            }
            match result {
                Ok(()) => self.counts.removed += 1,
                Err(e) => {
                    warn!(key = %key, error = %e, "vault removal failed");
                    errors.push(e);
                }
            }
        }
        drop(removed);
        if !errors.is_empty() {
            self.counts.errors = errors.len();
            return Err(failure("removal", &errors, removal_count));
        }
        info!(
            written = self.counts.written,
            removed = self.counts.removed,
            unchanged = self.counts.unchanged,
            vault_requests = self.client.requests(),
            "vault sync finished"
        );
        Ok(Some(new_marks))
    }

    /// Reconcile: keys under the prefix that match no credential of a fetched site, no site
    /// whose clients call failed and nothing the removal guard holds (those stay in the
    /// store, so they stay in the vault).
    async fn strays(
        &self,
        data: &HarvestData,
        held: &HeldRemovals,
    ) -> Result<Vec<String>, VaultError> {
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
        let mut out = Vec::new();
        for folder in self
            .client
            .kv_list(&self.mount, &self.prefix, Route::Active)
            .await?
        {
            let org = folder.trim_end_matches('/');
            let org_id = OrgId::parse(org).ok();
            if stale.contains(org) || org_id.as_ref().is_some_and(|o| held.sites.contains(o)) {
                continue;
            }
            let names = if folder.ends_with('/') {
                self.client
                    .kv_list(
                        &self.mount,
                        &format!("{}/{org}", self.prefix),
                        Route::Active,
                    )
                    .await?
            } else {
                // A key directly under the prefix is not one of ours by layout: a stray.
                out.push(format!("{}/{org}", self.prefix));
                continue;
            };
            for name in names {
                let key = format!("{}/{org}/{}", self.prefix, name.trim_end_matches('/'));
                let matches = !name.ends_with('/')
                    && decode_segment(&name).is_some_and(|id| {
                        known.contains(&(org.to_string(), id.clone()))
                            || org_id.as_ref().is_some_and(|o| held.holds(o, &id))
                    });
                if matches {
                    continue;
                }
                if name.ends_with('/') {
                    // A folder deeper than our layout: left alone (not ours to judge).
                    continue;
                }
                // Already soft-deleted keys stay soft-deleted (nothing to do).
                if self.on_remove == OnRemove::Soft
                    && self
                        .client
                        .kv_metadata_read(&self.mount, &key, Route::Active)
                        .await?
                        .is_some_and(|m| m.current_deleted)
                {
                    continue;
                }
                out.push(key);
            }
        }
        Ok(out)
    }
}

impl CommitSink for VaultSink {
    fn sync(
        &mut self,
        store: &Store,
        data: &HarvestData,
        held: &HeldRemovals,
        summary: &RunSummary,
        events: &UnboundedSender<HarvestEvent>,
    ) -> impl std::future::Future<Output = OpResult<Option<VaultMarks>>> {
        // Taken now so that no reference to the store lives across an await.
        let fingerprinter = store.fingerprinter();
        let marks = store
            .vault_marks()
            .map_err(|e| OpError::failed(format!("cannot read the store: {e}")));
        async move {
            let marks = marks?;
            let result = self
                .run(fingerprinter, marks, data, held, summary, events)
                .await;
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
