//! `contrib/systemd/` (docs/reference/cli.md "Signals, services and monitoring"): the hardened oneshot
//! service and its timer pass `systemd-analyze verify` with no warning, and carry the
//! hardening the issue asks for; and the real binary, run as an unprivileged user with the
//! environment the unit gives it (credentials copied as systemd does, a state directory,
//! no HOME, a supplementary group for the metrics directory) against the in-process
//! simulator, harvests, writes its metrics and reports `status`. `systemd-analyze` must
//! be installed (the `systemd` package) and the suite must run as root (to become
//! `nobody` with `setpriv`): without either these tests fail rather than skip.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::common::{self, simulator, stderr, stdout};
use secrecy::ExposeSecret;

fn contrib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd")
}

fn analyzer() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("systemd-analyze"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("systemd-analyze is not installed: `apt-get install -y systemd` provides it")
    })
}

#[test]
fn the_units_pass_systemd_analyze_verify_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart= is executable: point it at the binary under test (the
    // unit's own path, /usr/local/bin/simsid, is where an installation puts it).
    let service = std::fs::read_to_string(contrib().join("simsid-harvest.service")).unwrap();
    assert!(service.contains("ExecStart=/usr/local/bin/simsid harvest"));
    let bin = assert_cmd::cargo::cargo_bin("simsid");
    let local = service.replace("/usr/local/bin/simsid", bin.to_str().unwrap());
    std::fs::write(dir.path().join("simsid-harvest.service"), local).unwrap();
    std::fs::copy(
        contrib().join("simsid-harvest.timer"),
        dir.path().join("simsid-harvest.timer"),
    )
    .unwrap();
    let out = Command::new(analyzer())
        .current_dir(dir.path())
        .args([
            "verify",
            "./simsid-harvest.service",
            "./simsid-harvest.timer",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");

    // A misspelt key is caught (the check above is not vacuous).
    let broken = std::fs::read_to_string(dir.path().join("simsid-harvest.service"))
        .unwrap()
        .replace("ProtectSystem=strict", "ProtectSysten=strict");
    std::fs::write(dir.path().join("simsid-harvest.service"), broken).unwrap();
    let out = Command::new(analyzer())
        .current_dir(dir.path())
        .args(["verify", "./simsid-harvest.service"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("ProtectSysten"));
}

#[test]
fn the_service_is_a_hardened_oneshot_with_the_secret_id_as_a_credential() {
    let service = std::fs::read_to_string(contrib().join("simsid-harvest.service")).unwrap();
    let lines: Vec<&str> = service.lines().map(str::trim).collect();
    for wanted in [
        "Type=oneshot",
        "DynamicUser=yes",
        "User=simsid",
        "StateDirectory=simsid",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "SystemCallFilter=@system-service",
        "LoadCredential=config.toml:/etc/simsid/config.toml",
        "Environment=SIMSID_CONFIG=%d/config.toml",
        "LoadCredential=vault-secret-id:/etc/simsid/vault-secret-id",
        "Environment=SIMSID_VAULT_SECRET_ID_FILE=%d/vault-secret-id",
        "Environment=SIMSID_METRICS=/var/lib/node_exporter/textfile_collector/simsid.prom",
        "SupplementaryGroups=simsid-metrics",
        "ReadWritePaths=/var/lib/node_exporter/textfile_collector",
        "ExecStart=/usr/local/bin/simsid harvest",
    ] {
        assert!(lines.contains(&wanted), "{wanted} in the service");
    }
    // The config is a credential, not a path the dynamic user must be able to read, and the
    // metrics never go to the private state directory.
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("ConfigurationDirectory=")));
    assert!(!lines.contains(&"Environment=SIMSID_CONFIG=/etc/simsid/config.toml"));
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("Environment=SIMSID_METRICS=%S")));
    let timer = std::fs::read_to_string(contrib().join("simsid-harvest.timer")).unwrap();
    assert!(timer.contains("Unit=simsid-harvest.service"));
    assert!(timer.contains("Persistent=true"));
}

/// The unprivileged user the service runs as (a stand-in for the dynamic user).
const NOBODY: u32 = 65534;
/// The metrics group (`SupplementaryGroups=simsid-metrics`); no name needed, only its id.
const METRICS_GID: u32 = 64_999;

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs the binary as `nobody` (with the metrics group) with exactly `env`: what the unit
/// sets, no HOME.
fn as_service(env: &BTreeMap<String, String>, args: &[&str]) -> std::process::Output {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("setpriv is not installed: `apt-get install -y util-linux` provides it");
    Command::new(setpriv)
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            &format!("--groups={METRICS_GID}"),
            "--",
        ])
        .arg(assert_cmd::cargo::cargo_bin("simsid"))
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

// the simulator's integrator secret goes into the root-owned source file, as an admin would put it.
#[allow(clippy::disallowed_methods)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_harvests_as_a_dynamic_user_with_what_the_unit_gives_it() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test becomes `nobody` with setpriv: run the suite as root \
         (`sudo -E cargo test --test suite service::systemd::`)"
    );
    let sim = simulator(12, 33).await;
    let sims = sim.env();
    let base = tempfile::tempdir().unwrap();
    chmod(base.path(), 0o755);

    // /etc/simsid: root's, 0600. The profile names its secret where systemd will put it.
    let etc = base.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    chmod(&etc, 0o700);
    let creds = base.path().join("credentials");
    let config = format!(
        "[profile.default]\n\
         application_id = \"{}\"\n\
         client_id = \"{}\"\n\
         organisation_id = \"{}\"\n\
         client_secret_file = \"{}\"\n\
         sts_url = \"{}\"\n\
         api_base = \"{}\"\n",
        sims.application_id,
        sims.client_id,
        sims.organisation_id,
        creds.join("client-secret").display(),
        sims.sts_url,
        sims.api_base,
    );
    std::fs::write(etc.join("config.toml"), config).unwrap();
    std::fs::write(
        etc.join("client-secret"),
        sims.client_secret.expose_secret(),
    )
    .unwrap();
    for f in ["config.toml", "client-secret"] {
        chmod(&etc.join(f), 0o600);
    }

    // LoadCredential=: systemd copies each source into a private directory readable by
    // the service's user only.
    std::fs::create_dir(&creds).unwrap();
    for f in ["config.toml", "client-secret"] {
        std::fs::copy(etc.join(f), creds.join(f)).unwrap();
        chown(&creds.join(f), NOBODY, NOBODY);
        chmod(&creds.join(f), 0o400);
    }
    chown(&creds, NOBODY, NOBODY);
    chmod(&creds, 0o500);
    // StateDirectory= and LogsDirectory=: the user's own, 0700.
    let state = base.path().join("state");
    let logs = base.path().join("logs");
    for d in [&state, &logs] {
        std::fs::create_dir(d).unwrap();
        chown(d, NOBODY, NOBODY);
        chmod(d, 0o700);
    }
    // The collector directory as the docs have the admin make it: root's, group-writable
    // for the metrics group, setgid.
    let collector = base.path().join("textfile_collector");
    std::fs::create_dir(&collector).unwrap();
    chown(&collector, 0, METRICS_GID);
    chmod(&collector, 0o2775);
    let metrics = collector.join("simsid.prom");

    let env: BTreeMap<String, String> = [
        ("PATH", "/usr/bin:/bin".to_string()),
        ("CREDENTIALS_DIRECTORY", creds.display().to_string()),
        ("STATE_DIRECTORY", state.display().to_string()),
        ("LOGS_DIRECTORY", logs.display().to_string()),
        (
            "SIMSID_CONFIG",
            creds.join("config.toml").display().to_string(),
        ),
        (
            "SIMSID_STORE",
            state.join("store.sqlite3").display().to_string(),
        ),
        ("SIMSID_LOG", logs.join("simsid.log").display().to_string()),
        ("SIMSID_METRICS", metrics.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    // The source files stay out of the user's reach: only the copies are read.
    let o = as_service(&env, &["harvest", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = common::json(&o);
    assert_eq!(run["status"], "complete");
    let meta = std::fs::metadata(&metrics).expect("the metrics file is written");
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    assert!(std::fs::read_to_string(&metrics)
        .unwrap()
        .contains("simsid_harvest_last_run_timestamp_seconds"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(state.join("store.sqlite3"))
            .unwrap()
            .uid(),
        NOBODY,
        "the store is the service user's"
    );
    let o = as_service(&env, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("healthy\n"), "{}", stdout(&o));

    // The collector directory no longer writable: the harvest still works, says so on
    // stderr, and status is unhealthy until a write succeeds.
    chmod(&collector, 0o755);
    let o = as_service(&env, &["harvest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: cannot write the metrics file"),
        "{}",
        stderr(&o)
    );
    let o = as_service(&env, &["status", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let doc = common::json(&o);
    assert!(
        doc["problems"][0]
            .as_str()
            .unwrap()
            .contains("simsid.prom could not be written"),
        "{doc}"
    );
    assert!(doc["metrics_error"]["path"].is_string(), "{doc}");
    chmod(&collector, 0o2775);
    let o = as_service(&env, &["harvest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = as_service(&env, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    sim.shutdown().await;
}
