//! Tolerant parsing of SIMS ID answers straight into domain types.
//!
//! The vendor's own sample reads answers with Newtonsoft, so field names are matched
//! case-insensitively (underscores ignored too: `OrganisationId`, `organisationId`,
//! `organisation_id`), unknown fields are ignored, and nulls are accepted where
//! `docs/reference/sims-api.md` allows them. Every visitor here accepts any JSON kind, so serde never builds
//! an error that quotes a value; the only serde errors left are syntax errors, reported by
//! position only. A problem is described by field name and position, never by value.
//! `OCPAIMKey` is skipped unread, and a `Secret` goes straight into a `SecretString`.

use secrecy::SecretString;
use serde::de::{self, IgnoredAny, MapAccess};

use super::error::SimsError;
use super::tolerant::{
    key_is, optional_code, optional_string, required_string, Fields, List, Loose, Object,
    SecretField,
};
use crate::domain::{Credential, OrgId, Site};

/// Parses a `GetSiteByApplication` answer.
pub fn parse_sites(body: &[u8]) -> Result<Vec<Site>, SimsError> {
    parse_list::<SiteFields>(body)
}

/// Parses a `Clients` answer. `OCPAIMKey` is dropped unread.
pub fn parse_clients(body: &[u8]) -> Result<Vec<Credential>, SimsError> {
    parse_list::<ClientFields>(body)
}

/// A token the STS issued.
#[derive(Debug)]
pub struct TokenAnswer {
    /// The bearer token (redacted in `Debug`).
    pub access_token: SecretString,
    /// Lifetime in seconds, when the STS said.
    pub expires_in: Option<u64>,
    /// The scopes granted, when the STS said (RFC 6749 §5.1: omitted when they are the
    /// ones asked for).
    pub scope: Option<String>,
}

/// Parses a successful STS token answer.
pub fn parse_token(body: &[u8]) -> Result<TokenAnswer, SimsError> {
    let parsed = run::<Object<TokenFields>>(body, "a JSON object with an access token")?;
    parsed
        .0
        .map_err(|problem| SimsError::Malformed(format!("token answer: {problem}")))
}

/// The `error` and `error_description` of a refused token request, raw (the caller
/// sanitises them before they reach a message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code, when the answer had a string one.
    pub code: Option<String>,
    /// The `error_description`, when the answer had a string one.
    pub description: Option<String>,
}

impl OAuthError {
    /// `invalid_client` or `unauthorized_client`: the STS rejected the credential itself.
    pub fn refuses_client(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("invalid_client" | "unauthorized_client")
        )
    }
}

/// Reads the `error` and `error_description` of an STS error answer; anything unreadable
/// gives neither.
pub fn parse_oauth_error(body: &[u8]) -> OAuthError {
    match serde_json::from_slice::<Object<OAuthErrorFields>>(body) {
        Ok(Object(Ok(error))) => error,
        _ => OAuthError::default(),
    }
}

/// Parses `body` as `T`, turning any serde error into a message without values.
fn run<T: for<'de> de::Deserialize<'de>>(body: &[u8], want: &str) -> Result<T, SimsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SimsError::Malformed(format!(
            "empty answer, expected {want}"
        )));
    }
    serde_json::from_slice::<T>(body).map_err(|e| {
        // Every visitor accepts any kind, so this is a syntax error; report its position only.
        SimsError::Malformed(format!(
            "not valid JSON (line {}, column {}), expected {want}",
            e.line(),
            e.column()
        ))
    })
}

fn parse_list<F: Fields>(body: &[u8]) -> Result<Vec<F::Output>, SimsError> {
    let want = format!("a JSON array of {}s", F::WHAT);
    let parsed = run::<List<F>>(body, &want)?;
    parsed.0.map_err(SimsError::Malformed)
}

/// `Authorised`: 1/0, true/false, "1"/"0"/"true"/"false", or null.
fn authorised(value: Loose, field: &str) -> Result<Option<bool>, String> {
    let bad = || format!("field `{field}` is not 0, 1, true, false or null");
    match value {
        Loose::Missing | Loose::Null => Ok(None),
        Loose::Bool(b) => Ok(Some(b)),
        Loose::Int(0) => Ok(Some(false)),
        Loose::Int(1) => Ok(Some(true)),
        Loose::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "false" => Ok(Some(false)),
            "1" | "true" => Ok(Some(true)),
            "" => Ok(None),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// The fields of one site object.
#[derive(Default)]
struct SiteFields {
    name: Loose,
    org: Loose,
    dfe: Loose,
    deni: Loose,
    authorised: Loose,
}

impl Fields for SiteFields {
    const WHAT: &'static str = "site";
    type Output = Site;

    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = if key_is(key, "name") {
            &mut self.name
        } else if key_is(key, "organisationid") || key_is(key, "organizationid") {
            &mut self.org
        } else if key_is(key, "dfecode") {
            &mut self.dfe
        } else if key_is(key, "deninumber") {
            &mut self.deni
        } else if key_is(key, "authorised") || key_is(key, "authorized") {
            &mut self.authorised
        } else {
            // `Id` (an integer, often 0 or null: not a key) and unknown fields.
            map.next_value::<IgnoredAny>()?;
            return Ok(());
        };
        *slot = map.next_value::<Loose>()?;
        Ok(())
    }

    fn finish(self) -> Result<Site, String> {
        let org_text = required_string(self.org, "OrganisationId")?;
        let org_id = OrgId::parse(&org_text)
            .map_err(|_| "field `OrganisationId` is not a GUID".to_owned())?;
        let name = match self.name {
            // A site without a display name is still a site: keep it, nameless.
            Loose::Missing | Loose::Null => String::new(),
            Loose::Str(s) => s,
            other => {
                return Err(format!(
                    "field `Name` is {}, expected a string",
                    other.kind()
                ))
            }
        };
        Ok(Site {
            org_id,
            name,
            dfe_code: optional_code(self.dfe, "DfeCode")?,
            deni_number: optional_code(self.deni, "DeniNumber")?,
            authorised: authorised(self.authorised, "Authorised")?,
        })
    }
}

/// The fields of one client object. `OCPAIMKey` is skipped with the unknown fields.
struct ClientFields {
    client_id: Loose,
    secret: SecretField,
    description: Loose,
}

impl Default for ClientFields {
    fn default() -> Self {
        ClientFields {
            client_id: Loose::Missing,
            secret: SecretField::Missing,
            description: Loose::Missing,
        }
    }
}

impl Fields for ClientFields {
    const WHAT: &'static str = "client";
    type Output = Credential;

    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key_is(key, "clientid") {
            self.client_id = map.next_value::<Loose>()?;
        } else if key_is(key, "secret") || key_is(key, "clientsecret") {
            self.secret = map.next_value::<SecretField>()?;
        } else if key_is(key, "description") {
            self.description = map.next_value::<Loose>()?;
        } else {
            // `OCPAIMKey` and unknown fields: never read into memory we keep.
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Credential, String> {
        Ok(Credential {
            client_id: required_string(self.client_id, "ClientId")?,
            secret: self.secret.require("Secret")?,
            description: optional_string(self.description, "Description")?,
        })
    }
}

/// The fields of an STS token answer.
struct TokenFields {
    access_token: SecretField,
    expires_in: Loose,
    scope: Loose,
}

impl Default for TokenFields {
    fn default() -> Self {
        TokenFields {
            access_token: SecretField::Missing,
            expires_in: Loose::Missing,
            scope: Loose::Missing,
        }
    }
}

impl Fields for TokenFields {
    const WHAT: &'static str = "token";
    type Output = TokenAnswer;

    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key_is(key, "accesstoken") {
            self.access_token = map.next_value::<SecretField>()?;
        } else if key_is(key, "expiresin") {
            self.expires_in = map.next_value::<Loose>()?;
        } else if key == "scope" {
            self.scope = map.next_value::<Loose>()?;
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    #[allow(clippy::disallowed_methods)] // checks the parsed token is not empty
    fn finish(self) -> Result<TokenAnswer, String> {
        let expires_in = match self.expires_in {
            Loose::Missing | Loose::Null => None,
            Loose::Int(n) => Some(u64::try_from(n.max(0)).unwrap_or(u64::MAX)),
            Loose::Float(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
            Loose::Str(s) => Some(
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| "field `expires_in` is not a number of seconds".to_owned())?,
            ),
            other => {
                return Err(format!(
                    "field `expires_in` is {}, expected a number",
                    other.kind()
                ))
            }
        };
        let access_token = self.access_token.require("access_token")?;
        {
            use secrecy::ExposeSecret;
            // It travels in an `Authorization` header: visible ASCII only.
            if !access_token
                .expose_secret()
                .bytes()
                .all(|b| b.is_ascii_graphic())
            {
                return Err("field `access_token` is not a printable token".to_owned());
            }
        }
        let scope = match self.scope {
            Loose::Str(s) => Some(s),
            _ => None,
        };
        Ok(TokenAnswer {
            access_token,
            expires_in,
            scope,
        })
    }
}

/// The `error` and `error_description` fields of an OAuth error answer.
#[derive(Default)]
struct OAuthErrorFields {
    error: OAuthError,
}

impl Fields for OAuthErrorFields {
    const WHAT: &'static str = "OAuth error";
    type Output = OAuthError;

    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key_is(key, "error") {
            if let Loose::Str(code) = map.next_value::<Loose>()? {
                self.error.code = Some(code);
            }
        } else if key_is(key, "errordescription") {
            if let Loose::Str(description) = map.next_value::<Loose>()? {
                self.error.description = Some(description);
            }
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn finish(self) -> Result<OAuthError, String> {
        Ok(self.error)
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
