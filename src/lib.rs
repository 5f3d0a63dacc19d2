//! simsid-console: harvest, cache, browse and audit SIMS ID partner credentials.
//!
//! Layers (see `docs/ARCHITECTURE.md`): `domain` is the vocabulary; `config` resolves
//! settings (it reads the config file and secret files); `sims` is the only HTTP client of
//! SIMS ID; `harvest` runs a full re-harvest; `store` owns the SQLite cache and its key;
//! `logging` owns the log file; `ops` holds the operations both front ends share; `tui`
//! draws; `cli` prints headless command results (and writes `export --output`). The SIMS ID
//! simulator is its own crate, `simsid_simulator`, which only `simulate` and `demo` run.
// No unsafe code, but for the Windows platform module (every `windows-sys` call is unsafe).
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// Tests compare secrets with what was served; `clippy.toml` confines `expose_secret` elsewhere.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod cli;
pub mod config;
pub mod domain;
pub mod exposure;
pub mod filter;
pub mod harvest;
pub mod logging;
pub mod lookup;
pub mod ops;
pub mod platform;
pub mod sanitize;
pub mod security;
pub mod signals;
pub mod sims;
pub mod store;
pub mod team;
pub mod tui;
pub mod vault;
pub mod words;
