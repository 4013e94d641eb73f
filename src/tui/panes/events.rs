//! The engine's errors and warnings, newest last, sanitised (escape sequences shown, not run).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use crate::event::ErrorSource;
use crate::format::at_ms;
use crate::model::{Level, LogEntry};
use crate::tui::app::Pane;
use crate::tui::view::{Ctx, cell, pad, pane_block, span};

/// The source's name.
pub fn source_name(s: ErrorSource) -> &'static str {
    match s {
        ErrorSource::Signaling => "signaling",
        ErrorSource::Protocol => "protocol",
        ErrorSource::Peer => "peer",
        ErrorSource::Stack => "stack",
        ErrorSource::Config => "config",
        ErrorSource::Turn => "turn",
    }
}

/// `✗ ERROR` or `⚠ WARN`.
pub fn level_text(l: Level) -> &'static str {
    match l {
        Level::Error => "✗ ERROR",
        Level::Warning => "⚠ WARN",
        Level::Info => "ℹ INFO",
    }
}

fn entry_lines(ctx: &Ctx, e: &LogEntry, width: usize, selected: bool) -> Vec<Line<'static>> {
    let t = ctx.theme;
    let style = match e.level {
        Level::Error => t.bad,
        Level::Warning => t.warn,
        Level::Info => t.dim,
    };
    let fixed = format!(
        "{}{} {} {} ",
        if selected { "▶" } else { " " },
        pad(&at_ms(e.t_ms), 9),
        pad(level_text(e.level), 7),
        pad(source_name(e.source), 9)
    );
    let room = width.saturating_sub(crate::sanitize::width(&fixed));
    let mut out = vec![Line::from(vec![
        span(fixed, Default::default()),
        span(cell(&e.message, room), style),
    ])];
    if let Some(o) = &e.offending {
        out.push(Line::from(vec![
            span("           offending: ", t.dim),
            span(cell(o, width.saturating_sub(22)), t.warn),
        ]));
    }
    if selected {
        let s = if ctx.focused { t.selection } else { t.header };
        out = out.into_iter().map(|l| l.style(s)).collect();
    }
    out
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let log = ctx.model.log();
    let extra = format!(
        "{} errors · {} warnings",
        ctx.model.error_count(),
        ctx.model.warning_count()
    );
    let block = pane_block(ctx, Pane::Events, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let rows = usize::from(inner.height);
    if log.is_empty() {
        Paragraph::new(Line::from(span(" no errors or warnings", t.dim))).render(inner, buf);
        return;
    }
    let n = log.len();
    let first = log.first_index();
    let sel_rel = ctx
        .state
        .selected
        .map(|abs| abs.saturating_sub(first).min(n as u64 - 1) as usize);
    // Fill upwards from the selection (or the newest) so it is always visible.
    let anchor = sel_rel.unwrap_or(n - 1);
    let mut blocks: Vec<Vec<Line>> = Vec::new();
    let mut used = 0;
    let mut i = anchor as i64;
    while i >= 0 && used < rows {
        let e = log.get(i as usize);
        if let Some(e) = e {
            let l = entry_lines(ctx, e, width, sel_rel == Some(i as usize));
            used += l.len();
            blocks.push(l);
        }
        i -= 1;
    }
    blocks.reverse();
    let up: Vec<Line> = blocks.into_iter().flatten().collect();
    let excess = up.len().saturating_sub(rows);
    let mut lines: Vec<Line> = up.into_iter().skip(excess).collect();
    // Then newer entries below the selection, while there is room.
    let mut j = anchor + 1;
    while lines.len() < rows && j < n {
        if let Some(e) = log.get(j) {
            lines.extend(entry_lines(ctx, e, width, false));
        }
        j += 1;
    }
    lines.truncate(rows);
    Paragraph::new(lines).render(inner, buf);
}
