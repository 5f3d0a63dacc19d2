//! Exit codes of cli.md and the error type that carries one.

use std::fmt;

/// Success (a harvest that completed).
pub const OK: u8 = 0;
/// Runtime failure: network, authentication, store.
pub const RUNTIME: u8 = 1;
/// Usage or configuration error.
pub const USAGE: u8 = 2;
/// Harvest partial: some sites failed.
pub const PARTIAL: u8 = 3;
/// ORG not found.
pub const NOT_FOUND: u8 = 4;
/// Verify: at least one credential was refused.
pub const REFUSED: u8 = 5;
/// Another harvest holds the store (or committed to it during this run).
pub const BUSY: u8 = 6;
/// Cancelled (Ctrl-C); nothing committed.
pub const CANCELLED: u8 = 130;

/// A failure with its exit code and a one-line message (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// A runtime failure (exit 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        CliError {
            code: RUNTIME,
            message: message.into(),
        }
    }
    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: USAGE,
            message: message.into(),
        }
    }
    /// Another harvest holds, or changed, the store (exit 6).
    pub fn busy(message: impl Into<String>) -> Self {
        CliError {
            code: BUSY,
            message: message.into(),
        }
    }
    /// ORG not found (exit 4).
    pub fn not_found(org: &str) -> Self {
        CliError {
            code: NOT_FOUND,
            message: format!(
                "no cached site matches `{org}` (organisation id, DfE code or DENI number); \
                 run `simsid harvest` if it is new"
            ),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
