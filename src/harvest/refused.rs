//! Sites failed after fetching (docs/reference/vault.md sync rule 7, "One bad credential fails its site,
//! not the run"): a credential the vault refused makes its site stale with the vault's
//! reason, as if its Clients call had failed; the rest of the run commits. Pure.

use std::collections::BTreeMap;

use crate::domain::{
    HarvestData, HeldRemovals, OrgId, RunStatus, RunSummary, SiteFailure, Snapshot,
};

/// Moves each site of `failed` from fetched to failed with its reason: its previous
/// credentials stay (marked stale), its credential changes leave the diff, its held
/// removals are no longer held (its credentials all stay), the counts follow and the run
/// becomes partial. Sites that were not fetched are ignored.
pub fn fail_sites(
    previous: &Snapshot,
    summary: &mut RunSummary,
    data: &mut HarvestData,
    held: &mut HeldRemovals,
    failed: BTreeMap<OrgId, String>,
) {
    for (org, reason) in failed {
        let Some(fetched) = data.fetched.remove(&org) else {
            continue;
        };
        let held_here = held.credentials.remove(&org).map_or(0, |ids| ids.len());
        let kept = previous.sites.get(&org).map_or(0, |s| s.credentials.len());
        summary.credentials_total = summary
            .credentials_total
            .saturating_sub(fetched.len() + held_here)
            + kept;
        for list in [
            &mut summary.diff.credentials_added,
            &mut summary.diff.credentials_removed,
            &mut summary.diff.credentials_rotated,
        ] {
            list.retain(|c| c.organisation_id != org);
        }
        summary.sites_harvested = summary.sites_harvested.saturating_sub(1);
        summary.sites_failed += 1;
        summary.failures.push(SiteFailure {
            organisation_id: org.clone(),
            error: reason.clone(),
        });
        if summary.status == RunStatus::Complete {
            summary.status = RunStatus::Partial;
        }
        data.failed.insert(org, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Credential, CredentialRef, Diff, Fingerprint, Site, SnapshotSite};
    use secrecy::SecretString;

    fn org(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08X}-0000-4000-8000-000000000000")).unwrap()
    }

    fn cred(id: &str) -> (Credential, Fingerprint) {
        (
            Credential {
                client_id: id.into(),
                secret: SecretString::from("s"),
                description: None,
            },
            Fingerprint::local(format!("f-{id}")),
        )
    }

    #[test]
    fn a_refused_site_keeps_its_previous_credentials_and_leaves_the_diff() {
        let site = |n| Site {
            org_id: org(n),
            name: format!("S{n}"),
            dfe_code: None,
            deni_number: None,
            authorised: Some(true),
        };
        let mut previous = Snapshot::default();
        previous.sites.insert(
            org(1),
            SnapshotSite {
                site: site(1),
                credentials: [("old".to_string(), Fingerprint::local("f".into()))].into(),
            },
        );
        let mut data = HarvestData {
            sites: vec![site(1), site(2)],
            ..HarvestData::default()
        };
        data.fetched.insert(org(1), vec![cred("a"), cred("b")]);
        data.fetched.insert(org(2), vec![cred("c")]);
        let r = |o: u8, c: &str| CredentialRef {
            organisation_id: org(o),
            client_id: c.into(),
        };
        let mut summary = RunSummary {
            run_id: uuid::Uuid::new_v4(),
            status: RunStatus::Complete,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            sites_total: 2,
            sites_harvested: 2,
            sites_failed: 0,
            credentials_total: 3,
            diff: Diff {
                credentials_added: vec![r(1, "a"), r(1, "b"), r(2, "c")],
                credentials_removed: vec![r(1, "old")],
                ..Diff::default()
            },
            failures: Vec::new(),
            stats: Default::default(),
            error: None,
            scope: Default::default(),
            signal: None,
        };
        let mut held = HeldRemovals::default();
        fail_sites(
            &previous,
            &mut summary,
            &mut data,
            &mut held,
            [(org(1), "the vault refused a".to_string())].into(),
        );
        assert_eq!(summary.status, RunStatus::Partial);
        assert_eq!((summary.sites_harvested, summary.sites_failed), (1, 1));
        assert_eq!(summary.credentials_total, 2, "c, and the old one kept");
        assert_eq!(summary.diff.credentials_added, vec![r(2, "c")]);
        assert!(summary.diff.credentials_removed.is_empty());
        assert_eq!(summary.failures[0].error, "the vault refused a");
        assert_eq!(data.failed[&org(1)], "the vault refused a");
        assert!(!data.fetched.contains_key(&org(1)));
    }
}
