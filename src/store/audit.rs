//! The tamper-evident audit trail (docs/reference/cli.md, `audit --verify`).
//!
//! Every record carries `mac` = HMAC-SHA256 (a key derived from the store key) over its
//! position in the trail, the previous record's `mac` and its columns exactly as stored.
//! A head row in `meta` holds the count of records and the last `mac`, under the same key,
//! so that removing records at the end shows too. Without the store key nobody can write a
//! record, a `mac` or a head that verifies: an edited, removed, inserted or reordered
//! record breaks the chain at that record.

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::codec::{action_from_sql, org_from_sql, time_from_sql, time_to_sql};
use super::crypto::Crypto;
use super::error::StoreError;
use crate::domain::{AuditAction, AuditEntry, Fingerprint, OrgId};

/// The `meta` row holding the chain's head.
const HEAD: &str = "audit_head";
/// The "previous mac" of the first record.
const GENESIS: [u8; 32] = [0; 32];
const RECORD_DOMAIN: &[u8] = b"simsid audit record v1";
const HEAD_DOMAIN: &[u8] = b"simsid audit head v1";
/// The columns covered by a record's `mac`, in order.
const COLUMNS: &str = "at, user, action, org_id, client_id, fingerprint, detail, identity";
const COLUMN_COUNT: usize = 8;

/// What `audit --verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Records in the trail now.
    pub records: usize,
    /// The first record that was edited, removed, inserted or reordered; `None` when whole.
    pub first_bad: Option<BadRecord>,
}

impl AuditCheck {
    /// True when the chain is whole.
    pub fn intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Where the chain breaks: the position (0-based, oldest first, as `audit` lists the
/// records) and that record's time. For records removed at the end, the position is the
/// first missing one and the time that of the last record the head remembers. The time is
/// `None` when it cannot be read (an edited time column, or a missing head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub index: usize,
    pub time: Option<DateTime<Utc>>,
}

/// The chain's head: how many records it covers, the last one's `mac` and time.
struct Head {
    count: u64,
    last_mac: Vec<u8>,
    last_time: String,
}

impl Head {
    fn empty() -> Head {
        Head {
            count: 0,
            last_mac: GENESIS.to_vec(),
            last_time: String::new(),
        }
    }

    fn tag(&self, crypto: &Crypto) -> Vec<u8> {
        crypto.audit_mac(&[
            HEAD_DOMAIN,
            &self.count.to_be_bytes(),
            &self.last_mac,
            self.last_time.as_bytes(),
        ])
    }

    /// `count (8) ‖ last_mac (32) ‖ tag (32) ‖ last_time`.
    fn encode(&self, crypto: &Crypto) -> Vec<u8> {
        let mut out = Vec::with_capacity(72 + self.last_time.len());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.last_mac);
        out.extend_from_slice(&self.tag(crypto));
        out.extend_from_slice(self.last_time.as_bytes());
        out
    }

    /// The head stored in `bytes`, if it is well formed and its tag verifies.
    fn decode(bytes: &[u8], crypto: &Crypto) -> Option<Head> {
        if bytes.len() < 72 {
            return None;
        }
        let count = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let head = Head {
            count,
            last_mac: bytes[8..40].to_vec(),
            last_time: String::from_utf8(bytes[72..].to_vec()).ok()?,
        };
        crypto
            .audit_mac_matches(
                &[
                    HEAD_DOMAIN,
                    &head.count.to_be_bytes(),
                    &head.last_mac,
                    head.last_time.as_bytes(),
                ],
                &bytes[40..72],
            )
            .then_some(head)
    }
}

/// A column value as MACed: a type tag, then the value's bytes.
fn encode_value(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Null => vec![0],
        ValueRef::Integer(i) => [&[1u8][..], &i.to_be_bytes()].concat(),
        ValueRef::Real(f) => [&[2u8][..], &f.to_be_bytes()].concat(),
        ValueRef::Text(t) => [&[3u8][..], t].concat(),
        ValueRef::Blob(b) => [&[4u8][..], b].concat(),
    }
}

/// The `mac` of the record at `position` after `prev`, over its encoded columns.
fn record_mac(crypto: &Crypto, position: u64, prev: &[u8], columns: &[Vec<u8>]) -> Vec<u8> {
    let position = position.to_be_bytes();
    let mut parts: Vec<&[u8]> = vec![RECORD_DOMAIN, &position, prev];
    parts.extend(columns.iter().map(Vec::as_slice));
    crypto.audit_mac(&parts)
}

/// The encoded columns of a row selected as `id, {COLUMNS}, mac` (indices 1..=8).
fn row_columns(row: &Row<'_>) -> Result<Vec<Vec<u8>>, StoreError> {
    (1..=COLUMN_COUNT)
        .map(|i| Ok(encode_value(row.get_ref(i)?)))
        .collect()
}

/// The encoded columns of an entry about to be written, exactly as they will be stored.
fn entry_columns(entry: &AuditEntry) -> Vec<Vec<u8>> {
    let text = |s: Option<&str>| match s {
        Some(s) => encode_value(ValueRef::Text(s.as_bytes())),
        None => encode_value(ValueRef::Null),
    };
    vec![
        text(Some(&time_to_sql(&entry.at))),
        text(Some(&entry.user)),
        text(Some(entry.action.as_str())),
        text(entry.organisation_id.as_ref().map(OrgId::as_str)),
        text(entry.client_id.as_deref()),
        text(entry.fingerprint.as_ref().map(|f| f.as_str())),
        text(entry.detail.as_deref()),
        text(entry.identity.as_deref()),
    ]
}

fn read_head(conn: &Connection, crypto: &Crypto) -> Result<Option<Head>, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [HEAD], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(bytes.and_then(|b| Head::decode(&b, crypto)))
}

fn write_head(conn: &Connection, crypto: &Crypto, head: &Head) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![HEAD, head.encode(crypto)],
    )?;
    Ok(())
}

/// Starts the chain of a new store (no records yet).
pub(crate) fn init(conn: &Connection, crypto: &Crypto) -> Result<(), StoreError> {
    write_head(conn, crypto, &Head::empty())
}

/// Appends one record, chained to the head. The caller holds a write transaction, so the
/// record and the new head are written together or not at all. Refuses to write when the
/// head is missing or does not verify (the trail was tampered with: a new head would hide it).
pub(crate) fn append(
    conn: &Connection,
    crypto: &Crypto,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let head = read_head(conn, crypto)?.ok_or_else(|| {
        StoreError::Corrupt(
            "the audit trail's head is missing or altered; nothing more is audited \
             (see `simsid audit --verify`)"
                .into(),
        )
    })?;
    let columns = entry_columns(entry);
    let mac = record_mac(crypto, head.count, &head.last_mac, &columns);
    let at = time_to_sql(&entry.at);
    conn.prepare_cached(
        "INSERT INTO audit (at, user, action, org_id, client_id, fingerprint, detail, \
         identity, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        at,
        entry.user,
        entry.action.as_str(),
        entry.organisation_id.as_ref().map(OrgId::as_str),
        entry.client_id,
        entry.fingerprint.as_ref().map(|f| f.as_str()),
        entry.detail,
        entry.identity,
        mac,
    ])?;
    write_head(
        conn,
        crypto,
        &Head {
            count: head.count + 1,
            last_mac: mac,
            last_time: at,
        },
    )
}

/// Chains the records of a store written before the audit trail was chained, starts the
/// head, and records the migration (by `user`, to `version`). Runs once, inside the
/// migration's transaction: what those records said before now cannot be proven, but from
/// here on any change to them shows.
pub(crate) fn chain_existing(
    conn: &Connection,
    crypto: &Crypto,
    user: &str,
    version: u32,
) -> Result<(), StoreError> {
    let mut head = Head::empty();
    let mut updates: Vec<(i64, Vec<u8>)> = Vec::new();
    {
        let mut stmt = conn.prepare(&format!("SELECT id, {COLUMNS} FROM audit ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let mac = record_mac(crypto, head.count, &head.last_mac, &row_columns(row)?);
            updates.push((row.get(0)?, mac.clone()));
            head = Head {
                count: head.count + 1,
                last_mac: mac,
                last_time: row
                    .get_ref(1)?
                    .as_str_or_null()?
                    .unwrap_or_default()
                    .to_string(),
            };
        }
    }
    let chained = updates.len();
    {
        let mut set = conn.prepare("UPDATE audit SET mac = ?2 WHERE id = ?1")?;
        for (id, mac) in updates {
            set.execute(params![id, mac])?;
        }
    }
    write_head(conn, crypto, &head)?;
    append(
        conn,
        crypto,
        &AuditEntry {
            at: Utc::now(),
            user: user.to_string(),
            action: AuditAction::Migrate,
            organisation_id: None,
            client_id: None,
            fingerprint: None,
            detail: Some(format!(
                "store schema {version}: audit trail chained; {chained} earlier record(s) \
                 chained as found"
            )),
            identity: None,
        },
    )
}

/// Checks the whole chain and the head; names the first record that does not verify.
pub(crate) fn verify(conn: &Connection, crypto: &Crypto) -> Result<AuditCheck, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT id, {COLUMNS}, mac FROM audit ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_vec();
    let mut count: u64 = 0;
    let mut first_bad: Option<BadRecord> = None;
    let mut times: Vec<Option<DateTime<Utc>>> = Vec::new();
    while let Some(row) = rows.next()? {
        let time = row
            .get_ref(1)?
            .as_str()
            .ok()
            .and_then(|t| time_from_sql(t).ok());
        times.push(time);
        if first_bad.is_none() {
            let expected = record_mac(crypto, count, &prev, &row_columns(row)?);
            let stored = row.get_ref(COLUMN_COUNT + 1)?;
            let matches = matches!(stored, ValueRef::Blob(b) if b == expected.as_slice());
            if matches {
                prev = expected;
            } else {
                first_bad = Some(BadRecord {
                    index: times.len() - 1,
                    time,
                });
            }
        }
        count += 1;
    }
    let records = times.len();
    if first_bad.is_some() {
        return Ok(AuditCheck { records, first_bad });
    }
    let first_bad = match read_head(conn, crypto)? {
        None => Some(BadRecord {
            index: records,
            time: None,
        }),
        // Records removed at the end: the head remembers more of them.
        Some(head) if head.count > count => Some(BadRecord {
            index: records,
            time: time_from_sql(&head.last_time).ok(),
        }),
        // An old head put back: the first record it does not cover.
        Some(head) if head.count < count => {
            let index = usize::try_from(head.count).unwrap_or(records);
            Some(BadRecord {
                index,
                time: times.get(index).copied().flatten(),
            })
        }
        Some(head) if head.last_mac != prev => Some(BadRecord {
            index: records.saturating_sub(1),
            time: times.last().copied().flatten(),
        }),
        Some(_) => None,
    };
    Ok(AuditCheck { records, first_bad })
}

/// The audit trail, oldest first.
pub(crate) fn read(conn: &Connection) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT id, {COLUMNS} FROM audit ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(AuditEntry {
            at: time_from_sql(row.get_ref(1)?.as_str()?)?,
            user: row.get(2)?,
            action: action_from_sql(row.get_ref(3)?.as_str()?)?,
            organisation_id: row
                .get_ref(4)?
                .as_str_or_null()?
                .map(org_from_sql)
                .transpose()?,
            client_id: row.get(5)?,
            fingerprint: row.get::<_, Option<String>>(6)?.map(Fingerprint::local),
            detail: row.get(7)?,
            identity: row.get(8)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKey;

    fn conn() -> (Connection, Crypto) {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        super::super::schema::migrate(&tx).unwrap();
        tx.commit().unwrap();
        let crypto = Crypto::derive(&StoreKey::generate()).unwrap();
        init(&conn, &crypto).unwrap();
        (conn, crypto)
    }

    fn entry(user: &str, minute: u32) -> AuditEntry {
        use chrono::TimeZone;
        AuditEntry {
            at: Utc.with_ymd_and_hms(2026, 11, 30, 1, minute, 0).unwrap(),
            user: user.into(),
            action: AuditAction::Reveal,
            organisation_id: None,
            client_id: Some("sas-1".into()),
            fingerprint: Some(Fingerprint::local("00112233aabbccdd".into())),
            detail: None,
            identity: None,
        }
    }

    #[test]
    fn a_whole_chain_verifies_and_reads_back() {
        let (conn, crypto) = conn();
        assert_eq!(
            verify(&conn, &crypto).unwrap(),
            AuditCheck {
                records: 0,
                first_bad: None
            }
        );
        for i in 0..5 {
            append(&conn, &crypto, &entry("alice", i)).unwrap();
        }
        let check = verify(&conn, &crypto).unwrap();
        assert!(check.intact());
        assert_eq!(check.records, 5);
        assert_eq!(read(&conn).unwrap()[3], entry("alice", 3));
    }

    #[test]
    fn another_key_does_not_verify_and_a_lost_head_stops_appends() {
        let (conn, crypto) = conn();
        append(&conn, &crypto, &entry("alice", 1)).unwrap();
        let other = Crypto::derive(&StoreKey::generate()).unwrap();
        let check = verify(&conn, &other).unwrap();
        assert_eq!(check.first_bad.map(|b| b.index), Some(0));
        conn.execute("DELETE FROM meta WHERE key = ?1", [HEAD])
            .unwrap();
        assert!(matches!(
            append(&conn, &crypto, &entry("alice", 2)),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(verify(&conn, &crypto).unwrap().first_bad.unwrap().index, 1);
    }

    #[test]
    fn a_changed_column_type_breaks_the_chain() {
        let (conn, crypto) = conn();
        append(&conn, &crypto, &entry("alice", 1)).unwrap();
        conn.execute("UPDATE audit SET detail = X'00'", []).unwrap();
        assert_eq!(verify(&conn, &crypto).unwrap().first_bad.unwrap().index, 0);
    }
}
