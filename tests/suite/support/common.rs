//! Helpers shared by the integration tests: an in-process simulator on 127.0.0.1:0, a
//! throw-away store, and the real `simsid` binary pointed at both.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use simsid::domain::{AppId, OrgId};
use simsid::sims::{SimsClient, SimsSettings};
use simsid::store::{Store, StoreKey};
use simsid_simulator::{SimConfig, SimSite, Simulator};

/// A simulator on loopback with `sites` schools.
pub async fn simulator(sites: usize, seed: u64) -> Simulator {
    Simulator::start(
        SimConfig {
            sites,
            seed,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("simulator starts")
}

/// A simulator whose every call takes about `latency_ms`.
pub async fn slow_simulator(sites: usize, seed: u64, latency_ms: u64) -> Simulator {
    Simulator::start(
        SimConfig {
            sites,
            seed,
            latency: Duration::from_millis(latency_ms),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("simulator starts")
}

/// A real client for the simulator with a short timeout.
pub fn client(sim: &Simulator, timeout: Duration) -> SimsClient {
    let env = sim.env();
    SimsClient::new(SimsSettings {
        sts_url: env.sts_url.clone(),
        api_base: env.api_base.clone(),
        application_id: AppId::parse(&env.application_id).unwrap(),
        client_id: env.client_id.clone(),
        client_secret: env.client_secret.clone(),
        organisation_id: OrgId::parse(&env.organisation_id).unwrap(),
        scopes: "rapapi partner partner-read partner-write".into(),
        acr_values: "orgselect:{organisation_id}".into(),
        apim_key: None,
        timeout,
        connect_timeout: timeout,
        client_auth: Default::default(),
        verify_scopes: String::new(),
    })
    .unwrap()
}

/// A temporary directory holding `store.sqlite3` and its key.
pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub key_b64: SecretString,
}

impl TempStore {
    pub fn new() -> Self {
        let key = StoreKey::generate();
        TempStore {
            dir: tempfile::tempdir().unwrap(),
            key_b64: key.to_base64(),
        }
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("store.sqlite3")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("simsid.log")
    }
    pub fn open(&self) -> Store {
        Store::open(&self.path(), StoreKey::from_base64(&self.key_b64).unwrap()).unwrap()
    }
}

/// The environment that points the binary at the simulator and the temp store.
pub fn env_for(sim: &Simulator, store: &TempStore) -> BTreeMap<String, String> {
    let env = sim.env();
    let mut m = BTreeMap::new();
    m.insert("SIMSID_APPLICATION_ID".into(), env.application_id.clone());
    m.insert("SIMSID_CLIENT_ID".into(), env.client_id.clone());
    m.insert("SIMSID_ORGANISATION_ID".into(), env.organisation_id.clone());
    m.insert(
        "SIMSID_CLIENT_SECRET".into(),
        env.client_secret.expose_secret().to_string(),
    );
    m.insert("SIMSID_STS_URL".into(), env.sts_url.clone());
    m.insert("SIMSID_API_BASE".into(), env.api_base.clone());
    m.insert("SIMSID_STORE".into(), store.path().display().to_string());
    m.insert(
        "SIMSID_STORE_KEY".into(),
        store.key_b64.expose_secret().to_string(),
    );
    m.insert("SIMSID_LOG".into(), store.log().display().to_string());
    m
}

/// Runs the real binary with exactly `env` (plus HOME/PATH into a sandbox), off the async
/// runtime's worker so the in-process simulator keeps serving.
pub async fn simsid(env: &BTreeMap<String, String>, args: &[&str]) -> Output {
    let env = env.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || simsid_blocking(&env, &args))
        .await
        .unwrap()
}

/// The blocking form of [`simsid`]. Each run gets its own private, throw-away HOME (and
/// XDG directories), so overlapping test runs never share a file.
pub fn simsid_blocking(env: &BTreeMap<String, String>, args: &[String]) -> Output {
    let home = tempfile::tempdir().expect("private HOME");
    let mut cmd = sandboxed_command(home.path());
    cmd.envs(env).args(args).stdin(std::process::Stdio::null());
    cmd.output().expect("simsid runs")
}

/// The real binary with a clean environment whose HOME and XDG directories are under `home`
/// (a directory the caller owns, e.g. a `tempfile::TempDir`), and PATH kept.
pub fn sandboxed_command(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("simsid"));
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        // No session bus: without this the Secret Service client falls back to the
        // developer's own (`/run/user/UID/bus`) and a test's new store would put its key in
        // the developer's keychain. The keychain tests set a real bus in their environment.
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", home.join("no-session-bus").display()),
        )
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

/// stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code (-1 when ended by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Runs the binary and asserts it exits `want`, naming its stderr if not.
pub async fn run(env: &BTreeMap<String, String>, args: &[&str], want: i32) -> Output {
    let o = simsid(env, args).await;
    assert_eq!(code(&o), want, "simsid {args:?}: {}", stderr(&o));
    o
}

/// stdout parsed as JSON.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}

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

/// `n` credentials (site, client id) of different authorised sites.
pub fn credentials(sim: &Simulator, n: usize) -> Vec<(OrgId, String)> {
    let found: Vec<(OrgId, String)> = sim
        .control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .map(|s| (s.org_id.to_domain(), s.clients[0].client_id.clone()))
        .take(n)
        .collect();
    assert_eq!(found.len(), n, "the dataset has {n} sites with credentials");
    found
}

/// The product's id of a school the simulator serves. The simulator keeps its own
/// identifiers (it stands in for SIMS ID); both spell a school as the same GUID text.
pub trait ToDomain {
    /// The same school as a `simsid::domain::OrgId`.
    fn to_domain(&self) -> OrgId;
}

impl ToDomain for simsid_simulator::OrgId {
    fn to_domain(&self) -> OrgId {
        OrgId::parse(self.as_str()).expect("the simulator's ids are GUIDs")
    }
}

/// The simulator's id of a school the product names.
pub trait ToSim {
    /// The same school as a `simsid_simulator::OrgId`.
    fn to_sim(&self) -> simsid_simulator::OrgId;
}

impl ToSim for OrgId {
    fn to_sim(&self) -> simsid_simulator::OrgId {
        simsid_simulator::OrgId::parse(self.as_str()).expect("the product's ids are GUIDs")
    }
}

/// The authorised site with credentials after the first `skip` ones.
pub fn authorised_site(sim: &Simulator, skip: usize) -> SimSite {
    sim.control()
        .sites()
        .into_iter()
        .filter(|s| s.authorised && !s.clients.is_empty())
        .nth(skip)
        .expect("an authorised site with clients")
}
