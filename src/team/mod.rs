//! Team mode (docs/reference/vault.md "Team mode"): the harvest host publishes the team's
//! view under `{prefix}/_simsid/` after every committing harvest, and a viewer pulls it into
//! its store. "View" here means that published view and nothing else.
//!
//! - [`view`]: what the view is (the domain's sites and runs; the badges derived from the
//!   runs), pure;
//! - [`chunk`]: the view as a stream of JSON lines cut into content-addressed chunks and a
//!   manifest; a reader's checks of shape and sequence (docs/reference/vault.md "Trust"),
//!   pure;
//! - [`publish`]: the host's publish; [`pull`]: the viewer's pull;
//! - [`check`]: what a viewer checks against the vault (`vault check`, `show --check-vault`,
//!   the fingerprint an audit record names).
//!
//! Each operation has a vault half that holds no store (so it may run as a background task)
//! between a store read before and a store write after: [`publish_view`] then
//! `Store::set_published` / `Store::set_run_identity`; [`fetch_view`] then
//! `Store::replace_with_view`. [`publish::publish`] and [`pull::pull`] do all three. The
//! keeper (`ops::Keeper`) is the one caller; the front ends use only this module's types.

pub mod check;
pub mod chunk;
pub mod publish;
pub mod pull;
pub mod view;

use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::vault::{VaultError, VaultSettings};

pub use check::{
    check_against_vault, check_viewer, host_fingerprint, viewer_fingerprint, VaultAgreement,
};
pub use chunk::{
    assemble, build, ChunkRef, Chunks, Manifest, PublishPlan, ViewError, CHUNK_MAX, DECLARED_MAX,
    FORMAT, WRITE_MAX,
};
pub use publish::{publish_view, Published};
pub use pull::{fetch_view, Fetched, PullOptions, Pulled};
pub use view::View;

/// Chunk requests in flight at most.
const CONCURRENCY: usize = 16;

/// Why a viewer does not harvest (a usage error, exit 2).
pub const HARVEST_ON_VIEWER: &str = "this profile reads the team's view from the vault; harvests run on the harvest host (`source = \"sims\"`)";

/// The folder of the view under the prefix (its first segment starts with `_`: simsid's
/// own, never a site, never removed by `--reconcile`).
pub const VIEW_FOLDER: &str = "_simsid";

/// A chunk or the manifest as stored in the vault: its exact bytes as one string, so that
/// the SHA-256 a reader checks is over what the writer hashed.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    body: String,
}

/// The manifest's key under the mount.
pub fn manifest_key(settings: &VaultSettings) -> String {
    format!("{}/{VIEW_FOLDER}/manifest", settings.prefix)
}

/// A chunk's key under the mount (`name` is a checked SHA-256).
fn chunk_key(settings: &VaultSettings, name: &str) -> String {
    format!("{}/{VIEW_FOLDER}/chunks/{name}", settings.prefix)
}

/// Why a publish, a pull or a check failed.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The vault, the view or the store failed.
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
