//! The history screen (past runs; the selected run's diff below) and one run's changes.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::tui::app::cursor::window;
use crate::tui::app::diff::DiffList;
use crate::tui::app::history::{HistoryScreen, RunScreen};
use crate::tui::app::site::Load;
use crate::tui::app::App;
use crate::tui::{format, strings};

use super::fit::{self, Col};
use super::{diff, note};

/// Runs on top, the selected run's summary and changes below.
pub fn draw(app: &App, screen: &HistoryScreen, frame: &mut Frame, area: Rect) {
    let runs = match &screen.runs {
        Load::Ready(runs) if !runs.is_empty() => runs,
        Load::Ready(_) | Load::Missing => {
            return note(frame, area, strings::NO_RUNS, app.theme.dim)
        }
        Load::Loading => return note(frame, area, strings::LOADING, app.theme.dim),
        Load::Failed(e) => {
            return note(
                frame,
                area,
                &format::clean(&strings::failed("history", e)),
                app.theme.error,
            )
        }
    };
    let table_h = u16::try_from(runs.len() + 1)
        .unwrap_or(u16::MAX)
        .min(area.height / 2)
        .max(2);
    let summary_h = screen
        .selected()
        .map_or(0, |run| diff::summary_lines(app, run).len());
    let summary_h = u16::try_from(summary_h).unwrap_or(u16::MAX);
    let mut changes = area;
    let top = fit::take_top(&mut changes, table_h);
    fit::take_top(&mut changes, 1);
    let summary = fit::take_top(&mut changes, summary_h);
    fit::take_top(&mut changes, 1);
    let height = usize::from(top.height.saturating_sub(1));
    app.drew_rows(height);
    let selected = screen.cursor.selected();
    let offset = window(selected, screen.cursor.offset(), runs.len(), height);
    let end = (offset + height).min(runs.len());
    let rows: Vec<Row> = runs[offset..end]
        .iter()
        .map(|r| {
            let changes = crate::tui::app::diff::items(&r.diff).len();
            Row::new(vec![
                Cell::from(format::time(&r.started_at)),
                Cell::from(r.status.as_str()).style(diff::status_style(app, r.status)),
                Cell::from(format!("{:>6}", r.sites_total)),
                Cell::from(format!("{:>6}", r.sites_harvested)),
                Cell::from(format!("{:>6}", r.sites_failed)),
                Cell::from(format!("{:>6}", r.credentials_total)),
                Cell::from(format!("{changes:>7}")),
            ])
        })
        .collect();
    let header = Row::new(vec![
        strings::COL_STARTED,
        strings::COL_STATUS,
        strings::COL_SITES,
        strings::COL_HARVESTED,
        strings::COL_FAILED,
        strings::COL_CREDS,
        strings::COL_CHANGES,
    ])
    .style(app.theme.header);
    let widths = fit::columns(
        top.width,
        2,
        1,
        &[
            Col::fixed(16, 10, 6),
            Col::fixed(8, 4, 5),
            Col::fixed(6, 4, 0),
            Col::fixed(6, 4, 1),
            Col::fixed(6, 4, 2),
            Col::fixed(6, 4, 3),
            Col::fixed(7, 4, 4),
        ],
    );
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(2)
        .row_highlight_style(app.theme.selected)
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(selected - offset));
    frame.render_stateful_widget(table, top, &mut state);
    if let Some(run) = screen.selected() {
        frame.render_widget(Paragraph::new(diff::summary_lines(app, run)), summary);
        diff::draw_changes(app, &DiffList::new(&run.diff), false, frame, changes);
    }
}

/// One run opened from the history: its summary and selectable changes.
pub fn draw_run(app: &App, screen: &RunScreen, frame: &mut Frame, area: Rect) {
    let mut lines = diff::summary_lines(app, &screen.run);
    for f in screen.run.failures.iter().take(3) {
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(format!("{} ", strings::FAILED), app.theme.error),
            Span::raw(diff::site_name(app, &f.organisation_id)),
            Span::styled(format!(" — {}", format::clean(&f.error)), app.theme.dim),
        ]));
    }
    let n = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(1);
    let mut rest = area;
    let top = fit::take_top(&mut rest, n);
    frame.render_widget(Paragraph::new(lines), top);
    diff::draw_changes(app, &screen.changes, true, frame, rest);
}
