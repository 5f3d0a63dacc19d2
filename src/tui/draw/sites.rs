//! The sites screen: the store's overview and the sites table. Only the rows in the
//! visible window are turned into widgets, however many sites there are.

use ratatui::layout::{Constraint, Rect};
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
    // The store's path gives way (its start elided) so that where the secrets live fits.
    let secrets_w = 3
        + strings::SECRETS.chars().count()
        + 1
        + crate::sanitize::for_terminal(&app.caps.header)
            .chars()
            .count();
    let path_room =
        usize::from(area.width).saturating_sub(2 + strings::STORE.chars().count() + 1 + secrets_w);
    let mut line2 = vec![Span::raw(" ")];
    line2.extend(field(
        app,
        strings::STORE,
        elide_start(&app.store_path, path_room),
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
            let counts = format!(
                " ({} harvested, {} failed)",
                run.sites_harvested, run.sites_failed
            );
            // A viewer's line names the run; the counts give way when both do not fit.
            let run_w = if app.caps.refresh == crate::domain::Refresh::Pull {
                22
            } else {
                0
            };
            let used: usize = line3.iter().map(|s| s.content.chars().count()).sum();
            if used + counts.chars().count() + run_w <= usize::from(area.width) {
                line3.push(Span::styled(counts, t.dim));
            }
            if app.caps.refresh == crate::domain::Refresh::Pull {
                // A viewer shows the harvest host's run: say which.
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

/// `path` in at most `room` characters, its start elided (`…/simsid/store.sqlite3`).
fn elide_start(path: &str, room: usize) -> String {
    let n = path.chars().count();
    if n <= room {
        return path.to_string();
    }
    let keep = room.saturating_sub(1).max(12).min(n);
    let tail: String = path.chars().skip(n - keep).collect();
    format!("…{tail}")
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
    let (sort, reverse) = list.sort();
    // The name gets the room first: ids give way (the organisation id shortened, then
    // left out: the site's screen shows it) before a name is cut.
    let cols = columns(wide, list.longest_name(), sort, list.codes_present());
    let laid: Vec<(&str, Col)> = cols.iter().map(|(_, l, c)| (*l, *c)).collect();
    let fitted = fit::labelled(area.width, 1, 1, &laid);
    let shown: Vec<(SortColumn, &str, u16)> = cols
        .iter()
        .zip(&fitted)
        .filter_map(|((k, l, _), w)| w.map(|w| (*k, *l, w)))
        .collect();
    let rows: Vec<Row> = visible[offset..end]
        .iter()
        .filter_map(|&i| list.rows().get(i))
        .map(|r| row(app, r, wide, &shown))
        .collect();
    let header = Row::new(
        shown
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
    let widths: Vec<Constraint> = shown
        .iter()
        .map(|(_, _, w)| Constraint::Length(*w))
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(app.theme.selected)
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(selected - offset));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The narrowest a name column is given, and the most it asks for (at 80 and 120 columns).
const NAME_MIN: u16 = 14;
const NAME_MAX_NARROW: u16 = 40;
const NAME_MAX_WIDE: u16 = 48;

/// The columns: which sort column each is, its header and its width (the name asks for
/// the longest name's room, within bounds). A sorted column's header carries an arrow.
fn columns(
    wide: bool,
    longest_name: usize,
    sort: SortColumn,
    (any_dfe, any_deni): (bool, bool),
) -> Vec<(SortColumn, &'static str, Col)> {
    let (org_label, org, time_label, time_w) = if wide {
        (
            strings::COL_ORG,
            Col::fixed(36, 15, 0),
            strings::COL_CHANGED,
            16,
        )
    } else {
        (
            strings::COL_ORG_SHORT,
            Col::fixed(9, 9, 0),
            strings::COL_CHANGED_SHORT,
            10,
        )
    };
    let cap = if wide { NAME_MAX_WIDE } else { NAME_MAX_NARROW };
    let name = u16::try_from(longest_name)
        .unwrap_or(cap)
        .clamp(NAME_MIN, cap);
    let mut cols = vec![
        (SortColumn::Name, strings::COL_NAME, Col::flex(name)),
        (SortColumn::Dfe, strings::COL_DFE, Col::fixed(8, 8, 3)),
        (SortColumn::Deni, strings::COL_DENI, Col::fixed(8, 8, 2)),
        (SortColumn::Organisation, org_label, org),
        (
            SortColumn::Authorised,
            strings::COL_AUTH,
            Col::fixed(4, 4, 5),
        ),
        (
            SortColumn::Credentials,
            strings::COL_CREDS,
            Col::fixed(5, 5, 4),
        ),
        (
            SortColumn::LastChanged,
            time_label,
            Col::fixed(time_w, time_w, 1),
        ),
        (SortColumn::Change, strings::COL_BADGE, Col::fixed(5, 5, 6)),
    ];
    // A code no school has is not a column (the sorted column always is).
    cols.retain(|(k, _, _)| match k {
        SortColumn::Dfe => any_dfe || sort == *k,
        SortColumn::Deni => any_deni || sort == *k,
        _ => true,
    });
    // The sorted column stays (with room for its arrow), whatever else gives way.
    for (k, label, col) in &mut cols {
        if *k == sort {
            col.rank = col.rank.max(u8::MAX - 1);
            let with_arrow = u16::try_from(label.chars().count() + 2).unwrap_or(u16::MAX);
            col.min = col.min.max(with_arrow);
            col.pref = col.pref.max(with_arrow);
        }
    }
    cols
}

fn row<'a>(app: &App, r: &'a SiteRow, wide: bool, shown: &[(SortColumn, &str, u16)]) -> Row<'a> {
    let t = &app.theme;
    let org_w = shown
        .iter()
        .find(|(k, _, _)| *k == SortColumn::Organisation)
        .map_or(0, |(_, _, w)| usize::from(*w));
    let org = format::truncate(r.site.org_id.as_str(), org_w);
    // The onboarding queue shows how long each unauthorised site has waited for approval.
    let changed = match (&r.waiting_since, &r.last_changed, wide) {
        (Some(since), _, _)
            if app.sites().status_filter() == crate::filter::StatusFilter::Unauthorised =>
        {
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
    let mut name = Some(name);
    let mut org = Some(org);
    let mut changed = Some(changed);
    Row::new(
        shown
            .iter()
            .map(|(k, _, _)| match k {
                SortColumn::Name => Cell::from(name.take().unwrap_or_default()).style(if r.stale {
                    t.warning
                } else {
                    ratatui::style::Style::new()
                }),
                SortColumn::Dfe => Cell::from(format::opt(r.site.dfe_code.as_deref())),
                SortColumn::Deni => Cell::from(format::opt(r.site.deni_number.as_deref())),
                SortColumn::Organisation => Cell::from(org.take().unwrap_or_default()).style(t.dim),
                SortColumn::Authorised => {
                    Cell::from(format::authorised(r.site.authorised)).style(auth_style)
                }
                SortColumn::Credentials => Cell::from(format!("{:>5}", r.credential_count)),
                SortColumn::LastChanged => Cell::from(changed.take().unwrap_or_default()),
                SortColumn::Change => Cell::from(format::badge(r.badge)).style(t.accent),
            })
            .collect::<Vec<_>>(),
    )
}
