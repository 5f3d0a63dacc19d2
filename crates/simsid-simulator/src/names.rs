//! School names composed from the word lists in the crate's `assets/names/` (English,
//! Welsh, Northern Irish and Irish-medium), plus client descriptions. Pure: the caller's RNG decides.

use std::sync::OnceLock;

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};

/// Where a generated school is, which decides its name and its reference numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    England,
    Wales,
    NorthernIreland,
    /// A vendor test site (DfE code like `CAP0001`).
    VendorTest,
}

struct Lists {
    saints: Vec<&'static str>,
    anglican_dedications: Vec<&'static str>,
    anglican_types: Vec<&'static str>,
    catholic_dedications: Vec<&'static str>,
    catholic_types: Vec<&'static str>,
    english_places: Vec<&'static str>,
    features: Vec<&'static str>,
    phases: Vec<&'static str>,
    people: Vec<&'static str>,
    welsh_types: Vec<&'static str>,
    welsh_places: Vec<&'static str>,
    ni_places: Vec<&'static str>,
    ni_types: Vec<&'static str>,
    irish_names: Vec<&'static str>,
    descriptions: Vec<&'static str>,
}

/// One entry per non-blank line; `#` starts a comment line.
fn entries(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| Lists {
        saints: entries(include_str!("../assets/names/saints.txt")),
        anglican_dedications: entries(include_str!("../assets/names/anglican_dedications.txt")),
        anglican_types: entries(include_str!("../assets/names/anglican_types.txt")),
        catholic_dedications: entries(include_str!("../assets/names/catholic_dedications.txt")),
        catholic_types: entries(include_str!("../assets/names/catholic_types.txt")),
        english_places: entries(include_str!("../assets/names/english_places.txt")),
        features: entries(include_str!("../assets/names/features.txt")),
        phases: entries(include_str!("../assets/names/phases.txt")),
        people: entries(include_str!("../assets/names/people.txt")),
        welsh_types: entries(include_str!("../assets/names/welsh_types.txt")),
        welsh_places: entries(include_str!("../assets/names/welsh_places.txt")),
        ni_places: entries(include_str!("../assets/names/ni_places.txt")),
        ni_types: entries(include_str!("../assets/names/ni_types.txt")),
        irish_names: entries(include_str!("../assets/names/irish_names.txt")),
        descriptions: entries(include_str!("../assets/names/descriptions.txt")),
    })
}

fn pick<R: Rng>(rng: &mut R, list: &[&'static str]) -> &'static str {
    list.choose(rng).copied().unwrap_or("Community")
}

/// A realistic school name for `region`; `test_number` names vendor test sites.
pub(crate) fn school_name<R: Rng>(rng: &mut R, region: Region, test_number: u32) -> String {
    match region {
        Region::England => english(rng),
        Region::Wales => welsh(rng),
        Region::NorthernIreland => northern_irish(rng),
        Region::VendorTest if test_number <= 1 => "ESS (TI)".to_string(),
        Region::VendorTest => format!("ESS Test School {test_number}"),
    }
}

fn english<R: Rng>(rng: &mut R) -> String {
    let l = lists();
    // A church school's dedication and ending come from the same denomination.
    let (dedications, church_types) = if rng.random_bool(0.55) {
        (&l.anglican_dedications, &l.anglican_types)
    } else {
        (&l.catholic_dedications, &l.catholic_types)
    };
    match rng.random_range(0..100) {
        0..=21 => format!("St {}'s {}", pick(rng, &l.saints), pick(rng, church_types)),
        22..=31 => format!("{} {}", pick(rng, dedications), pick(rng, church_types)),
        32..=61 => format!("{} {}", pick(rng, &l.english_places), pick(rng, &l.phases)),
        62..=76 => format!(
            "{} {} {}",
            pick(rng, &l.english_places),
            pick(rng, &l.features),
            pick(rng, &l.phases)
        ),
        77..=84 => format!("{} {}", pick(rng, &l.people), pick(rng, &l.phases)),
        85..=89 => format!("The {} School", pick(rng, &l.english_places)),
        _ => format!(
            "{} {}",
            pick(rng, &l.english_places),
            pick(rng, church_types)
        ),
    }
}

fn welsh<R: Rng>(rng: &mut R) -> String {
    let l = lists();
    format!(
        "{} {}",
        pick(rng, &l.welsh_types),
        pick(rng, &l.welsh_places)
    )
}

fn northern_irish<R: Rng>(rng: &mut R) -> String {
    let l = lists();
    match rng.random_range(0..100) {
        0..=19 => {
            let kind = if rng.random_bool(0.5) {
                "Gaelscoil"
            } else {
                "Bunscoil"
            };
            format!("{kind} {}", pick(rng, &l.irish_names))
        }
        20..=44 => format!("St {}'s {}", pick(rng, &l.saints), pick(rng, &l.ni_types)),
        _ => format!("{} {}", pick(rng, &l.ni_places), pick(rng, &l.ni_types)),
    }
}

/// A description for a school API client.
pub(crate) fn client_description<R: Rng>(rng: &mut R) -> String {
    pick(rng, &lists().descriptions).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn every_list_has_entries_without_comments() {
        let l = lists();
        for list in [
            &l.saints,
            &l.anglican_dedications,
            &l.anglican_types,
            &l.catholic_dedications,
            &l.catholic_types,
            &l.english_places,
            &l.features,
            &l.phases,
            &l.people,
            &l.welsh_types,
            &l.welsh_places,
            &l.ni_places,
            &l.ni_types,
            &l.irish_names,
            &l.descriptions,
        ] {
            assert!(list.len() >= 5, "{list:?}");
            assert!(list.iter().all(|e| !e.starts_with('#') && !e.is_empty()));
        }
    }

    #[test]
    fn names_include_welsh_accents_and_apostrophes() {
        let mut rng = StdRng::seed_from_u64(7);
        let english: Vec<String> = (0..300)
            .map(|_| school_name(&mut rng, Region::England, 0))
            .collect();
        let welsh: Vec<String> = (0..300)
            .map(|_| school_name(&mut rng, Region::Wales, 0))
            .collect();
        assert!(english.iter().any(|n| n.contains("'s ")));
        assert!(english.iter().any(|n| !n.is_ascii()));
        assert!(welsh.iter().all(|n| n.starts_with("Ysgol")));
        assert!(welsh
            .iter()
            .any(|n| n.contains('ŵ') || n.contains('ŷ') || n.contains('ô')));
        assert!(welsh
            .iter()
            .any(|n| n.contains("-y-") || n.contains("-yr-")));
        assert_eq!(school_name(&mut rng, Region::VendorTest, 1), "ESS (TI)");
    }
}
