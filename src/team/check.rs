//! What a viewer checks against the vault (docs/reference/vault.md "What the view proves"):
//! whether its identity may read the view and secrets (`vault check`), a site's
//! fingerprints against the custom metadata of their keys (`show --check-vault`), and the
//! fingerprint an audit record of a read names. Never a secret.

use super::chunk::Manifest;
use super::error::{TeamError, TeamResult};
use super::keys::{manifest_key, read_manifest_bounded};
use crate::store::Store;
use crate::vault::{Route, VaultClient, VaultError, VaultSettings};

/// The fingerprint the harvest host wrote in the custom metadata of a credential's key, if
/// that metadata describes `version` (what a viewer read); `None` when it cannot be read.
pub async fn host_fingerprint(
    client: &VaultClient,
    settings: &VaultSettings,
    org: &crate::domain::OrgId,
    client_id: &str,
    version: u64,
) -> Option<crate::domain::Fingerprint> {
    let key = crate::vault::path::credential_key(&settings.prefix, org, client_id);
    let meta = client
        .kv_metadata_read(&settings.mount, &key, Route::Active)
        .await
        .ok()??;
    (meta.current_version == version)
        .then(|| meta.custom_metadata.get("fingerprint"))
        .flatten()
        .and_then(|f| crate::domain::Fingerprint::parse(f).ok())
}

/// On a viewer, the fingerprint an audit record of a read names (docs/reference/vault.md "Team mode":
/// fingerprints agree): the view's when the version read is the view's, else `host` (the
/// host's, from the key's custom metadata: [`host_fingerprint`]); `None` when neither.
pub fn viewer_fingerprint(
    store: &Store,
    org: &crate::domain::OrgId,
    client_id: &str,
    version: u64,
    host: Option<crate::domain::Fingerprint>,
) -> Option<crate::domain::Fingerprint> {
    let mark = store.credential_mark(org, client_id).ok().flatten();
    match mark {
        Some((fingerprint, Some(v))) if v == version => Some(fingerprint),
        _ => host,
    }
}

/// `vault check` on a viewer: whether this identity may read the team's view (and it is
/// there), and whether it may also read secrets (reveal, copy, verify: the operator
/// policy) or not (the viewer policy). Each line: what was checked and ok or the reason.
pub async fn check_viewer(
    client: &VaultClient,
    settings: &VaultSettings,
) -> Vec<(String, Result<String, String>)> {
    let mount = &settings.mount;
    let view_path = format!("{mount}/data/{}", manifest_key(settings));
    let secret_path = format!("{mount}/data/{}/simsid-check/simsid-check", settings.prefix);
    let mut out = Vec::new();
    let caps = match client
        .capabilities_self(&[view_path.clone(), secret_path.clone()])
        .await
    {
        Ok(caps) => caps,
        Err(e) => {
            out.push((
                format!("capabilities on {mount}/{}", settings.prefix),
                Err(e.to_string()),
            ));
            return out;
        }
    };
    let none = Vec::new();
    let may_read = |path: &str| {
        crate::vault::policy::missing(&["read"], caps.get(path).unwrap_or(&none)).is_empty()
    };
    let view = if may_read(&view_path) {
        match read_manifest_bounded(client, settings, Route::Any).await {
            Ok(Some(body)) => match Manifest::parse(&body) {
                Ok(m) => Ok(format!(
                    "readable: run {} published {} ({} sites)",
                    m.run_id,
                    crate::domain::rfc3339::format(&m.published_at),
                    m.sites
                )),
                Err(e) => Err(e.to_string()),
            },
            Ok(None) => Err(
                "readable, but nothing is published yet: the harvest host publishes the view with every harvest in vault mode"
                    .into(),
            ),
            Err(e) => Err(e.to_string()),
        }
    } else {
        Err(
            "this identity may not read it: it needs the viewer policy (see `simsid vault policy`)"
                .into(),
        )
    };
    out.push((format!("team view {view_path}"), view));
    out.push((
        "secrets".into(),
        Ok(if may_read(&secret_path) {
            "this identity may also read secrets (reveal, copy, verify: the operator policy)".into()
        } else {
            "this identity may not read secrets (the viewer policy): reveal, copy and verify are refused".into()
        }),
    ));
    out
}

/// One credential checked against the vault (`show ORG --check-vault`): the fingerprint in
/// its key's custom metadata, and whether it is the local one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultAgreement {
    pub client_id: String,
    /// The vault's fingerprint; `None` when the key or its fingerprint is missing, or the
    /// text there is not a fingerprint.
    pub vault_fingerprint: Option<crate::domain::Fingerprint>,
    /// Whether the vault's fingerprint is the local one.
    pub agrees: bool,
}

/// Checks each of `credentials` (a site's, as the store holds them) against the custom
/// metadata of its key in the vault (docs/reference/vault.md "What the view proves"): one metadata read
/// per credential, never a secret. Fails on the first read the vault refuses or cannot
/// answer.
pub async fn check_against_vault(
    client: &VaultClient,
    settings: &VaultSettings,
    org: &crate::domain::OrgId,
    credentials: &[crate::domain::CredentialRow],
) -> TeamResult<Vec<VaultAgreement>> {
    let mut out = Vec::with_capacity(credentials.len());
    for c in credentials {
        let key = crate::vault::path::credential_key(&settings.prefix, org, &c.client_id);
        let meta = match client
            .kv_metadata_read(&settings.mount, &key, Route::Any)
            .await
        {
            Ok(meta) => meta,
            Err(VaultError::Forbidden(_)) => {
                return Err(TeamError::failed(format!(
                    "your vault identity may not read the metadata of {}/metadata/{key}: \
                     checking against the vault needs the operator or harvester policy \
                     (`simsid vault policy`)",
                    settings.mount
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let vault_fingerprint = meta
            .as_ref()
            .and_then(|m| m.custom_metadata.get("fingerprint"))
            .and_then(|f| crate::domain::Fingerprint::parse(f).ok());
        out.push(VaultAgreement {
            client_id: c.client_id.clone(),
            agrees: vault_fingerprint.as_ref() == Some(&c.fingerprint),
            vault_fingerprint,
        });
    }
    Ok(out)
}
