//! Vault mode (vault.md): OpenBao / HashiCorp Vault as the system of record. The only code
//! that speaks to the vault; pure planning and policy text beside it.

pub mod client;
pub mod error;
pub mod path;
pub mod plan;
pub mod policy;
pub mod record;
pub mod session;
pub mod settings;

pub use client::{KvMetadata, KvRead, NodeRole, Route, TokenInfo, VaultClient};
pub use error::VaultError;
pub use record::CredentialRecord;
pub use session::Outage;
pub use settings::{OnRemove, SecretRef, SecretsMode, VaultAuth, VaultSettings};
