//! `exposure --vault-audit` over a large vault audit log, against `jq` making the same
//! selection (docs/reference/vault.md "Team mode at scale": at least 3 × faster, memory flat).
//!
//! `cargo build --release && cargo run --release --example auditbench` (1 GiB log;
//! `-- --quick` for 128 MiB; `-- --mib N` for another size). It writes a synthetic audit
//! log shaped like OpenBao's file device (records copied from a real OpenBao 2.7 log: read
//! responses of 900 credentials under the profile's prefix by 40 identities, request records,
//! writes, lists, other mounts, token look-ups), then times, in the same run and on the same
//! file (warm page cache, each run twice, the best kept):
//! - the release `simsid exposure --vault-audit FILE --json` on an empty store, and
//! - `jq -c` selecting the same records (response, read, path under the prefix, no error,
//!   a version in the answer) and printing identity, path, version and time,
//!
//! with each one's peak memory (`/usr/bin/time -f %M`), and simsid's peak memory on a log an
//! eighth the size, to show it flat. Needs `jq` and `/usr/bin/time` on PATH.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use simsid::store::{default_key_path, Store, StoreKey};

const APP: &str = "DA5AD317-54E2-4BC1-ACA8-C766A61CEAA8";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: u64 = if args.iter().any(|a| a == "--quick") {
        128
    } else {
        args.iter()
            .position(|a| a == "--mib")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1024)
    };
    let bin = simsid_testkit::process::binary_beside_example();
    let dir = tempfile::tempdir().unwrap();
    // The store refuses a directory others may change (mode 0700; owner-only on Windows).
    simsid::platform::create_private_dir(dir.path()).unwrap();
    let big = dir.path().join("audit.log");
    let small = dir.path().join("audit-small.log");
    let t = Instant::now();
    let lines = write_log(&big, mib << 20);
    write_log(&small, (mib << 20) / 8);
    eprintln!(
        "wrote {mib} MiB ({lines} lines) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let store = dir.path().join("store.sqlite3");
    // An empty store with its key file beside it, as a first harvest leaves them.
    let key = StoreKey::load_or_create(&default_key_path(&store)).unwrap();
    drop(Store::open(&store, key).unwrap());
    let simsid = |file: &Path| {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M")
            .arg(&bin)
            .args(["exposure", "--json", "--vault-audit"])
            .arg(file)
            .env_clear()
            .env("HOME", dir.path())
            .env("SIMSID_STORE", &store)
            .env("SIMSID_APPLICATION_ID", APP)
            .env("SIMSID_LOG", dir.path().join("simsid.log"));
        c
    };
    let filter = format!(
        "select(.type == \"response\" and .request.operation == \"read\" \
         and (.request.path | startswith(\"secret/data/simsid/{APP}/\")) \
         and .error == null and .response.data.metadata.version != null) \
         | [.auth.display_name, .request.path, .response.data.metadata.version, .time]"
    );
    let jq = |file: &Path| {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M")
            .arg("jq")
            .arg("-c")
            .arg(&filter)
            .arg(file);
        c
    };
    // Warm the page cache once, then alternate.
    let _ = std::fs::read(&big).map(|b| b.len());
    let mut best_simsid = (Duration::MAX, 0);
    let mut best_jq = (Duration::MAX, 0);
    let mut jq_lines = 0;
    for _ in 0..2 {
        let (d, kib, _) = run(simsid(&big));
        best_simsid = best_simsid.min((d, kib));
        let (d, kib, out) = run(jq(&big));
        jq_lines = out.lines().count();
        best_jq = best_jq.min((d, kib));
    }
    let (_, small_kib, _) = run(simsid(&small));
    let ratio = best_jq.0.as_secs_f64() / best_simsid.0.as_secs_f64();
    println!(
        "{{\"mib\": {mib}, \"lines\": {lines}, \"reads_selected_by_jq\": {jq_lines}, \
         \"simsid_s\": {:.2}, \"jq_s\": {:.2}, \"jq_over_simsid\": {ratio:.1}, \
         \"simsid_peak_kib\": {}, \"simsid_peak_kib_at_one_eighth\": {small_kib}, \
         \"jq_peak_kib\": {}}}",
        best_simsid.0.as_secs_f64(),
        best_jq.0.as_secs_f64(),
        best_simsid.1,
        best_jq.1
    );
}

/// Runs `cmd` (under `/usr/bin/time -f %M`): wall time, peak KiB, stdout.
fn run(mut cmd: Command) -> (Duration, u64, String) {
    let t = Instant::now();
    let out = cmd.output().expect("runs");
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib = stderr
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or(0);
    (wall, kib, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A small deterministic generator (xorshift), so every run writes the same log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const HMAC: &str = "hmac-sha256:5d8954c7e1e3cdad60809f344f5f525b5bc7a80c591d9caf59201cf0887b1e8b";

/// Writes audit lines until `bytes`; returns how many.
fn write_log(path: &Path, bytes: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut written, mut lines) = (0u64, 0u64);
    while written < bytes {
        let line = record(&mut rng);
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        written += line.len() as u64 + 1;
        lines += 1;
    }
    out.flush().unwrap();
    lines
}

/// The schools whose credentials are read: a bounded population (300 × 3 clients × 40
/// identities), so that the log's size, not its variety, grows with `--mib`.
const SITES: u64 = 300;

fn record(rng: &mut Rng) -> String {
    let site = rng.below(SITES);
    let org = format!("{:08X}-{:04X}-4000-8000-{:012X}", site, site % 65_536, site);
    let client = format!("sas-{}", rng.below(3));
    let who = rng.below(40);
    let (display, meta) = match who {
        0 => (
            "approle".to_string(),
            r#"{"role_name":"simsid-harvester"}"#.to_string(),
        ),
        1..=9 => (format!("token-svc{who}"), "null".to_string()),
        _ => (
            format!("userpass-user{who}"),
            format!(r#"{{"username":"user{who}"}}"#),
        ),
    };
    let path = match rng.below(10) {
        0 => "auth/token/lookup-self".to_string(),
        1 => format!("secret/metadata/simsid/{APP}/{org}/{client}"),
        2 => format!("secret/data/other/{org}/{client}"),
        _ => format!("secret/data/simsid/{APP}/{org}/{client}"),
    };
    let (kind, op) = match rng.below(10) {
        0..=3 => ("request", "read"),
        4 => ("response", "update"),
        5 => ("response", "list"),
        _ => ("response", "read"),
    };
    let time = format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1_000_000_000)
    );
    let response = if kind == "response" {
        format!(
            r#","response":{{"mount_point":"secret/","mount_type":"kv","mount_accessor":"kv_20e35ab7","mount_running_plugin_version":"v2.7.2+builtin.bao","mount_class":"secret","data":{{"data":{{"client_id":"{HMAC}","secret":"{HMAC}","organisation_id":"{HMAC}","school_name":"{HMAC}","description":"{HMAC}"}},"metadata":{{"created_time":"2026-11-02T17:08:12.517034921Z","custom_metadata":{{"fingerprint":"{HMAC}","simsid_run":"{HMAC}"}},"deletion_time":"{HMAC}","destroyed":false,"version":{}}}}}}}"#,
            1 + rng.below(4)
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"time":"{time}","type":"{kind}","auth":{{"client_token":"{HMAC}","accessor":"{HMAC}","display_name":"{display}","policies":["default","simsid-operator"],"token_policies":["default","simsid-operator"],"policy_results":{{"allowed":true,"granting_policies":[{{"name":"simsid-operator","namespace_id":"root","type":"acl"}}]}},"metadata":{meta},"entity_id":"af5d9a51-d454-7f34-9bf0-c6d344e0510e","token_type":"service","token_ttl":2764800,"token_issue_time":"2026-11-02T17:08:14Z"}},"request":{{"id":"40ae3e60-0f71-6dd5-26c6-cf87e22149ea","client_id":"af5d9a51-d454-7f34-9bf0-c6d344e0510e","operation":"{op}","mount_point":"secret/","mount_type":"kv","mount_accessor":"kv_20e35ab7","mount_running_version":"v2.7.2+builtin.bao","mount_class":"secret","client_token":"{HMAC}","client_token_accessor":"{HMAC}","namespace":{{"id":"root"}},"path":"{path}","remote_address":"127.0.0.1","remote_port":54748}}{response}}}"#
    )
}
