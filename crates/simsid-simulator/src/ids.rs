//! The simulator's own identifiers, as SIMS ID puts them on the wire: an organisation id
//! (a GUID) and the pairs its demo changes name. The simulator stands in for someone
//! else's server, so it keeps its own small vocabulary instead of borrowing the client's;
//! both agree on the text (`as_str`, `Display`), which is all that crosses the wire.

use std::fmt;

use serde::Serialize;

/// An organisation (site) id: a GUID, kept in the canonical upper-case hyphenated form
/// `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    /// Parses a GUID as a request may spell it: any case, with or without hyphens, inside
    /// braces or not, surrounded by white space or not. `None` when it is not a GUID.
    pub fn parse(input: &str) -> Option<OrgId> {
        let trimmed = input.trim();
        let inner = trimmed
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(trimmed);
        // 32 hex digits, or 8-4-4-4-12 with hyphens: no URN and no other braces.
        if !matches!(inner.len(), 32 | 36) {
            return None;
        }
        uuid::Uuid::try_parse(inner).ok().map(OrgId::from_uuid)
    }

    /// The canonical form of `id`.
    pub(crate) fn from_uuid(id: uuid::Uuid) -> OrgId {
        let mut text = id.hyphenated().to_string();
        text.make_ascii_uppercase();
        OrgId(text)
    }

    /// The canonical upper-case hyphenated form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// On the wire it is its text, as SIMS ID spells it.
impl Serialize for OrgId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A client of a school, named by the school's id and its client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRef {
    pub organisation_id: OrgId,
    pub client_id: String,
}

/// A school's `Authorised` flag changing (`0`/`1`, `None` for null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorisationChange {
    pub organisation_id: OrgId,
    pub from: Option<u8>,
    pub to: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANONICAL: &str = "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9";

    #[test]
    fn every_spelling_of_a_guid_parses_to_the_canonical_form() {
        for spelling in [
            CANONICAL,
            "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
            "{0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9}",
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            " 0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9 ",
        ] {
            assert_eq!(
                OrgId::parse(spelling).map(|o| o.to_string()).as_deref(),
                Some(CANONICAL),
                "{spelling}"
            );
        }
    }

    #[test]
    fn what_is_not_a_guid_is_refused() {
        for text in [
            "",
            "12345",
            "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F",
            "0A1B2C3D4-E5F-6071-8293-A4B5C6D7E8F9",
            "urn:uuid:0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
            "{0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
            "GA1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9",
        ] {
            assert_eq!(OrgId::parse(text), None, "{text}");
        }
    }

    #[test]
    fn it_serialises_as_its_text() {
        let org = OrgId::parse(CANONICAL).unwrap();
        assert_eq!(
            serde_json::to_string(&org).unwrap(),
            format!("\"{CANONICAL}\"")
        );
    }
}
