//! The vault's settings (docs/reference/vault.md "Settings"): the vault keys of a profile and the
//! environment, resolved and validated into [`VaultSettings`] in the same pass as the rest.

use std::path::PathBuf;

use secrecy::SecretString;

use super::env::{is_var_name, Env};
use super::secret_file::{loose_file_warning, read_secret_file, Trim};
use crate::vault::path::is_valid_path;
use crate::vault::settings::{DEFAULT_APPROLE_MOUNT, DEFAULT_MOUNT, DEFAULT_PREFIX};
use crate::vault::{OnRemove, SecretRef, VaultAuth, VaultSettings};

/// The vault keys of one profile table, as written in the config file.
#[derive(Debug, Clone, Default)]
pub struct VaultProfile {
    pub secrets: Option<String>,
    pub vault_addr: Option<toml::Value>,
    pub vault_mount: Option<String>,
    pub vault_prefix: Option<String>,
    pub vault_namespace: Option<String>,
    pub vault_ca_file: Option<PathBuf>,
    pub vault_auth: Option<String>,
    pub vault_token_file: Option<PathBuf>,
    pub vault_role_id: Option<String>,
    pub vault_secret_id_env: Option<String>,
    pub vault_secret_id_file: Option<PathBuf>,
    pub vault_approle_mount: Option<String>,
    pub vault_on_remove: Option<String>,
    pub client_secret_vault: Option<String>,
}

/// What [`resolve`] found.
#[derive(Debug, Clone, Default)]
pub struct ResolvedVault {
    /// `secrets = "vault"`: the vault is the system of record (else the local store).
    pub secrets_in_vault: bool,
    /// Present when an address is configured (and every vault key is valid).
    pub settings: Option<VaultSettings>,
    pub client_secret_vault: Option<SecretRef>,
    /// Warnings that do not stop the command (a token or secret id file readable by group
    /// or others).
    pub warnings: Vec<String>,
}

/// Whether `host` (from a URL) is a loopback name or address.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Validates one vault address: `https://HOST[:PORT]`, or `http://` on loopback only.
pub fn parse_addr(raw: &str) -> Result<String, String> {
    let addr = raw.trim().trim_end_matches('/');
    if addr.contains('@') {
        // `user:password@host`: the address is not shown, it may hold a password.
        return Err(
            "a vault address holds user information (`user:password@…`): refused, and not shown; \
             give the address as https://HOST[:PORT] and authenticate with a token or AppRole"
                .to_string(),
        );
    }
    let shown = crate::sanitize::for_terminal(addr);
    let url = reqwest::Url::parse(addr).map_err(|_| {
        format!("vault address `{shown}` is not a URL (e.g. https://vault.example:8200)")
    })?;
    let host = url.host_str().unwrap_or_default().to_string();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(format!(
                "vault address `{shown}` uses plain http:// on a non-loopback host; use https://"
            ))
        }
        _ => return Err(format!("vault address `{shown}` is not an http(s) URL")),
    }
    if host.is_empty() || url.path().len() > 1 || url.query().is_some() {
        return Err(format!(
            "vault address `{shown}` must be scheme://host[:port] with no path"
        ));
    }
    Ok(addr.to_string())
}

fn addr_list(value: &toml::Value) -> Result<Vec<String>, String> {
    match value {
        toml::Value::String(s) => Ok(s.split(',').map(str::to_string).collect()),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "vault_addr must be a string or a list of strings".to_string())
            })
            .collect(),
        _ => Err("vault_addr must be a string or a list of strings".to_string()),
    }
}

/// Hidden (undocumented) override of the vault retry budget in milliseconds, for tests that
/// show an outage failing within one budget without waiting 60 s each time.
const RETRY_BUDGET_ENV: &str = "SIMSID_VAULT_RETRY_BUDGET_MS";

/// The integrator's own secret in the vault (`client_secret_vault`,
/// `$SIMSID_CLIENT_SECRET_VAULT`): `None` when unset; a malformed one is a problem.
pub(super) fn integrator_secret_ref(
    p: &VaultProfile,
    env: &dyn Env,
    problems: &mut Vec<String>,
) -> Option<SecretRef> {
    let text = env
        .var("SIMSID_CLIENT_SECRET_VAULT")
        .or(p.client_secret_vault.clone())?;
    match SecretRef::parse(&text) {
        Ok(r) => Some(r),
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// The KV mount and the prefix (`{application_id}` replaced when `application_id` is
/// known); a malformed one is a problem.
pub(super) fn mount_and_prefix(
    p: &VaultProfile,
    env: &dyn Env,
    application_id: Option<&str>,
    problems: &mut Vec<String>,
) -> (String, String) {
    let mount = env
        .var("SIMSID_VAULT_MOUNT")
        .or(p.vault_mount.clone())
        .unwrap_or_else(|| DEFAULT_MOUNT.to_string())
        .trim_matches('/')
        .to_string();
    if !is_valid_path(&mount) || mount.contains('{') {
        problems.push(format!(
            "vault_mount `{}` is not a mount path (letters, digits, `.`, `_`, `-`, `/`)",
            crate::sanitize::for_terminal(&mount)
        ));
    }
    let prefix_raw = env
        .var("SIMSID_VAULT_PREFIX")
        .or(p.vault_prefix.clone())
        .unwrap_or_else(|| DEFAULT_PREFIX.to_string())
        .trim_matches('/')
        .to_string();
    let prefix = match application_id {
        Some(app) => prefix_raw.replace("{application_id}", app),
        None => prefix_raw.clone(),
    };
    let placeholder_ok = prefix.replace("{application_id}", "x");
    if !is_valid_path(&placeholder_ok)
        || placeholder_ok.contains('{')
        || placeholder_ok.contains('}')
    {
        problems.push(format!(
            "vault_prefix `{}` is not a path (segments of letters, digits, `.`, `_`, `-`; `{{application_id}}` is replaced)",
            crate::sanitize::for_terminal(&prefix_raw)
        ));
    }
    (mount, prefix)
}

/// Resolves and validates the vault keys; every problem goes to `problems` (exit 2).
/// `application_id` replaces `{application_id}` in the prefix when known.
pub fn resolve(
    p: &VaultProfile,
    env: &dyn Env,
    application_id: Option<&str>,
    table: &str,
    problems: &mut Vec<String>,
) -> ResolvedVault {
    let before = problems.len();
    let mut warnings = Vec::new();
    let secrets_in_vault = match env.var("SIMSID_SECRETS").or(p.secrets.clone()).as_deref() {
        None | Some("local") => false,
        Some("vault") => true,
        Some(other) => {
            problems.push(format!(
                "secrets `{}` is neither \"local\" nor \"vault\" (SIMSID_SECRETS / `secrets` in {table})",
                crate::sanitize::for_terminal(other)
            ));
            false
        }
    };
    let client_secret_vault = integrator_secret_ref(p, env, problems);

    let raw_addrs: Option<Vec<String>> = if let Some(v) = env.var("SIMSID_VAULT_ADDR") {
        Some(v.split(',').map(str::to_string).collect())
    } else if let Some(v) = env.var("VAULT_ADDR") {
        Some(vec![v])
    } else {
        match &p.vault_addr {
            Some(v) => match addr_list(v) {
                Ok(list) => Some(list),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
            None => None,
        }
    };
    let mut addrs = Vec::new();
    for raw in raw_addrs.iter().flatten().filter(|a| !a.trim().is_empty()) {
        match parse_addr(raw) {
            Ok(a) if !addrs.contains(&a) => addrs.push(a),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    let needs_vault = secrets_in_vault || client_secret_vault.is_some();
    if needs_vault && addrs.is_empty() && problems.len() == before {
        problems.push(format!(
            "vault mode needs the vault's address: set VAULT_ADDR (or SIMSID_VAULT_ADDR, comma-separated for a cluster) or `vault_addr` in {table}"
        ));
    }

    let (mount, prefix) = mount_and_prefix(p, env, application_id, problems);
    let namespace = env
        .var("SIMSID_VAULT_NAMESPACE")
        .or_else(|| env.var("VAULT_NAMESPACE"))
        .or(p.vault_namespace.clone());
    let ca_file = env
        .var("SIMSID_VAULT_CA_FILE")
        .or_else(|| env.var("VAULT_CACERT"))
        .map(PathBuf::from)
        .or(p.vault_ca_file.clone());
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            problems.push(format!(
                "vault CA file {} does not exist (SIMSID_VAULT_CA_FILE / VAULT_CACERT / `vault_ca_file`)",
                ca.display()
            ));
        }
    }
    let on_remove = match p.vault_on_remove.as_deref() {
        None | Some("delete") => OnRemove::Delete,
        Some("soft") => OnRemove::Soft,
        Some(other) => {
            problems.push(format!(
                "vault_on_remove `{}` in {table} is neither \"delete\" nor \"soft\"",
                crate::sanitize::for_terminal(other)
            ));
            OnRemove::Delete
        }
    };
    let auth = match env
        .var("SIMSID_VAULT_AUTH")
        .or(p.vault_auth.clone())
        .as_deref()
    {
        None | Some("token") => {
            let token_file = p.vault_token_file.clone().unwrap_or_else(|| {
                // `%USERPROFILE%` where there is no `$HOME` (Windows), as the vault CLI does.
                PathBuf::from(
                    env.var("HOME")
                        .or_else(|| env.var("USERPROFILE"))
                        .unwrap_or_else(|| ".".to_string()),
                )
                .join(".vault-token")
            });
            let token = env.var("VAULT_TOKEN").map(SecretString::from);
            if token.is_none() && needs_vault {
                let shown = format!("vault token file {}", token_file.display());
                if let Some(w) = loose_file_warning(
                    &token_file,
                    &shown,
                    &crate::platform::make_private_command(None),
                ) {
                    warnings.push(w);
                }
            }
            Some(VaultAuth::Token { token, token_file })
        }
        Some("approle") => {
            let role_id = env.var("SIMSID_VAULT_ROLE_ID").or(p.vault_role_id.clone());
            if role_id.is_none() {
                problems.push(format!(
                    "AppRole needs a role id: set SIMSID_VAULT_ROLE_ID or `vault_role_id` in {table}"
                ));
            }
            // `SIMSID_VAULT_SECRET_ID_FILE` (e.g. systemd's `$CREDENTIALS_DIRECTORY/…` from
            // `LoadCredential=`) wins over the profile's `vault_secret_id_file`.
            let secret_id_file = env
                .var("SIMSID_VAULT_SECRET_ID_FILE")
                .map(PathBuf::from)
                .or_else(|| p.vault_secret_id_file.clone());
            // Neither value is ever quoted: it may be the secret id pasted in the wrong place.
            let secret_id = match (&p.vault_secret_id_env, &secret_id_file) {
                (Some(var), _) if !is_var_name(var) => Err(format!(
                    "`vault_secret_id_env` in {table} is not the name of an environment variable \
                     (its value is not shown: it may be the secret id itself; put the secret id \
                     in a variable and name the variable here)"
                )),
                (Some(var), _) => env.var(var).map(SecretString::from).ok_or_else(|| {
                    format!(
                        "`vault_secret_id_env` in {table} names an environment variable that is not set"
                    )
                }),
                (None, Some(path)) => {
                    read_secret_file(path, "vault_secret_id_file", Trim::Whitespace).inspect(|_| {
                        let shown = "the file named by `vault_secret_id_file`";
                        warnings.extend(loose_file_warning(path, shown, &crate::platform::make_private_command(None)));
                    })
                }
                (None, None) => Err(format!(
                    "AppRole needs a secret id: set `vault_secret_id_env` (the name of an environment variable) or `vault_secret_id_file` in {table}"
                )),
            };
            match (role_id, secret_id) {
                (Some(role_id), Ok(secret_id)) => Some(VaultAuth::AppRole {
                    mount: p
                        .vault_approle_mount
                        .clone()
                        .unwrap_or_else(|| DEFAULT_APPROLE_MOUNT.to_string())
                        .trim_matches('/')
                        .to_string(),
                    role_id,
                    secret_id,
                }),
                (_, Err(e)) => {
                    problems.push(e);
                    None
                }
                (None, Ok(_)) => None,
            }
        }
        Some(other) => {
            problems.push(format!(
                "vault_auth `{}` is neither \"token\" nor \"approle\" (SIMSID_VAULT_AUTH / `vault_auth` in {table})",
                crate::sanitize::for_terminal(other)
            ));
            None
        }
    };
    let settings = match auth {
        Some(auth) if !addrs.is_empty() && problems.len() == before => Some(VaultSettings {
            addrs,
            mount,
            prefix,
            namespace,
            ca_file,
            auth,
            on_remove,
            retry_budget: env
                .var(RETRY_BUDGET_ENV)
                .and_then(|v| v.parse::<u64>().ok())
                .map(std::time::Duration::from_millis),
        }),
        _ => None,
    };
    ResolvedVault {
        secrets_in_vault,
        settings,
        client_secret_vault,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn addresses_accept_https_and_loopback_http_only() {
        assert_eq!(
            parse_addr("https://vault.example:8200/").unwrap(),
            "https://vault.example:8200"
        );
        assert!(parse_addr("http://127.0.0.1:8200").is_ok());
        assert!(parse_addr("http://[::1]:8200").is_ok());
        assert!(parse_addr("http://localhost:8200").is_ok());
        assert!(parse_addr("http://vault.example:8200")
            .unwrap_err()
            .contains("non-loopback"));
        assert!(parse_addr("ftp://x").is_err());
        assert!(parse_addr("https://v.example/v1").is_err());
    }

    #[test]
    fn environment_wins_and_prefix_takes_the_application_id() {
        let e = env(&[
            ("SIMSID_SECRETS", "vault"),
            ("SIMSID_VAULT_ADDR", "http://127.0.0.1:1,http://127.0.0.1:2"),
            ("VAULT_ADDR", "http://127.0.0.1:3"),
            ("VAULT_TOKEN", "t"),
            ("VAULT_NAMESPACE", "ns1"),
        ]);
        let mut problems = Vec::new();
        let r = resolve(
            &VaultProfile::default(),
            &e,
            Some("APP"),
            "[profile.default]",
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(r.secrets_in_vault);
        let s = r.settings.unwrap();
        assert_eq!(s.addrs, ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
        assert_eq!(s.prefix, "simsid/APP");
        assert_eq!(s.mount, "secret");
        assert_eq!(s.namespace.as_deref(), Some("ns1"));
        assert!(matches!(s.auth, VaultAuth::Token { token: Some(_), .. }));
    }

    #[test]
    fn every_bad_value_is_reported() {
        let p = VaultProfile {
            secrets: Some("cloud".into()),
            vault_addr: Some(toml::Value::String("http://vault.example".into())),
            vault_prefix: Some("a//b".into()),
            vault_on_remove: Some("shred".into()),
            vault_auth: Some("approle".into()),
            client_secret_vault: Some("nofield".into()),
            ..VaultProfile::default()
        };
        let mut problems = Vec::new();
        let r = resolve(&p, &env(&[]), None, "[profile.x]", &mut problems);
        assert!(r.settings.is_none());
        let all = problems.join("\n");
        for needle in [
            "secrets `cloud`",
            "non-loopback",
            "vault_prefix",
            "vault_on_remove",
            "client_secret_vault",
            "role id",
            "secret id",
        ] {
            assert!(all.contains(needle), "{needle} missing in {all}");
        }
    }

    #[test]
    fn vault_mode_without_an_address_is_a_problem() {
        let mut problems = Vec::new();
        resolve(
            &VaultProfile::default(),
            &env(&[("SIMSID_SECRETS", "vault")]),
            None,
            "[profile.default]",
            &mut problems,
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("VAULT_ADDR"), "{problems:?}");
    }

    #[test]
    fn user_information_in_an_address_is_refused_and_not_shown() {
        let e = parse_addr("https://admin:hunter2@vault.example:8200").unwrap_err();
        assert!(e.contains("user information"), "{e}");
        assert!(!e.contains("hunter2") && !e.contains("admin"), "{e}");
    }

    #[test]
    fn secret_id_settings_are_never_echoed() {
        let p = VaultProfile {
            vault_auth: Some("approle".into()),
            vault_role_id: Some("role".into()),
            vault_secret_id_env: Some("s.PASTED-SECRET-ID".into()),
            ..VaultProfile::default()
        };
        let mut problems = Vec::new();
        resolve(&p, &env(&[]), None, "[profile.x]", &mut problems);
        let all = problems.join("\n");
        assert!(all.contains("vault_secret_id_env"), "{all}");
        assert!(!all.contains("PASTED"), "{all}");
        let p = VaultProfile {
            vault_secret_id_env: Some("UNSET_VARIABLE_NAME".into()),
            ..p
        };
        let mut problems = Vec::new();
        resolve(&p, &env(&[]), None, "[profile.x]", &mut problems);
        let all = problems.join("\n");
        assert!(all.contains("not set"), "{all}");
        assert!(!all.contains("UNSET_VARIABLE_NAME"), "{all}");
        let p = VaultProfile {
            vault_secret_id_env: None,
            vault_secret_id_file: Some("/nonexistent/PASTED-SECRET".into()),
            ..p
        };
        let mut problems = Vec::new();
        resolve(&p, &env(&[]), None, "[profile.x]", &mut problems);
        let all = problems.join("\n");
        assert!(all.contains("vault_secret_id_file"), "{all}");
        assert!(!all.contains("PASTED"), "{all}");
    }

    #[test]
    fn the_secret_id_file_may_come_from_the_environment() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vault-secret-id");
        std::fs::write(&file, "s-id-from-credentials\n").unwrap();
        crate::platform::set_sharing(&file, crate::platform::Sharing::Private).unwrap();
        let p = VaultProfile {
            secrets: Some("vault".into()),
            vault_addr: Some(toml::Value::String("http://127.0.0.1:8200".into())),
            vault_auth: Some("approle".into()),
            vault_role_id: Some("role".into()),
            vault_secret_id_file: Some("/nonexistent/secret-id".into()),
            ..VaultProfile::default()
        };
        let vars = [("SIMSID_VAULT_SECRET_ID_FILE", file.to_str().unwrap())];
        let mut problems = Vec::new();
        let resolved = resolve(&p, &env(&vars), None, "[profile.x]", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let auth = format!("{:?}", resolved);
        assert!(!auth.contains("s-id-from-credentials"), "never in Debug");
        let Some(settings) = resolved.settings else {
            panic!("vault settings resolved");
        };
        match settings.auth {
            VaultAuth::AppRole { secret_id, .. } => {
                assert_eq!(secret_id.expose_secret(), "s-id-from-credentials")
            }
            other => panic!("AppRole expected, got {other:?}"),
        }
    }
}
