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
mod error;
mod keys;
pub mod publish;
pub mod pull;
pub mod view;

pub use check::{
    check_against_vault, check_viewer, host_fingerprint, viewer_fingerprint, VaultAgreement,
};
// The pull's unit tests build views at the chunk limit and in this format.
#[cfg(test)]
pub use chunk::{CHUNK_MAX, FORMAT};
pub use error::TeamError;
pub use keys::VIEW_FOLDER;
pub use publish::{publish_view, Published};
pub use pull::{PullOptions, Pulled};
pub use view::View;

/// Why a viewer does not harvest (a usage error, exit 2).
pub const HARVEST_ON_VIEWER: &str = "this profile reads the team's view from the vault; harvests run on the harvest host (`source = \"sims\"`)";
