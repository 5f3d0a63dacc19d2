//! Tolerant parsing of SIMS ID answers straight into domain types.
//!
//! The vendor's own sample reads answers with Newtonsoft, so field names are matched
//! case-insensitively (underscores ignored too: `OrganisationId`, `organisationId`,
//! `organisation_id`), unknown fields are ignored, and nulls are accepted where
//! `sims-api.md` allows them. Every visitor here accepts any JSON kind, so serde never builds
//! an error that quotes a value; the only serde errors left are syntax errors, reported by
//! position only. A problem is described by field name and position, never by value.
//! `OCPAIMKey` is skipped unread, and a `Secret` goes straight into a `SecretString`.

use std::fmt;
use std::marker::PhantomData;

use secrecy::SecretString;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::domain::{Credential, OrgId, Site};
use crate::sims::error::SimsError;

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
}

/// Parses a successful STS token answer.
pub fn parse_token(body: &[u8]) -> Result<TokenAnswer, SimsError> {
    let parsed = run::<Object<TokenFields>>(body, "a JSON object with an access token")?;
    parsed
        .0
        .map_err(|problem| SimsError::Malformed(format!("token answer: {problem}")))
}

/// The OAuth `error` code of a refused token request, as far as this client cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// `invalid_client`: unknown client or wrong secret.
    InvalidClient,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// Any other code, or none, or an answer that is not an OAuth error.
    Other,
}

/// Reads the `error` code of an STS error answer; anything unreadable is `Other`.
pub fn parse_oauth_error(body: &[u8]) -> OAuthError {
    match serde_json::from_slice::<Object<OAuthErrorFields>>(body) {
        Ok(Object(Ok(code))) => code,
        _ => OAuthError::Other,
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

/// The fields of one kind of JSON object, gathered one at a time.
trait Fields: Default {
    /// What one object is, for messages (`site`, `client`).
    const WHAT: &'static str;
    /// What the object becomes.
    type Output;
    /// Reads the value of the field named `key`, skipping unknown fields.
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
    /// Builds the output, or says which field was wrong.
    fn finish(self) -> Result<Self::Output, String>;
}

/// True when `key` is `name` ignoring ASCII case and underscores (`name` is lower-case).
fn key_is(key: &str, name: &str) -> bool {
    let mut key_chars = key.bytes().filter(|b| *b != b'_');
    let mut name_chars = name.bytes();
    loop {
        match (key_chars.next(), name_chars.next()) {
            (None, None) => return true,
            (Some(k), Some(n)) if k.to_ascii_lowercase() == n => {}
            _ => return false,
        }
    }
}

/// Reads one map key without allocating when the input allows it.
struct KeySeed<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(KeyVisitor(self.0))
    }
}

struct KeyVisitor<'a>(&'a mut String);

impl<'de> Visitor<'de> for KeyVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.clear();
        // Field names longer than any known one are never looked at.
        if v.len() <= 64 {
            self.0.push_str(v);
        }
        Ok(())
    }
}

/// A JSON value reduced to what the parser checks: strings kept, containers only named.
#[derive(Default)]
enum Loose {
    #[default]
    Missing,
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Array,
    Object,
}

impl<'de> de::Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

/// Implements the visit methods that only name a JSON kind, draining containers.
macro_rules! accept_any_kind {
    ($value:ty, $wrap:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<$value, E> {
            Ok($wrap(Loose::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<$value, E> {
            Ok($wrap(Loose::Int(i128::from(v))))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<$value, E> {
            Ok($wrap(Loose::Int(i128::from(v))))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<$value, E> {
            Ok($wrap(Loose::Float(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<$value, E> {
            Ok($wrap(Loose::Null))
        }
        fn visit_none<E: de::Error>(self) -> Result<$value, E> {
            Ok($wrap(Loose::Null))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrap(Loose::Array))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($wrap(Loose::Object))
        }
    };
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Str(v))
    }
    accept_any_kind!(Loose, std::convert::identity);
}

impl Loose {
    fn kind(&self) -> &'static str {
        match self {
            Loose::Missing => "missing",
            Loose::Null => "null",
            Loose::Bool(_) => "a boolean",
            Loose::Int(_) | Loose::Float(_) => "a number",
            Loose::Str(_) => "a string",
            Loose::Array => "an array",
            Loose::Object => "an object",
        }
    }
}

/// A secret field: a string goes straight into a `SecretString`; any other kind is named.
enum SecretField {
    Missing,
    Secret(SecretString),
    Other(Loose),
}

impl<'de> de::Deserialize<'de> for SecretField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretField;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a secret string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretField, E> {
        Ok(SecretField::Secret(SecretString::from(v)))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<SecretField, E> {
        Ok(SecretField::Secret(SecretString::from(v)))
    }
    accept_any_kind!(SecretField, SecretField::Other);
}

impl SecretField {
    /// The secret, or a problem naming `field` (never its value).
    fn require(self, field: &str) -> Result<SecretString, String> {
        use secrecy::ExposeSecret;
        match self {
            SecretField::Secret(s) if !s.expose_secret().is_empty() => Ok(s),
            SecretField::Secret(_) => Err(format!("field `{field}` is empty")),
            SecretField::Missing => Err(format!("field `{field}` is missing")),
            SecretField::Other(kind) => Err(format!(
                "field `{field}` is {}, expected a string",
                kind.kind()
            )),
        }
    }
}

/// A required, non-empty string.
fn required_string(value: Loose, field: &str) -> Result<String, String> {
    match value {
        Loose::Str(s) if !s.trim().is_empty() => Ok(s),
        Loose::Str(_) => Err(format!("field `{field}` is empty")),
        Loose::Missing => Err(format!("field `{field}` is missing")),
        other => Err(format!(
            "field `{field}` is {}, expected a string",
            other.kind()
        )),
    }
}

/// An optional string: null, missing or blank is `None`.
fn optional_string(value: Loose, field: &str) -> Result<Option<String>, String> {
    match value {
        Loose::Missing | Loose::Null => Ok(None),
        Loose::Str(s) if s.trim().is_empty() => Ok(None),
        Loose::Str(s) => Ok(Some(s)),
        other => Err(format!(
            "field `{field}` is {}, expected a string or null",
            other.kind()
        )),
    }
}

/// An optional code that SIMS may print as a number (DfE codes are digits).
fn optional_code(value: Loose, field: &str) -> Result<Option<String>, String> {
    match value {
        Loose::Int(n) => Ok(Some(n.to_string())),
        Loose::Str(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        other => optional_string(other, field),
    }
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
}

impl Default for TokenFields {
    fn default() -> Self {
        TokenFields {
            access_token: SecretField::Missing,
            expires_in: Loose::Missing,
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
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

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
        Ok(TokenAnswer {
            access_token,
            expires_in,
        })
    }
}

/// The `error` field of an OAuth error answer.
#[derive(Default)]
struct OAuthErrorFields {
    code: Option<OAuthError>,
}

impl Fields for OAuthErrorFields {
    const WHAT: &'static str = "OAuth error";
    type Output = OAuthError;

    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key_is(key, "error") {
            self.code = Some(match map.next_value::<Loose>()? {
                Loose::Str(code) if code == "invalid_client" => OAuthError::InvalidClient,
                Loose::Str(code) if code == "unauthorized_client" => OAuthError::UnauthorizedClient,
                _ => OAuthError::Other,
            });
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn finish(self) -> Result<OAuthError, String> {
        Ok(self.code.unwrap_or(OAuthError::Other))
    }
}

/// One JSON object read with `F`; `Err` names what was wrong. Any other kind is a problem too.
struct Object<F: Fields>(Result<F::Output, String>);

impl<'de, F: Fields> de::Deserialize<'de> for Object<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectVisitor::<F>(PhantomData))
    }
}

struct ObjectVisitor<F>(PhantomData<F>);

fn not_object<F: Fields>(kind: Loose) -> Object<F> {
    Object(Err(format!("is {}, expected an object", kind.kind())))
}

impl<'de, F: Fields> Visitor<'de> for ObjectVisitor<F> {
    type Value = Object<F>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} object", F::WHAT)
    }
    fn visit_str<E: de::Error>(self, _v: &str) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Str(String::new())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Int(i128::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Int(i128::from(v))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Float(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Object<F>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_object(Loose::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<F>, A::Error> {
        let mut fields = F::default();
        let mut key = String::new();
        while map.next_key_seed(KeySeed(&mut key))?.is_some() {
            fields.field(&key, &mut map)?;
        }
        Ok(Object(fields.finish()))
    }
}

/// A JSON array of objects read with `F`; `Err` names the first wrong element.
struct List<F: Fields>(Result<Vec<F::Output>, String>);

impl<'de, F: Fields> de::Deserialize<'de> for List<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor::<F>(PhantomData))
    }
}

struct ListVisitor<F>(PhantomData<F>);

impl<F: Fields> ListVisitor<F> {
    fn not_list(kind: Loose) -> List<F> {
        List(Err(format!(
            "expected a JSON array of {}s, got {}",
            F::WHAT,
            kind.kind()
        )))
    }
}

impl<'de, F: Fields> Visitor<'de> for ListVisitor<F> {
    type Value = List<F>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON array of {}s", F::WHAT)
    }
    fn visit_str<E: de::Error>(self, _v: &str) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Str(String::new())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Int(i128::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Int(i128::from(v))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Float(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Null))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<F>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::not_list(Loose::Object))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<F>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let mut index = 0usize;
        while let Some(Object::<F>(item)) = seq.next_element::<Object<F>>()? {
            match item {
                Ok(item) => items.push(item),
                Err(problem) => {
                    // Drop what was parsed (secrets included) and skip the rest.
                    drop(items);
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(List(Err(format!("{} {index}: {problem}", F::WHAT))));
                }
            }
            index += 1;
        }
        Ok(List(Ok(items)))
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
