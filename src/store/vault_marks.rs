//! Vault mode in the store: what was last written to the vault per credential, and the
//! commit that keeps no secret on disk.

use rusqlite::params;

use super::{commit, Store, StoreError};
use crate::domain::{Fingerprint, HarvestData, OrgId, RunSummary, VaultMark, VaultMarks};

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
                    fingerprint: Fingerprint(row.get(2)?),
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
