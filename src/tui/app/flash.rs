//! Short messages at the bottom of the screen that fade after a few seconds.

use std::time::{Duration, Instant};

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// A message shown since `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub level: Level,
    pub text: String,
    pub at: Instant,
}

/// How long the last second of a message is shown dimmed.
const FADE: Duration = Duration::from_millis(1500);

impl Flash {
    /// How long a message of this level stays.
    pub fn lifetime(level: Level) -> Duration {
        match level {
            Level::Info => Duration::from_secs(4),
            Level::Warning => Duration::from_secs(6),
            Level::Error => Duration::from_secs(10),
        }
    }

    /// Whether the message is gone at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) >= Flash::lifetime(self.level)
    }

    /// Whether the message is fading out at `now`.
    pub fn fading(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) + FADE >= Flash::lifetime(self.level)
    }
}
