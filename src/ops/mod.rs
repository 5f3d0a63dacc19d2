//! Operations shared by the headless commands and the console: open the store, build the
//! SIMS client, harvest and commit, reveal/copy/verify with their audit records. Errors are
//! [`OpError`]s, by kind; `cli` maps each kind to its exit code.

pub mod audit;
pub mod context;
pub mod error;
pub mod harvest;
pub mod keeper;
pub mod metrics;
pub mod secrets;
pub mod source;
pub mod status;
pub mod vault_ops;
pub mod vault_sync;
pub mod verify;

pub use context::{
    move_store_key, open_existing_store, open_for_harvest, open_store_if_present, sims_client,
    store_key_location, Context,
};
pub use harvest::{HarvestPolicy, SiteEnd};

pub use audit::Auditor;
pub use error::OpError;
pub use keeper::{
    HarvestRequest, Harvested, Keeper, OnLocked, PullOutcome, PullRequest, ReadRequest, SinkReport,
    StoreAccess, VerifyRequest,
};
pub use vault_sync::VaultCounts;

/// Result of an operation.
pub type OpResult<T> = Result<T, OpError>;
