//! The data of one credential's KV v2 secret (docs/reference/vault.md "Layout").

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// One credential as stored in the vault. `Debug` redacts the secret. Reading tolerates
/// missing fields (a key edited by hand), which then differ from what simsid would write.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialRecord {
    pub client_id: String,
    #[serde(serialize_with = "expose")]
    pub secret: SecretString,
    pub organisation_id: String,
    pub school_name: String,
    pub dfe_code: Option<String>,
    pub deni_number: Option<String>,
    pub description: Option<String>,
}

// The vault is where the secret is meant to be: its bytes go into the write request's body.
#[allow(clippy::disallowed_methods)]
fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

impl CredentialRecord {
    /// Whether everything but the secret equals `other`'s (the secret is compared by
    /// fingerprint by the caller).
    pub fn same_metadata(&self, other: &CredentialRecord) -> bool {
        self.client_id == other.client_id
            && self.organisation_id == other.organisation_id
            && self.school_name == other.school_name
            && self.dfe_code == other.dfe_code
            && self.deni_number == other.deni_number
            && self.description == other.description
    }
}

impl Default for CredentialRecord {
    fn default() -> Self {
        CredentialRecord {
            client_id: String::new(),
            secret: SecretString::from(String::new()),
            organisation_id: String::new(),
            school_name: String::new(),
            dfe_code: None,
            deni_number: None,
            description: None,
        }
    }
}
