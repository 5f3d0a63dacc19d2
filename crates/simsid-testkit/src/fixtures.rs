//! Store data built from the domain types directly: schools, credentials, runs and whole
//! harvests, for the store's tests and benches (no simulator, no network).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use simsid::domain::{
    Credential, Diff, Fingerprint, HarvestData, OrgId, RunStatus, RunSummary, Site,
};
use simsid::store::Store;

/// The school numbered `n` (a GUID made of it).
pub fn org(n: u32) -> OrgId {
    OrgId::parse(&format!("{n:08x}-aaaa-4bbb-8ccc-ddddeeeeffff")).expect("a GUID")
}

/// The school numbered `n`, named `name`, with a DfE code.
pub fn site(n: u32, name: &str, authorised: Option<bool>) -> Site {
    Site {
        org_id: org(n),
        name: name.to_owned(),
        dfe_code: Some(format!("{:03}/{:04}", 800 + n % 100, 4000 + n)),
        deni_number: None,
        authorised,
    }
}

/// A fixed instant, `seconds` after a fixed origin.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0)
        .single()
        .expect("an instant")
}

/// A credential and its fingerprint under `store`'s key.
pub fn credential(store: &Store, client_id: &str, secret: &str) -> (Credential, Fingerprint) {
    fingerprinted(
        store,
        Credential {
            client_id: client_id.to_owned(),
            secret: SecretString::from(secret.to_owned()),
            description: Some(format!("{client_id} for tests")),
        },
    )
}

/// `credential` with its fingerprint under `store`'s key.
pub fn fingerprinted(store: &Store, credential: Credential) -> (Credential, Fingerprint) {
    let fingerprint = store.fingerprint(&credential.secret);
    (credential, fingerprint)
}

/// A run that finished at `finished` after 30 s, with `status` and `diff`, counting nothing.
pub fn summary(finished: DateTime<Utc>, status: RunStatus, diff: Diff) -> RunSummary {
    let started = finished - chrono::Duration::seconds(30);
    RunSummary::with_diff(status, started, finished, diff)
}

/// The complete run that harvested all of `data` now.
pub fn complete_summary(data: &HarvestData) -> RunSummary {
    let now = Utc::now();
    RunSummary {
        started_at: now,
        sites_total: data.sites.len(),
        sites_harvested: data.sites.len(),
        credentials_total: data.fetched.values().map(Vec::len).sum(),
        ..summary(now, RunStatus::Complete, Diff::default())
    }
}

/// A harvest where every listed site was fetched with the given `(client id, secret)`s.
pub fn harvest(store: &Store, sites: &[(Site, Vec<(&str, &str)>)]) -> HarvestData {
    HarvestData {
        sites: sites.iter().map(|(s, _)| s.clone()).collect(),
        fetched: sites
            .iter()
            .map(|(s, creds)| {
                let list = creds
                    .iter()
                    .map(|(id, secret)| credential(store, id, secret))
                    .collect();
                (s.org_id.clone(), list)
            })
            .collect(),
        failed: BTreeMap::new(),
    }
}

/// A harvest where every one of `sites` was fetched with `credentials(index, site)`,
/// fingerprinted under `store`'s key (a large harvest for a bench).
pub fn harvest_of(
    store: &Store,
    sites: Vec<Site>,
    mut credentials: impl FnMut(usize, &Site) -> Vec<Credential>,
) -> HarvestData {
    let fetched = sites
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let list = credentials(i, s)
                .into_iter()
                .map(|c| fingerprinted(store, c))
                .collect();
            (s.org_id.clone(), list)
        })
        .collect();
    HarvestData {
        sites,
        fetched,
        failed: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TempStore;

    #[test]
    fn a_bench_harvest_is_fingerprinted_and_its_run_counts_it() {
        let ts = TempStore::new();
        let store = ts.open();
        let sites = (0..3)
            .map(|n| site(n, &format!("School {n}"), None))
            .collect();
        let data = harvest_of(&store, sites, |i, _| {
            (0..i)
                .map(|k| Credential {
                    client_id: format!("c{i}-{k}"),
                    secret: SecretString::from(format!("s{i}-{k}")),
                    description: None,
                })
                .collect()
        });
        let fetched = &data.fetched[&org(2)];
        assert_eq!(fetched.len(), 2);
        assert_eq!(fetched[1].1, store.fingerprint(&fetched[1].0.secret));
        let run = complete_summary(&data);
        assert_eq!(run.status, RunStatus::Complete);
        assert_eq!((run.sites_total, run.sites_harvested), (3, 3));
        assert_eq!(run.credentials_total, 3);
    }
}
