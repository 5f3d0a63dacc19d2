//! The requests for one credential's key (docs/reference/vault.md "Sync rules"): a write with
//! check-and-set and, after a refusal, the read-back that tells our own earlier write from
//! a run of this store that died before its commit and from another writer; reconcile's
//! check of what the key holds; a removal as `vault_on_remove` says.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tracing::info;

use super::plan::Job;
use super::RUN_FIELD;
use crate::domain::VaultMark;
use crate::store::Fingerprinter;
use crate::vault::path::credential_key;
use crate::vault::{CredentialRecord, OnRemove, Route, VaultClient, VaultError};

/// How many times a key is read back after a check-and-set refusal before the sync
/// concludes that another writer holds it, and the first pause between reads (growing).
const READ_BACK_TRIES: u32 = 5;
const READ_BACK_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// The shared state of one sync's requests.
#[derive(Clone)]
pub(super) struct Writer {
    pub(super) client: Arc<VaultClient>,
    pub(super) mount: String,
    pub(super) prefix: String,
    pub(super) run_id: String,
    pub(super) fingerprinter: Fingerprinter,
    pub(super) on_remove: OnRemove,
    /// This store's run ids: a key whose `simsid_run` is one of them is ours.
    pub(super) ours: Arc<HashSet<String>>,
}

/// The refusal of a key another writer changed since this store last wrote it.
pub(super) fn other_writer(mount: &str, key: &str) -> VaultError {
    VaultError::Status {
        status: 400,
        path: format!("{mount}/data/{key}"),
        message: "the key was changed in the vault by another writer since simsid last wrote it; run `simsid harvest --reconcile` to overwrite it".into(),
    }
}

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
    pub(super) async fn write(&self, job: &Job) -> Result<VaultMark, VaultError> {
        let key = credential_key(&self.prefix, &job.org, &job.client_id);
        let version = match self
            .client
            .kv_write(&self.mount, &key, &job.record, Some(job.cas))
            .await
        {
            Ok(v) => v,
            Err(VaultError::CasMismatch) => match self.held_settled(&key, job).await? {
                Held::Same(version) => version,
                Held::Other(_) | Held::Missing => self.write_over_ours(&key, job).await?,
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

    /// After a refusal whose read-back is not our write: writes on top of the key's current
    /// version when a run of this store wrote it last; otherwise another writer holds it.
    async fn write_over_ours(&self, key: &str, job: &Job) -> Result<u64, VaultError> {
        let meta = self
            .client
            .kv_metadata_read(&self.mount, key, Route::Active)
            .await?;
        let cas = match &meta {
            None => 0,
            Some(m) if self.is_ours(m) => m.current_version,
            Some(_) => return Err(other_writer(&self.mount, key)),
        };
        info!(key = %key, cas, "vault key last written by a run of this store: writing on top");
        match self
            .client
            .kv_write(&self.mount, key, &job.record, Some(cas))
            .await
        {
            Err(VaultError::CasMismatch) => Err(other_writer(&self.mount, key)),
            other => other,
        }
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
    pub(super) async fn remove(&self, key: &str) -> Result<(), VaultError> {
        match self.on_remove {
            OnRemove::Delete => self.client.kv_delete_all(&self.mount, key).await,
            OnRemove::Soft => self.client.kv_soft_delete(&self.mount, key).await,
        }
    }

    /// Reconcile: reads the key back from the active node; `Ok(mark)` when it is right,
    /// `Err(job)` to rewrite it (missing, or holding another secret or other data).
    pub(super) async fn check(
        &self,
        mut job: Job,
    ) -> Result<Result<(Job, VaultMark), Job>, VaultError> {
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
