//! What happens to the console ([`Action`]: keys, time, results of background work) and what
//! the console asks the runtime to do ([`Effect`]). Neither is ever logged; an action holding
//! a secret only shows it redacted in `Debug` (secrecy's `SecretString`).

use std::time::Instant;

use secrecy::SecretString;

use crate::domain::{CredentialCheck, Pulled, Tally};
use crate::domain::{OrgId, RunSummary, SiteDetail, VerifyResult};
use crate::exposure::{Exposure, PersonExposures};
use crate::harvest::{HarvestEnd, HarvestEvent};
use crate::tui::services::Overview;

/// A user command, as the key table maps keys to it (see `keys.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserCommand {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Open the selected site (or run).
    Open,
    /// Clear the filter, close, or go back.
    Back,
    /// Start editing the filter.
    Filter,
    SortNext,
    SortReverse,
    StatusFilterNext,
    Reveal,
    Copy,
    Verify,
    /// On a site's screen: refresh that school now (`harvest --site`).
    RefreshSite,
    /// Full re-harvest (asks to confirm), or show the pane of the running one.
    Harvest,
    History,
    /// Open the exposure screen (live exposures grouped by user).
    Exposure,
    CommandLine,
    Help,
    Quit,
    /// In the harvest pane: cancel the running harvest, or close the finished one.
    CancelHarvest,
    /// In the harvest pane: hide it while the harvest continues.
    HidePane,
    /// Text typed into the filter or command line.
    InputChar(char),
    InputBackspace,
    InputSubmit,
    InputCancel,
    /// `y` in a confirmation dialog.
    ConfirmYes,
    /// Any other key in a confirmation dialog.
    ConfirmNo,
}

/// Everything `App::update` reacts to.
#[derive(Debug)]
pub enum Action {
    /// Time passes (the runtime sends the current instant; tests send fixed ones).
    Tick(Instant),
    /// The terminal has a new size.
    Resize {
        width: u16,
        height: u16,
    },
    /// A key, already looked up in the key table.
    Key(UserCommand),
    OverviewLoaded(Result<Overview, String>),
    SiteLoaded {
        org: OrgId,
        result: Result<Option<SiteDetail>, String>,
    },
    RunsLoaded(Result<Vec<RunSummary>, String>),
    /// The answer to [`Effect::Reveal`].
    Revealed {
        org: OrgId,
        client_id: String,
        result: Result<SecretString, String>,
    },
    /// The answer to [`Effect::Copy`] (the secret went straight to the terminal).
    Copied {
        org: OrgId,
        client_id: String,
        result: Result<(), String>,
    },
    Verified {
        org: OrgId,
        result: Result<Vec<VerifyResult>, String>,
    },
    /// Harvest progress events, coalesced: everything that was pending at once.
    Harvest(Vec<HarvestEvent>),
    HarvestFinished(Result<HarvestEnd, String>),
    ProfileSwitched {
        name: String,
        result: Result<Overview, String>,
    },
    /// The answer to [`Effect::LoadExposures`].
    ExposuresLoaded(Result<Vec<PersonExposures>, String>),
    /// The answer to [`Effect::LoadSiteExposure`]: every exposure of the site's credentials.
    SiteExposureLoaded {
        org: OrgId,
        result: Result<Vec<Exposure>, String>,
    },
    /// The running tally of [`Effect::VerifyListed`].
    ListedVerifyProgress(Tally),
    /// The end of [`Effect::VerifyListed`].
    ListedVerified(Result<Vec<CredentialCheck>, String>),
    /// The console is up: the first frame is drawn from the local store (a viewer then
    /// pulls the team's view in the background).
    Started,
    /// The answer to [`Effect::Pull`].
    Pulled(Result<Pulled, String>),
    /// The answer to [`Effect::CheckSecretsAccess`]: whether this identity may read
    /// secrets (`None`: could not tell).
    SecretsAccess(Option<bool>),
    /// How a copy reaches the clipboard here (asked of tmux once at start).
    ClipboardRoute(crate::tui::osc52::Route),
}

/// Work `App::update` asks the runtime to do. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LoadOverview,
    /// The whole sites list, read in the background after a first frame drawn from its
    /// first screen; answered with [`Action::OverviewLoaded`].
    LoadAllSites,
    LoadSite(OrgId),
    LoadRuns,
    Reveal {
        org: OrgId,
        client_id: String,
    },
    Copy {
        org: OrgId,
        client_id: String,
    },
    /// Write an OSC 52 sequence with an empty payload.
    ClearClipboard,
    Verify(OrgId),
    StartHarvest,
    /// Refresh one school (`harvest --site`), in the harvest pane.
    StartSiteHarvest(OrgId),
    CancelHarvest,
    SwitchProfile(String),
    LoadExposures,
    LoadSiteExposure(OrgId),
    /// Verify these credentials (the exposure screen's list), with progress.
    VerifyListed(Vec<(OrgId, String)>),
    /// A team-mode viewer: pull the published view from the vault.
    Pull,
    /// A viewer's one capabilities check at start: may this identity read secrets?
    CheckSecretsAccess,
    Quit,
}
