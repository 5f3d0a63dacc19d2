//! The `/` filter: plain text matches case-insensitively anywhere in the name, DfE code,
//! DENI number or organisation id; a leading `!` inverts; `re:` makes it a regular
//! expression (case-insensitive), matched against each field.

use regex::{Regex, RegexBuilder};

/// A parsed filter.
#[derive(Debug, Clone, Default)]
pub enum Filter {
    /// No filter: everything matches.
    #[default]
    All,
    /// Lower-case text to look for.
    Plain {
        needle: String,
        invert: bool,
    },
    Regex {
        re: Regex,
        invert: bool,
    },
}

impl Filter {
    /// Parses the filter text; an invalid regular expression is an error message.
    pub fn parse(text: &str) -> Result<Filter, String> {
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
                .map_err(|e| first_line(&e.to_string()));
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
    /// (`lower`), in the same order.
    pub fn matches(&self, fields: &[&str], lower: &[String]) -> bool {
        match self {
            Filter::All => true,
            Filter::Plain { needle, invert } => {
                lower.iter().any(|f| f.contains(needle.as_str())) != *invert
            }
            Filter::Regex { re, invert } => fields.iter().any(|f| re.is_match(f)) != *invert,
        }
    }
}

/// The last line of a (multi-line) regex error, which says what is wrong.
fn first_line(error: &str) -> String {
    error
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(error)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(filter: &str, fields: &[&str]) -> bool {
        let lower: Vec<String> = fields.iter().map(|f| f.to_lowercase()).collect();
        Filter::parse(filter).unwrap().matches(fields, &lower)
    }

    #[test]
    fn plain_inverted_and_regex() {
        let row = [
            "Ysgol Gymraeg Bro Dŵr",
            "667/2001",
            "",
            "B1C2D3E4-0000-4000-8000-000000000002",
        ];
        assert!(check("bro dŵr", &row));
        assert!(check("DŴR", &row));
        assert!(check("2001", &row));
        assert!(check("b1c2d3e4", &row));
        assert!(!check("!bro", &row));
        assert!(check("!mary", &row));
        assert!(check("re:^ysgol", &row));
        assert!(!check("re:^bro", &row));
        assert!(check("!re:^bro", &row));
        assert!(check("", &row));
        assert!(check("!", &row));
    }

    #[test]
    fn invalid_regex_is_an_error() {
        let err = Filter::parse("re:([").unwrap_err();
        assert!(!err.is_empty());
        assert!(!err.contains('\n'));
    }
}
