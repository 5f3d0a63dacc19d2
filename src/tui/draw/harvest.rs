//! The harvest pane: live progress while it runs; the run's summary and changes when done.

use std::time::Instant;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

use crate::tui::app::harvest::{HarvestState, Outcome};
use crate::tui::app::App;
use crate::tui::{format, strings};

use super::diff;
use super::fit;

/// One line of progress for the status line: `harvest 1200/25000 (4%) · 130.0 sites/s · ETA 3m 04s`.
pub fn progress_text(h: &HarvestState, now: Instant) -> String {
    match h.counts.total {
        None => format!("harvest: {}", strings::HARVEST_LISTING),
        Some(total) => {
            let mut s = format!(
                "harvest {}/{} ({:.0}%)",
                h.counts.finished(),
                total,
                h.counts.ratio() * 100.0
            );
            if let Some(rate) = h.counts.rate(now) {
                s.push_str(&format!(" · {rate:.1} sites/s"));
            }
            if let Some(eta) = h.counts.eta(now) {
                s.push_str(&format!(" · {} {}", strings::ETA, format::duration(eta)));
            }
            s
        }
    }
}

/// A text progress bar that reads without colour: `██████░░░░`.
fn bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// The pane.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let Some(h) = app.harvest() else {
        return;
    };
    let t = &app.theme;
    let title = match &h.outcome {
        None if h.cancelling => format!(
            " {} — {} ",
            strings::HARVEST_RUNNING,
            strings::HARVEST_CANCELLING
        ),
        None => format!(" {} ", strings::HARVEST_RUNNING),
        Some(Outcome::Finished { summary, .. }) => format!(" Harvest {} ", summary.status.as_str()),
        Some(Outcome::Error(_)) => format!(" {} ", strings::HARVEST_FAILED),
    };
    let block = Block::bordered()
        .title(Span::styled(title, t.title))
        .border_style(t.dim);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match &h.outcome {
        None => draw_progress(app, h, frame, inner),
        Some(Outcome::Finished { summary, changes }) => {
            let mut lines = diff::summary_lines(app, summary);
            for f in summary.failures.iter().take(3) {
                lines.push(Line::from(vec![
                    Span::raw(" "),
                    Span::styled(format!("{} ", strings::FAILED), t.error),
                    Span::raw(diff::site_name(app, &f.organisation_id)),
                    Span::styled(format!(" — {}", format::clean(&f.error)), t.dim),
                ]));
            }
            let n = u16::try_from(lines.len())
                .unwrap_or(u16::MAX)
                .saturating_add(1);
            let mut rest = inner;
            let top = fit::take_top(&mut rest, n);
            frame.render_widget(Paragraph::new(lines), top);
            diff::draw_changes(app, changes, true, frame, rest);
        }
        Some(Outcome::Error(e)) => {
            let p = Paragraph::new(Line::from(vec![
                Span::raw(" "),
                Span::styled(format::clean(e), t.error),
            ]))
            .wrap(Wrap { trim: true });
            frame.render_widget(p, inner);
        }
    }
}

fn draw_progress(app: &App, h: &HarvestState, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let now = app.now;
    let sep = || Span::raw("   ");
    let mut lines = Vec::new();
    match h.counts.total {
        None => lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(strings::HARVEST_LISTING, t.dim),
        ])),
        Some(total) => {
            let label = format!(
                " {}/{} sites ({:.0}%)",
                h.counts.finished(),
                total,
                h.counts.ratio() * 100.0
            );
            let width = usize::from(area.width)
                .saturating_sub(label.chars().count() + 2)
                .max(1);
            lines.push(Line::from(vec![
                Span::raw(" "),
                Span::styled(bar(h.counts.ratio(), width), t.accent),
                Span::raw(label),
            ]));
        }
    }
    let value = |s: String| Span::styled(s, t.accent);
    // A count that is news when it is not zero: in `style` then.
    let alarm = |n: usize, style| Span::styled(n.to_string(), if n > 0 { style } else { t.accent });
    let label = |s: &'static str| Span::styled(format!("{s} "), t.label);
    lines.push(Line::from(vec![
        Span::raw(" "),
        label(strings::RATE),
        value(
            h.counts
                .rate(now)
                .map_or_else(|| strings::NONE.to_string(), |r| format!("{r:.1} sites/s")),
        ),
        sep(),
        label(strings::ETA),
        value(
            h.counts
                .eta(now)
                .map_or_else(|| strings::NONE.to_string(), format::duration),
        ),
        sep(),
        label(strings::ELAPSED),
        value(format::duration(h.elapsed(now))),
    ]));
    lines.push(Line::from(vec![
        Span::raw(" "),
        label(strings::IN_FLIGHT),
        value(h.counts.in_flight.to_string()),
        sep(),
        label(strings::RATE_LIMITED),
        alarm(h.counts.rate_limited, t.warning),
        sep(),
        label(strings::RETRIES),
        value(h.counts.retries.to_string()),
        sep(),
        label(strings::FAILED),
        alarm(h.counts.failed, t.error),
        sep(),
        label(strings::CREDENTIALS),
        value(h.counts.credentials.to_string()),
    ]));
    if let Some(limits) = &h.counts.limits {
        let mut line = vec![
            Span::raw(" "),
            label(strings::CONCURRENCY),
            value(limits.concurrency.to_string()),
            Span::styled(
                format!(" {} {}", strings::CEILING_OF, limits.ceiling),
                t.dim,
            ),
            sep(),
            label(strings::PACE),
            match limits.rate {
                Some(r) => value(format!("{r} req/s")),
                None => Span::styled(strings::NO_PACING, t.dim),
            },
        ];
        if h.last_seconds(1, now)
            .first()
            .is_some_and(|s| s.rate_limited > 0)
        {
            line.push(sep());
            line.push(Span::styled(strings::PAUSED, t.warning));
        }
        lines.push(Line::from(line));
    }
    if let Some((done, total)) = h.counts.stored {
        lines.push(Line::from(vec![
            Span::raw(" "),
            label(strings::VAULT_WRITES),
            value(format!("{done}/{total}")),
        ]));
    }
    let mut rest = area;
    let top = fit::take_top(&mut rest, u16::try_from(lines.len()).unwrap_or(u16::MAX));
    frame.render_widget(Paragraph::new(lines), top);
    if h.counts.total.is_some() {
        draw_charts(app, h, frame, &mut rest);
        draw_slowest(app, h, frame, &mut rest);
    }

    let mut lines = Vec::new();
    if let Some(retry) = &h.last_retry {
        let at = retry.org.as_ref().map_or_else(
            || strings::RETRY_SITE_LIST.to_string(),
            |o| diff::site_name(app, o),
        );
        lines.push(Line::from(vec![
            Span::raw(" "),
            label(strings::LAST_RETRY),
            Span::raw(format!("{at}: {}", retry.reason)),
            Span::styled(
                format!(
                    " (try {}, again in {})",
                    retry.attempt,
                    format::duration(retry.delay)
                ),
                t.dim,
            ),
        ]));
    }
    if !h.counts.failures.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(
                format!("{} ({})", strings::FAILURES, h.counts.failed),
                t.header,
            ),
        ]));
        let room = usize::from(rest.height).saturating_sub(lines.len());
        let skip = h.counts.failures.len().saturating_sub(room);
        for f in &h.counts.failures[skip..] {
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::raw(diff::site_name(app, &f.organisation_id)),
                Span::styled(format!(" — {}", f.error), t.error),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines), rest);
}

/// Requests per second and `429`s per second over the run, as sparklines (the latest
/// seconds that fit), when there is room.
fn draw_charts(app: &App, h: &HarvestState, frame: &mut Frame, area: &mut Rect) {
    const REQUESTS_ROWS: u16 = 3;
    const THROTTLED_ROWS: u16 = 2;
    if area.height < REQUESTS_ROWS + THROTTLED_ROWS + 4 || area.width < 20 {
        return;
    }
    let t = &app.theme;
    let width = usize::from(area.width.saturating_sub(2));
    let seconds = h.last_seconds(width, app.now);
    let requests: Vec<u64> = seconds.iter().map(|s| s.requests).collect();
    let throttled: Vec<u64> = seconds.iter().map(|s| s.rate_limited).collect();
    // The current second is partial: the peak and the latest full second read better.
    let peak = requests.iter().copied().max().unwrap_or(0);
    let latest = requests.iter().rev().nth(1).copied().unwrap_or(0);
    let total_throttled: u64 = h.counts.rate_limited as u64;

    let mut chart = |title: String, data: Vec<u64>, rows: u16, style: Style| {
        let heading = fit::take_top(area, 1);
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(" "),
                Span::styled(title, t.label),
            ])),
            heading,
        );
        let mut body = fit::take_top(area, rows);
        body.x = body.x.saturating_add(1);
        body.width = body.width.saturating_sub(2);
        let max = data.iter().copied().max().unwrap_or(0).max(1);
        frame.render_widget(Sparkline::default().data(data).max(max).style(style), body);
    };
    chart(
        format!("{}  (now {latest}, peak {peak})", strings::REQUESTS_PER_SEC),
        requests,
        REQUESTS_ROWS,
        t.accent,
    );
    chart(
        format!(
            "{}  ({} {total_throttled})",
            strings::RATE_LIMITED_PER_SEC,
            strings::RATE_LIMITED
        ),
        throttled,
        THROTTLED_ROWS,
        t.warning,
    );
}

/// The sites whose requests have been in flight longest, named safely.
fn draw_slowest(app: &App, h: &HarvestState, frame: &mut Frame, area: &mut Rect) {
    const SHOWN: usize = 5;
    // Leave room below for the last retry and a few failures.
    let room = usize::from(area.height).saturating_sub(6).min(SHOWN + 1);
    let slowest = h.slowest(room.saturating_sub(1), app.now);
    if slowest.is_empty() {
        return;
    }
    let t = &app.theme;
    let mut lines = vec![Line::from(vec![
        Span::raw(" "),
        Span::styled(strings::SLOWEST, t.header),
    ])];
    for (org, took) in slowest {
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::raw(diff::site_name(app, org)),
            Span::styled(format!("  {:.1} s", took.as_secs_f64()), t.dim),
        ]));
    }
    let top = fit::take_top(area, u16::try_from(lines.len()).unwrap_or(u16::MAX));
    frame.render_widget(Paragraph::new(lines), top);
}
