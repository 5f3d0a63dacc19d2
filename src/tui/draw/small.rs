//! What a terminal below the minimum size shows instead of the console.

use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::draw::{MIN_HEIGHT, MIN_WIDTH};
use crate::tui::strings;

/// "terminal too small (need 60×12)", wrapped into whatever space there is.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let text = strings::too_small(MIN_WIDTH, MIN_HEIGHT);
    let paragraph = Paragraph::new(text)
        .style(app.theme.warning)
        .wrap(Wrap { trim: true });
    frame.render_widget(paragraph, area);
}
