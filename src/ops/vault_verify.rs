//! `verify --exposed [--user U]` / `verify --all` and the console's exposure-view verify in
//! vault mode (vault.md "Reading in vault mode"): the store names which credentials; each
//! secret is read from the vault with the current identity just before its token request
//! and dropped after it, at most `concurrency` at once, never written anywhere. A vault
//! refusal (`403`) or a missing key is that credential's error; the rest go on.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;

use super::secrets::{self, CheckOutcome};
use super::vault_ops::read_credential;
use super::verify_many::{audit_checks_as, bounded, CredentialCheck, Named, Selection, Tally};
use super::{Context, OpResult};
use crate::domain::{Fingerprint, OrgId};
use crate::exposure::{self, ExposureQuery};
use crate::harvest::RetryPolicy;
use crate::sims::SimsClient;
use crate::store::{Fingerprinter, Store};
use crate::vault::{VaultClient, VaultSettings};

/// One credential to verify in vault mode: which one, not its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultTarget {
    pub organisation_id: OrgId,
    pub client_id: String,
}

impl Named for VaultTarget {
    fn organisation_id(&self) -> &OrgId {
        &self.organisation_id
    }
    fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// What a selection resolved to in vault mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultTargets {
    pub targets: Vec<VaultTarget>,
    /// Selected credentials the store no longer holds (with the exposed secret).
    pub not_held: usize,
}

/// The credentials a selection names, from the store's metadata (no secret is read).
pub fn vault_targets(store: &Store, selection: &Selection) -> OpResult<VaultTargets> {
    let snapshot = store.snapshot()?;
    let mut out = VaultTargets::default();
    let mut push = |org: &OrgId, client_id: &str| {
        out.targets.push(VaultTarget {
            organisation_id: org.clone(),
            client_id: client_id.to_string(),
        })
    };
    match selection {
        Selection::All => {
            for (org, site) in &snapshot.sites {
                for client_id in site.credentials.keys() {
                    push(org, client_id);
                }
            }
        }
        Selection::Exposed { user } => {
            let audit = store.audit()?;
            let query = ExposureQuery {
                user: user.clone(),
                ..ExposureQuery::default()
            };
            for x in exposure::report(&audit, &snapshot, &query) {
                if x.live {
                    push(&x.organisation_id, &x.client_id);
                } else {
                    out.not_held += 1;
                }
            }
        }
        Selection::Reported(list) => {
            for x in list {
                if x.live {
                    push(&x.organisation_id, &x.client_id);
                } else {
                    out.not_held += 1;
                }
            }
        }
        Selection::Listed(list) => {
            for (org, client_id) in list {
                let held = snapshot
                    .sites
                    .get(org)
                    .is_some_and(|s| s.credentials.contains_key(client_id));
                if held {
                    push(org, client_id);
                } else {
                    out.not_held += 1;
                }
            }
        }
        Selection::Site(org) => {
            let site = snapshot
                .sites
                .get(org)
                .ok_or_else(|| super::OpError::NotFound(org.to_string()))?;
            for client_id in site.credentials.keys() {
                push(org, client_id);
            }
        }
    }
    Ok(out)
}

/// What a vault-mode verify found: the checks (sorted), the fingerprint of each secret
/// read, and the vault identity that read them.
pub struct VaultChecks {
    pub checks: Vec<CredentialCheck>,
    pub fingerprints: HashMap<(OrgId, String), Fingerprint>,
    pub identity: String,
}

/// The vault side of a verify: where the credentials are and who reads them.
pub struct VaultReader<'a> {
    pub client: &'a VaultClient,
    pub settings: &'a VaultSettings,
    pub fingerprinter: Fingerprinter,
}

/// Verifies every target: reads its secret from the vault with the current identity, then
/// requests a token with it (the harvest's retries), at most `concurrency` at once; sends
/// the running tally after each. Fails only when the vault identity cannot be looked up
/// at all (a wrong or expired token); a credential it may not read is that credential's
/// error.
pub async fn verify_many_from_vault(
    vault: &VaultReader<'_>,
    sims: &SimsClient,
    targets: &[VaultTarget],
    concurrency: usize,
    policy: RetryPolicy,
    progress: Option<UnboundedSender<Tally>>,
) -> OpResult<VaultChecks> {
    let identity = vault.client.identity().await?;
    let fingerprints: Mutex<HashMap<(OrgId, String), Fingerprint>> = Mutex::new(HashMap::new());
    let checks = bounded(targets, concurrency, progress, |t| {
        check_one(vault, sims, &fingerprints, policy, t)
    })
    .await;
    let fingerprints = fingerprints.into_inner().unwrap_or_default();
    Ok(VaultChecks {
        checks,
        fingerprints,
        identity,
    })
}

/// Reads one credential from the vault and requests a token with it; the secret lives only
/// for this request (dropped, and zeroised, when the future ends).
fn check_one<'a>(
    vault: &'a VaultReader<'_>,
    sims: &'a SimsClient,
    fingerprints: &'a Mutex<HashMap<(OrgId, String), Fingerprint>>,
    policy: RetryPolicy,
    t: &'a VaultTarget,
) -> BoxFuture<'a, CheckOutcome> {
    Box::pin(async move {
        let record = match read_credential(
            vault.client,
            vault.settings,
            &t.organisation_id,
            &t.client_id,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return CheckOutcome::Error(e.to_string()),
        };
        let fp = vault.fingerprinter.fingerprint(&record.secret);
        if let Ok(mut map) = fingerprints.lock() {
            map.insert((t.organisation_id.clone(), t.client_id.clone()), fp);
        }
        secrets::verify_credential(
            sims,
            &t.organisation_id,
            &t.client_id,
            &record.secret,
            policy,
        )
        .await
    })
}

/// One verify audit record per credential: its outcome, the fingerprint of the secret read
/// from the vault (none when it could not be read) and the vault identity.
pub fn audit_vault_checks(store: &mut Store, ctx: &Context, found: &VaultChecks) -> OpResult<()> {
    audit_checks_as(
        store,
        ctx,
        &found.checks,
        |c| {
            found
                .fingerprints
                .get(&(c.organisation_id.clone(), c.client_id.clone()))
                .cloned()
        },
        Some(&found.identity),
    )
}
