//! The diff between the cached state and a harvest's result (pure).

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{
    AuthorisationChange, Credential, CredentialRef, Diff, Fingerprint, OrgId, Site, Snapshot,
};

fn auth_code(a: Option<bool>) -> Option<u8> {
    a.map(u8::from)
}

/// Compares `previous` with a harvest whose site list was `sites`, whose fetched clients are
/// `fetched`, and whose `failed` sites keep their previous credentials (no credential change is
/// reported for them). Credentials of added sites count as added, those of removed sites as
/// removed. Every list is sorted by organisation id, then client id.
pub fn compute_diff(
    previous: &Snapshot,
    sites: &[Site],
    fetched: &BTreeMap<OrgId, Vec<(Credential, Fingerprint)>>,
) -> Diff {
    let mut diff = Diff::default();
    let listed: BTreeMap<&OrgId, &Site> = sites.iter().map(|s| (&s.org_id, s)).collect();

    for (org, site) in &listed {
        match previous.sites.get(*org) {
            None => diff.sites_added.push((*org).clone()),
            Some(old) => {
                if old.site.authorised != site.authorised {
                    diff.authorisation_changed.push(AuthorisationChange {
                        organisation_id: (*org).clone(),
                        from: auth_code(old.site.authorised),
                        to: auth_code(site.authorised),
                    });
                }
            }
        }
        let Some(new_creds) = fetched.get(*org) else {
            continue;
        };
        let empty = BTreeMap::new();
        let old_creds = previous
            .sites
            .get(*org)
            .map(|s| &s.credentials)
            .unwrap_or(&empty);
        let new_map: BTreeMap<&str, &Fingerprint> = new_creds
            .iter()
            .map(|(c, f)| (c.client_id.as_str(), f))
            .collect();
        for (client_id, fp) in &new_map {
            let r = CredentialRef {
                organisation_id: (*org).clone(),
                client_id: (*client_id).to_string(),
            };
            match old_creds.get(*client_id) {
                None => diff.credentials_added.push(r),
                Some(old_fp) if old_fp != *fp => diff.credentials_rotated.push(r),
                Some(_) => {}
            }
        }
        for client_id in old_creds.keys() {
            if !new_map.contains_key(client_id.as_str()) {
                diff.credentials_removed.push(CredentialRef {
                    organisation_id: (*org).clone(),
                    client_id: client_id.clone(),
                });
            }
        }
    }

    let listed_set: BTreeSet<&OrgId> = listed.keys().copied().collect();
    for (org, old) in &previous.sites {
        if !listed_set.contains(org) {
            diff.sites_removed.push(org.clone());
            for client_id in old.credentials.keys() {
                diff.credentials_removed.push(CredentialRef {
                    organisation_id: org.clone(),
                    client_id: client_id.clone(),
                });
            }
        }
    }
    diff.credentials_removed.sort_by(|a, b| {
        (&a.organisation_id, &a.client_id).cmp(&(&b.organisation_id, &b.client_id))
    });
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SnapshotSite;
    use secrecy::SecretString;

    fn org(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08X}-0000-0000-0000-000000000000")).unwrap()
    }

    fn site(n: u8, authorised: Option<bool>) -> Site {
        Site {
            org_id: org(n),
            name: format!("School {n}"),
            dfe_code: Some(format!("{:07}", n)),
            deni_number: None,
            authorised,
        }
    }

    fn cred(id: &str, fp: &str) -> (Credential, Fingerprint) {
        (
            Credential {
                client_id: id.to_string(),
                secret: SecretString::from(format!("secret-{fp}")),
                description: None,
            },
            Fingerprint::local(fp.to_string()),
        )
    }

    fn previous() -> Snapshot {
        let mut s = Snapshot::default();
        for (n, creds) in [
            (1u8, vec![("a", "f1"), ("b", "f2")]),
            (2, vec![("c", "f3")]),
        ] {
            s.sites.insert(
                org(n),
                SnapshotSite {
                    site: site(n, Some(true)),
                    credentials: creds
                        .into_iter()
                        .map(|(c, f)| (c.to_string(), Fingerprint::local(f.to_string())))
                        .collect(),
                },
            );
        }
        s
    }

    #[test]
    fn unchanged_harvest_has_empty_diff() {
        let sites = vec![site(1, Some(true)), site(2, Some(true))];
        let mut fetched = BTreeMap::new();
        fetched.insert(org(1), vec![cred("a", "f1"), cred("b", "f2")]);
        fetched.insert(org(2), vec![cred("c", "f3")]);
        assert!(compute_diff(&previous(), &sites, &fetched).is_empty());
    }

    #[test]
    fn every_kind_of_change_is_reported() {
        let sites = vec![site(1, Some(false)), site(3, None)];
        let mut fetched = BTreeMap::new();
        fetched.insert(org(1), vec![cred("a", "f1-new"), cred("d", "f4")]);
        fetched.insert(org(3), vec![cred("e", "f5")]);
        let d = compute_diff(&previous(), &sites, &fetched);
        assert_eq!(d.sites_added, vec![org(3)]);
        assert_eq!(d.sites_removed, vec![org(2)]);
        assert_eq!(d.authorisation_changed.len(), 1);
        assert_eq!(d.authorisation_changed[0].from, Some(1));
        assert_eq!(d.authorisation_changed[0].to, Some(0));
        let ids = |v: &Vec<CredentialRef>| {
            v.iter()
                .map(|r| r.client_id.clone())
                .collect::<Vec<String>>()
        };
        assert_eq!(ids(&d.credentials_rotated), vec!["a"]);
        assert_eq!(ids(&d.credentials_added), vec!["d", "e"]);
        assert_eq!(ids(&d.credentials_removed), vec!["b", "c"]);
    }

    #[test]
    fn failed_sites_report_no_credential_change() {
        let sites = vec![site(1, Some(true)), site(2, Some(true))];
        let mut fetched = BTreeMap::new();
        fetched.insert(org(2), vec![cred("c", "f3")]);
        assert!(compute_diff(&previous(), &sites, &fetched).is_empty());
    }
}
