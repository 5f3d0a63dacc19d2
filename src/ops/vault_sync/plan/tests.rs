//! The vault sync's plan: what a harvest writes, removes and leaves alone, and what
//! reconcile makes of the prefix's listing, decided without a request.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use super::*;
use crate::domain::VaultMark;
use crate::vault::KvMetadata;

const PREFIX: &str = "simsid/app";

fn org(n: u8) -> OrgId {
    OrgId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
}
fn site(n: u8) -> Site {
    Site {
        org_id: org(n),
        name: format!("s{n}"),
        dfe_code: Some(format!("dfe{n}")),
        deni_number: None,
        authorised: Some(true),
    }
}
fn cred(id: &str) -> Credential {
    Credential {
        client_id: id.into(),
        secret: SecretString::from("x"),
        description: None,
    }
}
fn fp(f: &str) -> Fingerprint {
    Fingerprint::local(f.into())
}
fn mark(f: &str, v: u64) -> VaultMark {
    VaultMark {
        fingerprint: fp(f),
        version: v,
    }
}
fn sealed(n: u8, id: &str) -> SealedCredential {
    SealedCredential {
        org: org(n),
        credential: cred(id),
        fingerprint: fp("sealed"),
        school_name: format!("s{n}"),
        dfe_code: None,
        deni_number: None,
    }
}
fn key(n: u8, id: &str) -> String {
    format!("{PREFIX}/{}/{id}", org(n).as_str())
}
/// (client id, cas) of each job.
fn ids(jobs: &[Job]) -> Vec<(&str, u64)> {
    jobs.iter().map(|j| (j.client_id.as_str(), j.cas)).collect()
}
fn removed(p: &SyncPlan) -> Vec<&str> {
    let mut r: Vec<&str> = p.removals.iter().map(|(_, c)| c.as_str()).collect();
    r.sort();
    r
}

/// Sites 1 (same, rotated, added; dropped gone), 2 (fetched, empty: gone removed),
/// 3 (failed: stale kept), 9 (absent from the site list: withdrawn removed).
fn harvest() -> (HarvestData, VaultMarks) {
    let mut data = HarvestData {
        sites: vec![site(1), site(2), site(3)],
        ..HarvestData::default()
    };
    data.fetched.insert(
        org(1),
        vec![
            (cred("same"), fp("f1")),
            (cred("rotated"), fp("new")),
            (cred("added"), fp("f3")),
        ],
    );
    data.fetched.insert(org(2), vec![]);
    data.failed.insert(org(3), "boom".into());
    let mut marks = VaultMarks::new();
    marks.insert((org(1), "same".into()), mark("f1", 4));
    marks.insert((org(1), "rotated".into()), mark("old", 2));
    marks.insert((org(1), "dropped".into()), mark("f", 1));
    marks.insert((org(2), "gone".into()), mark("f", 1));
    marks.insert((org(3), "stale".into()), mark("f", 1));
    marks.insert((org(9), "withdrawn".into()), mark("f", 1));
    (data, marks)
}

/// The plan of `data` against `marks` with no removal held back.
fn unheld(
    data: &HarvestData,
    marks: &VaultMarks,
    sealed: Vec<SealedCredential>,
    scope: RunScope,
) -> SyncPlan {
    plan(data, &HeldRemovals::default(), marks, sealed, scope, false)
}

/// The plan of the sample harvest (a full run, nothing held back, nothing sealed).
fn sample_plan(reconcile: bool) -> SyncPlan {
    let (data, marks) = harvest();
    plan(
        &data,
        &HeldRemovals::default(),
        &marks,
        vec![],
        RunScope::Full,
        reconcile,
    )
}

#[test]
fn added_and_rotated_are_written_unchanged_asks_nothing_and_dropped_are_removed() {
    let p = sample_plan(false);
    assert_eq!(p.unchanged, 1);
    // The rotated key is written over the version last written, the added one must not exist.
    assert_eq!(ids(&p.writes), [("rotated", 2), ("added", 0)]);
    // A stale site (3) is neither written nor removed.
    assert!(p.writes.iter().all(|j| j.org == org(1)));
    assert_eq!(removed(&p), ["dropped", "gone", "withdrawn"]);
    assert!(p.moves.is_empty());
}

#[test]
fn a_written_record_carries_the_site_list_names() {
    let p = sample_plan(false);
    let added = p.writes.iter().find(|j| j.client_id == "added").unwrap();
    assert_eq!(added.record.organisation_id, org(1).as_str());
    assert_eq!(added.record.school_name, "s1");
    assert_eq!(added.record.dfe_code.as_deref(), Some("dfe1"));
    assert_eq!(added.fingerprint, fp("f3"));
}

#[test]
fn the_guard_holds_removals_in_the_vault_too() {
    let (data, marks) = harvest();
    let held = HeldRemovals {
        sites: [org(9)].into(),
        credentials: BTreeMap::from([(org(1), ["dropped".to_string()].into())]),
    };
    let p = plan(&data, &held, &marks, vec![], RunScope::Full, false);
    assert_eq!(removed(&p), ["gone"]);
}

#[test]
fn reconcile_checks_every_fetched_credential_and_counts_nothing_unchanged_yet() {
    let p = sample_plan(true);
    assert_eq!(p.unchanged, 0);
    assert_eq!(ids(&p.writes), [("same", 0), ("rotated", 0), ("added", 0)]);
    assert_eq!(removed(&p), ["dropped", "gone", "withdrawn"]);
}

#[test]
fn sealed_secrets_move_unless_this_run_writes_them_and_never_in_a_one_school_run() {
    let (data, marks) = harvest();
    // 1/added is fetched (written anyway); 3/stale moves over its mark's version; 5/new
    // moves as a new key.
    let store = || vec![sealed(1, "added"), sealed(3, "stale"), sealed(5, "new")];
    let p = unheld(&data, &marks, store(), RunScope::Full);
    assert_eq!(ids(&p.moves), [("stale", 1), ("new", 0)]);
    let p = unheld(&data, &marks, store(), RunScope::Site);
    assert!(p.moves.is_empty());
}

#[test]
fn a_one_school_run_sees_only_its_schools_marks() {
    let (mut data, marks) = harvest();
    data.sites = vec![site(1)];
    data.fetched.remove(&org(2));
    data.failed.clear();
    let mut summary = crate::ops::vault_sync::test_summary();
    summary.scope = RunScope::Site;
    let scoped = scoped_marks(marks.clone(), &data, &summary);
    assert!(scoped.keys().all(|(o, _)| *o == org(1)));
    let p = unheld(&data, &scoped, vec![], RunScope::Site);
    // Every other school is absent from a one-school run's list, and stays in the vault.
    assert_eq!(removed(&p), ["dropped"]);
    summary.scope = RunScope::Full;
    assert_eq!(scoped_marks(marks.clone(), &data, &summary), marks);
}

#[test]
fn the_listing_skips_simsids_own_stale_and_held_sites_and_deeper_folders() {
    let (data, _) = harvest();
    let held = HeldRemovals {
        sites: [org(7)].into(),
        credentials: BTreeMap::from([(org(1), ["kept".to_string()].into())]),
    };
    let l = Listing::new(PREFIX, &data, &held);
    assert_eq!(l.top("_team/"), Top::Skip);
    assert_eq!(l.top("_manifest"), Top::Skip);
    assert_eq!(l.top(&format!("{}/", org(3).as_str())), Top::Skip);
    assert_eq!(l.top(&format!("{}/", org(7).as_str())), Top::Skip);
    assert_eq!(l.top("loose"), Top::Key(format!("{PREFIX}/loose")));
    assert_eq!(
        l.top("not-a-site/"),
        Top::Folder {
            seg: "not-a-site".into(),
            org: None,
            path: format!("{PREFIX}/not-a-site"),
        }
    );
    let seg = org(1).as_str().to_string();
    assert_eq!(
        l.top(&format!("{seg}/")),
        Top::Folder {
            seg: seg.clone(),
            org: Some(org(1)),
            path: format!("{PREFIX}/{seg}"),
        }
    );
    let o = Some(&org(1));
    assert_eq!(l.entry(&seg, o, "deeper/"), Entry::Skip);
    assert_eq!(l.entry(&seg, o, "same"), Entry::Matches);
    assert_eq!(l.entry(&seg, o, "kept"), Entry::Matches);
    assert_eq!(l.entry(&seg, o, "stray"), Entry::Key(key(1, "stray")));
    // A credential of another site does not match in this one.
    assert_eq!(
        l.entry("not-a-site", None, "same"),
        Entry::Key(format!("{PREFIX}/not-a-site/same"))
    );
}

fn meta(run: Option<&str>, updated: DateTime<Utc>, deleted: bool) -> KvMetadata {
    KvMetadata {
        current_version: 3,
        custom_metadata: run
            .map(|r| BTreeMap::from([(RUN_FIELD.to_string(), r.to_string())]))
            .unwrap_or_default(),
        current_deleted: deleted,
        updated_time: Some(updated),
    }
}

#[test]
fn a_key_is_a_stray_only_when_this_store_wrote_it_before_the_listing() {
    let began = Utc::now();
    let before = began - Duration::seconds(60);
    let ours: HashSet<String> = ["run-a".to_string()].into();
    let judge = Judge {
        ours: &ours,
        completed: true,
        began,
        on_remove: OnRemove::Delete,
    };
    assert_eq!(judge.judge(None), Judged::Gone);
    assert_eq!(
        judge.judge(Some(&meta(Some("run-a"), before, false))),
        Judged::Stray
    );
    // No simsid_run, or another store's run: foreign, never removed.
    assert_eq!(
        judge.judge(Some(&meta(None, before, false))),
        Judged::Foreign
    );
    assert_eq!(
        judge.judge(Some(&meta(Some("run-z"), before, false))),
        Judged::Foreign
    );
    // Written at or after the listing began: not a stray.
    assert_eq!(
        judge.judge(Some(&meta(Some("run-a"), began, false))),
        Judged::Kept
    );
    let mut undated = meta(Some("run-a"), before, false);
    undated.updated_time = None;
    assert_eq!(judge.judge(Some(&undated)), Judged::Kept);
    // A store that never completed a harvest takes any simsid run as its own.
    let fresh = Judge {
        completed: false,
        ..judge
    };
    assert_eq!(
        fresh.judge(Some(&meta(Some("run-z"), before, false))),
        Judged::Stray
    );
    // Soft removal leaves an already soft-deleted key alone; full removal takes it.
    let soft = Judge {
        on_remove: OnRemove::Soft,
        ..judge
    };
    assert_eq!(
        soft.judge(Some(&meta(Some("run-a"), before, true))),
        Judged::Kept
    );
    assert_eq!(
        judge.judge(Some(&meta(Some("run-a"), before, true))),
        Judged::Stray
    );
}

fn scan(strays: usize, ours: usize) -> Scan {
    Scan {
        strays: (0..strays).map(|i| format!("{PREFIX}/k{i}")).collect(),
        foreign: vec![],
        ours,
    }
}

#[test]
fn the_reconcile_guard_holds_a_fresh_stores_and_a_mass_removal_unless_accepted() {
    // A few strays of many keys: removed.
    assert_eq!(guard(&scan(2, 100), true, false), None);
    assert_eq!(guard(&scan(0, 0), false, false), None);
    // A store that never completed a harvest removes nothing on its own.
    let why = guard(&scan(2, 100), false, false).unwrap();
    assert!(why.contains("never completed a harvest"), "{why}");
    assert!(why.contains("--accept-removals"), "{why}");
    // More than the mass-removal share of this store's keys.
    let why = guard(&scan(60, 100), true, false).unwrap();
    assert!(why.contains("remove 60 of the 100 key(s)"), "{why}");
    // --accept-removals takes them.
    assert_eq!(guard(&scan(60, 100), true, true), None);
    assert_eq!(guard(&scan(2, 100), false, true), None);
}

#[test]
fn a_held_removal_makes_a_complete_run_partial_and_adds_its_note() {
    let mut summary = crate::ops::vault_sync::test_summary();
    summary.status = RunStatus::Complete;
    hold(&mut summary, "held".into());
    assert_eq!(summary.status, RunStatus::Partial);
    assert_eq!(summary.error.as_deref(), Some("held"));
    hold(&mut summary, "again".into());
    assert_eq!(summary.error.as_deref(), Some("held; again"));
}

#[test]
fn removals_skip_a_site_the_vault_refused_and_are_named_once_in_order() {
    let removals = vec![(org(2), "b".to_string()), (org(1), "a".to_string())];
    let strays = vec![key(1, "a"), key(2, "x"), key(4, "y")];
    let none = BTreeMap::new();
    assert_eq!(
        removal_keys(PREFIX, &removals, strays.clone(), &none),
        [key(1, "a"), key(2, "b"), key(2, "x"), key(4, "y")]
    );
    let failed = BTreeMap::from([(org(2), "refused".to_string())]);
    assert_eq!(
        removal_keys(PREFIX, &removals, strays, &failed),
        [key(1, "a"), key(4, "y")]
    );
}
