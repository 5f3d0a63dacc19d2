//! The exposure view's state: live exposures grouped by user, the selected row, and the
//! verify of what is listed (`v`) with its running tally and results.

use crate::domain::CheckOutcome;
use crate::domain::OrgId;
use crate::domain::{CredentialCheck, Tally};
use crate::exposure::{Exposure, PersonExposures};
use crate::tui::app::cursor::Cursor;
use crate::tui::app::site::Load;

/// A verify of the listed credentials: running (results `None`) or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVerify {
    pub tally: Tally,
    pub results: Option<Result<Vec<CredentialCheck>, String>>,
}

impl ListedVerify {
    /// Whether it is still running.
    pub fn running(&self) -> bool {
        self.results.is_none()
    }
}

/// The exposure view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureView {
    pub people: Load<Vec<PersonExposures>>,
    pub cursor: Cursor,
    pub verify: Option<ListedVerify>,
}

impl Default for ExposureView {
    fn default() -> Self {
        ExposureView::new()
    }
}

impl ExposureView {
    /// A view waiting for its data.
    pub fn new() -> Self {
        ExposureView {
            people: Load::Loading,
            cursor: Cursor::default(),
            verify: None,
        }
    }

    /// The listed rows in order: each person's exposures, people sorted by name. The bool
    /// is true on a person's first row (where the name is shown).
    pub fn rows(&self) -> Vec<(&str, &Exposure, bool)> {
        let Load::Ready(people) = &self.people else {
            return Vec::new();
        };
        people
            .iter()
            .flat_map(|p| {
                p.exposures
                    .iter()
                    .enumerate()
                    .map(move |(i, x)| (p.person.as_str(), x, i == 0))
            })
            .collect()
    }

    /// How many rows are listed.
    pub fn len(&self) -> usize {
        match &self.people {
            Load::Ready(people) => people.iter().map(|p| p.exposures.len()).sum(),
            _ => 0,
        }
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selected row's credential.
    pub fn selected(&self) -> Option<&Exposure> {
        self.rows().get(self.cursor.selected()).map(|(_, x, _)| *x)
    }

    /// Each listed credential once (a credential seen by two people is listed twice).
    pub fn credentials(&self) -> Vec<(OrgId, String)> {
        let mut out: Vec<(OrgId, String)> = self
            .rows()
            .into_iter()
            .map(|(_, x, _)| (x.organisation_id.clone(), x.client_id.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The verify outcome of a credential, once the verify is done.
    pub fn outcome(&self, org: &OrgId, client_id: &str) -> Option<&CheckOutcome> {
        match self.verify.as_ref()?.results.as_ref()? {
            Ok(checks) => checks
                .iter()
                .find(|c| &c.organisation_id == org && c.client_id == client_id)
                .map(|c| &c.outcome),
            Err(_) => None,
        }
    }
}
