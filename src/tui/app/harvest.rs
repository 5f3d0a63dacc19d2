//! The running (or just finished) harvest as the pane shows it: counters updated from
//! progress events, rate and ETA computed from the instants the runtime passes in.

use std::time::{Duration, Instant};

use crate::domain::{OrgId, RunSummary, SiteFailure};
use crate::harvest::HarvestEvent;
use crate::tui::app::diff::DiffList;

/// How a harvest ended, as the pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded (complete, partial or failed run) with its changes.
    Finished {
        summary: Box<RunSummary>,
        changes: DiffList,
    },
    /// The harvest could not run at all.
    Error(String),
}

/// A request that failed transiently and will be retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// The site, or `None` for the token or the site list.
    pub org: Option<OrgId>,
    pub attempt: u32,
    pub delay: Duration,
    pub reason: String,
}

/// Progress of a harvest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarvestState {
    pub started: Instant,
    /// When the site list arrived (the rate counts from here).
    pub listed_at: Option<Instant>,
    pub total: Option<usize>,
    pub harvested: usize,
    pub failed: usize,
    pub in_flight: usize,
    pub retries: usize,
    pub credentials: usize,
    /// Vault writes and removals done, of how many (vault mode, after fetching).
    pub stored: Option<(usize, usize)>,
    pub failures: Vec<SiteFailure>,
    /// The most recent retry.
    pub last_retry: Option<Retry>,
    pub cancelling: bool,
    pub outcome: Option<Outcome>,
}

impl HarvestState {
    /// A harvest that just started.
    pub fn new(now: Instant) -> Self {
        HarvestState {
            started: now,
            listed_at: None,
            total: None,
            harvested: 0,
            failed: 0,
            in_flight: 0,
            retries: 0,
            credentials: 0,
            stored: None,
            failures: Vec::new(),
            last_retry: None,
            cancelling: false,
            outcome: None,
        }
    }

    /// Whether it is still running.
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// Applies one progress event received at `now`.
    pub fn apply(&mut self, event: &HarvestEvent, now: Instant) {
        match event {
            HarvestEvent::Listed { total } => {
                self.total = Some(*total);
                self.listed_at = Some(now);
            }
            HarvestEvent::SiteStarted { .. } => self.in_flight += 1,
            HarvestEvent::Retrying {
                org,
                attempt,
                delay,
                reason,
            } => {
                self.retries += 1;
                self.last_retry = Some(Retry {
                    org: org.clone(),
                    attempt: *attempt,
                    delay: *delay,
                    reason: reason.clone(),
                });
            }
            HarvestEvent::SiteDone { credentials, .. } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.harvested += 1;
                self.credentials += credentials;
            }
            HarvestEvent::SiteFailed { org, error } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.failed += 1;
                self.failures.push(SiteFailure {
                    organisation_id: org.clone(),
                    error: error.clone(),
                });
            }
            HarvestEvent::Stored { done, total } => self.stored = Some((*done, *total)),
        }
    }

    /// Sites finished (harvested or failed).
    pub fn done(&self) -> usize {
        self.harvested + self.failed
    }

    /// Time since the start.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Sites per second since the site list arrived.
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let since = self.listed_at.unwrap_or(self.started);
        let secs = now.saturating_duration_since(since).as_secs_f64();
        (secs >= 0.001 && self.done() > 0).then(|| self.done() as f64 / secs)
    }

    /// Time left at the current rate.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let rate = self.rate(now)?;
        let left = self.total?.saturating_sub(self.done());
        Some(Duration::from_secs_f64(left as f64 / rate))
    }

    /// The finished fraction, 0 to 1.
    pub fn ratio(&self) -> f64 {
        match self.total {
            Some(t) if t > 0 => (self.done() as f64 / t as f64).clamp(0.0, 1.0),
            _ => 0.0,
        }
    }
}
