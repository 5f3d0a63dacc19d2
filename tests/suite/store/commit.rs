//! Harvest commit semantics (docs/reference/cli.md, "Harvest semantics"), history, audit and lookups.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::store_support;

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use simsid::domain::{
    AuditAction, AuditEntry, AuthorisationChange, ChangeBadge, CredentialRef, Diff, Fingerprint,
    HarvestData, OrgId, RunStatus, SiteFailure, SiteRow,
};
use simsid::store::{Store, StoreError, StoreKey};
use store_support::*;

fn open() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("store.sqlite3"), StoreKey::generate()).unwrap();
    (tmp, store)
}

fn cref(n: u32, client: &str) -> CredentialRef {
    CredentialRef {
        organisation_id: org(n),
        client_id: client.to_owned(),
    }
}

fn row(rows: &[SiteRow], n: u32) -> &SiteRow {
    rows.iter().find(|r| r.site.org_id == org(n)).unwrap()
}

fn secret(store: &Store, n: u32, client: &str) -> String {
    store
        .secret(&org(n), client)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn fp(store: &Store, s: &str) -> Fingerprint {
    store.fingerprint(&secrecy::SecretString::from(s.to_owned()))
}

/// First harvest: three sites, all new.
fn first(store: &mut Store) {
    let data = harvest(
        store,
        &[
            (
                site(1, "Abbey Road School", Some(true)),
                vec![("c1", "s1"), ("c2", "s2"), ("c9", "s9")],
            ),
            (site(2, "brook Academy", Some(false)), vec![]),
            (site(3, "Castle High", Some(true)), vec![("c3", "s3")]),
        ],
    );
    let diff = Diff {
        sites_added: vec![org(1), org(2), org(3)],
        ..Diff::default()
    };
    store
        .commit_harvest(&data, &summary(at(0), RunStatus::Complete, diff))
        .unwrap();
}

/// Second harvest: site 3 removed, site 4 added, c2 rotated, c9 withdrawn, c5 added,
/// site 2 authorised.
fn second(store: &mut Store) -> Diff {
    let data = harvest(
        store,
        &[
            (
                site(1, "Abbey Road School", Some(true)),
                vec![("c1", "s1"), ("c2", "s2-rotated"), ("c5", "s5")],
            ),
            (site(2, "brook Academy", Some(true)), vec![]),
            (site(4, "Dale Infants", None), vec![("c6", "s6")]),
        ],
    );
    let diff = Diff {
        sites_added: vec![org(4)],
        sites_removed: vec![org(3)],
        authorisation_changed: vec![AuthorisationChange {
            organisation_id: org(2),
            from: Some(0),
            to: Some(1),
        }],
        credentials_added: vec![cref(1, "c5"), cref(4, "c6")],
        credentials_removed: vec![cref(1, "c9")],
        credentials_rotated: vec![cref(1, "c2")],
        vault_removed: Vec::new(),
    };
    store
        .commit_harvest(&data, &summary(at(100), RunStatus::Complete, diff.clone()))
        .unwrap();
    diff
}

#[test]
fn first_harvest_adds_sites_and_credentials() {
    let (_tmp, mut store) = open();
    first(&mut store);
    let rows = store.sites().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.site.name.as_str()).collect();
    assert_eq!(names, ["Abbey Road School", "brook Academy", "Castle High"]);
    assert_eq!(row(&rows, 1).credential_count, 3);
    assert_eq!(row(&rows, 2).credential_count, 0);
    assert_eq!(row(&rows, 2).site.authorised, Some(false));
    assert_eq!(row(&rows, 2).site.dfe_code.as_deref(), Some("802/4002"));
    for r in &rows {
        assert_eq!(r.badge, Some(ChangeBadge::Added));
        assert_eq!(r.last_changed, Some(at(0)));
        assert!(!r.stale);
        assert_eq!(r.last_error, None);
    }
    let detail = store.site(&org(1)).unwrap().unwrap();
    let ids: Vec<&str> = detail
        .credentials
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    assert_eq!(ids, ["c1", "c2", "c9"]);
    let c1 = &detail.credentials[0];
    assert_eq!((c1.first_seen, c1.last_changed), (at(0), at(0)));
    assert_eq!(c1.fingerprint, fp(&store, "s1"));
    assert_eq!(c1.description.as_deref(), Some("c1 for tests"));
    assert_eq!(secret(&store, 1, "c2"), "s2");

    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.sites.len(), 3);
    let s1 = &snapshot.sites[&org(1)];
    assert_eq!(s1.site.name, "Abbey Road School");
    assert_eq!(s1.credentials["c9"], fp(&store, "s9"));
    assert!(snapshot.sites[&org(2)].credentials.is_empty());

    let creds = store.credentials(&org(1)).unwrap();
    let pairs: Vec<(&str, &str)> = creds
        .iter()
        .map(|c| (c.client_id.as_str(), c.secret.expose_secret()))
        .collect();
    assert_eq!(pairs, [("c1", "s1"), ("c2", "s2"), ("c9", "s9")]);
    assert!(store.credentials(&org(2)).unwrap().is_empty());
}

#[test]
fn second_harvest_removes_rotates_withdraws_adds_and_badges() {
    let (_tmp, mut store) = open();
    first(&mut store);
    let c1_fp = store.site(&org(1)).unwrap().unwrap().credentials[0]
        .fingerprint
        .clone();
    let c2_fp = store.site(&org(1)).unwrap().unwrap().credentials[1]
        .fingerprint
        .clone();
    second(&mut store);

    // Removal: the site and its credentials are gone, its name kept with the run that
    // removed it (for `history`), and no other run records one.
    assert_eq!(store.site(&org(3)).unwrap(), None);
    let newest = store.runs().unwrap()[0].run_id.to_string();
    assert_eq!(
        store.run_names().unwrap(),
        BTreeMap::from([(
            newest,
            BTreeMap::from([(org(3).to_string(), "Castle High".to_string())])
        )])
    );
    assert_eq!(
        store.site_names_of(&[&org(1), &org(3)]).unwrap(),
        BTreeMap::from([(org(1), "Abbey Road School".to_string())])
    );
    assert!(matches!(
        store.secret(&org(3), "c3"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.credentials(&org(3)),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .resolve("803/4003")
            .unwrap()
            .one()
            .map(|r| r.site.org_id),
        None
    );

    let detail = store.site(&org(1)).unwrap().unwrap();
    let by_id: BTreeMap<&str, _> = detail
        .credentials
        .iter()
        .map(|c| (c.client_id.as_str(), c))
        .collect();
    assert_eq!(
        by_id.keys().copied().collect::<Vec<_>>(),
        ["c1", "c2", "c5"]
    );
    // Unchanged: first_seen, last_changed and fingerprint kept.
    assert_eq!(
        (by_id["c1"].first_seen, by_id["c1"].last_changed),
        (at(0), at(0))
    );
    assert_eq!(by_id["c1"].fingerprint, c1_fp);
    // Rotation: first_seen kept, last_changed updated, fingerprint changed.
    assert_eq!(
        (by_id["c2"].first_seen, by_id["c2"].last_changed),
        (at(0), at(100))
    );
    assert_ne!(by_id["c2"].fingerprint, c2_fp);
    assert_eq!(by_id["c2"].fingerprint, fp(&store, "s2-rotated"));
    assert_eq!(secret(&store, 1, "c2"), "s2-rotated");
    // Addition.
    assert_eq!(
        (by_id["c5"].first_seen, by_id["c5"].last_changed),
        (at(100), at(100))
    );
    // Withdrawal.
    assert!(matches!(
        store.secret(&org(1), "c9"),
        Err(StoreError::NotFound)
    ));

    let rows = store.sites().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(row(&rows, 1).badge, Some(ChangeBadge::CredentialsChanged));
    assert_eq!(row(&rows, 1).last_changed, Some(at(100)));
    assert_eq!(row(&rows, 1).credential_count, 3);
    assert_eq!(row(&rows, 2).badge, Some(ChangeBadge::AuthorisationChanged));
    assert_eq!(row(&rows, 2).site.authorised, Some(true));
    assert_eq!(row(&rows, 2).last_changed, Some(at(0)), "first_seen kept");
    assert_eq!(row(&rows, 4).badge, Some(ChangeBadge::Added));
    assert_eq!(row(&rows, 4).site.authorised, None);
    assert_eq!(row(&rows, 4).last_changed, Some(at(100)));
}

#[test]
fn a_failed_site_keeps_its_credentials_stale_until_fetched_again() {
    let (_tmp, mut store) = open();
    first(&mut store);
    second(&mut store);

    // Third run: site 1's clients call fails; site 6 is new and fails too.
    let mut data = harvest(
        &store,
        &[
            (site(2, "brook Academy", Some(true)), vec![]),
            (site(4, "Dale Infants", None), vec![("c6", "s6")]),
        ],
    );
    data.sites.push(site(1, "Abbey Road School", Some(true)));
    data.sites.push(site(6, "Elm Tree Nursery", Some(true)));
    data.failed
        .insert(org(1), "HTTP 503 after 4 attempts".into());
    data.failed.insert(org(6), "timed out".into());
    let mut run = summary(
        at(200),
        RunStatus::Partial,
        Diff {
            sites_added: vec![org(6)],
            ..Diff::default()
        },
    );
    run.failures = vec![SiteFailure {
        organisation_id: org(1),
        error: "HTTP 503 after 4 attempts".into(),
    }];
    store.commit_harvest(&data, &run).unwrap();

    let rows = store.sites().unwrap();
    let r1 = row(&rows, 1);
    assert!(r1.stale);
    assert_eq!(r1.last_error.as_deref(), Some("HTTP 503 after 4 attempts"));
    assert_eq!(r1.credential_count, 3, "previous credentials kept");
    assert_eq!(
        r1.badge, None,
        "badges cleared by a run that changed nothing here"
    );
    assert!(row(&rows, 6).stale);
    assert_eq!(row(&rows, 6).badge, Some(ChangeBadge::Added));
    assert!(!row(&rows, 2).stale && row(&rows, 2).badge.is_none());
    let detail = store.site(&org(1)).unwrap().unwrap();
    for c in &detail.credentials {
        assert!(c.stale, "{}", c.client_id);
        assert_eq!(c.last_error.as_deref(), Some("HTTP 503 after 4 attempts"));
    }
    assert_eq!(secret(&store, 1, "c2"), "s2-rotated");
    assert_eq!(store.last_run().unwrap().unwrap(), run);

    // Fourth run: site 1 is fetched again: stale cleared on the site and its credentials.
    let data = harvest(
        &store,
        &[
            (
                site(1, "Abbey Road School", Some(true)),
                vec![("c1", "s1"), ("c2", "s2-rotated"), ("c5", "s5")],
            ),
            (site(2, "brook Academy", Some(true)), vec![]),
            (site(4, "Dale Infants", None), vec![("c6", "s6")]),
            (site(6, "Elm Tree Nursery", Some(true)), vec![]),
        ],
    );
    store
        .commit_harvest(
            &data,
            &summary(at(300), RunStatus::Complete, Diff::default()),
        )
        .unwrap();
    let rows = store.sites().unwrap();
    assert!(rows
        .iter()
        .all(|r| !r.stale && r.last_error.is_none() && r.badge.is_none()));
    let detail = store.site(&org(1)).unwrap().unwrap();
    assert!(detail
        .credentials
        .iter()
        .all(|c| !c.stale && c.last_error.is_none()));
    assert_eq!(
        detail.credentials[1].last_changed,
        at(100),
        "unchanged since the rotation"
    );
}

#[test]
fn record_run_leaves_the_data_untouched() {
    let (_tmp, mut store) = open();
    first(&mut store);
    let sites = store.sites().unwrap();
    let snapshot = store.snapshot().unwrap();
    let mut failed = summary(at(50), RunStatus::Failed, Diff::default());
    failed.error = Some("site list: HTTP 500".into());
    store.record_run(&failed).unwrap();
    assert_eq!(store.sites().unwrap(), sites);
    assert_eq!(store.snapshot().unwrap(), snapshot);
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0], failed);
}

#[test]
fn a_commit_that_fails_changes_nothing() {
    let (_tmp, mut store) = open();
    first(&mut store);
    let sites = store.sites().unwrap();
    let snapshot = store.snapshot().unwrap();
    let runs = store.runs().unwrap();

    // Fails at the very end (the run id is already recorded), after every other write.
    let data = harvest(
        &store,
        &[(site(9, "Replacement", Some(true)), vec![("z", "zz")])],
    );
    let mut reused = summary(at(500), RunStatus::Complete, Diff::default());
    reused.run_id = runs[0].run_id;
    assert!(matches!(
        store.commit_harvest(&data, &reused),
        Err(StoreError::Sqlite(_))
    ));
    // Fails validation: a fetched site that is not in the site list.
    let mut bad = harvest(
        &store,
        &[(site(1, "Abbey Road School", Some(true)), vec![])],
    );
    bad.fetched.insert(org(8), Vec::new());
    assert!(matches!(
        store.commit_harvest(
            &bad,
            &summary(at(600), RunStatus::Complete, Diff::default())
        ),
        Err(StoreError::InvalidData(_))
    ));

    assert_eq!(store.sites().unwrap(), sites);
    assert_eq!(store.snapshot().unwrap(), snapshot);
    assert_eq!(store.runs().unwrap(), runs);
    assert_eq!(secret(&store, 1, "c1"), "s1");
}

#[test]
fn runs_are_newest_first_with_their_diff() {
    let (_tmp, mut store) = open();
    assert_eq!(store.last_run().unwrap(), None);
    first(&mut store);
    let diff = second(&mut store);
    let mut failed = summary(
        at(150) + chrono::Duration::nanoseconds(123_456_789),
        RunStatus::Failed,
        Diff::default(),
    );
    failed.error = Some("token: invalid_client".into());
    failed.sites_total = 7;
    failed.failures = vec![SiteFailure {
        organisation_id: org(2),
        error: "boom".into(),
    }];
    store.record_run(&failed).unwrap();

    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0], failed, "exact round trip, nanoseconds included");
    assert_eq!(runs[1].diff, diff);
    assert_eq!(runs[1].finished_at, at(100));
    assert_eq!(runs[2].diff.sites_added.len(), 3);
    assert_eq!(store.last_run().unwrap().as_ref(), Some(&runs[0]));
}

#[test]
fn resolve_finds_sites_by_id_dfe_code_and_deni_number() {
    let (_tmp, mut store) = open();
    let mut ni = site(7, "Belfast Royal", Some(true));
    ni.dfe_code = None;
    ni.deni_number = Some("1-2345-6".into());
    let mut lettered = site(8, "Lettered", None);
    lettered.dfe_code = Some("ABC/1234".into());
    let data = HarvestData {
        sites: vec![site(1, "Abbey", Some(true)), ni, lettered],
        ..HarvestData::default()
    };
    store
        .commit_harvest(&data, &summary(at(0), RunStatus::Complete, Diff::default()))
        .unwrap();

    let id = org(1).as_str().to_owned();
    // What each query finds (a site's id), and why.
    let cases = [
        (id.to_lowercase(), Some(org(1)), ""),
        (format!("{{{id}}}"), Some(org(1)), ""),
        (format!(" {} ", id.replace('-', "")), Some(org(1)), ""),
        ("801/4001".to_owned(), Some(org(1)), ""),
        ("8014001".to_owned(), Some(org(1)), "slash optional"),
        ("abc/1234".to_owned(), Some(org(8)), "case-insensitive"),
        ("1-2345-6".to_owned(), Some(org(7)), ""),
        ("123456".to_owned(), Some(org(7)), ""),
        ("999/9999".to_owned(), None, ""),
        (org(2).as_str().to_owned(), None, "unknown id"),
        ("".to_owned(), None, ""),
        ("Abbey".to_owned(), None, "names are not ids"),
    ];
    for (query, want, why) in cases {
        let found = store.resolve(&query).unwrap().one().map(|r| r.site.org_id);
        assert_eq!(found, want, "{query:?} {why}");
    }
}

#[test]
fn audit_is_appended_and_read_oldest_first() {
    let (_tmp, mut store) = open();
    let reveal = AuditEntry {
        at: at(10),
        user: "alice".into(),
        action: AuditAction::Reveal,
        organisation_id: Some(org(1)),
        client_id: Some("c1".into()),
        fingerprint: Some(Fingerprint::parse("0123456789abcdef").unwrap()),
        detail: Some("console".into()),
        identity: None,
    };
    let export = AuditEntry {
        at: at(5),
        user: "bob".into(),
        action: AuditAction::Export,
        organisation_id: None,
        client_id: None,
        fingerprint: None,
        detail: None,
        identity: Some("alice@vault".into()),
    };
    store.append_audit(&reveal).unwrap();
    store.append_audit(&export).unwrap();
    assert_eq!(
        store.audit().unwrap(),
        vec![reveal, export],
        "in append order"
    );
}

#[test]
fn twenty_five_thousand_sites_commit_and_list() {
    let (_tmp, mut store) = open();
    let n = 25_000u32;
    let mut data = HarvestData::default();
    for i in 0..n {
        let s = site(i, &format!("School {i:05}"), Some(i % 10 != 0));
        let creds = (0..1 + i % 3)
            .map(|k| credential(&store, &format!("sas-{i}-{k}"), &format!("secret-{i}-{k}")))
            .collect();
        data.fetched.insert(s.org_id.clone(), creds);
        data.sites.push(s);
    }
    let diff = Diff {
        sites_added: data.sites.iter().map(|s| s.org_id.clone()).collect(),
        ..Diff::default()
    };
    store
        .commit_harvest(&data, &summary(at(0), RunStatus::Complete, diff))
        .unwrap();
    let rows = store.sites().unwrap();
    assert_eq!(rows.len(), n as usize);
    assert_eq!(rows[0].site.name, "School 00000");
    assert_eq!(rows[12_346].credential_count, 1 + 12_346 % 3);
    let total: usize = rows.iter().map(|r| r.credential_count).sum();
    assert_eq!(total, (0..n).map(|i| 1 + (i % 3) as usize).sum::<usize>());
    assert_eq!(secret(&store, 24_998, "sas-24998-2"), "secret-24998-2");
    let expected: OrgId = org(4_321);
    assert_eq!(
        store
            .resolve("821/8321")
            .unwrap()
            .one()
            .map(|r| r.site.org_id),
        Some(expected)
    );
}

#[test]
fn site_details_match_each_site_read_alone() {
    let (_dir, mut store) = open();
    first(&mut store);
    second(&mut store);
    let all = store.site_details().unwrap();
    let rows = store.sites().unwrap();
    assert_eq!(all.len(), rows.len());
    assert!(all.iter().any(|d| !d.credentials.is_empty()));
    for (detail, row) in all.iter().zip(&rows) {
        let alone = store.site(&row.site.org_id).unwrap().unwrap();
        assert_eq!(detail, &alone, "same order, same content");
    }
}

/// The console's first frame: the first sites of the name order, whole rows, and the
/// totals over every site, as the full list would give them.
#[test]
fn the_head_of_the_sites_and_the_totals_agree_with_the_whole_list() {
    let (_tmp, mut store) = open();
    first(&mut store);
    second(&mut store);
    let all = store.sites().unwrap();
    for n in 0..=all.len() + 1 {
        let head = store.sites_head(n).unwrap();
        assert_eq!(head, all[..n.min(all.len())], "{n}");
    }
    let t = store.site_totals().unwrap();
    assert_eq!(t.sites, all.len());
    let count = |f: &dyn Fn(&SiteRow) -> bool| all.iter().filter(|r| f(r)).count();
    assert_eq!(t.authorised, count(&|r| r.site.authorised == Some(true)));
    assert_eq!(t.unauthorised, count(&|r| r.site.authorised == Some(false)));
    assert_eq!(t.unknown, count(&|r| r.site.authorised.is_none()));
    assert_eq!(t.stale, count(&|r| r.stale));
    assert_eq!(t.changed, count(&|r| r.badge.is_some()));
}
