//! Vault mode (docs/reference/vault.md): OpenBao / HashiCorp Vault as the system of record. The only code
//! that speaks to the vault; policy text beside it (what a harvest writes is planned in
//! `ops::vault_sync::plan`).

pub mod client;
pub mod error;
mod http;
pub mod kv;
pub mod login;
pub mod path;
pub mod policy;
pub mod record;
pub mod routing;
pub mod session;
pub mod settings;
#[cfg(test)]
pub(crate) mod stub;
pub mod sys;

pub use client::VaultClient;
pub use error::VaultError;
pub use kv::{KvMetadata, KvRead};
pub use record::CredentialRecord;
pub use routing::Route;
pub use settings::{OnRemove, SecretRef, VaultAuth, VaultSettings};
pub use sys::NodeRole;
