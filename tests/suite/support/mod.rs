//! Helpers shared by the suite's tests (no test lives here).

// Not on Windows: runs a test in a child process to change its umask or its terminal.
#[cfg(not(windows))]
pub mod child;
pub mod common;
pub mod disk;
pub mod hostile;
pub mod keeper_support;
pub mod store_support;
// Not on Windows: environments for processes that talk to a real OpenBao (`bao`).
#[cfg(not(windows))]
pub mod team_env;
// Not on Windows: a Unix pseudo-terminal (rustix's pty API).
#[cfg(not(windows))]
pub mod terminal;
// On Windows only compiled: the tests that start `bao` or Python are compiled out there
// (under Wine a Windows test cannot wait for or stop a Linux process).
pub mod tools;
pub mod tui_support;
// Used on Windows only for `free_port` (see `tools`).
pub mod vault_support;
