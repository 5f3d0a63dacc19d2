//! The help screen: every key, grouped, generated from the key table.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::cursor::Cursor;
use crate::tui::app::App;
use crate::tui::help::{self, HelpLine, HELP_INDENT};
use crate::tui::strings;

/// The help text for a width, styled.
pub fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    help::help_lines(width, app.readonly)
        .into_iter()
        .map(|l| match l {
            HelpLine::Heading(title) => Line::from(Span::styled(format!(" {title}"), t.header)),
            HelpLine::Blank => Line::raw(""),
            HelpLine::Entry { label, text, off } => {
                let key_style = if off { t.off } else { t.key };
                let label = format!("   {:<w$}", label.unwrap_or(""), w = HELP_INDENT - 3);
                let mut spans = vec![Span::styled(label, key_style)];
                match text.strip_suffix(strings::HELP_UNAVAILABLE) {
                    Some(rest) if off => {
                        spans.push(Span::raw(rest.to_string()));
                        spans.push(Span::styled(strings::HELP_UNAVAILABLE, t.warning));
                    }
                    _ => spans.push(Span::raw(text)),
                }
                Line::from(spans)
            }
        })
        .collect()
}

/// What the last row says while more of the help is below it.
pub const MORE_BELOW: &str = "   ↓ more below (↓, PgDn, G)";

/// The help text scrolled by the cursor (↑/↓, PgUp/PgDn, g/G move the view); while more
/// is below, the last row says so.
pub fn draw(app: &App, cursor: &Cursor, frame: &mut Frame, area: Rect) {
    let lines = lines(app, area.width);
    app.drew_rows(usize::from(area.height));
    let max = lines.len().saturating_sub(usize::from(area.height));
    let at = cursor.selected().min(max);
    let scroll = u16::try_from(at).unwrap_or(0);
    let mut text = area;
    if at < max && area.height > 1 {
        text.height -= 1;
        let last = Rect {
            y: area.y + text.height,
            height: 1,
            ..area
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(MORE_BELOW, app.theme.dim))),
            last,
        );
    }
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), text);
}
