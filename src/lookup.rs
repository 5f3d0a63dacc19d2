//! The one rule that turns what a person typed (`ORG` of the commands, `:goto` of the
//! console) into a site: an organisation id (any case, braces optional) matches that site;
//! otherwise a DfE code or DENI number matches every site that has it (case-insensitive;
//! `/`, `-`, spaces and other punctuation ignored when nothing matches exactly). A code
//! that several sites share is ambiguous: nothing is picked, the candidates are listed
//! (docs/reference/cli.md: a hostile site must not shadow a real school for reveal and verify). Pure.

use crate::domain::{OrgId, Site};

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<T> {
    /// No site matches.
    Nothing,
    /// Exactly one site matches.
    One(T),
    /// Several sites match (the code is ambiguous): the candidates, in input order.
    Many(Vec<T>),
}

impl<T> Found<T> {
    /// The one match, if there is exactly one.
    pub fn one(self) -> Option<T> {
        match self {
            Found::One(t) => Some(t),
            _ => None,
        }
    }

    /// Applies `f` to every match.
    pub fn map<U>(self, f: impl Fn(T) -> U) -> Found<U> {
        match self {
            Found::Nothing => Found::Nothing,
            Found::One(t) => Found::One(f(t)),
            Found::Many(v) => Found::Many(v.into_iter().map(f).collect()),
        }
    }
}

/// The letters and digits of a code, lower-case (`ABC/1234` → `abc1234`).
fn compact(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn codes(site: &Site) -> impl Iterator<Item = &str> {
    [site.dfe_code.as_deref(), site.deni_number.as_deref()]
        .into_iter()
        .flatten()
        .filter(|c| !c.trim().is_empty())
}

/// Finds the items whose site (`site_of`) `query` names; see the module documentation.
pub fn find<'a, T>(items: &'a [T], site_of: impl Fn(&T) -> &Site, query: &str) -> Found<&'a T> {
    let query = query.trim();
    if query.is_empty() {
        return Found::Nothing;
    }
    if let Ok(org) = OrgId::parse(query) {
        return match items.iter().find(|i| site_of(i).org_id == org) {
            Some(i) => Found::One(i),
            None => Found::Nothing,
        };
    }
    let exact: Vec<&T> = items
        .iter()
        .filter(|i| codes(site_of(i)).any(|c| c.trim().eq_ignore_ascii_case(query)))
        .collect();
    let matches = if exact.is_empty() {
        let key = compact(query);
        if key.is_empty() {
            return Found::Nothing;
        }
        items
            .iter()
            .filter(|i| codes(site_of(i)).any(|c| compact(c) == key))
            .collect()
    } else {
        exact
    };
    match matches.len() {
        0 => Found::Nothing,
        1 => Found::One(matches[0]),
        _ => Found::Many(matches),
    }
}

/// The message for an ambiguous `query`: how many sites share it, then one line per
/// candidate (name and organisation id, sanitised for a terminal).
pub fn ambiguous_message(query: &str, candidates: &[&Site]) -> String {
    let mut message = format!(
        "`{}` matches {} sites; nothing was picked. Use the organisation id of the one you mean:",
        crate::sanitize::bounded(query, 64),
        candidates.len()
    );
    for site in candidates {
        message.push_str(&format!(
            "\n  {}  {}",
            site.org_id,
            crate::sanitize::bounded(&site.name, 80)
        ));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(n: u32, name: &str, dfe: Option<&str>, deni: Option<&str>) -> Site {
        Site {
            org_id: OrgId::parse(&format!("{n:08X}-0000-0000-0000-000000000001")).unwrap(),
            name: name.into(),
            dfe_code: dfe.map(Into::into),
            deni_number: deni.map(Into::into),
            authorised: Some(true),
        }
    }

    #[test]
    fn ids_codes_and_compact_codes_resolve() {
        let sites = [
            site(1, "Abbey", Some("801/4001"), None),
            site(2, "Belfast", None, Some("1-2345-6")),
            site(3, "Lettered", Some("ABC/1234"), None),
        ];
        let f = |q: &str| find(&sites, |s| s, q).map(|s| s.name.clone());
        assert_eq!(
            f(&sites[0].org_id.as_str().to_lowercase()),
            Found::One("Abbey".into())
        );
        assert_eq!(f("801/4001"), Found::One("Abbey".into()));
        assert_eq!(f("8014001"), Found::One("Abbey".into()));
        assert_eq!(f("abc/1234"), Found::One("Lettered".into()));
        assert_eq!(f("123456"), Found::One("Belfast".into()));
        assert_eq!(f("Abbey"), Found::Nothing);
        assert_eq!(f(""), Found::Nothing);
        assert_eq!(f("//"), Found::Nothing);
    }

    #[test]
    fn a_shared_code_is_ambiguous_and_lists_candidates() {
        let sites = [
            site(1, "Real School", Some("1001"), None),
            site(2, "Evil\u{1b}]0;pwned\u{7}", Some("1001"), None),
            site(3, "Other", Some("2002"), Some("1001")),
        ];
        let Found::Many(c) = find(&sites, |s| s, "1001") else {
            panic!("expected ambiguity");
        };
        assert_eq!(c.len(), 3);
        let message = ambiguous_message("1001", &c);
        assert!(message.contains("matches 3 sites"));
        assert!(message.contains(sites[0].org_id.as_str()));
        assert!(message.contains("Evil\\u{1b}]0;pwned\\u{7}"));
        assert!(!message.contains('\u{1b}'));
        assert_eq!(
            find(&sites, |s| s, sites[1].org_id.as_str()).map(|s| s.name.len()),
            Found::One(sites[1].name.len())
        );
    }
}
