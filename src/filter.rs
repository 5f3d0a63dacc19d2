//! The site filter shared by the console (`/`) and `simsid sites --filter`: plain text
//! matches name, DfE code, DENI number and organisation id case-insensitively; a leading `!`
//! inverts; `re:` makes the rest a (case-insensitive) regular expression.

use regex::{Regex, RegexBuilder};

use crate::domain::Site;

/// A parsed filter.
#[derive(Debug, Clone)]
pub struct Filter {
    invert: bool,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    All,
    Text(String),
    Regex(Regex),
}

/// A `re:` filter whose expression does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression: {0}")]
pub struct FilterError(pub String);

impl Filter {
    /// Parses the filter text as typed by the user.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let (invert, rest) = match input.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let matcher = if let Some(expr) = rest.strip_prefix("re:") {
            let re = RegexBuilder::new(expr)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| {
                    FilterError(
                        e.to_string()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    )
                })?;
            Matcher::Regex(re)
        } else if rest.trim().is_empty() {
            Matcher::All
        } else {
            Matcher::Text(rest.trim().to_lowercase())
        };
        Ok(Filter { invert, matcher })
    }

    /// True when the filter keeps every site.
    pub fn is_empty(&self) -> bool {
        matches!(self.matcher, Matcher::All) && !self.invert
    }

    /// Whether `site` passes the filter.
    pub fn matches(&self, site: &Site) -> bool {
        let fields = [
            Some(site.name.as_str()),
            site.dfe_code.as_deref(),
            site.deni_number.as_deref(),
            Some(site.org_id.as_str()),
        ];
        let hit = match &self.matcher {
            Matcher::All => true,
            Matcher::Text(needle) => fields
                .iter()
                .flatten()
                .any(|f| contains_ignore_case(f, needle)),
            Matcher::Regex(re) => fields.iter().flatten().any(|f| re.is_match(f)),
        };
        hit != self.invert
    }
}

/// `needle` must already be lower-case.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let h = haystack.as_bytes();
        let n = needle.as_bytes();
        if n.len() > h.len() {
            return false;
        }
        return h
            .windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    haystack.to_lowercase().contains(needle)
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
        assert!(Filter::parse("").unwrap().is_empty());
        assert!(Filter::parse("re:(").is_err());
    }
}
