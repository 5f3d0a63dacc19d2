//! The console's state and its pure `update`: every change goes through
//! [`App::update`], which does no I/O and returns the [`Effect`]s the runtime must run.
//! Time comes in as [`Action::Tick`], so timeouts are testable.

pub mod command;
pub mod cursor;
pub mod diff;
pub mod exposure;
pub mod flash;
pub mod harvest;
pub mod history;
mod input;
pub mod site;
pub mod sites;

use std::cell::Cell;
use std::collections::HashMap;
use std::mem::Discriminant;
use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;

use crate::domain::{Capabilities, Refresh};
use crate::domain::{OrgId, RunSummary};
use crate::tui::action::{Action, Effect, UserCommand};
use crate::tui::keys::{self, KeyScope};
use crate::tui::services::{ConsoleOptions, Overview};
use crate::tui::strings;
use crate::tui::theme::Theme;

use self::cursor::Cursor;

use self::exposure::ExposureScreen;
use self::flash::{Flash, Level};
use self::harvest::HarvestState;
use self::history::{HistoryScreen, RunScreen};
use self::site::SiteScreen;
use self::sites::SiteList;

/// How long a revealed secret stays on screen.
pub const REVEAL_FOR: Duration = Duration::from_secs(30);
/// How long a copied secret stays on the clipboard.
pub const CLIPBOARD_FOR: Duration = Duration::from_secs(30);
/// Before the first frame: rows of the terminal that are not list rows (title, header,
/// status, footer). Once a screen has drawn, the height it drew is used instead.
const CHROME_ROWS_ESTIMATE: u16 = 9;

/// A screen of the console; they stack (`Esc` goes back).
#[derive(Debug)]
pub enum Screen {
    Sites,
    Site(Box<SiteScreen>),
    Harvest,
    History(HistoryScreen),
    Run(RunScreen),
    /// Live exposures grouped by user (`e`).
    Exposure(ExposureScreen),
    /// The help screen and its scroll position.
    Help(Cursor),
}

/// A risky action waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Reveal {
        org: OrgId,
        client_id: String,
        site: String,
    },
    Harvest,
}

/// What a text line at the bottom is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    CommandLine,
}

/// A text line being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
}

/// The whole state of the console.
#[derive(Debug)]
pub struct App {
    pub(crate) profile: String,
    pub(crate) application_id: String,
    pub(crate) store_path: String,
    /// Where the profile's secrets live.
    pub(crate) caps: Capabilities,
    /// Secrets being read for a reveal or a copy (the status line says so meanwhile).
    pub(crate) reading: usize,
    pub(crate) last_run: Option<RunSummary>,
    pub(crate) sites: SiteList,
    /// Screens above the sites list; the last one is shown.
    pub(crate) stack: Vec<Screen>,
    pub(crate) harvest: Option<HarvestState>,
    pub(crate) confirm: Option<Confirm>,
    pub(crate) input: Option<Input>,
    pub(crate) flash: Option<Flash>,
    pub(crate) readonly: bool,
    /// A viewer's pull is under way.
    pulling: bool,
    /// Whether this identity may read secrets (reveal, copy, verify): `None` until known
    /// (a viewer's capabilities check at start, or the vault's answer to a first attempt).
    secrets_readable: Option<bool>,
    /// Keys pressed before the whole sites list was loaded (bounded).
    deferred: Vec<KeyEvent>,
    /// How a copy reaches the clipboard (inside tmux without the settings: it cannot).
    clipboard_route: crate::tui::osc52::Route,
    pub(crate) theme: Theme,
    pub(crate) now: Instant,
    pub(crate) size: (u16, u16),
    /// The name of every site seen this session, so a site a harvest removed is still
    /// named in its diff.
    known_names: HashMap<OrgId, String>,
    /// Whether the flash is the "secret shown" message (cleared once no secret is shown).
    reveal_flash: bool,
    clipboard_clear_at: Option<Instant>,
    /// Rows of the list (or help text) the last frame drew: paging moves by what the
    /// person saw, not by a guess (gitui keeps its views' drawn height the same way).
    drawn_rows: Cell<Option<(Discriminant<Screen>, usize)>>,
    quit: bool,
}

const BASE: Screen = Screen::Sites;

impl App {
    /// A console on a loaded overview. `now` is the instant timeouts count from.
    pub fn new(overview: Overview, options: ConsoleOptions, theme: Theme, now: Instant) -> Self {
        let mut app = App {
            profile: String::new(),
            application_id: String::new(),
            store_path: String::new(),
            caps: Capabilities::default(),
            reading: 0,
            last_run: None,
            sites: SiteList::default(),
            stack: Vec::new(),
            harvest: None,
            confirm: None,
            input: None,
            flash: None,
            readonly: options.readonly,
            pulling: false,
            secrets_readable: None,
            deferred: Vec::new(),
            clipboard_route: crate::tui::osc52::Route::Plain,
            theme,
            now,
            size: (80, 24),
            known_names: HashMap::new(),
            reveal_flash: false,
            clipboard_clear_at: None,
            drawn_rows: Cell::new(None),
            quit: false,
        };
        app.apply_overview(overview);
        app
    }

    /// An app whose first frame shows the first screen of sites (`head`) and the totals
    /// over all of them; [`Action::Started`] then asks for the whole list, and keys pressed
    /// before it arrives are applied to it once it has.
    pub fn with_head(
        head: Overview,
        totals: crate::domain::SiteTotals,
        options: ConsoleOptions,
        theme: Theme,
        now: Instant,
    ) -> Self {
        let mut app = App::new(head, options, theme, now);
        app.sites.set_partial(totals);
        app
    }

    /// The shown screen.
    pub fn screen(&self) -> &Screen {
        self.stack.last().unwrap_or(&BASE)
    }

    /// The school of the site screen under the harvest pane (`u` refreshes it), if any.
    pub fn site_under_harvest(&self) -> Option<&OrgId> {
        let mut below = self.stack.iter().rev();
        match below.next() {
            Some(Screen::Harvest) => match below.next() {
                Some(Screen::Site(screen)) => Some(&screen.org),
                _ => None,
            },
            _ => None,
        }
    }

    /// The sites list.
    pub fn sites(&self) -> &SiteList {
        &self.sites
    }

    /// A site's name: from the sites list, else as last seen this session (a site a
    /// harvest removed); `None` when never seen.
    pub fn known_name(&self, org: &OrgId) -> Option<&str> {
        self.sites
            .by_org(org)
            .map(|r| r.site.name.as_str())
            .or_else(|| self.known_names.get(org).map(String::as_str))
    }

    /// The running or finished harvest.
    pub fn harvest(&self) -> Option<&HarvestState> {
        self.harvest.as_ref()
    }

    /// Whether a harvest is running.
    pub fn harvest_running(&self) -> bool {
        self.harvest.as_ref().is_some_and(HarvestState::running)
    }

    /// The open confirmation dialog.
    pub fn confirm(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }

    /// The text line being typed.
    pub fn input(&self) -> Option<&Input> {
        self.input.as_ref()
    }

    /// The current message.
    pub fn flash(&self) -> Option<&Flash> {
        self.flash.as_ref()
    }

    /// Whether the console was asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether a copied secret may still be on the clipboard.
    pub fn clipboard_pending(&self) -> bool {
        self.clipboard_clear_at.is_some()
    }

    /// Whether reveal, copy, verify and harvest are off.
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// The open site, if a site screen is shown.
    pub fn site_screen(&self) -> Option<&SiteScreen> {
        match self.screen() {
            Screen::Site(v) => Some(v),
            _ => None,
        }
    }

    /// Where keys go now (which part of the key table applies).
    pub fn key_scope(&self) -> KeyScope {
        if self.confirm.is_some() {
            return KeyScope::Confirm;
        }
        match self.input.as_ref().map(|i| i.kind) {
            Some(InputKind::Filter) => return KeyScope::Filter,
            Some(InputKind::CommandLine) => return KeyScope::CommandLine,
            None => {}
        }
        match self.screen() {
            Screen::Sites => KeyScope::Sites,
            Screen::Site(_) => KeyScope::Site,
            Screen::Harvest if self.harvest_running() => KeyScope::Harvest,
            Screen::Harvest => KeyScope::HarvestEnded,
            Screen::History(_) | Screen::Run(_) => KeyScope::History,
            Screen::Exposure(_) => KeyScope::Exposure,
            Screen::Help(_) => KeyScope::Help,
        }
    }

    /// Looks a key up in the key table and applies it.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let command = keys::resolve(self.key_scope(), &key);
        // Until the whole sites list is in, keys wait for it (quitting does not): they are
        // read again then, in the scope they will meet (a `/` opens the filter line).
        if self.sites.is_partial() && command != Some(UserCommand::Quit) {
            if self.deferred.len() < MAX_DEFERRED {
                self.deferred.push(key);
            }
            return Vec::new();
        }
        match command {
            Some(command) => self.update(Action::Key(command)),
            None => Vec::new(),
        }
    }

    /// Applies an action; returns what the runtime must do. No I/O.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let mut fx = Vec::new();
        match action {
            Action::Tick(now) => self.tick(now, &mut fx),
            Action::Resize { width, height } => {
                self.size = (width, height);
                let page = self.page();
                self.sites.cursor.clamp(self.sites.visible().len(), page);
            }
            Action::Key(command) => self.command(command, &mut fx),
            Action::OverviewLoaded(Ok(overview)) => {
                self.apply_overview(overview);
                self.replay_deferred(&mut fx);
            }
            Action::OverviewLoaded(Err(e)) => {
                self.error(strings::failed("reload", &e));
                self.replay_deferred(&mut fx);
            }
            Action::SiteLoaded { org, result } => {
                let found = matches!(result, Ok(Some(_)));
                self.site_loaded(&org, result);
                if found && self.site_screen_mut(&org).is_some() {
                    fx.push(Effect::LoadSiteExposure(org));
                }
            }
            Action::RunsLoaded(result) => self.runs_loaded(result),
            Action::Revealed {
                org,
                client_id,
                result,
            } => {
                self.reading = self.reading.saturating_sub(1);
                match &result {
                    // The site's "exposed" line shows this reveal at once.
                    Ok(_) if self.site_screen_mut(&org).is_some() => {
                        fx.push(Effect::LoadSiteExposure(org.clone()))
                    }
                    Ok(_) => {}
                    Err(e) => self.learn_from_secret_error(e),
                }
                self.revealed(&org, client_id, result);
            }
            Action::Copied {
                org,
                client_id,
                result,
            } => {
                self.reading = self.reading.saturating_sub(1);
                match result {
                    Ok(()) => {
                        self.clipboard_clear_at = Some(self.now + CLIPBOARD_FOR);
                        self.info(strings::copied(&client_id, CLIPBOARD_FOR.as_secs()));
                        if self.site_screen_mut(&org).is_some() {
                            fx.push(Effect::LoadSiteExposure(org));
                        }
                    }
                    Err(e) => {
                        self.learn_from_secret_error(&e);
                        self.error(strings::failed("copy", &e));
                    }
                }
            }
            Action::Verified { org, result } => {
                if let Err(e) = &result {
                    self.learn_from_secret_error(e);
                }
                self.verified(&org, result);
            }
            Action::Harvest(events) => {
                let now = self.now;
                if let Some(h) = self.harvest.as_mut().filter(|h| h.running()) {
                    for event in &events {
                        h.apply(event, now);
                    }
                }
            }
            Action::HarvestFinished(result) => self.harvest_finished(result, &mut fx),
            Action::ProfileSwitched { name, result } => match result {
                Ok(overview) => {
                    self.apply_overview(overview);
                    self.stack.clear();
                    self.info(strings::profile_switched(&name));
                }
                Err(e) => self.error(strings::failed("profile switch", &e)),
            },
            Action::ExposuresLoaded(result) => self.exposures_loaded(result),
            Action::SiteExposureLoaded { org, result } => match result {
                Ok(list) => {
                    if let Some(screen) = self.site_screen_mut(&org) {
                        screen.exposures = list;
                    }
                }
                Err(e) => self.error(strings::failed("exposure", &e)),
            },
            Action::ListedVerifyProgress(tally) => {
                if let Some(v) = self.exposure_screen_mut().and_then(|v| v.verify.as_mut()) {
                    if v.running() {
                        v.tally = tally;
                    }
                }
            }
            Action::ListedVerified(result) => self.listed_verified(result),
            Action::Started => {
                if self.sites.is_partial() {
                    fx.push(Effect::LoadAllSites);
                }
                if self.caps.refresh == Refresh::Pull {
                    self.start_pull(&mut fx);
                    fx.push(Effect::CheckSecretsAccess);
                }
            }
            Action::Pulled(result) => self.pulled(result, &mut fx),
            Action::ClipboardRoute(route) => self.clipboard_route = route,
            Action::SecretsAccess(may) => {
                if may.is_some() {
                    self.secrets_readable = may;
                }
            }
        }
        self.mask_covered_sites();
        self.clear_stale_reveal_flash();
        fx
    }

    /// The "secret … shown" message goes once no secret is shown (the site screen left,
    /// or the secret hidden again).
    fn clear_stale_reveal_flash(&mut self) {
        if !self.reveal_flash {
            return;
        }
        let shown = matches!(self.stack.last(), Some(Screen::Site(v)) if v.revealed.is_some());
        let still_ours = self.flash.is_some();
        if !shown || !still_ours {
            self.reveal_flash = false;
            if !shown && still_ours {
                self.flash = None;
            }
        }
    }

    /// List rows on a page: what the last frame drew of this screen, else an estimate
    /// from the terminal's size.
    pub(crate) fn page(&self) -> usize {
        self.drawn_rows_of_screen()
            .unwrap_or_else(|| usize::from(self.size.1.saturating_sub(CHROME_ROWS_ESTIMATE)))
            .max(1)
    }

    /// The rows the last frame drew, when it drew the screen now on top.
    pub(crate) fn drawn_rows_of_screen(&self) -> Option<usize> {
        let here = std::mem::discriminant(self.screen());
        self.drawn_rows
            .get()
            .and_then(|(screen, rows)| (screen == here).then_some(rows))
    }

    /// Called by a screen's drawing with the rows its list (or text) drew this frame.
    pub(crate) fn drew_rows(&self, rows: usize) {
        self.drawn_rows
            .set(Some((std::mem::discriminant(self.screen()), rows)));
    }

    fn tick(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        self.now = now;
        if self.flash.as_ref().is_some_and(|f| f.expired(now)) {
            self.flash = None;
        }
        for screen in &mut self.stack {
            if let Screen::Site(screen) = screen {
                if screen.revealed.as_ref().is_some_and(|r| now >= r.until) {
                    screen.mask();
                }
            }
        }
        if self.clipboard_clear_at.is_some_and(|at| now >= at) {
            self.clipboard_clear_at = None;
            fx.push(Effect::ClearClipboard);
            self.info(strings::FLASH_CLIPBOARD_CLEARED.to_string());
        }
    }

    /// A revealed secret never stays behind another screen.
    fn mask_covered_sites(&mut self) {
        let top = self.stack.len().saturating_sub(1);
        for (i, screen) in self.stack.iter_mut().enumerate() {
            if let Screen::Site(screen) = screen {
                if i != top {
                    screen.mask();
                }
            }
        }
    }

    fn apply_overview(&mut self, overview: Overview) {
        let page = self.page();
        self.profile = overview.profile;
        self.application_id = overview.application_id;
        self.store_path = overview.store_path;
        self.caps = overview.capabilities;
        self.last_run = overview.last_run;
        for row in &overview.sites {
            self.known_names
                .insert(row.site.org_id.clone(), row.site.name.clone());
        }
        self.sites.replace_rows(overview.sites, page);
    }

    pub(crate) fn exposure_screen_mut(&mut self) -> Option<&mut ExposureScreen> {
        self.stack.iter_mut().rev().find_map(|s| match s {
            Screen::Exposure(v) => Some(v),
            _ => None,
        })
    }

    pub(crate) fn site_screen_mut(&mut self, org: &OrgId) -> Option<&mut SiteScreen> {
        self.stack.iter_mut().rev().find_map(|s| match s {
            Screen::Site(v) if &v.org == org => Some(v.as_mut()),
            _ => None,
        })
    }

    /// A team-mode viewer's `R` (and the console's start): the view pulled in the
    /// background; one pull at a time.
    pub(crate) fn start_pull(&mut self, fx: &mut Vec<Effect>) {
        if self.pulling {
            self.info(strings::FLASH_PULLING.to_string());
            return;
        }
        self.pulling = true;
        self.info(strings::FLASH_PULLING.to_string());
        fx.push(Effect::Pull);
    }

    /// Keys pressed while only the first screen of sites was loaded, applied in order now
    /// that the whole list is (the list they move, sort and filter).
    fn replay_deferred(&mut self, fx: &mut Vec<Effect>) {
        self.sites_partial_done();
        for key in std::mem::take(&mut self.deferred) {
            fx.extend(self.handle_key(key));
        }
    }

    /// The whole list is in (or could not be read): the first screen is all there is.
    fn sites_partial_done(&mut self) {
        if self.sites.is_partial() {
            let page = self.page();
            let rows = self.sites.rows().to_vec();
            self.sites.replace_rows(rows, page);
        }
    }

    /// Whether reveal, copy and verify are offered: not when the vault said this identity
    /// may not read secrets (a viewer with the viewer policy).
    pub fn secrets_offered(&self) -> bool {
        self.secrets_readable != Some(false)
    }

    /// A reveal, copy or verify failed: a vault's refusal means this identity may not read
    /// secrets, and the console stops offering them.
    pub(crate) fn learn_from_secret_error(&mut self, error: &str) {
        if self.caps.reveal.is_none() && refused_by_vault(error) {
            self.secrets_readable = Some(false);
        }
    }

    /// Whether a pull is under way.
    pub fn pulling(&self) -> bool {
        self.pulling
    }

    fn pulled(&mut self, result: Result<crate::domain::Pulled, String>, fx: &mut Vec<Effect>) {
        self.pulling = false;
        match result {
            Ok(p) => {
                self.info(strings::pulled(&p));
                if p.changed {
                    fx.push(Effect::LoadOverview);
                    if self.stack.iter().any(|s| matches!(s, Screen::History(_))) {
                        fx.push(Effect::LoadRuns);
                    }
                    if self.stack.iter().any(|s| matches!(s, Screen::Exposure(_))) {
                        fx.push(Effect::LoadExposures);
                    }
                }
            }
            Err(e) => self.error(strings::failed("pull", &e)),
        }
    }

    pub(crate) fn set_flash(&mut self, level: Level, text: String) {
        self.reveal_flash = false;
        self.flash = Some(Flash {
            level,
            text,
            at: self.now,
        });
    }

    pub(crate) fn info(&mut self, text: String) {
        self.set_flash(Level::Info, text);
    }

    pub(crate) fn warn(&mut self, text: String) {
        self.set_flash(Level::Warning, text);
    }

    pub(crate) fn error(&mut self, text: String) {
        self.set_flash(Level::Error, text);
    }
}

/// The most keys kept while the sites list loads.
const MAX_DEFERRED: usize = 256;

/// Whether an error is the vault refusing this identity (HTTP 403, permission denied).
fn refused_by_vault(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    e.contains("permission denied") || e.contains("403")
}
