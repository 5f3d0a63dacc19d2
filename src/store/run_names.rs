//! The names of the schools a run removed (docs/reference/cli.md: `history` names each school, and a
//! removed school is no longer in the store to be named). Kept in the `meta` table, one row
//! per run that removed a school.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use super::{Store, StoreError};

/// The `meta` key prefix of a run's removed schools' names.
const RUN_NAMES: &str = "run_names:";

/// Records in `conn` (the commit's transaction) the names of the schools run `run_id`
/// removed (organisation id → name); nothing when there are none.
pub(super) fn record(
    conn: &Connection,
    run_id: &uuid::Uuid,
    names: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    if names.is_empty() {
        return Ok(());
    }
    let bytes = serde_json::to_vec(names)
        .map_err(|_| StoreError::InvalidData("run names cannot be encoded".into()))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![format!("{RUN_NAMES}{run_id}"), bytes],
    )?;
    Ok(())
}

impl Store {
    /// The removed schools' names of every run that recorded some, by run id.
    pub fn run_names(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE key LIKE 'run_names:%'")?;
        let mut rows = stmt.query([])?;
        let mut out = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let key: String = row.get(0)?;
            let value: Vec<u8> = row.get(1)?;
            let names: BTreeMap<String, String> = serde_json::from_slice(&value)
                .map_err(|_| StoreError::Corrupt(format!("bad `{key}` record")))?;
            if let Some(run) = key.strip_prefix(RUN_NAMES) {
                out.insert(run.to_string(), names);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKey;

    #[test]
    fn a_runs_removed_names_read_back_by_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3"), StoreKey::generate()).unwrap();
        let run = uuid::Uuid::from_u128(9);
        record(&store.conn, &run, &BTreeMap::new()).unwrap();
        assert!(store.run_names().unwrap().is_empty());
        let names = BTreeMap::from([("ORG".to_string(), "Gone School".to_string())]);
        record(&store.conn, &run, &names).unwrap();
        assert_eq!(
            store.run_names().unwrap(),
            BTreeMap::from([(run.to_string(), names)])
        );
    }
}
