//! Request counters shared by the handlers, and the guard that counts API requests in
//! flight (including the time they spend in latency and injected faults).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::model::SimStats;

/// Lock-free counters behind [`SimStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    token_requests: AtomicU64,
    api_requests: AtomicU64,
    rate_limited: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl Counters {
    /// Counts one token request.
    pub fn token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts one `429` answer.
    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts one API request and marks it in flight until the guard drops.
    pub fn api_request(self: &Arc<Self>) -> InFlight {
        self.api_requests.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight {
            counters: Arc::clone(self),
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> SimStats {
        SimStats {
            token_requests: self.token_requests.load(Ordering::SeqCst),
            api_requests: self.api_requests.load(Ordering::SeqCst),
            rate_limited: self.rate_limited.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
        }
    }

    /// Zeroes the request counts; the maximum restarts from the requests now in flight.
    pub fn reset(&self) {
        self.token_requests.store(0, Ordering::SeqCst);
        self.api_requests.store(0, Ordering::SeqCst);
        self.rate_limited.store(0, Ordering::SeqCst);
        let now = self.in_flight.load(Ordering::SeqCst);
        self.max_in_flight.store(now, Ordering::SeqCst);
    }
}

/// Marks one API request in flight while it lives.
#[derive(Debug)]
pub(crate) struct InFlight {
    counters: Arc<Counters>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_counts_in_flight_and_maximum() {
        let counters = Arc::new(Counters::default());
        let a = counters.api_request();
        let b = counters.api_request();
        assert_eq!(counters.snapshot().in_flight, 2);
        drop(a);
        let c = counters.api_request();
        drop(b);
        let stats = counters.snapshot();
        assert_eq!(stats.in_flight, 1);
        assert_eq!(stats.max_in_flight, 2);
        assert_eq!(stats.api_requests, 3);
        counters.reset();
        let stats = counters.snapshot();
        assert_eq!((stats.api_requests, stats.max_in_flight), (0, 1));
        drop(c);
        assert_eq!(counters.snapshot().in_flight, 0);
    }
}
