//! The help screen: every key, grouped, generated from the key table.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::cursor::Cursor;
use crate::tui::app::App;
use crate::tui::{keys, strings};

/// The help text: a heading per group and a line per binding.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut out = Vec::new();
    for (title, bindings) in keys::groups() {
        out.push(Line::from(Span::styled(format!(" {title}"), t.header)));
        for b in bindings {
            let off = app.readonly && b.writes;
            let key_style = if off { t.off } else { t.key };
            let mut spans = vec![
                Span::raw("   "),
                Span::styled(format!("{:<14}", b.label), key_style),
                Span::raw(b.description),
            ];
            if off {
                spans.push(Span::raw(" "));
                spans.push(Span::styled(strings::HELP_UNAVAILABLE, t.warning));
            }
            out.push(Line::from(spans));
        }
        out.push(Line::raw(""));
    }
    out
}

/// The help text, scrolled so the cursor's line is in view (↑/↓, PgUp/PgDn, g/G).
pub fn draw(app: &App, cursor: &Cursor, frame: &mut Frame, area: Rect) {
    let lines = lines(app);
    let max = lines.len().saturating_sub(usize::from(area.height));
    let scroll = u16::try_from(cursor.selected().min(max)).unwrap_or(0);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
}
