//! Exit codes of docs/reference/cli.md and the error type that carries one.

use std::fmt;

use crate::ops::OpError;

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

/// The exit code of a bulk verify (docs/reference/cli.md): 5 when any was refused, else 1 when any
/// errored, else 0.
pub fn of_verify(tally: &crate::ops::verify::Tally) -> u8 {
    if tally.refused > 0 {
        REFUSED
    } else if tally.errors > 0 {
        RUNTIME
    } else {
        OK
    }
}

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
        OpError::NotFound(org.to_string()).into()
    }
}

/// The one place an operation's failure becomes an exit code.
impl From<OpError> for CliError {
    fn from(e: OpError) -> Self {
        let code = match &e {
            OpError::Invalid(_) => USAGE,
            OpError::Failed(_) => RUNTIME,
            OpError::Busy(_) => BUSY,
            OpError::NotFound(_) => NOT_FOUND,
            OpError::Held(_) => PARTIAL,
        };
        CliError {
            code,
            message: e.to_string(),
        }
    }
}

/// A store error outside an operation: exit 6 when another harvest holds the store, else 1.
impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        OpError::from(e).into()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Result of a command: its exit code, or an error carrying one.
pub type CmdResult = Result<u8, CliError>;

/// A write error on stdout as a command error; a closed pipe (`| head`) is a quiet success.
pub fn io_err(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError {
            code: OK,
            message: String::new(),
        }
    } else {
        CliError::runtime(format!("cannot write output: {e}"))
    }
}

/// The exit code of a console that ended: 0, 143/129/130 when a stop signal ended it, else
/// a runtime failure.
pub fn console_exit(ended: anyhow::Result<()>) -> Result<u8, CliError> {
    match ended {
        Ok(()) => Ok(OK),
        Err(e) => match e.downcast_ref::<crate::signals::Signalled>() {
            Some(s) => {
                tracing::info!(signal = s.0.name(), "console stopped by a signal");
                Ok(crate::signals::exit_code(Some(s.0)))
            }
            None => Err(CliError::runtime(e.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::verify::Tally;

    fn tally(ok: usize, refused: usize, errors: usize) -> Tally {
        Tally {
            total: ok + refused + errors,
            ok,
            refused,
            errors,
        }
    }

    #[test]
    fn refusals_win_over_errors_in_a_bulk_verify() {
        assert_eq!(of_verify(&tally(1, 0, 0)), OK);
        assert_eq!(of_verify(&tally(1, 0, 1)), RUNTIME);
        assert_eq!(of_verify(&tally(1, 1, 1)), REFUSED);
        assert_eq!(of_verify(&tally(0, 0, 0)), OK);
    }

    #[test]
    fn each_kind_of_failure_has_its_exit_code() {
        let code = |e: OpError| CliError::from(e).code;
        assert_eq!(code(OpError::invalid("x")), USAGE);
        assert_eq!(code(OpError::failed("x")), RUNTIME);
        assert_eq!(code(OpError::Busy("x".into())), BUSY);
        assert_eq!(code(OpError::NotFound("x".into())), NOT_FOUND);
    }
}
