//! The key table: the one list of bindings that drives key handling ([`resolve`]), the
//! footer hints ([`footer`]) and the help screen ([`groups`]), so they never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::action::Command;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
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
    /// The exposure view (`e`): live exposures grouped by user.
    Exposure,
    Help,
    /// Typing a filter after `/`.
    Filter,
    /// Typing a command after `:`.
    CommandLine,
    /// A confirmation dialog is open.
    Confirm,
}

impl Context {
    /// The heading of this group on the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Context::Always | Context::Global => "Everywhere",
            Context::Sites => "Sites list",
            Context::Site => "Site",
            Context::Harvest => "Harvest pane",
            Context::HarvestEnded => "Harvest pane, once the harvest has ended",
            Context::History => "History",
            Context::Exposure => "Exposure view",
            Context::Help => "Help",
            Context::Filter => "Filter line (after /)",
            Context::CommandLine => "Command line (after :)",
            Context::Confirm => "Confirmation",
        }
    }

    /// Whether the global bindings apply in this context too.
    fn inherits_global(self) -> bool {
        !matches!(
            self,
            Context::Filter | Context::CommandLine | Context::Confirm
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
    pub context: Context,
    /// What the keys do. For [`KeySpec::AnyChar`] with [`Command::InputChar`], the typed
    /// character replaces the placeholder.
    pub command: Command,
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
    context: Context,
    command: Command,
    description: &'static str,
    hint: &'static str,
) -> Binding {
    Binding {
        label,
        keys,
        context,
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

use Context as X;
use KeySpec::{AnyChar, AnyKey, Char, Code, Ctrl};

/// Every key binding of the console.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    b("Ctrl-C", &[Ctrl('c')], X::Always, Command::Quit, "quit", ""),
    b("↑/k", &[Code(KeyCode::Up), Char('k')], X::Global, Command::Up, "move up", ""),
    b("↓/j", &[Code(KeyCode::Down), Char('j')], X::Global, Command::Down, "move down", ""),
    b("PgUp", &[Code(KeyCode::PageUp)], X::Global, Command::PageUp, "page up", ""),
    b("PgDn", &[Code(KeyCode::PageDown)], X::Global, Command::PageDown, "page down", ""),
    b("g", &[Char('g'), Code(KeyCode::Home)], X::Global, Command::Top, "go to the top", ""),
    b("G", &[Char('G'), Code(KeyCode::End)], X::Global, Command::Bottom, "go to the bottom", ""),
    b("Esc", &[Code(KeyCode::Esc)], X::Global, Command::Back, "clear filter / close / go back", "back"),
    w(b("R", &[Char('R')], X::Global, Command::Harvest, "full re-harvest (asks to confirm; shows the running one)", "harvest")),
    b("h", &[Char('h')], X::Global, Command::History, "harvest history and diffs", "history"),
    b("e", &[Char('e')], X::Global, Command::Exposure, "exposure: secrets revealed or copied and not rotated since, grouped by user", "exposure"),
    b(":", &[Char(':')], X::Global, Command::CommandLine, "command line: :goto ORG, :harvest, :profile NAME, :q", "cmd"),
    b("?", &[Char('?')], X::Global, Command::Help, "help (this screen)", "help"),
    b("q", &[Char('q')], X::Global, Command::Quit, "quit", "quit"),
    b("Enter", &[Code(KeyCode::Enter)], X::Sites, Command::Open, "open the selected site", ""),
    b("/", &[Char('/')], X::Sites, Command::Filter, "filter by name, DfE, DENI or organisation id (!text inverts, re:REGEX)", "filter"),
    b("s", &[Char('s')], X::Sites, Command::SortNext, "cycle the sort column", "sort"),
    b("S", &[Char('S')], X::Sites, Command::SortReverse, "reverse the sort", ""),
    b("a", &[Char('a')], X::Sites, Command::ViewNext, "cycle the view: all / authorised / unauthorised / changed / stale", "view"),
    w(b("r", &[Char('r')], X::Site, Command::Reveal, "reveal the selected secret (asks y; hides after 30 s; audited)", "reveal")),
    w(b("c", &[Char('c')], X::Site, Command::Copy, "copy the selected secret (OSC 52; cleared after 30 s; audited)", "copy")),
    w(b("v", &[Char('v')], X::Site, Command::Verify, "verify the site's credentials with a token request", "verify")),
    b("Esc/x", &[Code(KeyCode::Esc), Char('x')], X::Harvest, Command::CancelHarvest, "cancel the running harvest (nothing is committed) / close", "cancel"),
    b("b", &[Char('b')], X::Harvest, Command::HidePane, "hide the pane; the harvest continues (R shows it)", "hide"),
    b("Esc/x", &[Code(KeyCode::Esc), Char('x')], X::HarvestEnded, Command::CancelHarvest, "close the pane", "close"),
    b("Enter", &[Code(KeyCode::Enter)], X::HarvestEnded, Command::Open, "open the site of the selected change", "open"),
    b("Enter", &[Code(KeyCode::Enter)], X::History, Command::Open, "open the selected run; in a run, the site of a change", "open"),
    b("Enter", &[Code(KeyCode::Enter)], X::Exposure, Command::Open, "open the site of the selected credential", "open"),
    w(b("v", &[Char('v')], X::Exposure, Command::Verify, "verify every listed credential with a token request (progress above the list)", "verify")),
    b("text", &[AnyChar], X::Filter, Command::InputChar(' '), "filters as you type", ""),
    b("Backspace", &[Code(KeyCode::Backspace)], X::Filter, Command::InputBackspace, "delete a character", ""),
    b("Enter", &[Code(KeyCode::Enter)], X::Filter, Command::InputSubmit, "keep the filter", "keep"),
    b("Esc", &[Code(KeyCode::Esc)], X::Filter, Command::InputCancel, "clear the filter", "clear"),
    b("text", &[AnyChar], X::CommandLine, Command::InputChar(' '), "the command", ""),
    b("Backspace", &[Code(KeyCode::Backspace)], X::CommandLine, Command::InputBackspace, "delete a character", ""),
    b("Enter", &[Code(KeyCode::Enter)], X::CommandLine, Command::InputSubmit, "run the command", "run"),
    b("Esc", &[Code(KeyCode::Esc)], X::CommandLine, Command::InputCancel, "cancel", "cancel"),
    b("y", &[Char('y')], X::Confirm, Command::ConfirmYes, "yes, do it", "yes"),
    b("any other key", &[AnyKey], X::Confirm, Command::ConfirmNo, "cancel", "cancel"),
];

/// Whether a command reads a secret or changes something, so that `--readonly` turns it
/// off: the bindings' `writes` marks are the one list (help, footer and the gate read it).
pub fn writes(command: Command) -> bool {
    BINDINGS.iter().any(|bd| bd.writes && bd.command == command)
}

/// The command a key means in a context: the context's own bindings first, then the
/// global ones (not while typing or confirming). `Ctrl-C` works everywhere.
pub fn resolve(context: Context, key: &KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let order = [
        Some(Context::Always),
        Some(context),
        context.inherits_global().then_some(Context::Global),
    ];
    order.into_iter().flatten().find_map(|ctx| {
        BINDINGS
            .iter()
            .filter(|bd| bd.context == ctx)
            .find(|bd| bd.keys.iter().any(|k| k.matches(key)))
            .map(|bd| match (bd.command, key.code) {
                (Command::InputChar(_), KeyCode::Char(c)) => Command::InputChar(c),
                (command, _) => command,
            })
    })
}

/// The footer hints for a context: its own, then the global ones it does not shadow.
pub fn footer(context: Context) -> Vec<&'static Binding> {
    let mine: Vec<&Binding> = BINDINGS.iter().filter(|bd| bd.context == context).collect();
    let shadowed = |bd: &Binding| {
        mine.iter()
            .any(|m| m.keys.iter().any(|k| bd.keys.contains(k)))
    };
    let global = BINDINGS.iter().filter(|bd| {
        context.inherits_global()
            && bd.context == Context::Global
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
        Context::Global,
        Context::Sites,
        Context::Site,
        Context::Harvest,
        Context::HarvestEnded,
        Context::History,
        Context::Exposure,
        Context::Filter,
        Context::CommandLine,
        Context::Confirm,
    ];
    order
        .into_iter()
        .map(|ctx| {
            let list: Vec<&Binding> = BINDINGS
                .iter()
                .filter(|bd| {
                    bd.context == ctx || (ctx == Context::Global && bd.context == Context::Always)
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
            resolve(Context::Harvest, &key(KeyCode::Esc)),
            Some(Command::CancelHarvest)
        );
        assert_eq!(
            resolve(Context::Sites, &key(KeyCode::Esc)),
            Some(Command::Back)
        );
    }

    #[test]
    fn typing_does_not_trigger_global_keys() {
        assert_eq!(
            resolve(Context::Filter, &key(KeyCode::Char('q'))),
            Some(Command::InputChar('q'))
        );
        assert_eq!(
            resolve(Context::CommandLine, &key(KeyCode::Char('?'))),
            Some(Command::InputChar('?'))
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(resolve(Context::Filter, &ctrl_c), Some(Command::Quit));
        assert_eq!(resolve(Context::Confirm, &ctrl_c), Some(Command::Quit));
    }

    #[test]
    fn confirm_takes_y_and_anything_else_cancels() {
        assert_eq!(
            resolve(Context::Confirm, &key(KeyCode::Char('y'))),
            Some(Command::ConfirmYes)
        );
        for code in [
            KeyCode::Char('n'),
            KeyCode::Esc,
            KeyCode::Enter,
            KeyCode::Char('Y'),
        ] {
            assert_eq!(
                resolve(Context::Confirm, &key(code)),
                Some(Command::ConfirmNo)
            );
        }
    }

    #[test]
    fn shift_letters_and_releases() {
        let shift_s = KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(
            resolve(Context::Sites, &shift_s),
            Some(Command::SortReverse)
        );
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(resolve(Context::Sites, &release), None);
        let alt_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(resolve(Context::Sites, &alt_q), None);
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
                Context::Global,
                Context::Sites,
                Context::Site,
                Context::Harvest,
                Context::HarvestEnded,
                Context::Exposure,
                Context::Filter,
                Context::CommandLine,
                Context::Confirm,
            ] {
                let n = BINDINGS
                    .iter()
                    .filter(|bd| bd.context == ctx)
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
        let hints: Vec<&str> = footer(Context::Sites).iter().map(|b| b.hint).collect();
        assert_eq!(hints[..3], ["filter", "sort", "view"]);
        let harvest: Vec<&str> = footer(Context::Harvest).iter().map(|b| b.label).collect();
        assert!(harvest.contains(&"Esc/x"));
        assert!(
            !harvest.contains(&"Esc"),
            "the global Esc is shadowed in the pane"
        );
        assert!(hints.contains(&"quit"));
        // Once the harvest has ended the pane offers to close, not to cancel.
        let ended: Vec<&str> = footer(Context::HarvestEnded)
            .iter()
            .map(|b| b.hint)
            .collect();
        assert!(ended.contains(&"close") && ended.contains(&"open"));
        assert!(!ended.contains(&"cancel") && !ended.contains(&"hide"));
        let running: Vec<&str> = footer(Context::Harvest).iter().map(|b| b.hint).collect();
        assert!(running.contains(&"cancel") && !running.contains(&"close"));
        assert!(footer(Context::Confirm)
            .iter()
            .all(|b| b.context == Context::Confirm));
        let total: usize = groups().iter().map(|(_, l)| l.len()).sum();
        assert_eq!(total, BINDINGS.len(), "every binding is on the help screen");
    }
}
