//! The team's view (docs/reference/vault.md "Team mode"): what a harvest host publishes
//! under `{prefix}/_simsid/` and a viewer pulls into its store. Pure. Made of the domain's
//! own types: each site a [`SiteDetail`], each run a [`RunRecord`]; a line says what the
//! site is, never what the last run did to it, so a site's line changes only when the site
//! does. The badges ("what the last harvest changed here") are derived from the runs, the
//! same way the host's store sets them when a run commits ([`badges`]). No secret is ever
//! part of a view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{ChangeBadge, OrgId, RunRecord, RunScope, SiteDetail};

/// The whole view: every site (by organisation id) and every run (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub sites: Vec<SiteDetail>,
    pub runs: Vec<RunRecord>,
}

impl View {
    /// The view of a store's rows (`Store::view_rows`).
    pub fn from_rows((sites, runs): (Vec<SiteDetail>, Vec<RunRecord>)) -> View {
        View { sites, runs }
    }

    /// How many credentials the view holds.
    pub fn credential_count(&self) -> usize {
        self.sites.iter().map(|s| s.credentials.len()).sum()
    }

    /// Sets what a site's line does not carry: each site's credential count and latest
    /// change (from its credentials) and its badge (from the runs, [`badges`]).
    pub(crate) fn derive(&mut self) {
        let badges = badges(&self.runs);
        for site in &mut self.sites {
            site.row.derive_from(&site.credentials);
            site.row.badge = badges.get(&site.row.site.org_id).copied();
        }
    }
}

/// The badge of each site after `runs` (oldest first), as the host's store set them: a
/// committed full run clears every badge and sets those of its diff; a committed
/// one-school run clears that school's (its `site`) and sets those of its diff; a run that
/// did not commit changes none. A one-school run recorded before the host's store kept its
/// school (schema 7) is known by the schools its diff and failures name: one that changed
/// and failed nothing cleared a badge on the host that stays here until the next full run.
pub fn badges(runs: &[RunRecord]) -> BTreeMap<OrgId, ChangeBadge> {
    let mut out: BTreeMap<OrgId, ChangeBadge> = BTreeMap::new();
    for record in runs {
        let run = &record.summary;
        if !run.status.committed() {
            continue;
        }
        match run.scope {
            RunScope::Full => out.clear(),
            RunScope::Site => {
                let diff = &run.diff;
                let named = diff
                    .sites_added
                    .iter()
                    .chain(&diff.sites_removed)
                    .chain(
                        diff.authorisation_changed
                            .iter()
                            .map(|a| &a.organisation_id),
                    )
                    .chain(
                        diff.credentials_added
                            .iter()
                            .chain(&diff.credentials_removed)
                            .chain(&diff.credentials_rotated)
                            .map(|c| &c.organisation_id),
                    )
                    .chain(run.failures.iter().map(|f| &f.organisation_id));
                for org in named.chain(record.site.as_ref()) {
                    out.remove(org);
                }
            }
        }
        out.extend(run.diff.badges().into_iter().map(|(o, b)| (o.clone(), b)));
    }
    out
}

/// One line of the view's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Line {
    Site(SiteDetail),
    Run(RunRecord),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{fixtures, CredentialRef, Diff, RunStatus, SiteFailure};
    use chrono::TimeZone;

    fn org(n: u32) -> OrgId {
        OrgId::parse(&format!("{n:08X}-0000-4000-8000-000000000000")).unwrap()
    }

    fn run(scope: RunScope, status: RunStatus, diff: Diff) -> RunRecord {
        let at = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut summary = fixtures::run(uuid::Uuid::new_v4(), at);
        summary.status = status;
        summary.diff = diff;
        summary.scope = scope;
        RunRecord {
            summary,
            identity: None,
            site: None,
        }
    }

    fn rotated(n: u32) -> Diff {
        Diff {
            credentials_rotated: vec![CredentialRef {
                organisation_id: org(n),
                client_id: "c".into(),
            }],
            ..Diff::default()
        }
    }

    #[test]
    fn the_badges_are_the_last_committed_runs_as_the_store_sets_them() {
        let added = Diff {
            sites_added: vec![org(1), org(2), org(3)],
            ..Diff::default()
        };
        let mut runs = vec![run(RunScope::Full, RunStatus::Complete, added)];
        let all_added = badges(&runs);
        assert_eq!(all_added.len(), 3);
        assert!(all_added.values().all(|b| *b == ChangeBadge::Added));
        // A failed or cancelled run changes nothing.
        runs.push(run(RunScope::Full, RunStatus::Failed, rotated(1)));
        runs.push(run(RunScope::Full, RunStatus::Cancelled, Diff::default()));
        assert_eq!(badges(&runs), all_added);
        // A one-school run touches that school alone.
        runs.push(run(RunScope::Site, RunStatus::Complete, rotated(2)));
        let b = badges(&runs);
        assert_eq!(b[&org(1)], ChangeBadge::Added);
        assert_eq!(b[&org(2)], ChangeBadge::CredentialsChanged);
        // One whose school failed clears its badge.
        let mut failed = run(RunScope::Site, RunStatus::Partial, Diff::default());
        failed.summary.failures.push(SiteFailure {
            organisation_id: org(3),
            error: "HTTP 503".into(),
        });
        runs.push(failed);
        assert!(!badges(&runs).contains_key(&org(3)));
        // One that changed nothing clears its school's badge: the school it names.
        let mut unchanged = run(RunScope::Site, RunStatus::Complete, Diff::default());
        unchanged.site = Some(org(2));
        runs.push(unchanged);
        let b = badges(&runs);
        assert!(!b.contains_key(&org(2)));
        assert_eq!(b[&org(1)], ChangeBadge::Added);
        // A full run starts again from its own diff.
        runs.push(run(RunScope::Full, RunStatus::Partial, rotated(1)));
        let b = badges(&runs);
        assert_eq!(b.len(), 1);
        assert_eq!(b[&org(1)], ChangeBadge::CredentialsChanged);
        runs.push(run(RunScope::Full, RunStatus::Complete, Diff::default()));
        assert!(badges(&runs).is_empty());
    }
}
