//! The few operations that unseal a secret: reveal, copy and verify. Each writes an audit
//! record naming the credential by fingerprint, never by value.

use secrecy::SecretString;
use tracing::info;

use crate::domain::{AuditAction, OrgId};
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

pub use crate::domain::CheckOutcome;

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
        // We could not ask: say where we tried (a support laptop behind a proxy, a typo in
        // `sts_url`).
        Err(e @ (SimsError::Network(_) | SimsError::Timeout)) => CheckOutcome::Error(
            crate::sanitize::for_terminal(&format!(
                "{e} (could not reach the STS at {})",
                client.sts_url()
            ))
            .into_owned(),
        ),
        Err(e) => CheckOutcome::Error(crate::sanitize::for_terminal(&e.to_string()).into_owned()),
    }
}
