//! What `simsid status` reads from the store: counts, the onboarding queue, the last
//! complete harvest and SQLite's own integrity check. Reads only.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

use super::codec::{count_from_sql, time_from_sql};
use super::error::StoreError;
use crate::domain::REMOVAL_HELD;

/// The store's health facts (no judgement: `ops::status` decides what is a problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthFacts {
    pub sites: usize,
    pub credentials: usize,
    /// Sites whose last harvest could not fetch their clients (held removals included).
    pub stale_sites: usize,
    /// Credentials the removal guard holds (stale with the reason "removal held").
    pub removals_held: usize,
    /// Sites waiting for approval (listed unauthorised).
    pub waiting: usize,
    /// The oldest `waiting_since`.
    pub oldest_waiting_since: Option<DateTime<Utc>>,
    /// When the last complete full harvest finished.
    pub last_complete_at: Option<DateTime<Utc>>,
}

fn count(conn: &Connection, sql: &str) -> Result<usize, StoreError> {
    let n: i64 = conn.query_row(sql, [], |row| row.get(0))?;
    count_from_sql(n)
}

/// Reads the facts in the caller's transaction.
pub(crate) fn facts(conn: &Connection) -> Result<HealthFacts, StoreError> {
    let held: i64 = conn.query_row(
        "SELECT count(*) FROM credentials WHERE stale = 1 AND last_error = ?1",
        [REMOVAL_HELD],
        |row| row.get(0),
    )?;
    let oldest: Option<String> = conn.query_row(
        "SELECT min(waiting_since) FROM sites WHERE waiting_since IS NOT NULL",
        [],
        |row| row.get(0),
    )?;
    let complete: Option<String> = conn
        .query_row(
            "SELECT max(finished_at) FROM runs WHERE status = 'complete' AND scope = 'full'",
            [],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    Ok(HealthFacts {
        sites: count(conn, "SELECT count(*) FROM sites")?,
        credentials: count(conn, "SELECT count(*) FROM credentials")?,
        stale_sites: count(conn, "SELECT count(*) FROM sites WHERE stale = 1")?,
        removals_held: count_from_sql(held)?,
        waiting: count(
            conn,
            "SELECT count(*) FROM sites WHERE waiting_since IS NOT NULL",
        )?,
        oldest_waiting_since: oldest.as_deref().map(time_from_sql).transpose()?,
        last_complete_at: complete.as_deref().map(time_from_sql).transpose()?,
    })
}

/// SQLite's `PRAGMA quick_check`: `Ok(None)` when the file is whole, else the first
/// problems it reports (at most ten lines).
pub(crate) fn quick_check(conn: &Connection) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare("PRAGMA quick_check(10)")?;
    let lines: Vec<String> = stmt
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(lines.join("; ")))
    }
}
