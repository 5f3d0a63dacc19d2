//! The sites screen: the store's overview and the sites table. Only the rows in the
//! visible window are turned into widgets, however many sites there are.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::domain::SiteRow;
use crate::tui::app::cursor::window;
use crate::tui::app::sites::SortColumn;
use crate::tui::app::App;
use crate::tui::{format, strings};

use super::field;
use super::fit::{self, Col};

/// Widths from which the table shows full organisation ids and times.
const WIDE: u16 = 120;

/// Header lines and the table.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let mut table = area;
    let info = fit::take_top(&mut table, 4);
    draw_info(app, frame, info);
    draw_table(app, frame, table);
}

fn draw_info(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let counts = app.sites().counts();
    let mut line1 = vec![Span::raw(" ")];
    line1.extend(field(
        app,
        strings::APPLICATION,
        app.application_id.clone(),
        ratatui::style::Style::new(),
    ));
    let mut line2 = vec![Span::raw(" ")];
    line2.extend(field(
        app,
        strings::STORE,
        app.store_path.clone(),
        ratatui::style::Style::new(),
    ));
    line2.push(Span::styled(" · ", t.dim));
    line2.extend(field(
        app,
        strings::SECRETS,
        crate::sanitize::for_terminal(&app.caps.header).into_owned(),
        ratatui::style::Style::new(),
    ));
    let mut line3 = vec![
        Span::raw(" "),
        Span::styled(strings::LAST_HARVEST, t.label),
        Span::raw(" "),
    ];
    match &app.last_run {
        Some(run) => {
            let status_style = match run.status {
                crate::domain::RunStatus::Complete => t.ok,
                crate::domain::RunStatus::Partial | crate::domain::RunStatus::Cancelled => {
                    t.warning
                }
                crate::domain::RunStatus::Failed => t.error,
            };
            line3.push(Span::raw(format::time(&run.finished_at)));
            line3.push(Span::raw(" "));
            line3.push(Span::styled(run.status.as_str(), status_style));
            line3.push(Span::styled(
                format!(
                    " ({} harvested, {} failed)",
                    run.sites_harvested, run.sites_failed
                ),
                t.dim,
            ));
            if app.caps.refresh == crate::domain::Refresh::Pull {
                // A pulled run is the harvest host's: say which.
                line3.push(Span::styled(
                    format!(
                        " · view of run {}",
                        strings::short_run(&run.run_id.to_string())
                    ),
                    t.dim,
                ));
            }
        }
        None => line3.push(Span::styled(strings::NEVER_HARVESTED, t.dim)),
    }
    let sep = || Span::styled(" · ", t.dim);
    let mut line4 = vec![
        Span::raw(" "),
        Span::styled(counts.sites.to_string(), t.accent),
        Span::raw(" sites"),
        sep(),
        Span::styled(counts.authorised.to_string(), t.ok),
        Span::raw(" authorised"),
        sep(),
        Span::styled(counts.unauthorised.to_string(), t.warning),
        Span::raw(" not authorised"),
    ];
    if counts.unknown > 0 {
        line4.extend([sep(), Span::raw(format!("{} unknown", counts.unknown))]);
    }
    line4.extend([
        sep(),
        Span::styled(counts.stale.to_string(), t.warning),
        Span::raw(" stale"),
        sep(),
        Span::styled(counts.changed.to_string(), t.accent),
        Span::raw(" changed"),
    ]);
    let lines = vec![
        Line::from(line1),
        Line::from(line2),
        Line::from(line3),
        Line::from(line4),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_table(app: &App, frame: &mut Frame, area: Rect) {
    let list = app.sites();
    let visible = list.visible();
    if visible.is_empty() {
        let text = if list.rows().is_empty() {
            strings::NO_SITES
        } else {
            strings::NO_MATCH
        };
        let p = Paragraph::new(Line::from(vec![
            Span::raw(" "),
            Span::styled(text, app.theme.dim),
        ]));
        frame.render_widget(
            p,
            Rect {
                y: area.y + 1,
                height: area.height.saturating_sub(1),
                ..area
            },
        );
        return;
    }
    let wide = area.width >= WIDE;
    let height = usize::from(area.height.saturating_sub(1));
    app.drew_rows(height);
    let selected = list.cursor.selected();
    let offset = window(selected, list.cursor.offset(), visible.len(), height);
    let end = (offset + height).min(visible.len());
    let rows: Vec<Row> = visible[offset..end]
        .iter()
        .filter_map(|&i| list.rows().get(i))
        .map(|r| row(app, r, wide))
        .collect();
    let (sort, reverse) = list.sort();
    let header = Row::new(
        columns(wide)
            .iter()
            .map(|(col, label, _)| {
                let mut text = (*label).to_string();
                if *col == sort {
                    text.push_str(if reverse { " ▼" } else { " ▲" });
                }
                Cell::from(text)
            })
            .collect::<Vec<_>>(),
    )
    .style(app.theme.header);
    let cols: Vec<Col> = columns(wide).iter().map(|(_, _, c)| *c).collect();
    let widths = fit::columns(area.width, 1, 1, &cols);
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(app.theme.selected)
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(selected - offset));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The columns: which sort column each is, its header and its width.
fn columns(wide: bool) -> [(SortColumn, &'static str, Col); 8] {
    let (org_label, org_w, time_label, time_w) = if wide {
        (strings::COL_ORG, 36, strings::COL_CHANGED, 16)
    } else {
        (strings::COL_ORG_SHORT, 9, strings::COL_CHANGED_SHORT, 10)
    };
    [
        (SortColumn::Name, strings::COL_NAME, Col::flex(14)),
        (SortColumn::Dfe, strings::COL_DFE, Col::fixed(8, 5, 3)),
        (SortColumn::Deni, strings::COL_DENI, Col::fixed(8, 5, 2)),
        (SortColumn::Organisation, org_label, Col::fixed(org_w, 4, 0)),
        (
            SortColumn::Authorised,
            strings::COL_AUTH,
            Col::fixed(4, 3, 5),
        ),
        (
            SortColumn::Credentials,
            strings::COL_CREDS,
            Col::fixed(5, 3, 4),
        ),
        (
            SortColumn::LastChanged,
            time_label,
            Col::fixed(time_w, 5, 1),
        ),
        (SortColumn::Change, strings::COL_BADGE, Col::fixed(5, 3, 6)),
    ]
}

fn row<'a>(app: &App, r: &'a SiteRow, wide: bool) -> Row<'a> {
    let t = &app.theme;
    let org = if wide {
        r.site.org_id.to_string()
    } else {
        format::truncate(r.site.org_id.as_str(), 9)
    };
    // The onboarding queue shows how long each unauthorised site has waited for approval.
    let changed = match (&r.waiting_since, &r.last_changed, wide) {
        (Some(since), _, _) if app.sites().view() == crate::filter::StatusView::Unauthorised => {
            strings::waiting(&crate::words::age(chrono::Utc::now() - *since))
        }
        (_, Some(at), true) => format::time(at),
        (_, Some(at), false) => format::date(at),
        (_, None, _) => strings::NONE.to_string(),
    };
    let auth_style = match r.site.authorised {
        Some(true) => t.ok,
        Some(false) => t.warning,
        None => t.dim,
    };
    let mut name = format::clean(&r.site.name);
    if r.stale {
        name.push_str(" (stale)");
    }
    Row::new(vec![
        Cell::from(name).style(if r.stale {
            t.warning
        } else {
            ratatui::style::Style::new()
        }),
        Cell::from(format::opt(r.site.dfe_code.as_deref())),
        Cell::from(format::opt(r.site.deni_number.as_deref())),
        Cell::from(org).style(t.dim),
        Cell::from(format::authorised(r.site.authorised)).style(auth_style),
        Cell::from(format!("{:>5}", r.credential_count)),
        Cell::from(changed),
        Cell::from(format::badge(r.badge)).style(t.accent),
    ])
}
