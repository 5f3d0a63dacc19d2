//! Words and cuts that the commands and the console print the same way: the secret mask,
//! yes/no/? for a flag, the wire names of change badges, and cutting text to a width. Pure.

use crate::domain::ChangeBadge;

/// What a hidden secret shows.
pub const MASK: &str = "••••••••";

/// `yes`, `no` or `?` (unknown) for a flag such as a site's authorisation.
pub fn flag(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

/// The badge's name in JSON and in the store (`added`, `authorisation_changed`, …).
pub fn badge_name(b: ChangeBadge) -> &'static str {
    match b {
        ChangeBadge::Added => "added",
        ChangeBadge::AuthorisationChanged => "authorisation_changed",
        ChangeBadge::CredentialsChanged => "credentials_changed",
    }
}

/// The badge a name stands for ([`badge_name`] backwards).
pub fn badge_named(name: &str) -> Option<ChangeBadge> {
    [
        ChangeBadge::Added,
        ChangeBadge::AuthorisationChanged,
        ChangeBadge::CredentialsChanged,
    ]
    .into_iter()
    .find(|b| badge_name(*b) == name)
}

/// `s` cut to at most `max` characters, ending with `…` when cut (nothing for 0).
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_names_round_trip_and_match_serde() {
        for b in [
            ChangeBadge::Added,
            ChangeBadge::AuthorisationChanged,
            ChangeBadge::CredentialsChanged,
        ] {
            assert_eq!(badge_named(badge_name(b)), Some(b));
            assert_eq!(
                serde_json::to_value(b).unwrap(),
                serde_json::json!(badge_name(b))
            );
        }
        assert_eq!(badge_named("rotated"), None);
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("Dŵr", 2), "D…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn flags() {
        assert_eq!(
            [flag(Some(true)), flag(Some(false)), flag(None)],
            ["yes", "no", "?"]
        );
    }
}
