//! The tamper-evident audit trail: records edited, removed, inserted or reordered with plain
//! SQL (what anyone with the file can do) are found, and the exact first bad record is
//! named; a store written before the chain existed is chained on migration, and the
//! migration is recorded.

use crate::support::common;

use chrono::{DateTime, TimeZone, Utc};
use common::TempStore;
use rusqlite::{params, Connection};
use simsid::domain::{AuditAction, AuditEntry, Fingerprint, OrgId};
use simsid::store::{AuditCheck, BadRecord, Store};

const RECORDS: u32 = 6;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 1, minute, 0).unwrap()
}

fn entry(i: u32) -> AuditEntry {
    AuditEntry {
        at: t(i),
        user: if i.is_multiple_of(2) { "alice" } else { "bob" }.into(),
        action: AuditAction::Reveal,
        organisation_id: Some(OrgId::parse("207a1392-e1f6-47ba-81da-6c374971d788").unwrap()),
        client_id: Some(format!("sas-{i}")),
        fingerprint: Some(Fingerprint::parse(&format!("{i:016x}")).unwrap()),
        detail: None,
        identity: None,
    }
}

/// A store with records 0..RECORDS at minutes 0..RECORDS (ids 1..=RECORDS).
fn store_with_records() -> (TempStore, Store) {
    let ts = TempStore::new();
    let mut store = ts.open();
    for i in 0..RECORDS {
        store.append_audit(&entry(i)).unwrap();
    }
    (ts, store)
}

/// Runs `sql` on the store file with a plain connection, as an intruder would.
fn tamper(ts: &TempStore, sql: &str) {
    let conn = Connection::open(ts.path()).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn first_bad(ts: &TempStore) -> Option<BadRecord> {
    ts.open().verify_audit().unwrap().first_bad
}

fn bad(index: usize, minute: u32) -> Option<BadRecord> {
    Some(BadRecord {
        index,
        time: Some(t(minute)),
    })
}

#[test]
fn a_whole_trail_verifies() {
    let (_ts, store) = store_with_records();
    assert_eq!(
        store.verify_audit().unwrap(),
        AuditCheck {
            records: RECORDS as usize,
            first_bad: None
        }
    );
}

#[test]
fn an_edited_record_is_named() {
    for column in [
        "user = 'mallory'",
        "action = 'copy'",
        "client_id = 'sas-x'",
        "fingerprint = NULL",
        "detail = 'nothing to see'",
        "identity = 'someone'",
    ] {
        let (ts, store) = store_with_records();
        drop(store);
        tamper(&ts, &format!("UPDATE audit SET {column} WHERE id = 3"));
        assert_eq!(first_bad(&ts), bad(2, 2), "{column}");
    }
    // An edited time is named with the edited time.
    let (ts, store) = store_with_records();
    drop(store);
    tamper(
        &ts,
        "UPDATE audit SET at = '2026-11-30T01:59:00.000000000Z' WHERE id = 4",
    );
    assert_eq!(first_bad(&ts), bad(3, 59));
}

#[test]
fn a_removed_record_is_named() {
    let (ts, store) = store_with_records();
    drop(store);
    tamper(&ts, "DELETE FROM audit WHERE id = 3");
    // Record 2 is gone: the record now at index 2 (minute 3) no longer chains.
    let check = ts.open().verify_audit().unwrap();
    assert_eq!(check.records, RECORDS as usize - 1);
    assert_eq!(check.first_bad, bad(2, 3));
}

#[test]
fn removed_records_at_the_end_are_named() {
    let (ts, store) = store_with_records();
    drop(store);
    tamper(&ts, &format!("DELETE FROM audit WHERE id = {RECORDS}"));
    assert_eq!(first_bad(&ts), bad(RECORDS as usize - 1, RECORDS - 1));
    // Everything removed.
    let (ts, store) = store_with_records();
    drop(store);
    tamper(&ts, "DELETE FROM audit");
    assert_eq!(first_bad(&ts), bad(0, RECORDS - 1));
}

#[test]
fn an_inserted_record_is_named() {
    // In the middle: ids after 3 are moved up to make room, a forged record goes at 4.
    let (ts, store) = store_with_records();
    drop(store);
    tamper(
        &ts,
        "UPDATE audit SET id = id + 100 WHERE id > 3;
         INSERT INTO audit (id, at, user, action, org_id, client_id, fingerprint, detail, mac)
         SELECT 4, '2026-11-30T01:30:00.000000000Z', 'alice', 'verify', org_id, client_id,
                fingerprint, 'ok', mac FROM audit WHERE id = 3;",
    );
    assert_eq!(first_bad(&ts), bad(3, 30));
    // At the end, even with a copied mac.
    let (ts, store) = store_with_records();
    drop(store);
    tamper(
        &ts,
        "INSERT INTO audit (at, user, action, org_id, client_id, fingerprint, detail, mac)
         SELECT '2026-11-30T01:45:00.000000000Z', user, action, org_id, client_id,
                fingerprint, detail, mac FROM audit ORDER BY id DESC LIMIT 1;",
    );
    assert_eq!(first_bad(&ts), bad(RECORDS as usize, 45));
}

#[test]
fn reordered_records_are_named() {
    let (ts, store) = store_with_records();
    drop(store);
    // Swap records 1 and 3 (ids 2 and 4).
    tamper(
        &ts,
        "UPDATE audit SET id = -2 WHERE id = 2;
         UPDATE audit SET id = 2 WHERE id = 4;
         UPDATE audit SET id = 4 WHERE id = -2;",
    );
    assert_eq!(first_bad(&ts), bad(1, 3));
    // Two neighbours swapped by content rather than by id.
    let (ts, store) = store_with_records();
    drop(store);
    let conn = Connection::open(ts.path()).unwrap();
    let cols = "at, user, action, org_id, client_id, fingerprint, detail, identity, mac";
    let row = |id: i64| -> Vec<rusqlite::types::Value> {
        conn.query_row(
            &format!("SELECT {cols} FROM audit WHERE id = ?1"),
            [id],
            |r| (0..9).map(|i| r.get(i)).collect(),
        )
        .unwrap()
    };
    let (five, six) = (row(5), row(6));
    for (id, values) in [(5, six), (6, five)] {
        conn.execute(
            "UPDATE audit SET at = ?2, user = ?3, action = ?4, org_id = ?5, client_id = ?6, \
             fingerprint = ?7, detail = ?8, identity = ?9, mac = ?10 WHERE id = ?1",
            params![
                id, values[0], values[1], values[2], values[3], values[4], values[5], values[6],
                values[7], values[8]
            ],
        )
        .unwrap();
    }
    drop(conn);
    assert_eq!(first_bad(&ts), bad(4, 5));
}

#[test]
fn an_altered_head_is_found_and_stops_further_records() {
    let (ts, store) = store_with_records();
    drop(store);
    tamper(
        &ts,
        "UPDATE meta SET value = X'00' WHERE key = 'audit_head'",
    );
    let mut store = ts.open();
    assert_eq!(
        store.verify_audit().unwrap().first_bad,
        Some(BadRecord {
            index: RECORDS as usize,
            time: None
        })
    );
    assert!(
        store.append_audit(&entry(9)).is_err(),
        "a new head would hide the tampering"
    );
}

#[test]
fn a_store_from_before_the_chain_is_chained_on_migration_and_it_is_recorded() {
    let (ts, store) = store_with_records();
    drop(store);
    // Back to the schema before the chain (version 1): no mac, no identity, no head, and
    // none of the later columns either (vault, 3; runs' scope and signal, waiting_since, 4;
    // the runs' identity and the pulled view's chunks, 5; a one-school run's site, 7).
    tamper(
        &ts,
        "ALTER TABLE audit DROP COLUMN mac;
         ALTER TABLE runs DROP COLUMN site;
         ALTER TABLE runs DROP COLUMN identity;
         DROP TABLE view_chunks;
         ALTER TABLE audit DROP COLUMN identity;
         ALTER TABLE credentials DROP COLUMN vault_fingerprint;
         ALTER TABLE credentials DROP COLUMN vault_version;
         ALTER TABLE runs DROP COLUMN scope;
         ALTER TABLE runs DROP COLUMN signal;
         ALTER TABLE sites DROP COLUMN waiting_since;
         DELETE FROM meta WHERE key = 'audit_head';
         PRAGMA user_version = 1;",
    );
    let mut store = ts.open();
    let check = store.verify_audit().unwrap();
    assert_eq!(check.records, RECORDS as usize + 1);
    assert!(check.intact(), "{check:?}");
    let trail = store.audit().unwrap();
    let last = trail.last().unwrap();
    assert_eq!(last.action, AuditAction::Migrate);
    assert!(
        last.detail
            .as_deref()
            .unwrap()
            .contains("6 earlier record(s)"),
        "{last:?}"
    );
    assert_eq!(
        trail[..RECORDS as usize],
        (0..RECORDS).map(entry).collect::<Vec<_>>()[..]
    );
    // Appends continue the chain; opening again does not chain (or record) anything more.
    store.append_audit(&entry(10)).unwrap();
    drop(store);
    let store = ts.open();
    assert_eq!(store.audit().unwrap().len(), RECORDS as usize + 2);
    assert!(store.verify_audit().unwrap().intact());
    drop(store);
    // From now on an edit of a migrated record shows.
    tamper(&ts, "UPDATE audit SET user = 'mallory' WHERE id = 1");
    assert_eq!(first_bad(&ts), bad(0, 0));
}
