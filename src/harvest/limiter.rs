//! The harvest's shared limiter, as a pure state machine: every decision takes the time as
//! an argument, so it is tested without a clock (the async wrapper is [`super::gate`]).
//!
//! One application's quota is shared by every request of a harvest, so a `429` is a signal
//! about the whole harvest:
//!
//! - **Pause.** On a `429` nobody sends until its `Retry-After` has passed (one shared "not
//!   before" instant), not just the request that got it.
//! - **Number in flight.** A window between 1 and the ceiling: cut by 30 % on a `429`
//!   (from what was really in flight), grown by `1/window` per answer while the window is
//!   what holds requests back (additive increase, once per round trip), and by one per
//!   answer (doubling per round trip, a slow start) while probing above the learned rate or
//!   once the limit is gone. Slow answers without `429` change nothing, so a latency spike
//!   never collapses throughput.
//! - **Learned rate.** After a `429` the limiter paces requests (spaced sends) at the
//!   gateway's rate, learned from the rejection itself: the gateway admitted every request
//!   sent since the pause ended and refused the next, so for every earlier send `j`,
//!   `count since j ≤ burst + rate × (time since j)`; the largest `(count − burst) / time`
//!   is a tight lower bound of the rate. The burst is taken as a tenth of a second's worth,
//!   as gateways configure it, or as the opening volley's admitted count when that is
//!   smaller (the count can only be too large: it includes what refilled while the volley
//!   went out). The harvest then holds just under that rate for
//!   [`LimiterConfig::hold`], then probes above it on an exponential curve: under a steady
//!   limit the probe finds the limit again within a fraction of a second (a few `429`s, one
//!   pause); when the limit has been lifted the probe passes [`LIFTED`] times the held rate
//!   without a `429` within a quarter of a second, and pacing stops.
//! - **Probing costs a pause.** A probe that finds the limit still there costs everybody a
//!   `Retry-After` (the gateway's burst, a tenth of a second's worth, is all the quota that
//!   pause does not waste), so a probe is only worth it when enough work is left: with less
//!   than [`LimiterConfig::probe_horizon`] of work left at the held rate (the engine tells
//!   the backlog), the harvest keeps holding to the end. The hold is the trade between the
//!   two costs: a steady limit costs one pause per probe, one probe per hold; a lifted one
//!   is noticed at the next probe: after the rest of the current hold, at worst a whole
//!   `Retry-After` and hold when it lifts just after a probe was refused.
//!
//! The first `429` of a harvest usually comes from the opening volley (`ceiling` requests
//! at once): the number of them admitted is the gateway's burst, and gateways allow a tenth
//! of a second's worth, so the pause ends with a first rate to hold. When the volley tells
//! nothing (or a rate proves wrong at once), a slow start paces from a low rate growing
//! exponentially until the gateway refuses again, which gives the estimate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the limiter behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterConfig {
    /// The most requests in flight (the `concurrency` setting, at least 1).
    pub ceiling: usize,
    /// How long the learned rate is held before probing above it again.
    pub hold: Duration,
    /// No probe with less work than this left at the held rate (see [`Limiter::set_backlog`]).
    pub probe_horizon: Duration,
    /// The e-folding time of the probe: the rate grows by a factor e every `growth`.
    pub growth: Duration,
    /// The fraction of the learned rate that is held (just under the gateway's rate).
    pub margin: f64,
    /// The pause after a `429` without a usable `Retry-After`.
    pub default_retry_after: Duration,
    /// The longest pause a `Retry-After` may impose.
    pub retry_after_cap: Duration,
}

impl LimiterConfig {
    /// The defaults for a ceiling of `ceiling` requests in flight.
    pub fn new(ceiling: usize) -> Self {
        LimiterConfig {
            ceiling: ceiling.max(1),
            hold: Duration::from_secs(5),
            probe_horizon: Duration::from_secs(10),
            growth: Duration::from_millis(150),
            margin: 0.99,
            default_retry_after: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

/// Proof that a request was admitted; hand it back with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// When the request was admitted.
    pub sent: Instant,
    epoch: u64,
}

/// What a request asking to go should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send now.
    Go(Ticket),
    /// Ask again at this instant (a pause, or the next paced slot), or when a request ends.
    WaitUntil(Instant),
    /// The window is full: ask again when a request in flight ends.
    WaitForSlot,
}

/// A paced rate: `base` per second held from `since` for `hold`, then growing
/// exponentially.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pacing {
    base: f64,
    since: Instant,
    hold: Duration,
}

impl Pacing {
    fn rate_at(&self, now: Instant, growth: Duration) -> f64 {
        let probing = now.saturating_duration_since(self.since + self.hold);
        let exponent = (probing.as_secs_f64() / growth.as_secs_f64().max(1e-3)).min(30.0);
        self.base * exponent.exp()
    }

    fn holding(&self, at: Instant) -> bool {
        at < self.since + self.hold
    }
}

/// The opening volley's admitted count, the gateway's burst: the requests sent within
/// [`VOLLEY`] of the first refused one (before or after it) that were admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BurstCount {
    /// When the first refused request was sent.
    refused_sent: Instant,
    admitted: u32,
}

/// What the limiter currently allows, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterState {
    /// Requests allowed in flight now (1 to the ceiling).
    pub concurrency: usize,
    pub ceiling: usize,
    /// The paced rate in requests per second, when pacing.
    pub rate: Option<f64>,
    /// The end of the current `Retry-After` pause, if one is in force.
    pub paused_until: Option<Instant>,
}

/// The most send times kept for learning the rate (older ones are dropped).
const KEPT_SENDS: usize = 50_000;
/// Rate estimates only use spans at least this long (shorter ones are all noise).
const MIN_SPAN: Duration = Duration::from_millis(100);
/// The opening volley: requests sent this close to the first refused one.
const VOLLEY: Duration = Duration::from_millis(50);
/// The burst assumed when it could not be measured, in seconds of the rate.
const ASSUMED_BURST_SECS: f64 = 0.1;
/// The slowest pace, in requests per second.
const MIN_RATE: f64 = 0.2;
/// A probe that reaches this many times the held rate without a `429` finds the limit
/// gone (or so much higher that it no longer binds): pacing stops.
pub const LIFTED: f64 = 4.0;

/// The shared limiter of one harvest.
#[derive(Debug, Clone)]
pub struct Limiter {
    cfg: LimiterConfig,
    in_flight: usize,
    window: f64,
    paused_until: Option<Instant>,
    epoch: u64,
    pacing: Option<Pacing>,
    next_send: Option<Instant>,
    /// Requests that may go unspaced after a pause (the gateway's bucket refilled).
    credit: f64,
    sends: VecDeque<Instant>,
    burst: Option<BurstCount>,
    /// Smoothed time from admission to answer, in seconds.
    latency: Option<f64>,
    max_in_flight: usize,
    /// The window grows by one per answer (the limit proved gone; cleared by a `429`).
    slow_start: bool,
    /// Requests still to send, when the engine says.
    backlog: Option<usize>,
}

impl Limiter {
    /// A limiter with the full ceiling and no pacing.
    pub fn new(cfg: LimiterConfig) -> Self {
        let cfg = LimiterConfig {
            ceiling: cfg.ceiling.max(1),
            ..cfg
        };
        Limiter {
            cfg,
            in_flight: 0,
            window: cfg.ceiling as f64,
            paused_until: None,
            epoch: 0,
            pacing: None,
            next_send: None,
            credit: 0.0,
            sends: VecDeque::new(),
            burst: None,
            latency: None,
            max_in_flight: 0,
            slow_start: false,
            backlog: None,
        }
    }

    /// Tells how many requests are still to send (the harvest's sites not yet done): with
    /// less than [`LimiterConfig::probe_horizon`] of work left at the held rate, probing is
    /// not worth its pause.
    pub fn set_backlog(&mut self, requests: usize) {
        self.backlog = Some(requests);
    }

    /// Requests allowed in flight now.
    pub fn concurrency(&self) -> usize {
        // The window is kept between 1 and the ceiling.
        (self.window.floor() as usize).clamp(1, self.cfg.ceiling)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The most requests that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// What the limiter allows at `now`.
    pub fn state(&self, now: Instant) -> LimiterState {
        LimiterState {
            concurrency: self.concurrency(),
            ceiling: self.cfg.ceiling,
            rate: self.pacing.map(|p| p.rate_at(now, self.cfg.growth)),
            paused_until: self.paused_until.filter(|&t| t > now),
        }
    }

    /// Whether a request may go at `now`; on [`Decision::Go`] it is counted in flight until
    /// its ticket comes back through [`Limiter::answered`], [`Limiter::rate_limited`] or
    /// [`Limiter::failed`].
    pub fn try_acquire(&mut self, now: Instant) -> Decision {
        if let Some(until) = self.paused_until {
            if now < until {
                return Decision::WaitUntil(until);
            }
            self.paused_until = None;
        }
        if self.in_flight >= self.concurrency() {
            return Decision::WaitForSlot;
        }
        if let Some(p) = self.pacing.filter(|p| self.epoch == 1 && p.hold.is_zero()) {
            if let Some(burst) = self.burst_estimate().filter(|_| now >= p.since) {
                // The opening volley measured the burst; gateways allow a tenth of a
                // second's worth, which gives a first rate to hold instead of a slow start.
                // The count includes what the bucket refilled while the volley went out
                // (connections opening spread it): stay well under.
                let base = (burst / ASSUMED_BURST_SECS * 0.9).max(MIN_RATE);
                self.pacing = Some(Pacing {
                    base,
                    since: p.since,
                    hold: self.cfg.hold,
                });
                // The pause refilled the gateway's burst: spend it at once.
                self.credit = burst_credit(burst, base);
            }
        }
        if let Some(p) = self
            .pacing
            .filter(|p| !p.holding(now) && !self.worth_probing(p))
        {
            // Keep holding: extend the hold to now.
            self.pacing = Some(Pacing {
                hold: now.saturating_duration_since(p.since),
                ..p
            });
        }
        if let Some(p) = self.pacing {
            let rate = p.rate_at(now, self.cfg.growth).max(MIN_RATE);
            let learned = p.hold > Duration::ZERO;
            if !p.holding(now)
                && ((learned && rate > LIFTED * p.base) || rate > 2.0 * self.capacity())
            {
                // The probe went far above the learned rate without a `429`, or outgrew
                // what the window can carry: the rate no longer binds.
                self.pacing = None;
                self.next_send = None;
                self.credit = 0.0;
                self.slow_start = true;
            } else if self.credit >= 1.0 {
                // The burst goes at once; the paced sends follow one interval later.
                self.credit -= 1.0;
                self.next_send = Some(now + Duration::from_secs_f64(1.0 / rate));
            } else {
                let interval = Duration::from_secs_f64(1.0 / rate);
                let slot = self.next_send.unwrap_or(now);
                if slot > now {
                    return Decision::WaitUntil(slot);
                }
                // Late wake-ups (timer granularity, a busy machine) keep their slots: the
                // missed ones go at once, up to half the gateway's burst (the bucket filled
                // meanwhile at least as fast as the slots passed), so a loaded client does
                // not fall below the pace.
                let burst = self
                    .burst_estimate()
                    .map_or(rate * ASSUMED_BURST_SECS, |b| {
                        b.min(rate * ASSUMED_BURST_SECS)
                    });
                let lag = interval.max(Duration::from_secs_f64(0.5 * burst / rate));
                let from = slot.max(now.checked_sub(lag).unwrap_or(now));
                self.next_send = Some(from + interval);
            }
        }
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        if self.sends.len() == KEPT_SENDS {
            self.sends.pop_front();
        }
        self.sends.push_back(now);
        Decision::Go(Ticket {
            sent: now,
            epoch: self.epoch,
        })
    }

    /// The request answered (any answer but `429`, errors that are the site's own
    /// included): grows the window while it is what holds requests back: by `1/window`
    /// (one per round trip), or by one (doubling per round trip) while probing above the
    /// learned rate and once the limit has proved gone.
    pub fn answered(&mut self, ticket: Ticket, now: Instant) {
        let was_full = self.in_flight >= self.concurrency();
        self.in_flight = self.in_flight.saturating_sub(1);
        let took = now.saturating_duration_since(ticket.sent).as_secs_f64();
        self.latency = Some(match self.latency {
            Some(l) => 0.9 * l + 0.1 * took,
            None => took,
        });
        if let Some(b) = &mut self.burst {
            let near = |a: Instant, b: Instant| a.max(b).saturating_duration_since(a.min(b));
            if ticket.epoch == 0 && near(ticket.sent, b.refused_sent) <= VOLLEY {
                b.admitted += 1;
            }
        }
        if was_full {
            let probing = self
                .pacing
                .is_some_and(|p| !p.holding(now) && self.worth_probing(&p));
            let step = if self.slow_start || probing {
                1.0
            } else {
                1.0 / self.window
            };
            self.window = (self.window + step).min(self.cfg.ceiling as f64);
        }
    }

    /// The request failed without an answer worth learning from (timeout, network): it
    /// leaves the window and the rate alone.
    pub fn failed(&mut self, _ticket: Ticket, _now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The request was answered `429`: everybody waits out `retry_after`; the first `429`
    /// of requests sent since the last cut cuts the window and learns the rate (later ones
    /// of the same volley only extend the pause). Returns whether it cut.
    pub fn rate_limited(
        &mut self,
        ticket: Ticket,
        now: Instant,
        retry_after: Option<Duration>,
    ) -> bool {
        let in_flight = self.in_flight;
        self.in_flight = self.in_flight.saturating_sub(1);
        let wait = retry_after
            .unwrap_or(self.cfg.default_retry_after)
            .min(self.cfg.retry_after_cap);
        let until = now + wait;
        let resume = self.paused_until.map_or(until, |p| p.max(until));
        self.paused_until = Some(resume);
        if ticket.epoch != self.epoch {
            return false;
        }

        let first = self.epoch == 0 && self.pacing.is_none();
        let estimate = if first {
            // The first refusal: the admitted requests around it will tell the burst (and
            // the rate) when the pause ends; what came before (the token, the site list)
            // says nothing about the gateway.
            self.burst = Some(BurstCount {
                refused_sent: ticket.sent,
                admitted: 0,
            });
            None
        } else {
            let sends: Vec<Instant> = self.sends.iter().copied().collect();
            estimate_rate(&sends, ticket.sent, self.burst_estimate())
        };
        let (base, hold) = match (estimate, self.pacing) {
            (Some(rate), pacing) => {
                let mut base = rate * self.cfg.margin;
                if let Some(p) = pacing.filter(|p| p.holding(ticket.sent)) {
                    // Refused while holding: the held rate itself was too high.
                    base = base.min(p.base * 0.9);
                }
                (base, self.cfg.hold)
            }
            // Refused too soon to learn anything: slow start from half the rate.
            (None, Some(p)) => (p.base * 0.5, Duration::ZERO),
            // Nothing known yet: the opening volley's burst will tell (see `try_acquire`);
            // until then, a slow start from `ceiling` per second.
            (None, None) => (self.cfg.ceiling as f64, Duration::ZERO),
        };
        self.pacing = Some(Pacing {
            base: base.max(MIN_RATE),
            since: resume,
            hold,
        });
        self.next_send = None;
        // The pause refills the gateway's burst: spend it at once when the pause ends.
        self.credit = self
            .burst_estimate()
            .map_or(0.0, |b| burst_credit(b, base.max(MIN_RATE)));
        self.sends.clear();
        self.epoch += 1;
        self.slow_start = false;
        let from = self.window.min(in_flight as f64 + 1.0);
        self.window = (from * 0.7).max(1.0);
        true
    }

    /// Whether probing above the learned rate of `p` is worth a pause: not with less than
    /// [`LimiterConfig::probe_horizon`] of work left at that rate (a slow start, which has
    /// no learned rate yet, always goes on).
    fn worth_probing(&self, p: &Pacing) -> bool {
        let left = self.backlog.map_or(f64::INFINITY, |b| b as f64);
        p.hold.is_zero() || left >= p.base * self.cfg.probe_horizon.as_secs_f64()
    }

    /// The gateway's burst, when the opening volley measured it.
    fn burst_estimate(&self) -> Option<f64> {
        self.burst
            .filter(|b| b.admitted > 0)
            .map(|b| f64::from(b.admitted))
    }

    /// Requests per second the window can carry at the current latency.
    fn capacity(&self) -> f64 {
        match self.latency {
            Some(l) if l > 0.0 => self.concurrency() as f64 / l,
            _ => f64::INFINITY,
        }
    }
}

/// The requests that may go at once when a pause ends: the gateway's bucket refilled to its
/// burst. The measured burst can include what refilled while the opening volley went out,
/// so it is capped at a tenth of a second of `rate` and rounded down.
fn burst_credit(burst: f64, rate: f64) -> f64 {
    burst.min(rate * ASSUMED_BURST_SECS).floor()
}

/// The gateway's rate implied by a refusal: every request in `sends` (ascending admission
/// times) before `refused` was admitted, so for each of them `count ≤ burst + rate × span`;
/// the largest `(count − burst) / span` over spans of at least [`MIN_SPAN`] is returned.
/// The burst is taken as a tenth of a second's worth of the rate, as gateways configure it,
/// or the measured `burst` when that is smaller (a measured burst can be too large: it
/// includes what refilled while the opening volley went out).
pub fn estimate_rate(sends: &[Instant], refused: Instant, burst: Option<f64>) -> Option<f64> {
    let before = sends.partition_point(|&s| s < refused);
    let mut best: Option<f64> = None;
    for (j, &s) in sends[..before].iter().enumerate() {
        let span = refused.saturating_duration_since(s);
        if span < MIN_SPAN {
            break;
        }
        let span = span.as_secs_f64();
        let count = (before - j) as f64;
        // With the burst a tenth of a second's worth: count = rate × (span + 0.1 s).
        let assumed = count / (span + ASSUMED_BURST_SECS);
        let rate = match burst {
            Some(b) if b < assumed * ASSUMED_BURST_SECS => (count - b) / span,
            _ => assumed,
        };
        best = Some(best.map_or(rate, |r: f64| r.max(rate)));
    }
    best.filter(|r| *r > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn go(l: &mut Limiter, now: Instant) -> Ticket {
        match l.try_acquire(now) {
            Decision::Go(t) => t,
            other => panic!("expected to go at once, got {other:?}"),
        }
    }

    #[test]
    fn a_429_pauses_every_request_until_retry_after() {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(8));
        let tickets: Vec<Ticket> = (0..4).map(|_| go(&mut l, t0)).collect();
        let t1 = t0 + ms(10);
        assert!(l.rate_limited(tickets[0], t1, Some(Duration::from_secs(1))));
        let resume = t1 + Duration::from_secs(1);
        // Nobody goes before Retry-After has passed, whoever asks.
        assert_eq!(l.try_acquire(t1 + ms(500)), Decision::WaitUntil(resume));
        assert_eq!(l.state(t1).paused_until, Some(resume));
        // Another 429 of the same volley extends the pause but does not cut again.
        let window = l.concurrency();
        assert!(!l.rate_limited(tickets[1], t1 + ms(5), Some(Duration::from_secs(1))));
        assert_eq!(l.concurrency(), window);
        assert_eq!(
            l.try_acquire(t1 + ms(999)),
            Decision::WaitUntil(resume + ms(5))
        );
        // After the pause requests go again.
        assert!(matches!(l.try_acquire(resume + ms(5)), Decision::Go(_)));
    }

    #[test]
    fn retry_after_is_capped_and_defaulted() {
        let t0 = Instant::now();
        let cfg = LimiterConfig::new(4);
        let mut l = Limiter::new(cfg);
        let a = go(&mut l, t0);
        l.rate_limited(a, t0, None);
        assert_eq!(l.state(t0).paused_until, Some(t0 + cfg.default_retry_after));
        let b = go(&mut l, t0 + cfg.default_retry_after);
        l.rate_limited(
            b,
            t0 + Duration::from_secs(2),
            Some(Duration::from_secs(3600)),
        );
        assert_eq!(
            l.state(t0).paused_until,
            Some(t0 + Duration::from_secs(2) + cfg.retry_after_cap)
        );
    }

    #[test]
    fn window_stays_between_one_and_the_ceiling() {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(5));
        let mut now = t0;
        assert_eq!(l.concurrency(), 5);
        // Repeated 429s cut the window down to 1, never below.
        for _ in 0..20 {
            now += Duration::from_secs(100);
            let t = go(&mut l, now);
            l.rate_limited(t, now, Some(ms(1)));
        }
        assert_eq!(l.concurrency(), 1);
        // With the window full, answers grow it back up to the ceiling, never above.
        for _ in 0..2000 {
            now += Duration::from_secs(1);
            let ts: Vec<Ticket> = std::iter::from_fn(|| match l.try_acquire(now) {
                Decision::Go(t) => Some(t),
                _ => None,
            })
            .collect();
            assert!(ts.len() <= 5);
            for t in ts {
                l.answered(t, now + ms(20));
            }
        }
        assert_eq!(l.concurrency(), 5);
        assert_eq!(l.max_in_flight(), 5);
    }

    #[test]
    fn the_window_bounds_requests_in_flight() {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(3));
        let ts: Vec<Ticket> = (0..3).map(|_| go(&mut l, t0)).collect();
        assert_eq!(l.try_acquire(t0), Decision::WaitForSlot);
        l.answered(ts[0], t0 + ms(1));
        assert!(matches!(l.try_acquire(t0 + ms(1)), Decision::Go(_)));
        assert_eq!(l.in_flight(), 3);
    }

    #[test]
    fn latency_spikes_without_429_change_nothing() {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(16));
        let mut now = t0;
        for round in 0..50 {
            let ts: Vec<Ticket> = (0..16).map(|_| go(&mut l, now)).collect();
            // Every tenth round the answers take ten seconds instead of 20 ms.
            now += if round % 10 == 0 {
                Duration::from_secs(10)
            } else {
                ms(20)
            };
            for t in ts {
                l.answered(t, now);
            }
        }
        for t in [now, now + Duration::from_secs(30)] {
            let v = l.state(t);
            assert_eq!((v.concurrency, v.rate, v.paused_until), (16, None, None));
        }
        let ts: Vec<Ticket> = (0..16).map(|_| go(&mut l, now)).collect();
        // Timeouts and network errors leave the limits alone too.
        for t in ts {
            l.failed(t, now + Duration::from_secs(30));
        }
        assert_eq!((l.concurrency(), l.in_flight()), (16, 0));
    }

    #[test]
    fn estimate_recovers_a_token_bucket_rate() {
        let t0 = Instant::now();
        // Sends every 4 ms (250/s) into a bucket of 200/s with burst 20: the bucket empties
        // after 20 / (250 − 200) = 0.4 s; the send that finds it empty is refused.
        let sends: Vec<Instant> = (0..100).map(|i| t0 + ms(4 * i)).collect();
        let refused = t0 + ms(400);
        let with_burst = estimate_rate(&sends, refused, Some(20.0)).unwrap();
        assert!((190.0..=210.0).contains(&with_burst), "{with_burst}");
        let assumed = estimate_rate(&sends, refused, None).unwrap();
        assert!((190.0..=210.0).contains(&assumed), "{assumed}");
        // Too short a history tells nothing.
        assert_eq!(estimate_rate(&sends[..10], t0 + ms(40), Some(20.0)), None);
    }

    /// The gateway of `learns_the_rate_and_completes`: a token bucket.
    struct Bucket {
        rate: f64,
        burst: f64,
        tokens: f64,
        last: Instant,
    }

    impl Bucket {
        fn admit(&mut self, now: Instant) -> bool {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.last = self.last.max(now);
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                true
            } else {
                false
            }
        }
    }

    /// What a virtual harvest did.
    struct Run {
        wall: Duration,
        requests: usize,
        refused: usize,
        max_in_flight: usize,
        /// Sites done per 100 ms slot.
        done_per_slot: Vec<usize>,
    }

    /// A harvest of `sites` sites in virtual time (1 ms steps, every answer after
    /// `latency`), against a gateway admitting `rate`/s (lifted at `lift`, if given).
    fn virtual_harvest(
        sites: usize,
        rate: Option<f64>,
        lift: Option<Duration>,
        latency: Duration,
        ceiling: usize,
    ) -> Run {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(ceiling));
        let mut bucket = rate.map(|r| Bucket {
            rate: r,
            burst: r / 10.0,
            tokens: r / 10.0,
            last: t0,
        });
        let mut pending = sites;
        let mut done = 0;
        let (mut requests, mut refused) = (0, 0);
        let mut flying: Vec<(Instant, Ticket, bool)> = Vec::new();
        let mut done_per_slot = Vec::new();
        let mut now = t0;
        for _ in 0..600_000 {
            if lift.is_some_and(|at| now >= t0 + at) {
                bucket = None;
            }
            let (ready, rest): (Vec<_>, Vec<_>) =
                flying.into_iter().partition(|(at, _, _)| *at <= now);
            flying = rest;
            for (_, ticket, ok) in ready {
                if ok {
                    l.answered(ticket, now);
                    done += 1;
                    let slot = (now - t0).as_millis() as usize / 100;
                    done_per_slot.resize(done_per_slot.len().max(slot + 1), 0);
                    done_per_slot[slot] += 1;
                } else {
                    l.rate_limited(ticket, now, Some(Duration::from_secs(1)));
                    pending += 1;
                }
            }
            if done == sites {
                break;
            }
            l.set_backlog(sites - done);
            while pending > 0 {
                let Decision::Go(ticket) = l.try_acquire(now) else {
                    break;
                };
                pending -= 1;
                requests += 1;
                let ok = bucket.as_mut().is_none_or(|b| b.admit(now));
                if ok {
                    flying.push((now + latency, ticket, true));
                } else {
                    refused += 1;
                    // The gateway refuses at once.
                    flying.push((now + ms(1), ticket, false));
                }
            }
            now += ms(1);
        }
        assert_eq!(done, sites, "the virtual harvest did not finish");
        Run {
            wall: now - t0,
            requests,
            refused,
            max_in_flight: l.max_in_flight(),
            done_per_slot,
        }
    }

    #[test]
    fn learns_the_rate_and_completes_close_to_it() {
        // 1,000 sites at 100/s: ideal 10 s.
        let run = virtual_harvest(1000, Some(100.0), None, ms(20), 32);
        let ideal = Duration::from_secs(10);
        assert!(run.wall <= ideal.mul_f64(1.3), "wall {:?}", run.wall);
        assert!(
            run.refused * 20 <= run.requests,
            "{} of {} refused",
            run.refused,
            run.requests
        );
        assert!(run.max_in_flight <= 32);
    }

    #[test]
    fn speeds_up_again_when_the_limit_lifts() {
        // Without a limit: the floor of 2,000 sites × 20 ms / 16 in flight.
        let free = virtual_harvest(2000, None, None, ms(20), 16);
        assert!(free.wall <= Duration::from_millis(2600), "{:?}", free.wall);
        // Limited to 100/s, lifted after 8 s: the rest goes at the free pace.
        let lifted = virtual_harvest(4000, Some(100.0), Some(Duration::from_secs(8)), ms(20), 16);
        let free_per_slot = 2000 / free.done_per_slot.len();
        let back = lifted
            .done_per_slot
            .iter()
            .enumerate()
            .skip(80)
            .find(|(_, n)| **n * 10 >= free_per_slot * 8)
            .map(|(slot, _)| slot);
        let back = back.expect("the rate never climbed back");
        assert!(
            back <= 80 + 80,
            "back to the free pace only {} ms after the lift",
            (back - 80) * 100
        );
    }
    /// A limiter that learned `rate` from a probe refused at `t0` (burst measured as a
    /// tenth of a second's worth): returns it and when its hold ends.
    fn learned(rate: f64, ceiling: usize, t0: Instant) -> (Limiter, Instant) {
        let mut l = Limiter::new(LimiterConfig::new(ceiling));
        // The opening volley: a tenth of a second's worth admitted, then a refusal.
        let burst = (rate / 10.0) as usize;
        let admitted: Vec<Ticket> = (0..burst).map(|_| go(&mut l, t0)).collect();
        let refused = go(&mut l, t0);
        assert!(l.rate_limited(refused, t0 + ms(1), Some(Duration::from_secs(1))));
        for t in admitted {
            l.answered(t, t0 + ms(20));
        }
        let resume = t0 + ms(1) + Duration::from_secs(1);
        // The pause ends with a rate to hold (not a slow start).
        assert!(matches!(l.try_acquire(resume), Decision::Go(_)));
        let v = l.state(resume);
        let held = v.rate.expect("paced after the volley");
        assert!(held < rate && held > 0.8 * rate, "held {held}");
        let probe = resume + l.cfg.hold;
        (l, probe)
    }

    #[test]
    fn a_probe_without_429_ends_pacing_and_the_window_slow_starts() {
        let t0 = Instant::now();
        let (mut l, probe) = learned(200.0, 64, t0);
        let held = l.state(probe - ms(1)).rate.unwrap();
        // Until the hold ends the rate stays; then it grows exponentially.
        assert!((l.state(probe).rate.unwrap() - held).abs() < 1e-6);
        let later = l.state(probe + l.cfg.growth).rate.unwrap();
        assert!((later / held - std::f64::consts::E).abs() < 1e-3, "{later}");
        // Once the probe passes LIFTED × the held rate without a 429, pacing stops.
        let gone = probe + l.cfg.growth.mul_f64(LIFTED.ln() + 0.01);
        assert!(matches!(l.try_acquire(gone), Decision::Go(_)));
        assert_eq!(l.state(gone).rate, None);
        // The window grows by one per answer while full (slow start), up to the ceiling:
        // every answer frees a slot that a waiting request takes at once.
        let mut now = gone;
        let start = l.concurrency();
        assert!(start < 64, "{start}");
        let fill = |l: &mut Limiter, now: Instant| -> Vec<Ticket> {
            std::iter::from_fn(|| match l.try_acquire(now) {
                Decision::Go(t) => Some(t),
                _ => None,
            })
            .collect()
        };
        let mut flying = fill(&mut l, now);
        let mut rounds = 0;
        while l.concurrency() < 64 {
            rounds += 1;
            assert!(rounds <= 10, "the window still at {}", l.concurrency());
            now += ms(20);
            let mut next = Vec::new();
            for t in flying {
                l.answered(t, now);
                next.extend(fill(&mut l, now));
            }
            flying = next;
        }
        // Doubling per round trip: from the cut window to 64 in a few round trips.
        assert!(rounds <= 3, "{rounds} round trips from {start}");
        // A 429 ends the slow start: the window is cut from what is in flight.
        flying.extend(fill(&mut l, now));
        assert_eq!(l.in_flight(), 64);
        assert!(l.rate_limited(flying[0], now + ms(1), Some(ms(10))));
        assert_eq!(l.concurrency(), 44, "0.7 × 64 in flight");
    }

    #[test]
    fn a_probe_refused_learns_the_rate_again() {
        let t0 = Instant::now();
        let (mut l, probe) = learned(200.0, 64, t0);
        // Sends at the paced rate through the hold and the probe, against a bucket of 200/s
        // that refuses the first request it has no token for.
        let mut bucket = Bucket {
            rate: 200.0,
            burst: 20.0,
            tokens: 20.0,
            last: t0,
        };
        let mut now = t0 + Duration::from_millis(1001);
        let mut refused = None;
        while refused.is_none() {
            assert!(
                now < probe + Duration::from_secs(2),
                "the probe never hit the limit"
            );
            if let Decision::Go(t) = l.try_acquire(now) {
                if bucket.admit(now) {
                    l.answered(t, now + ms(20));
                } else {
                    refused = Some((t, now));
                }
            }
            now += Duration::from_micros(250);
        }
        let (t, at) = refused.unwrap();
        // Refused while probing, within a fraction of a second of the hold's end.
        assert!(at >= probe && at < probe + ms(500), "{:?}", at - probe);
        assert!(l.rate_limited(t, at + ms(1), Some(Duration::from_secs(1))));
        let resume = at + ms(1) + Duration::from_secs(1);
        let again = l.state(resume).rate.unwrap();
        assert!((190.0..=200.0).contains(&again), "learned {again}");
        // Held again for a full hold.
        assert!((l.state(resume + l.cfg.hold - ms(1)).rate.unwrap() - again).abs() < 1e-6);
    }

    #[test]
    fn no_probe_with_little_work_left() {
        let t0 = Instant::now();
        let (mut l, probe) = learned(200.0, 64, t0);
        let held = l.state(probe).rate.unwrap();
        // Less than the probe horizon's worth of requests left at the held rate: no probe.
        l.set_backlog((held * l.cfg.probe_horizon.as_secs_f64()) as usize - 1);
        let after = probe + Duration::from_secs(1);
        assert!(matches!(l.try_acquire(after), Decision::Go(_)));
        assert!((l.state(after).rate.unwrap() - held).abs() < 1e-6);
        // More work (a longer list than expected): the probe goes on from then.
        l.set_backlog(1_000_000);
        let later = after + l.cfg.growth;
        let rate = l.state(later).rate.unwrap();
        assert!((rate / held - std::f64::consts::E).abs() < 0.05, "{rate}");
    }

    #[test]
    fn five_thousand_sites_at_200_per_second_take_at_most_1_2_n_over_r() {
        // 5,000 sites, 200/s, 20 ms, ceiling 64: ≤ 1.2 × N/R = 30 s,
        // ≤ 5 % 429s.
        let run = virtual_harvest(5000, Some(200.0), None, ms(20), 64);
        assert!(run.wall <= Duration::from_secs(29), "wall {:?}", run.wall);
        assert!(
            run.refused * 40 <= run.requests,
            "{} of {} refused",
            run.refused,
            run.requests
        );
        // A lifted limit, lifted at every point of a probe cycle (hold, probe, pause: about
        // 6.2 s): the pace (per 100 ms slot, ≥ 90 % of the no-limit pace) is back at the
        // next probe: at worst a Retry-After and a hold later (lifted just after a refused
        // probe), on average half that.
        let free = virtual_harvest(5000, None, None, ms(20), 64);
        let free_per_slot = *free.done_per_slot.iter().max().unwrap();
        let cfg = LimiterConfig::new(64);
        let worst_allowed = cfg.hold + cfg.default_retry_after + ms(500);
        let mut took_all = Vec::new();
        for lift_ms in (10_000..=16_500).step_by(500) {
            let lifted = virtual_harvest(12_000, Some(200.0), Some(ms(lift_ms)), ms(20), 64);
            let first = lift_ms as usize / 100;
            let back = lifted
                .done_per_slot
                .iter()
                .enumerate()
                .skip(first + 1)
                .find(|(_, n)| **n * 10 >= free_per_slot * 9)
                .map(|(slot, _)| slot);
            let back = back.expect("the pace never came back");
            // The end of the first slot at the free pace, since the lift.
            let took = ms(((back + 1) * 100) as u64 - lift_ms);
            assert!(
                took <= worst_allowed,
                "lifted at {lift_ms} ms: back after {took:?}"
            );
            took_all.push(took);
        }
        let mean = took_all.iter().sum::<Duration>() / took_all.len() as u32;
        assert!(
            mean <= (cfg.hold + cfg.default_retry_after) / 2 + ms(700),
            "{took_all:?}"
        );
    }

    #[test]
    fn late_wake_ups_catch_up_missed_slots_within_half_a_burst() {
        let t0 = Instant::now();
        let (mut l, _) = learned(200.0, 64, t0);
        let resume = t0 + ms(1) + Duration::from_secs(1);
        let held = l.state(resume).rate.unwrap();
        let interval = Duration::from_secs_f64(1.0 / held);
        // Spend the refilled burst, then ask 30 ms late: the 5 or so slots missed go at once.
        let mut now = resume;
        while let Decision::Go(t) = l.try_acquire(now) {
            l.answered(t, now);
        }
        now += ms(30);
        let mut caught_up = 0;
        while let Decision::Go(t) = l.try_acquire(now) {
            l.answered(t, now);
            caught_up += 1;
            assert!(caught_up < 50);
        }
        let missed = (ms(30).as_secs_f64() / interval.as_secs_f64()).floor() as usize;
        assert!(
            (missed..=missed + 1).contains(&caught_up),
            "{caught_up} of {missed}"
        );
        // Asleep for a whole second: no more than half a burst (10 at 200/s) at once.
        now += Duration::from_secs(1);
        let mut burst = 0;
        while let Decision::Go(t) = l.try_acquire(now) {
            l.answered(t, now);
            burst += 1;
            assert!(burst < 50);
        }
        assert!((9..=11).contains(&burst), "{burst}");
    }
}
