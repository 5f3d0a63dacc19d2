//! What a verify found: the outcome of one token request with a school's credential, the
//! outcome per credential, and the running tally (shared by `ops`, the console and `cli`).

use super::OrgId;

/// How one credential's verify ended: the STS issued a token, refused the credential
/// itself (`invalid_client`, `unauthorized_client`), or could not be asked (timeout,
/// network, server error, rate limit after the retries, a vault that would not give the
/// secret).
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

    /// Counts one more outcome.
    pub fn add(&mut self, outcome: &CheckOutcome) {
        match outcome {
            CheckOutcome::Ok => self.ok += 1,
            CheckOutcome::Refused(_) => self.refused += 1,
            CheckOutcome::Error(_) => self.errors += 1,
        }
    }
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
