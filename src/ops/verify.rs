//! The one verify: `verify ORG`, `verify --exposed [--user U]`, `verify --all`, and the
//! console's `v` on a site and on the exposure screen: a token request with each selected
//! credential, at most `concurrency` in flight, each retried as the harvest retries (a `429`
//! honours `Retry-After`), progress on a channel, one audit record each in one wording,
//! and one exit-code rule for the commands (`cli::exit::of_verify`).

use std::collections::HashMap;

use futures::future::BoxFuture;
use futures::StreamExt;
use secrecy::SecretString;
use tokio::sync::mpsc::UnboundedSender;

use super::OpError;
use crate::domain::{AuditAction, Fingerprint, OrgId, VerifyResult};
use crate::exposure::{self, ExposureQuery};
use crate::harvest::RetryPolicy;
use crate::sims::SimsClient;
use crate::store::Store;

pub use crate::domain::{CheckOutcome, CredentialCheck, Tally};

use super::secrets;
use super::OpResult;

/// Which credentials to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every cached credential.
    All,
    /// Every credential of the exposure report (optionally one person's) whose exposed
    /// secret the store still holds.
    Exposed { user: Option<String> },
    /// These credentials (the console's exposure screen).
    Listed(Vec<(OrgId, String)>),
    /// The live entries of an exposure report the caller made (`--vault-audit`); the
    /// others count as no longer held.
    Reported(Vec<crate::exposure::Exposure>),
    /// Every credential of one cached site (`verify ORG`, the console's `v` on a site).
    Site(OrgId),
}

/// One credential to verify: which one, never its secret (the keeper reads that just
/// before its token request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub organisation_id: OrgId,
    pub client_id: String,
}

/// What a selection resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub targets: Vec<Target>,
    /// Selected credentials the store no longer holds (with the exposed secret: rotated or
    /// removed since): there is nothing left to verify for them.
    pub not_held: usize,
}

/// The credentials a selection names, from the store's metadata (no secret is read).
pub fn targets(store: &Store, selection: &Selection) -> OpResult<Targets> {
    let snapshot = store.snapshot()?;
    let mut out = Targets::default();
    let mut push = |org: &OrgId, client_id: &str| {
        out.targets.push(Target {
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
                .ok_or_else(|| OpError::NotFound(org.to_string()))?;
            for client_id in site.credentials.keys() {
                push(org, client_id);
            }
        }
    }
    Ok(out)
}

/// Where the secrets to verify come from (the keeper: unsealed from the store, or read
/// from the vault with the person's identity). An `Err` is that credential's error (for
/// example "may not read"); the others go on.
pub trait SecretSource: Sync {
    /// The secret of one credential and its fingerprint.
    fn secret<'a>(
        &'a self,
        org: &'a OrgId,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<(SecretString, Fingerprint), String>>;
}

/// What a verify found: the checks (sorted by site and client id) and the fingerprint of
/// each secret it could read (for the audit records).
#[derive(Debug, Default)]
pub struct Verified {
    pub checks: Vec<CredentialCheck>,
    pub fingerprints: HashMap<(OrgId, String), Fingerprint>,
}

/// The one verify loop: for every target, its secret from `source` just before its token
/// request (dropped, and zeroised, when that request ends), at most `concurrency` at once,
/// each with the harvest's retries; sends the running tally after each.
pub async fn run(
    client: &SimsClient,
    source: &(impl SecretSource + ?Sized),
    targets: &[Target],
    concurrency: usize,
    policy: RetryPolicy,
    progress: Option<UnboundedSender<Tally>>,
) -> Verified {
    let fingerprints = std::sync::Mutex::new(HashMap::new());
    let checks = bounded(targets, concurrency, progress, |t| {
        let fingerprints = &fingerprints;
        async move {
            let (secret, fp) = match source.secret(&t.organisation_id, &t.client_id).await {
                Ok(found) => found,
                Err(e) => return CheckOutcome::Error(e),
            };
            if let Ok(mut map) = fingerprints.lock() {
                map.insert((t.organisation_id.clone(), t.client_id.clone()), fp);
            }
            secrets::verify_credential(client, &t.organisation_id, &t.client_id, &secret, policy)
                .await
        }
    })
    .await;
    Verified {
        checks,
        fingerprints: fingerprints.into_inner().unwrap_or_default(),
    }
}

/// Runs `check` on every target, at most `concurrency` at once, tallying as they end.
pub(crate) async fn bounded<'a, F, Fut>(
    targets: &'a [Target],
    concurrency: usize,
    progress: Option<UnboundedSender<Tally>>,
    check: F,
) -> Vec<CredentialCheck>
where
    F: Fn(&'a Target) -> Fut,
    Fut: std::future::Future<Output = CheckOutcome> + Send + 'a,
{
    let total = targets.len();
    let mut tally = Tally {
        total,
        ..Tally::default()
    };
    if let Some(tx) = &progress {
        let _ = tx.send(tally);
    }
    // Boxed up front: a closure returning an async block would not be `Send` for every
    // lifetime, which the console's boxed future needs.
    let pending: Vec<BoxFuture<'a, CredentialCheck>> = targets
        .iter()
        .map(|t| -> BoxFuture<'a, CredentialCheck> {
            let outcome = check(t);
            Box::pin(async move {
                CredentialCheck {
                    organisation_id: t.organisation_id.clone(),
                    client_id: t.client_id.clone(),
                    outcome: outcome.await,
                }
            })
        })
        .collect();
    let mut stream = futures::stream::iter(pending).buffer_unordered(concurrency.max(1));
    let mut checks = Vec::with_capacity(total);
    while let Some(check) = stream.next().await {
        tally.add(&check.outcome);
        if let Some(tx) = &progress {
            // Nobody watching any more is fine: the verify goes on.
            let _ = tx.send(tally);
        }
        checks.push(check);
    }
    checks.sort_by(|a, b| {
        (&a.organisation_id, &a.client_id).cmp(&(&b.organisation_id, &b.client_id))
    });
    checks
}

/// The one-site list of checks (`verify ORG`'s results, the console's verify column).
pub fn results_of(checks: &[CredentialCheck]) -> Vec<VerifyResult> {
    checks
        .iter()
        .map(|c| VerifyResult {
            client_id: c.client_id.clone(),
            ok: c.outcome == CheckOutcome::Ok,
            refused: matches!(c.outcome, CheckOutcome::Refused(_)),
            error: c.outcome.error().map(str::to_string),
        })
        .collect()
}

/// Writes one verify audit record per credential, in one wording: its outcome, the
/// fingerprint of the secret verified (none when it could not be read) and, when the
/// secret came from the vault, the vault identity (named in the note and in the record's
/// identity, as a reveal names it).
pub fn audit_checks(
    store: &mut Store,
    ctx: &impl super::Auditor,
    found: &Verified,
    vault_identity: Option<&str>,
) -> OpResult<()> {
    for check in &found.checks {
        let outcome = match &check.outcome {
            CheckOutcome::Ok => "ok".to_string(),
            CheckOutcome::Refused(e) => format!("refused: {e}"),
            CheckOutcome::Error(e) => format!("failed: {e}"),
        };
        let detail = match vault_identity {
            Some(id) => format!(
                "{outcome}; vault identity {}",
                crate::sanitize::for_terminal(id)
            ),
            None => outcome,
        };
        let fingerprint = found
            .fingerprints
            .get(&(check.organisation_id.clone(), check.client_id.clone()));
        let mut entry = ctx.audit_entry(
            AuditAction::Verify,
            Some(&check.organisation_id),
            Some(&check.client_id),
            fingerprint,
            Some(detail),
        );
        if let Some(id) = vault_identity {
            entry.identity = Some(id.to_string());
        }
        store.append_audit(&entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(i: usize) -> Target {
        Target {
            organisation_id: OrgId::parse(&format!("{i:08x}-0000-4000-8000-000000000000")).unwrap(),
            client_id: format!("c{i}"),
        }
    }

    #[tokio::test]
    async fn at_most_concurrency_checks_run_at_once_and_progress_is_tallied() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let targets: Vec<Target> = (0..7).rev().map(target).collect();
        for (concurrency, want) in [(1, 1), (3, 3), (64, 7)] {
            let in_flight = AtomicUsize::new(0);
            let max = AtomicUsize::new(0);
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let checks = bounded(&targets, concurrency, Some(tx), |t| {
                let (in_flight, max) = (&in_flight, &max);
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    // Let every other admitted check start before this one ends.
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if t.client_id == "c2" {
                        CheckOutcome::Refused("invalid_client".into())
                    } else {
                        CheckOutcome::Ok
                    }
                }
            })
            .await;
            assert_eq!(
                max.load(Ordering::SeqCst),
                want,
                "concurrency {concurrency}"
            );
            let ids: Vec<&str> = checks.iter().map(|c| c.client_id.as_str()).collect();
            assert_eq!(ids, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"], "sorted");
            let mut seen = Vec::new();
            while let Ok(t) = rx.try_recv() {
                seen.push(t.done());
            }
            assert_eq!(seen, (0..=7).collect::<Vec<_>>());
            assert_eq!(Tally::of(7, &checks).refused, 1);
        }
    }
}
