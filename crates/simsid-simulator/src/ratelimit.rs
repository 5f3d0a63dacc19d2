//! The gateway's rate limit (pure): a token bucket that admits `rate` API requests per
//! second with a burst of `rate / 10` (at least 1), as an API gateway's per-subscription
//! limit does. Time is passed in, so the decisions are tested without a clock.

use tokio::time::Instant;

/// A token bucket: full at creation, refilled continuously, capped at its burst.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket admitting `rate` requests per second (burst `rate / 10`, at least 1).
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(rate.max(1));
        let burst = (rate / 10.0).floor().max(1.0);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// The requests admitted per second.
    pub fn rate(&self) -> u32 {
        // `rate` was built from a u32.
        self.rate as u32
    }

    /// Takes a token for a request arriving at `now`; false means answer `429`.
    pub fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(200, t0);
        // A burst of R/10 = 20 passes at once, the 21st is refused.
        assert_eq!((0..25).filter(|_| b.admit(t0)).count(), 20);
        // 100 ms later, 20 more tokens.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!((0..25).filter(|_| b.admit(t1)).count(), 20);
        // Over one second of steady arrivals every 2 ms (500/s), about 200 pass.
        let passed = (1..=500)
            .filter(|i| b.admit(t1 + Duration::from_millis(2 * i)))
            .count();
        assert!((199..=201).contains(&passed), "{passed}");
        // Idle time refills the bucket only up to its burst.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..100).filter(|_| b.admit(t2)).count(), 20);
    }

    #[test]
    fn tiny_rates_still_admit_one() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, t0);
        assert!(b.admit(t0));
        assert!(!b.admit(t0));
        assert!(b.admit(t0 + Duration::from_millis(334)));
        assert_eq!(TokenBucket::new(0, t0).rate(), 1);
    }
}
