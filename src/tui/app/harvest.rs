//! The running (or just finished) harvest as the pane shows it: counters updated from
//! progress events, rate and ETA computed from the instants the runtime passes in, requests
//! and `429`s per second over the run, what the limiter allows, and the sites in flight.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::domain::{OrgId, RunSummary};
use crate::harvest::HarvestEnd;
use crate::harvest::{HarvestEvent, Progress};
use crate::tui::action::Effect;
use crate::tui::app::diff::DiffList;
use crate::tui::app::flash::Level;
use crate::tui::app::Screen;
use crate::tui::strings;

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

/// How many seconds of per-second counts are kept (the chart shows the latest ones).
pub const KEPT_SECONDS: usize = 3600;

/// Requests answered and `429`s in one second of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    /// Requests that ended (answered, failed or to be retried).
    pub requests: u64,
    /// Of which answered `429`.
    pub rate_limited: u64,
}

/// A harvest as the pane shows it: the shared counters ([`Progress`]) plus what only the
/// pane draws (per-second counts, the sites in flight and since when, the last retry, how
/// it ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarvestState {
    /// The counters the stderr bar shows too.
    pub counts: Progress,
    /// The most recent retry.
    pub last_retry: Option<Retry>,
    /// Per-second counts since the start, oldest first (at most [`KEPT_SECONDS`]).
    pub seconds: VecDeque<Second>,
    /// The second of the run `seconds[0]` is.
    pub first_second: u64,
    /// Sites with a request in flight, and since when.
    pub in_flight_since: BTreeMap<OrgId, Instant>,
    pub cancelling: bool,
    pub outcome: Option<Outcome>,
}

impl HarvestState {
    /// A harvest that just started.
    pub fn new(now: Instant) -> Self {
        HarvestState {
            counts: Progress::new(now),
            last_retry: None,
            seconds: VecDeque::new(),
            first_second: 0,
            in_flight_since: BTreeMap::new(),
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
        self.counts.apply(event, now);
        match event {
            HarvestEvent::SiteStarted { org } => {
                self.in_flight_since.insert(org.clone(), now);
            }
            HarvestEvent::Retrying {
                org,
                attempt,
                delay,
                reason,
            } => {
                self.second(now).requests += 1;
                self.last_retry = Some(Retry {
                    org: org.clone(),
                    attempt: *attempt,
                    delay: *delay,
                    reason: reason.clone(),
                });
            }
            HarvestEvent::RateLimited { .. } => self.second(now).rate_limited += 1,
            HarvestEvent::SiteDone { org, .. } | HarvestEvent::SiteFailed { org, .. } => {
                self.in_flight_since.remove(org);
                self.second(now).requests += 1;
            }
            HarvestEvent::Listed { .. } | HarvestEvent::Limits(_) | HarvestEvent::Stored { .. } => {
            }
        }
    }

    /// The counts of the second `now` falls in (earlier empty seconds are filled in).
    fn second(&mut self, now: Instant) -> &mut Second {
        let index = self.elapsed(now).as_secs();
        let last = self.first_second + self.seconds.len() as u64;
        if index >= last {
            let missing = usize::try_from(index + 1 - last).unwrap_or(usize::MAX);
            for _ in 0..missing.min(KEPT_SECONDS) {
                self.seconds.push_back(Second::default());
            }
            while self.seconds.len() > KEPT_SECONDS {
                self.seconds.pop_front();
            }
            self.first_second = index + 1 - self.seconds.len() as u64;
        }
        let at = usize::try_from(index.saturating_sub(self.first_second)).unwrap_or(0);
        let at = at.min(self.seconds.len().saturating_sub(1));
        &mut self.seconds[at]
    }

    /// The per-second counts of the last `n` seconds up to `now`, oldest first, the current
    /// (partial) second last; seconds without events count zero.
    pub fn last_seconds(&self, n: usize, now: Instant) -> Vec<Second> {
        let current = self.elapsed(now).as_secs();
        let from = (current + 1).saturating_sub(n as u64);
        (from..=current)
            .map(|s| {
                s.checked_sub(self.first_second)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| self.seconds.get(i).copied())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The sites in flight longest, longest first, with how long (at most `n`).
    pub fn slowest(&self, n: usize, now: Instant) -> Vec<(&OrgId, Duration)> {
        let mut all: Vec<(&OrgId, Duration)> = self
            .in_flight_since
            .iter()
            .map(|(org, since)| (org, now.saturating_duration_since(*since)))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    /// Time since the start.
    pub fn elapsed(&self, now: Instant) -> Duration {
        self.counts.elapsed(now)
    }
}

/// What comes back for this screen from the background (the app's result handlers).
impl super::App {
    pub(super) fn harvest_finished(
        &mut self,
        result: Result<HarvestEnd, String>,
        fx: &mut Vec<Effect>,
    ) {
        let shown = matches!(self.screen(), Screen::Harvest);
        match result {
            Ok(HarvestEnd::Cancelled(_)) => {
                self.harvest = None;
                self.stack.retain(|s| !matches!(s, Screen::Harvest));
                self.warn(strings::FLASH_HARVEST_CANCELLED.to_string());
                return;
            }
            Ok(HarvestEnd::Finished(summary)) => {
                let changes = DiffList::new(&summary.diff);
                let message =
                    strings::harvest_ended(summary.status.as_str(), changes.items.len(), !shown);
                let level = match summary.status {
                    crate::domain::RunStatus::Complete => Level::Info,
                    crate::domain::RunStatus::Partial => Level::Warning,
                    crate::domain::RunStatus::Failed | crate::domain::RunStatus::Cancelled => {
                        Level::Error
                    }
                };
                self.last_run = Some((*summary).clone());
                if let Some(h) = self.harvest.as_mut() {
                    h.outcome = Some(Outcome::Finished { summary, changes });
                    h.counts.in_flight = 0;
                    h.in_flight_since.clear();
                }
                self.set_flash(level, message);
                fx.push(Effect::LoadOverview);
                if self.stack.iter().any(|s| matches!(s, Screen::History(_))) {
                    fx.push(Effect::LoadRuns);
                }
                // What is still live may have changed: rotated credentials drop out.
                if self.stack.iter().any(|s| matches!(s, Screen::Exposure(_))) {
                    fx.push(Effect::LoadExposures);
                }
            }
            Err(e) => {
                if let Some(h) = self.harvest.as_mut() {
                    h.outcome = Some(Outcome::Error(e.clone()));
                    h.counts.in_flight = 0;
                    h.in_flight_since.clear();
                }
                self.error(strings::failed("harvest", &e));
            }
        }
        if !shown && !self.stack.iter().any(|s| matches!(s, Screen::Harvest)) {
            self.harvest = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harvest::Limits;

    fn org(n: u32) -> OrgId {
        OrgId::parse(&format!("{n:08X}-0000-0000-0000-000000000001")).unwrap()
    }

    #[test]
    fn seconds_limits_and_slowest_follow_events() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut h = HarvestState::new(t0);
        h.apply(&HarvestEvent::Listed { total: 3 }, at(10));
        for (i, ms) in [(1, 20), (2, 30), (3, 40)] {
            h.apply(&HarvestEvent::SiteStarted { org: org(i) }, at(ms));
        }
        h.apply(
            &HarvestEvent::RateLimited {
                org: Some(org(1)),
                retry_after: Duration::from_secs(1),
            },
            at(100),
        );
        h.apply(
            &HarvestEvent::Retrying {
                org: Some(org(1)),
                attempt: 1,
                delay: Duration::from_secs(1),
                reason: "rate limited".into(),
            },
            at(100),
        );
        let limits = Limits {
            concurrency: 2,
            ceiling: 8,
            rate: Some(40),
        };
        h.apply(&HarvestEvent::Limits(limits), at(100));
        h.apply(
            &HarvestEvent::SiteDone {
                org: org(2),
                credentials: 1,
            },
            at(2500),
        );
        assert_eq!((h.counts.rate_limited, h.counts.limits), (1, Some(limits)));
        let secs = h.last_seconds(4, at(3200));
        let requests: Vec<u64> = secs.iter().map(|s| s.requests).collect();
        let limited: Vec<u64> = secs.iter().map(|s| s.rate_limited).collect();
        assert_eq!(requests, [1, 0, 1, 0]);
        assert_eq!(limited, [1, 0, 0, 0]);
        // Site 1 has been in flight longest; site 2 is done.
        let slowest = h.slowest(5, at(3000));
        let orgs: Vec<&OrgId> = slowest.iter().map(|(o, _)| *o).collect();
        assert_eq!(orgs, [&org(1), &org(3)]);
        assert_eq!(slowest[0].1, Duration::from_millis(2980));
    }

    #[test]
    fn kept_seconds_are_bounded() {
        let t0 = Instant::now();
        let mut h = HarvestState::new(t0);
        let late = t0 + Duration::from_secs(KEPT_SECONDS as u64 * 3);
        h.apply(
            &HarvestEvent::SiteDone {
                org: org(1),
                credentials: 0,
            },
            late,
        );
        assert_eq!(h.seconds.len(), KEPT_SECONDS);
        assert_eq!(h.last_seconds(1, late)[0].requests, 1);
    }
}
