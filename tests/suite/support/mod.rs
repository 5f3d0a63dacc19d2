//! Helpers shared by the suite's tests (no test lives here).

// Not on Windows: runs a test in a child process to change its umask or its terminal.
#[cfg(not(windows))]
pub mod child;
pub mod common;
pub mod disk;
pub mod hostile;
pub mod store_support;
// Not on Windows: a Unix pseudo-terminal (rustix's pty API).
#[cfg(not(windows))]
pub mod terminal;
// Not on Windows: provisions and starts Linux tools (`bao`, Python), which a Windows test
// under Wine cannot wait for or stop.
#[cfg(not(windows))]
pub mod tools;
pub mod tui_support;
// Not on Windows: starts `bao` (see `tools`).
#[cfg(not(windows))]
pub mod vault_support;
