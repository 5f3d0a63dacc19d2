//! The few operations that unseal a secret: reveal, copy and verify. Each writes an audit
//! record naming the credential by fingerprint, never by value.

use secrecy::SecretString;
use tracing::info;

use crate::domain::{AuditAction, OrgId, VerifyResult};
use crate::sims::{SimsClient, SimsError};
use crate::store::Store;

use super::{Context, OpResult};

/// Unseals one secret for an explicit reveal or copy and audits it.
pub fn unseal_audited(
    store: &mut Store,
    ctx: &Context,
    action: AuditAction,
    org: &OrgId,
    client_id: &str,
) -> OpResult<SecretString> {
    let secret = store.secret(org, client_id)?;
    let fp = store.fingerprint(&secret);
    let entry = ctx.audit_entry(action, Some(org), Some(client_id), Some(&fp), None);
    store.append_audit(&entry)?;
    info!(action = action.as_str(), organisation_id = %org, client_id, fingerprint = %fp, "secret unsealed");
    Ok(secret)
}

/// The credentials of `org` to verify, with their fingerprints.
pub fn credentials_for_verify(
    store: &Store,
    org: &OrgId,
) -> OpResult<Vec<(crate::domain::Credential, crate::domain::Fingerprint)>> {
    let creds = store.credentials(org)?;
    Ok(creds
        .into_iter()
        .map(|c| {
            let fp = store.fingerprint(&c.secret);
            (c, fp)
        })
        .collect())
}

/// What a verify run found: one result per credential, and how many the STS refused
/// (as opposed to failing to answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub results: Vec<VerifyResult>,
    pub refused: usize,
}

/// Requests a token with each credential; refused ones say why (never the secret).
pub async fn verify_all(
    client: &SimsClient,
    org: &OrgId,
    creds: &[(crate::domain::Credential, crate::domain::Fingerprint)],
) -> Verified {
    let checks = creds.iter().map(|(c, _)| async move {
        let r = client.verify(org, &c.client_id, &c.secret).await;
        // Refused only when the STS rejected the credential itself (invalid_client,
        // unauthorized_client); invalid_scope and the rest are errors.
        let refused = matches!(r, Err(SimsError::CredentialsRefused(_)));
        let result = VerifyResult {
            client_id: c.client_id.clone(),
            ok: r.is_ok(),
            refused,
            error: r
                .err()
                .map(|e| crate::sanitize::for_terminal(&e.to_string()).into_owned()),
        };
        (result, refused)
    });
    let outcomes = futures::future::join_all(checks).await;
    Verified {
        refused: outcomes.iter().filter(|(_, refused)| *refused).count(),
        results: outcomes.into_iter().map(|(r, _)| r).collect(),
    }
}

/// Audits a verify run: one record per credential with its outcome.
pub fn audit_verify(
    store: &mut Store,
    ctx: &Context,
    org: &OrgId,
    creds: &[(crate::domain::Credential, crate::domain::Fingerprint)],
    results: &[VerifyResult],
) -> OpResult<()> {
    audit_verify_noted(store, ctx, org, creds, results, None)
}

/// [`audit_verify`] with a note appended to each record (vault mode: the vault identity).
pub fn audit_verify_noted(
    store: &mut Store,
    ctx: &Context,
    org: &OrgId,
    creds: &[(crate::domain::Credential, crate::domain::Fingerprint)],
    results: &[VerifyResult],
    note: Option<&str>,
) -> OpResult<()> {
    for ((c, fp), r) in creds.iter().zip(results) {
        let outcome = if r.ok {
            "ok".to_string()
        } else {
            format!("failed: {}", r.error.as_deref().unwrap_or("unknown"))
        };
        let detail = match note {
            Some(n) => format!("{outcome}; {n}"),
            None => outcome,
        };
        let entry = ctx.audit_entry(
            AuditAction::Verify,
            Some(org),
            Some(&c.client_id),
            Some(fp),
            Some(detail),
        );
        store.append_audit(&entry)?;
    }
    Ok(())
}

/// How one credential's verify ended: the STS issued a token, refused the credential
/// itself (`invalid_client`, `unauthorized_client`), or could not be asked (timeout,
/// network, server error, rate limit after the retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Ok,
    Refused(String),
    Error(String),
}

impl CheckOutcome {
    /// The reason, when it did not work (never a secret).
    pub fn error(&self) -> Option<&str> {
        match self {
            CheckOutcome::Ok => None,
            CheckOutcome::Refused(e) | CheckOutcome::Error(e) => Some(e),
        }
    }
}

/// One token request with a school's credential, retried as the harvest retries (timeouts,
/// `429` honouring `Retry-After`, `5xx`, network errors); a refusal is never retried.
pub async fn verify_credential(
    client: &SimsClient,
    org: &OrgId,
    client_id: &str,
    secret: &SecretString,
    policy: crate::harvest::RetryPolicy,
) -> CheckOutcome {
    use backon::Retryable;
    let attempt = (|| async { client.verify(org, client_id, secret).await })
        .retry(policy.backoff())
        .when(SimsError::is_transient)
        .adjust(move |e: &SimsError, d| policy.adjust(e.retry_after(), d));
    match attempt.await {
        Ok(()) => CheckOutcome::Ok,
        Err(e @ SimsError::CredentialsRefused(_)) => {
            CheckOutcome::Refused(crate::sanitize::for_terminal(&e.to_string()).into_owned())
        }
        Err(e) => CheckOutcome::Error(crate::sanitize::for_terminal(&e.to_string()).into_owned()),
    }
}
