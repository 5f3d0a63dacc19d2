//! Folds harvest events into counters for whoever shows progress (the stderr bar, the
//! console's pane). Pure: the instant of each event is passed in.

use std::time::{Duration, Instant};

use super::{HarvestEvent, Limits};
use crate::domain::SiteFailure;

/// Running totals of a harvest, built from its events. "Harvested" counts sites fetched;
/// "finished" counts those and the failed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub started: Instant,
    /// When the site list arrived: rates count from here.
    pub listed_at: Option<Instant>,
    pub total: Option<usize>,
    /// Sites fetched.
    pub harvested: usize,
    pub failed: usize,
    pub in_flight: usize,
    pub retries: usize,
    /// `429` answers so far.
    pub rate_limited: usize,
    /// What the limiter allows (concurrency, ceiling, paced rate).
    pub limits: Option<Limits>,
    pub credentials: usize,
    /// Changes stored by the commit sink (vault writes and removals), of how many.
    pub stored: Option<(usize, usize)>,
    /// The most recent failures, oldest first (at most [`KEPT_FAILURES`]).
    pub failures: Vec<SiteFailure>,
}

/// How many failures [`Progress`] keeps for display.
pub const KEPT_FAILURES: usize = 50;

impl Progress {
    /// Empty totals starting at `now`.
    pub fn new(now: Instant) -> Self {
        Progress {
            started: now,
            listed_at: None,
            total: None,
            harvested: 0,
            failed: 0,
            in_flight: 0,
            retries: 0,
            rate_limited: 0,
            limits: None,
            credentials: 0,
            stored: None,
            failures: Vec::new(),
        }
    }

    /// Applies one event, received at `now`.
    pub fn apply(&mut self, event: &HarvestEvent, now: Instant) {
        match event {
            HarvestEvent::Listed { total } => {
                self.total = Some(*total);
                self.listed_at = Some(now);
            }
            HarvestEvent::SiteStarted { .. } => self.in_flight += 1,
            HarvestEvent::Retrying { .. } => self.retries += 1,
            HarvestEvent::RateLimited { .. } => self.rate_limited += 1,
            HarvestEvent::Limits(l) => self.limits = Some(*l),
            HarvestEvent::SiteDone { credentials, .. } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.harvested += 1;
                self.credentials += credentials;
            }
            HarvestEvent::SiteFailed { org, error } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.failed += 1;
                if self.failures.len() == KEPT_FAILURES {
                    self.failures.remove(0);
                }
                self.failures.push(SiteFailure {
                    organisation_id: org.clone(),
                    error: error.clone(),
                });
            }
            HarvestEvent::Stored { done, total } => self.stored = Some((*done, *total)),
        }
    }

    /// Sites finished, harvested or failed.
    pub fn finished(&self) -> usize {
        self.harvested + self.failed
    }

    /// Time since the start.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Sites finished per second since the site list arrived, once one has.
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let since = self.listed_at.unwrap_or(self.started);
        let secs = now.saturating_duration_since(since).as_secs_f64();
        (secs >= 0.001 && self.finished() > 0).then(|| self.finished() as f64 / secs)
    }

    /// Time left at the current rate, when it can be told.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let rate = self.rate(now)?;
        let left = self.total?.saturating_sub(self.finished());
        Some(Duration::from_secs_f64(left as f64 / rate))
    }

    /// The finished fraction, 0 to 1.
    pub fn ratio(&self) -> f64 {
        match self.total {
            Some(t) if t > 0 => (self.finished() as f64 / t as f64).clamp(0.0, 1.0),
            _ => 0.0,
        }
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
        let events = [
            HarvestEvent::Listed { total: 4 },
            HarvestEvent::SiteStarted { org: org.clone() },
            HarvestEvent::SiteStarted { org: org.clone() },
            HarvestEvent::SiteStarted { org: org.clone() },
            HarvestEvent::SiteDone {
                org: org.clone(),
                credentials: 2,
            },
            HarvestEvent::SiteFailed {
                org: org.clone(),
                error: "SIMS ID server error 500".into(),
            },
            HarvestEvent::Retrying {
                org: Some(org.clone()),
                attempt: 1,
                delay: Duration::from_millis(10),
                reason: "timeout".into(),
            },
            HarvestEvent::RateLimited {
                org: Some(org),
                retry_after: Duration::from_secs(1),
            },
            HarvestEvent::Limits(crate::harvest::Limits {
                concurrency: 3,
                ceiling: 16,
                rate: Some(190),
            }),
        ];
        for e in &events {
            p.apply(e, t0);
        }
        let limits = p.limits.map(|l| (l.concurrency, l.ceiling));
        assert_eq!((p.rate_limited, limits), (1, Some((3, 16))));
        assert_eq!(p.total, Some(4));
        assert_eq!(p.in_flight, 1);
        assert_eq!(
            (
                p.harvested,
                p.failed,
                p.finished(),
                p.retries,
                p.credentials
            ),
            (1, 1, 2, 1, 2)
        );
        let later = t0 + Duration::from_secs(2);
        assert!((p.rate(later).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(p.eta(later), Some(Duration::from_secs(2)));
        assert!((p.ratio() - 0.5).abs() < 1e-9);
        assert_eq!(p.failures.len(), 1);
    }

    #[test]
    fn failures_kept_are_the_latest() {
        let t0 = Instant::now();
        let org = OrgId::parse("207A1392-E1F6-47BA-81DA-6C374971D788").unwrap();
        let mut p = Progress::new(t0);
        for i in 0..KEPT_FAILURES + 5 {
            let error = format!("e{i}");
            p.apply(
                &HarvestEvent::SiteFailed {
                    org: org.clone(),
                    error,
                },
                t0,
            );
        }
        assert_eq!(p.failed, KEPT_FAILURES + 5);
        assert_eq!(p.failures.len(), KEPT_FAILURES);
        assert_eq!(p.failures[0].error, "e5");
    }
}
