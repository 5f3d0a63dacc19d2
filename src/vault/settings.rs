//! Vault-mode settings (docs/reference/vault.md "Settings"): the validated form the vault client and the
//! sync read, and the defaults. `config::vault` resolves them from a profile and the
//! environment.

use std::path::PathBuf;

use secrecy::SecretString;

use super::path::is_valid_path;

/// The default KV v2 mount.
pub const DEFAULT_MOUNT: &str = "secret";
/// The default path under the mount; `{application_id}` is replaced.
pub const DEFAULT_PREFIX: &str = "simsid/{application_id}";
/// The default AppRole mount.
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";

/// What happens in the vault to a credential that SIMS ID no longer lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRemove {
    /// Delete the key's metadata and every version.
    #[default]
    Delete,
    /// Soft-delete the latest version.
    Soft,
}

/// How `simsid` authenticates to the vault. Never `Debug`-prints a secret.
#[derive(Debug, Clone)]
pub enum VaultAuth {
    /// `VAULT_TOKEN` when set, else the token file (read when first needed).
    Token {
        token: Option<SecretString>,
        token_file: PathBuf,
    },
    /// AppRole login with a role id and a secret id read from an env var or a file.
    AppRole {
        mount: String,
        role_id: String,
        secret_id: SecretString,
    },
}

/// Everything needed to talk to the vault.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// One or more node addresses, without a trailing `/`.
    pub addrs: Vec<String>,
    pub mount: String,
    /// The path under the mount, `{application_id}` already replaced when known.
    pub prefix: String,
    pub namespace: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub auth: VaultAuth,
    pub on_remove: OnRemove,
    /// The retry time budget of one request across nodes (default 60 s); config reads a
    /// test-only override (`SIMSID_VAULT_RETRY_BUDGET_MS`).
    pub retry_budget: Option<std::time::Duration>,
}

/// A secret in a KV v2 mount: `MOUNT/PATH#FIELD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub mount: String,
    pub path: String,
    pub field: String,
}

impl SecretRef {
    /// Parses `MOUNT/PATH#FIELD` (PATH may contain `/`).
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        let bad = || {
            format!(
                "client_secret_vault `{}` is not MOUNT/PATH#FIELD (e.g. secret/simsid/integrator#client_secret)",
                crate::sanitize::for_terminal(text)
            )
        };
        let (location, field) = text.rsplit_once('#').ok_or_else(bad)?;
        let (mount, path) = location.split_once('/').ok_or_else(bad)?;
        if mount.is_empty() || field.is_empty() || !is_valid_path(path) || !is_valid_path(mount) {
            return Err(bad());
        }
        Ok(SecretRef {
            mount: mount.to_string(),
            path: path.to_string(),
            field: field.to_string(),
        })
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}#{}", self.mount, self.path, self.field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_refs_parse() {
        let r = SecretRef::parse("secret/team/simsid#client_secret").unwrap();
        assert_eq!(r.mount, "secret");
        assert_eq!(r.path, "team/simsid");
        assert_eq!(r.field, "client_secret");
        assert!(SecretRef::parse("secret#x").is_err());
        assert!(SecretRef::parse("secret/a/../b#x").is_err());
    }
}
