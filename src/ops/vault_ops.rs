//! Vault-mode operations both front ends share: the client from settings, the integrator's
//! secret from the vault, reading a credential on demand (reveal, copy, verify) with its
//! audit record, and `vault check`.

use std::collections::HashMap;

use secrecy::SecretString;
use serde::Serialize;
use tracing::info;

use super::OpError;
use super::{Keeper, OpResult};
use crate::domain::{AuditAction, OrgId};
use crate::store::Store;
use crate::vault::path::credential_key;
use crate::vault::policy::{self, HARVEST_DATA_CAPS, HARVEST_METADATA_CAPS};
use crate::vault::{
    CredentialRecord, NodeRole, Route, SecretRef, VaultClient, VaultError, VaultSettings,
};

/// The message of a `403` on a credential read (docs/reference/vault.md "Reading in vault mode").
pub const MAY_NOT_READ: &str = "your vault identity may not read this credential";

/// Reads a `MOUNT/PATH#FIELD` secret.
pub async fn read_secret_ref(client: &VaultClient, r: &SecretRef) -> OpResult<SecretString> {
    let read = client
        .kv_read::<HashMap<String, serde_json::Value>>(&r.mount, &r.path, Route::Any)
        .await
        .map_err(|e| match e {
            VaultError::Forbidden(_) => OpError::failed(format!(
                "client_secret_vault {r}: your vault identity may not read it"
            )),
            other => OpError::failed(format!("client_secret_vault {r}: {other}")),
        })?
        .ok_or_else(|| OpError::failed(format!("client_secret_vault {r}: no such secret")))?;
    let mut data = read.data;
    let value = data.remove(&r.field);
    drop(data);
    match value {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(SecretString::from(s)),
        _ => Err(OpError::failed(format!(
            "client_secret_vault {r}: the secret has no non-empty string field `{}`",
            r.field
        ))),
    }
}

/// Reads one credential from the vault (the active node, so a read right after a harvest
/// sees it).
pub async fn read_credential(
    client: &VaultClient,
    settings: &VaultSettings,
    org: &OrgId,
    client_id: &str,
) -> OpResult<CredentialRecord> {
    read_credential_version(client, settings, org, client_id)
        .await
        .map(|r| r.data)
}

/// [`read_credential`] with the KV version read.
pub async fn read_credential_version(
    client: &VaultClient,
    settings: &VaultSettings,
    org: &OrgId,
    client_id: &str,
) -> OpResult<crate::vault::KvRead<CredentialRecord>> {
    let key = credential_key(&settings.prefix, org, client_id);
    match client
        .kv_read::<CredentialRecord>(&settings.mount, &key, Route::Active)
        .await
    {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(OpError::failed(format!(
            "credential {client_id} of {org} is not in the vault at {}/{key}; run `simsid harvest --reconcile`",
            settings.mount
        ))),
        Err(VaultError::Forbidden(_)) => Err(OpError::failed(MAY_NOT_READ)),
        Err(e) => Err(e.into()),
    }
}

/// The audit note naming the vault identity.
fn identity_note(identity: &str) -> String {
    format!("vault identity {}", crate::sanitize::for_terminal(identity))
}

/// A secret read from the vault and the vault identity that read it.
pub struct VaultRead {
    /// The secret.
    pub secret: SecretString,
    /// Who the vault says read it.
    pub identity: String,
    /// The KV version read.
    pub version: u64,
}

/// The vault half of a reveal: reads the secret with the current identity, no store
/// needed (the console does not hold its store while the vault answers).
pub async fn read_for_reveal(
    settings: &VaultSettings,
    client: &VaultClient,
    org: &OrgId,
    client_id: &str,
) -> OpResult<VaultRead> {
    let identity = client.identity().await?;
    let read = read_credential_version(client, settings, org, client_id).await?;
    Ok(VaultRead {
        secret: read.data.secret,
        identity,
        version: read.version,
    })
}

/// The store half of a reveal: the audit record of a read, by the fingerprint of the
/// secret under this store's key.
pub fn audit_vault_read(
    store: &mut Store,
    ctx: &impl super::Auditor,
    action: AuditAction,
    org: &OrgId,
    client_id: &str,
    read: &VaultRead,
) -> OpResult<()> {
    let fp = store.fingerprint(&read.secret);
    audit_vault_read_as(store, ctx, action, org, client_id, &read.identity, &fp)
}

/// The audit record of a secret read from the vault by `identity`, naming `fp` (a viewer
/// names the harvest host's fingerprint: docs/reference/vault.md "Team mode").
pub fn audit_vault_read_as(
    store: &mut Store,
    ctx: &impl super::Auditor,
    action: AuditAction,
    org: &OrgId,
    client_id: &str,
    identity: &String,
    fp: &crate::domain::Fingerprint,
) -> OpResult<()> {
    let mut entry = ctx.audit_entry(
        action,
        Some(org),
        Some(client_id),
        Some(fp),
        Some(identity_note(identity)),
    );
    // The record names the vault identity too, so `exposure --user` finds it by either name.
    entry.identity = Some(identity.clone());
    store
        .append_audit(&entry)
        .map_err(|e| OpError::failed(format!("store: {e}")))?;
    info!(action = action.as_str(), organisation_id = %org, client_id, fingerprint = %fp, vault_identity = %identity, "secret read from the vault");
    Ok(())
}

/// One line of `vault check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckLine {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// The message for secrets still sealed in a vault-mode store (docs/reference/vault.md sync rule 10);
/// `None` when there are none, or no store yet.
pub fn sealed_remaining(local: &crate::config::LocalSettings) -> Option<String> {
    let store = super::open_store_if_present(local).ok()??;
    let n = store.sealed_secret_count().ok()?;
    (n > 0).then(|| {
        format!(
            "{n} secret(s) are still sealed in the local store, not in the vault: the next \
             `simsid harvest` moves them into the vault and out of the store"
        )
    })
}

/// `simsid vault check`: every address with its role, seal, authentication and identity,
/// the mount's engine, the token's capabilities on the prefix (and the integrator secret
/// when it is in the vault), and, in vault mode, secrets still sealed in the local store.
pub(super) async fn check(keeper: &Keeper) -> OpResult<Vec<CheckLine>> {
    let mut lines = check_vault(keeper).await?;
    if let Some(detail) = keeper.sealed_remaining() {
        lines.push(CheckLine {
            check: "local store".into(),
            ok: false,
            detail,
        });
    }
    Ok(lines)
}

async fn check_vault(keeper: &Keeper) -> OpResult<Vec<CheckLine>> {
    let settings = keeper.vault_settings()?;
    let client = VaultClient::new(settings)?.with_budget(std::time::Duration::from_secs(10));
    let mut lines = Vec::new();
    let mut line = |check: String, r: Result<String, String>| {
        lines.push(match r {
            Ok(detail) => CheckLine {
                check,
                ok: true,
                detail,
            },
            Err(detail) => CheckLine {
                check,
                ok: false,
                detail,
            },
        })
    };
    let mut reachable = false;
    for (i, addr) in client.addrs().iter().enumerate() {
        let r = match client.health(i).await {
            Ok(role @ (NodeRole::Active | NodeRole::Standby)) => {
                reachable = true;
                Ok(role.as_str())
            }
            Ok(role) => Err(role.as_str()),
            Err(e) => Err(e.to_string()),
        };
        line(format!("address {addr}"), r);
    }
    if !reachable {
        line(
            "vault".into(),
            Err("no address answers as an active or standby node".into()),
        );
        return Ok(lines);
    }
    line(
        "not sealed".into(),
        match client.sealed().await {
            Ok(false) => Ok("unsealed".into()),
            Ok(true) => Err("the vault is sealed".into()),
            Err(e) => Err(e.to_string()),
        },
    );
    let auth = client.lookup_self().await;
    let authed = auth.is_ok();
    line(
        "authentication".into(),
        auth.map(|t| {
            format!(
                "identity {} (policies: {})",
                crate::sanitize::for_terminal(&t.display_name),
                crate::sanitize::for_terminal(&t.policies.join(", "))
            )
        })
        .map_err(|e| e.to_string()),
    );
    if !authed {
        return Ok(lines);
    }
    let mount = &settings.mount;
    line(
        format!("mount {mount}"),
        match client.mount_kind(mount).await {
            Ok((kind, Some(v))) if kind == "kv" && v == "2" => Ok("KV version 2".into()),
            Ok((kind, v)) => Err(format!(
                "is `{}` version {}, not KV version 2",
                crate::sanitize::for_terminal(&kind),
                crate::sanitize::for_terminal(v.as_deref().unwrap_or("1"))
            )),
            Err(VaultError::Forbidden(_)) => {
                Err("your vault identity may not see this mount".into())
            }
            Err(e) => Err(e.to_string()),
        },
    );
    // What this profile needs of the vault: the keeper knows (a harvest host's capabilities,
    // or a viewer's read of the team's view).
    for (check, result) in keeper.needs_checks(&client, settings).await {
        line(check, result);
    }
    if let Ok(remote) = &keeper.settings().remote {
        if let Some(r) = &remote.client_secret_vault {
            line(
                format!("integrator secret {r}"),
                read_secret_ref(&client, r)
                    .await
                    .map(|_| "readable".into())
                    .map_err(|e| e.to_string()),
            );
        }
    }
    Ok(lines)
}

/// What a harvest host needs of the vault: create, update, read, list and delete under the
/// prefix (data and metadata).
pub async fn check_harvester(
    client: &VaultClient,
    settings: &VaultSettings,
) -> Vec<(String, Result<String, String>)> {
    let mount = &settings.mount;
    let data_path = format!("{mount}/data/{}/simsid-check", settings.prefix);
    let meta_path = format!("{mount}/metadata/{}/simsid-check", settings.prefix);
    let caps = client
        .capabilities_self(&[data_path.clone(), meta_path.clone()])
        .await;
    vec![(
        format!("capabilities on {mount}/{}", settings.prefix),
        match caps {
            Ok(caps) => {
                let none = Vec::new();
                let data_missing =
                    policy::missing(HARVEST_DATA_CAPS, caps.get(&data_path).unwrap_or(&none));
                let meta_missing =
                    policy::missing(HARVEST_METADATA_CAPS, caps.get(&meta_path).unwrap_or(&none));
                if data_missing.is_empty() && meta_missing.is_empty() {
                    Ok("harvest may create, update, read, list and delete".into())
                } else {
                    Err(format!(
                        "missing on data: [{}], on metadata: [{}] (see `simsid vault policy`)",
                        data_missing.join(", "),
                        meta_missing.join(", ")
                    ))
                }
            }
            Err(e) => Err(e.to_string()),
        },
    )]
}
