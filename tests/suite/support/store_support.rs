//! Test data for the store tests, built from the domain types directly.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use simsid::domain::{
    Credential, Diff, Fingerprint, HarvestData, OrgId, RunStatus, RunSummary, Site,
};
use simsid::store::Store;

pub fn org(n: u32) -> OrgId {
    OrgId::parse(&format!("{n:08x}-aaaa-4bbb-8ccc-ddddeeeeffff")).unwrap()
}

pub fn site(n: u32, name: &str, authorised: Option<bool>) -> Site {
    Site {
        org_id: org(n),
        name: name.to_owned(),
        dfe_code: Some(format!("{:03}/{:04}", 800 + n % 100, 4000 + n)),
        deni_number: None,
        authorised,
    }
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
}

pub fn credential(store: &Store, client_id: &str, secret: &str) -> (Credential, Fingerprint) {
    let secret = SecretString::from(secret.to_owned());
    let fingerprint = store.fingerprint(&secret);
    (
        Credential {
            client_id: client_id.to_owned(),
            secret,
            description: Some(format!("{client_id} for tests")),
        },
        fingerprint,
    )
}

pub fn summary(finished: DateTime<Utc>, status: RunStatus, diff: Diff) -> RunSummary {
    RunSummary {
        run_id: uuid::Uuid::new_v4(),
        status,
        started_at: finished - chrono::Duration::seconds(30),
        finished_at: finished,
        sites_total: 0,
        sites_harvested: 0,
        sites_failed: 0,
        credentials_total: 0,
        diff,
        failures: Vec::new(),
        stats: Default::default(),
        error: None,
        scope: Default::default(),
        signal: None,
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

/// Name → SHA-256 of the contents, for every file in `dir`.
pub fn hash_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                Sha256::digest(&bytes).to_vec(),
            )
        })
        .collect()
}

/// Every file in `dir` as raw bytes.
pub fn read_dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
