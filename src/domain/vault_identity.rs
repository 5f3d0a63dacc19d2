//! A vault identity as a name a person can read (docs/reference/vault.md "Trust": an identity is a vault
//! identity, not a display name). Display names are shared: every AppRole login is
//! `approle`, every token made without a display name is `token`, the root token included.
//! Wherever a display name is shared it is qualified: `approle:ROLE` (the role name),
//! `root` (a token holding the `root` policy), `token:ENTITY` (its entity id, or
//! `token:unknown`); other names (`userpass-alice`) stay as they are. Token accessors are
//! HMAC'd in an audit log by default, so they never name anyone. Pure: the vault client
//! (`lookup-self`) and the audit-log reader both qualify through [`VaultIdentity::qualify`].

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// The longest identity (or part of one) kept; longer text is cut with a marker.
pub const MAX_IDENTITY: usize = 256;

/// What kind of login an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityKind {
    /// The root token (`root` policy, no display name of its own).
    Root,
    /// A token without a display name of its own, named by its entity.
    Token,
    /// An AppRole login (a machine), named by its role.
    AppRole,
    /// Any other login with its own display name (`userpass-alice`, `ldap-bob`): a person.
    Named,
}

/// What a vault says about a token: from an audit record's `auth`, or `lookup-self`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthFacts<'a> {
    /// `display_name` (`approle`, `token`, `userpass-alice`).
    pub display_name: &'a str,
    /// `metadata.role_name` (AppRole).
    pub role_name: Option<&'a str>,
    /// `metadata.username` (userpass, LDAP).
    pub username: Option<&'a str>,
    /// `entity_id` (in clear in the audit log).
    pub entity_id: Option<&'a str>,
    /// Whether its policies include `root`.
    pub root: bool,
}

/// One identity as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VaultIdentity {
    /// The name in the report: qualified where the display name is shared, at most
    /// [`MAX_IDENTITY`] bytes plus a marker.
    pub name: String,
    /// The display name as the vault gave it (bounded the same way).
    pub display_name: String,
    /// The role, entity or user name inside it (`--user` matches it too).
    pub part: Option<String>,
    pub kind: IdentityKind,
}

/// Display names every token without its own shares.
fn is_unnamed_token(display_name: &str) -> bool {
    matches!(display_name, "" | "token" | "root")
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl VaultIdentity {
    /// The identity these facts name (see the module documentation for the rules).
    pub fn qualify(facts: &AuthFacts<'_>) -> VaultIdentity {
        let display = bounded(facts.display_name).into_owned();
        let entity = nonempty(facts.entity_id).map(|e| bounded(e).into_owned());
        let role = nonempty(facts.role_name).map(|r| bounded(r).into_owned());
        let user = nonempty(facts.username).map(|u| bounded(u).into_owned());
        if is_unnamed_token(facts.display_name) {
            if facts.root {
                return VaultIdentity {
                    name: "root".into(),
                    display_name: display,
                    part: None,
                    kind: IdentityKind::Root,
                };
            }
            let part = entity.unwrap_or_else(|| "unknown".into());
            return VaultIdentity {
                name: bounded(&format!("token:{part}")).into_owned(),
                display_name: display,
                part: Some(part),
                kind: IdentityKind::Token,
            };
        }
        if user.is_none() && (role.is_some() || facts.display_name == "approle") {
            let part = role.or(entity).unwrap_or_else(|| "unknown".into());
            return VaultIdentity {
                name: bounded(&format!("{display}:{part}")).into_owned(),
                display_name: display,
                part: Some(part),
                kind: IdentityKind::AppRole,
            };
        }
        VaultIdentity {
            name: display.clone(),
            display_name: display,
            part: user,
            kind: IdentityKind::Named,
        }
    }

    /// A machine identity (AppRole, or a token): may be the harvest host. A person's login
    /// never is.
    pub fn is_machine(&self) -> bool {
        self.kind != IdentityKind::Named
    }

    /// Whether `user` names this identity, case-insensitively: its display name as before
    /// (`userpass-alice`, `token-alice`, or `alice` inside it), its qualified name
    /// (`approle:product`), or the role, entity or user part (`product`).
    pub fn is_named(&self, user: &str) -> bool {
        person_matches(&self.display_name, user)
            || self.name.eq_ignore_ascii_case(user)
            || self
                .part
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(user))
    }
}

/// Auth methods whose display names are `METHOD-NAME`.
const AUTH_PREFIXES: &[&str] = &[
    "token-",
    "userpass-",
    "approle-",
    "ldap-",
    "oidc-",
    "jwt-",
    "cert-",
    "github-",
    "kubernetes-",
    "radius-",
    "okta-",
];

/// Whether `user` names `candidate` (an OS user or a vault display name): the same name, or
/// the name inside a display name such as `userpass-alice`, case-insensitively.
pub fn person_matches(candidate: &str, user: &str) -> bool {
    if candidate.eq_ignore_ascii_case(user) {
        return true;
    }
    let lower = candidate.to_ascii_lowercase();
    AUTH_PREFIXES.iter().any(|p| {
        lower
            .strip_prefix(p)
            .is_some_and(|inner| !inner.is_empty() && inner.eq_ignore_ascii_case(user))
    })
}

/// `text` cut to at most [`MAX_IDENTITY`] bytes (on a character boundary) with a marker
/// naming how much was cut and a short hash of the whole, so two long names that share
/// their first bytes stay two names.
pub fn bounded(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_IDENTITY {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_IDENTITY;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let digest = Sha256::digest(text.as_bytes());
    Cow::Owned(format!(
        "{}…[truncated: {} more bytes, #{:02x}{:02x}{:02x}{:02x}]",
        &text[..end],
        text.len() - end,
        digest[0],
        digest[1],
        digest[2],
        digest[3]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(
        display: &str,
        role: Option<&str>,
        user: Option<&str>,
        entity: Option<&str>,
        root: bool,
    ) -> VaultIdentity {
        VaultIdentity::qualify(&AuthFacts {
            display_name: display,
            role_name: role,
            username: user,
            entity_id: entity,
            root,
        })
    }

    #[test]
    fn shared_display_names_are_qualified() {
        let product = q("approle", Some("product"), None, Some("e-1"), false);
        assert_eq!(product.name, "approle:product");
        assert_eq!(product.kind, IdentityKind::AppRole);
        let other_mount = q("ci-approle", Some("harvester"), None, None, false);
        assert_eq!(other_mount.name, "ci-approle:harvester");
        assert_eq!(q("token", None, None, None, true).name, "root");
        assert_eq!(q("root", None, None, None, true).name, "root");
        assert_eq!(
            q("token", None, None, Some("ab-12"), false).name,
            "token:ab-12"
        );
        assert_eq!(q("token", None, None, None, false).name, "token:unknown");
        assert_eq!(q("", None, None, None, false).name, "token:unknown");
        let alice = q("userpass-alice", None, Some("alice"), Some("e-2"), false);
        assert_eq!(alice.name, "userpass-alice");
        assert!(!alice.is_machine());
        assert!(product.is_machine());
        assert_ne!(
            q("approle", Some("a"), None, None, false),
            q("approle", Some("b"), None, None, false)
        );
    }

    #[test]
    fn names_match_display_qualified_and_part_ignoring_case() {
        let product = q("approle", Some("product"), None, Some("E-1"), false);
        for u in ["approle", "APPROLE:product", "Product"] {
            assert!(product.is_named(u), "{u}");
        }
        assert!(!product.is_named("e-1"), "an AppRole is named by its role");
        let tok = q("token", None, None, Some("E-1"), false);
        assert!(tok.is_named("e-1") && tok.is_named("token:e-1"));
        let alice = q("userpass-alice", None, Some("alice"), None, false);
        for u in ["alice", "ALICE", "userpass-alice", "UserPass-Alice"] {
            assert!(alice.is_named(u), "{u}");
        }
        assert!(!alice.is_named("bob") && !alice.is_named("userpass"));
        assert!(person_matches("token-alice", "alice"));
        assert!(!person_matches("alice-smith", "smith"));
    }

    #[test]
    fn long_names_are_cut_with_a_marker_and_stay_apart() {
        let a = format!("userpass-{}", "a".repeat(1000));
        let b = format!("userpass-{}b", "a".repeat(1000));
        let (ia, ib) = (
            q(&a, None, None, None, false),
            q(&b, None, None, None, false),
        );
        assert!(ia.name.len() < MAX_IDENTITY + 60, "{}", ia.name.len());
        assert!(ia.name.contains("…[truncated: "), "{}", ia.name);
        assert_ne!(ia.name, ib.name);
        let multibyte = "é".repeat(200);
        assert!(bounded(&multibyte).starts_with(&"é".repeat(128)));
        assert_eq!(bounded("short"), "short");
    }
}
