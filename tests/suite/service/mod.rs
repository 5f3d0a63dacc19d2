// Not on Windows: sends Unix signals (SIGTERM) to a console in a pseudo-terminal.
#[cfg(not(windows))]
mod console_signals;
// Not on Windows: sends Unix signals (SIGINT, SIGTERM, SIGHUP) to a harvest; the Windows
// control events have no way to be sent to one process under Wine.
#[cfg(not(windows))]
mod harvest_signals;
// Not on Windows: its cancelled run is stopped with SIGTERM, and the file's mode is 0644.
#[cfg(not(windows))]
mod metrics;
mod status;
// Not on Windows: runs Linux's `systemd-analyze`.
#[cfg(not(windows))]
mod systemd;
