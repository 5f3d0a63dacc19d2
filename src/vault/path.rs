//! Key paths of docs/reference/vault.md "Layout": `{prefix}/{ORG}/{client_id}`, with a client id that is not
//! a safe path segment percent-encoded, and the percent-escaping of key names in URLs.

use crate::domain::OrgId;

/// A path under a mount: segments of letters, digits, `.`, `_`, `-` (and the
/// `{application_id}` placeholder), no empty, `.` or `..` segment.
pub fn is_valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '{' | '}'))
        })
}

/// Whether `segment` may stand in a path as it is.
fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A client id as one key segment: kept when safe, else every byte but letters, digits,
/// `_` and `-` percent-encoded (so `.`/`..` become `%2E`/`%2E%2E`).
pub fn encode_segment(client_id: &str) -> String {
    if is_safe_segment(client_id) {
        return client_id.to_string();
    }
    let mut out = String::with_capacity(client_id.len() * 3);
    for b in client_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_segment`]; `None` when the segment is not one it produces.
pub fn decode_segment(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return is_safe_segment(segment).then(|| segment.to_string());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (encode_segment(&decoded) == segment).then_some(decoded)
}

/// The key of one credential under the mount.
pub fn credential_key(prefix: &str, org: &OrgId, client_id: &str) -> String {
    format!("{prefix}/{}/{}", org.as_str(), encode_segment(client_id))
}

/// A key name as it goes in a URL path: `%` in a key name is itself escaped.
pub fn url_escape(key: &str) -> String {
    key.replace('%', "%25")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids_stay_and_others_round_trip() {
        for id in ["sas-1.a_b", "x"] {
            assert_eq!(encode_segment(id), id);
            assert_eq!(decode_segment(id).as_deref(), Some(id));
        }
        for (id, enc) in [
            ("a/b", "a%2Fb"),
            (".", "%2E"),
            ("..", "%2E%2E"),
            ("é x", "%C3%A9%20x"),
            ("50%", "50%25"),
        ] {
            assert_eq!(encode_segment(id), enc);
            assert_eq!(decode_segment(enc).as_deref(), Some(id));
        }
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment(".."), None);
    }

    #[test]
    fn keys_are_prefix_org_client() {
        let org = OrgId::parse("207a1392-e1f6-47ba-81da-6c374971d788").unwrap();
        assert_eq!(
            credential_key("simsid/APP", &org, "a/b"),
            "simsid/APP/207A1392-E1F6-47BA-81DA-6C374971D788/a%2Fb"
        );
        assert_eq!(url_escape("p/a%2Fb"), "p/a%252Fb");
    }
}
