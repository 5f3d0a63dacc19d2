//! Settings: built-in defaults → config file profile → environment → flags, validated in one
//! pass before any network call, the vault's settings included. Every problem is reported at
//! once (exit code 2).
//!
//! - `env`: where variables are read from and which ones are known;
//! - `file`: the config file's schema and the choice of a profile;
//! - `resolve`: the layers merged and checked into [`Settings`];
//! - `vault`: the vault's keys resolved into [`crate::vault::VaultSettings`];
//! - `secret_file`: the one set of rules for files that hold a secret;
//! - `settings`: what resolution produces, and the defaults.

pub mod env;
mod file;
mod resolve;
pub(crate) mod secret_file;
mod settings;
pub mod vault;

pub use env::ProcessEnv;
pub use resolve::{resolve, resolve_policy_scope};
pub(crate) use settings::DEFAULT_CONCURRENCY;
pub use settings::{
    connect_timeout_for, Dirs, Flags, LocalSettings, RemoteSettings, Role, Settings,
    DEFAULT_ACR_VALUES, DEFAULT_MAX_AGE, DEFAULT_SCOPES,
};
