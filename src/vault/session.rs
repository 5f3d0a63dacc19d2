//! The state one vault client shares between every request and every concurrent writer
//! (vault.md sync rule 8, "An outage fails fast"): the login (token, when to renew it, the
//! identity) and the outage, with one retry budget for all of them and the failure
//! remembered once the budget is spent, so that a harvest with 300 pending credentials
//! gives up after one budget, not one per credential. Pure state and time arithmetic; the
//! client does the I/O.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::error::VaultError;

/// The token in use and when to renew it or log in again.
pub(crate) struct Login {
    pub token: SecretString,
    pub refresh_at: Option<Instant>,
    pub renewable: bool,
    pub display_name: Option<String>,
}

/// When to renew a token with `ttl_secs` to live: after two thirds of it (never for 0).
pub(crate) fn refresh_at(ttl_secs: u64) -> Option<Instant> {
    (ttl_secs > 0).then(|| Instant::now() + Duration::from_millis(ttl_secs * 1000 * 2 / 3))
}

#[derive(Debug, Default)]
struct OutageState {
    /// When the first request of the current outage failed (cleared by any success).
    since: Option<Instant>,
    /// The reason the vault was given up on, once the budget was spent.
    down: Option<String>,
}

/// One retry budget shared by every request of a client: an outage starts with the first
/// failed attempt of any request and ends with any answer; every request retries until
/// `since + budget`, not its own start + budget. Once the budget is spent the failure is
/// remembered and every later request fails at once with it, until [`Outage::reset`].
#[derive(Debug)]
pub struct Outage {
    budget: Duration,
    state: Mutex<OutageState>,
}

impl Outage {
    /// A healthy state with `budget` for the next outage.
    pub fn new(budget: Duration) -> Outage {
        Outage {
            budget,
            state: Mutex::new(OutageState::default()),
        }
    }

    /// The retry budget of one outage.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    fn state(&self) -> std::sync::MutexGuard<'_, OutageState> {
        // A panic while holding this lock cannot leave the state half-written.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The remembered failure, if the vault was given up on.
    pub fn check(&self) -> Result<(), VaultError> {
        match &self.state().down {
            Some(reason) => Err(VaultError::Unavailable(reason.clone())),
            None => Ok(()),
        }
    }

    /// The time by which a request that started at `started` must give up: the end of the
    /// current outage's budget when one is under way, else `started + budget`.
    pub fn deadline(&self, started: Instant) -> Instant {
        let since = self.state().since;
        match since {
            Some(since) => (since + self.budget).min(started + self.budget),
            None => started + self.budget,
        }
    }

    /// An attempt failed (connection, timeout, `5xx`, election): the outage starts now
    /// unless it already has.
    pub fn failed_attempt(&self, now: Instant) {
        let mut s = self.state();
        if s.since.is_none() {
            s.since = Some(now);
        }
    }

    /// An answer came: the outage (if any) is over.
    pub fn answered(&self) {
        self.state().since = None;
    }

    /// The budget is spent: remember `reason` for every later request.
    pub fn give_up(&self, reason: String) {
        let mut s = self.state();
        if s.down.is_none() {
            s.down = Some(reason);
        }
    }

    /// Forgets a remembered failure (a long-lived caller, such as the console, tries again).
    pub fn reset(&self) {
        *self.state() = OutageState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_budget_for_every_request_of_an_outage_and_the_failure_remembered() {
        let o = Outage::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(o.deadline(t0), t0 + Duration::from_secs(60));
        o.failed_attempt(t0);
        // A request that starts 50 s into the outage has 10 s left, not 60.
        let later = t0 + Duration::from_secs(50);
        assert_eq!(o.deadline(later), t0 + Duration::from_secs(60));
        // A second failure does not move the start.
        o.failed_attempt(later);
        assert_eq!(o.deadline(later), t0 + Duration::from_secs(60));
        assert!(o.check().is_ok());
        o.give_up("refused".into());
        assert_eq!(
            o.check(),
            Err(VaultError::Unavailable("refused".into())),
            "remembered"
        );
        o.reset();
        assert!(o.check().is_ok());
    }

    #[test]
    fn an_answer_ends_the_outage() {
        let o = Outage::new(Duration::from_secs(60));
        let t0 = Instant::now();
        o.failed_attempt(t0);
        o.answered();
        let later = t0 + Duration::from_secs(100);
        assert_eq!(o.deadline(later), later + Duration::from_secs(60));
    }
}
