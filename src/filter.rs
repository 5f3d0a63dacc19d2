//! The site filter shared by the console (`/`) and `simsid sites --filter`: plain text
//! matches name, DfE code, DENI number and organisation id case-insensitively; a leading `!`
//! inverts; `re:` makes the rest a (case-insensitive) regular expression.

use regex::{Regex, RegexBuilder};

use crate::domain::{Site, SiteRow};

/// A parsed filter.
#[derive(Debug, Clone, Default)]
pub enum Filter {
    /// No filter: everything matches.
    #[default]
    All,
    /// Lower-case text to look for.
    Plain { needle: String, invert: bool },
    /// A case-insensitive regular expression matched against each field.
    Regex { re: Regex, invert: bool },
}

/// A `re:` filter whose expression does not compile (the message is one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression: {0}")]
pub struct FilterError(pub String);

impl Filter {
    /// Parses the filter text as typed by the user (`""`, `"!"` and `"re:"` keep everything).
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let (invert, rest) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if let Some(pattern) = rest.strip_prefix("re:") {
            if pattern.is_empty() {
                return Ok(Filter::All);
            }
            return RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map(|re| Filter::Regex { re, invert })
                .map_err(|e| FilterError(last_line(&e.to_string())));
        }
        if rest.is_empty() {
            return Ok(Filter::All);
        }
        Ok(Filter::Plain {
            needle: rest.to_lowercase(),
            invert,
        })
    }

    /// Whether nothing is filtered out.
    pub fn is_all(&self) -> bool {
        matches!(self, Filter::All)
    }

    /// Whether a row matches, given its fields as shown (`fields`) and lower-cased
    /// (`lower`), in the same order. The console keeps `lower` so typing never re-lowers.
    pub fn matches_fields(&self, fields: &[&str], lower: &[String]) -> bool {
        match self {
            Filter::All => true,
            Filter::Plain { needle, invert } => {
                lower.iter().any(|f| f.contains(needle.as_str())) != *invert
            }
            Filter::Regex { re, invert } => fields.iter().any(|f| re.is_match(f)) != *invert,
        }
    }

    /// Whether `site` matches (one-off: lower-cases its fields on the way).
    pub fn matches(&self, site: &Site) -> bool {
        let fields = site_fields(site);
        let lower: Vec<String> = fields.iter().map(|f| f.to_lowercase()).collect();
        self.matches_fields(&fields, &lower)
    }
}

/// A site's searchable fields: name, DfE, DENI, organisation id.
pub fn site_fields(site: &Site) -> [&str; 4] {
    [
        site.name.as_str(),
        site.dfe_code.as_deref().unwrap_or(""),
        site.deni_number.as_deref().unwrap_or(""),
        site.org_id.as_str(),
    ]
}

/// The last non-empty line of a (multi-line) regex error, which says what is wrong.
fn last_line(error: &str) -> String {
    error
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(error)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

/// Which sites are listed: the console's `a` cycles these, `sites --status` picks one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    All,
    Authorised,
    Unauthorised,
    Changed,
    Stale,
}

impl StatusFilter {
    /// The next filter in the cycle.
    pub fn next(self) -> StatusFilter {
        match self {
            StatusFilter::All => StatusFilter::Authorised,
            StatusFilter::Authorised => StatusFilter::Unauthorised,
            StatusFilter::Unauthorised => StatusFilter::Changed,
            StatusFilter::Changed => StatusFilter::Stale,
            StatusFilter::Stale => StatusFilter::All,
        }
    }

    /// The filter's name.
    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Authorised => "authorised",
            StatusFilter::Unauthorised => "unauthorised",
            StatusFilter::Changed => "changed",
            StatusFilter::Stale => "stale",
        }
    }

    /// Whether a site passes this filter.
    pub fn includes(self, row: &SiteRow) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Authorised => row.site.authorised == Some(true),
            StatusFilter::Unauthorised => row.site.authorised != Some(true),
            StatusFilter::Changed => row.badge.is_some(),
            StatusFilter::Stale => row.stale,
        }
    }
}

/// Sorts the onboarding queue: the site waiting longest first (earliest `waiting_since`),
/// sites without one (authorised, or authorisation unknown) last, then by name.
pub fn sort_by_wait(rows: &mut [SiteRow]) {
    rows.sort_by(|a, b| {
        (
            a.waiting_since.is_none(),
            a.waiting_since,
            a.site.name.to_lowercase(),
        )
            .cmp(&(
                b.waiting_since.is_none(),
                b.waiting_since,
                b.site.name.to_lowercase(),
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;

    fn site(name: &str, dfe: Option<&str>, deni: Option<&str>) -> Site {
        Site {
            org_id: OrgId::parse("207A1392-E1F6-47BA-81DA-6C374971D788").unwrap(),
            name: name.into(),
            dfe_code: dfe.map(Into::into),
            deni_number: deni.map(Into::into),
            authorised: Some(true),
        }
    }

    #[test]
    fn plain_inverted_and_regex() {
        let a = site("St Mary's C of E Primary", Some("3734001"), None);
        let b = site("Ysgol Gymraeg Bro Dŵr", None, Some("1234567"));
        let f = Filter::parse("mary").unwrap();
        assert!(f.matches(&a) && !f.matches(&b));
        let f = Filter::parse("DŴR").unwrap();
        assert!(!f.matches(&a) && f.matches(&b));
        let f = Filter::parse("!mary").unwrap();
        assert!(!f.matches(&a) && f.matches(&b));
        let f = Filter::parse("re:^37\\d+$").unwrap();
        assert!(f.matches(&a) && !f.matches(&b));
        let f = Filter::parse("207a1392").unwrap();
        assert!(f.matches(&a) && f.matches(&b));
        let f = Filter::parse("!re:^ysgol").unwrap();
        assert!(f.matches(&a) && !f.matches(&b));
        for keep_all in ["", "!", "re:"] {
            let f = Filter::parse(keep_all).unwrap();
            assert!(f.is_all() && f.matches(&a) && f.matches(&b), "{keep_all:?}");
        }
    }

    #[test]
    fn invalid_regex_is_a_one_line_error() {
        let err = Filter::parse("re:([").unwrap_err();
        assert!(!err.0.is_empty());
        assert!(!err.to_string().contains('\n'));
    }
}
