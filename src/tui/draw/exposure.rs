//! The exposure screen: every secret revealed or copied and not rotated since, grouped by the
//! user it was shown to; the verify of the listed credentials (`v`) above the table.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::domain::CheckOutcome;
use crate::sanitize::for_terminal;
use crate::tui::app::cursor::window;
use crate::tui::app::exposure::ExposureScreen;
use crate::tui::app::site::Load;
use crate::tui::app::App;
use crate::tui::{format, strings};

use super::fit::{self, Col};
use super::note;

/// From this width the table also shows the fingerprint at the last exposure.
const WIDE: u16 = 100;

/// Summary and verify lines, a blank, then the table.
pub fn draw(app: &App, screen: &ExposureScreen, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let people = match &screen.people {
        Load::Ready(people) => people,
        Load::Loading => return note(frame, area, strings::LOADING, t.dim),
        Load::Missing => return note(frame, area, strings::NO_EXPOSURES, t.dim),
        Load::Failed(e) => return note(frame, area, &strings::failed("exposure", e), t.error),
    };
    if people.is_empty() {
        return note(frame, area, strings::NO_EXPOSURES, t.ok);
    }
    let mut table = area;
    let head = fit::take_top(&mut table, 2);
    fit::take_top(&mut table, 1);
    let mut lines = vec![Line::from(vec![
        Span::raw(" "),
        Span::raw(strings::exposure_summary(
            screen.credentials().len(),
            people.len(),
        )),
    ])];
    if let Some(v) = &screen.verify {
        let style = match &v.results {
            None => t.accent,
            Some(Err(_)) => t.error,
            Some(Ok(_)) if v.tally.refused + v.tally.errors > 0 => t.warning,
            Some(Ok(_)) => t.ok,
        };
        let text = match &v.results {
            Some(Err(e)) => strings::failed("verify", e),
            _ => strings::exposure_verify(
                v.tally.done(),
                v.tally.total,
                v.tally.ok,
                v.tally.refused,
                v.tally.errors,
            ),
        };
        lines.push(Line::from(vec![Span::raw(" "), Span::styled(text, style)]));
    }
    frame.render_widget(Paragraph::new(lines), head);

    let wide = table.width >= WIDE;
    let rows = screen.rows();
    let height = usize::from(table.height.saturating_sub(1));
    app.drew_rows(height);
    let selected = screen.cursor.selected();
    let offset = window(selected, screen.cursor.offset(), rows.len(), height);
    let end = (offset + height).min(rows.len());
    let body: Vec<Row> = rows[offset..end]
        .iter()
        .map(|(person, x, first)| {
            let school = x.name.as_deref().map_or_else(
                || x.organisation_id.to_string(),
                |n| for_terminal(n).into_owned(),
            );
            let actions: Vec<&str> = x.actions.iter().map(|a| a.as_str()).collect();
            let verify = match screen.outcome(&x.organisation_id, &x.client_id) {
                None if screen.verify.as_ref().is_some_and(|v| v.running()) => {
                    Cell::from(strings::VERIFY_PENDING).style(t.dim)
                }
                None => Cell::from(strings::NONE),
                Some(CheckOutcome::Ok) => Cell::from(strings::VERIFY_OK).style(t.ok),
                Some(CheckOutcome::Refused(_)) => {
                    Cell::from(strings::VERIFY_REFUSED).style(t.error)
                }
                Some(CheckOutcome::Error(_)) => Cell::from(strings::VERIFY_ERROR).style(t.warning),
            };
            let mut cells = vec![
                Cell::from(if *first {
                    for_terminal(person).into_owned()
                } else {
                    String::new()
                })
                .style(t.accent),
                Cell::from(school),
                Cell::from(for_terminal(&x.client_id).into_owned()),
            ];
            if wide {
                cells.push(
                    Cell::from(
                        x.fingerprint
                            .as_ref()
                            .map_or(strings::NONE.to_string(), ToString::to_string),
                    )
                    .style(t.dim),
                );
            }
            cells.extend([
                Cell::from(format::time(&x.last_exposed)),
                Cell::from(actions.join(",")),
                verify,
            ]);
            Row::new(cells)
        })
        .collect();
    let mut columns = vec![
        (strings::COL_USER, Col::fixed(10, 6, 5)),
        (strings::COL_SCHOOL, Col::flex(12)),
        (strings::COL_CLIENT, Col::flex(10)),
    ];
    if wide {
        columns.push((strings::FINGERPRINT, Col::fixed(16, 6, 0)));
    }
    columns.extend([
        (strings::COL_LAST_EXPOSED, Col::fixed(16, 10, 3)),
        (strings::COL_ACTIONS, Col::fixed(11, 4, 1)),
        (strings::COL_VERIFY, Col::fixed(7, 3, 4)),
    ]);
    let (headers, cols): (Vec<&str>, Vec<Col>) = columns.into_iter().unzip();
    let header = Row::new(headers).style(t.header);
    let widths = fit::columns(table.width, 1, 1, &cols);
    let table_widget = Table::new(body, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(selected.saturating_sub(offset)));
    frame.render_stateful_widget(table_widget, table, &mut state);
}
