//! The integration tests, one binary (`cargo test --test suite`): each module below is a
//! behaviour of the product, tested through the real binary, the library and the
//! in-process simulator (and a real OpenBao where the vault is concerned). One binary links
//! the library once instead of once per file. Where a new test goes and how to run one
//! group: `tests/README.md`.

mod support;

/// The headless commands: output, exit codes, settings, lookups, remote text made inert.
mod cli;
/// The console: the app's state machine, every screen, the runtime, a real terminal.
mod console;
/// Who saw which secret: exposure, the compromise runbook, the vault's audit log.
mod exposure;
/// Harvest semantics: commits, one school, onboarding, bad answers, the removal guard.
mod harvest;
/// No secret reaches a log, a file in clear or an output.
mod leaks;
/// Running as a service: signals, metrics, status, systemd units.
mod service;
/// The SIMS client, its wire format, the simulator, the rate limit, OAuth interop.
mod sims;
/// The store on disk: commits, files and keys, the audit chain, the lock, refusals.
mod store;
/// Vault mode against a real OpenBao: sync, reads, ownership, outages, the console.
// Not on Windows: each test starts `bao`, and a Windows test under Wine gets no handle for a
// Linux process it starts (tests/README.md, "Windows").
#[cfg(not(windows))]
mod vault;
/// Verifying credentials: one code path, refusals told apart from timeouts.
mod verify;
