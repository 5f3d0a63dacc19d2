//! `contrib/systemd/` (cli.md "Signals, services and monitoring"): the hardened oneshot
//! service and its timer pass `systemd-analyze verify` with no warning, and carry the
//! hardening the issue asks for. `systemd-analyze` must be installed (the `systemd`
//! package): without it this test fails rather than skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

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
        "LoadCredential=vault-secret-id:/etc/simsid/vault-secret-id",
        "Environment=SIMSID_VAULT_SECRET_ID_FILE=%d/vault-secret-id",
        "Environment=SIMSID_METRICS=/var/lib/node_exporter/textfile_collector/simsid.prom",
        "ExecStart=/usr/local/bin/simsid harvest",
    ] {
        assert!(lines.contains(&wanted), "{wanted} in the service");
    }
    let timer = std::fs::read_to_string(contrib().join("simsid-harvest.timer")).unwrap();
    assert!(timer.contains("Unit=simsid-harvest.service"));
    assert!(timer.contains("Persistent=true"));
}
