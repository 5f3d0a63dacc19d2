//! The state one vault client shares between every request and every concurrent writer
//! (docs/reference/vault.md sync rule 8, "An outage fails fast"): the login (token, when to renew it or log
//! in again, the identity) and the outage, with one retry budget for all of them and the failure
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

/// What to do with the session before a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The token is fresh (or has no end we know of): use it.
    Use,
    /// Two thirds of its time to live have passed and it is renewable: renew it.
    Renew,
    /// Due, but a given token cannot be renewed nor replaced: use it until the vault says
    /// otherwise ([`Login::keep`]).
    Keep,
    /// No session yet, or an AppRole token that is due: log in (again).
    LogIn,
}

impl Login {
    /// What to do with `login` at `now`. `given_token`: the token was given (`VAULT_TOKEN`
    /// or the token file), so it can be renewed but not replaced; an AppRole login can be
    /// made again.
    pub(crate) fn step(login: Option<&Login>, given_token: bool, now: Instant) -> Step {
        match login {
            None => Step::LogIn,
            Some(l) if l.refresh_at.is_none_or(|t| now < t) => Step::Use,
            Some(_) if !given_token => Step::LogIn,
            Some(l) if l.renewable => Step::Renew,
            Some(_) => Step::Keep,
        }
    }

    /// The token was renewed for `ttl_secs` more at `now`.
    pub(crate) fn renewed(&mut self, ttl_secs: u64, now: Instant) {
        self.refresh_at = refresh_at(ttl_secs, now);
        self.renewable = true;
    }

    /// The token cannot be renewed: keep using it, and stop trying.
    pub(crate) fn keep(&mut self) {
        self.refresh_at = None;
    }
}

/// When to renew a token with `ttl_secs` to live from `now`: after two thirds of it
/// (never for 0).
pub(crate) fn refresh_at(ttl_secs: u64, now: Instant) -> Option<Instant> {
    (ttl_secs > 0).then(|| now + Duration::from_millis(ttl_secs * 1000 * 2 / 3))
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

    fn login(refresh_at: Option<Instant>, renewable: bool) -> Login {
        Login {
            token: SecretString::from("t".to_string()),
            refresh_at,
            renewable,
            display_name: None,
        }
    }

    #[test]
    fn a_token_is_renewed_after_two_thirds_of_its_time_to_live() {
        let now = Instant::now();
        assert_eq!(refresh_at(90, now), Some(now + Duration::from_secs(60)));
        assert_eq!(refresh_at(0, now), None, "no end: never renewed");
        let l = login(refresh_at(90, now), true);
        let step = |at| Login::step(Some(&l), true, at);
        assert_eq!(step(now + Duration::from_secs(59)), Step::Use);
        assert_eq!(step(now + Duration::from_secs(60)), Step::Renew);
        let mut l = l;
        l.renewed(30, now + Duration::from_secs(60));
        assert_eq!(l.refresh_at, Some(now + Duration::from_secs(80)));
    }

    #[test]
    fn a_due_token_is_renewed_kept_or_replaced_by_a_new_login() {
        let now = Instant::now();
        let due = Some(now);
        assert_eq!(Login::step(None, true, now), Step::LogIn);
        assert_eq!(Login::step(None, false, now), Step::LogIn);
        assert_eq!(Login::step(Some(&login(due, true)), true, now), Step::Renew);
        assert_eq!(Login::step(Some(&login(due, false)), true, now), Step::Keep);
        assert_eq!(
            Login::step(Some(&login(due, true)), false, now),
            Step::LogIn,
            "AppRole logs in again"
        );
        let mut kept = login(due, false);
        kept.keep();
        assert_eq!(Login::step(Some(&kept), true, now), Step::Use);
    }

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
