//! Vault mode in the store: what was last written to the vault per credential, and the
//! commit that keeps no secret on disk.

use std::collections::HashSet;

use rusqlite::params;

use super::{commit, queries, Store, StoreError};
use crate::domain::{
    Credential, Fingerprint, HarvestData, OrgId, RunSummary, VaultMark, VaultMarks,
};

/// A credential whose secret is still sealed in the store (written in local mode), with
/// what its vault record needs (docs/reference/vault.md sync rule 10).
#[derive(Debug, Clone)]
pub struct SealedCredential {
    pub org: OrgId,
    /// The credential, its secret unsealed.
    pub credential: Credential,
    pub fingerprint: Fingerprint,
    pub school_name: String,
    pub dfe_code: Option<String>,
    pub deni_number: Option<String>,
}

/// The `meta` key prefix recording a run that writes the vault.
const VAULT_WRITER: &str = "vault_writer:";

impl Store {
    /// Per credential, the fingerprint and KV version last written to the vault.
    pub fn vault_marks(&self) -> Result<VaultMarks, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT org_id, client_id, vault_fingerprint, vault_version FROM credentials \
             WHERE vault_fingerprint IS NOT NULL",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = VaultMarks::new();
        while let Some(row) = rows.next()? {
            let org: String = row.get(0)?;
            let org = OrgId::parse(&org)
                .map_err(|_| StoreError::Corrupt(format!("bad organisation id {org}")))?;
            let version: Option<i64> = row.get(3)?;
            out.insert(
                (org, row.get(1)?),
                VaultMark {
                    fingerprint: Fingerprint::local(row.get(2)?),
                    version: version.unwrap_or(0).max(0) as u64,
                },
            );
        }
        Ok(out)
    }

    /// Commits a harvest in vault mode: like [`Store::commit_harvest`], but no secret is
    /// stored, and each fetched credential records `marks` (what the vault now holds).
    pub fn commit_harvest_vault(
        &mut self,
        data: &HarvestData,
        summary: &RunSummary,
        marks: &VaultMarks,
    ) -> Result<(), StoreError> {
        commit::commit_harvest(&mut self.conn, &self.crypto, data, summary, Some(marks))
    }

    /// Records, before any vault write, that run `run_id` writes the vault from this store:
    /// a key whose `simsid_run` names it is this store's even if the run dies before its
    /// commit (docs/reference/vault.md sync rule 9). Committed at once.
    pub fn record_vault_writer(&self, run_id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            params![format!("{VAULT_WRITER}{run_id}"), run_id],
        )?;
        Ok(())
    }

    /// Every run id of this store that may name a vault key: the runs in its history and
    /// the runs recorded by [`Store::record_vault_writer`].
    pub fn vault_writer_runs(&self) -> Result<HashSet<String>, StoreError> {
        let mut out = HashSet::new();
        let mut stmt = self.conn.prepare("SELECT run_id FROM runs")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            out.insert(row.get::<_, String>(0)?);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT substr(key, ?1) FROM meta WHERE key LIKE ?2")?;
        let mut rows = stmt.query(params![
            VAULT_WRITER.len() as i64 + 1,
            format!("{VAULT_WRITER}%")
        ])?;
        while let Some(row) = rows.next()? {
            out.insert(row.get::<_, String>(0)?);
        }
        Ok(out)
    }

    /// Whether a harvest ever completed (status `complete`) in this store.
    pub fn has_completed_harvest(&self) -> Result<bool, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM runs WHERE status = 'complete'",
            [],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Every credential that still holds a sealed secret, unsealed (stale and held ones
    /// included): what moving from local to vault mode must write to the vault.
    pub fn sealed_credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.org_id, c.client_id, c.description, c.fingerprint, s.name, s.dfe_code, \
             s.deni_number FROM credentials c JOIN sites s ON s.org_id = c.org_id \
             WHERE length(c.secret) > 0 ORDER BY c.org_id, c.client_id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let org: String = row.get(0)?;
            let org = OrgId::parse(&org)
                .map_err(|_| StoreError::Corrupt(format!("bad organisation id {org}")))?;
            let client_id: String = row.get(1)?;
            let secret = queries::secret(&self.conn, &self.crypto, &org, &client_id)?;
            out.push(SealedCredential {
                credential: Credential {
                    client_id,
                    secret,
                    description: row.get(2)?,
                },
                fingerprint: Fingerprint::local(row.get(3)?),
                school_name: row.get(4)?,
                dfe_code: row.get(5)?,
                deni_number: row.get(6)?,
                org,
            });
        }
        Ok(out)
    }

    /// Once the vault holds them: drops the sealed secrets of `moved` (each only while its
    /// fingerprint is still the one moved) and records what the vault holds. Returns how
    /// many were dropped.
    pub fn forget_moved_secrets(&mut self, moved: &VaultMarks) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut update = tx.prepare(
                "UPDATE credentials SET secret = x'', nonce = x'', vault_fingerprint = ?3, \
                 vault_version = ?4 WHERE org_id = ?1 AND client_id = ?2 AND fingerprint = ?3 \
                 AND length(secret) > 0",
            )?;
            for ((org, client_id), mark) in moved {
                n += update.execute(params![
                    org.as_str(),
                    client_id,
                    mark.fingerprint.as_str(),
                    mark.version as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// How many credentials hold a sealed secret (0 in a store used only in vault mode).
    pub fn sealed_secret_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM credentials WHERE length(secret) > 0",
            params![],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }
}
