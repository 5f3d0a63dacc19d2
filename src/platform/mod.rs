//! Everything that differs by operating system, behind functions named for what they do:
//! files only their owner can read, the check that a file is private, the store lock's
//! file, the stop signals, the current user, process hardening (design.md, `platform/`).
//! No other module names an operating system; `unix.rs` and `windows.rs` hold the two
//! implementations of the same functions.

pub mod keychain;
