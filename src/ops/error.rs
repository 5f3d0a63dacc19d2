//! Why an operation failed, by kind. The commands map each kind to its exit code once
//! (`cli::exit`); the console shows the message. A message never carries a secret.

use crate::store::StoreError;
use crate::vault::VaultError;

/// An operation's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The settings or the input are wrong: nothing was tried.
    #[error("{0}")]
    Invalid(String),
    /// Something outside (network, SIMS ID, the vault) or the store failed.
    #[error("{0}")]
    Failed(String),
    /// Another harvest holds the store, or changed it during this run.
    #[error("{0}")]
    Busy(String),
    /// Held back by a guard, nothing changed: the message names the flag that takes it
    /// (a pull that would remove more than the removal guard allows: exit 3).
    #[error("{0}")]
    Held(String),
    /// No cached site matches what was typed (the query).
    #[error(
        "no cached site matches `{0}` (organisation id, DfE code or DENI number); \
         run `simsid harvest` if it is new"
    )]
    NotFound(String),
}

impl OpError {
    /// The settings or the input are wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        OpError::Invalid(message.into())
    }

    /// Something outside, or the store, failed.
    pub fn failed(message: impl Into<String>) -> Self {
        OpError::Failed(message.into())
    }

    /// A store error, prefixed with what was being done: `Busy` when another harvest holds
    /// or changed the store, else `Failed`.
    pub fn store(doing: &str, e: StoreError) -> Self {
        let message = if doing.is_empty() {
            e.to_string()
        } else {
            format!("{doing}: {e}")
        };
        if e.is_busy() {
            OpError::Busy(message)
        } else {
            OpError::Failed(message)
        }
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::store("store", e)
    }
}

impl From<crate::team::TeamError> for OpError {
    fn from(e: crate::team::TeamError) -> Self {
        use crate::team::TeamError;
        match e {
            TeamError::Failed(m) => OpError::Failed(m),
            TeamError::Held(m) => OpError::Held(m),
            TeamError::Store(e) => OpError::from(e),
        }
    }
}

impl From<VaultError> for OpError {
    fn from(e: VaultError) -> Self {
        OpError::Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_store_stays_busy_and_others_fail() {
        assert!(matches!(
            OpError::from(StoreError::ChangedUnderRun),
            OpError::Busy(_)
        ));
        let missing = StoreError::Missing(std::path::PathBuf::from("x.sqlite3"));
        match OpError::store("", missing) {
            OpError::Failed(m) => assert!(m.contains("x.sqlite3"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_found_names_the_query_and_what_to_do() {
        let m = OpError::NotFound("ABC".into()).to_string();
        assert!(m.contains("`ABC`") && m.contains("simsid harvest"), "{m}");
    }
}
