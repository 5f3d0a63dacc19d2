//! The async face of the [`Limiter`]: requests wait at the gate until the limiter lets them
//! go, and hand back their outcome through a [`Permit`]. The waiting is the only timing
//! here; every decision is the limiter's.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::limiter::{Decision, Limiter, LimiterConfig, LimiterState, Ticket};

/// The shared gate of one harvest.
#[derive(Debug)]
pub struct Gate {
    limiter: Mutex<Limiter>,
    /// Woken whenever a request ends (a slot may be free, a pause may have changed).
    changed: Notify,
}

impl Gate {
    /// A gate starting now.
    pub fn new(cfg: LimiterConfig) -> Self {
        Gate {
            limiter: Mutex::new(Limiter::new(cfg)),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Limiter> {
        // The limiter's state stays consistent between calls; a panic elsewhere while the
        // lock was held cannot leave it half-changed.
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the limiter lets one request go. Dropping the future gives up waiting.
    pub async fn admit(&self) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before asking, so an end between the answer and the wait wakes us.
            notified.as_mut().enable();
            let decision = self.lock().try_acquire(Instant::now());
            match decision {
                Decision::Go(ticket) => {
                    return Permit {
                        gate: self,
                        ticket: Some(ticket),
                    }
                }
                Decision::WaitUntil(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at.into()) => {}
                        () = &mut notified => {}
                    }
                }
                Decision::WaitForSlot => notified.await,
            }
        }
    }

    /// What the limiter allows now.
    pub fn state(&self) -> LimiterState {
        self.lock().state(Instant::now())
    }

    /// Tells the limiter how many requests are still to send (see
    /// [`Limiter::set_backlog`]).
    pub fn set_backlog(&self, requests: usize) {
        self.lock().set_backlog(requests);
    }

    /// The most requests that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight()
    }

    fn end(&self, f: impl FnOnce(&mut Limiter, Instant) -> bool) -> bool {
        let cut = f(&mut self.lock(), Instant::now());
        self.changed.notify_waiters();
        cut
    }
}

/// One admitted request. Report how it ended; dropped without a report it counts as
/// [`Permit::failed`].
#[derive(Debug)]
pub struct Permit<'a> {
    gate: &'a Gate,
    ticket: Option<Ticket>,
}

impl Permit<'_> {
    /// The request was answered (anything but `429`).
    pub fn answered(mut self) {
        if let Some(t) = self.ticket.take() {
            self.gate.end(|l, now| {
                l.answered(t, now);
                false
            });
        }
    }

    /// The request was answered `429`: every request waits out `retry_after`. Returns
    /// whether the limiter cut its limits.
    pub fn rate_limited(mut self, retry_after: Option<Duration>) -> bool {
        match self.ticket.take() {
            Some(t) => self.gate.end(|l, now| l.rate_limited(t, now, retry_after)),
            None => false,
        }
    }

    /// The request failed without an answer to learn from.
    pub fn failed(mut self) {
        self.release();
    }

    fn release(&mut self) {
        if let Some(t) = self.ticket.take() {
            self.gate.end(|l, now| {
                l.failed(t, now);
                false
            });
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_woken_when_a_slot_frees() {
        let gate = Gate::new(LimiterConfig::new(1));
        let first = gate.admit().await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiting = async {
            let second = gate.admit().await;
            tx.send(()).ok();
            second.answered();
        };
        let ending = async {
            // The second request cannot go while the first is in flight.
            tokio::task::yield_now().await;
            assert_eq!(gate.state().concurrency, 1);
            first.answered();
            rx.await.ok();
        };
        tokio::join!(waiting, ending);
        assert_eq!(gate.max_in_flight(), 1);
        // A dropped permit frees its slot too.
        drop(gate.admit().await);
        drop(gate.admit().await);
    }
}
