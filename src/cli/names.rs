//! Schools by name wherever a person reads (docs/reference/cli.md "JSON output"): text names a school as
//! `Name (00BDDE5C…)`, never by its id alone; JSON keeps the ids and adds a top-level
//! `names` map and `failures[].name`. Names come from the store (and, for a run just
//! finished, from the store as it was before the run, so a removed school keeps its name).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::domain::{OrgId, RunSummary, Site};
use crate::sanitize::for_terminal;

/// Hex digits of an organisation id shown beside a name.
const SHORT_ID: usize = 8;

/// School names by organisation id.
#[derive(Debug, Clone, Default)]
pub struct SchoolNames(pub BTreeMap<OrgId, String>);

impl SchoolNames {
    /// Adds the names of `map` (organisation id → name, as a run recorded them) where this
    /// has none; an entry whose key is not an organisation id is ignored.
    pub fn or_recorded(mut self, map: Option<&BTreeMap<String, String>>) -> Self {
        for (org, name) in map.into_iter().flatten() {
            if let Ok(org) = OrgId::parse(org) {
                self.0.entry(org).or_insert_with(|| name.clone());
            }
        }
        self
    }

    /// The school's name as stored (remote text: sanitise before a terminal).
    pub fn get(&self, org: &OrgId) -> Option<&str> {
        self.0.get(org).map(String::as_str)
    }

    /// `Name (00BDDE5C…)`, the name made safe for a terminal; the whole id when the name is
    /// not known.
    pub fn label(&self, org: &OrgId) -> String {
        match self.get(org) {
            Some(name) => label(name, org),
            None => org.to_string(),
        }
    }

    /// Every organisation id `run`'s diff or failures mention, with its name when known.
    pub fn for_run(&self, run: &RunSummary) -> BTreeMap<String, String> {
        mentioned(run)
            .into_iter()
            .filter_map(|org| self.get(org).map(|n| (org.to_string(), n.to_string())))
            .collect()
    }

    /// Adds `names` and `failures[].name` to `doc`, the JSON of `run`.
    pub fn annotate(&self, doc: &mut Value, run: &RunSummary) {
        let Some(map) = doc.as_object_mut() else {
            return;
        };
        if let Some(Value::Array(failures)) = map.get_mut("failures") {
            for (entry, failure) in failures.iter_mut().zip(&run.failures) {
                if let Some(obj) = entry.as_object_mut() {
                    obj.insert("name".into(), json!(self.get(&failure.organisation_id)));
                }
            }
        }
        map.insert("names".into(), json!(self.for_run(run)));
    }
}

/// `Name (00BDDE5C…)` for `site`, its name made safe for a terminal.
pub fn site_label(site: &Site) -> String {
    label(&site.name, &site.org_id)
}

fn label(name: &str, org: &OrgId) -> String {
    format!("{} ({})", for_terminal(name), short_id(org))
}

/// `00BDDE5C…`: the first eight hex digits of an organisation id.
pub fn short_id(org: &OrgId) -> String {
    let id = org.as_str();
    format!("{}…", &id[..SHORT_ID.min(id.len())])
}

/// Every organisation id the run's diff or failures mention.
pub fn mentioned(run: &RunSummary) -> Vec<&OrgId> {
    let d = &run.diff;
    d.sites_added
        .iter()
        .chain(&d.sites_removed)
        .chain(d.authorisation_changed.iter().map(|a| &a.organisation_id))
        .chain(d.credentials_added.iter().map(|c| &c.organisation_id))
        .chain(d.credentials_removed.iter().map(|c| &c.organisation_id))
        .chain(d.credentials_rotated.iter().map(|c| &c.organisation_id))
        .chain(run.failures.iter().map(|f| &f.organisation_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_school_is_named_with_its_short_id_and_hostile_names_are_made_inert() {
        let org = OrgId::parse("00bdde5c-1111-2222-3333-444455556666").unwrap();
        let other = OrgId::parse("207A1392-E1F6-47BA-81DA-6C374971D788").unwrap();
        let names = SchoolNames(BTreeMap::from([(
            org.clone(),
            "Ysgol\u{1b}[31m Y Wern".into(),
        )]));
        assert_eq!(names.label(&org), "Ysgol\\u{1b}[31m Y Wern (00BDDE5C…)");
        assert_eq!(names.label(&other), "207A1392-E1F6-47BA-81DA-6C374971D788");
        // A run's recorded names fill in only what the store no longer holds.
        let recorded = BTreeMap::from([
            (org.to_string(), "Old name".to_string()),
            (other.to_string(), "Gone".to_string()),
            ("not an id".to_string(), "Ignored".to_string()),
        ]);
        let both = names.or_recorded(Some(&recorded));
        assert_eq!(both.get(&org), Some("Ysgol\u{1b}[31m Y Wern"));
        assert_eq!(both.get(&other), Some("Gone"));
        assert_eq!(both.0.len(), 2);
    }
}
