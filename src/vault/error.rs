//! What can go wrong talking to the vault. Messages never hold a secret or a token.

/// A vault operation's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// Every address failed (connection refused, 5xx, election, sealed) within the budget.
    #[error("the vault is unreachable: {0}")]
    Unavailable(String),
    /// The TLS handshake failed (untrusted certificate, name mismatch): not retried.
    #[error("cannot talk to the vault: {0}")]
    Tls(String),
    /// No usable credentials to log in with (no token, login refused).
    #[error("vault authentication failed: {0}")]
    Auth(String),
    /// `403`: the identity may not do this on this path.
    #[error("permission denied by the vault on {0}")]
    Forbidden(String),
    /// A check-and-set write found another version than expected.
    #[error("check-and-set refused: the key changed in the vault since it was last read")]
    CasMismatch,
    /// Another answer the caller did not expect.
    #[error("the vault answered {status} on {path}: {message}")]
    Status {
        status: u16,
        path: String,
        message: String,
    },
    /// An answer that could not be read.
    #[error("unexpected answer from the vault on {path}: {message}")]
    Invalid { path: String, message: String },
    /// The client could not be built (CA file).
    #[error("vault client: {0}")]
    Setup(String),
}
