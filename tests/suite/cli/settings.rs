//! Settings are checked before any network call and never echoed: a secret in a
//! configuration file or the environment appears in no error, and invalid settings fail at
//! validation.
// Tests compare secrets with what the simulator served.
#![allow(clippy::disallowed_methods)]

use crate::support::common;

use std::collections::BTreeMap;

use common::*;

/// Runs the binary with a config file holding `toml` and `env` (no simulator needed).
async fn with_config(
    toml: &str,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let mut env = BTreeMap::new();
    env.insert("SIMSID_CONFIG".to_string(), path.display().to_string());
    env.insert(
        "SIMSID_STORE".to_string(),
        dir.path().join("store.sqlite3").display().to_string(),
    );
    env.insert(
        "SIMSID_LOG".to_string(),
        dir.path().join("simsid.log").display().to_string(),
    );
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let o = simsid(&env, args).await;
    (o, dir)
}

const PROFILE: &str = r#"
application_id  = "11111111-2222-3333-4444-555555555555"
client_id       = "sas-test"
organisation_id = "207A1392-E1F6-47BA-81DA-6C374971D788"
sts_url  = "https://127.0.0.1:9/connect/token"
api_base = "https://127.0.0.1:9/api/v1/partner"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_never_echoes_secrets_and_fails_at_validation() {
    // A secret pasted into `client_secret_env` or `client_secret_file` is never echoed.
    let pasted = "Xk9$pasted+secret/value==";
    for key in ["client_secret_env", "client_secret_file"] {
        let toml = format!("[profile.default]{PROFILE}{key} = \"{pasted}\"\n");
        let (o, dir) = with_config(&toml, &[], &["harvest"]).await;
        assert!(matches!(o.status.code(), Some(1 | 2)), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            !err.contains(pasted) && !err.contains("pasted+secret"),
            "{key}: {err}"
        );
        assert!(err.contains(key), "{key}: {err}");
        let log = std::fs::read_to_string(dir.path().join("simsid.log")).unwrap_or_default();
        assert!(!log.contains("pasted+secret"), "{key}: {log}");
    }
    // A valid variable name is named.
    let toml = format!("[profile.default]{PROFILE}client_secret_env = \"MY_SECRET_VAR\"\n");
    let (o, _dir) = with_config(&toml, &[], &["harvest"]).await;
    assert!(stderr(&o).contains("MY_SECRET_VAR"), "{}", stderr(&o));

    // Profile names are not paths.
    let toml = format!("[profile.\"../../x\"]{PROFILE}");
    let (o, dir) = with_config(&toml, &[("SIMSID_PROFILE", "../../x")], &["sites"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("profile"), "{}", stderr(&o));
    assert!(!dir.path().join("x").exists());

    // http:// to a host other than loopback: exit 2 at validation.
    let toml = format!(
        "[profile.default]{}",
        PROFILE.replace(
            "https://127.0.0.1:9/connect",
            "http://sts.example.com/connect"
        )
    );
    let (o, _dir) = with_config(&toml, &[("SIMSID_CLIENT_SECRET", "s")], &["harvest"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("https"), "{}", stderr(&o));

    // A TOML integer application id gets the App Management explanation.
    let toml = format!(
        "[profile.default]{}",
        PROFILE.replace("\"11111111-2222-3333-4444-555555555555\"", "12345")
    );
    let (o, _dir) = with_config(&toml, &[("SIMSID_CLIENT_SECRET", "s")], &["harvest"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("App Management"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("invalid type"), "{}", stderr(&o));

    // An empty SIMSID_STS_URL is an error, not production.
    let toml = format!("[profile.default]{PROFILE}");
    let (o, _dir) = with_config(
        &toml,
        &[("SIMSID_CLIENT_SECRET", "s"), ("SIMSID_STS_URL", "")],
        &["harvest"],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("SIMSID_STS_URL"), "{}", stderr(&o));
}
