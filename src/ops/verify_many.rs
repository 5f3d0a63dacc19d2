//! The one verify: `verify ORG`, `verify --exposed [--user U]`, `verify --all`, and the
//! console's `v` on a site and on the exposure view: a token request with each selected
//! credential, at most `concurrency` in flight, each retried as the harvest retries (a `429`
//! honours `Retry-After`), progress on a channel, one audit record each in one wording,
//! and one exit-code rule for the commands (`cli::exit::of_verify`).

use futures::future::BoxFuture;
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::OpError;
use crate::domain::{AuditAction, Credential, Fingerprint, OrgId, VerifyResult};
use crate::exposure::{self, ExposureQuery};
use crate::harvest::RetryPolicy;
use crate::sims::SimsClient;
use crate::store::Store;

use super::secrets::{self, CheckOutcome};
use super::{Context, OpResult};

/// Which credentials to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every cached credential.
    All,
    /// Every credential of the exposure report (optionally one person's) whose exposed
    /// secret the store still holds.
    Exposed { user: Option<String> },
    /// These credentials (the console's exposure view).
    Listed(Vec<(OrgId, String)>),
    /// The live entries of an exposure report the caller made (`--vault-audit`); the
    /// others count as no longer held.
    Reported(Vec<crate::exposure::Exposure>),
    /// Every credential of one cached site (`verify ORG`, the console's `v` on a site).
    Site(OrgId),
}

/// One credential to verify, its secret unsealed.
pub struct Target {
    pub organisation_id: OrgId,
    pub credential: Credential,
    pub fingerprint: Fingerprint,
}

/// What a selection resolved to.
pub struct Targets {
    pub targets: Vec<Target>,
    /// Exposed credentials the store no longer holds with the exposed secret (rotated or
    /// removed since): there is nothing left to verify for them.
    pub not_held: usize,
}

/// The outcome for one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialCheck {
    pub organisation_id: OrgId,
    pub client_id: String,
    pub outcome: CheckOutcome,
}

/// Counts so far (sent on the progress channel after each credential).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub total: usize,
    pub ok: usize,
    pub refused: usize,
    pub errors: usize,
}

impl Tally {
    /// Credentials finished.
    pub fn done(&self) -> usize {
        self.ok + self.refused + self.errors
    }

    /// Counts the outcomes of `checks` out of `total`.
    pub fn of(total: usize, checks: &[CredentialCheck]) -> Tally {
        let mut t = Tally {
            total,
            ..Tally::default()
        };
        for c in checks {
            t.add(&c.outcome);
        }
        t
    }

    fn add(&mut self, outcome: &CheckOutcome) {
        match outcome {
            CheckOutcome::Ok => self.ok += 1,
            CheckOutcome::Refused(_) => self.refused += 1,
            CheckOutcome::Error(_) => self.errors += 1,
        }
    }
}

/// Unseals the credentials a selection names.
pub fn targets(store: &Store, selection: &Selection) -> OpResult<Targets> {
    let mut targets = Vec::new();
    let mut not_held = 0;
    match selection {
        Selection::All => {
            let snapshot = store.snapshot()?;
            for org in snapshot.sites.keys() {
                for credential in store.credentials(org)? {
                    let fingerprint = store.fingerprint(&credential.secret);
                    targets.push(Target {
                        organisation_id: org.clone(),
                        credential,
                        fingerprint,
                    });
                }
            }
        }
        Selection::Exposed { user } => {
            let audit = store.audit()?;
            let snapshot = store.snapshot()?;
            let query = ExposureQuery {
                user: user.clone(),
                ..ExposureQuery::default()
            };
            for x in exposure::report(&audit, &snapshot, &query) {
                if !x.live {
                    not_held += 1;
                    continue;
                }
                targets.push(target(store, &x.organisation_id, &x.client_id)?);
            }
        }
        Selection::Reported(list) => {
            for x in list {
                if !x.live {
                    not_held += 1;
                    continue;
                }
                targets.push(target(store, &x.organisation_id, &x.client_id)?);
            }
        }
        Selection::Listed(list) => {
            for (org, client_id) in list {
                match target(store, org, client_id) {
                    Ok(t) => targets.push(t),
                    Err(_) => not_held += 1,
                }
            }
        }
        Selection::Site(org) => {
            if store.site(org)?.is_none() {
                return Err(OpError::NotFound(org.to_string()));
            }
            for credential in store.credentials(org)? {
                let fingerprint = store.fingerprint(&credential.secret);
                targets.push(Target {
                    organisation_id: org.clone(),
                    credential,
                    fingerprint,
                });
            }
        }
    }
    Ok(Targets { targets, not_held })
}

fn target(store: &Store, org: &OrgId, client_id: &str) -> OpResult<Target> {
    let credential = store
        .credentials(org)?
        .into_iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| OpError::failed(format!("{org} / {client_id} is no longer cached")))?;
    let fingerprint = store.fingerprint(&credential.secret);
    Ok(Target {
        organisation_id: org.clone(),
        credential,
        fingerprint,
    })
}

/// Verifies every target, at most `concurrency` at once, each with the harvest's retries;
/// sends the running tally after each. Results are sorted by organisation and client id.
pub async fn verify_many<'a>(
    client: &'a SimsClient,
    targets: &'a [Target],
    concurrency: usize,
    policy: RetryPolicy,
    progress: Option<UnboundedSender<Tally>>,
) -> Vec<CredentialCheck> {
    let check = move |t: &'a Target| -> BoxFuture<'a, CheckOutcome> {
        Box::pin(secrets::verify_credential(
            client,
            &t.organisation_id,
            &t.credential.client_id,
            &t.credential.secret,
            policy,
        ))
    };
    bounded(targets, concurrency, progress, check).await
}

/// A credential to verify, named by site and client id.
pub(crate) trait Named: Sync {
    fn organisation_id(&self) -> &OrgId;
    fn client_id(&self) -> &str;
}

impl Named for Target {
    fn organisation_id(&self) -> &OrgId {
        &self.organisation_id
    }
    fn client_id(&self) -> &str {
        &self.credential.client_id
    }
}

/// Runs `check` on every target, at most `concurrency` at once, tallying as they end.
pub(crate) async fn bounded<'a, T, F, Fut>(
    targets: &'a [T],
    concurrency: usize,
    progress: Option<UnboundedSender<Tally>>,
    check: F,
) -> Vec<CredentialCheck>
where
    T: Named,
    F: Fn(&'a T) -> Fut,
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
                    organisation_id: t.organisation_id().clone(),
                    client_id: t.client_id().to_string(),
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

/// The one-site view of checks (`verify ORG`'s results, the console's verify column).
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

/// Writes one verify audit record per credential, with its outcome.
pub fn audit_checks(
    store: &mut Store,
    ctx: &Context,
    targets: &[Target],
    checks: &[CredentialCheck],
) -> OpResult<()> {
    audit_checks_as(
        store,
        ctx,
        checks,
        |check| {
            targets
                .iter()
                .find(|t| {
                    t.organisation_id == check.organisation_id
                        && t.credential.client_id == check.client_id
                })
                .map(|t| t.fingerprint.clone())
        },
        None,
    )
}

/// Writes one verify audit record per credential, with its outcome, the fingerprint of
/// the secret verified (`fingerprint_of`), and in vault mode the vault identity (named in
/// the note and in the record's identity, as a reveal names it).
pub fn audit_checks_as(
    store: &mut Store,
    ctx: &Context,
    checks: &[CredentialCheck],
    fingerprint_of: impl Fn(&CredentialCheck) -> Option<Fingerprint>,
    vault_identity: Option<&str>,
) -> OpResult<()> {
    for check in checks {
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
        let fingerprint = fingerprint_of(check);
        let mut entry = ctx.audit_entry(
            AuditAction::Verify,
            Some(&check.organisation_id),
            Some(&check.client_id),
            fingerprint.as_ref(),
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

    fn check(outcome: CheckOutcome) -> CredentialCheck {
        CredentialCheck {
            organisation_id: OrgId::parse("00000001-0000-4000-8000-000000000000").unwrap(),
            client_id: "c".into(),
            outcome,
        }
    }

    fn target(i: usize) -> Target {
        Target {
            organisation_id: OrgId::parse(&format!("{i:08x}-0000-4000-8000-000000000000")).unwrap(),
            credential: Credential {
                client_id: format!("c{i}"),
                secret: secrecy::SecretString::from(format!("s{i}")),
                description: None,
            },
            fingerprint: Fingerprint(String::new()),
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
                    if t.credential.client_id == "c2" {
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

    #[test]
    fn a_tally_counts_each_outcome() {
        let ok = check(CheckOutcome::Ok);
        let refused = check(CheckOutcome::Refused("invalid_client".into()));
        let error = check(CheckOutcome::Error("request timed out".into()));
        let all = Tally::of(3, &[ok, error, refused]);
        assert_eq!((all.ok, all.refused, all.errors, all.done()), (1, 1, 1, 3));
        let none = Tally::of(0, &[]);
        assert_eq!(
            (none.ok, none.refused, none.errors, none.done()),
            (0, 0, 0, 0)
        );
    }
}
