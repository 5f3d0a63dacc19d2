//! Team mode in the store (docs/reference/vault.md "Team mode"): what the team's view a harvest
//! host publishes is made of, read from its tables with the store's own row mappings
//! (`queries`); what it last published; and on a viewer, the pulled view written over
//! sites, credentials and runs in one transaction (no secret: the store is a cache of the
//! view, its key seals only the audit chain), with the chunks it was made of.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::codec::{badge_to_sql, time_to_sql};
use super::{commit, queries, Store, StoreError};
use crate::domain::{Fingerprint, OrgId, RunRecord, SiteDetail};

/// The `meta` row holding what this host last published (its manifest and KV version).
const PUBLISHED: &str = "view_published";
/// The `meta` row holding what this viewer last pulled.
const PULLED: &str = "view_pulled";

/// What a harvest host last published: the manifest's KV version and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedMark {
    pub version: u64,
    pub manifest: String,
}

/// What a viewer last pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledMark {
    /// SHA-256 of the manifest's body (an unchanged view has the same).
    pub manifest_sha256: String,
    pub run_id: uuid::Uuid,
    pub published_at: DateTime<Utc>,
    pub identity: Option<String>,
    pub sites: usize,
    pub credentials: usize,
    pub pulled_at: DateTime<Utc>,
    /// The manifest's sequence (0 for a pull recorded before sequences): a later pull
    /// refuses a lower one.
    #[serde(default)]
    pub sequence: u64,
}

fn read_meta<T: for<'de> Deserialize<'de>>(
    conn: &Connection,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let raw: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    match raw {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("bad `{key}` record"))),
    }
}

fn write_meta<T: Serialize>(conn: &Connection, key: &str, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|_| StoreError::InvalidData(format!("`{key}` cannot be encoded")))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, bytes],
    )?;
    Ok(())
}

/// Writes the pulled `sites` and `runs` over the sites, credentials and runs of `tx` (the
/// caller commits).
fn write_view(tx: &Connection, sites: &[SiteDetail], runs: &[RunRecord]) -> Result<(), StoreError> {
    tx.execute("DELETE FROM credentials", [])?;
    tx.execute("DELETE FROM sites", [])?;
    tx.execute("DELETE FROM runs", [])?;
    let mut site = tx.prepare(
        "INSERT INTO sites (org_id, name, dfe_code, deni_number, authorised, first_seen, \
         badge, stale, last_error, waiting_since) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut credential = tx.prepare(
        "INSERT INTO credentials (org_id, client_id, secret, nonce, description, fingerprint, \
         first_seen, last_changed, stale, last_error, vault_fingerprint, vault_version) \
         VALUES (?1, ?2, x'', x'', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for SiteDetail { row, credentials } in sites {
        let org = row.site.org_id.as_str();
        let first_seen = row
            .first_seen
            .as_ref()
            .ok_or_else(|| StoreError::InvalidData(format!("site {org} has no first_seen")))?;
        site.execute(params![
            org,
            row.site.name,
            row.site.dfe_code,
            row.site.deni_number,
            row.site.authorised.map(i64::from),
            time_to_sql(first_seen),
            row.badge.map(badge_to_sql),
            row.stale,
            row.last_error,
            row.waiting_since.as_ref().map(time_to_sql),
        ])?;
        for c in credentials {
            let version = c
                .vault_version
                .map(|v| i64::try_from(v).map_err(|_| StoreError::InvalidData("version".into())))
                .transpose()?;
            credential.execute(params![
                org,
                c.client_id,
                c.description,
                c.fingerprint.as_str(),
                time_to_sql(&c.first_seen),
                time_to_sql(&c.last_changed),
                c.stale,
                c.last_error,
                c.vault_fingerprint.as_ref().map(|f| f.as_str()),
                version,
            ])?;
        }
    }
    for r in runs {
        let site = r.site.as_ref().map(OrgId::as_str);
        commit::insert_run_by(tx, &r.summary, r.identity.as_deref(), site)?;
    }
    Ok(())
}

impl Store {
    /// What the team's view of this store is made of, read in one transaction: every site
    /// with its credentials (no secret) and every run in the order recorded, with the
    /// identity that harvested it.
    pub fn view_rows(&self) -> Result<(Vec<SiteDetail>, Vec<RunRecord>), StoreError> {
        (|| {
            let tx = self.conn.unchecked_transaction()?;
            let sites = queries::site_details_by_org(&tx)?;
            let runs = queries::run_records(&tx)?;
            tx.finish()?;
            Ok((sites, runs))
        })()
        .map_err(|e| self.locate(e))
    }

    /// Records the vault identity that harvested run `run_id` (published with the run).
    pub fn set_run_identity(&self, run_id: &str, identity: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET identity = ?2 WHERE run_id = ?1",
                params![run_id, identity],
            )
            .map_err(|e| self.locate(e.into()))?;
        Ok(())
    }

    /// The vault identities recorded as having harvested (the host's runs, or the pulled
    /// view's): their reads are the harvest's own read-back.
    pub fn harvest_identities(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT identity FROM runs WHERE identity IS NOT NULL")?;
        let out = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(out)
    }

    /// A credential's fingerprint and the vault version that holds its secret, if cached.
    pub fn credential_mark(
        &self,
        org: &crate::domain::OrgId,
        client_id: &str,
    ) -> Result<Option<(Fingerprint, Option<u64>)>, StoreError> {
        self.conn
            .query_row(
                "SELECT fingerprint, vault_version FROM credentials \
                 WHERE org_id = ?1 AND client_id = ?2",
                params![org.as_str(), client_id],
                |r| {
                    Ok((
                        Fingerprint::local(r.get(0)?),
                        r.get::<_, Option<i64>>(1)?.map(|v| v.max(0) as u64),
                    ))
                },
            )
            .optional()
            .map_err(|e| self.locate(e.into()))
    }

    /// What this host last published, if it remembers.
    pub fn published(&self) -> Result<Option<PublishedMark>, StoreError> {
        read_meta(&self.conn, PUBLISHED).map_err(|e| self.locate(e))
    }

    /// Remembers what this host just published.
    pub fn set_published(&self, mark: &PublishedMark) -> Result<(), StoreError> {
        write_meta(&self.conn, PUBLISHED, mark).map_err(|e| self.locate(e))
    }

    /// What this viewer last pulled, if anything.
    pub fn pulled(&self) -> Result<Option<PulledMark>, StoreError> {
        read_meta(&self.conn, PULLED).map_err(|e| self.locate(e))
    }

    /// The chunks of the view last pulled, by name (a pull fetches only the others).
    pub fn view_chunks(&self) -> Result<HashMap<String, String>, StoreError> {
        (|| {
            let mut stmt = self.conn.prepare("SELECT name, body FROM view_chunks")?;
            let out = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(out)
        })()
        .map_err(|e| self.locate(e))
    }

    /// Every cached credential as (organisation id, client id): what a pull would remove
    /// is counted against it (the removal guard).
    pub fn credential_keys(
        &self,
    ) -> Result<std::collections::BTreeSet<(String, String)>, StoreError> {
        (|| {
            let mut stmt = self
                .conn
                .prepare("SELECT org_id, client_id FROM credentials")?;
            let out = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(out)
        })()
        .map_err(|e| self.locate(e))
    }

    /// Replaces the sites, credentials and runs with the pulled view's `sites` and `runs`
    /// (the badges as derived from the runs), the cached chunks with `chunks` and the pull
    /// record with `mark`, in one transaction, with `audit` appended to the audit trail in
    /// the same transaction (a pull that took what is refused by default); the audit trail
    /// is kept. On any error nothing changes.
    pub fn replace_with_view(
        &mut self,
        sites: &[SiteDetail],
        runs: &[RunRecord],
        chunks: &BTreeMap<&str, &str>,
        mark: &PulledMark,
        audit: Option<&crate::domain::AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut write = || -> Result<(), StoreError> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            write_view(&tx, sites, runs)?;
            tx.execute("DELETE FROM view_chunks", [])?;
            {
                let mut insert =
                    tx.prepare("INSERT INTO view_chunks (name, body) VALUES (?1, ?2)")?;
                for (name, body) in chunks {
                    insert.execute(params![name, body])?;
                }
            }
            write_meta(&tx, PULLED, mark)?;
            if let Some(entry) = audit {
                super::audit::append(&tx, &self.crypto, entry)?;
            }
            commit::bump_generation(&tx)?;
            tx.commit()?;
            Ok(())
        };
        write().map_err(|e| self.locate(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{fixtures, OrgId};
    use crate::store::StoreKey;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 987_654_321).unwrap()
    }

    /// One site with one credential, and the run that added it: as the store lists them
    /// (the derived fields set as its queries compute them).
    fn sample() -> (Vec<SiteDetail>, Vec<RunRecord>) {
        let org = OrgId::parse("207A1392-E1F6-47BA-81DA-6C374971D788").unwrap();
        let mut credential = fixtures::credential("c1".into(), "0123456789abcdef", t(2));
        credential.first_seen = t(1);
        credential.description = Some("API".into());
        credential.vault_version = Some(3);
        let mut site = fixtures::site(org.clone(), "Oak Primary".into(), t(1), vec![credential]);
        site.row.site.dfe_code = Some("123/4567".into());
        site.row.badge = Some(crate::domain::ChangeBadge::Added);
        let mut summary = fixtures::run(uuid::Uuid::from_u128(7), t(0));
        summary.finished_at = t(3);
        summary.diff.sites_added = vec![org];
        let run = RunRecord {
            summary,
            identity: Some("approle".into()),
            site: None,
        };
        (vec![site], vec![run])
    }

    #[test]
    fn a_pulled_view_reads_back_exactly_and_keeps_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), StoreKey::generate()).unwrap();
        let (sites, runs) = sample();
        let mark = PulledMark {
            manifest_sha256: "ab".repeat(32),
            run_id: uuid::Uuid::from_u128(7),
            published_at: t(4),
            identity: Some("approle".into()),
            sites: 1,
            credentials: 1,
            pulled_at: t(5),
            sequence: 4,
        };
        let chunks = BTreeMap::from([("n1", "body")]);
        store
            .replace_with_view(&sites, &runs, &chunks, &mark, None)
            .unwrap();
        assert_eq!(store.view_rows().unwrap(), (sites, runs));
        assert_eq!(store.pulled().unwrap(), Some(mark));
        assert_eq!(store.sealed_secret_count().unwrap(), 0);
        assert_eq!(store.view_chunks().unwrap()["n1"], "body");
        assert_eq!(
            store
                .harvest_identities()
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["approle"]
        );
        let marks = store.vault_marks().unwrap();
        assert_eq!(marks.values().next().unwrap().version, 3);
        // The next pull replaces everything.
        store
            .replace_with_view(
                &[],
                &[],
                &BTreeMap::new(),
                &PulledMark {
                    sites: 0,
                    credentials: 0,
                    ..store.pulled().unwrap().unwrap()
                },
                None,
            )
            .unwrap();
        assert!(store.sites().unwrap().is_empty());
        assert!(store.runs().unwrap().is_empty());
        assert!(store.view_chunks().unwrap().is_empty());
    }

    #[test]
    fn the_views_sites_are_the_exports_by_organisation_id() {
        // Names sort in another order than organisation ids; one site has no credential,
        // one has two changed at different times.
        let org = |n: u8| OrgId::parse(&format!("{n:08X}-E1F6-47BA-81DA-6C374971D788")).unwrap();
        let c = |id: &str, at| fixtures::credential(id.into(), "0123456789abcdef", t(at));
        let sites = vec![
            fixtures::site(org(3), "Ash".into(), t(1), vec![c("a", 5), c("b", 9)]),
            fixtures::site(org(1), "Yew".into(), t(2), vec![]),
            fixtures::site(org(2), "Elm".into(), t(3), vec![c("c", 4)]),
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), StoreKey::generate()).unwrap();
        let mark = PulledMark {
            manifest_sha256: "ab".repeat(32),
            run_id: uuid::Uuid::from_u128(7),
            published_at: t(4),
            identity: None,
            sites: 3,
            credentials: 3,
            pulled_at: t(5),
            sequence: 1,
        };
        store
            .replace_with_view(&sites, &[], &BTreeMap::new(), &mark, None)
            .unwrap();
        let mut export = store.site_details().unwrap();
        let names: Vec<_> = export.iter().map(|d| d.row.site.name.as_str()).collect();
        assert_eq!(names, ["Ash", "Elm", "Yew"]);
        export.sort_by(|a, b| a.row.site.org_id.cmp(&b.row.site.org_id));
        let (view, _) = store.view_rows().unwrap();
        assert_eq!(view, export);
        let mut want = sites;
        want.sort_by(|a, b| a.row.site.org_id.cmp(&b.row.site.org_id));
        assert_eq!(view, want);
        assert_eq!(view[2].row.credential_count, 2);
        assert_eq!(view[2].row.last_changed, Some(t(9)));
        assert_eq!(view[0].row.last_changed, Some(t(2)));
    }
}
