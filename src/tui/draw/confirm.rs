//! The confirmation dialog over the current screen: `y` goes ahead, any other key cancels.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::{App, Confirm};
use crate::tui::{format, strings};

use super::centered;

/// The dialog, centred.
pub fn draw(app: &App, confirm: &Confirm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let text = match confirm {
        Confirm::Reveal {
            client_id, site, ..
        } => format::clean(&strings::confirm_reveal(client_id, site)),
        Confirm::Harvest => strings::CONFIRM_HARVEST.to_string(),
    };
    let popup = centered(area, 64, 8);
    let block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", strings::CONFIRM_TITLE),
            t.warning,
        ))
        .border_style(t.warning);
    let lines = vec![
        Line::raw(""),
        Line::raw(text),
        Line::raw(""),
        Line::from(Span::styled(strings::CONFIRM_KEYS, t.key)),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block.padding(ratatui::widgets::Padding::horizontal(1)))
            .wrap(Wrap { trim: true }),
        popup,
    );
}
