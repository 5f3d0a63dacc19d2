//! The only code that speaks HTTP to SIMS ID: the STS token (cached, renewed before expiry
//! and once on a `401`), the site list and a site's clients, parsed tolerantly into domain
//! types.

mod client;
mod error;
mod settings;
mod token;
mod tolerant;
pub mod wire;

pub use client::{check_endpoint, SimsClient, MAX_CLIENTS_BODY, MAX_SITE_LIST_BODY};
pub use error::SimsError;
pub use settings::{ClientAuth, SimsSettings};
