//! The JSON shapes the simulator sends, exactly as production spells them (PascalCase,
//! `OrganisationId` upper-case, `Authorised` as `1`/`0`/null, the `OCPAIMKey` field).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// One entry of the site list (`GetSiteByApplication`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct WireSite {
    #[serde(rename = "Id")]
    pub id: Option<i64>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "OrganisationId")]
    pub organisation_id: String,
    #[serde(rename = "DfeCode")]
    pub dfe_code: Option<String>,
    #[serde(rename = "DeniNumber")]
    pub deni_number: Option<String>,
    #[serde(rename = "Authorised")]
    pub authorised: Option<u8>,
}

/// One entry of a site's Clients answer. The secret stays a `SecretString` until the
/// response body is written.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct WireClient {
    #[serde(rename = "ClientId")]
    pub client_id: String,
    #[serde(rename = "Secret", serialize_with = "expose")]
    pub secret: SecretString,
    #[serde(rename = "OCPAIMKey")]
    pub ocpaimkey: Option<String>,
    #[serde(rename = "Description")]
    pub description: String,
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

/// The form body of a token request. Unknown fields (`acr_values`, …) are ignored.
#[derive(Deserialize)]
pub(crate) struct TokenForm {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub scope: Option<String>,
}

/// A successful token answer.
#[derive(Serialize)]
pub(crate) struct IssuedToken {
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    pub expires_in: u64,
    pub token_type: &'static str,
    pub scope: String,
}

/// An OAuth error answer (`{"error": "invalid_client"}`).
#[derive(Serialize)]
pub(crate) struct OAuthError {
    pub error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// An ASP.NET-style error body (`{"Message": "…"}`).
#[derive(Serialize)]
pub(crate) struct ApiMessage {
    #[serde(rename = "Message")]
    pub message: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_serialises_in_production_shape() {
        let site = WireSite {
            id: Some(0),
            name: "ESS (TI)".into(),
            organisation_id: "207A1392-E1F6-47BA-81DA-6C374971D788".into(),
            dfe_code: Some("CAP0001".into()),
            deni_number: None,
            authorised: Some(1),
        };
        assert_eq!(
            serde_json::to_string(&site).unwrap(),
            r#"{"Id":0,"Name":"ESS (TI)","OrganisationId":"207A1392-E1F6-47BA-81DA-6C374971D788","DfeCode":"CAP0001","DeniNumber":null,"Authorised":1}"#
        );
    }

    #[test]
    fn client_serialises_secret_and_debug_hides_it() {
        let client = WireClient {
            client_id: "sas-simsprimary-1".into(),
            secret: SecretString::from("s3cr3t-value".to_string()),
            ocpaimkey: None,
            description: "d".into(),
        };
        assert_eq!(
            serde_json::to_string(&client).unwrap(),
            r#"{"ClientId":"sas-simsprimary-1","Secret":"s3cr3t-value","OCPAIMKey":null,"Description":"d"}"#
        );
        assert!(!format!("{client:?}").contains("s3cr3t-value"));
    }
}
