//! The frame around every screen: title bar with breadcrumbs, status line, message line
//! (typing, or a fading message) and the footer's key hints from the key table.

use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::action::UserCommand;
use crate::tui::app::flash::Level;
use crate::tui::app::{App, InputKind, Screen};
use crate::tui::{format, keys, strings};

use super::harvest;

/// ` simsid › Sites › St Mary's …` on the left, profile and READ-ONLY on the right.
pub fn title(app: &App, frame: &mut Frame, area: Rect) {
    let mut right = vec![
        Span::styled(strings::PROFILE, app.theme.label),
        Span::raw(" "),
        Span::styled(app.profile.clone(), app.theme.accent),
        Span::raw(" "),
    ];
    if app.readonly {
        right.push(Span::styled(
            format!("{} ", strings::READ_ONLY),
            app.theme.warning,
        ));
    }
    let right = Line::from(right);
    let right_width = u16::try_from(right.width()).unwrap_or(area.width);
    let mut left = vec![
        Span::raw(" "),
        Span::styled(strings::APP, app.theme.title),
        Span::styled(" › ", app.theme.dim),
        Span::raw(strings::CRUMB_SITES),
    ];
    for screen in &app.stack {
        let crumb = match screen {
            Screen::Sites => continue,
            Screen::Site(v) if v.name.is_empty() => v.org.to_string(),
            Screen::Site(v) => format::clean(&v.name),
            Screen::Harvest => strings::CRUMB_HARVEST.to_string(),
            Screen::History(_) => strings::CRUMB_HISTORY.to_string(),
            Screen::Run(v) => format!("{} {}", strings::CRUMB_RUN, format::time(&v.run.started_at)),
            Screen::Help(_) => strings::CRUMB_HELP.to_string(),
            Screen::Exposure(_) => strings::CRUMB_EXPOSURE.to_string(),
        };
        left.push(Span::styled(" › ", app.theme.dim));
        left.push(Span::raw(format::truncate(&crumb, 40)));
    }
    let left_area = Rect {
        width: area.width.saturating_sub(right_width + 1),
        ..area
    };
    frame.render_widget(Paragraph::new(Line::from(left)), left_area);
    frame.render_widget(Paragraph::new(right).right_aligned(), area);
}

/// Harvest progress when the pane is hidden, then what the screen lists.
pub fn status(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    if app.reading > 0 {
        let reading = if app.caps.reads_vault {
            strings::READING_VAULT
        } else {
            strings::READING_STORE
        };
        spans.push(Span::styled(reading, app.theme.accent));
        spans.push(Span::styled(" · ", app.theme.dim));
    }
    if let Some(h) = app.harvest().filter(|h| h.running()) {
        if !matches!(app.screen(), Screen::Harvest) {
            spans.push(Span::styled(
                harvest::progress_text(h, app.now),
                app.theme.accent,
            ));
            spans.push(Span::styled(" · ", app.theme.dim));
        }
    }
    match app.screen() {
        Screen::Sites => {
            if let Some(error) = app.sites().filter_error() {
                spans.push(Span::styled(strings::bad_regex(error), app.theme.error));
            } else {
                let list = app.sites();
                let (col, reverse) = list.sort();
                let arrow = if reverse { "▼" } else { "▲" };
                let (listed, of) = list.listed_of();
                spans.push(Span::raw(format!(
                    "{listed} of {of} · view {} · sort {} {arrow}",
                    list.status_filter().label(),
                    col.label(),
                )));
                if !list.filter_text().is_empty() {
                    spans.push(Span::raw(" · filter "));
                    spans.push(Span::styled(
                        list.filter_text().to_string(),
                        app.theme.accent,
                    ));
                }
            }
        }
        Screen::Site(v) if !v.credentials().is_empty() => spans.push(Span::raw(format!(
            "{} {} of {}",
            strings::COL_CLIENT,
            v.cursor.selected() + 1,
            v.credentials().len()
        ))),
        Screen::History(v) => spans.push(Span::raw(format!("{} run(s)", v.runs().len()))),
        Screen::Run(v) => spans.push(Span::raw(format!("{} change(s)", v.changes.items.len()))),
        Screen::Exposure(v) if !v.is_empty() => spans.push(Span::raw(format!(
            "{} {} of {}",
            strings::EXPOSED,
            v.cursor.selected() + 1,
            v.len()
        ))),
        _ => {}
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The line being typed, or the current message.
pub fn message(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(input) = app.input() {
        let prompt = match input.kind {
            InputKind::Filter => "/",
            InputKind::CommandLine => ":",
        };
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(prompt, app.theme.key),
            Span::raw(format::clean(&input.text)),
        ]);
        let width = u16::try_from(line.width()).unwrap_or(area.width);
        frame.render_widget(Paragraph::new(line), area);
        frame.set_cursor_position(Position::new(
            area.x + width.min(area.width.saturating_sub(1)),
            area.y,
        ));
        return;
    }
    if let Some(flash) = app.flash() {
        let (prefix, mut style) = match flash.level {
            Level::Info => ("", app.theme.info),
            Level::Warning => ("! ", app.theme.warning),
            Level::Error => ("✗ ", app.theme.error),
        };
        if flash.fading(app.now) {
            style = style.add_modifier(Modifier::DIM);
        }
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(format!("{prefix}{}", format::clean(&flash.text)), style),
        ]);
        frame.render_widget(Paragraph::new(line), area);
    }
}

/// `key hint` pairs for the current context, from the key table. Keys turned off by
/// `--readonly` are crossed out and marked. When the line is too narrow, the least useful
/// global hints go first ([`keys::FOOTER_DROP_ORDER`]), help and quit stay.
pub fn footer(app: &App, frame: &mut Frame, area: Rect) {
    // What this identity may not do is not offered (a viewer without the operator policy).
    let mut hints: Vec<(&keys::Binding, bool)> = keys::footer(app.key_scope())
        .into_iter()
        .filter(|b| app.secrets_offered() || !reads_secrets(b.command))
        .map(|b| (b, b.scope == keys::KeyScope::Global))
        .collect();
    let viewer = app.caps.refresh == crate::domain::Refresh::Pull;
    let hint = |b: &keys::Binding| -> &'static str {
        if viewer && b.command == UserCommand::Harvest {
            strings::HINT_PULL
        } else {
            b.hint
        }
    };
    let width = |hints: &[(&keys::Binding, bool)]| -> usize {
        hints
            .iter()
            .map(|(b, _)| {
                let off =
                    if app.readonly && b.writes && !(viewer && b.command == UserCommand::Harvest) {
                        strings::FOOTER_OFF.chars().count()
                    } else {
                        0
                    };
                b.label.chars().count() + 1 + hint(b).chars().count() + off + 2
            })
            .sum::<usize>()
            + 1
    };
    while width(&hints) > usize::from(area.width) && hints.len() > 2 {
        let drop = keys::FOOTER_DROP_ORDER
            .iter()
            .find_map(|label| hints.iter().position(|(b, g)| *g && b.label == *label))
            .unwrap_or(hints.len() - 3);
        hints.remove(drop);
    }
    let mut spans = vec![Span::raw(" ")];
    for (b, _) in hints {
        // A viewer's R pulls: not a write, so not off in a read-only console either.
        let off = app.readonly && b.writes && !(viewer && b.command == UserCommand::Harvest);
        let (key_style, hint_style) = if off {
            (app.theme.off, app.theme.off)
        } else {
            (app.theme.key, ratatui::style::Style::new())
        };
        spans.push(Span::styled(b.label, key_style));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(hint(b), hint_style));
        if off {
            spans.push(Span::styled(strings::FOOTER_OFF, app.theme.dim));
        }
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Whether a command reads a school's secret (reveal, copy, verify).
fn reads_secrets(command: UserCommand) -> bool {
    matches!(
        command,
        UserCommand::Reveal | UserCommand::Copy | UserCommand::Verify
    )
}
