//! Why a publish, a pull or a check of the team's view failed; the keeper turns it into
//! an `OpError` of the same kind.

use super::chunk::ViewError;
use crate::store::StoreError;
use crate::vault::VaultError;

/// Why a publish, a pull or a check failed.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The vault failed, or the view is not one a harvest host writes.
    #[error("{0}")]
    Failed(String),
    /// Held back by the removal guard, nothing changed (`pull --accept-removals` takes it).
    #[error("{0}")]
    Held(String),
    /// The store failed (kept whole: another harvest holding it is `Busy` to the keeper).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TeamError {
    /// Something outside failed.
    pub fn failed(message: impl Into<String>) -> Self {
        TeamError::Failed(message.into())
    }
}

impl From<VaultError> for TeamError {
    fn from(e: VaultError) -> Self {
        TeamError::Failed(e.to_string())
    }
}

impl From<ViewError> for TeamError {
    fn from(e: ViewError) -> Self {
        TeamError::Failed(e.to_string())
    }
}

/// Result of a team operation.
pub type TeamResult<T> = Result<T, TeamError>;
