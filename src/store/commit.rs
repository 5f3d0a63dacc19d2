//! Writing the store: a harvest in one transaction, run history and the audit trail.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::codec::{badge_to_sql, count_to_sql, time_to_sql};
use super::crypto::Crypto;
use super::error::StoreError;
use crate::domain::{
    HarvestData, HeldRemovals, OrgId, RunScope, RunSummary, VaultMarks, REMOVAL_HELD,
};

/// The `meta` row counting committed harvests.
const GENERATION: &str = "generation";

/// How many harvests have been committed to the store (0 for a new store).
pub(crate) fn generation(conn: &Connection) -> Result<u64, StoreError> {
    let value: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [GENERATION],
            |row| row.get(0),
        )
        .optional()?;
    Ok(value.map_or(0, |v| v.max(0) as u64))
}

pub(crate) fn bump_generation(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, 1) \
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
        [GENERATION],
    )?;
    Ok(())
}

/// Every site named in `fetched` or `failed` must be in the site list, and no site both; a
/// held site must not be listed, and held credentials must belong to a fetched site.
fn validate(data: &HarvestData, held: &HeldRemovals) -> Result<(), StoreError> {
    let listed: HashSet<&OrgId> = data.sites.iter().map(|s| &s.org_id).collect();
    for org in data.fetched.keys().chain(data.failed.keys()) {
        if !listed.contains(org) {
            return Err(StoreError::InvalidData(format!(
                "site {org} has a clients result but is not in the site list"
            )));
        }
    }
    if let Some(org) = data
        .fetched
        .keys()
        .find(|org| data.failed.contains_key(*org))
    {
        return Err(StoreError::InvalidData(format!(
            "site {org} is both fetched and failed"
        )));
    }
    if let Some(org) = held.sites.iter().find(|org| listed.contains(org)) {
        return Err(StoreError::InvalidData(format!(
            "site {org} is listed but its removal is held"
        )));
    }
    if let Some(org) = held
        .credentials
        .keys()
        .find(|org| !data.fetched.contains_key(*org))
    {
        return Err(StoreError::InvalidData(format!(
            "site {org} holds removals but was not fetched"
        )));
    }
    Ok(())
}

/// What the store knew about a credential before this harvest.
struct Previous {
    fingerprint: String,
    first_seen: String,
    last_changed: String,
}

/// Commits a harvest whose site list succeeded, in one transaction (docs/reference/cli.md, "Harvest
/// semantics"): sites not listed are removed with their credentials, listed sites are
/// upserted, fetched sites get exactly the fetched credentials, failed sites keep theirs
/// marked stale, badges are set from the diff and the run is recorded. In vault mode
/// (`vault` is `Some`) no secret is stored, only what was written to the vault.
pub(crate) fn commit_harvest(
    conn: &mut Connection,
    crypto: &Crypto,
    data: &HarvestData,
    summary: &RunSummary,
    vault: Option<&VaultMarks>,
) -> Result<(), StoreError> {
    let held = HeldRemovals::default();
    validate(data, &held)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    apply(&tx, crypto, data, summary, &held, vault)?;
    bump_generation(&tx)?;
    tx.commit()?;
    Ok(())
}

/// What one harvest commits: its run, its data, the removals the guard holds and, in vault
/// mode, what was written to the vault.
pub(crate) struct Prepared<'a> {
    pub summary: &'a RunSummary,
    pub data: &'a HarvestData,
    pub held: &'a HeldRemovals,
    pub vault: Option<&'a VaultMarks>,
}

/// Commits a prepared harvest in one transaction, unless another harvest committed since
/// `expected_generation` was read (then [`StoreError::ChangedUnderRun`], nothing written).
pub(crate) fn commit_prepared(
    conn: &mut Connection,
    crypto: &Crypto,
    expected_generation: u64,
    run: Prepared<'_>,
) -> Result<(), StoreError> {
    validate(run.data, run.held)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if generation(&tx)? != expected_generation {
        return Err(StoreError::ChangedUnderRun);
    }
    apply(&tx, crypto, run.data, run.summary, run.held, run.vault)?;
    bump_generation(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Writes a validated harvest into `tx` (the caller commits).
fn apply(
    tx: &Connection,
    crypto: &Crypto,
    data: &HarvestData,
    summary: &RunSummary,
    held: &HeldRemovals,
    vault: Option<&VaultMarks>,
) -> Result<(), StoreError> {
    let now = time_to_sql(&summary.finished_at);
    // One school (`harvest --site`): that site is a full copy of itself; no other site or
    // credential is touched, nor the other sites' badges.
    let one_site = summary.scope == RunScope::Site;

    // Sites no longer listed go, with their credentials.
    let listed: HashSet<&str> = data.sites.iter().map(|s| s.org_id.as_str()).collect();
    let cached: Vec<(String, String)> = if one_site {
        Vec::new()
    } else {
        tx.prepare("SELECT org_id, name FROM sites")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    {
        let mut del_creds = tx.prepare("DELETE FROM credentials WHERE org_id = ?1")?;
        let mut del_site = tx.prepare("DELETE FROM sites WHERE org_id = ?1")?;
        let held_sites: HashSet<&str> = held.sites.iter().map(OrgId::as_str).collect();
        // A removed school leaves the store: its name stays with the run, for `history`.
        let mut removed = BTreeMap::new();
        for (org, name) in cached.iter().filter(|(o, _)| !listed.contains(o.as_str())) {
            if held_sites.contains(org.as_str()) {
                continue;
            }
            del_creds.execute([org])?;
            del_site.execute([org])?;
            removed.insert(org.clone(), name.clone());
        }
        super::run_names::record(tx, &summary.run_id, &removed)?;
    }

    // Listed sites: upserted, first_seen kept, badges cleared (set again below).
    if one_site {
        let mut clear = tx.prepare("UPDATE sites SET badge = NULL WHERE org_id = ?1")?;
        for org in &listed {
            clear.execute([org])?;
        }
    } else {
        tx.execute("UPDATE sites SET badge = NULL WHERE badge IS NOT NULL", [])?;
    }
    {
        let mut upsert = tx.prepare(UPSERT_SITE)?;
        for site in &data.sites {
            upsert.execute(params![
                site.org_id.as_str(),
                site.name,
                site.dfe_code,
                site.deni_number,
                site.authorised.map(i64::from),
                now,
                waiting_from(site, &now),
            ])?;
        }
    }

    // Fetched sites: credentials replaced by the fetched set.
    let mut previous: HashMap<(String, String), Previous> = HashMap::new();
    {
        let mut stmt = tx.prepare(
            "SELECT org_id, client_id, fingerprint, first_seen, last_changed FROM credentials \
             WHERE ?1 = 0 OR org_id IN (SELECT value FROM json_each(?2))",
        )?;
        let orgs = if one_site {
            serde_json::to_string(&listed)
                .map_err(|_| StoreError::InvalidData("site list cannot be encoded".into()))?
        } else {
            "[]".to_string()
        };
        let mut rows = stmt.query(params![one_site, orgs])?;
        while let Some(row) = rows.next()? {
            previous.insert(
                (row.get(0)?, row.get(1)?),
                Previous {
                    fingerprint: row.get(2)?,
                    first_seen: row.get(3)?,
                    last_changed: row.get(4)?,
                },
            );
        }
    }
    {
        let mut clear = tx.prepare("DELETE FROM credentials WHERE org_id = ?1")?;
        let mut insert = tx.prepare(
            "INSERT INTO credentials (org_id, client_id, secret, nonce, description, \
             fingerprint, first_seen, last_changed, stale, last_error, vault_fingerprint, \
             vault_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, NULL, ?9, ?10) \
             ON CONFLICT (org_id, client_id) DO UPDATE SET secret = excluded.secret, \
             nonce = excluded.nonce, description = excluded.description, \
             fingerprint = excluded.fingerprint, last_changed = excluded.last_changed, \
             vault_fingerprint = excluded.vault_fingerprint, \
             vault_version = excluded.vault_version",
        )?;
        let mut fresh =
            tx.prepare("UPDATE sites SET stale = 0, last_error = NULL WHERE org_id = ?1")?;
        let mut drop_one =
            tx.prepare("DELETE FROM credentials WHERE org_id = ?1 AND client_id = ?2")?;
        for (org, fetched) in &data.fetched {
            match held.credentials.get(org) {
                None => {
                    clear.execute([org.as_str()])?;
                }
                // Held credentials stay; the others are replaced by the fetched set.
                Some(keep) => {
                    let stored: Vec<String> = tx
                        .prepare_cached("SELECT client_id FROM credentials WHERE org_id = ?1")?
                        .query_map([org.as_str()], |row| row.get(0))?
                        .collect::<Result<_, _>>()?;
                    for client_id in stored.iter().filter(|c| !keep.contains(*c)) {
                        drop_one.execute(params![org.as_str(), client_id])?;
                    }
                }
            }
            for (credential, _) in fetched {
                // The store's own fingerprint is authoritative.
                let fingerprint = crypto.fingerprint(&credential.secret);
                let key = (org.as_str().to_owned(), credential.client_id.clone());
                let (first_seen, last_changed) = match previous.get(&key) {
                    Some(p) if p.fingerprint == fingerprint.as_str() => {
                        (p.first_seen.as_str(), p.last_changed.as_str())
                    }
                    Some(p) => (p.first_seen.as_str(), now.as_str()),
                    None => (now.as_str(), now.as_str()),
                };
                // Vault mode keeps no secret on disk: empty sealed columns, and the mark of
                // what the vault holds.
                let (ciphertext, nonce, mark) = match vault {
                    Some(marks) => (Vec::new(), Vec::new(), marks.get(&key_of(org, credential))),
                    None => {
                        let sealed = crypto.seal(org, &credential.client_id, &credential.secret)?;
                        (sealed.ciphertext, sealed.nonce.to_vec(), None)
                    }
                };
                insert.execute(params![
                    org.as_str(),
                    credential.client_id,
                    ciphertext,
                    nonce,
                    credential.description,
                    fingerprint.as_str(),
                    first_seen,
                    last_changed,
                    mark.map(|m| m.fingerprint.as_str()),
                    mark.map(|m| m.version as i64),
                ])?;
            }
            fresh.execute([org.as_str()])?;
        }
    }

    // Failed sites: previous credentials kept, all marked stale with the error.
    {
        let mut site_stale =
            tx.prepare("UPDATE sites SET stale = 1, last_error = ?2 WHERE org_id = ?1")?;
        let mut creds_stale =
            tx.prepare("UPDATE credentials SET stale = 1, last_error = ?2 WHERE org_id = ?1")?;
        for (org, error) in &data.failed {
            site_stale.execute(params![org.as_str(), error])?;
            creds_stale.execute(params![org.as_str(), error])?;
        }
        // Held removals: the sites and credentials stay, marked stale with the reason.
        for org in &held.sites {
            site_stale.execute(params![org.as_str(), REMOVAL_HELD])?;
            creds_stale.execute(params![org.as_str(), REMOVAL_HELD])?;
        }
        let mut cred_stale = tx.prepare(
            "UPDATE credentials SET stale = 1, last_error = ?3 WHERE org_id = ?1 AND client_id = ?2",
        )?;
        for (org, client_ids) in &held.credentials {
            site_stale.execute(params![org.as_str(), REMOVAL_HELD])?;
            for client_id in client_ids {
                cred_stale.execute(params![org.as_str(), client_id, REMOVAL_HELD])?;
            }
        }
    }

    {
        let mut set_badge = tx.prepare("UPDATE sites SET badge = ?2 WHERE org_id = ?1")?;
        for (org, badge) in summary.diff.badges() {
            set_badge.execute(params![org.as_str(), badge_to_sql(badge)])?;
        }
    }

    let school = data.sites.first().filter(|_| one_site);
    insert_run_by(tx, summary, None, school.map(|s| s.org_id.as_str()))?;
    Ok(())
}

/// Upserts a listed site: `first_seen` kept; `waiting_since` starts when the site is
/// listed unauthorised, is kept while it stays so, and is cleared once it is authorised
/// (or its authorisation is unknown).
pub(crate) const UPSERT_SITE: &str = "INSERT INTO sites (org_id, name, dfe_code, deni_number, \
     authorised, first_seen, badge, stale, last_error, waiting_since) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, NULL, ?7) \
     ON CONFLICT (org_id) DO UPDATE SET name = excluded.name, \
     dfe_code = excluded.dfe_code, deni_number = excluded.deni_number, \
     authorised = excluded.authorised, \
     waiting_since = CASE WHEN excluded.authorised = 0 \
         THEN coalesce(sites.waiting_since, excluded.waiting_since) ELSE NULL END";

/// The `waiting_since` a site listed now would start with.
pub(crate) fn waiting_from<'a>(site: &crate::domain::Site, now: &'a str) -> Option<&'a str> {
    (site.authorised == Some(false)).then_some(now)
}

fn key_of(org: &OrgId, credential: &crate::domain::Credential) -> (OrgId, String) {
    (org.clone(), credential.client_id.clone())
}

/// Adds a run to the history.
pub(crate) fn insert_run(conn: &Connection, summary: &RunSummary) -> Result<(), StoreError> {
    insert_run_by(conn, summary, None, None)
}

/// Records a run with the vault identity that harvested it (a pulled view's run) and, for
/// a one-school run that committed, the school it harvested.
pub(crate) fn insert_run_by(
    conn: &Connection,
    summary: &RunSummary,
    identity: Option<&str>,
    site: Option<&str>,
) -> Result<(), StoreError> {
    let diff = serde_json::to_string(&summary.diff)
        .map_err(|_| StoreError::InvalidData("run diff cannot be encoded".into()))?;
    let failures = serde_json::to_string(&summary.failures)
        .map_err(|_| StoreError::InvalidData("run failures cannot be encoded".into()))?;
    conn.prepare_cached(
        "INSERT INTO runs (run_id, status, started_at, finished_at, sites_total, \
         sites_harvested, sites_failed, credentials_total, diff, failures, error, scope, \
         signal, identity, site) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        summary.run_id.to_string(),
        summary.status.as_str(),
        time_to_sql(&summary.started_at),
        time_to_sql(&summary.finished_at),
        count_to_sql(summary.sites_total)?,
        count_to_sql(summary.sites_harvested)?,
        count_to_sql(summary.sites_failed)?,
        count_to_sql(summary.credentials_total)?,
        diff,
        failures,
        summary.error,
        summary.scope.as_str(),
        summary.signal.map(|s| s.name()),
        identity,
        site,
    ])?;
    Ok(())
}
