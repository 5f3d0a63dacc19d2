//! Opening the store and building the SIMS client from resolved settings.

use std::time::Duration;

use chrono::Utc;

use crate::cli::CliError;
use crate::config::{LocalSettings, RemoteSettings, Settings};
use crate::domain::{AuditAction, AuditEntry, Fingerprint, OrgId};
use crate::sims::{SimsClient, SimsSettings};
use crate::store::{default_key_path, Store, StoreError, StoreKey};

use super::OpResult;

/// The OS user recorded in audit entries.
pub fn os_user() -> String {
    let name = whoami::username();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// Settings plus who is acting.
#[derive(Debug, Clone)]
pub struct Context {
    pub settings: Settings,
    pub user: String,
}

impl Context {
    /// The context for `settings` and the current OS user.
    pub fn new(settings: Settings) -> Self {
        Context {
            settings,
            user: os_user(),
        }
    }

    /// The remote settings, or the usage error listing what is missing.
    pub fn remote(&self) -> OpResult<&RemoteSettings> {
        self.settings
            .remote
            .as_ref()
            .map_err(|e| CliError::usage(e.to_string()))
    }

    /// An audit entry stamped now for this user.
    pub fn audit_entry(
        &self,
        action: AuditAction,
        org: Option<&OrgId>,
        client_id: Option<&str>,
        fingerprint: Option<&Fingerprint>,
        detail: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            at: Utc::now(),
            user: self.user.clone(),
            action,
            organisation_id: org.cloned(),
            client_id: client_id.map(str::to_string),
            fingerprint: fingerprint.cloned(),
            detail,
        }
    }
}

/// Maps a store error to exit code 1 with a message that says where.
pub fn store_error(local: &LocalSettings, e: StoreError) -> CliError {
    CliError::runtime(format!("store {}: {e}", local.store_path.display()))
}

/// The store key: `$SIMSID_STORE_KEY` when set, else the key file beside the store.
pub fn store_key(local: &LocalSettings) -> OpResult<StoreKey> {
    match &local.store_key {
        Some(b64) => StoreKey::from_base64(b64)
            .map_err(|e| CliError::usage(format!("SIMSID_STORE_KEY: {e}"))),
        // The store creates the key file, and its 0700 directory, on first use.
        None => StoreKey::load_or_create(&default_key_path(&local.store_path))
            .map_err(|e| store_error(local, e)),
    }
}

/// Opens (creating on first use) the store of these settings.
pub fn open_store(local: &LocalSettings) -> OpResult<Store> {
    let key = store_key(local)?;
    Store::open(&local.store_path, key).map_err(|e| store_error(local, e))
}

/// The SIMS ID client for these settings.
pub fn sims_client(remote: &RemoteSettings) -> OpResult<SimsClient> {
    SimsClient::new(SimsSettings {
        sts_url: remote.sts_url.clone(),
        api_base: remote.api_base.clone(),
        application_id: remote.application_id.clone(),
        client_id: remote.client_id.clone(),
        client_secret: remote.client_secret.clone(),
        organisation_id: remote.organisation_id.clone(),
        scopes: remote.scopes.clone(),
        acr_values: remote.acr_values.clone(),
        apim_key: remote.apim_key.clone(),
        timeout: remote.timeout,
        connect_timeout: remote.timeout.min(Duration::from_secs(10)),
        client_auth: remote.sts_client_auth,
        verify_scopes: remote.verify_scopes.clone(),
    })
    .map_err(|e| CliError::runtime(format!("cannot build the SIMS ID client: {e}")))
}
