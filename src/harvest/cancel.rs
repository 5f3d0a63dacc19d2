//! Cancelling a harvest, and saying who did: Ctrl-C or a signal (`SIGTERM`, `SIGHUP`), or
//! the console's own cancel. The engine only sees the token; the run's record names the
//! signal.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::domain::CancelSignal;

/// A harvest's cancel switch with the signal that threw it (the first one wins).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    token: CancellationToken,
    signal: Arc<OnceLock<CancelSignal>>,
}

impl Cancel {
    /// A switch not thrown yet.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Cancels without a signal (the console's `Esc`/`x`).
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Cancels because `signal` arrived; the first signal is the one recorded.
    pub fn cancel_by(&self, signal: CancelSignal) {
        let _ = self.signal.set(signal);
        self.token.cancel();
    }

    /// Whether the switch was thrown.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The signal that cancelled, if a signal did.
    pub fn signal(&self) -> Option<CancelSignal> {
        self.signal.get().copied()
    }

    /// The token the engine watches.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The reason recorded in the history.
    pub fn reason(&self) -> String {
        match self.signal() {
            Some(s) => format!("cancelled by {}", s.name()),
            None => "cancelled".to_string(),
        }
    }
}

/// A plain token cancels without a signal.
impl From<CancellationToken> for Cancel {
    fn from(token: CancellationToken) -> Self {
        Cancel {
            token,
            signal: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_is_recorded_and_the_token_fires() {
        let cancel = Cancel::new();
        let seen = cancel.clone();
        assert!(!seen.is_cancelled());
        assert_eq!(cancel.reason(), "cancelled");
        cancel.cancel_by(CancelSignal::Terminate);
        cancel.cancel_by(CancelSignal::Hangup);
        assert!(seen.token().is_cancelled());
        assert_eq!(seen.signal(), Some(CancelSignal::Terminate));
        assert_eq!(seen.reason(), "cancelled by SIGTERM");
    }

    #[test]
    fn a_plain_token_cancels_without_a_signal() {
        let token = CancellationToken::new();
        let cancel = Cancel::from(token.clone());
        token.cancel();
        assert!(cancel.is_cancelled());
        assert_eq!(cancel.signal(), None);
    }
}
