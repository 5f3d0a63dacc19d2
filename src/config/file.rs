//! The config file's schema: `[profile.NAME]` tables, read and parsed without ever quoting a
//! value (a line may hold a plaintext secret), and the choice of one profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::settings::Dirs;
use super::vault::VaultProfile;

/// Whether `name` is a valid profile name: letters, digits, `-` and `_`, 1 to 64.
pub fn is_profile_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// One `[profile.NAME]` table as written in the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileFile {
    /// A string; any other TOML type gets the App Management explanation.
    pub(super) application_id: Option<toml::Value>,
    pub(super) client_id: Option<String>,
    pub(super) organisation_id: Option<String>,
    /// Refused: present only so the error can say why.
    pub(super) client_secret: Option<toml::Value>,
    pub(super) client_secret_env: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) sts_url: Option<String>,
    pub(super) api_base: Option<String>,
    pub(super) scopes: Option<String>,
    pub(super) acr_values: Option<String>,
    pub(super) apim_key_env: Option<String>,
    pub(super) concurrency: Option<i64>,
    pub(super) timeout_secs: Option<i64>,
    pub(super) sts_client_auth: Option<String>,
    pub(super) verify_scopes: Option<String>,
    pub(super) store: Option<PathBuf>,
    /// Where a new store's key goes: `"keychain"`, `"file"` or `"env"`.
    pub(super) store_key: Option<String>,
    pub(super) log_file: Option<PathBuf>,
    pub(super) readonly: Option<bool>,
    pub(super) metrics_file: Option<PathBuf>,
    /// `status`: a last complete harvest (or pulled view) older than this is unhealthy.
    pub(super) max_age: Option<String>,
    /// Team mode: `"sims"` (this machine harvests) or `"vault"` (a viewer).
    pub(super) source: Option<String>,
    // Vault mode (docs/reference/vault.md "Settings").
    pub(super) secrets: Option<String>,
    pub(super) vault_addr: Option<toml::Value>,
    pub(super) vault_mount: Option<String>,
    pub(super) vault_prefix: Option<String>,
    pub(super) vault_namespace: Option<String>,
    pub(super) vault_ca_file: Option<PathBuf>,
    pub(super) vault_auth: Option<String>,
    pub(super) vault_token_file: Option<PathBuf>,
    pub(super) vault_role_id: Option<String>,
    pub(super) vault_secret_id_env: Option<String>,
    pub(super) vault_secret_id_file: Option<PathBuf>,
    pub(super) vault_approle_mount: Option<String>,
    pub(super) vault_on_remove: Option<String>,
    pub(super) client_secret_vault: Option<String>,
}

impl ProfileFile {
    pub(super) fn vault(&self) -> VaultProfile {
        VaultProfile {
            secrets: self.secrets.clone(),
            vault_addr: self.vault_addr.clone(),
            vault_mount: self.vault_mount.clone(),
            vault_prefix: self.vault_prefix.clone(),
            vault_namespace: self.vault_namespace.clone(),
            vault_ca_file: self.vault_ca_file.clone(),
            vault_auth: self.vault_auth.clone(),
            vault_token_file: self.vault_token_file.clone(),
            vault_role_id: self.vault_role_id.clone(),
            vault_secret_id_env: self.vault_secret_id_env.clone(),
            vault_secret_id_file: self.vault_secret_id_file.clone(),
            vault_approle_mount: self.vault_approle_mount.clone(),
            vault_on_remove: self.vault_on_remove.clone(),
            client_secret_vault: self.client_secret_vault.clone(),
        }
    }
}

/// The whole config file: its `[profile.NAME]` tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    #[serde(default)]
    pub(super) profile: BTreeMap<String, ProfileFile>,
}

/// The config file: `chosen` (`--config`, else `$SIMSID_CONFIG`), else `config.toml` in the
/// config directory when it exists. Nothing when there is none.
pub(super) fn read_config_file(
    chosen: Option<PathBuf>,
    dirs: &Dirs,
    problems: &mut Vec<String>,
) -> (Option<PathBuf>, ConfigFile) {
    let default_path = dirs.config_dir.join("config.toml");
    let path = match chosen {
        Some(p) => p,
        None if default_path.exists() => default_path,
        None => return (None, ConfigFile::default()),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let file = parse_file(&path, &text, problems);
            (Some(path), file)
        }
        Err(e) => {
            problems.push(format!(
                "cannot read config file {}: {}",
                path.display(),
                e.kind()
            ));
            (None, ConfigFile::default())
        }
    }
}

/// The profile's table (empty for `default` when the file has none); reports bad profile
/// names in the file and an unknown profile.
pub(super) fn choose_profile(
    file: &ConfigFile,
    profile: &str,
    problems: &mut Vec<String>,
) -> ProfileFile {
    for name in file.profile.keys().filter(|n| !is_profile_name(n)) {
        problems.push(format!(
            "profile `{}` in the config file is not a valid name: use letters, digits, `-` and \
             `_` (at most 64)",
            crate::sanitize::bounded(name, 64)
        ));
    }
    if let Some(p) = file.profile.get(profile) {
        return p.clone();
    }
    if profile != "default" {
        let known = if file.profile.is_empty() {
            "none".to_string()
        } else {
            file.profile.keys().cloned().collect::<Vec<_>>().join(", ")
        };
        problems.push(format!(
            "profile `{profile}` is not in the config file (profiles: {known})"
        ));
    }
    ProfileFile::default()
}

/// Parses the file's text; a problem names the line and the kind of error, never the text.
fn parse_file(path: &Path, text: &str, problems: &mut Vec<String>) -> ConfigFile {
    match toml::from_str::<ConfigFile>(text) {
        Ok(f) => f,
        Err(e) => {
            // toml's messages quote the offending line, which could hold a plaintext secret:
            // report the location and the kind of problem only.
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            let kind = e.message().lines().next().unwrap_or("invalid TOML");
            let kind = if kind.contains('"') || kind.contains('\'') {
                "invalid value or unknown key"
            } else {
                kind
            };
            problems.push(format!(
                "config file {} is not valid{at}: {kind} (expected [profile.NAME] tables with keys \
                 application_id, client_id, organisation_id, client_secret_env or \
                 client_secret_file, sts_url, api_base, scopes, acr_values, apim_key_env, \
                 concurrency, timeout_secs, sts_client_auth, verify_scopes, store, store_key, log_file, \
                 readonly, metrics_file, max_age, source, and the vault keys secrets, vault_addr, vault_mount, vault_prefix, \
                 vault_namespace, vault_ca_file, vault_auth, vault_token_file, vault_role_id, \
                 vault_secret_id_env, vault_secret_id_file, vault_approle_mount, \
                 vault_on_remove, client_secret_vault)",
                path.display()
            ));
            ConfigFile::default()
        }
    }
}
