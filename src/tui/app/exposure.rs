//! The exposure screen's state: live exposures grouped by user, the selected row, and the
//! verify of what is listed (`v`) with its running tally and results.

use crate::domain::CheckOutcome;
use crate::domain::OrgId;
use crate::domain::{CredentialCheck, Tally};
use crate::exposure::{Exposure, PersonExposures};
use crate::tui::app::cursor::Cursor;
use crate::tui::app::flash::Level;
use crate::tui::app::site::Load;
use crate::tui::strings;

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

/// The exposure screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureScreen {
    pub people: Load<Vec<PersonExposures>>,
    pub cursor: Cursor,
    pub verify: Option<ListedVerify>,
}

impl Default for ExposureScreen {
    fn default() -> Self {
        ExposureScreen::new()
    }
}

impl ExposureScreen {
    /// A screen waiting for its data.
    pub fn new() -> Self {
        ExposureScreen {
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

/// What comes back for this screen from the background (the app's result handlers).
impl super::App {
    pub(super) fn exposures_loaded(
        &mut self,
        result: Result<Vec<crate::exposure::PersonExposures>, String>,
    ) {
        let page = self.page();
        if let Some(screen) = self.exposure_screen_mut() {
            screen.people = match result {
                Ok(people) => Load::Ready(people),
                Err(e) => Load::Failed(e),
            };
            let len = screen.len();
            screen.cursor.clamp(len, page);
        }
    }

    pub(super) fn listed_verified(
        &mut self,
        result: Result<Vec<crate::domain::CredentialCheck>, String>,
    ) {
        let message = match &result {
            Ok(checks) => {
                let t = crate::domain::Tally::of(checks.len(), checks);
                let level = if t.refused + t.errors > 0 {
                    Level::Warning
                } else {
                    Level::Info
                };
                (
                    level,
                    strings::exposure_verify(t.done(), t.total, t.ok, t.refused, t.errors),
                )
            }
            Err(e) => (Level::Error, strings::failed("verify", e)),
        };
        if let Some(screen) = self.exposure_screen_mut() {
            let total = screen.verify.as_ref().map_or(0, |v| v.tally.total);
            screen.verify = Some(ListedVerify {
                tally: match &result {
                    Ok(checks) => crate::domain::Tally::of(checks.len(), checks),
                    Err(_) => crate::domain::Tally {
                        total,
                        ..Default::default()
                    },
                },
                results: Some(result),
            });
        }
        self.set_flash(message.0, message.1);
    }
}
