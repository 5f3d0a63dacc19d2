//! The removal guard (docs/reference/cli.md, "A harvest never empties the cache by accident"), pure: a run
//! that would remove more than 10 % of the cached credentials, and more than 5 of them, holds
//! every removal back. The sites and credentials stay (marked stale "removal held"), the run
//! is partial, and its message says how many and how to accept them. Schools leave one at a
//! time; a mass of removals at once is far more likely a fault (a narrowed scope, an API
//! change, the wrong application id).

use crate::domain::{HeldRemovals, RunStatus, RunSummary, Snapshot};

/// Removals up to this many are never held, whatever share of the cache they are.
pub const MAX_UNHELD_REMOVALS: usize = 5;
/// Removals of more than this percentage of the cached credentials are held.
pub const MAX_REMOVED_PERCENT: usize = 10;

/// The command that takes held removals.
pub const ACCEPT_COMMAND: &str = "simsid harvest --accept-removals";

/// Whether removing `removing` of `cached` credentials is a mass removal to hold.
pub fn is_mass_removal(removing: usize, cached: usize) -> bool {
    removing > MAX_UNHELD_REMOVALS && removing * 100 > cached * MAX_REMOVED_PERCENT
}

/// Applies the guard to a concluded run (`summary`, diffed against `previous`). Unless
/// `accept` is set, a mass removal is taken out of the diff and returned as held: the run
/// becomes partial, `credentials_total` counts the held credentials (they stay in the store)
/// and `error` says how many were held and how to accept them. Returns what to hold (empty
/// when nothing is).
pub fn hold_mass_removals(
    previous: &Snapshot,
    summary: &mut RunSummary,
    accept: bool,
) -> HeldRemovals {
    let cached: usize = previous.sites.values().map(|s| s.credentials.len()).sum();
    let removing = summary.diff.credentials_removed.len();
    if accept || !is_mass_removal(removing, cached) {
        return HeldRemovals::default();
    }
    let mut held = HeldRemovals::default();
    held.sites
        .extend(summary.diff.sites_removed.iter().cloned());
    for r in &summary.diff.credentials_removed {
        if !held.sites.contains(&r.organisation_id) {
            held.credentials
                .entry(r.organisation_id.clone())
                .or_default()
                .insert(r.client_id.clone());
        }
    }
    summary.diff.credentials_removed.clear();
    summary.diff.sites_removed.clear();
    summary.credentials_total += removing;
    if summary.status == RunStatus::Complete {
        summary.status = RunStatus::Partial;
    }
    let sites = if held.sites.is_empty() {
        String::new()
    } else {
        format!(" and {} site(s)", held.sites.len())
    };
    let note = format!(
        "removal held: this run would remove {removing} of the {cached} cached credential(s){sites} \
         (more than {MAX_REMOVED_PERCENT} %); they stay, marked stale \"removal held\". If the \
         removals are expected, run `{ACCEPT_COMMAND}`"
    );
    summary.error = Some(match summary.error.take() {
        Some(previous_error) => format!("{previous_error}; {note}"),
        None => note,
    });
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CredentialRef, Diff, Fingerprint, OrgId, Site, SnapshotSite};
    use std::collections::BTreeMap;

    fn org(n: usize) -> OrgId {
        OrgId::parse(&format!("{n:08X}-0000-4000-8000-000000000000")).unwrap()
    }

    /// `sites` cached sites with `per_site` credentials each.
    fn cache(sites: usize, per_site: usize) -> Snapshot {
        let mut s = Snapshot::default();
        for n in 0..sites {
            s.sites.insert(
                org(n),
                SnapshotSite {
                    site: Site {
                        org_id: org(n),
                        name: format!("School {n}"),
                        dfe_code: None,
                        deni_number: None,
                        authorised: Some(true),
                    },
                    credentials: (0..per_site)
                        .map(|c| (format!("c{c}"), Fingerprint::local(format!("f{n}-{c}"))))
                        .collect::<BTreeMap<_, _>>(),
                },
            );
        }
        s
    }

    fn summary(diff: Diff, credentials_total: usize) -> RunSummary {
        let t = chrono::Utc::now();
        RunSummary {
            credentials_total,
            ..RunSummary::with_diff(RunStatus::Complete, t, t, diff)
        }
    }

    fn removed(orgs: std::ops::Range<usize>, per_site: usize) -> Vec<CredentialRef> {
        orgs.flat_map(|n| {
            (0..per_site).map(move |c| CredentialRef {
                organisation_id: org(n),
                client_id: format!("c{c}"),
            })
        })
        .collect()
    }

    #[test]
    fn the_threshold_is_more_than_ten_percent_and_more_than_five() {
        assert!(!is_mass_removal(5, 10), "five are never held");
        assert!(is_mass_removal(6, 10));
        assert!(!is_mass_removal(10, 100), "exactly 10 % is allowed");
        assert!(is_mass_removal(11, 100));
        assert!(!is_mass_removal(0, 0));
        assert!(is_mass_removal(6, 0), "more than the whole (empty) cache");
    }

    #[test]
    fn a_mass_removal_of_credentials_is_held_and_the_run_is_partial() {
        let previous = cache(10, 2);
        let diff = Diff {
            credentials_removed: removed(0..5, 2),
            credentials_added: removed(9..10, 1),
            ..Diff::default()
        };
        let mut s = summary(diff, 10);
        let held = hold_mass_removals(&previous, &mut s, false);
        assert_eq!(held.credentials.len(), 5);
        assert!(held.sites.is_empty());
        assert_eq!(held.credentials[&org(0)].len(), 2);
        assert!(s.diff.credentials_removed.is_empty());
        assert_eq!(s.diff.credentials_added.len(), 1, "the rest is committed");
        assert_eq!(s.status, RunStatus::Partial);
        assert_eq!(
            s.credentials_total, 20,
            "held credentials stay in the store"
        );
        let e = s.error.unwrap();
        assert!(e.contains("10 of the 20"), "{e}");
        assert!(e.contains("simsid harvest --accept-removals"), "{e}");
    }

    #[test]
    fn removed_sites_are_held_with_their_credentials() {
        let previous = cache(10, 1);
        let diff = Diff {
            sites_removed: (0..7).map(org).collect(),
            credentials_removed: removed(0..7, 1),
            ..Diff::default()
        };
        let mut s = summary(diff, 3);
        let held = hold_mass_removals(&previous, &mut s, false);
        assert_eq!(held.sites.len(), 7);
        assert!(held.credentials.is_empty());
        assert!(s.diff.sites_removed.is_empty());
        assert_eq!(s.credentials_total, 10);
        assert!(s.error.unwrap().contains("and 7 site(s)"));
    }

    #[test]
    fn accepted_or_small_removals_pass() {
        let previous = cache(100, 1);
        let diff = Diff {
            credentials_removed: removed(0..50, 1),
            ..Diff::default()
        };
        let mut s = summary(diff.clone(), 50);
        assert!(hold_mass_removals(&previous, &mut s, true).is_empty());
        assert_eq!(s.diff, diff);
        assert_eq!(s.status, RunStatus::Complete);

        let small = Diff {
            credentials_removed: removed(0..10, 1),
            ..Diff::default()
        };
        let mut s = summary(small.clone(), 90);
        assert!(hold_mass_removals(&previous, &mut s, false).is_empty());
        assert_eq!(
            (s.diff, s.status, s.error),
            (small, RunStatus::Complete, None)
        );
    }
}
