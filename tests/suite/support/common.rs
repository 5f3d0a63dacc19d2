//! The kit's everyday helpers under one name (`common::simulator`, `common::TempStore`,
//! `common::run`…: the in-process simulator on 127.0.0.1:0, a throw-away store, the real
//! `simsid` binary pointed at both), and the file walks only this suite uses.
// Some helpers serve only tests compiled out on Windows (those that start `bao`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use simsid_testkit::process::*;
pub use simsid_testkit::sims::*;
pub use simsid_testkit::store::*;

/// Every file's bytes under `dir` (recursively).
pub fn all_file_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut guard = 0;
    while let Some(d) = stack.pop() {
        guard += 1;
        assert!(guard < 10_000, "directory walk bounded");
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The credentials counted in `sites --json` output.
pub fn credential_total(sites: &serde_json::Value) -> u64 {
    sites
        .as_array()
        .expect("a list of sites")
        .iter()
        .map(|s| s["credential_count"].as_u64().expect("a count"))
        .sum()
}

/// The credentials the store behind `env` holds now (`simsid sites --json`).
pub async fn cached_credentials(env: &std::collections::BTreeMap<String, String>) -> u64 {
    credential_total(&json(&run(env, &["sites", "--json"], 0).await))
}

/// Runs `simsid export --format FORMAT --output PATH` with `env`.
pub async fn export_to(
    env: &std::collections::BTreeMap<String, String>,
    format: &str,
    path: &Path,
) -> std::process::Output {
    let path = path.to_str().expect("a UTF-8 path");
    simsid(env, &["export", "--format", format, "--output", path]).await
}

/// Runs `simsid ARGS --json --vault-audit LOG` with `env` (a reading of the vault's audit
/// log) and asserts it exits `want`.
pub async fn with_vault_audit(
    env: &std::collections::BTreeMap<String, String>,
    args: &[&str],
    log: &str,
    want: i32,
) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--json", "--vault-audit", log]);
    run(env, &all, want).await
}

/// The vault identity the last harvest's audit record names (`simsid audit --json`).
pub async fn last_harvest_identity(
    env: &std::collections::BTreeMap<String, String>,
) -> serde_json::Value {
    let trail = json(&run(env, &["audit", "--json"], 0).await);
    trail
        .as_array()
        .expect("a list of audit records")
        .iter()
        .rev()
        .find(|r| r["action"] == "harvest")
        .map(|r| r["identity"].clone())
        .unwrap_or_else(|| panic!("no harvest in the audit trail: {trail}"))
}
