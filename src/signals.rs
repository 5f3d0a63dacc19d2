//! The process's stop signals — `SIGINT`, `SIGTERM`, `SIGHUP`; on Windows Ctrl-C,
//! Ctrl-Break, the console closing, log-off and shutdown — as one stream, so that a harvest
//! stopped by Ctrl-C, `systemctl stop` or a closed terminal cancels the same way
//! (docs/reference/cli.md "Signals, services and monitoring"). Listening replaces the default action
//! (terminate) for as long as the process runs.

use crate::domain::CancelSignal;
use crate::harvest::Cancel;

/// The stop signals, listened to (on Windows: Ctrl-C, Ctrl-Break, the console window
/// closing, log-off and shutdown; see [`crate::platform::StopSignals`]).
#[derive(Debug)]
pub struct StopSignals(crate::platform::StopSignals);

impl StopSignals {
    /// Starts listening (needs a Tokio runtime).
    pub fn listen() -> std::io::Result<Self> {
        crate::platform::StopSignals::listen().map(StopSignals)
    }

    /// The next stop signal to arrive (`None` once no signal can arrive any more).
    pub async fn recv(&mut self) -> Option<CancelSignal> {
        self.0.recv().await
    }

    /// Spawns a task that throws `cancel` with each stop signal (the first one is the one
    /// recorded). Abort the task when the work is done.
    pub fn cancel_on_signal(mut self, cancel: Cancel) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(signal) = self.recv().await {
                tracing::info!(signal = signal.name(), "stop signal received");
                cancel.cancel_by(signal);
            }
        })
    }
}

/// The error that ends the console when a stop signal arrives (the command then exits with
/// [`exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signalled(pub CancelSignal);

impl std::fmt::Display for Signalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped by {}", self.0.name())
    }
}

impl std::error::Error for Signalled {}

/// The exit status of a run cancelled by `signal` (130 for Ctrl-C or the console's own
/// cancel, 143 for `SIGTERM`, 129 for `SIGHUP`: 128 + the signal's number, as a shell
/// reports a process killed by it; the Windows events as their Unix counterparts).
pub fn exit_code(signal: Option<CancelSignal>) -> u8 {
    signal.unwrap_or(CancelSignal::Interrupt).exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(exit_code(None), 130);
        assert_eq!(exit_code(Some(CancelSignal::Interrupt)), 130);
        assert_eq!(exit_code(Some(CancelSignal::Terminate)), 143);
        assert_eq!(exit_code(Some(CancelSignal::Hangup)), 129);
    }

    #[test]
    fn windows_events_exit_as_their_unix_counterparts() {
        assert_eq!(exit_code(Some(CancelSignal::CtrlC)), 130);
        assert_eq!(exit_code(Some(CancelSignal::CtrlBreak)), 130);
        assert_eq!(exit_code(Some(CancelSignal::CtrlClose)), 129);
        assert_eq!(exit_code(Some(CancelSignal::CtrlLogoff)), 143);
        assert_eq!(exit_code(Some(CancelSignal::CtrlShutdown)), 143);
        for signal in CancelSignal::ALL {
            assert_eq!(CancelSignal::named(signal.name()), Some(signal));
        }
    }
}
