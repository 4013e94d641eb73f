//! The restart log: each restart with its time, the attempt that ended, the cause, how long that
//! attempt lived, whether it had connected, and the time to reconnect.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use crate::format::at_ms;
use crate::model::RestartEntry;
use crate::tui::app::Pane;
use crate::tui::view::{Ctx, cell, pad, pane_block, span, window_start};

/// The reconnect column: a duration, `pending`, or `never` once the session ended.
pub fn reconnect_text(r: &RestartEntry, ended: bool) -> String {
    match r.reconnect_ms {
        Some(ms) => at_ms(ms),
        None if ended => "never".into(),
        None => "pending".into(),
    }
}

/// Draw the pane.
pub fn render(ctx: &Ctx, area: Rect, buf: &mut Buffer) {
    let t = ctx.theme;
    let rs = ctx.model.restarts();
    let extra = if rs.dropped() > 0 {
        format!("{} (last {})", rs.total(), rs.len())
    } else {
        format!("{}", rs.total())
    };
    let block = pane_block(ctx, Pane::Restarts, &extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let cause_w = width.saturating_sub(1 + 10 + 4 + 11 + 5 + 10 + 5).max(16);
    let mut lines = vec![Line::from(span(
        format!(
            " {} {} {} {} {} {}",
            pad("TIME", 9),
            pad("ATT", 3),
            pad("CAUSE", cause_w),
            pad("LIVED", 10),
            pad("CONN", 4),
            "RECONNECT"
        ),
        t.header,
    ))];
    if rs.is_empty() {
        lines.push(Line::from(span(" no restarts", t.dim)));
    }
    let rows = usize::from(inner.height).saturating_sub(1);
    let n = rs.len();
    let first = rs.first_index();
    let sel_rel = ctx
        .state
        .selected
        .map(|abs| abs.saturating_sub(first).min((n as u64).saturating_sub(1)) as usize);
    let start = window_start(n, sel_rel.unwrap_or(n.saturating_sub(1)), rows);
    let ended = ctx.model.ended().is_some();
    for (i, r) in rs.iter().enumerate().skip(start).take(rows) {
        let reconnect = reconnect_text(r, ended);
        let mut line = Line::from(vec![
            span(
                format!(
                    "{}{} {} ",
                    if sel_rel == Some(i) { "▶" } else { " " },
                    pad(&at_ms(r.t_ms), 9),
                    pad(&r.ended_attempt.to_string(), 3)
                ),
                Default::default(),
            ),
            span(pad(&cell(&r.cause_text, cause_w), cause_w), t.bad),
            span(
                format!(
                    " {} {} ",
                    pad(&at_ms(r.lived_ms), 10),
                    pad(if r.had_connected { "yes" } else { "no" }, 4)
                ),
                Default::default(),
            ),
            span(
                reconnect,
                if r.reconnect_ms.is_some() {
                    t.good
                } else {
                    t.warn
                },
            ),
        ]);
        if sel_rel == Some(i) {
            line = line.style(if ctx.focused { t.selection } else { t.header });
        }
        lines.push(line);
    }
    Paragraph::new(lines).render(inner, buf);
}
