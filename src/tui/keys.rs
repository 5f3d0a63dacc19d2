//! The key table: the one list of bindings that drives key handling ([`resolve`]), the
//! footer hints ([`footer`]) and the help screen ([`groups`]), so they never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::action::UserCommand;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// Everywhere, even while typing or confirming (Ctrl-C).
    Always,
    /// On every screen (not while typing or confirming).
    Global,
    Sites,
    Site,
    /// The harvest pane while the harvest runs.
    Harvest,
    /// The harvest pane once the harvest has ended.
    HarvestEnded,
    History,
    /// The exposure screen (`e`): live exposures grouped by user.
    Exposure,
    Help,
    /// Typing a filter after `/`.
    Filter,
    /// Typing a command after `:`.
    CommandLine,
    /// A confirmation dialog is open.
    Confirm,
}

impl KeyScope {
    /// The heading of this group on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            KeyScope::Always | KeyScope::Global => "Everywhere",
            KeyScope::Sites => "Sites list",
            KeyScope::Site => "Site",
            KeyScope::Harvest => "Harvest pane",
            KeyScope::HarvestEnded => "Harvest pane, once the harvest has ended",
            KeyScope::History => "History",
            KeyScope::Exposure => "Exposure view",
            KeyScope::Help => "Help",
            KeyScope::Filter => "Filter line (after /)",
            KeyScope::CommandLine => "Command line (after :)",
            KeyScope::Confirm => "Confirmation",
        }
    }

    /// Whether the global bindings apply in this scope too.
    fn inherits_global(self) -> bool {
        !matches!(
            self,
            KeyScope::Filter | KeyScope::CommandLine | KeyScope::Confirm
        )
    }
}

/// One key (or a class of keys) a binding answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// A printable character without Ctrl or Alt (Shift is part of the character).
    Char(char),
    /// A non-character key, whatever the modifiers.
    Code(KeyCode),
    /// Ctrl plus a character.
    Ctrl(char),
    /// Any printable character (its text is passed on).
    AnyChar,
    /// Any key at all.
    AnyKey,
}

impl KeySpec {
    fn matches(self, key: &KeyEvent) -> bool {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (self, key.code) {
            (KeySpec::Char(c), KeyCode::Char(k)) => plain && c == k,
            (KeySpec::Ctrl(c), KeyCode::Char(k)) => {
                key.modifiers.contains(KeyModifiers::CONTROL) && c.eq_ignore_ascii_case(&k)
            }
            (KeySpec::Code(c), code) => c == code,
            (KeySpec::AnyChar, KeyCode::Char(_)) => plain,
            (KeySpec::AnyKey, _) => true,
            _ => false,
        }
    }
}

/// One entry of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// How the keys are written in the footer and help (`↑/k`).
    pub label: &'static str,
    pub keys: &'static [KeySpec],
    pub scope: KeyScope,
    /// What the keys do. For [`KeySpec::AnyChar`] with [`UserCommand::InputChar`], the typed
    /// character replaces the placeholder.
    pub command: UserCommand,
    /// The help screen's description.
    pub description: &'static str,
    /// The footer's short hint; empty when the binding is not in the footer.
    pub hint: &'static str,
    /// Turned off by `--readonly`.
    pub writes: bool,
}

const fn b(
    label: &'static str,
    keys: &'static [KeySpec],
    scope: KeyScope,
    command: UserCommand,
    description: &'static str,
    hint: &'static str,
) -> Binding {
    Binding {
        label,
        keys,
        scope,
        command,
        description,
        hint,
        writes: false,
    }
}

const fn w(binding: Binding) -> Binding {
    Binding {
        writes: true,
        ..binding
    }
}

use KeyScope as X;
use KeySpec::{AnyChar, AnyKey, Char, Code, Ctrl};

/// Every key binding of the console.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    b("Ctrl-C", &[Ctrl('c')], X::Always, UserCommand::Quit, "quit", ""),
    b("↑/k", &[Code(KeyCode::Up), Char('k')], X::Global, UserCommand::Up, "move up", ""),
    b("↓/j", &[Code(KeyCode::Down), Char('j')], X::Global, UserCommand::Down, "move down", ""),
    b("PgUp", &[Code(KeyCode::PageUp)], X::Global, UserCommand::PageUp, "page up", ""),
    b("PgDn", &[Code(KeyCode::PageDown)], X::Global, UserCommand::PageDown, "page down", ""),
    b("g", &[Char('g'), Code(KeyCode::Home)], X::Global, UserCommand::Top, "go to the top", ""),
    b("G", &[Char('G'), Code(KeyCode::End)], X::Global, UserCommand::Bottom, "go to the bottom", ""),
    b("Esc", &[Code(KeyCode::Esc)], X::Global, UserCommand::Back, "clear filter / close / go back", "back"),
    w(b("R", &[Char('R')], X::Global, UserCommand::Harvest, "full re-harvest (asks; shows a running one); viewer: pull", "harvest")),
    b("h", &[Char('h')], X::Global, UserCommand::History, "harvest history and diffs", "history"),
    b("e", &[Char('e')], X::Global, UserCommand::Exposure, "exposure: secrets revealed or copied and not rotated since, grouped by user", "exposure"),
    b(":", &[Char(':')], X::Global, UserCommand::CommandLine, "command line: :goto ORG, :harvest, :profile NAME, :q", "cmd"),
    b("?", &[Char('?')], X::Global, UserCommand::Help, "help (this screen)", "help"),
    b("q", &[Char('q')], X::Global, UserCommand::Quit, "quit", "quit"),
    b("Enter", &[Code(KeyCode::Enter)], X::Sites, UserCommand::Open, "open the selected site", ""),
    b("/", &[Char('/')], X::Sites, UserCommand::Filter, "filter by name, DfE, DENI or organisation id (!text inverts, re:REGEX)", "filter"),
    b("s", &[Char('s')], X::Sites, UserCommand::SortNext, "cycle the sort column", "sort"),
    b("S", &[Char('S')], X::Sites, UserCommand::SortReverse, "reverse the sort", ""),
    b("a", &[Char('a')], X::Sites, UserCommand::StatusFilterNext, "cycle the view: all / authorised / unauthorised / changed / stale", "view"),
    w(b("r", &[Char('r')], X::Site, UserCommand::Reveal, "reveal the selected secret (asks y; hides after 30 s; audited)", "reveal")),
    w(b("c", &[Char('c')], X::Site, UserCommand::Copy, "copy the selected secret (OSC 52; cleared after 30 s; audited)", "copy")),
    w(b("v", &[Char('v')], X::Site, UserCommand::Verify, "verify the site's credentials with a token request", "verify")),
    w(b("u", &[Char('u')], X::Site, UserCommand::RefreshSite, "refresh this school now from SIMS ID (harvest --site); the pane shows what changed", "refresh")),
    b("Esc/x", &[Code(KeyCode::Esc), Char('x')], X::Harvest, UserCommand::CancelHarvest, "cancel the running harvest (nothing is committed) / close", "cancel"),
    b("b", &[Char('b')], X::Harvest, UserCommand::HidePane, "hide the pane; the harvest continues (R shows it)", "hide"),
    b("Esc/x", &[Code(KeyCode::Esc), Char('x')], X::HarvestEnded, UserCommand::CancelHarvest, "close the pane", "close"),
    b("Enter", &[Code(KeyCode::Enter)], X::HarvestEnded, UserCommand::Open, "open the site of the selected change", "open"),
    b("Enter", &[Code(KeyCode::Enter)], X::History, UserCommand::Open, "open the selected run; in a run, the site of a change", "open"),
    b("Enter", &[Code(KeyCode::Enter)], X::Exposure, UserCommand::Open, "open the site of the selected credential", "open"),
    w(b("v", &[Char('v')], X::Exposure, UserCommand::Verify, "verify every listed credential with a token request (progress above the list)", "verify")),
    b("text", &[AnyChar], X::Filter, UserCommand::InputChar(' '), "filters as you type", ""),
    b("Backspace", &[Code(KeyCode::Backspace)], X::Filter, UserCommand::InputBackspace, "delete a character", ""),
    b("Enter", &[Code(KeyCode::Enter)], X::Filter, UserCommand::InputSubmit, "keep the filter", "keep"),
    b("Esc", &[Code(KeyCode::Esc)], X::Filter, UserCommand::InputCancel, "clear the filter", "clear"),
    b("text", &[AnyChar], X::CommandLine, UserCommand::InputChar(' '), "the command", ""),
    b("Backspace", &[Code(KeyCode::Backspace)], X::CommandLine, UserCommand::InputBackspace, "delete a character", ""),
    b("Enter", &[Code(KeyCode::Enter)], X::CommandLine, UserCommand::InputSubmit, "run the command", "run"),
    b("Esc", &[Code(KeyCode::Esc)], X::CommandLine, UserCommand::InputCancel, "cancel", "cancel"),
    b("y", &[Char('y')], X::Confirm, UserCommand::ConfirmYes, "yes, do it", "yes"),
    b("any other key", &[AnyKey], X::Confirm, UserCommand::ConfirmNo, "cancel", "cancel"),
];

/// Whether a command reads a secret or changes something, so that `--readonly` turns it
/// off: the bindings' `writes` marks are the one list (help, footer and the gate read it).
pub fn writes(command: UserCommand) -> bool {
    BINDINGS.iter().any(|bd| bd.writes && bd.command == command)
}

/// The command a key means in a scope: the scope's own bindings first, then the
/// global ones (not while typing or confirming). `Ctrl-C` works everywhere.
pub fn resolve(scope: KeyScope, key: &KeyEvent) -> Option<UserCommand> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let order = [
        Some(KeyScope::Always),
        Some(scope),
        scope.inherits_global().then_some(KeyScope::Global),
    ];
    order.into_iter().flatten().find_map(|ctx| {
        BINDINGS
            .iter()
            .filter(|bd| bd.scope == ctx)
            .find(|bd| bd.keys.iter().any(|k| k.matches(key)))
            .map(|bd| match (bd.command, key.code) {
                (UserCommand::InputChar(_), KeyCode::Char(c)) => UserCommand::InputChar(c),
                (command, _) => command,
            })
    })
}

/// The footer hints for a scope: its own, then the global ones it does not shadow.
pub fn footer(scope: KeyScope) -> Vec<&'static Binding> {
    let mine: Vec<&Binding> = BINDINGS.iter().filter(|bd| bd.scope == scope).collect();
    let shadowed = |bd: &Binding| {
        mine.iter()
            .any(|m| m.keys.iter().any(|k| bd.keys.contains(k)))
    };
    let global = BINDINGS.iter().filter(|bd| {
        scope.inherits_global()
            && bd.scope == KeyScope::Global
            && !bd.hint.is_empty()
            && !shadowed(bd)
    });
    mine.iter()
        .copied()
        .filter(|bd| !bd.hint.is_empty())
        .chain(global)
        .collect()
}

/// The labels of global hints the footer drops first when it is too narrow, in order.
pub const FOOTER_DROP_ORDER: [&str; 5] = [":", "Esc", "e", "h", "R"];

/// The help screen's groups, in order, each with its bindings.
pub fn groups() -> Vec<(&'static str, Vec<&'static Binding>)> {
    let order = [
        KeyScope::Global,
        KeyScope::Sites,
        KeyScope::Site,
        KeyScope::Harvest,
        KeyScope::HarvestEnded,
        KeyScope::History,
        KeyScope::Exposure,
        KeyScope::Filter,
        KeyScope::CommandLine,
        KeyScope::Confirm,
    ];
    order
        .into_iter()
        .map(|ctx| {
            let list: Vec<&Binding> = BINDINGS
                .iter()
                .filter(|bd| {
                    bd.scope == ctx || (ctx == KeyScope::Global && bd.scope == KeyScope::Always)
                })
                .collect();
            (ctx.title(), list)
        })
        .filter(|(_, list)| !list.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn specific_context_wins_over_global() {
        assert_eq!(
            resolve(KeyScope::Harvest, &key(KeyCode::Esc)),
            Some(UserCommand::CancelHarvest)
        );
        assert_eq!(
            resolve(KeyScope::Sites, &key(KeyCode::Esc)),
            Some(UserCommand::Back)
        );
    }

    #[test]
    fn typing_does_not_trigger_global_keys() {
        assert_eq!(
            resolve(KeyScope::Filter, &key(KeyCode::Char('q'))),
            Some(UserCommand::InputChar('q'))
        );
        assert_eq!(
            resolve(KeyScope::CommandLine, &key(KeyCode::Char('?'))),
            Some(UserCommand::InputChar('?'))
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(resolve(KeyScope::Filter, &ctrl_c), Some(UserCommand::Quit));
        assert_eq!(resolve(KeyScope::Confirm, &ctrl_c), Some(UserCommand::Quit));
    }

    #[test]
    fn confirm_takes_y_and_anything_else_cancels() {
        assert_eq!(
            resolve(KeyScope::Confirm, &key(KeyCode::Char('y'))),
            Some(UserCommand::ConfirmYes)
        );
        for code in [
            KeyCode::Char('n'),
            KeyCode::Esc,
            KeyCode::Enter,
            KeyCode::Char('Y'),
        ] {
            assert_eq!(
                resolve(KeyScope::Confirm, &key(code)),
                Some(UserCommand::ConfirmNo)
            );
        }
    }

    #[test]
    fn shift_letters_and_releases() {
        let shift_s = KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(
            resolve(KeyScope::Sites, &shift_s),
            Some(UserCommand::SortReverse)
        );
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(resolve(KeyScope::Sites, &release), None);
        let alt_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(resolve(KeyScope::Sites, &alt_q), None);
    }

    #[test]
    fn no_two_bindings_of_a_context_share_a_key() {
        let probes = [
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Backspace,
        ]
        .into_iter()
        .chain(('!'..='~').map(KeyCode::Char));
        for code in probes {
            let k = key(code);
            for ctx in [
                KeyScope::Global,
                KeyScope::Sites,
                KeyScope::Site,
                KeyScope::Harvest,
                KeyScope::HarvestEnded,
                KeyScope::Exposure,
                KeyScope::Filter,
                KeyScope::CommandLine,
                KeyScope::Confirm,
            ] {
                let n = BINDINGS
                    .iter()
                    .filter(|bd| bd.scope == ctx)
                    .filter(|bd| {
                        bd.keys
                            .iter()
                            .any(|s| !matches!(s, AnyChar | AnyKey) && s.matches(&k))
                    })
                    .count();
                assert!(n <= 1, "{code:?} bound twice in {ctx:?}");
            }
        }
    }

    #[test]
    fn footer_and_help_come_from_the_table() {
        let hints: Vec<&str> = footer(KeyScope::Sites).iter().map(|b| b.hint).collect();
        assert_eq!(hints[..3], ["filter", "sort", "view"]);
        let harvest: Vec<&str> = footer(KeyScope::Harvest).iter().map(|b| b.label).collect();
        assert!(harvest.contains(&"Esc/x"));
        assert!(
            !harvest.contains(&"Esc"),
            "the global Esc is shadowed in the pane"
        );
        assert!(hints.contains(&"quit"));
        // Once the harvest has ended the pane offers to close, not to cancel.
        let ended: Vec<&str> = footer(KeyScope::HarvestEnded)
            .iter()
            .map(|b| b.hint)
            .collect();
        assert!(ended.contains(&"close") && ended.contains(&"open"));
        assert!(!ended.contains(&"cancel") && !ended.contains(&"hide"));
        let running: Vec<&str> = footer(KeyScope::Harvest).iter().map(|b| b.hint).collect();
        assert!(running.contains(&"cancel") && !running.contains(&"close"));
        assert!(footer(KeyScope::Confirm)
            .iter()
            .all(|b| b.scope == KeyScope::Confirm));
        let total: usize = groups().iter().map(|(_, l)| l.len()).sum();
        assert_eq!(total, BINDINGS.len(), "every binding is on the help screen");
    }
}
