//! Peak memory of `exposure --vault-audit` on a large audit log of hostile records (docs/reference/vault.md
//! "Trust": the audit reader keeps bounded text; its peak memory on a 1 GB hostile log stays
//! under 100 MB). Prints the figure; asserts nothing about time.
//!
//! `cargo build --release --bin simsid --example audithostile && \
//!  target/release/examples/audithostile` (1 GiB; `--mib N` for another size). It writes
//! the log under `target/tmp/audithostile/` (removed afterwards unless `--keep`), then runs
//! the release `simsid exposure --vault-audit FILE --json` on an empty store under
//! `/usr/bin/time`, and prints its peak resident memory, wall time and summary line. The records are what an
//! insider with write access to the log, or a broken vault, could leave there:
//! - reads of a credential by identities with 1 KiB display names, role names and entity ids,
//!   each one new (the reader cuts them at 256 bytes and stops taking new identities at its
//!   limit);
//! - reads of ever new credentials (distinct organisation ids: credentials and pairs grow to
//!   their limits) and client ids of 4 KiB;
//! - wrapped reads with ever new wrapping tokens, and unwraps of tokens never seen;
//! - lines of 2 MiB (over the 1 MiB line bound), records timed in the year 2999, lower-case
//!   organisation ids, metadata maps of 20,000 keys and policy lists of 20,000 entries;
//! - JSON nested 10,000 deep.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use simsid::store::{default_key_path, Store, StoreKey};

const APP: &str = "DA5AD317-54E2-4BC1-ACA8-C766A61CEAA8";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: u64 = args
        .iter()
        .position(|a| a == "--mib")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let bin = simsid_testkit::process::binary_beside_example();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/audithostile");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("audit.log");
    let (lines, kinds) = write_log(&log, mib << 20);
    eprintln!("wrote {mib} MiB of hostile records ({lines} lines)");

    let store = dir.join("store.sqlite3");
    let _ = std::fs::remove_file(&store);
    let key = StoreKey::load_or_create(&default_key_path(&store)).unwrap();
    drop(Store::open(&store, key).unwrap());
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak_kib=%M wall_s=%e"])
        .arg(&bin)
        .args(["exposure", "--json", "--vault-audit"])
        .arg(&log)
        .env_clear()
        .env("HOME", &dir)
        .env("SIMSID_STORE", &store)
        .env("SIMSID_APPLICATION_ID", APP)
        .env("SIMSID_LOG", dir.join("simsid.log"))
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "simsid failed: {stderr}");
    let figure = |name: &str| -> f64 {
        stderr
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let peak_kib = figure("peak_kib=");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("vault audit:"))
        .unwrap_or("")
        .replace('"', "'");
    println!(
        "{{\"mib\": {mib}, \"lines\": {lines}, \"kinds\": {kinds}, \"peak_mib\": {:.1}, \"wall_s\": {}, \"report_bytes\": {}, \"summary\": \"{summary}\"}}",
        peak_kib / 1024.0,
        figure("wall_s="),
        out.stdout.len()
    );
    if !args.iter().any(|a| a == "--keep") {
        let _ = std::fs::remove_file(&log);
    }
}

const HMAC: &str = "hmac-sha256:5d8954c7e1e3cdad60809f344f5f525b5bc7a80c591d9caf59201cf0887b1e8b";
/// How many kinds of hostile record the log mixes.
const KINDS: u64 = 11;

/// Writes hostile lines until `bytes`; returns how many lines and kinds of record.
fn write_log(path: &Path, bytes: u64) -> (u64, u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let long = "A".repeat(1 << 10);
    let huge = "B".repeat(2 << 20);
    let long_client = "c".repeat(4 << 10);
    let meta_keys: String = (0..20_000)
        .map(|i| format!("\"k{i}\":\"v\""))
        .collect::<Vec<_>>()
        .join(",");
    let policies: String = (0..20_000).map(|_| "\"p\"").collect::<Vec<_>>().join(",");
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let t = "2026-11-30T10:00:00Z";
    let read = |auth: &str, path: &str, time: &str| {
        format!(
            r#"{{"time":"{time}","type":"response","auth":{auth},"request":{{"operation":"read","path":"{path}","client_token":"{HMAC}"}},"response":{{"data":{{"data":{{"secret":"{HMAC}"}},"metadata":{{"version":1}}}}}}}}"#
        )
    };
    let (mut written, mut n) = (0u64, 0u64);
    while written < bytes {
        let i = n;
        let org = format!(
            "{:08X}-{:04X}-4000-8000-{:012X}",
            i % 0xFFFF_FFFF,
            i % 0xFFFF,
            i
        );
        let path = format!("secret/data/simsid/{APP}/{org}/sas-{}", i % 7);
        let line = match (i % 5000, i % 100) {
            // Lines over the 1 MiB bound, maps and lists of 20,000 entries, deep nesting.
            (7, _) => format!(r#"{{"time":"{t}","type":"response","junk":"{huge}"}}"#),
            (8 | 9, _) => read(
                &format!(
                    r#"{{"display_name":"token","metadata":{{{meta_keys}}},"policies":[{policies}]}}"#
                ),
                &path,
                t,
            ),
            (10, _) => format!(
                r#"{{"time":"{t}","type":"response","auth":{nested},"request":{{"path":"{path}"}}}}"#
            ),
            // A new identity with 1 KiB names every time (userpass, or AppRole roles).
            (_, 0..=4) => read(
                &format!(
                    r#"{{"display_name":"userpass-{long}{i}","metadata":{{"username":"{long}{i}"}}}}"#
                ),
                &path,
                t,
            ),
            (_, 5..=9) => read(
                &format!(
                    r#"{{"display_name":"approle","metadata":{{"role_name":"{long}{i}"}},"entity_id":"{long}"}}"#
                ),
                &path,
                t,
            ),
            // A new credential every time, by a few identities.
            (_, 10..=49) => read(
                &format!(r#"{{"display_name":"userpass-u{}"}}"#, i % 13),
                &path,
                t,
            ),
            // Wrapped reads with new wrapping tokens, unwraps of tokens never seen.
            (_, 50..=64) => format!(
                r#"{{"time":"{t}","type":"response","auth":{{"display_name":"token"}},"request":{{"operation":"read","path":"{path}"}},"response":{{"wrap_info":{{"token":"hmac-sha256:{i:064x}","creation_path":"{path}"}}}}}}"#
            ),
            (_, 65..=74) => format!(
                r#"{{"time":"{t}","type":"response","auth":{{"display_name":"token"}},"request":{{"operation":"update","path":"sys/wrapping/unwrap","data":{{"token":"hmac-sha256:ff{i:062x}"}}}},"response":{{"data":{{"metadata":{{"version":1}}}}}}}}"#
            ),
            // From the future; lower-case organisation ids; 4 KiB client ids.
            (_, 75..=84) => read(
                r#"{"display_name":"userpass-eve"}"#,
                &path,
                "2999-01-01T00:00:00Z",
            ),
            (_, 85..=89) => read(
                r#"{"display_name":"userpass-eve"}"#,
                &path.replace(&org, &org.to_ascii_lowercase()),
                t,
            ),
            _ => read(
                r#"{"display_name":"userpass-u1"}"#,
                &format!("secret/data/simsid/{APP}/{org}/{long_client}"),
                t,
            ),
        };
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        written += line.len() as u64 + 1;
        n += 1;
    }
    out.flush().unwrap();
    (n, KINDS)
}
