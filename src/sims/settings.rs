//! What the SIMS ID client needs to know: endpoints, the integrator's identity and timeouts.

use std::time::Duration;

use secrecy::SecretString;

use crate::domain::{AppId, OrgId};

/// The placeholder in [`SimsSettings::acr_values`] replaced with an organisation id.
pub const ORG_PLACEHOLDER: &str = "{organisation_id}";

/// How the client id and secret are sent to the STS (`sts_client_auth`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// In the form body (`client_secret_post`), as the vendor's samples do.
    #[default]
    Post,
    /// As HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1), which every OAuth server
    /// must support.
    Basic,
}

impl ClientAuth {
    /// Parses a setting value: `post` or `basic`.
    pub fn parse(text: &str) -> Option<ClientAuth> {
        match text.trim().to_ascii_lowercase().as_str() {
            "post" => Some(ClientAuth::Post),
            "basic" => Some(ClientAuth::Basic),
            _ => None,
        }
    }
}

/// Settings of a [`crate::sims::SimsClient`]. `Debug` redacts the secrets.
#[derive(Debug, Clone)]
pub struct SimsSettings {
    /// The STS token endpoint, e.g. `https://sts.sims.co.uk/connect/token`.
    pub sts_url: String,
    /// The partner API base, e.g. `https://rap.sims.co.uk/api/v1/partner` (a trailing
    /// slash is ignored).
    pub api_base: String,
    /// The application whose sites are harvested.
    pub application_id: AppId,
    /// The integrator's partner client id.
    pub client_id: String,
    /// The integrator's partner secret.
    pub client_secret: SecretString,
    /// The integrator's own organisation (fills `acr_values`).
    pub organisation_id: OrgId,
    /// Space-separated scopes, e.g. `rapapi partner partner-read partner-write`.
    pub scopes: String,
    /// Template of `acr_values`; `{organisation_id}` is replaced with the organisation id.
    pub acr_values: String,
    /// Sent as `Ocp-Apim-Subscription-Key` on API requests when set.
    pub apim_key: Option<SecretString>,
    /// Whole-request timeout (connect, send and read the answer).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// How the secret is sent to the STS.
    pub client_auth: ClientAuth,
    /// Space-separated scopes `verify` asks for with a school's credential; empty asks for
    /// none (the STS then grants the client's own scopes).
    pub verify_scopes: String,
}

/// Replaces every `{organisation_id}` in `template` with `org`.
pub fn fill_acr_values(template: &str, org: &OrgId) -> String {
    template.replace(ORG_PLACEHOLDER, org.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_template_is_filled_with_the_org_id() {
        let org = OrgId::parse("{207a1392-e1f6-47ba-81da-6c374971d788}").unwrap();
        assert_eq!(
            fill_acr_values("orgselect:{organisation_id}", &org),
            "orgselect:207A1392-E1F6-47BA-81DA-6C374971D788"
        );
        assert_eq!(fill_acr_values("tenant:fixed", &org), "tenant:fixed");
    }
}
