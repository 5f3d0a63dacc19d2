//! Frame pacing: the loop applies every pending action, then draws at most once per
//! [`MIN_FRAME`]; ticks keep the screen moving at least every [`BUSY_TICK`] while a harvest
//! runs (and every [`IDLE_TICK`] otherwise, for timeouts and fading messages).

use std::time::{Duration, Instant};

/// The shortest time between two frames.
pub const MIN_FRAME: Duration = Duration::from_millis(50);
/// The tick period while a harvest runs (at least ten frames a second).
pub const BUSY_TICK: Duration = Duration::from_millis(100);
/// The tick period otherwise.
pub const IDLE_TICK: Duration = Duration::from_millis(250);

/// Decides when to draw: only when something changed, and not more often than the minimum
/// frame interval.
#[derive(Debug, Clone)]
pub struct FramePacer {
    min_frame: Duration,
    last: Option<Instant>,
    dirty: bool,
    /// A key was pressed: its frame is drawn at once, not paced.
    urgent: bool,
}

impl FramePacer {
    /// A pacer that wants a first frame.
    pub fn new(min_frame: Duration) -> Self {
        FramePacer {
            min_frame,
            last: None,
            dirty: true,
            urgent: false,
        }
    }

    /// The user pressed a key: the next frame is drawn at once (a key is answered within
    /// one 60 Hz frame; pacing is for harvest progress and ticks).
    pub fn mark_urgent(&mut self) {
        self.dirty = true;
        self.urgent = true;
    }

    /// Something changed: a frame is wanted.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether to draw now.
    pub fn should_draw(&self, now: Instant) -> bool {
        match self.last {
            _ if !self.dirty => false,
            _ if self.urgent => true,
            None => true,
            Some(last) => now.saturating_duration_since(last) >= self.min_frame,
        }
    }

    /// A frame was drawn at `now`.
    pub fn drew(&mut self, now: Instant) {
        self.last = Some(now);
        self.dirty = false;
        self.urgent = false;
    }

    /// When the next frame is due, if one is wanted.
    pub fn next_frame(&self, now: Instant) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        if self.urgent {
            return Some(now);
        }
        Some(
            self.last
                .map_or(now, |last| (last + self.min_frame).max(now)),
        )
    }
}

/// The tick period for the current state.
pub fn tick_period(harvest_running: bool) -> Duration {
    if harvest_running {
        BUSY_TICK
    } else {
        IDLE_TICK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_at_most_once_per_min_frame() {
        let t0 = Instant::now();
        let mut p = FramePacer::new(MIN_FRAME);
        assert!(p.should_draw(t0));
        p.drew(t0);
        assert!(!p.should_draw(t0), "nothing changed");
        // A burst of changes within the frame interval gives one frame at its end.
        for i in 0..100u64 {
            p.mark_dirty();
            assert!(!p.should_draw(t0 + Duration::from_micros(i * 100)));
        }
        assert_eq!(p.next_frame(t0), Some(t0 + MIN_FRAME));
        assert!(p.should_draw(t0 + MIN_FRAME));
        p.drew(t0 + MIN_FRAME);
        assert_eq!(p.next_frame(t0 + MIN_FRAME), None);
    }

    #[test]
    fn a_key_is_drawn_at_once() {
        let t0 = Instant::now();
        let mut p = FramePacer::new(MIN_FRAME);
        p.drew(t0);
        p.mark_dirty();
        assert!(!p.should_draw(t0 + Duration::from_millis(1)), "paced");
        p.mark_urgent();
        assert!(
            p.should_draw(t0 + Duration::from_millis(1)),
            "a key is not paced"
        );
        assert_eq!(p.next_frame(t0), Some(t0));
        p.drew(t0 + Duration::from_millis(1));
        p.mark_dirty();
        assert!(
            !p.should_draw(t0 + Duration::from_millis(2)),
            "paced again after"
        );
    }

    #[test]
    fn busy_ticks_give_at_least_ten_frames_a_second() {
        assert!(tick_period(true) <= Duration::from_millis(100));
        assert!(tick_period(true) >= MIN_FRAME);
        assert!(tick_period(false) >= tick_period(true));
    }
}
