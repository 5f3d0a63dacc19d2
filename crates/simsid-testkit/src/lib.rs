//! The shared test kit of simsid-console: what its integration tests (`tests/suite`), its
//! benches and its examples need to stand up real parts, written once.
//!
//! - [`sims`]: the SIMS ID simulator on loopback and the product's client for it;
//! - [`store`]: a throw-away store; [`fixtures`]: store data built from the domain types;
//! - [`process`]: the real `simsid` binary, its environment, output and exit code;
//! - [`vault`]: a real OpenBao (`bao server -dev`, a three-node cluster), provisioned by
//!   [`tools`]; [`vault_env`]: pointing a process or the library at it;
//! - [`terminal`] (Unix): a program in a pseudo-terminal read by a terminal emulator;
//! - [`bench`]: the benches' size, runtime, timed sink and harvests.
//!
//! It reaches the product through its library (`simsid`), as a test does. Loopback only;
//! every wait is bounded.

pub mod bench;
pub mod fixtures;
pub mod process;
pub mod sims;
pub mod store;
// Not on Windows: a Unix pseudo-terminal (rustix's pty API).
#[cfg(unix)]
pub mod terminal;
pub mod tools;
pub mod vault;
pub mod vault_env;
