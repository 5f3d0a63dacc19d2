//! The state of one open site: its details, the selected credential, a revealed secret
//! (with its deadline) and verify results. Dropping the screen drops the secret.

use std::time::Instant;

use secrecy::SecretString;

use crate::domain::{CredentialRow, OrgId, SiteDetail, VerifyResult};
use crate::exposure::Exposure;
use crate::tui::app::cursor::Cursor;
use crate::tui::app::flash::Level;
use crate::tui::app::{Screen, REVEAL_FOR};
use crate::tui::strings;

/// Something loaded in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    /// Not in the store.
    Missing,
    Failed(String),
}

/// A secret on screen until `until`.
#[derive(Debug)]
pub struct Revealed {
    pub client_id: String,
    pub secret: SecretString,
    pub until: Instant,
}

/// The verify state of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyState {
    Pending,
    Done(Vec<VerifyResult>),
    Failed(String),
}

/// One open site.
#[derive(Debug)]
pub struct SiteScreen {
    pub org: OrgId,
    /// The name from the list, shown while the details load.
    pub name: String,
    pub detail: Load<SiteDetail>,
    pub cursor: Cursor,
    pub revealed: Option<Revealed>,
    pub verify: Option<VerifyState>,
    /// Every exposure of the site's credentials (loaded after the details).
    pub exposures: Vec<Exposure>,
}

impl SiteScreen {
    /// A screen waiting for its details.
    pub fn new(org: OrgId, name: String) -> Self {
        SiteScreen {
            org,
            name,
            detail: Load::Loading,
            cursor: Cursor::default(),
            revealed: None,
            verify: None,
            exposures: Vec::new(),
        }
    }

    /// The site's credentials (none until loaded).
    pub fn credentials(&self) -> &[CredentialRow] {
        match &self.detail {
            Load::Ready(d) => &d.credentials,
            _ => &[],
        }
    }

    /// The selected credential.
    pub fn selected_credential(&self) -> Option<&CredentialRow> {
        self.credentials().get(self.cursor.selected())
    }

    /// The revealed secret of a credential, if it is the one shown.
    pub fn revealed_for(&self, client_id: &str) -> Option<&Revealed> {
        self.revealed.as_ref().filter(|r| r.client_id == client_id)
    }

    /// The verify result of a credential: `None` when not verified, `Some(None)` pending.
    pub fn verify_for(&self, client_id: &str) -> Option<Option<&VerifyResult>> {
        match &self.verify {
            Some(VerifyState::Pending) => Some(None),
            Some(VerifyState::Done(results)) => {
                results.iter().find(|r| r.client_id == client_id).map(Some)
            }
            _ => None,
        }
    }

    /// The exposure of a credential: to whom and when it was revealed or copied.
    pub fn exposure_of(&self, client_id: &str) -> Option<&Exposure> {
        self.exposures.iter().find(|x| x.client_id == client_id)
    }

    /// Hides (drops) a revealed secret.
    pub fn mask(&mut self) {
        self.revealed = None;
    }
}

/// What comes back for this screen from the background (the app's result handlers).
impl super::App {
    pub(super) fn site_loaded(
        &mut self,
        org: &OrgId,
        result: Result<Option<crate::domain::SiteDetail>, String>,
    ) {
        let page = self.page();
        if let Some(screen) = self.site_screen_mut(org) {
            screen.detail = match result {
                Ok(Some(detail)) => Load::Ready(detail),
                Ok(None) => Load::Missing,
                Err(e) => Load::Failed(e),
            };
            let len = screen.credentials().len();
            screen.cursor.clamp(len, page);
        }
    }

    pub(super) fn revealed(
        &mut self,
        org: &OrgId,
        client_id: String,
        result: Result<secrecy::SecretString, String>,
    ) {
        let until = self.now + REVEAL_FOR;
        match result {
            Ok(secret) => {
                // Only shown if the user is still looking at that site (otherwise dropped).
                let shown = match self.stack.last_mut() {
                    Some(Screen::Site(screen))
                        if &screen.org == org
                            && screen
                                .credentials()
                                .iter()
                                .any(|c| c.client_id == client_id) =>
                    {
                        screen.revealed = Some(Revealed {
                            client_id: client_id.clone(),
                            secret,
                            until,
                        });
                        true
                    }
                    _ => false,
                };
                if shown {
                    self.info(strings::revealed(&client_id, REVEAL_FOR.as_secs()));
                    self.reveal_flash = true;
                }
            }
            Err(e) => self.error(strings::failed("reveal", &e)),
        }
    }

    pub(super) fn verified(
        &mut self,
        org: &OrgId,
        result: Result<Vec<crate::domain::VerifyResult>, String>,
    ) {
        let message = match &result {
            Ok(results) => {
                let ok = results.iter().filter(|r| r.ok).count();
                let refused = results.iter().filter(|r| !r.ok && r.refused).count();
                let errors = results.len() - ok - refused;
                let level = if refused + errors == 0 {
                    Level::Info
                } else {
                    Level::Error
                };
                (level, strings::verified(ok, refused, errors))
            }
            Err(e) => (Level::Error, strings::failed("verify", e)),
        };
        if let Some(screen) = self.site_screen_mut(org) {
            screen.verify = Some(match result {
                Ok(results) => VerifyState::Done(results),
                Err(e) => VerifyState::Failed(e),
            });
        }
        self.set_flash(message.0, message.1);
    }
}
