//! Reading the store: sites, credentials, history and audit. One query per list.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use secrecy::SecretString;

use super::codec::{
    badge_from_sql, count_from_sql, org_from_sql, scope_from_sql, status_from_sql, time_from_sql,
};
use super::crypto::Crypto;
use super::error::StoreError;
use crate::domain::{
    CancelSignal, Credential, CredentialRow, Fingerprint, OrgId, RunRecord, RunSummary, Site,
    SiteDetail, SiteRow, SiteTotals, Snapshot, SnapshotSite,
};

/// Sites with their credential count and latest change, aggregated in one pass.
const SITE_ROW_SELECT: &str = "SELECT s.org_id, s.name, s.dfe_code, s.deni_number, \
     s.authorised, s.first_seen, s.badge, s.stale, s.last_error, \
     count(c.client_id), max(c.last_changed), s.waiting_since \
     FROM sites s LEFT JOIN credentials c ON c.org_id = s.org_id";

fn site_from_row(row: &Row<'_>) -> Result<Site, StoreError> {
    Ok(Site {
        org_id: org_from_sql(row.get_ref(0)?.as_str()?)?,
        name: row.get(1)?,
        dfe_code: row.get(2)?,
        deni_number: row.get(3)?,
        authorised: row.get::<_, Option<i64>>(4)?.map(|v| v != 0),
    })
}

fn site_row_from_row(row: &Row<'_>) -> Result<SiteRow, StoreError> {
    let site = site_from_row(row)?;
    let first_seen = time_from_sql(row.get_ref(5)?.as_str()?)?;
    let badge = match row.get_ref(6)?.as_str_or_null()? {
        Some(b) => Some(badge_from_sql(b)?),
        None => None,
    };
    let latest = match row.get_ref(10)?.as_str_or_null()? {
        Some(t) => time_from_sql(t)?,
        None => first_seen,
    };
    Ok(SiteRow {
        site,
        credential_count: count_from_sql(row.get(9)?)?,
        stale: row.get(7)?,
        last_error: row.get(8)?,
        last_changed: Some(latest),
        badge,
        first_seen: Some(first_seen),
        waiting_since: match row.get_ref(11)?.as_str_or_null()? {
            Some(t) => Some(time_from_sql(t)?),
            None => None,
        },
    })
}

/// Every cached site's name by organisation id: one pass over the sites table, no join
/// (what a front end names schools by).
pub(crate) fn site_names(conn: &Connection) -> Result<BTreeMap<OrgId, String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT org_id, name FROM sites")?;
    let names = names_by_org(stmt.query([])?);
    names
}

/// The names of the cached sites among `orgs`, by organisation id (one query; an id the
/// store does not hold is left out).
pub(crate) fn site_names_of(
    conn: &Connection,
    orgs: &[&OrgId],
) -> Result<BTreeMap<OrgId, String>, StoreError> {
    let ids: Vec<&str> = orgs.iter().map(|o| o.as_str()).collect();
    let ids = serde_json::to_string(&ids)
        .map_err(|_| StoreError::InvalidData("organisation ids cannot be encoded".into()))?;
    let mut stmt = conn.prepare_cached(
        "SELECT org_id, name FROM sites WHERE org_id IN (SELECT value FROM json_each(?1))",
    )?;
    let names = names_by_org(stmt.query([ids])?);
    names
}

/// Rows of (organisation id, name) as a map.
fn names_by_org(mut rows: rusqlite::Rows<'_>) -> Result<BTreeMap<OrgId, String>, StoreError> {
    let mut out = BTreeMap::new();
    while let Some(row) = rows.next()? {
        out.insert(org_from_sql(row.get_ref(0)?.as_str()?)?, row.get(1)?);
    }
    Ok(out)
}

/// All cached sites, sorted by name (case-insensitively), then organisation id.
pub(crate) fn sites(conn: &Connection) -> Result<Vec<SiteRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SITE_ROW_SELECT} GROUP BY s.org_id ORDER BY s.name COLLATE NOCASE, s.name, s.org_id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(site_row_from_row(row)?);
    }
    Ok(out)
}

/// The first `limit` sites in the order of [`sites`]: the sites table's first screen, read
/// without aggregating every site (the console's first frame at tens of thousands).
pub(crate) fn sites_head(conn: &Connection, limit: usize) -> Result<Vec<SiteRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.org_id, s.name, s.dfe_code, s.deni_number, \
         s.authorised, s.first_seen, s.badge, s.stale, s.last_error, \
         count(c.client_id), max(c.last_changed), s.waiting_since \
         FROM sites s LEFT JOIN credentials c ON c.org_id = s.org_id \
         WHERE s.org_id IN \
         (SELECT org_id FROM sites ORDER BY name COLLATE NOCASE, name, org_id LIMIT ?1) \
         GROUP BY s.org_id ORDER BY s.name COLLATE NOCASE, s.name, s.org_id",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(site_row_from_row(row)?);
    }
    Ok(out)
}

/// The totals over every cached site.
pub(crate) fn site_totals(conn: &Connection) -> Result<SiteTotals, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*), \
         coalesce(sum(authorised = 1), 0), coalesce(sum(authorised = 0), 0), \
         coalesce(sum(authorised IS NULL), 0), coalesce(sum(stale != 0), 0), \
         coalesce(sum(badge IS NOT NULL), 0) FROM sites",
    )?;
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    Ok(stmt.query_row([], |r| {
        Ok(SiteTotals {
            sites: n(r.get(0)?),
            authorised: n(r.get(1)?),
            unauthorised: n(r.get(2)?),
            unknown: n(r.get(3)?),
            stale: n(r.get(4)?),
            changed: n(r.get(5)?),
        })
    })?)
}

/// One site with its credentials (no secrets), or `None`.
pub(crate) fn site(conn: &Connection, org: &OrgId) -> Result<Option<SiteDetail>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SITE_ROW_SELECT} WHERE s.org_id = ?1 GROUP BY s.org_id"
    ))?;
    let mut rows = stmt.query([org.as_str()])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let site_row = site_row_from_row(row)?;
    drop(rows);
    let mut stmt = conn.prepare_cached(&format!(
        "{CREDENTIAL_ROW_SELECT} WHERE org_id = ?1 ORDER BY client_id"
    ))?;
    let mut rows = stmt.query([org.as_str()])?;
    let mut credentials = Vec::new();
    while let Some(row) = rows.next()? {
        credentials.push(credential_row_from_row(row)?.1);
    }
    Ok(Some(SiteDetail {
        row: site_row,
        credentials,
    }))
}

/// Every site with its credentials (no secrets), in the order of [`sites`]: two queries
/// whatever the number of sites (the export).
pub(crate) fn site_details(conn: &Connection) -> Result<Vec<SiteDetail>, StoreError> {
    let mut by_org: std::collections::HashMap<String, Vec<CredentialRow>> =
        std::collections::HashMap::new();
    for (org, credential) in credential_rows_by_org(conn)? {
        by_org.entry(org).or_default().push(credential);
    }
    Ok(sites(conn)?
        .into_iter()
        .map(|row| SiteDetail {
            credentials: by_org.remove(row.site.org_id.as_str()).unwrap_or_default(),
            row,
        })
        .collect())
}

/// Every site with its credentials (no secrets), by organisation id (the team's view): the
/// sites read without the join [`sites`] aggregates with (each row's count and latest change
/// come from its credentials, [`SiteRow::derive_from`]), merged with the credentials read
/// in the same order.
pub(crate) fn site_details_by_org(conn: &Connection) -> Result<Vec<SiteDetail>, StoreError> {
    let mut credentials = credential_rows_by_org(conn)?.into_iter().peekable();
    // The columns of SITE_ROW_SELECT, with the aggregates left for `derive_from`.
    let mut stmt = conn.prepare_cached(
        "SELECT org_id, name, dfe_code, deni_number, authorised, first_seen, badge, stale, \
         last_error, 0, NULL, waiting_since FROM sites ORDER BY org_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut row = site_row_from_row(row)?;
        let org = row.site.org_id.as_str();
        // Credentials of an organisation without a site (none in a sound store) are skipped.
        while credentials.next_if(|(o, _)| o.as_str() < org).is_some() {}
        let mut own = Vec::new();
        while let Some((_, credential)) = credentials.next_if(|(o, _)| o == org) {
            own.push(credential);
        }
        row.derive_from(&own);
        out.push(SiteDetail {
            row,
            credentials: own,
        });
    }
    Ok(out)
}

/// Every credential row (no secret) with its organisation id as stored, ordered by
/// organisation id then client id.
fn credential_rows_by_org(conn: &Connection) -> Result<Vec<(String, CredentialRow)>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{CREDENTIAL_ROW_SELECT} ORDER BY org_id, client_id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(credential_row_from_row(row)?);
    }
    Ok(out)
}

const CREDENTIAL_ROW_SELECT: &str = "SELECT client_id, description, fingerprint, first_seen, \
     last_changed, stale, last_error, org_id, vault_fingerprint, vault_version FROM credentials";

/// A credential row of [`CREDENTIAL_ROW_SELECT`], with its organisation id as stored.
fn credential_row_from_row(row: &rusqlite::Row<'_>) -> Result<(String, CredentialRow), StoreError> {
    Ok((
        row.get(7)?,
        CredentialRow {
            client_id: row.get(0)?,
            description: row.get(1)?,
            fingerprint: Fingerprint::local(row.get(2)?),
            first_seen: time_from_sql(row.get_ref(3)?.as_str()?)?,
            last_changed: time_from_sql(row.get_ref(4)?.as_str()?)?,
            stale: row.get(5)?,
            last_error: row.get(6)?,
            vault_fingerprint: row.get::<_, Option<String>>(8)?.map(Fingerprint::local),
            vault_version: row.get::<_, Option<i64>>(9)?.map(|v| v.max(0) as u64),
        },
    ))
}

fn site_exists(conn: &Connection, org: &OrgId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM sites WHERE org_id = ?1")?
        .exists([org.as_str()])?)
}

/// Unseals one secret; `NotFound` when there is no such credential.
pub(crate) fn secret(
    conn: &Connection,
    crypto: &Crypto,
    org: &OrgId,
    client_id: &str,
) -> Result<SecretString, StoreError> {
    let sealed: Option<(Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT secret, nonce FROM credentials WHERE org_id = ?1 AND client_id = ?2",
        )?
        .query_row(params![org.as_str(), client_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let (ciphertext, nonce) = sealed.ok_or(StoreError::NotFound)?;
    crypto.unseal(org, client_id, &ciphertext, &nonce)
}

/// A site's credentials with their secrets unsealed (for verify); `NotFound` when the site
/// is not cached.
pub(crate) fn credentials(
    conn: &Connection,
    crypto: &Crypto,
    org: &OrgId,
) -> Result<Vec<Credential>, StoreError> {
    if !site_exists(conn, org)? {
        return Err(StoreError::NotFound);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT client_id, secret, nonce, description FROM credentials \
         WHERE org_id = ?1 ORDER BY client_id",
    )?;
    let mut rows = stmt.query([org.as_str()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let client_id: String = row.get(0)?;
        let secret = crypto.unseal(
            org,
            &client_id,
            row.get_ref(1)?.as_blob()?,
            row.get_ref(2)?.as_blob()?,
        )?;
        out.push(Credential {
            client_id,
            secret,
            description: row.get(3)?,
        });
    }
    Ok(out)
}

/// Every cached site with its credentials' fingerprints.
pub(crate) fn snapshot(conn: &Connection) -> Result<Snapshot, StoreError> {
    let mut sites = BTreeMap::new();
    let mut stmt =
        conn.prepare_cached("SELECT org_id, name, dfe_code, deni_number, authorised FROM sites")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let site = site_from_row(row)?;
        sites.insert(
            site.org_id.clone(),
            SnapshotSite {
                site,
                credentials: BTreeMap::new(),
            },
        );
    }
    drop(rows);
    let mut stmt = conn
        .prepare_cached("SELECT org_id, client_id, fingerprint FROM credentials ORDER BY org_id")?;
    let mut rows = stmt.query([])?;
    // Rows come grouped by site: parse each organisation id once.
    let mut current: Option<(String, OrgId)> = None;
    while let Some(row) = rows.next()? {
        let raw = row.get_ref(0)?.as_str()?;
        let org = match &current {
            Some((text, org)) if text == raw => org.clone(),
            _ => {
                let org = org_from_sql(raw)?;
                current = Some((raw.to_owned(), org.clone()));
                org
            }
        };
        let entry = sites.get_mut(&org).ok_or_else(|| {
            StoreError::Corrupt(format!("credentials of {org}, which is not a cached site"))
        })?;
        entry
            .credentials
            .insert(row.get(1)?, Fingerprint::local(row.get(2)?));
    }
    Ok(Snapshot { sites })
}

const RUN_SELECT: &str = "SELECT run_id, status, started_at, finished_at, sites_total, \
     sites_harvested, sites_failed, credentials_total, diff, failures, error, scope, signal, \
     identity, site FROM runs";

fn run_from_row(row: &Row<'_>) -> Result<RunSummary, StoreError> {
    let run_id = row.get_ref(0)?.as_str()?;
    Ok(RunSummary {
        run_id: uuid::Uuid::parse_str(run_id)
            .map_err(|_| StoreError::Corrupt(format!("bad run id `{run_id}`")))?,
        status: status_from_sql(row.get_ref(1)?.as_str()?)?,
        started_at: time_from_sql(row.get_ref(2)?.as_str()?)?,
        finished_at: time_from_sql(row.get_ref(3)?.as_str()?)?,
        sites_total: count_from_sql(row.get(4)?)?,
        sites_harvested: count_from_sql(row.get(5)?)?,
        sites_failed: count_from_sql(row.get(6)?)?,
        credentials_total: count_from_sql(row.get(7)?)?,
        diff: serde_json::from_str(row.get_ref(8)?.as_str()?)
            .map_err(|_| StoreError::Corrupt(format!("bad diff in run {run_id}")))?,
        failures: serde_json::from_str(row.get_ref(9)?.as_str()?)
            .map_err(|_| StoreError::Corrupt(format!("bad failures in run {run_id}")))?,
        stats: Default::default(),
        error: row.get(10)?,
        scope: scope_from_sql(row.get_ref(11)?.as_str()?)?,
        signal: match row.get_ref(12)?.as_str_or_null()? {
            None => None,
            Some(name) => Some(
                CancelSignal::named(name)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad signal in run {run_id}")))?,
            ),
        },
    })
}

/// Harvest runs, newest first; at most `limit` of them.
pub(crate) fn runs(conn: &Connection, limit: Option<usize>) -> Result<Vec<RunSummary>, StoreError> {
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let mut stmt = conn.prepare_cached(&format!(
        "{RUN_SELECT} ORDER BY started_at DESC, seq DESC LIMIT ?1"
    ))?;
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(run_from_row(row)?);
    }
    Ok(out)
}

/// Every run in the order it was recorded, with the vault identity that harvested it (the
/// runs of the team's view).
pub(crate) fn run_records(conn: &Connection) -> Result<Vec<RunRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{RUN_SELECT} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(RunRecord {
            summary: run_from_row(row)?,
            identity: row.get(13)?,
            site: row
                .get_ref(14)?
                .as_str_or_null()?
                .map(org_from_sql)
                .transpose()?,
        });
    }
    Ok(out)
}

/// How many credentials the store holds.
pub(crate) fn credential_count(conn: &Connection) -> Result<usize, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM credentials", [], |row| row.get(0))?;
    count_from_sql(n)
}
