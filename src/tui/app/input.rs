//! What each key command does, by mode (confirmation, text line) and screen.

use crate::domain::{OrgId, Refresh};
use crate::tui::action::{Effect, UserCommand};
use crate::tui::app::command::{self, LineCommand};
use crate::tui::app::cursor::Cursor;
use crate::tui::app::diff::DiffList;
use crate::tui::app::exposure::{ExposureScreen, ListedVerify};
use crate::tui::app::harvest::{HarvestState, Outcome};
use crate::tui::app::history::{HistoryScreen, RunScreen};
use crate::tui::app::site::{SiteScreen, VerifyState};
use crate::tui::app::{App, Confirm, Input, InputKind, Screen};
use crate::tui::strings;

impl App {
    pub(super) fn command(&mut self, cmd: UserCommand, fx: &mut Vec<Effect>) {
        if let Some(confirm) = self.confirm.take() {
            match cmd {
                UserCommand::ConfirmYes => self.confirmed(confirm, fx),
                UserCommand::Quit => self.quit(fx),
                _ => self.info(strings::CANCELLED.to_string()),
            }
            return;
        }
        if self.input.is_some() {
            self.typed(cmd, fx);
            return;
        }
        // An `R` that pulls the view writes no secret and harvests nothing.
        let pulls = cmd == UserCommand::Harvest && self.caps.refresh == Refresh::Pull;
        if self.readonly && crate::tui::keys::writes(cmd) && !pulls {
            self.warn(strings::FLASH_READ_ONLY.to_string());
            return;
        }
        match cmd {
            UserCommand::Up
            | UserCommand::Down
            | UserCommand::PageUp
            | UserCommand::PageDown
            | UserCommand::Top
            | UserCommand::Bottom => self.navigate(cmd),
            UserCommand::Open => self.open(fx),
            UserCommand::Back => self.back(),
            UserCommand::Filter => {
                if matches!(self.screen(), Screen::Sites) {
                    self.input = Some(Input {
                        kind: InputKind::Filter,
                        text: self.sites.filter_text().to_string(),
                    });
                }
            }
            UserCommand::SortNext | UserCommand::SortReverse | UserCommand::StatusFilterNext => {
                if matches!(self.screen(), Screen::Sites) {
                    let page = self.page();
                    match cmd {
                        UserCommand::SortNext => self.sites.cycle_sort(page),
                        UserCommand::SortReverse => self.sites.reverse_sort(page),
                        _ => self.sites.cycle_status_filter(page),
                    }
                }
            }
            UserCommand::Reveal | UserCommand::Copy | UserCommand::Verify
                if !self.secrets_offered() =>
            {
                self.warn(strings::FLASH_VIEWER_NO_SECRETS.to_string())
            }
            UserCommand::Verify if matches!(self.screen(), Screen::Exposure(_)) => {
                self.verify_listed(fx)
            }
            UserCommand::Reveal | UserCommand::Copy | UserCommand::Verify => {
                self.site_action(cmd, fx)
            }
            UserCommand::Exposure => {
                if !matches!(self.screen(), Screen::Exposure(_)) {
                    self.stack.retain(|s| !matches!(s, Screen::Exposure(_)));
                    self.stack.push(Screen::Exposure(ExposureScreen::new()));
                    fx.push(Effect::LoadExposures);
                }
            }
            UserCommand::Harvest if self.caps.refresh == Refresh::Pull => self.start_pull(fx),
            UserCommand::Harvest => self.harvest_key(),
            UserCommand::RefreshSite if !self.caps.refresh_one => {
                self.warn(strings::FLASH_VIEWER_HARVEST.to_string())
            }
            UserCommand::RefreshSite => self.refresh_site(fx),
            UserCommand::History => {
                if !matches!(self.screen(), Screen::History(_)) {
                    self.stack.push(Screen::History(HistoryScreen::new()));
                    fx.push(Effect::LoadRuns);
                }
            }
            UserCommand::CommandLine => {
                self.input = Some(Input {
                    kind: InputKind::CommandLine,
                    text: String::new(),
                });
            }
            UserCommand::Help => {
                if matches!(self.screen(), Screen::Help(_)) {
                    self.stack.pop();
                } else {
                    self.stack.push(Screen::Help(Cursor::default()));
                }
            }
            UserCommand::Quit => self.quit(fx),
            UserCommand::CancelHarvest => self.cancel_or_close_harvest(fx),
            UserCommand::HidePane => {
                if matches!(self.screen(), Screen::Harvest) {
                    self.stack.pop();
                    if self.harvest_running() {
                        self.info(strings::FLASH_HARVEST_HIDDEN.to_string());
                    } else {
                        self.harvest = None;
                    }
                }
            }
            UserCommand::InputChar(_)
            | UserCommand::InputBackspace
            | UserCommand::InputSubmit
            | UserCommand::InputCancel
            | UserCommand::ConfirmYes
            | UserCommand::ConfirmNo => {}
        }
    }

    pub(super) fn quit(&mut self, fx: &mut Vec<Effect>) {
        if self.harvest_running() {
            fx.push(Effect::CancelHarvest);
        }
        if self.clipboard_clear_at.take().is_some() {
            fx.push(Effect::ClearClipboard);
        }
        fx.push(Effect::Quit);
        self.quit = true;
    }

    fn confirmed(&mut self, confirm: Confirm, fx: &mut Vec<Effect>) {
        match confirm {
            Confirm::Reveal { org, client_id, .. } => {
                fx.push(Effect::Reveal { org, client_id });
                self.reading += 1;
            }
            Confirm::Harvest => {
                if self.harvest_running() {
                    return;
                }
                self.harvest = Some(HarvestState::new(self.now));
                self.stack.retain(|s| !matches!(s, Screen::Harvest));
                self.stack.push(Screen::Harvest);
                fx.push(Effect::StartHarvest);
            }
        }
    }

    fn typed(&mut self, cmd: UserCommand, fx: &mut Vec<Effect>) {
        let Some(input) = self.input.as_mut() else {
            return;
        };
        let kind = input.kind;
        match cmd {
            UserCommand::InputChar(c) => input.text.push(c),
            UserCommand::InputBackspace => {
                if input.text.pop().is_none() && kind == InputKind::CommandLine {
                    self.input = None;
                    return;
                }
            }
            UserCommand::InputSubmit => {
                let text = std::mem::take(&mut input.text);
                self.input = None;
                if kind == InputKind::CommandLine {
                    self.run_line(&text, fx);
                }
                return;
            }
            UserCommand::InputCancel => {
                self.input = None;
                if kind == InputKind::Filter {
                    let page = self.page();
                    self.sites.set_filter("", page);
                }
                return;
            }
            UserCommand::Quit => {
                self.input = None;
                self.quit(fx);
                return;
            }
            _ => return,
        }
        if kind == InputKind::Filter {
            let text = input.text.clone();
            let page = self.page();
            self.sites.set_filter(&text, page);
        }
    }

    fn run_line(&mut self, text: &str, fx: &mut Vec<Effect>) {
        match command::parse(text) {
            Ok(LineCommand::Goto(query)) => match self.sites.find(&query) {
                crate::lookup::Found::One(row) => {
                    let org = row.site.org_id.clone();
                    self.open_site(org, fx);
                }
                crate::lookup::Found::Nothing => self.error(strings::not_found(&query)),
                crate::lookup::Found::Many(rows) => {
                    let sites: Vec<&crate::domain::Site> = rows.iter().map(|r| &r.site).collect();
                    // One line on the message bar: the candidates joined.
                    let text = crate::lookup::ambiguous_message(&query, &sites).replace('\n', " ·");
                    self.error(text);
                }
            },
            Ok(LineCommand::Harvest) => self.command(UserCommand::Harvest, fx),
            Ok(LineCommand::Profile(name)) => {
                if self.harvest_running() {
                    self.warn(strings::FLASH_BUSY_PROFILE.to_string());
                } else {
                    fx.push(Effect::SwitchProfile(name));
                }
            }
            Ok(LineCommand::Quit) => self.quit(fx),
            Err(message) => self.error(message),
        }
    }

    fn navigate(&mut self, cmd: UserCommand) {
        let page = self.page();
        // The help cursor is its scroll offset: positions up to the last full screen.
        let body = self
            .drawn_rows_of_screen()
            .unwrap_or_else(|| usize::from(self.size.1.saturating_sub(4)));
        let help_positions = crate::tui::help::help_lines(self.size.0, self.readonly)
            .len()
            .saturating_sub(body)
            + 1;
        let len = self.sites.visible().len();
        match self.stack.last_mut() {
            None | Some(Screen::Sites) => {
                self.sites.cursor.apply(cmd, len, page);
            }
            Some(Screen::Site(screen)) => {
                let len = screen.credentials().len();
                screen.cursor.apply(cmd, len, page);
            }
            Some(Screen::Harvest) => {
                if let Some(Outcome::Finished { changes, .. }) =
                    self.harvest.as_mut().and_then(|h| h.outcome.as_mut())
                {
                    let len = changes.items.len();
                    changes.cursor.apply(cmd, len, page);
                }
            }
            Some(Screen::History(screen)) => {
                let len = screen.runs().len();
                screen.cursor.apply(cmd, len, page);
            }
            Some(Screen::Run(screen)) => {
                let len = screen.changes.items.len();
                screen.changes.cursor.apply(cmd, len, page);
            }
            Some(Screen::Exposure(screen)) => {
                let len = screen.len();
                screen.cursor.apply(cmd, len, page);
            }
            Some(Screen::Help(cursor)) => {
                cursor.apply(cmd, help_positions, page);
            }
        }
    }

    fn open(&mut self, fx: &mut Vec<Effect>) {
        let target: Option<OrgId> = match self.screen() {
            Screen::Sites => self.sites.selected_row().map(|r| r.site.org_id.clone()),
            Screen::Harvest => match self.harvest.as_ref().and_then(|h| h.outcome.as_ref()) {
                Some(Outcome::Finished { changes, .. }) => {
                    changes.selected().map(|i| i.org.clone())
                }
                _ => None,
            },
            Screen::Run(screen) => screen.changes.selected().map(|i| i.org.clone()),
            Screen::Exposure(screen) => screen.selected().map(|x| x.organisation_id.clone()),
            Screen::History(screen) => {
                if let Some(run) = screen.selected() {
                    let changes = DiffList::new(&run.diff);
                    let run = Box::new(run.clone());
                    self.stack.push(Screen::Run(RunScreen { run, changes }));
                }
                None
            }
            Screen::Site(_) | Screen::Help(_) => None,
        };
        if let Some(org) = target {
            if self.sites.by_org(&org).is_some() {
                self.open_site(org, fx);
            } else {
                self.warn(strings::FLASH_SITE_GONE.to_string());
            }
        }
    }

    pub(super) fn open_site(&mut self, org: OrgId, fx: &mut Vec<Effect>) {
        let page = self.page();
        let name = self
            .sites
            .by_org(&org)
            .map(|r| r.site.name.clone())
            .unwrap_or_default();
        self.sites.select_org(&org, page);
        if let Some(Screen::Site(_)) = self.stack.last() {
            self.stack.pop();
        }
        self.stack
            .push(Screen::Site(Box::new(SiteScreen::new(org.clone(), name))));
        fx.push(Effect::LoadSite(org));
    }

    fn back(&mut self) {
        match self.screen() {
            Screen::Sites => {
                if !self.sites.filter_text().is_empty() {
                    let page = self.page();
                    self.sites.set_filter("", page);
                }
            }
            Screen::Harvest => {
                self.stack.pop();
                if !self.harvest_running() {
                    self.harvest = None;
                }
            }
            _ => {
                self.stack.pop();
            }
        }
    }

    fn site_action(&mut self, cmd: UserCommand, fx: &mut Vec<Effect>) {
        let Some(Screen::Site(screen)) = self.stack.last_mut() else {
            return;
        };
        let org = screen.org.clone();
        if cmd == UserCommand::Verify {
            if screen.credentials().is_empty() {
                self.warn(strings::FLASH_NO_CREDENTIAL.to_string());
                return;
            }
            screen.verify = Some(VerifyState::Pending);
            fx.push(Effect::Verify(org));
            self.info(strings::FLASH_VERIFYING.to_string());
            return;
        }
        let Some(client_id) = screen.selected_credential().map(|c| c.client_id.clone()) else {
            self.warn(strings::FLASH_NO_CREDENTIAL.to_string());
            return;
        };
        if cmd == UserCommand::Copy {
            // A copy that could not reach the clipboard is never read (nor audited).
            if self.clipboard_route == crate::tui::osc52::Route::TmuxBlocked {
                self.warn(strings::FLASH_TMUX_CLIPBOARD.to_string());
                return;
            }
            fx.push(Effect::Copy { org, client_id });
            self.reading += 1;
            return;
        }
        if screen.revealed_for(&client_id).is_some() {
            screen.mask();
            return;
        }
        let site = screen.name.clone();
        self.confirm = Some(Confirm::Reveal {
            org,
            client_id,
            site,
        });
    }

    /// `v` on the exposure screen: verifies every listed credential once.
    fn verify_listed(&mut self, fx: &mut Vec<Effect>) {
        let Some(Screen::Exposure(screen)) = self.stack.last_mut() else {
            return;
        };
        if screen.verify.as_ref().is_some_and(ListedVerify::running) {
            self.warn(strings::FLASH_VERIFY_RUNNING.to_string());
            return;
        }
        let list = screen.credentials();
        if list.is_empty() {
            self.warn(strings::FLASH_NOTHING_TO_VERIFY.to_string());
            return;
        }
        screen.verify = Some(ListedVerify {
            tally: crate::domain::Tally {
                total: list.len(),
                ..Default::default()
            },
            results: None,
        });
        fx.push(Effect::VerifyListed(list));
        self.info(strings::FLASH_VERIFYING.to_string());
    }

    /// `u` on a site's screen: that school refreshed in the harvest pane (one harvest at a
    /// time: a running one is shown instead).
    fn refresh_site(&mut self, fx: &mut Vec<Effect>) {
        let Some(Screen::Site(screen)) = self.stack.last() else {
            return;
        };
        let org = screen.org.clone();
        if self.harvest_running() {
            self.harvest_key();
            return;
        }
        self.harvest = Some(HarvestState::new(self.now));
        self.stack.retain(|s| !matches!(s, Screen::Harvest));
        self.stack.push(Screen::Harvest);
        fx.push(Effect::StartSiteHarvest(org));
    }

    fn harvest_key(&mut self) {
        if self.harvest_running() {
            if !matches!(self.screen(), Screen::Harvest) {
                self.stack.retain(|s| !matches!(s, Screen::Harvest));
                self.stack.push(Screen::Harvest);
            }
        } else {
            self.confirm = Some(Confirm::Harvest);
        }
    }

    fn cancel_or_close_harvest(&mut self, fx: &mut Vec<Effect>) {
        if !matches!(self.screen(), Screen::Harvest) {
            return;
        }
        match self.harvest.as_mut() {
            Some(h) if h.running() => {
                if !h.cancelling {
                    h.cancelling = true;
                    fx.push(Effect::CancelHarvest);
                }
            }
            _ => {
                self.stack.pop();
                self.harvest = None;
            }
        }
    }
}
