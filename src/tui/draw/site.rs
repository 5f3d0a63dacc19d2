//! The site screen: the site's details, its credentials (secrets masked, fingerprint
//! beside) and a panel for the selected credential, where a revealed secret is shown.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use secrecy::ExposeSecret;

use crate::domain::{CredentialRow, SiteDetail};
use crate::tui::app::cursor::window;
use crate::tui::app::site::{Load, SiteScreen, VerifyState};
use crate::tui::app::App;
use crate::tui::{format, strings};

use super::fit::{self, Col};
use super::{field, note};

/// From this width the table also shows first seen and last error.
const WIDE: u16 = 120;
/// Width of the secret column: mask, a space and a 16-digit fingerprint.
const SECRET_W: u16 = 25;

/// Details, credentials table, selected credential.
pub fn draw(app: &App, screen: &SiteScreen, frame: &mut Frame, area: Rect) {
    let detail = match &screen.detail {
        Load::Ready(d) => d,
        Load::Loading => return note(frame, area, strings::LOADING, app.theme.dim),
        Load::Missing => return note(frame, area, strings::SITE_MISSING, app.theme.warning),
        Load::Failed(e) => {
            return note(frame, area, &strings::failed("loading", e), app.theme.error)
        }
    };
    let mut table = area;
    let info = fit::take_top(&mut table, 3);
    let panel = if table.height >= 8 + 3 {
        fit::take_bottom(&mut table, 8)
    } else {
        Rect::default()
    };
    draw_info(app, detail, frame, info);
    if detail.credentials.is_empty() {
        note(frame, table, strings::NO_CREDENTIALS, app.theme.dim);
        return;
    }
    draw_table(app, screen, &detail.credentials, frame, table);
    if let Some(cred) = screen.selected_credential().filter(|_| !panel.is_empty()) {
        draw_panel(app, screen, cred, frame, panel);
    }
}

fn draw_info(app: &App, d: &SiteDetail, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let row = &d.row;
    let plain = Style::new();
    let gap = || Span::raw("   ");
    let mut l1 = vec![Span::raw(" ")];
    l1.extend(field(
        app,
        strings::ORGANISATION,
        row.site.org_id.to_string(),
        plain,
    ));
    l1.push(gap());
    let auth_style = if row.site.authorised == Some(true) {
        t.ok
    } else {
        t.warning
    };
    l1.extend(field(
        app,
        strings::AUTHORISED,
        format::authorised(row.site.authorised).to_string(),
        auth_style,
    ));
    let mut l2 = vec![Span::raw(" ")];
    l2.extend(field(
        app,
        strings::COL_DFE,
        format::opt(row.site.dfe_code.as_deref()).to_string(),
        plain,
    ));
    l2.push(gap());
    l2.extend(field(
        app,
        strings::COL_DENI,
        format::opt(row.site.deni_number.as_deref()).to_string(),
        plain,
    ));
    l2.push(gap());
    l2.extend(field(
        app,
        strings::CREDENTIALS,
        d.credentials.len().to_string(),
        plain,
    ));
    l2.push(gap());
    l2.extend(field(
        app,
        strings::LAST_CHANGED,
        format::opt_time(row.last_changed.as_ref()),
        plain,
    ));
    let mut l3 = vec![Span::raw(" ")];
    l3.extend(field(
        app,
        strings::STALE,
        format::yes_no(row.stale).to_string(),
        if row.stale { t.warning } else { plain },
    ));
    l3.push(gap());
    let err_style = if row.last_error.is_some() {
        t.error
    } else {
        plain
    };
    l3.extend(field(
        app,
        strings::LAST_ERROR,
        format::opt(row.last_error.as_deref()).to_string(),
        err_style,
    ));
    frame.render_widget(
        Paragraph::new(vec![Line::from(l1), Line::from(l2), Line::from(l3)]),
        area,
    );
}

#[allow(clippy::disallowed_methods)] // draws a secret the user asked to reveal
fn secret_cell<'a>(app: &App, screen: &SiteScreen, c: &CredentialRow) -> Cell<'a> {
    match screen.revealed_for(&c.client_id) {
        Some(r) => Cell::from(format::truncate(
            r.secret.expose_secret(),
            usize::from(SECRET_W),
        ))
        .style(app.theme.secret),
        None => Cell::from(Line::from(vec![
            Span::raw(strings::MASK),
            Span::raw(" "),
            Span::styled(c.fingerprint.to_string(), app.theme.dim),
        ])),
    }
}

fn verify_cell<'a>(app: &App, screen: &SiteScreen, c: &CredentialRow) -> Cell<'a> {
    match screen.verify_for(&c.client_id) {
        None => Cell::from(strings::NONE),
        Some(None) => Cell::from(strings::VERIFY_PENDING).style(app.theme.dim),
        Some(Some(r)) if r.ok => Cell::from(strings::VERIFY_OK).style(app.theme.ok),
        Some(Some(r)) if r.refused => Cell::from(strings::VERIFY_REFUSED).style(app.theme.error),
        Some(Some(_)) => Cell::from(strings::VERIFY_ERROR).style(app.theme.error),
    }
}

/// Whether a credential was revealed or copied, and whether it rotated since.
fn exposed_cell<'a>(app: &App, screen: &SiteScreen, c: &CredentialRow, wide: bool) -> Cell<'a> {
    match screen.exposure_of(&c.client_id) {
        None => Cell::from(strings::NONE),
        Some(x) if x.live => Cell::from(strings::EXPOSED_LIVE).style(app.theme.warning),
        Some(_) if wide => Cell::from(strings::EXPOSED_ROTATED).style(app.theme.dim),
        Some(_) => Cell::from(strings::EXPOSED_ROTATED_SHORT).style(app.theme.dim),
    }
}

/// The credential table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CredCol {
    Client,
    Secret,
    Description,
    FirstSeen,
    Changed,
    Stale,
    Verify,
    Exposed,
    Error,
}

/// One cell of the credential table.
fn cred_cell<'a>(
    app: &App,
    screen: &SiteScreen,
    c: &CredentialRow,
    col: CredCol,
    wide: bool,
) -> Cell<'a> {
    let t = &app.theme;
    match col {
        CredCol::Client => Cell::from(format::clean(&c.client_id)),
        CredCol::Secret => secret_cell(app, screen, c),
        CredCol::Description => Cell::from(format::opt(c.description.as_deref()).to_string()),
        CredCol::FirstSeen => Cell::from(format::time(&c.first_seen)),
        CredCol::Changed if wide => Cell::from(format::time(&c.last_changed)),
        CredCol::Changed => Cell::from(format::date(&c.last_changed)),
        CredCol::Stale => Cell::from(format::yes_no(c.stale)).style(if c.stale {
            t.warning
        } else {
            Style::new()
        }),
        CredCol::Verify => verify_cell(app, screen, c),
        CredCol::Exposed => exposed_cell(app, screen, c, wide),
        CredCol::Error => {
            Cell::from(format::opt(c.last_error.as_deref()).to_string()).style(t.error)
        }
    }
}

/// The longest a client id column asks for (a longer id is cut with `…`).
const CLIENT_MAX: u16 = 64;

/// The client id column: as wide as the longest id (bounded), shrinking last.
fn client_column(creds: &[CredentialRow]) -> Col {
    let longest = creds
        .iter()
        .map(|c| format::clean(&c.client_id).chars().count())
        .chain([strings::COL_CLIENT.chars().count()])
        .max()
        .unwrap_or(0);
    let pref = u16::try_from(longest).unwrap_or(CLIENT_MAX).min(CLIENT_MAX);
    Col::fixed(pref, pref.min(12), u8::MAX - 1)
}

fn draw_table(
    app: &App,
    screen: &SiteScreen,
    creds: &[CredentialRow],
    frame: &mut Frame,
    area: Rect,
) {
    let t = &app.theme;
    let wide = area.width >= WIDE;
    let height = usize::from(area.height.saturating_sub(1));
    app.drew_rows(height);
    let selected = screen.cursor.selected();
    let offset = window(selected, screen.cursor.offset(), creds.len(), height);
    let end = (offset + height).min(creds.len());
    // Client ids are shown whole: the description gives way first, then whole columns
    // (dates, then stale) rather than any header being cut; the id only once every other
    // column is at its smallest.
    let client = client_column(creds);
    let cols: Vec<(CredCol, &str, Col)> = if wide {
        vec![
            (CredCol::Client, strings::COL_CLIENT, client),
            (
                CredCol::Secret,
                strings::COL_SECRET,
                Col::fixed(SECRET_W, SECRET_W, 9),
            ),
            (CredCol::Description, strings::COL_DESCRIPTION, Col::flex(4)),
            (
                CredCol::FirstSeen,
                strings::COL_FIRST_SEEN,
                Col::fixed(16, 16, 0),
            ),
            (
                CredCol::Changed,
                strings::COL_CHANGED,
                Col::fixed(16, 16, 1),
            ),
            (CredCol::Stale, strings::COL_STALE, Col::fixed(5, 5, 3)),
            (CredCol::Verify, strings::COL_VERIFY, Col::fixed(7, 7, 4)),
            (CredCol::Exposed, strings::COL_EXPOSED, Col::fixed(7, 7, 5)),
            (CredCol::Error, strings::COL_ERROR, Col::flex(3)),
        ]
    } else {
        vec![
            (CredCol::Client, strings::COL_CLIENT, client),
            (
                CredCol::Secret,
                strings::COL_SECRET,
                Col::fixed(SECRET_W, 20, 9),
            ),
            (CredCol::Description, strings::COL_DESCRIPTION, Col::flex(8)),
            (
                CredCol::Changed,
                strings::COL_CHANGED_SHORT,
                Col::fixed(10, 10, 0),
            ),
            (CredCol::Stale, strings::COL_STALE, Col::fixed(5, 5, 1)),
            (CredCol::Verify, strings::COL_VERIFY, Col::fixed(7, 7, 3)),
            (CredCol::Exposed, strings::COL_EXPOSED, Col::fixed(7, 7, 4)),
        ]
    };
    let laid: Vec<(&str, Col)> = cols.iter().map(|(_, l, c)| (*l, *c)).collect();
    let fitted = fit::labelled(area.width, 1, 1, &laid);
    let shown: Vec<(CredCol, &str, u16)> = cols
        .iter()
        .zip(&fitted)
        .filter_map(|((k, l, _), w)| w.map(|w| (*k, *l, w)))
        .collect();
    let rows: Vec<Row> = creds[offset..end]
        .iter()
        .map(|c| {
            Row::new(
                shown
                    .iter()
                    .map(|(k, _, _)| cred_cell(app, screen, c, *k, wide))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let headers: Vec<&str> = shown.iter().map(|(_, l, _)| *l).collect();
    let widths: Vec<Constraint> = shown
        .iter()
        .map(|(_, _, w)| Constraint::Length(*w))
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(headers).style(t.header))
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(selected - offset));
    frame.render_stateful_widget(table, area, &mut state);
}

#[allow(clippy::disallowed_methods)] // draws a secret the user asked to reveal
fn draw_panel(app: &App, screen: &SiteScreen, c: &CredentialRow, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let plain = Style::new();
    let label = |s: &'static str| Span::styled(format!("{s:<13}"), t.label);
    let secret_line = match screen.revealed_for(&c.client_id) {
        Some(r) => {
            let left = r.until.saturating_duration_since(app.now).as_secs();
            Line::from(vec![
                Span::raw(" "),
                label(strings::SECRET),
                Span::styled(r.secret.expose_secret().to_string(), t.secret),
                Span::raw("  "),
                Span::styled(strings::hides_in(left), t.dim),
            ])
        }
        None => Line::from(vec![
            Span::raw(" "),
            label(strings::SECRET),
            Span::raw(strings::MASK),
            Span::raw("  "),
            Span::styled(strings::FINGERPRINT, t.label),
            Span::raw(" "),
            Span::raw(c.fingerprint.to_string()),
        ]),
    };
    let verify = match (&screen.verify, screen.verify_for(&c.client_id)) {
        (Some(VerifyState::Failed(e)), _) => {
            Span::styled(format::clean(&strings::failed("verify", e)), t.error)
        }
        (_, None) => Span::styled(strings::NONE, t.dim),
        (_, Some(None)) => Span::styled(strings::VERIFY_PENDING, t.dim),
        (_, Some(Some(r))) if r.ok => Span::styled(strings::VERIFY_OK, t.ok),
        (_, Some(Some(r))) => Span::styled(
            format!(
                "{}: {}",
                if r.refused {
                    strings::VERIFY_REFUSED
                } else {
                    strings::VERIFY_ERROR
                },
                format::opt(r.error.as_deref())
            ),
            t.error,
        ),
    };
    let mut times = vec![
        Span::raw(" "),
        label(strings::FIRST_SEEN),
        Span::raw(format::time(&c.first_seen)),
        Span::raw("   "),
    ];
    times.extend(field(
        app,
        strings::LAST_CHANGED,
        format::time(&c.last_changed),
        plain,
    ));
    let mut state = vec![
        Span::raw(" "),
        label(strings::STALE),
        Span::styled(
            format::yes_no(c.stale),
            if c.stale { t.warning } else { plain },
        ),
        Span::raw("   "),
    ];
    state.extend(field(
        app,
        strings::LAST_ERROR,
        format::opt(c.last_error.as_deref()).to_string(),
        if c.last_error.is_some() {
            t.error
        } else {
            plain
        },
    ));
    let lines = vec![
        secret_line,
        Line::from(vec![
            Span::raw(" "),
            label(strings::DESCRIPTION),
            Span::raw(format::opt(c.description.as_deref()).to_string()),
        ]),
        Line::from(times),
        Line::from(state),
        Line::from(vec![Span::raw(" "), label(strings::VERIFY), verify]),
        Line::from(vec![
            Span::raw(" "),
            label(strings::EXPOSED),
            match screen.exposure_of(&c.client_id) {
                None => Span::styled(strings::NOT_EXPOSED, t.dim),
                Some(x) => Span::styled(
                    strings::exposed_to(
                        &crate::sanitize::for_terminal(&x.users.join(", ")),
                        &format::time(&x.last_exposed),
                        x.rotated_since() || x.current_fingerprint.is_none(),
                    ),
                    if x.live { t.warning } else { t.dim },
                ),
            },
        ]),
    ];
    let block = Block::bordered()
        .title(Line::from(vec![
            Span::raw(" "),
            Span::styled(format::clean(&c.client_id), t.accent),
            Span::raw(" "),
        ]))
        .border_style(t.dim);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
