//! The real `simsid` binary as a test or an example runs it: its environment (the
//! simulator, a throw-away store), a private HOME, its output, its exit code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use secrecy::ExposeSecret;
use simsid_simulator::Simulator;

use crate::store::TempStore;

/// The environment that points the binary at the simulator and the temp store.
// The simulator's client secret goes into a child's environment: its bytes are needed there.
#[allow(clippy::disallowed_methods)]
pub fn env_for(sim: &Simulator, store: &TempStore) -> BTreeMap<String, String> {
    let env = sim.env();
    let mut m = store.env();
    m.insert("SIMSID_APPLICATION_ID".into(), env.application_id.clone());
    m.insert("SIMSID_CLIENT_ID".into(), env.client_id.clone());
    m.insert("SIMSID_ORGANISATION_ID".into(), env.organisation_id.clone());
    m.insert(
        "SIMSID_CLIENT_SECRET".into(),
        env.client_secret.expose_secret().to_string(),
    );
    m.insert("SIMSID_STS_URL".into(), env.sts_url.clone());
    m.insert("SIMSID_API_BASE".into(), env.api_base.clone());
    m
}

/// Runs the real binary with exactly `env` (plus HOME/PATH into a sandbox), off the async
/// runtime's worker so the in-process simulator keeps serving.
pub async fn simsid(env: &BTreeMap<String, String>, args: &[&str]) -> Output {
    let env = env.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || simsid_blocking(&env, &args))
        .await
        .expect("the binary's thread")
}

/// The blocking form of [`simsid`]. Each run gets its own private, throw-away HOME (and
/// XDG directories), so overlapping test runs never share a file.
pub fn simsid_blocking(env: &BTreeMap<String, String>, args: &[String]) -> Output {
    let home = tempfile::tempdir().expect("private HOME");
    let mut cmd = sandboxed_command(home.path());
    cmd.envs(env).args(args).stdin(std::process::Stdio::null());
    cmd.output().expect("simsid runs")
}

/// The real binary (cargo's build of this package's `simsid`, for a test or a bench).
pub fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("simsid")
}

/// The binary an example measures: `$SIMSID_BIN` (a release binary measured by a debug
/// build of the example), else the `simsid` cargo built beside the example.
pub fn binary_beside_example() -> PathBuf {
    let bin = match std::env::var_os("SIMSID_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()
            .expect("this example")
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join(format!("simsid{}", std::env::consts::EXE_SUFFIX)))
            .expect("the target folder"),
    };
    assert!(
        bin.is_file(),
        "build the binary first: cargo build --release --bin simsid ({} is missing)",
        bin.display()
    );
    bin
}

/// The real binary with a clean environment whose HOME and XDG directories are under `home`
/// (a directory the caller owns, e.g. a `tempfile::TempDir`), and PATH kept.
pub fn sandboxed_command(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(binary());
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
