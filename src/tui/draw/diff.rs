//! A run's summary and its changes, shared by the harvest pane, the history and a run.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::domain::{RunScope, RunStatus, RunSummary};
use crate::tui::app::cursor::window;
use crate::tui::app::diff::{DiffItem, DiffKind, DiffList};
use crate::tui::app::App;
use crate::tui::{format, strings};

/// The style of a run status.
pub fn status_style(app: &App, status: RunStatus) -> Style {
    match status {
        RunStatus::Complete => app.theme.ok,
        RunStatus::Partial | RunStatus::Cancelled => app.theme.warning,
        RunStatus::Failed => app.theme.error,
    }
}

/// The credentials a run's summary counts: the store's after a full run; after a
/// one-school run (`u`), that school's.
fn credentials_counted(app: &App, run: &RunSummary) -> String {
    if run.scope != RunScope::Site {
        return format!("{} credentials", run.credentials_total);
    }
    let d = &run.diff;
    let org = d
        .sites_added
        .first()
        .or_else(|| d.authorisation_changed.first().map(|a| &a.organisation_id))
        .or_else(|| d.credentials_added.first().map(|c| &c.organisation_id))
        .or_else(|| d.credentials_removed.first().map(|c| &c.organisation_id))
        .or_else(|| d.credentials_rotated.first().map(|c| &c.organisation_id))
        .or_else(|| run.failures.first().map(|f| &f.organisation_id))
        .or_else(|| app.site_under_harvest());
    match org.and_then(|o| app.sites().by_org(o)) {
        Some(row) => format!("{} credentials of this school", row.credential_count),
        None => format!("{} credentials in the store", run.credentials_total),
    }
}

/// Three or four lines: when and how a run went, and how many things changed.
pub fn summary_lines(app: &App, run: &RunSummary) -> Vec<Line<'static>> {
    let t = &app.theme;
    let d = &run.diff;
    let sep = || Span::styled(" · ", t.dim);
    let finished = if run.finished_at.date_naive() == run.started_at.date_naive() {
        run.finished_at.format("%H:%M").to_string()
    } else {
        format::time(&run.finished_at)
    };
    let mut lines = vec![
        Line::from(vec![
            Span::raw(" "),
            Span::styled(run.status.as_str(), status_style(app, run.status)),
            sep(),
            Span::raw(format!("{} → {finished}", format::time(&run.started_at))),
        ]),
        Line::from(vec![
            Span::raw(" "),
            Span::raw(format!(
                "{} sites, {} harvested, {} failed",
                run.sites_total, run.sites_harvested, run.sites_failed
            )),
            sep(),
            Span::raw(credentials_counted(app, run)),
        ]),
        Line::from(vec![
            Span::raw(" "),
            Span::styled("sites", t.label),
            Span::raw(format!(
                " +{}/−{}",
                d.sites_added.len(),
                d.sites_removed.len()
            )),
            sep(),
            Span::styled("authorisation changes", t.label),
            Span::raw(format!(" {}", d.authorisation_changed.len())),
            sep(),
            Span::styled("credentials", t.label),
            Span::raw(format!(
                " +{}/−{}, rotated {}",
                d.credentials_added.len(),
                d.credentials_removed.len(),
                d.credentials_rotated.len()
            )),
        ]),
    ];
    if let Some(error) = &run.error {
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(format::clean(&strings::failed("run", error)), t.error),
        ]));
    }
    lines
}

/// The name of a site if it is cached or was seen this session (a removed site), made safe
/// for the terminal; else its organisation id.
pub fn site_name(app: &App, org: &crate::domain::OrgId) -> String {
    app.known_name(org)
        .map_or_else(|| org.to_string(), format::clean)
}

fn kind_text(kind: &DiffKind) -> (String, Option<&str>) {
    let auth = |v: &Option<u8>| v.map_or_else(|| strings::UNKNOWN.to_string(), |v| v.to_string());
    match kind {
        DiffKind::SiteAdded => (strings::DIFF_SITE_ADDED.to_string(), None),
        DiffKind::SiteRemoved => (strings::DIFF_SITE_REMOVED.to_string(), None),
        DiffKind::Authorisation { from, to } => (
            format!("{} {}→{}", strings::DIFF_AUTH, auth(from), auth(to)),
            None,
        ),
        DiffKind::CredentialAdded(c) => (strings::DIFF_CRED_ADDED.to_string(), Some(c)),
        DiffKind::CredentialRemoved(c) => (strings::DIFF_CRED_REMOVED.to_string(), Some(c)),
        DiffKind::CredentialRotated(c) => (strings::DIFF_CRED_ROTATED.to_string(), Some(c)),
    }
}

fn item_row(app: &App, item: &DiffItem) -> Row<'static> {
    let (kind, client) = kind_text(&item.kind);
    let style = match item.kind {
        DiffKind::SiteRemoved | DiffKind::CredentialRemoved(_) => app.theme.warning,
        DiffKind::CredentialRotated(_) => app.theme.accent,
        _ => Style::new(),
    };
    Row::new(vec![
        Cell::from(kind).style(style),
        Cell::from(site_name(app, &item.org)),
        Cell::from(format::clean(client.unwrap_or(""))).style(app.theme.dim),
    ])
}

/// The changes as a table; with `selectable`, the cursor's row is highlighted.
pub fn draw_changes(
    app: &App,
    changes: &DiffList,
    selectable: bool,
    frame: &mut Frame,
    area: Rect,
) {
    if changes.items.is_empty() {
        let p = Paragraph::new(Line::from(vec![
            Span::raw(" "),
            Span::styled(strings::NO_CHANGES, app.theme.dim),
        ]));
        frame.render_widget(p, area);
        return;
    }
    let height = usize::from(area.height.saturating_sub(1));
    app.drew_rows(height);
    let selected = changes.cursor.selected();
    let offset = if selectable {
        window(
            selected,
            changes.cursor.offset(),
            changes.items.len(),
            height,
        )
    } else {
        0
    };
    let end = (offset + height).min(changes.items.len());
    let rows: Vec<Row> = changes.items[offset..end]
        .iter()
        .map(|i| item_row(app, i))
        .collect();
    let header = Row::new(vec![
        Cell::from(strings::COL_CHANGE),
        Cell::from(strings::COL_SITE),
        Cell::from(strings::COL_CLIENT),
    ])
    .style(app.theme.header);
    let widths = super::fit::columns(
        area.width,
        1,
        1,
        &[
            super::fit::Col::fixed(19, 10, 1),
            super::fit::Col::flex(12),
            super::fit::Col::fixed(20, 8, 0),
        ],
    );
    let mut table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .highlight_symbol("▌")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default();
    if selectable {
        table = table.row_highlight_style(app.theme.selected);
        state = state.with_selected(Some(selected - offset));
    }
    frame.render_stateful_widget(table, area, &mut state);
}
