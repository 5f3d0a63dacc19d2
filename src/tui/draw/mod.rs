//! Drawing: `draw(&App, &mut Frame)` only reads the state. One module per screen, plus the
//! chrome around them (title bar, status line, message line, footer hints).

mod chrome;
mod confirm;
mod diff;
mod exposure;
mod fit;
mod harvest;
mod help;
mod history;
mod site;
mod sites;
mod small;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::Frame;

use crate::tui::app::{App, Screen};

/// Below this width the console shows "terminal too small".
pub const MIN_WIDTH: u16 = 60;
/// Below this height the console shows "terminal too small".
pub const MIN_HEIGHT: u16 = 12;

/// Draws the whole console for the current state.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        small::draw(app, frame, area);
        scrub(frame.buffer_mut());
        return;
    }
    let mut body = area;
    let title = fit::take_top(&mut body, 1);
    let footer = fit::take_bottom(&mut body, 1);
    let message = fit::take_bottom(&mut body, 1);
    let status = fit::take_bottom(&mut body, 1);
    chrome::title(app, frame, title);
    match app.screen() {
        Screen::Sites => sites::draw(app, frame, body),
        Screen::Site(screen) => site::draw(app, screen, frame, body),
        Screen::Harvest => harvest::draw(app, frame, body),
        Screen::History(screen) => history::draw(app, screen, frame, body),
        Screen::Run(screen) => history::draw_run(app, screen, frame, body),
        Screen::Exposure(screen) => exposure::draw(app, screen, frame, body),
        Screen::Help(cursor) => help::draw(app, cursor, frame, body),
    }
    chrome::status(app, frame, status);
    chrome::message(app, frame, message);
    chrome::footer(app, frame, footer);
    if let Some(confirm) = app.confirm() {
        confirm::draw(app, confirm, frame, area);
    }
    scrub(frame.buffer_mut());
}

/// The last line of defence against terminal injection: every screen sanitises remote text
/// ([`crate::tui::format::clean`]), and any cell that still holds a control or bidi character
/// (a screen that forgot) is drawn as `�` instead of reaching the terminal.
fn scrub(buffer: &mut ratatui::buffer::Buffer) {
    for cell in buffer.content.iter_mut() {
        if cell.symbol().chars().any(crate::sanitize::is_unsafe_char) {
            cell.set_symbol("\u{fffd}");
        }
    }
}

/// `label value` as two spans: a dim label and the value in `style`.
fn field<'a>(app: &App, label: &'a str, value: String, style: Style) -> [Span<'a>; 3] {
    [
        Span::styled(label, app.theme.label),
        Span::raw(" "),
        Span::styled(value, style),
    ]
}

/// One line of text in `style`, indented by a space.
fn note(frame: &mut Frame, area: Rect, text: &str, style: Style) {
    let line =
        ratatui::text::Line::from(vec![Span::raw(" "), Span::styled(text.to_string(), style)]);
    frame.render_widget(ratatui::widgets::Paragraph::new(line), area);
}

/// A rectangle of at most `width`×`height` centred in `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::*;
    use ratatui::buffer::Buffer;

    #[test]
    fn scrub_replaces_any_control_left_in_a_cell() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 4, 1));
        buffer[(0, 0)].set_symbol("\u{1b}");
        buffer[(1, 0)].set_symbol("a\u{202e}");
        buffer[(2, 0)].set_symbol("é");
        scrub(&mut buffer);
        assert_eq!(buffer[(0, 0)].symbol(), "\u{fffd}");
        assert_eq!(buffer[(1, 0)].symbol(), "\u{fffd}");
        assert_eq!(buffer[(2, 0)].symbol(), "é");
    }
}
