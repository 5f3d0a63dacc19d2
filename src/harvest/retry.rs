//! Retry policy: exponential backoff with jitter, a bounded number of tries, honouring
//! `Retry-After` (capped).

use std::time::Duration;

use backon::ExponentialBuilder;

/// How hard a harvest retries one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The most a `Retry-After` may make us wait.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The backon builder for this policy.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
    }

    /// The delay to use: the server's `Retry-After` (capped) when given, else the backoff's.
    /// `None` (no more tries left) stays `None`.
    pub fn adjust(
        &self,
        retry_after: Option<Duration>,
        backoff: Option<Duration>,
    ) -> Option<Duration> {
        let backoff = backoff?;
        Some(match retry_after {
            Some(ra) => ra.min(self.retry_after_cap),
            None => backoff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = RetryPolicy::default();
        let b = Some(Duration::from_millis(300));
        assert_eq!(p.adjust(None, b), b);
        assert_eq!(
            p.adjust(Some(Duration::from_secs(2)), b),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.adjust(Some(Duration::from_secs(3600)), b),
            Some(p.retry_after_cap)
        );
        assert_eq!(p.adjust(Some(Duration::from_secs(1)), None), None);
    }
}
