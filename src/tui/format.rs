//! Small pure formatters shared by the screens' drawing: times, durations, optional fields.

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::ChangeBadge;
use crate::tui::strings;

/// `2026-11-27 16:55` (UTC).
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// `2026-11-27` (UTC), for narrow columns.
pub fn date(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A time or a dash.
pub fn opt_time(t: Option<&DateTime<Utc>>) -> String {
    t.map_or_else(|| strings::NONE.to_string(), time)
}

/// Remote text made safe to draw: control and bidi characters become visible escapes
/// ([`crate::sanitize::for_terminal`]). Every name, code, client id, description and error
/// that came from the network goes through this (or [`opt`] / [`truncate`]) before drawing.
pub fn clean(s: &str) -> String {
    crate::sanitize::for_terminal(s).into_owned()
}

/// A field (sanitised, see [`clean`]) or a dash.
pub fn opt(s: Option<&str>) -> Cow<'_, str> {
    match s {
        Some(v) if !v.is_empty() => crate::sanitize::for_terminal(v),
        _ => Cow::Borrowed(strings::NONE),
    }
}

/// `1h 02m`, `3m 04s`, `9s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `yes`, `no` or `?` for an authorisation flag.
pub fn authorised(a: Option<bool>) -> &'static str {
    crate::words::flag(a)
}

/// `yes` / `no`.
pub fn yes_no(b: bool) -> &'static str {
    crate::words::flag(Some(b))
}

/// The short badge of what the last harvest changed at a site.
pub fn badge(b: Option<ChangeBadge>) -> &'static str {
    match b {
        Some(ChangeBadge::Added) => strings::BADGE_ADDED,
        Some(ChangeBadge::AuthorisationChanged) => strings::BADGE_AUTH,
        Some(ChangeBadge::CredentialsChanged) => strings::BADGE_CREDS,
        None => "",
    }
}

/// Sanitises `s` (see [`clean`]) and cuts it to at most `max` characters, ending with `…`
/// when cut.
pub fn truncate(s: &str, max: usize) -> String {
    crate::words::truncate(&crate::sanitize::for_terminal(s), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_times_and_durations() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 16, 55, 39).unwrap();
        assert_eq!(time(&t), "2026-11-27 16:55");
        assert_eq!(date(&t), "2026-11-27");
        assert_eq!(duration(Duration::from_secs(9)), "9s");
        assert_eq!(duration(Duration::from_secs(184)), "3m 04s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("Dŵr", 2), "D…");
        assert_eq!(truncate("a\u{1b}]0;x\u{7}", 40), "a\\u{1b}]0;x\\u{7}");
        assert_eq!(opt(Some("1\n2")), "1\\u{a}2");
        assert_eq!(clean("\u{202e}"), "\\u{202e}");
    }
}
