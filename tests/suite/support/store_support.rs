//! Test data for the store tests, built from the domain types directly (the kit's
//! `fixtures`), and what the store's files hold.
#![allow(dead_code)]

pub use simsid_testkit::fixtures::*;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

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
