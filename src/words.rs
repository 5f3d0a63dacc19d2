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

/// How long ago or how long for, in the largest whole unit: `12 d`, `30 h` (under two
/// days), `40 min`, `30 s` (negative spans count as zero). The console's "waiting 12 d"
/// and `status`.
pub fn age(span: chrono::Duration) -> String {
    let s = span.num_seconds().max(0);
    if s >= 2 * 86_400 {
        format!("{} d", s / 86_400)
    } else if s >= 3600 {
        format!("{} h", s / 3600)
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// Parses a duration such as `26h`, `90m`, `2d`, `1d12h`, `3600s` or `3600` (seconds):
/// whole numbers, each followed by `d`, `h`, `m` or `s` (`--max-age`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not a duration such as 26h, 90m, 2d or 3600s");
    let text = text.trim();
    if text.is_empty() || text.len() > 32 {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_days_hours_minutes_seconds() {
        let secs = |t: &str| parse_duration(t).map(|d| d.as_secs());
        assert_eq!(secs("26h"), Ok(26 * 3600));
        assert_eq!(secs("90m"), Ok(5400));
        assert_eq!(secs("2d"), Ok(172_800));
        assert_eq!(secs("1d12h"), Ok(129_600));
        assert_eq!(secs("3600s"), Ok(3600));
        assert_eq!(secs("3600"), Ok(3600));
        for bad in [
            "",
            "h",
            "26x",
            "26h5",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_use_the_largest_whole_unit() {
        assert_eq!(
            age(chrono::Duration::days(12) + chrono::Duration::hours(5)),
            "12 d"
        );
        assert_eq!(age(chrono::Duration::hours(5)), "5 h");
        assert_eq!(age(chrono::Duration::hours(30)), "30 h");
        assert_eq!(age(chrono::Duration::hours(48)), "2 d");
        assert_eq!(age(chrono::Duration::minutes(40)), "40 min");
        assert_eq!(age(chrono::Duration::seconds(30)), "30 s");
        assert_eq!(age(chrono::Duration::seconds(-5)), "0 s");
    }

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
