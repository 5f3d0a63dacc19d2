//! simsid-console: harvest, cache, browse and audit SIMS ID partner credentials.
//!
//! Layers (see `shared/spec/design.md`): `config` and `domain` are pure vocabulary;
//! `sims` is the only HTTP client of SIMS ID; `harvest` runs a full re-harvest; `store`
//! is the only code that touches disk; `sim` is the loopback simulator; `tui` draws;
//! `cli` prints headless command results.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod cli;
pub mod config;
pub mod domain;
pub mod filter;
pub mod harvest;
pub mod logging;
pub mod ops;
pub mod security;
pub mod sim;
pub mod sims;
pub mod store;
pub mod tui;
