//! Folds harvest events into counters for whoever shows progress (pure).

use std::time::{Duration, Instant};

use super::HarvestEvent;

/// Running totals of a harvest, built from its events.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub started: Instant,
    pub total: Option<usize>,
    pub done: usize,
    pub failed: usize,
    pub in_flight: usize,
    pub retries: usize,
    /// `429` answers so far.
    pub rate_limited: usize,
    /// Requests the limiter allows in flight, and the configured ceiling.
    pub concurrency: Option<(usize, usize)>,
    pub credentials: usize,
    /// Changes stored by the commit sink (vault writes and removals), and how many to store.
    pub stored: usize,
    pub stored_total: usize,
    /// The most recent failures, oldest first (bounded).
    pub recent_failures: Vec<(String, String)>,
}

/// How many failures [`Progress`] keeps for display.
pub const KEPT_FAILURES: usize = 50;

impl Progress {
    /// Empty totals starting at `now`.
    pub fn new(now: Instant) -> Self {
        Progress {
            started: now,
            total: None,
            done: 0,
            failed: 0,
            in_flight: 0,
            retries: 0,
            rate_limited: 0,
            concurrency: None,
            credentials: 0,
            stored: 0,
            stored_total: 0,
            recent_failures: Vec::new(),
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &HarvestEvent) {
        match event {
            HarvestEvent::Listed { total } => self.total = Some(*total),
            HarvestEvent::SiteStarted { .. } => self.in_flight += 1,
            HarvestEvent::Retrying { .. } => self.retries += 1,
            HarvestEvent::RateLimited { .. } => self.rate_limited += 1,
            HarvestEvent::Limits(l) => self.concurrency = Some((l.concurrency, l.ceiling)),
            HarvestEvent::SiteDone { credentials, .. } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.done += 1;
                self.credentials += credentials;
            }
            HarvestEvent::SiteFailed { org, error } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.failed += 1;
                if self.recent_failures.len() == KEPT_FAILURES {
                    self.recent_failures.remove(0);
                }
                self.recent_failures.push((org.to_string(), error.clone()));
            }
            HarvestEvent::Stored { done, total } => {
                self.stored = *done;
                self.stored_total = *total;
            }
        }
    }

    /// Sites finished, successfully or not.
    pub fn finished(&self) -> usize {
        self.done + self.failed
    }

    /// Sites per second since the start.
    pub fn rate(&self, now: Instant) -> f64 {
        let secs = now.saturating_duration_since(self.started).as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            self.finished() as f64 / secs
        }
    }

    /// Estimated time left at the current rate, when it can be told.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let total = self.total?;
        let rate = self.rate(now);
        if rate <= 0.0 {
            return None;
        }
        let left = total.saturating_sub(self.finished()) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;

    #[test]
    fn counts_follow_events() {
        let t0 = Instant::now();
        let org = OrgId::parse("207A1392-E1F6-47BA-81DA-6C374971D788").unwrap();
        let mut p = Progress::new(t0);
        p.apply(&HarvestEvent::Listed { total: 4 });
        for _ in 0..3 {
            p.apply(&HarvestEvent::SiteStarted { org: org.clone() });
        }
        p.apply(&HarvestEvent::SiteDone {
            org: org.clone(),
            credentials: 2,
        });
        p.apply(&HarvestEvent::SiteFailed {
            org: org.clone(),
            error: "SIMS ID server error 500".into(),
        });
        p.apply(&HarvestEvent::Retrying {
            org: Some(org.clone()),
            attempt: 1,
            delay: Duration::from_millis(10),
            reason: "timeout".into(),
        });
        p.apply(&HarvestEvent::RateLimited {
            org: Some(org),
            retry_after: Duration::from_secs(1),
        });
        p.apply(&HarvestEvent::Limits(crate::harvest::Limits {
            concurrency: 3,
            ceiling: 16,
            rate: Some(190),
        }));
        assert_eq!((p.rate_limited, p.concurrency), (1, Some((3, 16))));
        assert_eq!(p.total, Some(4));
        assert_eq!(p.in_flight, 1);
        assert_eq!((p.done, p.failed, p.retries, p.credentials), (1, 1, 1, 2));
        let later = t0 + Duration::from_secs(2);
        assert!((p.rate(later) - 1.0).abs() < 1e-9);
        assert_eq!(p.eta(later), Some(Duration::from_secs(2)));
        assert_eq!(p.recent_failures.len(), 1);
    }
}
