//! Whether the last write of the metrics file failed (docs/reference/cli.md "Signals, services and
//! monitoring"): a run records the failure, the next successful write clears it, and
//! `status` is unhealthy while it stands (the harvest worked, but on-call must learn that
//! node_exporter is reading stale numbers).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// The `meta` row holding the last failed metrics write.
const METRICS_FAILURE: &str = "metrics_failure";

/// A metrics write that failed: where, why and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsFailure {
    /// The metrics file that could not be written.
    pub path: String,
    /// Why (the operating system's reason).
    pub error: String,
    /// When the write was tried.
    pub at: DateTime<Utc>,
}

impl Store {
    /// The last failed metrics write, if the last write failed.
    pub fn metrics_failure(&self) -> Result<Option<MetricsFailure>, StoreError> {
        let raw: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [METRICS_FAILURE],
                |r| r.get(0),
            )
            .optional()?;
        raw.map(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|_| StoreError::Corrupt(format!("bad `{METRICS_FAILURE}` record")))
        })
        .transpose()
    }

    /// Records a failed metrics write, or (`None`) clears it after a write that succeeded.
    pub fn set_metrics_failure(&self, failure: Option<&MetricsFailure>) -> Result<(), StoreError> {
        match failure {
            Some(f) => {
                let bytes = serde_json::to_vec(f).map_err(|_| {
                    StoreError::InvalidData(format!("`{METRICS_FAILURE}` cannot be encoded"))
                })?;
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![METRICS_FAILURE, bytes],
                )?;
            }
            None => {
                self.conn
                    .execute("DELETE FROM meta WHERE key = ?1", [METRICS_FAILURE])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKey;

    #[test]
    fn a_failed_metrics_write_is_kept_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3"), StoreKey::generate()).unwrap();
        assert_eq!(store.metrics_failure().unwrap(), None);
        let f = MetricsFailure {
            path: "/x/simsid.prom".into(),
            error: "permission denied".into(),
            at: Utc::now(),
        };
        store.set_metrics_failure(Some(&f)).unwrap();
        assert_eq!(store.metrics_failure().unwrap(), Some(f));
        store.set_metrics_failure(None).unwrap();
        assert_eq!(store.metrics_failure().unwrap(), None);
    }
}
