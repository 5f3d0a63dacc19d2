//! What a harvest changes in the vault (vault.md "Sync rules"), decided from the fetched
//! data and what the store remembers writing: pure, no I/O.

use crate::domain::{Credential, Fingerprint, HarvestData, OrgId, VaultMarks};

/// One credential to write.
#[derive(Debug, Clone)]
pub struct PlannedWrite<'a> {
    pub org: &'a OrgId,
    pub credential: &'a Credential,
    pub fingerprint: &'a Fingerprint,
    /// The version the store last saw (0: the key should not exist yet).
    pub cas: u64,
}

/// The plan of one sync.
#[derive(Debug, Clone, Default)]
pub struct SyncPlan<'a> {
    pub writes: Vec<PlannedWrite<'a>>,
    /// Credentials no longer listed by a successful answer.
    pub removals: Vec<(OrgId, String)>,
    pub unchanged: usize,
}

/// Plans a sync: added and rotated credentials are written, unchanged ones are left alone,
/// credentials of fetched sites no longer listed and of sites absent from the site list are
/// removed; failed (stale) sites are not touched.
pub fn plan<'a>(data: &'a HarvestData, marks: &VaultMarks) -> SyncPlan<'a> {
    let mut out = SyncPlan::default();
    for (org, creds) in &data.fetched {
        for (credential, fingerprint) in creds {
            match marks.get(&(org.clone(), credential.client_id.clone())) {
                Some(m) if &m.fingerprint == fingerprint => out.unchanged += 1,
                m => out.writes.push(PlannedWrite {
                    org,
                    credential,
                    fingerprint,
                    cas: m.map_or(0, |m| m.version),
                }),
            }
        }
    }
    let listed: std::collections::HashSet<&OrgId> = data.sites.iter().map(|s| &s.org_id).collect();
    for (org, client_id) in marks.keys() {
        if data.failed.contains_key(org) {
            continue;
        }
        let gone = match data.fetched.get(org) {
            Some(creds) => !creds.iter().any(|(c, _)| &c.client_id == client_id),
            None => !listed.contains(org),
        };
        if gone {
            out.removals.push((org.clone(), client_id.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Site, VaultMark};
    use secrecy::SecretString;

    fn org(n: u8) -> OrgId {
        OrgId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }
    fn site(n: u8) -> Site {
        Site {
            org_id: org(n),
            name: format!("s{n}"),
            dfe_code: None,
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
    fn mark(fp: &str, v: u64) -> VaultMark {
        VaultMark {
            fingerprint: Fingerprint::local(fp.into()),
            version: v,
        }
    }

    #[test]
    fn writes_changes_only_and_removes_what_a_good_answer_dropped() {
        let mut data = HarvestData {
            sites: vec![site(1), site(2), site(3)],
            ..HarvestData::default()
        };
        data.fetched.insert(
            org(1),
            vec![
                (cred("same"), Fingerprint::local("f1".into())),
                (cred("rotated"), Fingerprint::local("new".into())),
                (cred("added"), Fingerprint::local("f3".into())),
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
        let p = plan(&data, &marks);
        assert_eq!(p.unchanged, 1);
        let writes: Vec<(&str, u64)> = p
            .writes
            .iter()
            .map(|w| (w.credential.client_id.as_str(), w.cas))
            .collect();
        assert_eq!(writes, [("rotated", 2), ("added", 0)]);
        let mut removed: Vec<&str> = p.removals.iter().map(|(_, c)| c.as_str()).collect();
        removed.sort();
        assert_eq!(removed, ["dropped", "gone", "withdrawn"]);
    }
}
