//! Helpers of the suite's tests (no test lives here). What the benches and examples need
//! too lives in the shared kit, `crates/simsid-testkit`: the aliases below name its parts as
//! the tests know them; the files here hold what only this suite uses.

// Not on Windows: runs a test in a child process to change its umask or its terminal.
#[cfg(not(windows))]
pub mod child;
pub mod common;
pub mod disk;
pub mod hostile;
// Not on Windows: only the tests that start `bao` use it (see `tools`).
#[cfg(not(windows))]
pub mod proxy;
pub mod store_support;
pub mod tui_support;

/// A whole operation through the profile's keeper, as the binary runs it.
pub use simsid_testkit::keeper as keeper_support;
/// A pseudo-terminal read by a terminal emulator.
// Not on Windows: a Unix pseudo-terminal (rustix's pty API).
#[cfg(not(windows))]
pub use simsid_testkit::terminal;
/// The outside programs (`bao`, Authlib), provisioned on first use.
// Not on Windows: only the tests that start `bao` or Python use it, and they are compiled
// out there (under Wine a Windows test cannot wait for or stop a Linux process).
#[cfg(not(windows))]
pub use simsid_testkit::tools;
/// A real OpenBao. On Windows only `free_port` is used: the tests that start `bao` or Python
/// are compiled out there (under Wine a Windows test cannot wait for or stop a Linux process).
pub use simsid_testkit::vault as vault_support;
/// The environments of a team's processes against a real OpenBao.
// Not on Windows: only the tests that start `bao` use it (see `tools`).
#[cfg(not(windows))]
pub use simsid_testkit::vault_env as team_env;
